// The CPU vision encoder against llama.cpp's outputs on the tiny fixture tower (fixtures README
// section 5): soft tokens and intermediates given llama.cpp's pixel tensors, for every image listed
// in vision.ref.json; the loader's refusals; the standardize step of the large towers.
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "inference/encoder_test_support.h"
#include "model/hparams.h"
#include "vision/vision_encoder.h"

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

using test::compare;
using test::Difference;
using test::readFloats;
using test::readJson;

const QString kVisionDir = QStringLiteral(OCELLE_FIXTURES_DIR "/vision/");
const std::string kMmproj = OCELLE_FIXTURES_DIR "/vision/tiny-gemma4-e-mmproj.gguf";

QString loadError(const std::string& path) {
    try {
        vision::VisionEncoder::load(path, 1);
    } catch (const std::exception& e) {
        return QString::fromUtf8(e.what());
    }
    return {};
}

} // namespace

class TestVisionEncoder : public QObject {
    Q_OBJECT

private:
    QJsonObject ref_ = readJson(kVisionDir + "vision.ref.json");

    void imageRows() {
        QTest::addColumn<int>("index");
        const auto images = ref_["images"].toArray();
        QVERIFY(!images.isEmpty());
        for (int i = 0; i < images.size(); ++i)
            QTest::newRow(qPrintable(images[i].toObject()["image"].toString())) << i;
    }

