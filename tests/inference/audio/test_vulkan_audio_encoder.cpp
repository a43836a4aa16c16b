// The Vulkan audio encoder against llama.cpp's outputs on the tiny fixture tower (fixtures README
// section 6) and against the CPU encoder, and the audio prompt's last-position logits on the
// Vulkan text model against the float64 reference. Runs on whatever Vulkan device exists (lavapipe
// here) with validation on when the layer is installed; skips with the reason without one.
//
// Tolerances: soft tokens and intermediates vs llama.cpp: relative L2 1.5e-3 (the fixture's);
// Vulkan vs CPU encoder: relative L2 1e-5 (both fp32, different summation orders); logits: with
// the fixture's soft tokens within 1e-2 of float64 (the Vulkan model's tolerance), with our own
// Vulkan soft tokens within 1e-2 (as the CPU test for our own encoder).
#include "audio/audio_encoder.h"
#include "audio/vulkan_audio_encoder.h"
#include "engine/engine.h"
#include "gguf/gguf.h"
#include "inference/encoder_test_support.h"
#include "vulkan/vulkan_model.h"

#include "../vulkan/vulkan_test_support.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <cmath>

using namespace ocelle;

namespace {

using test::readFloats;
using test::readJson;
using test::relativeL2;

const QString kAudioDir = QStringLiteral(OCELLE_FIXTURES_DIR "/audio/");
const std::string kTower = (kAudioDir + "tiny-gemma4-e-mmproj-audio.gguf").toStdString();

} // namespace

class TestVulkanAudioEncoder : public QObject {
    Q_OBJECT

    QJsonObject ref_ = readJson(kAudioDir + "audio.ref.json");
    std::vector<float> mel_ = readFloats(kAudioDir + "speech.mel.f32");
    std::vector<float> embd_ = readFloats(kAudioDir + "speech.embd.f32");
    int frames_ = ref_["audio"].toObject()["log_mel"].toObject()["n_frames"].toInt();
    std::string device_; // the forced choice for the device openTestDevice found
    std::unique_ptr<audio::VulkanAudioEncoder> encoder_;

    std::unique_ptr<vulkan::Device> openDevice() {
        std::string why;
        auto device = vulkan::testing::openTestDevice(why);
        if (!device) qFatal("the device went away: %s", why.c_str());
        return device;
    }

