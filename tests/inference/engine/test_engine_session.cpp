// The generation API against a scripted backend (fake_backend.h): prefix reuse, stop conditions,
// streaming text, cancellation from another thread, context-full behaviour and statistics.
// Expected logits always come from a separate fresh fake session fed the same tokens directly,
// never from the engine under test.
#include "engine/engine.h"
#include "engine/text_decoder.h"
#include "fake_backend.h"

#include <QtTest>

#include <thread>

using namespace ocelle::engine;
using namespace ocelle::engine::testing;

namespace {

std::string fakePiece(int32_t id) {
    switch (id) {
    case 10:
        return "\xC3"; // 10 11 = é
    case 11:
        return "\xA9";
    case 12:
        return "\xF0"; // 12 13 14 15 = 😀
    case 13:
        return "\x9F";
    case 14:
        return "\x98";
    case 15:
        return "\x80";
    default:
        break;
    }
    if (id >= 2 && id < 10) return std::string(1, char('a' + id - 2));
    std::string name = "<"; // built step by step: GCC 12 warns falsely on "<" + to_string(...)
    name += std::to_string(id);
    name += '>';
    return name;
}

struct Fixture {
    std::shared_ptr<FakeCounters> counters = std::make_shared<FakeCounters>();
    std::shared_ptr<Model> model;
    FakeConfig config;

    explicit Fixture(FakeConfig c = {}) : config(std::move(c)) {
        model = std::make_shared<Model>(
            std::make_unique<FakeBackend>(config, counters),
            [] { return std::make_unique<PieceTextDecoder>(fakePiece); }, std::unordered_set<int32_t>{1});
    }

    // Logits after `ids`, from a fresh fake session (the independent expectation).
    std::vector<float> referenceLogits(const std::vector<int32_t>& ids,
                                       const std::vector<SoftTokenView>& soft = {}) {
        FakeCounters scratch;
        FakeSession fresh(config, int(ids.size()), scratch);
        std::atomic<bool> never{false};
        std::vector<float> logits;
        if (!fresh.evaluate(ids, soft, never, logits)) throw std::logic_error("reference cancelled");
        return logits;
    }

    std::vector<int32_t> referenceGreedy(std::vector<int32_t> ids, int count) {
        std::vector<int32_t> out;
        for (int i = 0; i < count; ++i) {
            auto logits = referenceLogits(ids);
            const auto id = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
            out.push_back(id);
            ids.push_back(id);
        }
        return out;
    }
};

Prompt textPrompt(std::vector<int32_t> ids) {
    Prompt p;
    p.ids = std::move(ids);
    return p;
}

std::vector<int32_t> sequence(int count, int32_t first = 2) {
    std::vector<int32_t> ids;
    for (int i = 0; i < count; ++i) ids.push_back(int32_t(first + (i * 7) % 20));
    return ids;
}

GenerateOptions greedy(int maxTokens, std::unordered_set<int32_t> stopIds = {-1}) {
    GenerateOptions o;
    o.sampling.temperature = 0.0f;
    o.stop.maxTokens = maxTokens;
    o.stop.stopIds = std::move(stopIds); // {-1}: an id no backend produces, so nothing stops early
    return o;
}

std::vector<float> toVector(std::span<const float> s) {
    return {s.begin(), s.end()};
}

bool isValidUtf8(std::string_view s) {
    Utf8Stream check;
    return check.push(s) == s && !check.pending();
}

} // namespace

