// CPU session mechanics on the fixture models: batch sizes vs token-by-token decode, thread counts,
// the f16 KV cache, ring caches and truncation, context-full, cancellation, invalid input.
#include "fixture_reference.h"

#include <QElapsedTimer>

#include <atomic>
#include <thread>

using namespace ocelle;
using namespace ocelle::cpu_test;

class TestCpuSession : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QVERIFY2(!fixtures().isEmpty(), qPrintable("no *.ref.json in " + kModels)); }

    void batchSizesMatchDecode_data() { addFixtureRows(); }

    // The longest prompt (longer than both sliding windows) fed token by token and in passes of
    // several sizes: the same logits at every position, so the ring caches and the in-pass K/V agree.
    void batchSizesMatchDecode() {
        QFETCH(int, fixture);
        const Fixture& f = fixtures()[fixture];
        const auto model = cpu::CpuModel::load(f.gguf.toStdString());
        const auto ids = promptWithGreedy(promptNamed(f, "code_64"));
        QVERIFY(int64_t(ids.size()) > f.ref["generator"]
                                          .toObject()["keys_written"]
                                          .toObject()["gemma4.attention.sliding_window"]
                                          .toInt());
        std::vector<float> stepwise;
        {
            auto session = model->createSession({.contextLength = int64_t(ids.size())});
            for (int32_t id : ids) {
                const auto l = session->decode(id);
                stepwise.insert(stepwise.end(), l.begin(), l.end());
            }
        }
        for (int batch : {2, 5, 13, 80}) {
            auto session = model->createSession({.contextLength = int64_t(ids.size()), .maxBatch = batch});
            const auto batched = session->prefill(ids, cpu::LogitsFor::All);
            const float diff = maxAbsDiff(batched, stepwise);
            QVERIFY2(diff <= 1e-4f, qPrintable(QString("batch %1: max diff %2").arg(batch).arg(diff)));
        }
        // Two separate prefills of uneven size continue where the first stopped.
        auto session = model->createSession({.contextLength = int64_t(ids.size())});
        auto first = session->prefill(std::span(ids).first(37), cpu::LogitsFor::All);
        const auto second = session->prefill(std::span(ids).subspan(37), cpu::LogitsFor::All);
        first.insert(first.end(), second.begin(), second.end());
        QVERIFY(maxAbsDiff(first, stepwise) <= 1e-4f);
    }

    // Results do not depend on the number of threads.
    void threadCountInvariance() {
        const Fixture& f = fixtures().front();
        const auto ids = toIds(promptNamed(f, "long_text_30")["ids"].toArray());
        std::vector<float> reference;
        for (int threads : {1, 2, 3}) {
            const auto model = cpu::CpuModel::load(f.gguf.toStdString(), threads);
            QCOMPARE(model->threads(), threads);
            auto session = model->createSession({.contextLength = 64});
            const auto logits = session->prefill(ids, cpu::LogitsFor::All);
            if (reference.empty())
                reference = logits;
            else
                QVERIFY(maxAbsDiff(logits, reference) <= 1e-6f);
        }
    }

    void f16Cache_data() { addFixtureRows(); }

    // An f16 KV cache rounds K and V to 11 significant bits: logits stay within 5e-2 of the float64
    // reference (measured: 2.5e-2 at worst on the fixtures' random weights, which amplify rounding)
    // and the argmax is unchanged wherever the reference margin exceeds 0.1.
    void f16Cache() {
        QFETCH(int, fixture);
        const Fixture& f = fixtures()[fixture];
        const auto model = cpu::CpuModel::load(f.gguf.toStdString());
        const int vocab = model->hparams().nVocab;
        Checker checker;
        for (const auto& p : f.ref["prompts"].toArray()) {
            const auto prompt = p.toObject();
            const auto ids = promptWithGreedy(prompt);
            auto session = model->createSession(
                {.contextLength = int64_t(ids.size()), .kvType = model::KvType::F16, .maxBatch = 7});
            const auto logits = session->prefill(ids, cpu::LogitsFor::All);
            checkAgainstReferences(checker, logits.data(), vocab, prompt, f.ref["probe_ids"].toArray(), 5e-2,
                                   f.name + "/" + prompt["name"].toString() + " f16 KV");
        }
        qInfo("%s f16 KV cache: max |ours - reference| %.3g", qPrintable(f.name), checker.worst);
        QVERIFY2(checker.failures.isEmpty(), qPrintable(checker.failures.join('\n')));
        // Token-by-token decode with the f16 cache against batched prefill with it. Single-token
        // passes and batched passes sum products in different orders; the ~1e-6 differences in K/V
        // can flip an f16 rounding, so the bound is looser than the f32 cache's 1e-4 (measured: 5e-3).
        const auto ids = promptWithGreedy(promptNamed(f, "long_text_30"));
        auto batched = model->createSession({.contextLength = 64, .kvType = model::KvType::F16});
        auto stepwise = model->createSession({.contextLength = 64, .kvType = model::KvType::F16});
        const auto all = batched->prefill(ids, cpu::LogitsFor::All);
        std::vector<float> steps;
        for (int32_t id : ids) {
            const auto l = stepwise->decode(id);
            steps.insert(steps.end(), l.begin(), l.end());
        }
        const float diff = maxAbsDiff(all, steps);
        QVERIFY2(diff <= 2e-2f,
                 qPrintable(QString("f16 KV: batched vs token by token differ by %1").arg(diff)));
        QVERIFY(batched->memoryBytes() > 0);
    }

    void contextFull() {
        const Fixture& f = fixtures().front();
        const auto model = cpu::CpuModel::load(f.gguf.toStdString());
        const auto ids = toIds(promptNamed(f, "long_text_30")["ids"].toArray());
        auto session = model->createSession({.contextLength = 12});
        session->prefill(std::span(ids).first(10));
        QCOMPARE(session->position(), int64_t(10));
        bool threw = false;
        try {
            session->prefill(std::span(ids).subspan(10, 3));
        } catch (const cpu::ContextFull& e) {
            threw = true;
            QVERIFY2(QString(e.what()).contains("context is full"), e.what());
        }
        QVERIFY(threw);
        QCOMPARE(session->position(), int64_t(10)); // nothing was evaluated
        session->decode(ids[10]);
        session->decode(ids[11]);
        QCOMPARE(session->position(), int64_t(12));
        QVERIFY_THROWS_EXCEPTION(cpu::ContextFull, session->decode(ids[12]));
        // After a reset the session is usable again and gives the same logits as a fresh one.
        session->reset();
        const auto again = session->prefill(std::span(ids).first(12));
        const auto fresh = model->createSession({.contextLength = 12})->prefill(std::span(ids).first(12));
        QVERIFY(maxAbsDiff(again, fresh) <= 1e-6f);

        // A session at the trained context: caches sized per layer type as the estimate says, and
        // the same results as a small one.
        const int64_t trained = model->hparams().contextLength;
        auto big = model->createSession({.contextLength = trained});
        QCOMPARE(uint64_t(big->memoryBytes()),
                 model::kvCacheBytes(model->hparams(), trained, model::KvType::F32));
        QVERIFY(maxAbsDiff(big->prefill(std::span(ids).first(12)), fresh) <= 1e-6f);
    }

    // Rings of exactly W slots cannot go back; extra slots allow truncating that far, and the
    // re-evaluated positions give the same logits.
    void truncateWithRing() {
        for (const Fixture& f : fixtures()) {
            const auto model = cpu::CpuModel::load(f.gguf.toStdString());
            const auto ids = promptWithGreedy(promptNamed(f, "code_64"));
            const int64_t n = int64_t(ids.size());
            auto plain = model->createSession({.contextLength = n});
            const auto all = plain->prefill(ids, cpu::LogitsFor::All);
            QVERIFY(plain->canTruncateTo(n));
            QVERIFY(!plain->canTruncateTo(n - 4));
            QVERIFY_THROWS_EXCEPTION(std::invalid_argument, plain->truncate(n - 4));
            QVERIFY(plain->canTruncateTo(0));

            auto slack = model->createSession({.contextLength = n, .slidingSlack = 6});
            slack->prefill(ids, cpu::LogitsFor::None);
            QVERIFY(slack->canTruncateTo(n - 4));
            QVERIFY(!slack->canTruncateTo(n - 10));
            slack->truncate(n - 4);
            QCOMPARE(slack->position(), n - 4);
            const auto redone = slack->prefill(std::span(ids).subspan(size_t(n - 4)), cpu::LogitsFor::All);
            const std::vector<float> expected(all.end() - 4 * ptrdiff_t(model->hparams().nVocab), all.end());
            QVERIFY(maxAbsDiff(redone, expected) <= 1e-4f);
        }
    }

    // A cancel flag that is set stops evaluation before anything is committed; the session stays
    // usable. A flag raised from another thread during a long prefill stops it between passes or
    // layers, keeping only whole passes.
    void cancellation() {
        const Fixture& f = fixtures().front();
        const auto model = cpu::CpuModel::load(f.gguf.toStdString());
        const auto ids = toIds(promptNamed(f, "code_64")["ids"].toArray());
        auto session = model->createSession({.contextLength = 4096, .maxBatch = 1});
        std::atomic<bool> cancel{true};
        session->setCancelFlag(&cancel);
        QVERIFY_THROWS_EXCEPTION(cpu::Cancelled, session->prefill(ids));
        QCOMPARE(session->position(), int64_t(0));
        cancel = false;
        const auto logits = session->prefill(std::span(ids).first(5));
        const auto fresh = model->createSession({.contextLength = 16})->prefill(std::span(ids).first(5));
        QVERIFY(maxAbsDiff(logits, fresh) <= 1e-4f);

        // A long prefill (many one-token passes) cancelled from another thread.
        std::vector<int32_t> longIds;
        while (longIds.size() < 3000) longIds.insert(longIds.end(), ids.begin(), ids.end());
        session->reset();
        std::thread canceller([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            cancel = true;
        });
        QElapsedTimer timer;
        timer.start();
        bool cancelled = false;
        try {
            session->prefill(longIds);
        } catch (const cpu::Cancelled&) {
            cancelled = true;
        }
        canceller.join();
        QVERIFY2(cancelled, "the prefill finished before the cancel arrived");
        QVERIFY2(timer.elapsed() < 2000, "cancellation was not prompt");
        QVERIFY(session->position() < int64_t(longIds.size()));
        const int64_t kept = session->position();
        cancel = false;
        // The session continues from the kept position exactly as an uninterrupted one.
        const auto next = session->decode(longIds[size_t(kept)]);
        auto reference = model->createSession({.contextLength = 4096});
        const auto expected = reference->prefill(std::span(longIds).first(size_t(kept) + 1));
        QVERIFY(maxAbsDiff(next, expected) <= 1e-4f);
    }

    void invalidInput() {
        const Fixture& f = fixtures().front();
        const auto model = cpu::CpuModel::load(f.gguf.toStdString());
        auto session = model->createSession({.contextLength = 16});
        const std::vector<int32_t> bad{2, model->hparams().nVocab};
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, session->prefill(bad));
        const std::vector<int32_t> negative{-1};
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, session->prefill(negative));
        QCOMPARE(session->position(), int64_t(0));
        const std::vector<float> rows(size_t(model->hparams().nEmbd), 0.0f);
        const std::vector<int32_t> ids{2, 3};
        const cpu::SoftTokens outside{.first = 1, .count = 2, .embeddings = rows};
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                 session->prefill(ids, cpu::LogitsFor::Last, {&outside, 1}));
        QVERIFY_THROWS_EXCEPTION(std::runtime_error,
                                 cpu::CpuModel::load((kModels + "/does-not-exist.gguf").toStdString()));
    }
};

QTEST_APPLESS_MAIN(TestCpuSession)
#include "test_cpu_session.moc"
