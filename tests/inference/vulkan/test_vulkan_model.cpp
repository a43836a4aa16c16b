// The Gemma 4 text decoder on Vulkan against independent references: every fixture model's prompts
// plus the float64 greedy continuation, batched, against the float64 reference (1e-2; argmax where
// the margin exceeds 2e-2) and llama.cpp fa_off (1.0); the CPU path on the same ids (1e-2); and
// batched prefill against token-by-token decode. Runs on lavapipe (forced: CPU-type devices are
// never picked automatically); skips only when there is no usable Vulkan device at all.
#include "vulkan/vulkan_model.h"

#include "engine/engine.h"

#include "../cpu/fixture_reference.h"
#include "vulkan_test_support.h"

#include "test_model.h"

#include <QProcess>
#include <QTemporaryDir>

#include <cstring>

using namespace ocelle;
using namespace ocelle::cpu_test;

namespace {

// The first usable device, CPU-type included; empty with `why` set when there is none.
std::string testDeviceIndex(std::string& why) {
    try {
        vulkan::Instance probe(false);
        for (const auto& d : probe.devices())
            if (d.usable()) return std::to_string(d.index);
        why = "no usable Vulkan device";
    } catch (const vulkan::VulkanError& e) {
        why = e.what();
    }
    return {};
}

// Few but long prompts keep lavapipe's run short; long ones cross the sliding window.
bool selected(const QString& name) {
    return name == "code_64" || name == "long_text_30" || name == "chat_turn";
}

} // namespace

class TestVulkanModel : public QObject {
    Q_OBJECT

    std::string device_;
    std::string skipReason_;

    std::unique_ptr<vulkan::VulkanModel> load(const Fixture& f) {
        return vulkan::VulkanModel::load(f.gguf.toStdString(), {.forced = device_});
    }

private slots:
    void initTestCase() {
        QVERIFY2(!fixtures().isEmpty(), qPrintable("no *.ref.json in " + kModels));
        setenv("OCELLE_VULKAN_VALIDATION", "1", 0); // validation on when the layer is installed
        device_ = testDeviceIndex(skipReason_);
    }

    void fixtureLogits_data() { addFixtureRows(); }

    // Prompt + float64 greedy continuation in batched passes against both references and the CPU path.
    void fixtureLogits() {
        QFETCH(int, fixture);
        if (device_.empty()) QSKIP(("Vulkan not tested: " + skipReason_).c_str());
        const Fixture& f = fixtures()[fixture];
        const auto model = load(f);
        qInfo("device: %s", model->device().info().name.c_str());
        const int vocab = model->hparams().nVocab;
        QCOMPARE(vocab, f.ref["n_vocab"].toInt());
        const auto cpuModel = cpu::CpuModel::load(f.gguf.toStdString());
        Checker checker;
        float worstCpu = 0;
        int prompts = 0;
        for (const auto& p : f.ref["prompts"].toArray()) {
            const auto prompt = p.toObject();
            if (!selected(prompt["name"].toString())) continue;
            ++prompts;
            const auto ids = promptWithGreedy(prompt);
            auto session = model->createSession({.contextLength = int64_t(ids.size()), .maxBatch = 32});
            const auto logits = session->prefill(ids, vulkan::VulkanLogits::All);
            QCOMPARE(logits.size(), ids.size() * size_t(vocab));
            QCOMPARE(session->position(), int64_t(ids.size()));
            checkAgainstReferences(checker, logits.data(), vocab, prompt, f.ref["probe_ids"].toArray(), 1e-2,
                                   f.name + "/" + prompt["name"].toString());
            auto cpuSession = cpuModel->createSession({.contextLength = int64_t(ids.size())});
            const auto cpuLogits = cpuSession->prefill(ids, cpu::LogitsFor::All);
            const float diff = maxAbsDiff(logits, cpuLogits);
            worstCpu = std::max(worstCpu, diff);
            QVERIFY2(diff <= 1e-2f, qPrintable(QString("%1: Vulkan vs CPU max |diff| %2")
                                                   .arg(prompt["name"].toString())
                                                   .arg(double(diff))));
        }
        QVERIFY(prompts > 0);
        qInfo("%s: max |vulkan - float64| over checked ids %.3g, max |vulkan - cpu| %.3g", qPrintable(f.name),
              checker.worst, double(worstCpu));
        QVERIFY2(checker.failures.isEmpty(), qPrintable(checker.failures.join('\n')));
        QCOMPARE(model->device().validationErrors(), uint64_t(0));
    }