class TestEngineSession : public QObject {
    Q_OBJECT
private slots:
    void utf8StreamHoldsPartialCharacters() {
        Utf8Stream s;
        QCOMPARE(s.push("ab"), std::string("ab"));
        QCOMPARE(s.push("\xC3"), std::string());
        QVERIFY(s.pending());
        QCOMPARE(s.push("\xA9x"), std::string("\xC3\xA9x"));
        for (const char* byte : {"\xF0", "\x9F", "\x98"}) QCOMPARE(s.push(byte), std::string());
        QCOMPARE(s.push("\x80"), std::string("\xF0\x9F\x98\x80"));
        QCOMPARE(s.push("\xFF"), std::string("\xEF\xBF\xBD"));   // never valid: replaced at once
        QCOMPARE(s.push("\xC3q"), std::string("\xEF\xBF\xBDq")); // broken sequence
        QCOMPARE(s.push("\xE0\x80"), std::string("\xEF\xBF\xBD\xEF\xBF\xBD")); // overlong form
        QCOMPARE(s.push("\xE2\x82"), std::string());
        QCOMPARE(s.finish(), std::string("\xEF\xBF\xBD")); // truncated at the end
        QVERIFY(!s.pending());
    }

    void greedyGenerationFollowsTheBackend() {
        Fixture f;
        auto session = f.model->createSession({.contextLength = 64});
        const auto prompt = sequence(10);
        const FeedResult fed = session->feed(textPrompt(prompt));
        QVERIFY(!fed.cancelled);
        QCOMPARE(fed.evaluated, 10);
        QCOMPARE(toVector(session->lastLogits()), f.referenceLogits(prompt));

        std::vector<int32_t> streamed;
        std::vector<int> indexes;
        auto result = session->generate(greedy(6), [&](const TokenEvent& e) {
            if (e.id >= 0) {
                indexes.push_back(e.index);
                streamed.push_back(e.id);
            }
            return true;
        });
        QCOMPARE(indexes, (std::vector<int>{0, 1, 2, 3, 4, 5}));
        QCOMPARE(result.reason, StopReason::MaxTokens);
        QCOMPARE(result.tokens, f.referenceGreedy(prompt, 6));
        QCOMPARE(streamed, result.tokens);
        // Every emitted token but the last is in the cache.
        QCOMPARE(session->position(), 10 + 5);
        QVERIFY(session->lastLogits().empty());
    }

    void stopsOnAStopTokenWithoutEmittingIt() {
        FakeConfig c;
        c.forcedArgmax = {{9, 5}, {10, 1}}; // prompt ends at 9: emit 5, then stop id 1
        Fixture f(c);
        auto session = f.model->createSession({.contextLength = 64});
        session->feed(textPrompt(sequence(10)));
        int events = 0;
        GenerateOptions o = greedy(0, {}); // the model's stop ids
        auto result = session->generate(o, [&](const TokenEvent&) { return ++events, true; });
        QCOMPARE(result.reason, StopReason::StopToken);
        QCOMPARE(result.stopToken, 1);
        QCOMPARE(result.tokens, std::vector<int32_t>{5});
        QCOMPARE(result.text, std::string("d"));
        QCOMPARE(events, 1);
    }

    void callbackCanStop() {
        Fixture f;
        auto session = f.model->createSession({.contextLength = 64});
        session->feed(textPrompt(sequence(5)));
        int events = 0;
        auto result = session->generate(greedy(0), [&](const TokenEvent&) { return ++events < 3; });
        QCOMPARE(result.reason, StopReason::Callback);
        QCOMPARE(result.tokens.size(), size_t(3));
    }

    void streamsOnlyWholeCharacters() {
        FakeConfig c;
        // After the prompt (last position 3): é split over 10 11, then 😀 over 12..15, then a lone lead byte.
        const std::vector<int32_t> script{10, 11, 3, 12, 13, 14, 15, 10, 1};
        for (size_t i = 0; i < script.size(); ++i) c.forcedArgmax[int(3 + i)] = script[i];
        Fixture f(c);
        auto session = f.model->createSession({.contextLength = 64});
        session->feed(textPrompt(sequence(4)));
        std::vector<std::string> pieces;
        std::vector<int32_t> ids;
        auto result = session->generate(greedy(0, {1}), [&](const TokenEvent& e) {
            pieces.emplace_back(e.text);
            ids.push_back(e.id);
            return true;
        });
        QCOMPARE(result.reason, StopReason::StopToken);
        for (const std::string& p : pieces) QVERIFY2(isValidUtf8(p), p.c_str());
        QCOMPARE(result.text, std::string("\xC3\xA9"
                                          "b\xF0\x9F\x98\x80\xEF\xBF\xBD"));
        QCOMPARE(pieces[0], std::string());
        QCOMPARE(pieces[1], std::string("\xC3\xA9"));
        QCOMPARE(ids.back(), -1); // the held-back lead byte, flushed as U+FFFD after the last token
        QCOMPARE(pieces.back(), std::string("\xEF\xBF\xBD"));
    }

