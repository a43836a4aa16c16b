// The output parser on model text: reasoning, answer and tool calls, with every tag split at
// every possible byte boundary, and on token streams where tags arrive as many plain tokens.
#include "chat/output_parser.h"
#include "tokenizer/vocab.h"

#include <QtTest>

#include <random>

using namespace ocelle;
using namespace ocelle::chat;

namespace {

struct Expected {
    std::string channel, reasoning, answer;
    std::vector<std::pair<std::string, std::string>> calls; // name, arguments as JSON
    bool reasoningUnterminated = false;
};

QString describe(const ParsedOutput& r) {
    QString s = QString("channel=[%1] reasoning=[%2] answer=[%3] calls=")
                    .arg(QString::fromStdString(r.channel), QString::fromStdString(r.reasoning),
                         QString::fromStdString(r.answer));
    for (const auto& c : r.toolCalls)
        s += QString::fromStdString(c.name + json::serialize(c.arguments) + (c.valid ? "" : "(invalid)")) +
             ";";
    return s;
}

bool matches(const ParsedOutput& r, const Expected& e) {
    if (r.channel != e.channel || r.reasoning != e.reasoning || r.answer != e.answer) return false;
    if (r.reasoningUnterminated != e.reasoningUnterminated || r.toolCalls.size() != e.calls.size())
        return false;
    for (size_t i = 0; i < e.calls.size(); ++i) {
        if (!r.toolCalls[i].valid || r.toolCalls[i].name != e.calls[i].first ||
            json::serialize(r.toolCalls[i].arguments) != e.calls[i].second)
            return false;
    }
    return r.ended;
}

// Feeds `text` cut at the given positions and returns the result; also checks that the deltas
// add up to the totals.
ParsedOutput feed(std::string_view text, const std::vector<size_t>& cuts) {
    OutputParser parser;
    std::string reasoning, answer;
    size_t calls = 0;
    size_t from = 0;
    auto take = [&](const OutputDelta& d) {
        reasoning += d.reasoning;
        answer += d.answer;
        calls += d.toolCalls.size();
    };
    for (size_t cut : cuts) {
        take(parser.push(text.substr(from, cut - from)));
        from = cut;
    }
    take(parser.push(text.substr(from)));
    take(parser.finish());
    ParsedOutput r = parser.result();
    if (reasoning != r.reasoning || answer != r.answer || calls != r.toolCalls.size())
        r.answer += "<deltas differ>";
    return r;
}

} // namespace

class TestOutputParser : public QObject {
    Q_OBJECT

    void checkAllSplits(const std::string& text, const Expected& e) {
        // Whole, every single cut, and byte by byte.
        QVERIFY2(matches(feed(text, {}), e), qPrintable(describe(feed(text, {}))));
        for (size_t cut = 0; cut <= text.size(); ++cut) {
            const ParsedOutput r = feed(text, {cut});
            QVERIFY2(matches(r, e), qPrintable(QString("cut at %1: ").arg(cut) + describe(r)));
        }
        std::vector<size_t> everyByte;
        for (size_t i = 1; i < text.size(); ++i) everyByte.push_back(i);
        const ParsedOutput r = feed(text, everyByte);
        QVERIFY2(matches(r, e), qPrintable("byte by byte: " + describe(r)));
    }

private slots:
    void reasoningThenAnswer() {
        checkAllSplits("<|channel>thought\nLet me add: 2+2.<channel|>The answer is 4.",
                       {"thought", "Let me add: 2+2.", "The answer is 4.", {}, false});
    }

    void answerOnly() {
        checkAllSplits("Just an answer with a < sign and <b>tags</b>.",
                       {"", "", "Just an answer with a < sign and <b>tags</b>.", {}, false});
    }

    void toolCall() {
        checkAllSplits(
            "<|channel>thought\n<channel|><|tool_call>call:get_weather{city:<|\"|>Paris, France<|\"|>,days:3,"
            "metric:true,note:None,extra:{<|\"|>a b<|\"|>:[1,2.5,<|\"|>x<|\"|>]}}<tool_call|>",
            {"thought",
             "",
             "",
             {{"get_weather",
               R"({"city":"Paris, France","days":3,"metric":true,"note":null,"extra":{"a b":[1,2.5,"x"]}})"}},
             false});
    }

    void twoToolCallsAndText() {
        checkAllSplits(
            "Checking.<|tool_call>call:a{}<tool_call|><|tool_call>call:b{x:<|\"|>}{<|\"|>}<tool_call|>Done",
            {"", "", "Checking.Done", {{"a", "{}"}, {"b", R"({"x":"}{"})"}}, false});
    }

    void turnEndsInsideReasoning() {
        checkAllSplits("<|channel>thought\nStill thinking about <|chan",
                       {"thought", "Still thinking about <|chan", "", {}, true});
    }