    std::vector<float> encodeFixture(const QJsonObject& image, vision::VisionEncoder& encoder,
                                     vision::VisionEncoderTrace* trace = nullptr) {
        const auto pre = image["preprocessed"].toObject();
        const auto pixels = readFloats(kVisionDir + pre["file"].toString());
        return encoder.encodePixels(pixels, pre["width"].toInt(), pre["height"].toInt(), trace);
    }

private slots:
    void paramsFromFile() {
        auto encoder = vision::VisionEncoder::load(kMmproj, 1);
        const auto gen = ref_["mmproj_generator"].toObject()["vision"].toObject();
        const auto& p = encoder->params();
        QCOMPARE(p.width, gen["n_embd"].toInt());
        QCOMPARE(p.layers, gen["n_layer"].toInt());
        QCOMPARE(p.heads, gen["n_head"].toInt());
        QCOMPARE(p.ffnWidth, gen["n_ff"].toInt());
        QCOMPARE(p.patchSize, gen["patch"].toInt());
        QCOMPARE(p.positionTableSize, gen["pos_size"].toInt());
        QCOMPARE(p.projectionDim, gen["projection_dim"].toInt());
        QVERIFY(p.clampedLinears);
        QVERIFY(p.blockOutputScale);
        QVERIFY(!p.standardize);
        QCOMPARE(p.fileUseGelu, std::optional<bool>(gen["use_gelu"].toBool()));
        for (const auto& value : ref_["images"].toArray()) {
            const auto image = value.toObject();
            const auto grid = image["patch_grid"].toArray();
            QCOMPARE(vision::VisionEncoder::tokensFor(grid[0].toInt(), grid[1].toInt()),
                     image["n_soft_tokens"].toInt());
        }
        // The fixture pairs with the tiny E text model; the MoE one is as wide, so check widths only.
        const auto text =
            model::HyperParams::fromFile(*gguf::File::open(OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf"));
        encoder->checkCompatible(text, "tiny-gemma4-e.gguf");
        model::HyperParams other = text;
        other.nEmbd = 1536;
        try {
            encoder->checkCompatible(other, "gemma-4-e2b.gguf");
            QFAIL("a width mismatch was accepted");
        } catch (const vision::VisionError& e) {
            QVERIFY2(QString(e.what()).contains("width 64") && QString(e.what()).contains("1536 wide"),
                     e.what());
        }
    }

    void embeddingsMatchLlamaCpp_data() { imageRows(); }
    void embeddingsMatchLlamaCpp() {
        QFETCH(int, index);
        const auto image = ref_["images"].toArray()[index].toObject();
        auto encoder = vision::VisionEncoder::load(kMmproj, 2);
        vision::VisionEncoderTrace trace;
        const auto ours = encodeFixture(image, *encoder, &trace);
        const auto reference = readFloats(kVisionDir + image["embeddings"].toObject()["file"].toString());
        QCOMPARE(ours.size(),
                 size_t(image["n_soft_tokens"].toInt()) * size_t(encoder->params().projectionDim));
        const Difference d = compare(ours, reference.data(), reference.size());
        qInfo("%s embeddings: relative L2 %.3g, max abs %.3g", qPrintable(image["image"].toString()),
              d.relativeL2, d.maxAbs);
        QVERIFY2(d.relativeL2 < 1e-3, qPrintable(QString::number(d.relativeL2)));
        QVERIFY2(d.maxAbs < 5e-3, qPrintable(QString::number(d.maxAbs)));

        // Intermediates (what to look at first when the embeddings drift).
        test::checkVisionIntermediates(image, kVisionDir, trace, ours);
        if (QTest::currentTestFailed()) return;
    }

    void geluQuickMatchesLlamaCppConverterDefault_data() { imageRows(); }
    void geluQuickMatchesLlamaCppConverterDefault() {
        QFETCH(int, index);
        const auto image = ref_["images"].toArray()[index].toObject();
        auto encoder = vision::VisionEncoder::load(kMmproj, 2);
        encoder->setActivation(vision::Activation::GeluQuick);
        const auto ours = encodeFixture(image, *encoder);
        const auto quick =
            readFloats(kVisionDir + image["embeddings_gelu_quick"].toObject()["file"].toString());
        const auto tanh = readFloats(kVisionDir + image["embeddings"].toObject()["file"].toString());
        const Difference d = compare(ours, quick.data(), quick.size());
        qInfo("GELU-quick: relative L2 %.3g vs llama.cpp's GELU-quick output, %.3g vs its tanh-GELU output",
              d.relativeL2, compare(ours, tanh.data(), tanh.size()).relativeL2);
        QVERIFY(d.relativeL2 < 1e-3);
        QVERIFY(compare(ours, tanh.data(), tanh.size()).relativeL2 > 3e-3); // the variants do differ
    }

    void patchesEqualPixels() {
        // The same pixels given as media's patches (row, column, channel) and as the planar tensor.
        auto encoder = vision::VisionEncoder::load(kMmproj, 2);
        const int width = 96, height = 144, P = 16;
        std::vector<float> planar(size_t(3 * width * height));
        for (size_t i = 0; i < planar.size(); ++i) planar[i] = float((i * 7919) % 256) / 255.0f;
        std::vector<float> patches(planar.size());
        const int px = width / P;
        for (int c = 0; c < 3; ++c)
            for (int y = 0; y < height; ++y)
                for (int x = 0; x < width; ++x)
                    patches[((size_t(y / P) * px + x / P) * P * P + size_t(y % P) * P + x % P) * 3 + c] =
                        planar[(size_t(c) * height + y) * width + x];
        const auto a = encoder->encodePixels(planar, width, height);
        const auto b = encoder->encodePatches(patches, width / P, height / P);
        QCOMPARE(a.size(), size_t(2 * 3) * 64);
        QVERIFY(a == b);
    }

    void rejectsBadInput() {
        auto encoder = vision::VisionEncoder::load(kMmproj, 1);
        const auto expectError = [](const std::function<void()>& f, const char* needle) {
            try {
                f();
            } catch (const vision::VisionError& e) {
                QVERIFY2(QString(e.what()).contains(needle), e.what());
                return;
            }
            QFAIL("no error");
        };
        std::vector<float> pixels(3 * 48 * 48);
        expectError([&] { encoder->encodePixels(pixels, 48, 40); }, "multiple of the 16-pixel patch");
        expectError([&] { encoder->encodePixels(pixels, 32, 32); }, "3x3");
        expectError([&] { encoder->encodePixels(pixels, 48, 96); }, "pixel values");
        expectError([&] { encoder->encodePatches(pixels, 3, 6); }, "patches of 768 values");
    }

    void audioOnlyMmprojHasNoVisionTower() {
        const QString error = loadError(OCELLE_FIXTURES_DIR "/audio/tiny-gemma4-e-mmproj-audio.gguf");
        QVERIFY2(error.contains("tiny-gemma4-e-mmproj-audio.gguf") && error.contains("no vision tower"),
                 qPrintable(error));
    }

    void textModelIsRefused() {
        const QString error = loadError(OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf");
        QVERIFY2(error.contains("not 'clip'"), qPrintable(error));
    }

    void loaderNamesWhatIsWrong_data() {
        QTest::addColumn<QString>("dropKey");
        QTest::addColumn<QString>("dropTensor");
        QTest::addColumn<QString>("needle");
        QTest::newRow("block count") << "clip.vision.block_count"
                                     << ""
                                     << "clip.vision.block_count";
        QTest::newRow("head count") << "clip.vision.attention.head_count"
                                    << ""
                                    << "clip.vision.attention.head_count";
        QTest::newRow("projector type") << "clip.vision.projector_type"
                                        << ""
                                        << "projector_type";
        QTest::newRow("q norm") << ""
                                << "v.blk.1.attn_q_norm.weight"
                                << "v.blk.1.attn_q_norm.weight";
        QTest::newRow("ffn down") << ""
                                  << "v.blk.0.ffn_down.weight"
                                  << "v.blk.0.ffn_down.weight";
        QTest::newRow("position table") << ""
                                        << "v.position_embd.weight"
                                        << "v.position_embd.weight";
        QTest::newRow("projection") << ""
                                    << "mm.input_projection.weight"
                                    << "mm.input_projection.weight";
    }
    void loaderNamesWhatIsWrong() {
        QFETCH(QString, dropKey);
        QFETCH(QString, dropTensor);
        QFETCH(QString, needle);
        QTemporaryDir dir;
        const std::string path = (dir.path() + "/edited.gguf").toStdString();
        test::GgufEdit edit;
        edit.keepKey = [&](const std::string& k) { return QString::fromStdString(k) != dropKey; };
        edit.keepTensor = [&](const std::string& t) { return QString::fromStdString(t) != dropTensor; };
        test::writeEditedCopy(kMmproj, path, edit);
        const QString error = loadError(path);
        QVERIFY2(error.contains("edited.gguf") && error.contains(needle), qPrintable(error));
    }

    void wrongProjectorTypeIsRefused() {
        QTemporaryDir dir;
        const std::string path = (dir.path() + "/other.gguf").toStdString();
        test::GgufEdit edit;
        edit.setKeys.push_back({"clip.vision.projector_type", gguf::MetaValue::string("gemma3")});
        test::writeEditedCopy(kMmproj, path, edit);
        QVERIFY2(loadError(path).contains("'gemma3' is not Gemma 4's"), qPrintable(loadError(path)));
    }

    void standardizeStep() {
        // The large towers' `(x - std_bias) * std_scale` before the projector's RMSNorm: a pure scale
        // (bias 0) cancels in the norm, a bias does not; one tensor without the other is refused.
        const auto image = ref_["images"].toArray()[1].toObject();
        auto plain = vision::VisionEncoder::load(kMmproj, 2);
        const auto base = encodeFixture(image, *plain);
        const int64_t D = plain->params().width;
        QTemporaryDir dir;
        const auto variant = [&](const std::string& name, std::vector<float> bias, std::vector<float> scale) {
            const std::string path = (dir.path() + "/" + QString::fromStdString(name)).toStdString();
            test::GgufEdit edit;
            if (!bias.empty()) edit.addF32.push_back({"v.std_bias", bias});
            if (!scale.empty()) edit.addF32.push_back({"v.std_scale", scale});
            test::writeEditedCopy(kMmproj, path, edit);
            return path;
        };
        auto scaled = vision::VisionEncoder::load(
            variant("scaled.gguf", std::vector<float>(size_t(D), 0.0f), std::vector<float>(size_t(D), 3.0f)),
            2);
        QVERIFY(scaled->params().standardize);
        const auto same = encodeFixture(image, *scaled);
        QVERIFY(compare(same, base.data(), base.size()).maxAbs < 1e-4);

        std::vector<float> bias(static_cast<size_t>(D));
        for (int64_t i = 0; i < D; ++i) bias[size_t(i)] = float(i % 5) - 2.0f;
        auto shifted = vision::VisionEncoder::load(
            variant("shifted.gguf", bias, std::vector<float>(size_t(D), 1.0f)), 2);
        vision::VisionEncoderTrace trace;
        const auto moved = encodeFixture(image, *shifted, &trace);
        QVERIFY(compare(moved, base.data(), base.size()).relativeL2 > 1e-2);
        // projectorInput = rms(pooled - bias), computed here from the traced pooled values.
        for (int64_t t = 0; t < 3; ++t) {
            std::vector<double> row(static_cast<size_t>(D));
            double sum = 0;
            for (int64_t i = 0; i < D; ++i) {
                row[size_t(i)] = double(trace.pooled[size_t(t * D + i)]) - bias[size_t(i)];
                sum += row[size_t(i)] * row[size_t(i)];
            }
            const double inv = 1.0 / std::sqrt(sum / double(D) + 1e-6);
            for (int64_t i = 0; i < D; ++i)
                QVERIFY(std::abs(row[size_t(i)] * inv - trace.projectorInput[size_t(t * D + i)]) < 1e-4);
        }

        const QString error = loadError(variant("half.gguf", bias, {}));
        QVERIFY2(error.contains("'v.std_scale' is missing"), qPrintable(error));
    }

    void policies() {
        auto text =
            model::HyperParams::fromFile(*gguf::File::open(OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf"));
        QVERIFY(!vision::imageTokensBidirectional(vision::ImageAttentionPolicy::HuggingFace, text));
        QVERIFY(vision::imageTokensBidirectional(vision::ImageAttentionPolicy::LlamaCpp, text)); // width 64
        text.nEmbd = 1536;
        QVERIFY(!vision::imageTokensBidirectional(vision::ImageAttentionPolicy::LlamaCpp, text));
        auto moe = model::HyperParams::fromFile(
            *gguf::File::open(OCELLE_FIXTURES_DIR "/models/tiny-gemma4-moe.gguf"));
        QVERIFY(vision::imageTokensBidirectional(vision::ImageAttentionPolicy::HuggingFace, moe));
        QCOMPARE(vision::parseImageAttentionPolicy("hf"),
                 std::optional(vision::ImageAttentionPolicy::HuggingFace));
        QCOMPARE(vision::parseImageAttentionPolicy("llama"),
                 std::optional(vision::ImageAttentionPolicy::LlamaCpp));
        QVERIFY(!vision::parseImageAttentionPolicy("causal"));
    }
};

QTEST_APPLESS_MAIN(TestVisionEncoder)
#include "test_vision_encoder.moc"
