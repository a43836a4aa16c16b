// The server's OpenAI wire format without a model: requests into conversations and options (and
// the errors for what it refuses), media taken out and put back, stop strings across pieces, and
// the JSON of answers, chunks, tool calls and errors.
#include "openai_api.h"

#include <QtTest>

using namespace ocelle;
using namespace ocelle::server;
namespace json = chat::json;

namespace {

const std::string kModel = "tiny-gemma4-e";

QByteArray body(const std::string& text) {
    return QByteArray::fromStdString(text);
}

// The ApiError a request is refused with (status 0 when it is accepted).
ApiError refusal(const std::string& request) {
    try {
        parseChatRequest(body(request), kModel);
    } catch (const ApiException& e) {
        return e.error();
    }
    return ApiError{0, {}, {}, {}, {}};
}

std::string withMessages(const std::string& extra) {
    return R"({"model":"tiny-gemma4-e","messages":[{"role":"user","content":"Hi"}])" + extra + "}";
}

} // namespace

class TestOpenAiApi : public QObject {
    Q_OBJECT

private slots:
    void stopStringsCutTheAnswerEvenWhenSplitAcrossPieces() {
        StopMatcher matcher({"STOP", "END"});
        QCOMPARE(matcher.push("Hello S"), std::string("Hello ")); // "S" may begin "STOP"
        QCOMPARE(matcher.push("T"), std::string());
        QCOMPARE(matcher.push("OP and more"), std::string());
        QVERIFY(matcher.stopped());
        QCOMPARE(matcher.push("later"), std::string());
        QCOMPARE(matcher.finish(), std::string());

        StopMatcher held({"STOP"});
        QCOMPARE(held.push("a ST"), std::string("a "));
        QCOMPARE(held.push("AR"), std::string("STAR")); // not a stop after all
        QCOMPARE(held.push("ST"), std::string());
        QCOMPARE(held.finish(), std::string("ST")); // the end releases what was held
        QVERIFY(!held.stopped());

        StopMatcher earliest({"b", "a"});
        QCOMPARE(earliest.push("xxab"), std::string("xx"));
        QVERIFY(earliest.stopped());

        StopMatcher none({});
        QCOMPARE(none.push("text"), std::string("text"));
    }

    void aPlainRequestBecomesAConversationWithGemmaDefaults() {
        const ChatRequest request = parseChatRequest(
            body(
                R"({"model":"tiny-gemma4-e","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Hello"}]}]})"),
            kModel);
        QCOMPARE(request.conversation.messages.size(), size_t(2));
        QCOMPARE(request.conversation.messages[0].role, std::string("system"));
        QCOMPARE(request.conversation.messages[1].content.at(0).text, std::string("Hello"));
        QVERIFY(!request.stream);
        QVERIFY(!request.conversation.thinking);
        QCOMPARE(request.options.sampling.temperature, 1.0f);
        QCOMPARE(request.options.sampling.topK, 64);
        QCOMPARE(request.options.sampling.topP, 0.95f);
        QCOMPARE(request.options.maxTokens, 0);
        QVERIFY(request.media.empty());
    }

    void samplingStopAndStreamOptionsAreRead() {
        const ChatRequest request = parseChatRequest(
            body(withMessages(
                R"(,"temperature":0.2,"top_p":0.5,"max_tokens":7,"seed":42,"stop":["x","yz"],"stream":true,"stream_options":{"include_usage":true},"reasoning_effort":"high")")),
            kModel);
        QCOMPARE(request.options.sampling.temperature, 0.2f);
        QCOMPARE(request.options.sampling.topP, 0.5f);
        QCOMPARE(request.options.maxTokens, 7);
        QCOMPARE(request.options.sampling.seed, uint64_t(42));
        QCOMPARE(request.options.stop, (std::vector<std::string>{"x", "yz"}));
        QVERIFY(request.stream);
        QVERIFY(request.includeUsage);
        QVERIFY(request.conversation.thinking);
        QVERIFY(parseChatRequest(body(withMessages(R"(,"chat_template_kwargs":{"enable_thinking":true})")),
                                 kModel)
                    .conversation.thinking);
        // max_completion_tokens (the newer name) wins over max_tokens.
        QCOMPARE(parseChatRequest(body(withMessages(R"(,"max_tokens":7,"max_completion_tokens":9)")), kModel)
                     .options.maxTokens,
                 9);
        QCOMPARE(parseChatRequest(body(withMessages(R"(,"stop":"only")")), kModel).options.stop,
                 std::vector<std::string>{"only"});
    }

