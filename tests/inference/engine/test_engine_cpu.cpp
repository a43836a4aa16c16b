// The generation API on the real CPU backend with the fixture models: greedy generation against
// the float64 reference, soft tokens, cancellation from another thread in the middle of prefill and
// decode (prompt return, usable session), context-full behaviour and load errors.
// Expected numbers come from the fixtures' float64 reference (../shared/fixtures/README.md 4.3).
#include "engine/engine.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <chrono>
#include <map>
#include <random>
#include <thread>

using namespace ocelle::engine;
using Clock = std::chrono::steady_clock;

namespace {

constexpr double kLogitTolerance = 2e-3; // CPU vs float64, README 4.5
constexpr long kCancelLatencyMs = 200;

QString modelsDir() {
    return QStringLiteral(OCELLE_FIXTURES_DIR "/models");
}

QJsonObject readJson(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) qFatal("cannot open %s", qPrintable(path));
    return QJsonDocument::fromJson(f.readAll()).object();
}

std::vector<int32_t> idsOf(const QJsonArray& array) {
    std::vector<int32_t> ids;
    for (const auto& v : array) ids.push_back(int32_t(v.toInt()));
    return ids;
}

// Every id of the reference top-10 within the tolerance of our logit.
QString compareTop10(std::span<const float> logits, const QJsonArray& top10) {
    for (const auto& entry : top10) {
        const int id = entry.toArray()[0].toInt();
        const double expected = entry.toArray()[1].toDouble();
        if (std::abs(double(logits[size_t(id)]) - expected) > kLogitTolerance)
            return QString("id %1: %2 vs float64 %3").arg(id).arg(logits[size_t(id)]).arg(expected);
    }
    return {};
}

GenerateOptions greedyOptions(int maxTokens) {
    GenerateOptions o;
    o.sampling.temperature = 0.0f;
    o.stop.maxTokens = maxTokens;
    o.stop.stopIds = {-1}; // random weights: never stop early on an eos that happens to win
    return o;
}

long millisecondsBetween(Clock::time_point a, Clock::time_point b) {
    return long(std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count());
}

// One load per model file for the data-driven rows.
std::shared_ptr<Model> cachedModel(const QString& path) {
    static std::map<QString, std::shared_ptr<Model>> models;
    auto& slot = models[path];
    if (!slot) slot = Model::load(path.toStdString());
    return slot;
}

// A long prompt of ordinary ids (seeded), starting with <bos>.
Prompt longPrompt(int length) {
    std::mt19937 rng(12345);
    std::uniform_int_distribution<int32_t> pick(1000, 200000);
    Prompt p;
    p.ids.push_back(2);
    while (int(p.ids.size()) < length) p.ids.push_back(pick(rng));
    return p;
}

} // namespace

