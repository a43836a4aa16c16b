// The OpenAI wire format without a network: base URLs, model lists from several servers' shapes,
// error bodies, the request body, and server-sent events split at every possible byte.
#include "openai_client.h"

#include <QJsonDocument>
#include <QTest>

using namespace ocelle::app;

class TestOpenAiClient : public QObject {
    Q_OBJECT

private slots:
    void baseUrls() {
        QString problem;
        QCOMPARE(openai::normalizeBaseUrl(QStringLiteral("http://box:8080")).toString(),
                 QStringLiteral("http://box:8080/v1"));
        QCOMPARE(openai::normalizeBaseUrl(QStringLiteral(" localhost:11434/v1/ ")).toString(),
                 QStringLiteral("http://localhost:11434/v1"));
        QCOMPARE(
            openai::normalizeBaseUrl(QStringLiteral("https://api.example.com/v1beta/openai/")).toString(),
            QStringLiteral("https://api.example.com/v1beta/openai"));
        QVERIFY(!openai::normalizeBaseUrl(QStringLiteral("ftp://box/v1"), &problem).isValid());
        QVERIFY2(problem.contains(QLatin1String("http://")), qPrintable(problem));
        QVERIFY(!openai::normalizeBaseUrl(QString(), &problem).isValid());
        QVERIFY(!problem.isEmpty());
        QCOMPARE(openai::endpointUrl(QUrl(QStringLiteral("http://box:8080/v1")),
                                     QStringLiteral("chat/completions"))
                     .toString(),
                 QStringLiteral("http://box:8080/v1/chat/completions"));
    }

    void modelLists() {
        // OpenAI/vLLM: no capabilities (unknown); llama.cpp's second list; Ollama-style words.
        const QList<openai::ModelEntry> plain = openai::parseModelList(
            R"({"object":"list","data":[{"id":"a","object":"model","owned_by":"vllm"},{"id":"b"}]})");
        QCOMPARE(plain.size(), 2);
        QCOMPARE(plain[0].id, QStringLiteral("a"));
        QCOMPARE(plain[0].ownedBy, QStringLiteral("vllm"));
        QVERIFY(!plain[0].images.has_value());
        QVERIFY(!plain[0].audio.has_value());

        const auto llama = openai::parseModelList(
            R"({"models":[{"name":"g.gguf","model":"g.gguf","capabilities":["completion","multimodal"]}],
                "object":"list","data":[{"id":"g.gguf","object":"model"}]})");
        QCOMPARE(llama.size(), 1);
        QCOMPARE(llama[0].images, std::optional<bool>(true));
        QVERIFY(!llama[0].audio.has_value()); // "multimodal" does not say which media

        const auto stated = openai::parseModelList(
            R"({"data":[{"id":"x","capabilities":["completion","vision","audio"]},{"id":"y","capabilities":["completion"]}]})");
        QCOMPARE(stated[0].images, std::optional<bool>(true));
        QCOMPARE(stated[0].audio, std::optional<bool>(true));
        QCOMPARE(stated[1].images, std::optional<bool>(false));
        QCOMPARE(stated[1].audio, std::optional<bool>(false));