    // Last-position logits of the fixture prompt on the Vulkan text model, `soft` as the audio tokens.
    std::vector<float> promptLogits(const std::vector<float>& soft) {
        vulkan::DeviceOptions options;
        options.forced = device_;
        auto model = vulkan::VulkanModel::load(OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf", options);
        std::vector<int32_t> ids;
        vulkan::VulkanSoftTokens span;
        for (const auto& chunk : ref_["audio"].toObject()["chunks"].toArray()) {
            const auto c = chunk.toObject();
            if (c["type"].toString() == "audio") {
                span.first = int64_t(ids.size());
                span.count = c["n_tokens"].toInt();
                ids.insert(ids.end(), size_t(span.count), 0); // placeholders: replaced by the soft tokens
            } else {
                for (const auto& id : c["ids"].toArray()) ids.push_back(id.toInt());
            }
        }
        if (size_t(span.count * model->hparams().nEmbd) != soft.size()) qFatal("soft token size mismatch");
        span.embeddings = soft;
        // Passes of 32 tokens: the audio span crosses pass boundaries (it is causal).
        auto session = model->createSession({.contextLength = 256, .maxBatch = 32});
        auto logits = session->prefill(ids, vulkan::VulkanLogits::Last, std::span(&span, 1));
        if (model->device().validationErrors()) qFatal("validation errors in the text model");
        return logits;
    }

    double worstTop10(const std::vector<float>& logits) {
        const auto top10 = ref_["audio"]
                               .toObject()["float64_reference_last_logits"]
                               .toObject()["causal"]
                               .toObject()["top10"]
                               .toArray();
        if (top10.size() != 10) qFatal("float64 reference top10 missing");
        double worst = 0;
        for (const auto& pair : top10)
            worst = std::max(
                worst, std::abs(logits[size_t(pair.toArray()[0].toInt())] - pair.toArray()[1].toDouble()));
        return worst;
    }

private slots:
    void initTestCase() {
        std::string why;
        auto device = vulkan::testing::openTestDevice(why);
        if (!device) QSKIP(("the Vulkan audio encoder is not tested: " + why).c_str());
        device_ = std::to_string(device->info().index);
        encoder_ = audio::VulkanAudioEncoder::fromFile(gguf::File::open(kTower), std::move(device));
        qInfo("%s", encoder_->backendName().c_str());
    }

    void cleanupTestCase() {
        if (encoder_) QCOMPARE(encoder_->device().validationErrors(), uint64_t(0));
    }

    // Soft tokens and the traced intermediates given llama.cpp's mel features.
    void encoderMatchesFixture() {
        audio::AudioEncoderTrace trace;
        const auto tokens = encoder_->encode(mel_, frames_, &trace);
        QCOMPARE(tokens.size(), embd_.size());
        const double rel = relativeL2(tokens.data(), embd_.data(), embd_.size());
        qInfo("Vulkan soft tokens: relative L2 %.3g vs llama.cpp (tolerance 1.5e-3)", rel);
        QVERIFY2(rel < 1.5e-3, qPrintable(QString("relative L2 %1").arg(rel)));

        const auto acts = readFloats(kAudioDir + "speech.acts.f32");
        test::checkAudioIntermediates(ref_, acts, trace);
        if (QTest::currentTestFailed()) return;

        // The trace's extra submissions change nothing.
        QCOMPARE(encoder_->encode(mel_, frames_), tokens);
    }

    // Same tower, same mel: the two backends agree far more closely than either matches llama.cpp.
    void matchesCpuEncoder_data() {
        QTest::addColumn<int>("frames");
        QTest::newRow("the fixture (249 frames)") << 0;
        QTest::newRow("one frame") << 1;
        QTest::newRow("shorter than one attention block") << 30;
    }

    void matchesCpuEncoder() {
        QFETCH(int, frames);
        const int bins = encoder_->params().melBins;
        std::vector<float> mel = mel_;
        if (frames) { // the first `frames` frames of the fixture (mel-major rows)
            mel.resize(size_t(bins) * size_t(frames));
            for (int b = 0; b < bins; ++b)
                for (int t = 0; t < frames; ++t) mel[size_t(b) * frames + t] = mel_[size_t(b) * frames_ + t];
        } else {
            frames = frames_;
        }
        auto cpu = audio::AudioEncoder::load(kTower, 2);
        const auto want = cpu->encode(mel, frames);
        const auto got = encoder_->encode(mel, frames);
        QCOMPARE(got.size(),
                 size_t(audio::AudioEncoder::tokensForFrames(frames)) * encoder_->params().projectionDim);
        QCOMPARE(got.size(), want.size());
        const double rel = relativeL2(got.data(), want.data(), want.size());
        qInfo("%d frames: relative L2 Vulkan vs CPU %.3g (tolerance 1e-5)", frames, rel);
        QVERIFY2(rel < 1e-5, qPrintable(QString::number(rel)));
    }

    void promptLogitsMatchReference() {
        const double fixtureWorst = worstTop10(promptLogits(embd_));
        qInfo("fixture soft tokens on Vulkan: worst top-10 logit difference %.3g (tolerance 1e-2)",
              fixtureWorst);
        QVERIFY2(fixtureWorst < 1e-2, qPrintable(QString::number(fixtureWorst)));
        const double oursWorst = worstTop10(promptLogits(encoder_->encode(mel_, frames_)));
        qInfo("our Vulkan soft tokens: worst top-10 logit difference %.3g (tolerance 1e-2)", oursWorst);
        QVERIFY2(oursWorst < 1e-2, qPrintable(QString::number(oursWorst)));
    }

    void refusesBadInput() {
        QVERIFY_THROWS_EXCEPTION(audio::AudioError, encoder_->encode(mel_, 100));
        QVERIFY_THROWS_EXCEPTION(audio::AudioError, encoder_->encode({}, 0));
        // Still usable afterwards.
        QCOMPARE(encoder_->encode(mel_, frames_).size(), embd_.size());
    }

    // loadAudioEncoder picks the backend; the two report themselves.
    void loadChoosesBackend() {
        auto cpu = audio::loadAudioEncoder(kTower,
                                           {.backend = audio::AudioBackend::Cpu, .threads = 1, .device = {}});
        QCOMPARE(cpu->backendName(), std::string("cpu"));
        auto vk = audio::loadAudioEncoder(
            kTower, {.backend = audio::AudioBackend::Vulkan, .threads = 0, .device = device_});
        QVERIFY2(vk->backendName().rfind("vulkan (", 0) == 0, vk->backendName().c_str());
        QVERIFY_THROWS_EXCEPTION(
            std::exception,
            audio::loadAudioEncoder(
                kTower, {.backend = audio::AudioBackend::Vulkan, .threads = 0, .device = "no-such-gpu"}));
    }

    // The engine puts the encoder on the text model's backend and device.
    void engineMatchesTextModelBackend() {
        const std::string textModel = OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf";
        engine::LoadOptions vulkanOptions;
        vulkanOptions.backend = engine::BackendKind::Vulkan;
        vulkanOptions.device = device_;
        auto onVulkan = engine::Model::load(textModel, vulkanOptions);
        QCOMPARE(onVulkan->backendName(), std::string("vulkan"));
        QCOMPARE(onVulkan->backendOptions().device, device_);
        const auto vk = engine::loadAudioEncoder(kTower, *onVulkan);
        QVERIFY2(vk->backendName().rfind("vulkan (", 0) == 0, vk->backendName().c_str());
        engine::LoadOptions cpuOptions;
        cpuOptions.backend = engine::BackendKind::Cpu;
        cpuOptions.threads = 1;
        auto onCpu = engine::Model::load(textModel, cpuOptions);
        QCOMPARE(engine::loadAudioEncoder(kTower, *onCpu)->backendName(), std::string("cpu"));
    }
};

QTEST_APPLESS_MAIN(TestVulkanAudioEncoder)
#include "test_vulkan_audio_encoder.moc"
