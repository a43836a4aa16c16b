// From image files to logits with our own pipeline only: media's decoding and llama.cpp-policy
// preprocessing of the fixture PNGs, our encoder, the tiny E text model; checked against
// llama.cpp's pixel tensors and soft tokens and against the float64 prompt logits.
#include "cpu/cpu_model.h"
#include "inference/encoder_test_support.h"
#include "media/image.h"
#include "media/image_preprocess.h"
#include "vision/vision_encoder.h"

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

const QString kVisionDir = QStringLiteral(OCELLE_FIXTURES_DIR "/vision/");

} // namespace

class TestVisionMedia : public QObject {
    Q_OBJECT

private:
    QJsonObject ref_ = readJson(kVisionDir + "vision.ref.json");

private slots:
    void imageFileToLogits_data() {
        QTest::addColumn<int>("index");
        const auto images = ref_["images"].toArray();
        for (int i = 0; i < images.size(); ++i)
            QTest::newRow(qPrintable(images[i].toObject()["image"].toString())) << i;
    }
    void imageFileToLogits() {
        QFETCH(int, index);
        const auto image = ref_["images"].toArray()[index].toObject();
        const auto pre = image["preprocessed"].toObject();

        // llama.cpp's sizing with its default token range (70..1120).
        const media::RgbImage rgb = media::loadImage((kVisionDir + image["image"].toString()).toStdString());
        const media::PreprocessedImage ours =
            media::preprocessImage(rgb, {.budget = 1120, .policy = media::ImageSizePolicy::LlamaCpp});
        QCOMPARE(ours.resized.width, pre["width"].toInt());
        QCOMPARE(ours.resized.height, pre["height"].toInt());
        QCOMPARE(ours.softTokens, image["n_soft_tokens"].toInt());
        const auto fixturePixels = readFloats(kVisionDir + pre["file"].toString());
        QVERIFY(media::planarPixels(ours.resized) == fixturePixels);

        auto encoder =
            vision::VisionEncoder::load(OCELLE_FIXTURES_DIR "/vision/tiny-gemma4-e-mmproj.gguf", 2);
        const auto soft = encoder->encodePatches(ours.patches, ours.patchesX, ours.patchesY);
        const auto reference = readFloats(kVisionDir + image["embeddings"].toObject()["file"].toString());
        QCOMPARE(soft.size(), reference.size());
        double diff = 0, norm = 0;
        for (size_t i = 0; i < soft.size(); ++i) {
            diff += (double(soft[i]) - reference[i]) * (double(soft[i]) - reference[i]);
            norm += double(reference[i]) * reference[i];
        }
        qInfo("soft tokens from the PNG: relative L2 %.3g vs llama.cpp", std::sqrt(diff / norm));
        QVERIFY(std::sqrt(diff / norm) < 1e-3);

        // The fixture prompt, llama.cpp's non-causal image chunk (the tiny model is 64 wide).
        auto model = cpu::CpuModel::load(OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf", 2);
        std::vector<int32_t> ids;
        cpu::SoftTokens span;
        for (const auto& chunk : image["chunks"].toArray()) {
            const auto c = chunk.toObject();
            if (c["type"].toString() == "image") {
                span.first = int64_t(ids.size());
                span.count = c["n_tokens"].toInt();
                ids.insert(ids.end(), size_t(span.count), 0);
            } else {
                for (const auto& id : c["ids"].toArray()) ids.push_back(id.toInt());
            }
        }
        span.embeddings = soft;
        span.bidirectional =
            vision::imageTokensBidirectional(vision::ImageAttentionPolicy::LlamaCpp, model->hparams());
        QVERIFY(span.bidirectional);
        auto session = model->createSession({.contextLength = 512});
        const auto logits = session->prefill(ids, cpu::LogitsFor::Last, std::span(&span, 1));
        double worst = 0;
        for (const auto& pair : image["float64_reference_last_logits"]
                                    .toObject()["llama_cpp_default"]
                                    .toObject()["top10"]
                                    .toArray())
            worst = std::max(
                worst, std::abs(logits[size_t(pair.toArray()[0].toInt())] - pair.toArray()[1].toDouble()));
        qInfo("max |ours - float64| over the top 10: %.3g", worst);
        QVERIFY2(worst < 0.1, qPrintable(QString::number(worst)));
    }
};

QTEST_APPLESS_MAIN(TestVisionMedia)
#include "test_vision_media.moc"