    void reusesTheCachedPrefix() {
        Fixture f;
        auto session = f.model->createSession({.contextLength = 64});
        auto prompt = sequence(20);
        session->feed(textPrompt(prompt));
        auto result = session->generate(greedy(3));
        auto next = prompt;
        next.insert(next.end(), result.tokens.begin(), result.tokens.end());
        next.insert(next.end(), {4, 5, 6});
        const int before = f.counters->evaluatedTokens;
        const FeedResult fed = session->feed(textPrompt(next));
        QCOMPARE(fed.reused, 20 + 2); // the last generated token was never evaluated
        QCOMPARE(fed.evaluated, 4);
        QCOMPARE(f.counters->evaluatedTokens - before, 4);
        QCOMPARE(toVector(session->lastLogits()), f.referenceLogits(next));

        // The same prompt again: only the last token is re-evaluated, for its logits.
        const FeedResult again = session->feed(textPrompt(next));
        QCOMPARE(again.evaluated, 1);
        QCOMPARE(toVector(session->lastLogits()), f.referenceLogits(next));

        // A prompt that diverges early: the cache is cut back to the common part.
        auto other = prompt;
        other[5] = 30;
        const FeedResult diverged = session->feed(textPrompt(other));
        QCOMPARE(diverged.reused, 5);
        QCOMPARE(toVector(session->lastLogits()), f.referenceLogits(other));
        QCOMPARE(session->cachedIds(), other);
    }

    void fallsBackToAFullPrefillWhenTheCacheCannotRollBack() {
        FakeConfig c;
        c.maxRollback = 2;
        Fixture f(c);
        auto session = f.model->createSession({.contextLength = 64});
        auto prompt = sequence(20);
        session->feed(textPrompt(prompt));
        auto other = prompt;
        other[10] = 31;
        const FeedResult fed = session->feed(textPrompt(other));
        QCOMPARE(f.counters->failedTruncates, 1);
        QCOMPARE(fed.reused, 0);
        QCOMPARE(fed.evaluated, 20);
        QCOMPARE(toVector(session->lastLogits()), f.referenceLogits(other));
    }

    void softTokensReachTheBackendAndKeyTheCache() {
        Fixture f;
        auto session = f.model->createSession({.contextLength = 64});
        Prompt p = textPrompt({2, 3, 20, 20, 20, 4, 5});
        SoftTokenSpan image{2, 3, std::vector<float>(12)};
        for (size_t i = 0; i < image.embeddings.size(); ++i) image.embeddings[i] = 0.25f * float(i);
        p.softTokens.push_back(image);
        session->feed(p);
        const std::vector<SoftTokenView> view{{2, 3, image.embeddings}};
        QCOMPARE(toVector(session->lastLogits()), f.referenceLogits(p.ids, view));
        QVERIFY(toVector(session->lastLogits()) != f.referenceLogits(p.ids));

        // Another image under the same placeholders from its second row on: reuse stops there.
        Prompt q = p;
        q.softTokens[0].embeddings[5] += 1.0f;
        const FeedResult fed = session->feed(q);
        QCOMPARE(fed.reused, 3);
        const std::vector<SoftTokenView> qview{{2, 3, q.softTokens[0].embeddings}};
        QCOMPARE(toVector(session->lastLogits()), f.referenceLogits(q.ids, qview));

        Prompt bad = p;
        bad.softTokens[0].embeddings.pop_back();
        QVERIFY_THROWS_EXCEPTION(Error, session->feed(bad));
        bad = p;
        bad.softTokens[0].count = 6;
        QVERIFY_THROWS_EXCEPTION(Error, session->feed(bad));
    }