class TestEngineCpu : public QObject {
    Q_OBJECT
private slots:
    void greedyMatchesTheFloat64Reference_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<int>("prompt");
        const auto refs = QDir(modelsDir()).entryList({"*.ref.json"}, QDir::Files, QDir::Name);
        QVERIFY(!refs.isEmpty());
        for (const QString& ref : refs) {
            const QJsonObject doc = readJson(modelsDir() + "/" + ref);
            const QJsonArray prompts = doc["prompts"].toArray();
            for (int i = 0; i < prompts.size(); ++i)
                QTest::newRow(
                    qPrintable(ref.section('.', 0, 0) + "/" + prompts[i].toObject()["name"].toString()))
                    << ref << i;
        }
    }

    void greedyMatchesTheFloat64Reference() {
        QFETCH(QString, model);
        QFETCH(int, prompt);
        const QJsonObject p = readJson(modelsDir() + "/" + model)["prompts"].toArray()[prompt].toObject();
        const QJsonObject f64 = p["float64_reference"].toObject();
        auto loaded = cachedModel(modelsDir() + "/" + QString(model).replace(".ref.json", ".gguf"));
        auto session = loaded->createSession({.contextLength = 256});
        Prompt input;
        input.ids = idsOf(p["ids"].toArray());
        QVERIFY(!session->feed(input).cancelled);
        const QJsonArray positions = f64["positions"].toArray();
        const QString mismatch =
            compareTop10(session->lastLogits(), positions.last().toObject()["top10"].toArray());
        QVERIFY2(mismatch.isEmpty(), qPrintable(mismatch));

        const std::vector<int32_t> expected = idsOf(f64["greedy"].toObject()["ids"].toArray());
        const GenerateResult result = session->generate(greedyOptions(int(expected.size())));
        QCOMPARE(result.reason, StopReason::MaxTokens);
        QCOMPARE(result.tokens, expected);
        QCOMPARE(session->stats().generatedTokens, int(expected.size()));
        QVERIFY(session->stats().decodeTokensPerSecond() > 0);
        QVERIFY(session->stats().modelBytes > 0 && session->stats().sessionBytes > 0);
    }

    void softTokensMatchTheFloat64Reference() {
        // vision.ref.json: llama.cpp's image embeddings fed to the E model, decoded causally.
        const QString visionDir = QStringLiteral(OCELLE_FIXTURES_DIR "/vision");
        const QJsonObject doc = readJson(visionDir + "/vision.ref.json");
        const QJsonObject image = doc["images"].toArray()[0].toObject();
        auto loaded = Model::load((modelsDir() + "/tiny-gemma4-e.gguf").toStdString());
        auto session = loaded->createSession({.contextLength = 256});
        QFile embd(visionDir + "/" + image["embeddings"].toObject()["file"].toString());
        QVERIFY(embd.open(QIODevice::ReadOnly));
        const QByteArray bytes = embd.readAll();
        const int count = image["n_soft_tokens"].toInt();
        QCOMPARE(bytes.size(), qsizetype(count) * loaded->embeddingLength() * 4);

        Prompt input;
        SoftTokenSpan span;
        for (const auto& chunk : image["chunks"].toArray()) {
            const QJsonObject c = chunk.toObject();
            if (c["type"].toString() == "text") {
                for (int32_t id : idsOf(c["ids"].toArray())) input.ids.push_back(id);
            } else {
                span.first = int(input.ids.size());
                span.count = c["n_tokens"].toInt();
                input.ids.insert(input.ids.end(), size_t(span.count), 258880); // <|image|> placeholders
            }
        }
        QCOMPARE(span.count, count);
        span.embeddings.resize(size_t(count) * size_t(loaded->embeddingLength()));
        std::memcpy(span.embeddings.data(), bytes.constData(), size_t(bytes.size()));
        input.softTokens.push_back(std::move(span));
        QVERIFY(!session->feed(input).cancelled);
        const QJsonArray top10 =
            image["float64_reference_last_logits"].toObject()["causal"].toObject()["top10"].toArray();
        const QString mismatch = compareTop10(session->lastLogits(), top10);
        QVERIFY2(mismatch.isEmpty(), qPrintable(mismatch));
    }

    void cancelMidPrefillReturnsPromptlyAndKeepsTheSessionUsable() {
        const QString ref = modelsDir() + "/tiny-gemma4-e.ref.json";
        auto loaded = Model::load((modelsDir() + "/tiny-gemma4-e.gguf").toStdString());
        const Prompt big = longPrompt(4000);
        // How long the whole prefill takes on this machine now (a throw-away session), so the
        // cancel lands in the middle of it however fast or loaded the machine is.
        const auto timedStart = Clock::now();
        QVERIFY(!loaded->createSession({.contextLength = 4096})->feed(big).cancelled);
        const auto wholePrefill = Clock::now() - timedStart;
        auto session = loaded->createSession({.contextLength = 4096});

        Clock::time_point cancelledAt;
        std::thread canceller([&] {
            std::this_thread::sleep_for(wholePrefill / 2);
            cancelledAt = Clock::now();
            session->cancel();
        });
        const auto started = Clock::now();
        const FeedResult fed = session->feed(big);
        const auto returned = Clock::now();
        canceller.join();
        QVERIFY2(fed.cancelled,
                 qPrintable(QString("the 4000-token prefill finished in %1 ms before the cancel")
                                .arg(millisecondsBetween(started, returned))));
        const long lag = millisecondsBetween(cancelledAt, returned);
        qInfo("prefill cancelled at position %d after %ld ms; returned %ld ms after the cancel",
              session->position(), millisecondsBetween(started, cancelledAt), lag);
        QVERIFY2(lag <= kCancelLatencyMs, qPrintable(QString("returned %1 ms after the cancel").arg(lag)));
        QVERIFY(session->position() < 4000);
        // The cache holds exactly the committed passes of the prompt.
        QCOMPARE(session->cachedIds(),
                 std::vector<int32_t>(big.ids.begin(), big.ids.begin() + session->position()));

        // Usable afterwards: a fixture prompt gives the float64 logits and greedy continuation.
        session->resetCancel();
        const QJsonObject p = readJson(ref)["prompts"].toArray()[0].toObject();
        Prompt input;
        input.ids = idsOf(p["ids"].toArray());
        QVERIFY(!session->feed(input).cancelled);
        const QJsonObject f64 = p["float64_reference"].toObject();
        const QString mismatch = compareTop10(
            session->lastLogits(), f64["positions"].toArray().last().toObject()["top10"].toArray());
        QVERIFY2(mismatch.isEmpty(), qPrintable(mismatch));
        const std::vector<int32_t> expected = idsOf(f64["greedy"].toObject()["ids"].toArray());
        QCOMPARE(session->generate(greedyOptions(int(expected.size()))).tokens, expected);
    }

    void cancelMidPrefillThenResumeEvaluatesOnlyTheRest() {
        auto loaded = Model::load((modelsDir() + "/tiny-gemma4-moe.gguf").toStdString());
        const Prompt big = longPrompt(3000);
        // The same prompt in one go on a fresh session first: the reference logits, and how long a
        // whole prefill takes on this machine now, so the cancel lands a third of the way in.
        auto fresh = loaded->createSession({.contextLength = 3072});
        const auto freshStart = Clock::now();
        QVERIFY(!fresh->feed(big).cancelled);
        const auto wholePrefill = Clock::now() - freshStart;

        auto session = loaded->createSession({.contextLength = 3072});
        std::thread canceller([&] {
            std::this_thread::sleep_for(wholePrefill / 3);
            session->cancel();
        });
        const FeedResult fed = session->feed(big);
        canceller.join();
        QVERIFY2(fed.cancelled, "the prefill finished before the cancel");
        const int kept = session->position();
        qInfo("prefill cancelled with %d positions committed", kept);
        session->resetCancel();
        const FeedResult resumed = session->feed(big);
        QVERIFY(!resumed.cancelled);
        QCOMPARE(resumed.reused, kept);
        QCOMPARE(resumed.evaluated, 3000 - kept);

        // The cancelled pass left nothing behind.
        double worst = 0;
        for (size_t i = 0; i < session->lastLogits().size(); ++i)
            worst = std::max(worst, double(std::abs(session->lastLogits()[i] - fresh->lastLogits()[i])));
        QVERIFY2(worst < 1e-3, qPrintable(QString::number(worst)));
    }

    void cancelMidDecodeReturnsPromptlyAndKeepsTheSessionUsable() {
        const QJsonObject p =
            readJson(modelsDir() + "/tiny-gemma4-e.ref.json")["prompts"].toArray()[1].toObject();
        const QJsonObject f64 = p["float64_reference"].toObject();
        const std::vector<int32_t> reference = idsOf(f64["greedy"].toObject()["ids"].toArray());
        auto loaded = Model::load((modelsDir() + "/tiny-gemma4-e.gguf").toStdString());
        auto session = loaded->createSession({.contextLength = 4096});
        Prompt input;
        input.ids = idsOf(p["ids"].toArray());
        QVERIFY(!session->feed(input).cancelled);

        Clock::time_point cancelledAt;
        std::atomic<int> emitted{0};
        std::thread canceller([&] {
            // Cancel once decoding is under way, after a few tokens.
            while (emitted.load() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            cancelledAt = Clock::now();
            session->cancel();
        });
        const GenerateResult result = session->generate(greedyOptions(0), [&](const TokenEvent& e) {
            if (e.id >= 0) emitted.fetch_add(1);
            return true;
        });
        const auto returned = Clock::now();
        canceller.join();
        QCOMPARE(result.reason, StopReason::Cancelled);
        const long lag = millisecondsBetween(cancelledAt, returned);
        qInfo("decode cancelled after %zu tokens; returned %ld ms after the cancel", result.tokens.size(),
              lag);
        QVERIFY2(lag <= kCancelLatencyMs, qPrintable(QString("returned %1 ms after the cancel").arg(lag)));
        QVERIFY(result.tokens.size() >= 3);
        const size_t checked = std::min(result.tokens.size(), reference.size());
        QVERIFY(std::equal(result.tokens.begin(), result.tokens.begin() + std::ptrdiff_t(checked),
                           reference.begin()));

        // Usable afterwards: the prompt plus 15 reference tokens reuses the cache and gives the
        // float64 distribution of the 16th greedy step.
        session->resetCancel();
        Prompt next = input;
        next.ids.insert(next.ids.end(), reference.begin(), reference.end() - 1);
        const FeedResult fed = session->feed(next);
        QVERIFY(fed.reused >= int(input.ids.size()));
        const QJsonArray steps = f64["greedy"].toObject()["steps"].toArray();
        const QString mismatch =
            compareTop10(session->lastLogits(), steps.last().toObject()["top10"].toArray());
        QVERIFY2(mismatch.isEmpty(), qPrintable(mismatch));
    }

    void contextFullIsAClearErrorAndAStopReason() {
        const QJsonObject p =
            readJson(modelsDir() + "/tiny-gemma4-e.ref.json")["prompts"].toArray()[0].toObject();
        const std::vector<int32_t> reference =
            idsOf(p["float64_reference"].toObject()["greedy"].toObject()["ids"].toArray());
        auto loaded = Model::load((modelsDir() + "/tiny-gemma4-e.gguf").toStdString());
        Prompt input;
        input.ids = idsOf(p["ids"].toArray());
        const int promptLength = int(input.ids.size());

        auto small = loaded->createSession({.contextLength = promptLength - 1});
        try {
            small->feed(input);
            QFAIL("a prompt longer than the context was accepted");
        } catch (const Error& e) {
            QCOMPARE(e.kind(), ErrorKind::ContextFull);
            QVERIFY2(std::string(e.what()).find("context") != std::string::npos, e.what());
        }
        QCOMPARE(small->position(), 0);

        auto tight = loaded->createSession({.contextLength = promptLength + 4});
        QVERIFY(!tight->feed(input).cancelled);
        const GenerateResult result = tight->generate(greedyOptions(0));
        QCOMPARE(result.reason, StopReason::ContextFull);
        QVERIFY(!result.message.empty());
        QCOMPARE(tight->position(), promptLength + 4);
        QCOMPARE(result.tokens, std::vector<int32_t>(reference.begin(), reference.begin() + 5));
    }

    void cuttingTheCacheBackReusesWhatTheSlackAllows() {
        // long_text_30 on the E model (sliding window 8): cache prompt + 15 generated tokens, then
        // feed the prompt alone, which cuts the cache back by 16 positions.
        const QJsonObject p =
            readJson(modelsDir() + "/tiny-gemma4-e.ref.json")["prompts"].toArray()[1].toObject();
        const QJsonObject f64 = p["float64_reference"].toObject();
        const QJsonArray lastTop10 = f64["positions"].toArray().last().toObject()["top10"].toArray();
        auto loaded = cachedModel(modelsDir() + "/tiny-gemma4-e.gguf");
        Prompt input;
        input.ids = idsOf(p["ids"].toArray());
        const int length = int(input.ids.size());
        for (int slack : {512, 0}) {
            auto session = loaded->createSession({.contextLength = 128, .rollbackSlack = slack});
            session->feed(input);
            session->generate(greedyOptions(16));
            QCOMPARE(session->position(), length + 15);
            const FeedResult fed = session->feed(input);
            // With slack the sliding rings still hold what position length-1 needs; without, the
            // 8-slot rings were overwritten and everything is evaluated again.
            QCOMPARE(fed.reused, slack > 0 ? length - 1 : 0);
            const QString mismatch = compareTop10(session->lastLogits(), lastTop10);
            QVERIFY2(mismatch.isEmpty(), qPrintable(QString("slack %1: %2").arg(slack).arg(mismatch)));
        }
    }

    void sessionsOnTwoThreadsShareOneModel() {
        const QJsonArray prompts = readJson(modelsDir() + "/tiny-gemma4-moe.ref.json")["prompts"].toArray();
        auto loaded = Model::load((modelsDir() + "/tiny-gemma4-moe.gguf").toStdString());
        std::vector<int32_t> results[2];
        std::vector<int32_t> expected[2];
        std::thread workers[2];
        for (int w = 0; w < 2; ++w) {
            const QJsonObject p = prompts[w * 2].toObject();
            expected[w] = idsOf(p["float64_reference"].toObject()["greedy"].toObject()["ids"].toArray());
            Prompt input;
            input.ids = idsOf(p["ids"].toArray());
            workers[w] = std::thread([&, w, input] {
                auto session = loaded->createSession({.contextLength = 128});
                session->feed(input);
                results[w] = session->generate(greedyOptions(int(expected[w].size()))).tokens;
            });
        }
        for (auto& t : workers) t.join();
        QCOMPARE(results[0], expected[0]);
        QCOMPARE(results[1], expected[1]);
    }

    void loadErrorsNameTheFile() {
        const std::string missing = "/nonexistent/model.gguf";
        try {
            Model::load(missing);
            QFAIL("loaded a missing file");
        } catch (const Error& e) {
            QCOMPARE(e.kind(), ErrorKind::ModelLoad);
            QVERIFY2(std::string(e.what()).find(missing) != std::string::npos, e.what());
        }
        // Not a GGUF; a vocabulary without weights; an image/audio projector.
        for (const QString& file :
             {modelsDir() + "/tiny-gemma4-e.ref.json",
              QStringLiteral(OCELLE_FIXTURES_DIR "/tokenizer/ggml-vocab-gemma-4.gguf"),
              QStringLiteral(OCELLE_FIXTURES_DIR "/vision/tiny-gemma4-e-mmproj.gguf")}) {
            const std::string path = file.toStdString();
            try {
                Model::load(path);
                QFAIL(qPrintable("loaded " + file));
            } catch (const Error& e) {
                QCOMPARE(e.kind(), ErrorKind::ModelLoad);
                QVERIFY2(std::string(e.what()).find(path) != std::string::npos, e.what());
            }
        }
    }

    // With a progress callback the weights are read in while loading: progress increases, ends at
    // the total (the file's tensor data), and returning false stops the load with LoadCancelled.
    void loadReportsProgressAndCanBeStopped() {
        const std::string path = (modelsDir() + "/tiny-gemma4-e.gguf").toStdString();
        std::vector<std::pair<uint64_t, uint64_t>> reports;
        LoadOptions options;
        options.backend = BackendKind::Cpu;
        options.progress = [&reports](uint64_t done, uint64_t total) {
            reports.emplace_back(done, total);
            return true;
        };
        const auto loaded = Model::load(path, options);
        QVERIFY(reports.size() >= 2);
        const uint64_t total = reports.back().second;
        QCOMPARE(uint64_t(loaded->memoryBytes()), total); // the weights are the tensor data
        QCOMPARE(reports.front().first, uint64_t(0));
        QCOMPARE(reports.back().first, total);
        for (size_t i = 1; i < reports.size(); ++i) {
            QVERIFY(reports[i].first >= reports[i - 1].first);
            QCOMPARE(reports[i].second, total);
        }

        int calls = 0;
        options.progress = [&calls](uint64_t, uint64_t) { return ++calls < 2; };
        try {
            Model::load(path, options);
            QFAIL("the load went on after progress returned false");
        } catch (const Error& e) {
            QCOMPARE(e.kind(), ErrorKind::LoadCancelled);
            QVERIFY2(std::string(e.what()).find(path) != std::string::npos, e.what());
        }
        QCOMPARE(calls, 2);
    }

    void theCpuChoiceNamesTheComputersMemory() {
        LoadOptions options;
        options.backend = BackendKind::Cpu;
        const BackendChoice choice = chooseBackend(options);
        QVERIFY(choice.backend == BackendKind::Cpu);
        QVERIFY(choice.memoryBytes > 0);
        QCOMPARE(choice.memoryBytes, systemMemoryBytes());
        // Not a made-up number: /proc/meminfo's MemTotal is the same RAM (less what the kernel keeps).
        QFile meminfo(QStringLiteral("/proc/meminfo"));
        QVERIFY(meminfo.open(QIODevice::ReadOnly));
        const QByteArray first = meminfo.readLine().simplified(); // "MemTotal: N kB"
        const uint64_t memTotal = first.split(' ').value(1).toULongLong() * 1024;
        QVERIFY(memTotal > 0);
        QVERIFY(choice.memoryBytes >= memTotal);
        QVERIFY(choice.memoryBytes < memTotal + memTotal / 4);
    }

    void stopIdsComeFromTheVocabulary() {
        auto loaded = Model::load((modelsDir() + "/tiny-gemma4-e.gguf").toStdString());
        // README 3: EOG tokens are <eos> 1, <turn|> 106, <|tool_response> 50.
        QCOMPARE(loaded->stopTokenIds(), (std::unordered_set<int32_t>{1, 106, 50}));
    }
};

QTEST_APPLESS_MAIN(TestEngineCpu)
#include "test_engine_cpu.moc"