    void f16KvCache_data() { addFixtureRows(); }

    // fp16 K/V (fp32 scores, softmax and sums) against the CPU path with an fp16 cache, over several
    // passes (the cache written by one pass is read by the next) and single-token decodes.
    void f16KvCache() {
        QFETCH(int, fixture);
        if (device_.empty()) QSKIP(("Vulkan not tested: " + skipReason_).c_str());
        const Fixture& f = fixtures()[fixture];
        const auto model = load(f);
        const auto cpuModel = cpu::CpuModel::load(f.gguf.toStdString());
        const auto prompt = f.ref["prompts"].toArray().first().toObject();
        const auto ids = promptWithGreedy(prompt);
        const int64_t n = int64_t(ids.size());
        QVERIFY(n > 3);
        auto session = model->createSession({.contextLength = n, .maxBatch = 4, .kvF16 = true});
        cpu::SessionOptions cpuOptions;
        cpuOptions.contextLength = n;
        cpuOptions.kvType = model::KvType::F16;
        auto cpuSession = cpuModel->createSession(cpuOptions);
        const std::span<const int32_t> all(ids);
        const auto head = all.first(size_t(n - 2));
        const float prefillDiff = maxAbsDiff(session->prefill(head, vulkan::VulkanLogits::All),
                                             cpuSession->prefill(head, cpu::LogitsFor::All));
        QVERIFY2(prefillDiff <= 1e-2f,
                 qPrintable(QString("f16 KV prefill: Vulkan vs CPU %1").arg(double(prefillDiff))));
        for (int64_t i = n - 2; i < n; ++i) {
            const auto one = all.subspan(size_t(i), 1);
            const float diff = maxAbsDiff(session->prefill(one), cpuSession->prefill(one));
            QVERIFY2(diff <= 1e-2f,
                     qPrintable(QString("f16 KV decode at %1: Vulkan vs CPU %2").arg(i).arg(double(diff))));
        }
        QCOMPARE(model->device().validationErrors(), uint64_t(0));
    }

    void integerDot_data() { addFixtureRows(); }