    void rejectsBadPromptsAndState() {
        Fixture f;
        auto session = f.model->createSession({.contextLength = 16});
        QVERIFY_THROWS_EXCEPTION(Error, session->generate(greedy(1))); // nothing fed
        QVERIFY_THROWS_EXCEPTION(Error, session->feed(textPrompt({})));
        try {
            session->feed(textPrompt({2, 99}));
            QFAIL("an id outside the vocabulary was accepted");
        } catch (const Error& e) {
            QCOMPARE(e.kind(), ErrorKind::InvalidArgument);
            QVERIFY(std::string(e.what()).find("99") != std::string::npos);
        }
        QVERIFY_THROWS_EXCEPTION(Error, f.model->createSession({.contextLength = 65})); // above trained
        GenerateOptions bad = greedy(1);
        bad.sampling.topP = -1.0f;
        session->feed(textPrompt({2, 3}));
        QVERIFY_THROWS_EXCEPTION(Error, session->generate(bad));
    }

    void aPromptLongerThanTheContextIsAClearError() {
        Fixture f;
        auto session = f.model->createSession({.contextLength = 16});
        session->feed(textPrompt(sequence(8)));
        try {
            session->feed(textPrompt(sequence(17)));
            QFAIL("no error");
        } catch (const Error& e) {
            QCOMPARE(e.kind(), ErrorKind::ContextFull);
            QVERIFY(std::string(e.what()).find("17") != std::string::npos);
            QVERIFY(std::string(e.what()).find("16") != std::string::npos);
        }
        QCOMPARE(session->position(), 8); // untouched
        QCOMPARE(session->cachedIds(), sequence(8));
    }

    void generationStopsWhenTheContextIsFull() {
        Fixture f;
        auto session = f.model->createSession({.contextLength = 16});
        session->feed(textPrompt(sequence(10)));
        auto result = session->generate(greedy(0));
        QCOMPARE(result.reason, StopReason::ContextFull);
        QCOMPARE(result.tokens.size(), size_t(16 - 10 + 1)); // the last one was sampled, not evaluated
        QCOMPARE(session->position(), 16);
        QVERIFY(!result.message.empty());
        QCOMPARE(result.tokens, f.referenceGreedy(sequence(10), 7));
    }

    void cancelBeforeStartingReturnsAtOnce() {
        Fixture f;
        auto session = f.model->createSession({.contextLength = 64});
        session->cancel();
        const FeedResult fed = session->feed(textPrompt(sequence(10)));
        QVERIFY(fed.cancelled);
        QCOMPARE(f.counters->evaluatedTokens, 0);
        QCOMPARE(session->generate(greedy(3)).reason, StopReason::Cancelled);
        session->resetCancel();
        QVERIFY(!session->feed(textPrompt(sequence(10))).cancelled);
        QCOMPARE(toVector(session->lastLogits()), f.referenceLogits(sequence(10)));
    }

    void cancelMidPrefillFromAnotherThread() {
        FakeConfig c;
        c.stepMicroseconds = 500; // 4 layers x 4 tokens x 0.5 ms = 8 ms per micro-batch
        Fixture f(c);
        auto session = f.model->createSession({.contextLength = 64});
        const auto prompt = sequence(60); // ~120 ms in total
        std::chrono::steady_clock::time_point cancelledAt;
        std::thread canceller([&] {
            // Once two micro-batches are in, so the cancel lands in the middle of the prompt.
            while (f.counters->evaluatedTokens.load() < 8)
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            cancelledAt = std::chrono::steady_clock::now();
            session->cancel();
        });
        const FeedResult fed = session->feed(textPrompt(prompt));
        const auto returnedAt = std::chrono::steady_clock::now();
        canceller.join();
        QVERIFY(fed.cancelled);
        const auto lag =
            std::chrono::duration_cast<std::chrono::milliseconds>(returnedAt - cancelledAt).count();
        QVERIFY2(lag < 100, qPrintable(QString("returned %1 ms after the cancel").arg(lag)));
        QVERIFY(session->position() >= 8 && session->position() < 60);
        QCOMPARE(session->position() % c.microBatch, 0); // the batch in flight was rolled back
        QCOMPARE(fed.evaluated, session->position());
        QVERIFY(session->lastLogits().empty());

        // Still usable: the rest is evaluated on the next feed and the logits are right.
        session->resetCancel();
        const int done = session->position();
        const FeedResult resumed = session->feed(textPrompt(prompt));
        QVERIFY(!resumed.cancelled);
        QCOMPARE(resumed.reused, done);
        QCOMPARE(toVector(session->lastLogits()), f.referenceLogits(prompt));
    }

