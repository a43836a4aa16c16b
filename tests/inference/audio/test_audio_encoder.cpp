// The CPU audio encoder against llama.cpp's outputs on the tiny fixture tower (fixtures README
// section 6): soft tokens and intermediates given llama.cpp's mel features, the last-position
// logits of the audio prompt against the float64 reference, and the loader's refusals.
#include "audio/audio_encoder.h"
#include "cpu/cpu_model.h"
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "inference/encoder_test_support.h"
#include "model/hparams.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <functional>

using namespace ocelle;

namespace {

using test::readFloats;
using test::readJson;
using test::relativeL2;

const QString kAudioDir = QStringLiteral(OCELLE_FIXTURES_DIR "/audio/");

QString loadError(const std::string& path) {
    try {
        audio::AudioEncoder::load(path, 1);
    } catch (const std::exception& e) {
        return QString::fromUtf8(e.what());
    }
    return {};
}

} // namespace

class TestAudioEncoder : public QObject {
    Q_OBJECT

private:
    QJsonObject ref_ = readJson(kAudioDir + "audio.ref.json");
    std::vector<float> mel_ = readFloats(kAudioDir + "speech.mel.f32");
    std::vector<float> embd_ = readFloats(kAudioDir + "speech.embd.f32");

    std::vector<float> encodeFixture(const QString& mmproj, audio::AudioEncoderTrace* trace = nullptr) {
        auto encoder = audio::AudioEncoder::load(mmproj.toStdString(), 2);
        const int frames = ref_["audio"].toObject()["log_mel"].toObject()["n_frames"].toInt();
        return encoder->encode(mel_, frames, trace);
    }