    // The integer-dot path forced on (OCELLE_VULKAN_INTEGER_DOT=1; the default only where the device
    // accelerates it, not on lavapipe): Q4_0/Q8_0 matvecs and prefill matmuls on 8-bit activations. Its
    // stated tolerance is the CPU q8 mode's: every prompt position within 1.0 of the float64 reference and of
    // llama.cpp (which rounds activations the same way), and it really changes the products.
    void integerDot() {
        QFETCH(int, fixture);
        if (device_.empty()) QSKIP(("Vulkan not tested: " + skipReason_).c_str());
        const Fixture& f = fixtures()[fixture];
        const char* previous = std::getenv("OCELLE_VULKAN_INTEGER_DOT");
        const std::string saved = previous ? previous : "";
        setenv("OCELLE_VULKAN_INTEGER_DOT", "1", 1);
        const auto model = load(f);
        if (previous)
            setenv("OCELLE_VULKAN_INTEGER_DOT", saved.c_str(), 1);
        else
            unsetenv("OCELLE_VULKAN_INTEGER_DOT");
        if (!model->device().features().integerDotProduct) QSKIP("the device has no shaderIntegerDotProduct");
        QVERIFY(model->kernels().integerDot());
        const auto exactModel = load(f);
        if (!previous)
            QVERIFY(!exactModel->kernels().integerDot() ||
                    exactModel->device().features().integerDotProductAccelerated);
        const int vocab = model->hparams().nVocab;
        Checker float64Checker, llamaChecker;
        double worstFloat64 = 0, worstLlama = 0;
        float largestChange = 0;
        for (const auto& p : f.ref["prompts"].toArray()) {
            const auto prompt = p.toObject();
            const QString name = prompt["name"].toString();
            if (name != "chat_turn" && name != "long_text_30") continue; // short: lavapipe is slow at this
            const auto ids = toIds(prompt["ids"].toArray());
            // Passes of at most 2 tokens run the matvecs, one batched pass the tiled matmul.
            auto stepped = model->createSession({.contextLength = int64_t(ids.size()), .maxBatch = 2});
            auto batched = model->createSession({.contextLength = int64_t(ids.size())});
            auto exactSession = exactModel->createSession({.contextLength = int64_t(ids.size())});
            const auto exact = exactSession->prefill(ids, vulkan::VulkanLogits::All);
            const auto f64 = prompt["float64_reference"].toObject()["positions"].toArray();
            const auto llama = prompt["fa_off"].toObject()["positions"].toArray();
            for (const bool matvec : {true, false}) {
                const auto quantized = (matvec ? stepped : batched)->prefill(ids, vulkan::VulkanLogits::All);
                largestChange = std::max(largestChange, maxAbsDiff(quantized, exact));
                for (int i = 0; i < prompt["n_tokens"].toInt(); ++i) {
                    const QString where =
                        f.name + "/" + name + (matvec ? " matvec" : " matmul") + QString(" pos %1").arg(i);
                    for (const auto* ref : {&f64, &llama})
                        for (const auto& pair : (*ref)[i].toObject()["top10"].toArray()) {
                            double& worst = ref == &f64 ? worstFloat64 : worstLlama;
                            worst = std::max(
                                worst, std::abs(quantized[size_t(i) * vocab + pair.toArray()[0].toInt()] -
                                                pair.toArray()[1].toDouble()));
                        }
                    float64Checker.position(quantized.data() + size_t(i) * vocab, vocab, f64[i].toObject(),
                                            1.0, {}, false, where + " float64");
                    llamaChecker.position(quantized.data() + size_t(i) * vocab, vocab, llama[i].toObject(),
                                          1.0, {}, false, where + " llama.cpp");
                }
            }
        }
        qInfo("%s: integer dot: max |logit - float64| %.3g, |logit - llama.cpp| %.3g over the top-10 ids; "
              "moved logits by up to %.3g from the fp32-activation kernels",
              qPrintable(f.name), worstFloat64, worstLlama, double(largestChange));
        QVERIFY2(float64Checker.failures.isEmpty(), qPrintable(float64Checker.failures.join('\n')));
        QVERIFY2(llamaChecker.failures.isEmpty(), qPrintable(llamaChecker.failures.join('\n')));
        QVERIFY2(largestChange > 1e-4f, "the integer-dot path did not change any product");
        QCOMPARE(model->device().validationErrors(), uint64_t(0));
    }

    void fusedDecode_data() {
        QTest::addColumn<int>("style");
        QTest::addColumn<int>("weights");
        QTest::newRow("E style, Q8_0") << int(testmodel::Style::E) << int(testmodel::Weights::Q8_0);
        QTest::newRow("MoE style, Q4_0") << int(testmodel::Style::Moe) << int(testmodel::Weights::Q4_0);
    }

