// The vision encoder on Vulkan (lavapipe here, forced: CPU-type devices are never picked
// automatically) against llama.cpp's outputs on the tiny fixture tower (fixtures README section 5),
// given llama.cpp's pixel tensors: soft tokens within the fixture's tolerance (relative L2 1e-3, max
// abs 5e-3) and every intermediate, in both activations; against the CPU encoder (relative L2 1e-5)
// also on a grid large enough to slice the per-token work; and end to end: the fixture prompt's
// last-position logits through the Vulkan text model with our Vulkan soft tokens within 0.1 of the
// float64 reference under both attention policies. Validation errors must stay zero.
#include "engine/engine.h"
#include "gguf/gguf.h"
#include "inference/encoder_test_support.h"
#include "vision/vulkan_vision_encoder.h"
#include "vulkan/vulkan_model.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <cmath>
#include <random>

using namespace ocelle;

namespace {

using test::compare;
using test::Difference;
using test::readFloats;
using test::readJson;

const QString kVisionDir = QStringLiteral(OCELLE_FIXTURES_DIR "/vision/");
const std::string kMmproj = OCELLE_FIXTURES_DIR "/vision/tiny-gemma4-e-mmproj.gguf";
const std::string kTextModel = OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf";

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

} // namespace

class TestVulkanVisionEncoder : public QObject {
    Q_OBJECT

    QJsonObject ref_ = readJson(kVisionDir + "vision.ref.json");
    std::string device_, skipReason_;
    std::unique_ptr<vision::VulkanVisionEncoder> encoder_;
    std::unique_ptr<vision::VisionEncoder> cpu_;

    void imageRows() {
        QTest::addColumn<int>("index");
        const auto images = ref_["images"].toArray();
        QVERIFY(!images.isEmpty());
        for (int i = 0; i < images.size(); ++i)
            QTest::newRow(qPrintable(images[i].toObject()["image"].toString())) << i;
    }

    std::vector<float> encodeFixture(const QJsonObject& image, const vision::VisionEncoder& encoder,
                                     vision::VisionEncoderTrace* trace = nullptr) {
        const auto pre = image["preprocessed"].toObject();
        const auto pixels = readFloats(kVisionDir + pre["file"].toString());
        return encoder.encodePixels(pixels, pre["width"].toInt(), pre["height"].toInt(), trace);
    }

private slots:
    void initTestCase() {
        setenv("OCELLE_VULKAN_VALIDATION", "1", 0); // validation on when the layer is installed
        device_ = testDeviceIndex(skipReason_);
        if (device_.empty()) QSKIP(("Vulkan vision encoder not tested: " + skipReason_).c_str());
        encoder_ = vision::VulkanVisionEncoder::load(kMmproj, {.forced = device_});
        cpu_ = vision::VisionEncoder::load(kMmproj, 2);
        qInfo("device: %s", encoder_->device().info().name.c_str());
        QCOMPARE(std::string(encoder_->backendName()), std::string("vulkan"));
        QVERIFY(encoder_->deviceWeightBytes() > 0);
    }

    void cleanupTestCase() {
        if (encoder_) QCOMPARE(encoder_->device().validationErrors(), uint64_t(0));
    }

    void embeddingsMatchLlamaCpp_data() { imageRows(); }
    void embeddingsMatchLlamaCpp() {
        QFETCH(int, index);
        const auto image = ref_["images"].toArray()[index].toObject();
        vision::VisionEncoderTrace trace;
        const auto ours = encodeFixture(image, *encoder_, &trace);
        const auto reference = readFloats(kVisionDir + image["embeddings"].toObject()["file"].toString());
        const Difference d = compare(ours, reference.data(), reference.size());
        qInfo("%s embeddings on Vulkan: relative L2 %.3g, max abs %.3g",
              qPrintable(image["image"].toString()), d.relativeL2, d.maxAbs);
        QVERIFY2(d.relativeL2 < 1e-3, qPrintable(QString::number(d.relativeL2)));
        QVERIFY2(d.maxAbs < 5e-3, qPrintable(QString::number(d.maxAbs)));

        test::checkVisionIntermediates(image, kVisionDir, trace, ours);
        if (QTest::currentTestFailed()) return;

        // The same computation as the CPU encoder, up to fp32 summation order.
        const auto cpu = encodeFixture(image, *cpu_);
        const Difference c = compare(ours, cpu.data(), cpu.size());
        qInfo("  Vulkan vs CPU encoder: relative L2 %.3g, max abs %.3g", c.relativeL2, c.maxAbs);
        QVERIFY2(c.relativeL2 < 1e-5, qPrintable(QString::number(c.relativeL2)));
    }

    void geluQuickMatchesLlamaCppConverterDefault_data() { imageRows(); }
    void geluQuickMatchesLlamaCppConverterDefault() {
        QFETCH(int, index);
        const auto image = ref_["images"].toArray()[index].toObject();
        encoder_->setActivation(vision::Activation::GeluQuick);
        const auto ours = encodeFixture(image, *encoder_);
        encoder_->setActivation(vision::Activation::GeluTanh);
        const auto quick =
            readFloats(kVisionDir + image["embeddings_gelu_quick"].toObject()["file"].toString());
        const auto tanh = readFloats(kVisionDir + image["embeddings"].toObject()["file"].toString());
        const Difference d = compare(ours, quick.data(), quick.size());
        qInfo("GELU-quick on Vulkan: relative L2 %.3g vs llama.cpp's GELU-quick output", d.relativeL2);
        QVERIFY(d.relativeL2 < 1e-3);
        QVERIFY(compare(ours, tanh.data(), tanh.size()).relativeL2 > 3e-3); // the variants do differ
    }