    void strayClosingTags() {
        checkAllSplits("Hello<channel|> world<tool_call|>!", {"", "", "Hello world!", {}, false});
    }

    void endOfTurnTagStopsParsing() {
        checkAllSplits("Answer.<turn|>\n<|turn>user\nignored", {"", "", "Answer.", {}, false});
    }

    void malformedCallIsKeptRaw() {
        OutputParser p;
        p.push("<|tool_call>call:broken{city:<|\"|>Paris}<tool_call|>");
        p.finish();
        QCOMPARE(p.result().toolCalls.size(), size_t(1));
        QVERIFY(!p.result().toolCalls[0].valid);
        QCOMPARE(p.result().toolCalls[0].raw, std::string("call:broken{city:<|\"|>Paris}"));
    }

    void parseToolCallSyntax() {
        QVERIFY(parseToolCall("call:f{}").valid);
        QVERIFY(!parseToolCall("f{}").valid);
        QVERIFY(!parseToolCall("call:f{a:1").valid);
        QVERIFY(!parseToolCall("call:f{a:1}}").valid);
        QVERIFY(!parseToolCall("call:{a:1}").valid);
        const auto call = parseToolCall(" call:sum{ values : [1, -2e3] , label: hello world }");
        QVERIFY(call.valid);
        QCOMPARE(json::serialize(call.arguments),
                 std::string(R"({"values":[1,-2e3],"label":"hello world"})"));
    }

    void anyTextParsesTheSameHoweverItIsSplit() {
        // Random mixtures of tags, tag fragments and text: cutting the input anywhere must not
        // change the result.
        const std::vector<std::string> pieces = {"<|channel>",  "thought\n",    "<channel|>", "<|tool_call>",
                                                 "call:f{a:1}", "<tool_call|>", "<",          "|",
                                                 ">",           "text ",        "<|\"|>",     "<turn|>",
                                                 "<|tool",      "_call>",       "\n",         "é"};
        std::mt19937 rng(7);
        for (int round = 0; round < 300; ++round) {
            std::string text;
            const int n = 1 + static_cast<int>(rng() % 12);
            for (int i = 0; i < n; ++i) text += pieces[rng() % pieces.size()];
            const ParsedOutput whole = feed(text, {});
            std::vector<size_t> cuts;
            for (size_t i = 1; i < text.size(); ++i)
                if (rng() % 3 == 0) cuts.push_back(i);
            const ParsedOutput split = feed(text, cuts);
            QVERIFY2(describe(whole) == describe(split) &&
                         whole.reasoningUnterminated == split.reasoningUnterminated,
                     qPrintable(QString::fromStdString(text) + " -> " + describe(whole) + " vs " +
                                describe(split)));
        }
    }

    void tokenStreams() {
        auto vocab = tokenizer::Vocab::load(OCELLE_FIXTURES_DIR "/tokenizer/ggml-vocab-gemma-4.gguf");
        const std::string text =
            "<|channel>thought\nPlan: call it.<channel|><|tool_call>call:lookup{q:<|\"|>café 😀<|\"|>}"
            "<tool_call|>Here you go.";
        const Expected e{
            "thought", "Plan: call it.", "Here you go.", {{"lookup", R"({"q":"café 😀"})"}}, false};

        // As the model writes it: tags as single tokens, then <turn|> ends the turn.
        std::vector<tokenizer::TokenId> ids = vocab->tokenize(text, false, true);
        ids.push_back(vocab->require("<turn|>"));
        ids.push_back(vocab->require("Hello")); // after the end: ignored
        TokenOutputParser whole(*vocab);
        for (auto id : ids) whole.push(id);
        QVERIFY2(matches(whole.result(), e), qPrintable(describe(whole.result())));

        // Every byte as its own byte-fallback token: tags and characters split across tokens.
        TokenOutputParser bytes(*vocab);
        for (unsigned char c : text) {
            char name[8];
            std::snprintf(name, sizeof name, "<0x%02X>", c);
            bytes.push(vocab->require(name));
        }
        bytes.finish();
        QVERIFY2(matches(bytes.result(), e), qPrintable(describe(bytes.result())));

        // Each character tokenized on its own (plain-text pieces of each tag).
        TokenOutputParser chars(*vocab);
        for (size_t i = 0; i < text.size();) {
            size_t n = 1;
            while (i + n < text.size() && (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80) ++n;
            for (auto id : vocab->tokenize(text.substr(i, n), false, false)) chars.push(id);
            i += n;
        }
        chars.push(vocab->eos());
        QVERIFY(chars.ended());
        QVERIFY2(matches(chars.result(), e), qPrintable(describe(chars.result())));
    }
};

QTEST_APPLESS_MAIN(TestOutputParser)
#include "test_output_parser.moc"