    // Last-position logits of the fixture prompt with `soft` as the 63 audio tokens.
    std::vector<float> promptLogits(const std::vector<float>& soft) {
        auto model = cpu::CpuModel::load(OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf", 2);
        std::vector<int32_t> ids;
        cpu::SoftTokens span;
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
        auto session = model->createSession({.contextLength = 256});
        return session->prefill(ids, cpu::LogitsFor::Last, std::span(&span, 1));
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
    void paramsFromFile() {
        auto encoder =
            audio::AudioEncoder::load((kAudioDir + "tiny-gemma4-e-mmproj-audio.gguf").toStdString(), 1);
        const auto gen = ref_["mmproj_generator"].toObject();
        const auto& p = encoder->params();
        QCOMPARE(p.width, gen["n_embd"].toInt());
        QCOMPARE(p.layers, gen["n_layer"].toInt());
        QCOMPARE(p.heads, gen["n_head"].toInt());
        QCOMPARE(p.ffnWidth, gen["n_ff"].toInt());
        QCOMPARE(p.melBins, gen["n_mel"].toInt());
        QCOMPARE(p.convChannels0, gen["c0"].toInt());
        QCOMPARE(p.convChannels1, gen["c1"].toInt());
        QCOMPARE(p.outputDim, gen["out_dim"].toInt());
        QCOMPARE(p.convKernel, gen["conv_k"].toInt());
        QCOMPARE(p.projectionDim, gen["projection_dim"].toInt());
        QCOMPARE(audio::AudioEncoder::tokensForFrames(
                     ref_["audio"].toObject()["log_mel"].toObject()["n_frames"].toInt()),
                 ref_["audio"].toObject()["n_soft_tokens"].toInt());
        QCOMPARE(audio::AudioEncoder::tokensForFrames(3000), 750); // 30 s of frames
    }

    // Soft tokens given llama.cpp's mel features: within the fixture's stated relative L2 (1.5e-3).
    void encoderMatchesFixture() {
        audio::AudioEncoderTrace trace;
        const auto tokens = encodeFixture(kAudioDir + "tiny-gemma4-e-mmproj-audio.gguf", &trace);
        QCOMPARE(tokens.size(), embd_.size());
        const double rel = relativeL2(tokens.data(), embd_.data(), embd_.size());
        qInfo("soft tokens: relative L2 %.3g vs llama.cpp (tolerance 1.5e-3)", rel);
        QVERIFY2(rel < 1.5e-3, qPrintable(QString("relative L2 %1").arg(rel)));

        const auto acts = readFloats(kAudioDir + "speech.acts.f32");
        test::checkAudioIntermediates(ref_, acts, trace);
        if (QTest::currentTestFailed()) return;
    }

    // The combined mmproj (vision + audio) holds the same audio tower: identical soft tokens.
    void combinedMmprojSameTokens() {
        const auto alone = encodeFixture(kAudioDir + "tiny-gemma4-e-mmproj-audio.gguf");
        const auto combined =
            encodeFixture(QStringLiteral(OCELLE_FIXTURES_DIR "/vision/tiny-gemma4-e-mmproj.gguf"));
        QCOMPARE(combined.size(), alone.size());
        QVERIFY(std::equal(alone.begin(), alone.end(), combined.begin()));
    }

    // The audio prompt through the tiny E model: with the fixture's soft tokens within 2e-3 of the
    // float64 reference; with our own encoder's tokens within 1e-2 (the encoder's 1.5e-3 noise,
    // amplified by the random-weight model).
    void promptLogitsMatchReference() {
        const double fixtureWorst = worstTop10(promptLogits(embd_));
        qInfo("fixture soft tokens: worst top-10 logit difference %.3g (tolerance 2e-3)", fixtureWorst);
        QVERIFY2(fixtureWorst < 2e-3, qPrintable(QString::number(fixtureWorst)));
        const double oursWorst =
            worstTop10(promptLogits(encodeFixture(kAudioDir + "tiny-gemma4-e-mmproj-audio.gguf")));
        qInfo("our soft tokens: worst top-10 logit difference %.3g (tolerance 1e-2)", oursWorst);
        QVERIFY2(oursWorst < 1e-2, qPrintable(QString::number(oursWorst)));
    }

    void refusesBadInput() {
        auto encoder =
            audio::AudioEncoder::load((kAudioDir + "tiny-gemma4-e-mmproj-audio.gguf").toStdString(), 1);
        QVERIFY_THROWS_EXCEPTION(audio::AudioError, encoder->encode(mel_, 100));
        QVERIFY_THROWS_EXCEPTION(audio::AudioError, encoder->encode({}, 0));
    }

    void errorsNameTheProblem() {
        QTemporaryDir dir;
        const std::string source = (kAudioDir + "tiny-gemma4-e-mmproj-audio.gguf").toStdString();
        const std::string combined = OCELLE_FIXTURES_DIR "/vision/tiny-gemma4-e-mmproj.gguf";

        // An mmproj with only the vision tower (the audio keys and tensors removed).
        const std::string visionOnly = dir.filePath("vision-only.gguf").toStdString();
        test::GgufEdit noAudio;
        noAudio.keepKey = [](const std::string& k) { return k.rfind("clip.audio.", 0) != 0; };
        noAudio.keepTensor = [](const std::string& n) {
            return n.rfind("a.", 0) != 0 && n.rfind("mm.a.", 0) != 0;
        };
        noAudio.setKeys.emplace_back("clip.has_audio_encoder", gguf::MetaValue::boolean(false));
        test::writeEditedCopy(combined, visionOnly, noAudio);
        QVERIFY2(loadError(visionOnly).contains("this model has no audio encoder"),
                 qPrintable(loadError(visionOnly)));

        const std::string missing = dir.filePath("missing.gguf").toStdString();
        test::GgufEdit dropTensor;
        dropTensor.keepTensor = [](const std::string& n) { return n != "a.blk.1.attn_k_rel.weight"; };
        test::writeEditedCopy(source, missing, dropTensor);
        QVERIFY2(loadError(missing).contains("'a.blk.1.attn_k_rel.weight' is missing"),
                 qPrintable(loadError(missing)));

        const std::string wrongWidth = dir.filePath("wrong-width.gguf").toStdString();
        test::GgufEdit width;
        width.setKeys.emplace_back("clip.audio.embedding_length", gguf::MetaValue::uint32(48));
        test::writeEditedCopy(source, wrongWidth, width);
        QVERIFY2(loadError(wrongWidth).contains("has shape"), qPrintable(loadError(wrongWidth)));

        const std::string otherProjector = dir.filePath("other.gguf").toStdString();
        test::GgufEdit projector;
        projector.setKeys.emplace_back("clip.audio.projector_type", gguf::MetaValue::string("ultravox"));
        test::writeEditedCopy(source, otherProjector, projector);
        QVERIFY2(loadError(otherProjector).contains("'ultravox'"), qPrintable(loadError(otherProjector)));

        const QString textModel = loadError(OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf");
        QVERIFY2(textModel.contains("not an mmproj") || textModel.contains("no audio encoder"),
                 qPrintable(textModel));
    }

    // 26B/31B-style text models take no audio; the E model does, at the encoder's width only.
    void textModelCompatibility() {
        auto encoder =
            audio::AudioEncoder::load((kAudioDir + "tiny-gemma4-e-mmproj-audio.gguf").toStdString(), 1);
        const auto e =
            model::HyperParams::fromFile(*gguf::File::open(OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf"));
        encoder->checkCompatible(e, "tiny-gemma4-e");
        auto wider = e;
        wider.nEmbd *= 2;
        QVERIFY_THROWS_EXCEPTION(audio::AudioError, encoder->checkCompatible(wider, "wider"));
        const auto moe = model::HyperParams::fromFile(
            *gguf::File::open(OCELLE_FIXTURES_DIR "/models/tiny-gemma4-moe.gguf"));
        try {
            audio::checkTextModelTakesAudio(moe, "tiny-gemma4-moe");
            QFAIL("the MoE model was accepted for audio");
        } catch (const audio::AudioError& error) {
            QVERIFY2(QString(error.what()).contains("this model has no audio encoder"), error.what());
        }
    }
};

QTEST_APPLESS_MAIN(TestAudioEncoder)
#include "test_audio_encoder.moc"