    void refusalsSayWhatIsWrong_data() {
        QTest::addColumn<QString>("request");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("not json") << "{\"model\":" << 400 << "not valid JSON";
        QTest::newRow("not an object") << "[1,2]" << 400 << "JSON object";
        QTest::newRow("no model") << R"({"messages":[{"role":"user","content":"Hi"}]})" << 400 << "model";
        QTest::newRow("another model")
            << R"({"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}]})" << 404 << "gpt-4o";
        QTest::newRow("no messages") << R"({"model":"tiny-gemma4-e","messages":[]})" << 400 << "messages";
        QTest::newRow("temperature") << QString::fromStdString(withMessages(R"(,"temperature":3)")) << 400
                                     << "temperature";
        QTest::newRow("top_p") << QString::fromStdString(withMessages(R"(,"top_p":0)")) << 400 << "top_p";
        QTest::newRow("max_tokens") << QString::fromStdString(withMessages(R"(,"max_tokens":0)")) << 400
                                    << "max_tokens";
        QTest::newRow("seed") << QString::fromStdString(withMessages(R"(,"seed":1.5)")) << 400 << "seed";
        QTest::newRow("n") << QString::fromStdString(withMessages(R"(,"n":2)")) << 400 << "\"n\"";
        QTest::newRow("five stops") << QString::fromStdString(
                                           withMessages(R"(,"stop":["a","b","c","d","e"])"))
                                    << 400 << "stop";
        QTest::newRow("stream") << QString::fromStdString(withMessages(R"(,"stream":"yes")")) << 400
                                << "stream";
        QTest::newRow("tool_choice")
            << QString::fromStdString(withMessages(
                   R"(,"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required")"))
            << 400 << "tool_choice";
        QTest::newRow("bad role") << R"({"model":"tiny-gemma4-e","messages":[{"content":"Hi"}]})" << 400
                                  << "role";
        QTest::newRow("web image")
            << R"({"model":"tiny-gemma4-e","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}]})"
            << 400 << "data: URL";
        QTest::newRow("bad base64")
            << R"({"model":"tiny-gemma4-e","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,%%%"}}]}]})"
            << 400 << "base64";
        QTest::newRow("audio without format")
            << R"({"model":"tiny-gemma4-e","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAA"}}]}]})"
            << 400 << "format";
        QTest::newRow("unknown part")
            << R"({"model":"tiny-gemma4-e","messages":[{"role":"user","content":[{"type":"hologram"}]}]})"
            << 400 << "hologram";
    }

    void refusalsSayWhatIsWrong() {
        QFETCH(QString, request);
        QFETCH(int, status);
        QFETCH(QString, mentions);
        const ApiError error = refusal(request.toStdString());
        QCOMPARE(error.status, status);
        QVERIFY2(QString::fromStdString(error.message + " " + error.param).contains(mentions),
                 error.message.c_str());
        // The error JSON is OpenAI's shape.
        const json::Value parsed = json::parse(errorJson(error));
        const json::Value* inner = parsed.find("error");
        QVERIFY(inner && inner->find("message") && inner->find("type") && inner->find("param") &&
                inner->find("code"));
        QCOMPARE(inner->find("message")->asString(), error.message);
    }

    void mediaPartsAreTakenOutAndPutBackInOrder() {
        const std::string png = QByteArray("\x89PNG fake").toBase64().toStdString();
        const std::string wav = QByteArray("RIFF fake").toBase64().toStdString();
        ChatRequest request = parseChatRequest(
            body(
                R"({"model":"tiny-gemma4-e","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,)" +
                png +
                R"(","detail":"low"}},{"type":"text","text":"and"},{"type":"input_audio","input_audio":{"data":")" +
                wav + R"(","format":"wav"}}]}]})"),
            kModel);
        QCOMPARE(request.media.size(), size_t(2));
        QVERIFY(request.media[0].kind == MediaInput::Kind::Image);
        QCOMPARE(request.media[0].imageBudget, 70);
        QCOMPARE(QByteArray(reinterpret_cast<const char*>(request.media[0].bytes.data()),
                            qsizetype(request.media[0].bytes.size())),
                 QByteArray("\x89PNG fake"));
        QCOMPARE(request.media[0].where, std::string("messages[0].content[0]"));
        QVERIFY(request.media[1].kind == MediaInput::Kind::Audio);
        QCOMPARE(request.media[1].format, std::string("wav"));

        const auto& parts = request.conversation.messages.at(0).content;
        QCOMPARE(parts.size(), size_t(3));
        QVERIFY(parts[0].kind == chat::Part::Kind::Image);
        QVERIFY(parts[2].kind == chat::Part::Kind::Audio);

        auto rows = [](int n) { return std::make_shared<const std::vector<float>>(size_t(n) * 4, 0.5f); };
        placeMedia(request.conversation, {chat::Part::image(3, rows(3)), chat::Part::audio(5, rows(5))});
        QCOMPARE(parts[0].softTokens, 3);
        QVERIFY(parts[0].embeddings);
        QCOMPARE(parts[2].softTokens, 5);
        // A mismatch is a programming error, never silently misplaced media.
        QVERIFY_THROWS_EXCEPTION(
            std::logic_error, placeMedia(request.conversation, {chat::Part::audio(1), chat::Part::image(1)}));
    }

    void toolsReachTheConversationUnlessTurnedOff() {
        const std::string tools =
            R"(,"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}])";
        QCOMPARE(parseChatRequest(body(withMessages(tools)), kModel).conversation.tools.size(), size_t(1));
        QVERIFY(parseChatRequest(body(withMessages(tools + R"(,"tool_choice":"none")")), kModel)
                    .conversation.tools.empty());
        // A tool result follows the assistant's call, as OpenAI clients send it back.
        const ChatRequest followUp = parseChatRequest(
            body("{\"model\":\"tiny-gemma4-e\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"},{"
                 "\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":"
                 "\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":"
                 "\\\"Oslo\\\"}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"{"
                 "\\\"celsius\\\":3}\"}]" +
                 tools + "}"),
            kModel);
        QCOMPARE(followUp.conversation.messages.size(), size_t(2));
        QCOMPARE(followUp.conversation.messages[1].toolCalls.at(0).name, std::string("get_weather"));
        QCOMPARE(followUp.conversation.messages[1].toolResponses.at(0).name, std::string("get_weather"));
    }

    void answersCarryReasoningToolCallsAndUsage() {
        CompletionDelta message;
        message.reasoning = "thinking it over";
        chat::ParsedToolCall call;
        call.name = "get_weather";
        call.arguments = json::Value::object({{"city", json::Value::string("Oslo")}});
        call.valid = true;
        message.toolCalls.push_back(call);
        CompletionResult result;
        result.finish = CompletionResult::Finish::ToolCalls;
        result.promptTokens = 10;
        result.completionTokens = 4;
        const json::Value answer =
            json::parse(completionJson("chatcmpl-abc", 1700000000, kModel, message, result));
        QCOMPARE(answer.find("object")->asString(), std::string("chat.completion"));
        const json::Value& choice = answer.find("choices")->items().at(0);
        QCOMPARE(choice.find("finish_reason")->asString(), std::string("tool_calls"));
        const json::Value& out = *choice.find("message");
        QVERIFY(out.find("content")->isNull()); // OpenAI's null content beside tool calls
        QCOMPARE(out.find("reasoning_content")->asString(), message.reasoning);
        const json::Value& entry = out.find("tool_calls")->items().at(0);
        QCOMPARE(entry.find("type")->asString(), std::string("function"));
        QVERIFY(!entry.find("id")->asString().empty());
        QCOMPARE(entry.find("function")->find("name")->asString(), std::string("get_weather"));
        // Arguments are JSON text, as OpenAI sends them.
        QCOMPARE(json::parse(entry.find("function")->find("arguments")->asString()), call.arguments);
        const json::Value& usage = *answer.find("usage");
        QCOMPARE(usage.find("prompt_tokens")->asNumber(), 10.0);
        QCOMPARE(usage.find("completion_tokens")->asNumber(), 4.0);
        QCOMPARE(usage.find("total_tokens")->asNumber(), 14.0);

        const json::Value streamed = toolCallsJson(message.toolCalls, "chatcmpl-abc", 2, true);
        QCOMPARE(streamed.items().at(0).find("index")->asNumber(), 2.0);

        const json::Value chunk =
            json::parse(chunkJson("chatcmpl-abc", 1700000000, kModel,
                                  json::Value::object({{"content", json::Value::string("Hi")}}), nullptr));
        QCOMPARE(chunk.find("object")->asString(), std::string("chat.completion.chunk"));
        QVERIFY(chunk.find("choices")->items().at(0).find("finish_reason")->isNull());
        const json::Value usageChunk =
            json::parse(usageChunkJson("chatcmpl-abc", 1700000000, kModel, result));
        QVERIFY(usageChunk.find("choices")->items().empty());
        QCOMPARE(usageChunk.find("usage")->find("total_tokens")->asNumber(), 14.0);
    }

    void theModelListNamesTheModel() {
        const json::Value list = json::parse(modelListJson(kModel, 1700000000, {"completion", "vision"}));
        QCOMPARE(list.find("object")->asString(), std::string("list"));
        const json::Value& entry = list.find("data")->items().at(0);
        QCOMPARE(entry.find("id")->asString(), kModel);
        QCOMPARE(entry.find("capabilities")->items().size(), size_t(2));
        QCOMPARE(entry.find("capabilities")->items().at(1).asString(), std::string("vision"));
    }
};

QTEST_GUILESS_MAIN(TestOpenAiApi)
#include "test_openai_api.moc"