        QVERIFY_THROWS_EXCEPTION(EngineError, openai::parseModelList("<html>not found</html>"));
        QVERIFY_THROWS_EXCEPTION(EngineError, openai::parseModelList(R"({"models":[]})"));
    }

    void errorBodies() {
        QCOMPARE(openai::httpErrorMessage(401, R"({"error":{"message":"Invalid API key","type":"auth"}})"),
                 QStringLiteral("HTTP 401: Invalid API key"));
        QCOMPARE(openai::httpErrorMessage(404, R"({"error":"model 'x' not found"})"),
                 QStringLiteral("HTTP 404: model 'x' not found"));
        QCOMPARE(openai::httpErrorMessage(422, R"({"detail":"field required"})"),
                 QStringLiteral("HTTP 422: field required"));
        QCOMPARE(openai::httpErrorMessage(502, "<html>\n<b>Bad gateway</b></html>"),
                 QStringLiteral("HTTP 502: <html> <b>Bad gateway</b></html>"));
        QCOMPARE(openai::httpErrorMessage(500, ""), QStringLiteral("HTTP 500"));
    }

    void requestBody() {
        GenerationRequest request;
        request.systemPrompt = "Be brief.";
        request.turns = {{ChatTurn::Role::User, "Hi", {}},
                         {ChatTurn::Role::Model, "Hello!", {}},
                         {ChatTurn::Role::User, "What is this?", {}}};
        request.sampling.temperature = 0.5f;
        request.sampling.maxTokens = 0;
        request.sampling.seed = 0;
        openai::ContentParts image{QJsonObject{{"type", "image_url"}}};
        const QJsonObject body = openai::chatRequest(request, QStringLiteral("m"), true, {{}, {}, image});
        QCOMPARE(body["model"].toString(), QStringLiteral("m"));
        QCOMPARE(body["stream"].toBool(), true);
        QCOMPARE(body["stream_options"]["include_usage"].toBool(), true);
        QCOMPARE(body["temperature"].toDouble(), 0.5);
        QVERIFY(!body.contains("max_tokens")); // 0: until the context is full, the server's default
        QVERIFY(!body.contains("seed"));       // 0: random
        QVERIFY(!body.contains("chat_template_kwargs"));
        const QJsonArray messages = body["messages"].toArray();
        QCOMPARE(messages.size(), 4);
        QCOMPARE(messages[0]["role"].toString(), QStringLiteral("system"));
        QCOMPARE(messages[2]["role"].toString(), QStringLiteral("assistant"));
        QCOMPARE(messages[2]["content"].toString(), QStringLiteral("Hello!"));
        const QJsonArray parts = messages[3]["content"].toArray();
        QCOMPARE(parts.size(), 2); // the media first, then the text
        QCOMPARE(parts[0]["type"].toString(), QStringLiteral("image_url"));
        QCOMPARE(parts[1]["text"].toString(), QStringLiteral("What is this?"));

        request.thinking = true;
        request.sampling.maxTokens = 64;
        request.sampling.seed = 42;
        const QJsonObject thinking = openai::chatRequest(request, QStringLiteral("m"), false, {});
        QCOMPARE(thinking["chat_template_kwargs"]["enable_thinking"].toBool(), true);
        QCOMPARE(thinking["max_tokens"].toInt(), 64);
        QCOMPARE(thinking["seed"].toInteger(), 42);
        QVERIFY(!thinking.contains("stream_options"));
    }

    // The same stream cut at every byte gives the same events (CR LF, comments, multi-line data,
    // a UTF-8 character split across reads).
    void serverSentEventsAtEveryCut() {
        const QByteArray stream = ": keep-alive\r\n\r\n"
                                  "data: {\"a\":1}\r\n\r\n"
                                  "event: message\ndata: line one\ndata: line two\n\n"
                                  "data:{\"text\":\"caf\xc3\xa9\"}\r\r"
                                  "data: [DONE]\n\n";
        const QList<QByteArray> expected{"{\"a\":1}", "line one\nline two", "{\"text\":\"caf\xc3\xa9\"}",
                                         "[DONE]"};
        for (int cut = 0; cut <= stream.size(); ++cut) {
            for (int second = cut; second <= stream.size(); second += 7) {
                openai::SseParser parser;
                QList<QByteArray> events = parser.feed(stream.left(cut));
                events += parser.feed(stream.mid(cut, second - cut));
                events += parser.feed(stream.mid(second));
                QCOMPARE(events, expected);
                QVERIFY(!parser.hasPartialEvent());
            }
        }
        openai::SseParser parser;
        QVERIFY(parser.feed("data: {\"half").isEmpty());
        QVERIFY(parser.hasPartialEvent());
    }

    void chunks() {
        const openai::Chunk reasoning = openai::parseStreamChunk(
            R"({"choices":[{"index":0,"delta":{"reasoning_content":"Let me think"},"finish_reason":null}]})");
        QCOMPARE(reasoning.reasoning, QStringLiteral("Let me think"));
        QVERIFY(reasoning.answer.isEmpty());
        QVERIFY(reasoning.finishReason.isEmpty());
        const openai::Chunk last = openai::parseStreamChunk(
            R"({"choices":[{"delta":{"content":"!"},"finish_reason":"length"}],"usage":{"prompt_tokens":12,"completion_tokens":7}})");
        QCOMPARE(last.answer, QStringLiteral("!"));
        QCOMPARE(last.finishReason, QStringLiteral("length"));
        QCOMPARE(last.promptTokens, 12);
        QCOMPARE(last.completionTokens, 7);
        const openai::Chunk usageOnly =
            openai::parseStreamChunk(R"({"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}})");
        QCOMPARE(usageOnly.completionTokens, 2);
        QCOMPARE(openai::parseStreamChunk(R"({"error":{"message":"out of memory"}})").error,
                 QStringLiteral("out of memory"));
        QCOMPARE(openai::parseStreamChunk(R"({"choices":[{"delta":{"reasoning":"hm"}}]})").reasoning,
                 QStringLiteral("hm"));
        QVERIFY_THROWS_EXCEPTION(EngineError, openai::parseStreamChunk("not json"));

        const openai::Chunk whole = openai::parseCompletion(
            R"({"choices":[{"message":{"role":"assistant","content":"Hello","reasoning_content":"r"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1}})");
        QCOMPARE(whole.answer, QStringLiteral("Hello"));
        QCOMPARE(whole.reasoning, QStringLiteral("r"));
        QCOMPARE(whole.finishReason, QStringLiteral("stop"));
    }
};

QTEST_GUILESS_MAIN(TestOpenAiClient)
#include "test_openai_client.moc"