    void cancelMidDecodeFromAnotherThread() {
        FakeConfig c;
        c.stepMicroseconds = 1000; // 4 ms per generated token
        Fixture f(c);
        auto session = f.model->createSession({.contextLength = 64});
        const auto prompt = sequence(4);
        session->feed(textPrompt(prompt));
        std::chrono::steady_clock::time_point cancelledAt;
        std::thread canceller([&] {
            // Once the prompt and three generated tokens are in.
            while (f.counters->evaluatedTokens.load() < 4 + 3)
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            cancelledAt = std::chrono::steady_clock::now();
            session->cancel();
        });
        auto result = session->generate(greedy(0));
        const auto returnedAt = std::chrono::steady_clock::now();
        canceller.join();
        QCOMPARE(result.reason, StopReason::Cancelled);
        const auto lag =
            std::chrono::duration_cast<std::chrono::milliseconds>(returnedAt - cancelledAt).count();
        QVERIFY2(lag < 100, qPrintable(QString("returned %1 ms after the cancel").arg(lag)));
        QVERIFY(result.tokens.size() > 1 && result.tokens.size() < 60);
        QCOMPARE(result.tokens, f.referenceGreedy(prompt, int(result.tokens.size())));

        // The cache holds the prompt and the evaluated tokens: every emitted one, or all but the
        // last when the cancel interrupted its evaluation. Continuing gives the right logits.
        auto allEmitted = prompt;
        allEmitted.insert(allEmitted.end(), result.tokens.begin(), result.tokens.end());
        auto allButLast = allEmitted;
        allButLast.pop_back();
        QVERIFY(session->cachedIds() == allEmitted || session->cachedIds() == allButLast);
        session->resetCancel();
        auto next = prompt;
        next.insert(next.end(), result.tokens.begin(), result.tokens.end());
        const FeedResult fed = session->feed(textPrompt(next));
        QCOMPARE(fed.evaluated, 1);
        QCOMPARE(toVector(session->lastLogits()), f.referenceLogits(next));
    }

    void reportsTimingsAndMemory() {
        FakeConfig c;
        c.stepMicroseconds = 200;
        Fixture f(c);
        auto session = f.model->createSession({.contextLength = 32});
        session->feed(textPrompt(sequence(12)));
        session->generate(greedy(5));
        const Stats& s = session->stats();
        QCOMPARE(s.promptTokens, 12);
        QCOMPARE(s.prefillTokens, 12);
        QCOMPARE(s.generatedTokens, 5);
        QCOMPARE(s.decodedTokens, 4);
        QVERIFY(s.prefillSeconds > 0 && s.decodeSeconds > 0);
        QVERIFY(s.prefillTokensPerSecond() > 0 && s.decodeTokensPerSecond() > 0);
        QVERIFY(s.timeToFirstTokenSeconds >= s.prefillSeconds);
        QCOMPARE(s.modelBytes, c.weightBytes);
        QCOMPARE(s.sessionBytes, size_t(32 * 100));
    }

    void defaultContextIsTheTrainedOneWhenSmaller() {
        Fixture f;
        QCOMPARE(f.model->createSession()->contextLength(), 64);
    }
};

QTEST_APPLESS_MAIN(TestEngineSession)
#include "test_engine_session.moc"