    // The fixtures quantize gate and up differently, so their decodes take the unfused FFN input; a
    // make-test-model file with every matrix of one type takes the fused decode kernels (matvecGeglu,
    // and headNorm as every pass does): a short prefill, then token-by-token decodes, each step's
    // logits against the CPU path (exact activations) on the same ids, 1e-2 as for the fixtures.
    void fusedDecode() {
        QFETCH(int, style);
        QFETCH(int, weights);
        if (device_.empty()) QSKIP(("Vulkan not tested: " + skipReason_).c_str());
        testmodel::Spec spec = testmodel::defaultSpec(testmodel::Style(style));
        spec.weights = testmodel::Weights(weights);
        spec.vocab = 4096;
        spec.seed = 77;
        QTemporaryDir dir;
        const std::string path = dir.filePath("uniform.gguf").toStdString();
        testmodel::writeTestModel(spec, OCELLE_FIXTURES_DIR "/tokenizer/ggml-vocab-gemma-4.gguf", path);
        const auto model = vulkan::VulkanModel::load(path, {.forced = device_});
        const auto cpuModel = cpu::CpuModel::load(path);
        const std::vector<int32_t> ids{2, 818, 1357, 3000, 77, 4095, 1024, 12, 900, 2222, 5, 3333};
        auto session = model->createSession({.contextLength = 32});
        cpu::SessionOptions cpuOptions;
        cpuOptions.contextLength = 32;
        auto cpuSession = cpuModel->createSession(cpuOptions);
        const std::span<const int32_t> all(ids);
        float worst = maxAbsDiff(session->prefill(all.first(4)), cpuSession->prefill(all.first(4)));
        for (size_t i = 4; i < ids.size(); ++i)
            worst = std::max(worst, maxAbsDiff(session->decode(ids[i]), cpuSession->decode(ids[i])));
        qInfo("%s %s: max |vulkan - cpu| %.3g", testmodel::styleName(spec.style),
              testmodel::weightsName(spec.weights), double(worst));
        QVERIFY2(worst <= 1e-2f, qPrintable(QString("Vulkan vs CPU %1").arg(double(worst))));
        QCOMPARE(model->device().validationErrors(), uint64_t(0));
    }

    void decodeMatchesPrefill_data() { addFixtureRows(); }

    // The longest prompt token by token (decode kernels, split attention) against one batched
    // prefill, both against the float64 greedy steps; the generated ids are the reference's.
    void decodeMatchesPrefill() {
        QFETCH(int, fixture);
        if (device_.empty()) QSKIP(("Vulkan not tested: " + skipReason_).c_str());
        const Fixture& f = fixtures()[fixture];
        const auto model = load(f);
        const int vocab = model->hparams().nVocab;
        const auto prompt = promptNamed(f, "code_64");
        const auto ids = toIds(prompt["ids"].toArray());
        const auto greedy = prompt["float64_reference"].toObject()["greedy"].toObject();
        const auto expected = toIds(greedy["ids"].toArray());
        const auto steps = greedy["steps"].toArray();

        auto batched = model->createSession({.contextLength = 128, .maxBatch = 64});
        const auto prefillLast = batched->prefill(ids);
        // A small batch forces several passes, with the sliding rings wrapping inside a pass.
        auto stepped = model->createSession({.contextLength = 128, .maxBatch = 5});
        std::vector<float> last;
        for (size_t i = 0; i < ids.size(); ++i) last = stepped->decode(ids[i]);
        const float diff = maxAbsDiff(prefillLast, last);
        qInfo("%s: prefill vs decode max |diff| %.3g", qPrintable(f.name), double(diff));
        QVERIFY2(diff <= 1e-3f, qPrintable(QString("prefill vs decode %1").arg(double(diff))));

        Checker checker;
        std::vector<int32_t> generated;
        for (size_t k = 0; k < expected.size(); ++k) {
            checker.position(last.data(), vocab, steps[int(k)].toObject(), 1e-2, f.ref["probe_ids"].toArray(),
                             true, f.name + QString(" step %1").arg(k));
            generated.push_back(argmax(last.data(), vocab));
            last = stepped->decode(generated.back());
        }
        QVERIFY2(checker.failures.isEmpty(), qPrintable(checker.failures.join('\n')));
        QCOMPARE(generated, expected);
        QCOMPARE(model->device().validationErrors(), uint64_t(0));
    }

    void imageSoftTokens_data() {
        QTest::addColumn<bool>("bidirectional");
        QTest::newRow("causal") << false;
        QTest::newRow("bidirectional") << true;
    }