    void largeGridMatchesCpu() {
        // 66 x 66 patches (4356, more than one 4096-token slice of per-token work) from random pixels.
        const int side = 66 * 16;
        std::mt19937 rng(5);
        std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
        std::vector<float> pixels(size_t(3) * side * side);
        for (float& v : pixels) v = uniform(rng);
        const auto ours = encoder_->encodePixels(pixels, side, side);
        const auto cpu = cpu_->encodePixels(pixels, side, side);
        QCOMPARE(ours.size(), size_t(22 * 22) * size_t(encoder_->params().projectionDim));
        const Difference c = compare(ours, cpu.data(), cpu.size());
        qInfo("66 x 66 patches: Vulkan vs CPU relative L2 %.3g, max abs %.3g", c.relativeL2, c.maxAbs);
        QVERIFY2(c.relativeL2 < 1e-5, qPrintable(QString::number(c.relativeL2)));
    }

    void rejectsBadInput() {
        std::vector<float> pixels(3 * 48 * 48);
        QVERIFY_THROWS_EXCEPTION(vision::VisionError, encoder_->encodePixels(pixels, 32, 32));
        QVERIFY_THROWS_EXCEPTION(vision::VisionError, encoder_->encodePixels(pixels, 48, 96));
    }

    void loadsThroughTheBackendChoice() {
        auto vk = vision::loadVisionEncoder(kMmproj, {.vulkan = true, .device = device_});
        QCOMPARE(std::string(vk->backendName()), std::string("vulkan"));
        auto cpu = vision::loadVisionEncoder(kMmproj, {.vulkan = false, .device = {}, .threads = 1});
        QCOMPARE(std::string(cpu->backendName()), std::string("cpu"));
        try {
            vision::loadVisionEncoder(OCELLE_FIXTURES_DIR "/audio/tiny-gemma4-e-mmproj-audio.gguf",
                                      {.vulkan = true, .device = device_});
            QFAIL("an audio-only mmproj was accepted");
        } catch (const vision::VisionError& e) {
            QVERIFY2(QString(e.what()).contains("no vision tower"), e.what());
        }
    }

    void promptLogitsWithVulkanSoftTokens_data() {
        QTest::addColumn<int>("index");
        QTest::addColumn<bool>("bidirectional");
        const auto images = ref_["images"].toArray();
        for (int i = 0; i < images.size(); ++i) {
            const QString name = images[i].toObject()["image"].toString();
            QTest::newRow(qPrintable(name + " causal")) << i << false;
            QTest::newRow(qPrintable(name + " llama.cpp non-causal")) << i << true;
        }
    }
    void promptLogitsWithVulkanSoftTokens() {
        // Everything on Vulkan: our encoder's soft tokens into the Vulkan text model at the image
        // positions of the fixture prompt (llama.cpp's chunks), last position vs the float64 reference.
        QFETCH(int, index);
        QFETCH(bool, bidirectional);
        const auto image = ref_["images"].toArray()[index].toObject();
        auto model = vulkan::VulkanModel::load(kTextModel, {.forced = device_});
        encoder_->checkCompatible(model->hparams(), kTextModel);
        const auto soft = encodeFixture(image, *encoder_);
        std::vector<int32_t> ids;
        int64_t first = -1, count = 0;
        for (const auto& chunk : image["chunks"].toArray()) {
            const auto c = chunk.toObject();
            if (c["type"].toString() == "image") {
                first = int64_t(ids.size());
                count = c["n_tokens"].toInt();
                ids.insert(ids.end(), size_t(count), 258880); // <|image|>, replaced
            } else {
                for (const auto& id : c["ids"].toArray()) ids.push_back(id.toInt());
            }
        }
        QVERIFY(first > 0);
        QCOMPARE(soft.size(), size_t(count) * size_t(model->hparams().nEmbd));
        auto session = model->createSession({.contextLength = int64_t(ids.size()), .maxBatch = 256});
        const vulkan::VulkanSoftTokens span{
            .first = first, .count = count, .embeddings = soft, .bidirectional = bidirectional};
        const auto logits = session->prefill(ids, vulkan::VulkanLogits::Last, {&span, 1});
        const auto reference = image["float64_reference_last_logits"]
                                   .toObject()[bidirectional ? "llama_cpp_default" : "causal"]
                                   .toObject();
        const auto top10 = reference["top10"].toArray();
        QCOMPARE(top10.size(), qsizetype(10));
        double worst = 0;
        for (const auto& pair : top10)
            worst = std::max(worst, std::abs(double(logits[size_t(pair.toArray()[0].toInt())]) -
                                             pair.toArray()[1].toDouble()));
        qInfo("max |vulkan (own soft tokens) - float64| over the top 10: %.3g", worst);
        QVERIFY2(worst < 0.1, qPrintable(QString::number(worst)));
        QCOMPARE(model->device().validationErrors(), uint64_t(0));
    }
};

QTEST_APPLESS_MAIN(TestVulkanVisionEncoder)
#include "test_vulkan_vision_encoder.moc"