    // The vision fixture's image embeddings as soft tokens at the image positions, causal or as one
    // bidirectional span (llama.cpp's non-causal image chunk): the last position against the float64
    // reference computed the same way and against the CPU path.
    void imageSoftTokens() {
        QFETCH(bool, bidirectional);
        if (device_.empty()) QSKIP(("Vulkan not tested: " + skipReason_).c_str());
        const QString dir = QStringLiteral(OCELLE_FIXTURES_DIR "/vision");
        const auto ref = readJson(dir + "/vision.ref.json");
        const std::string path = (dir + "/" + ref["text_model"].toString()).toStdString();
        const auto model = vulkan::VulkanModel::load(path, {.forced = device_});
        const auto cpuModel = cpu::CpuModel::load(path);
        const int E = model->hparams().nEmbd;
        const int vocab = model->hparams().nVocab;
        const auto image = ref["images"].toArray().first().toObject();
        QFile embd(dir + "/" + image["embeddings"].toObject()["file"].toString());
        QVERIFY(embd.open(QIODevice::ReadOnly));
        const QByteArray bytes = embd.readAll();
        const int nSoft = image["n_soft_tokens"].toInt();
        QCOMPARE(bytes.size(), qsizetype(nSoft) * E * 4);
        std::vector<float> rows(size_t(nSoft) * E);
        std::memcpy(rows.data(), bytes.data(), size_t(bytes.size()));
        std::vector<int32_t> ids;
        int64_t softFirst = -1;
        for (const auto& c : image["chunks"].toArray()) {
            const auto chunk = c.toObject();
            if (chunk["type"].toString() == "text") {
                const auto part = toIds(chunk["ids"].toArray());
                ids.insert(ids.end(), part.begin(), part.end());
            } else {
                softFirst = int64_t(ids.size());
                ids.insert(ids.end(), size_t(chunk["n_tokens"].toInt()), 258880); // <|image|>, replaced
            }
        }
        QVERIFY(softFirst > 0);
        const int64_t context = int64_t(ids.size());
        // Passes of at most 160 tokens: a causal span crosses a pass boundary; a bidirectional one
        // moves the boundary before it.
        auto session = model->createSession({.contextLength = context, .maxBatch = 160});
        const vulkan::VulkanSoftTokens soft{
            .first = softFirst, .count = nSoft, .embeddings = rows, .bidirectional = bidirectional};
        // Last position only: all positions' logits would cap a pass at 128 rows (one binding).
        const auto logits = session->prefill(ids, vulkan::VulkanLogits::Last, {&soft, 1});
        QCOMPARE(logits.size(), size_t(vocab));
        const float* last = logits.data();
        Checker checker;
        const auto expected = image["float64_reference_last_logits"]
                                  .toObject()[bidirectional ? "llama_cpp_default" : "causal"]
                                  .toObject();
        checker.position(last, vocab, expected, 1e-2, {}, false, image["image"].toString());
        QVERIFY2(checker.failures.isEmpty(), qPrintable(checker.failures.join('\n')));
        QCOMPARE(argmax(last, vocab), expected["argmax"].toInt());

        auto cpuSession = cpuModel->createSession({.contextLength = context});
        const cpu::SoftTokens cpuSoft{
            .first = softFirst, .count = nSoft, .embeddings = rows, .bidirectional = bidirectional};
        const auto cpuLogits = cpuSession->prefill(ids, cpu::LogitsFor::Last, {&cpuSoft, 1});
        const float diff = maxAbsDiff(logits, cpuLogits);
        qInfo("image soft tokens: max |vulkan - float64| %.3g (last position), max |vulkan - cpu| %.3g",
              checker.worst, double(diff));
        QVERIFY2(diff <= 1e-2f, qPrintable(QString("Vulkan vs CPU %1").arg(double(diff))));

        // A bidirectional span longer than maxBatch stretches its pass (the working buffers grow)
        // when the sliding rings have the slots; otherwise it is refused before anything runs.
        if (bidirectional) {
            auto stretched =
                model->createSession({.contextLength = context, .maxBatch = 16, .slidingSlack = nSoft});
            const auto again = stretched->prefill(ids, vulkan::VulkanLogits::Last, {&soft, 1});
            QVERIFY(maxAbsDiff(again, logits) <= 1e-3f);
            auto small = model->createSession({.contextLength = context, .maxBatch = 16});
            QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                     small->prefill(ids, vulkan::VulkanLogits::Last, {&soft, 1}));
            QCOMPARE(small->position(), int64_t(0));
        }
    }

    // The generation API on the Vulkan backend: greedy generation reproduces the float64 reference's
    // continuation; automatic choice never picks a CPU-type device.
    void engineApi() {
        if (device_.empty()) QSKIP(("Vulkan not tested: " + skipReason_).c_str());
        const Fixture& f = fixtures().front();
        engine::LoadOptions options;
        options.backend = engine::BackendKind::Vulkan;
        options.device = device_;
        const auto choice = engine::chooseBackend(options);
        QVERIFY(choice.backend == engine::BackendKind::Vulkan);
        QCOMPARE(std::to_string(choice.deviceIndex), device_);
        {
            vulkan::Instance probe(false);
            QCOMPARE(choice.memoryBytes, probe.devices().at(size_t(choice.deviceIndex)).deviceLocalBytes);
            QVERIFY(choice.memoryBytes > 0);
        }
        if (!std::getenv("OCELLE_VULKAN_DEVICE")) {
            const bool cpuOnly = [] {
                vulkan::Instance probe(false);
                for (const auto& d : probe.devices())
                    if (d.usable() && d.type != vulkan::DeviceType::Cpu) return false;
                return true;
            }();
            const auto automatic = engine::chooseBackend({});
            QCOMPARE(automatic.backend == engine::BackendKind::Cpu, cpuOnly);
            QVERIFY(!automatic.reason.empty());
        }
        {
            // Upload progress reaches the engine's callback, and returning false stops the load.
            engine::LoadOptions stopping = options;
            int calls = 0;
            stopping.progress = [&calls](uint64_t, uint64_t) { return ++calls < 2; };
            try {
                engine::Model::load(f.gguf.toStdString(), stopping);
                QFAIL("the upload went on after progress returned false");
            } catch (const engine::Error& e) {
                QCOMPARE(e.kind(), engine::ErrorKind::LoadCancelled);
            }
            QCOMPARE(calls, 2);
        }
        uint64_t lastDone = 0, lastTotal = 0;
        options.progress = [&](uint64_t done, uint64_t total) {
            lastDone = done;
            lastTotal = total;
            return true;
        };
        const auto model = engine::Model::load(f.gguf.toStdString(), options);
        QCOMPARE(model->backendName(), std::string("vulkan"));
        QVERIFY(lastTotal > 0);
        QCOMPARE(lastDone, lastTotal);
        const auto prompt = promptNamed(f, "long_text_30");
        const auto expected =
            toIds(prompt["float64_reference"].toObject()["greedy"].toObject()["ids"].toArray());
        auto session = model->createSession({.contextLength = 128});
        engine::Prompt p;
        p.ids = toIds(prompt["ids"].toArray());
        session->feed(p);
        engine::GenerateOptions generate;
        generate.sampling.temperature = 0;
        generate.stop.maxTokens = int(expected.size());
        generate.stop.stopIds = {-1}; // no stop token: compare the whole continuation
        const auto result = session->generate(generate, [](const engine::TokenEvent&) { return true; });
        QCOMPARE(result.tokens, expected);
    }

    // Weights are uploaded once with progress reported: increasing, ending at the total.
    void uploadProgress() {
        if (device_.empty()) QSKIP(("Vulkan not tested: " + skipReason_).c_str());
        std::vector<std::pair<uint64_t, uint64_t>> reports;
        const auto model = vulkan::VulkanModel::load(
            fixtures().front().gguf.toStdString(), {.forced = device_},
            [&](uint64_t done, uint64_t total) { reports.emplace_back(done, total); });
        QVERIFY(reports.size() > 1);
        for (size_t i = 1; i < reports.size(); ++i) {
            QVERIFY(reports[i].first >= reports[i - 1].first);
            QCOMPARE(reports[i].second, reports[0].second);
        }
        QCOMPARE(reports.back().first, reports.back().second);
        QVERIFY(model->deviceWeightBytes() > 0);
    }

    // `ocelle-cli logits --backend vulkan --device N`: the first prompt's top logits against the
    // float64 reference, and stderr names the backend and device.
    void cliLogits() {
        if (device_.empty()) QSKIP(("Vulkan not tested: " + skipReason_).c_str());
        if (!QFile::exists(QStringLiteral(OCELLE_CLI_PATH))) QSKIP("ocelle-cli is not built");
        for (const Fixture& f : fixtures()) {
            const auto prompt = f.ref["prompts"].toArray()[0].toObject();
            QStringList ids;
            for (const auto& id : prompt["ids"].toArray()) ids << QString::number(id.toInt());
            QProcess p;
            p.start(QStringLiteral(OCELLE_CLI_PATH),
                    {"logits", "--model", f.gguf, "--ids", ids.join(' '), "--backend", "vulkan", "--device",
                     QString::fromStdString(device_), "--top", "12"});
            QVERIFY(p.waitForFinished(120000));
            const QByteArray err = p.readAllStandardError();
            QVERIFY2(p.exitCode() == 0, err.constData());
            QVERIFY2(err.contains("backend vulkan on "), err.constData());
            const auto out = QJsonDocument::fromJson(p.readAllStandardOutput()).object();
            const auto positions = out["positions"].toArray();
            const auto reference = prompt["float64_reference"].toObject()["positions"].toArray();
            QCOMPARE(positions.size(), reference.size());
            for (int i = 0; i < positions.size(); ++i) {
                QHash<int, double> ours;
                for (const auto& pair : positions[i].toObject()["top"].toArray())
                    ours[pair.toArray()[0].toInt()] = pair.toArray()[1].toDouble();
                // The reference's top ids are among our top 12 at (almost) the same value.
                const auto top = reference[i].toObject()["top10"].toArray();
                for (int j = 0; j < 8; ++j) {
                    const int id = top[j].toArray()[0].toInt();
                    QVERIFY2(ours.contains(id), qPrintable(QString("pos %1: id %2 missing").arg(i).arg(id)));
                    QVERIFY(std::abs(ours[id] - top[j].toArray()[1].toDouble()) <= 1e-2);
                }
            }
        }
    }

    void sessionErrors() {
        if (device_.empty()) QSKIP(("Vulkan not tested: " + skipReason_).c_str());
        const auto model = load(fixtures().front());
        auto session = model->createSession({.contextLength = 4, .maxBatch = 4});
        const std::vector<int32_t> ids{2, 10, 11, 12, 13};
        QVERIFY_THROWS_EXCEPTION(vulkan::ContextFull, session->prefill(ids));
        QCOMPARE(session->position(), int64_t(0));
        const int32_t bad = model->hparams().nVocab;
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, session->decode(bad));
        std::atomic<bool> cancel{true};
        session->setCancelFlag(&cancel);
        QVERIFY_THROWS_EXCEPTION(vulkan::Cancelled, session->decode(2));
        QCOMPARE(session->position(), int64_t(0));
        cancel = false;
        QCOMPARE(session->decode(2).size(), size_t(model->hparams().nVocab));
        QCOMPARE(session->position(), int64_t(1));
        // A full-attention cache beyond one storage binding is refused up front, saying how much.
        try {
            model->createSession({.contextLength = int64_t(1) << 30});
            QFAIL("a session of 2^30 positions was created");
        } catch (const vulkan::VulkanError& e) {
            QVERIFY2(QString(e.what()).contains("MiB"), e.what());
        }
    }
};

QTEST_APPLESS_MAIN(TestVulkanModel)
#include "test_vulkan_model.moc"
