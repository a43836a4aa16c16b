// `ocelle-cli embed-image` and `run --image` end to end: the fixture PNG decoded, preprocessed and
// encoded by our pipeline against llama.cpp's soft tokens (CPU and Vulkan backends), HF sizing, and
// the refusals (audio-only mmproj, bad options, missing file).
#include "cli/cli_run.h"
#include "inference/encoder_test_support.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

namespace {

using ocelle::test::readFloats;

const QString kFixtures = QStringLiteral(OCELLE_FIXTURES_DIR);
const QString kMmproj = kFixtures + "/vision/tiny-gemma4-e-mmproj.gguf";
const QString kPhoto = kFixtures + "/vision/test_photo.png";
const QString kTextModel = kFixtures + "/models/tiny-gemma4-e.gguf";

using Run = ocelle::test::CliRun<QByteArray>;

Run cli(const QStringList& arguments) {
    return ocelle::test::runCli<QByteArray>(arguments, 60000);
}

} // namespace

class TestCliEmbedImage : public QObject {
    Q_OBJECT

private slots:
    void llamaPolicyMatchesFixture() {
        QTemporaryDir dir;
        const QString out = dir.filePath("photo.bin");
        const Run r = cli({"embed-image", "--mmproj", kMmproj, "--image", kPhoto, "--policy", "llama",
                           "--out", out, "--model", kTextModel, "--threads", "2"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const auto json = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(json["width"].toInt(), 624);
        QCOMPARE(json["height"].toInt(), 480);
        QCOMPARE(json["tokens"].toInt(), 130);
        const auto ours = readFloats(out);
        const auto reference = readFloats(kFixtures + "/vision/photo.embd.f32");
        QCOMPARE(ours.size(), reference.size());
        double diff = 0, norm = 0;
        for (size_t i = 0; i < ours.size(); ++i) {
            diff += (double(ours[i]) - reference[i]) * (double(ours[i]) - reference[i]);
            norm += double(reference[i]) * reference[i];
        }
        QVERIFY2(std::sqrt(diff / norm) < 1e-3, qPrintable(QString::number(std::sqrt(diff / norm))));
    }

    void vulkanBackendMatchesFixture() {
        // The same command on the Vulkan encoder (lavapipe here: named through --backend vulkan).
        QTemporaryDir dir;
        const QString out = dir.filePath("photo.bin");
        const Run r = cli({"embed-image", "--mmproj", kMmproj, "--image", kPhoto, "--policy", "llama",
                           "--out", out, "--backend", "vulkan"});
        if (r.exitCode != 0 && r.err.contains("no usable Vulkan device")) QSKIP(r.err.constData());
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QVERIFY2(r.err.contains("backend vulkan"), r.err.constData());
        QCOMPARE(QJsonDocument::fromJson(r.out).object()["tokens"].toInt(), 130);
        const auto ours = readFloats(out);
        const auto reference = readFloats(kFixtures + "/vision/photo.embd.f32");
        QCOMPARE(ours.size(), reference.size());
        double diff = 0, norm = 0;
        for (size_t i = 0; i < ours.size(); ++i) {
            diff += (double(ours[i]) - reference[i]) * (double(ours[i]) - reference[i]);
            norm += double(reference[i]) * reference[i];
        }
        QVERIFY2(std::sqrt(diff / norm) < 1e-3, qPrintable(QString::number(std::sqrt(diff / norm))));

        // run --image on Vulkan: the image is encoded on the text model's device.
        const Run run =
            cli({"run", "--model", kTextModel, "--mmproj", kMmproj, "--image", kPhoto, "--prompt",
                 "Describe.", "--temp", "0", "--max-tokens", "1", "--json", "--backend", "vulkan"});
        QVERIFY2(run.exitCode == 0, run.err.constData());
        QVERIFY2(run.err.contains("backend vulkan"), run.err.constData());
        const auto stats =
            QJsonDocument::fromJson(run.out.trimmed().split('\n').last()).object()["stats"].toObject();
        QVERIFY(stats["prompt_tokens"].toInt() > 266);
    }

    void huggingFaceSizing() {
        // 640x480: HF's rule gives 912x672 (266 tokens) at the default 280, 70 tokens' worth at 70.
        QTemporaryDir dir;
        const QString out = dir.filePath("photo.bin");
        Run r = cli({"embed-image", "--mmproj", kMmproj, "--image", kPhoto, "--out", out});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        auto json = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(json["width"].toInt(), 912);
        QCOMPARE(json["height"].toInt(), 672);
        QCOMPARE(json["tokens"].toInt(), 266);
        QCOMPARE(QFileInfo(out).size(), qint64(266) * 64 * 4);
        r = cli({"embed-image", "--mmproj", kMmproj, "--image", kPhoto, "--out", out, "--budget", "70"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        json = QJsonDocument::fromJson(r.out).object();
        QVERIFY(json["tokens"].toInt() <= 70 && json["tokens"].toInt() > 0);
        QCOMPARE(QFileInfo(out).size(), qint64(json["tokens"].toInt()) * 64 * 4);
    }

    void refusals() {
        QTemporaryDir dir;
        const QString out = dir.filePath("x.bin");
        Run r = cli({"embed-image", "--mmproj", kFixtures + "/audio/tiny-gemma4-e-mmproj-audio.gguf",
                     "--image", kPhoto, "--out", out});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains("no vision tower"), r.err.constData());
        r = cli({"embed-image", "--mmproj", kMmproj, "--image", dir.filePath("missing.png"), "--out", out});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains("missing.png"), r.err.constData());
        r = cli({"embed-image", "--mmproj", kMmproj, "--image", kPhoto, "--out", out, "--budget", "300"});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains("--budget"), r.err.constData());
        r = cli({"embed-image", "--mmproj", kMmproj, "--image", kPhoto, "--out", out, "--policy", "causal"});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains("--policy"), r.err.constData());
        r = cli({"embed-image", "--mmproj", kMmproj, "--image", kPhoto, "--out", out, "--backend", "tpu"});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains("--backend"), r.err.constData());
        r = cli({"embed-image", "--mmproj", kMmproj, "--image", kPhoto, "--out", out, "--backend", "cpu",
                 "--device", "0"});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains("--device"), r.err.constData());
        r = cli({"run", "--model", kTextModel, "--image", kPhoto, "--prompt", "Describe."});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains("--mmproj"), r.err.constData());
        r = cli({"run", "--model", kTextModel, "--mmproj",
                 kFixtures + "/audio/tiny-gemma4-e-mmproj-audio.gguf", "--image", kPhoto, "--prompt",
                 "Describe."});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains("no vision tower"), r.err.constData());
    }

    void runWithImages() {
        // Two images and a question; greedy, a few tokens. The prompt holds both images' soft tokens.
        const Run r = cli({"run", "--model", kTextModel, "--mmproj", kMmproj, "--image", kPhoto, "--image",
                           kFixtures + "/vision/test_document.png", "--prompt", "Describe.", "--temp", "0",
                           "--max-tokens", "2", "--json", "--threads", "2"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QList<QByteArray> lines = r.out.trimmed().split('\n');
        const auto stats = QJsonDocument::fromJson(lines.last()).object()["stats"].toObject();
        // 266 + 252 soft tokens (HF sizing at 280: 640x480 -> 912x672, 300x900 -> 432x1344) plus the text.
        QVERIFY2(stats["prompt_tokens"].toInt() > 266 + 252, lines.last().constData());
        QCOMPARE(stats["generated_tokens"].toInt(), 2);
    }

    void runWithImageAndAudio() {
        // The fixture mmproj holds both towers: image parts come first, then audio, then the text,
        // each span filled from its own encoder (a wrong mapping fails on the span sizes).
        const Run r = cli({"run", "--model", kTextModel, "--mmproj", kMmproj, "--image", kPhoto, "--audio",
                           kFixtures + "/audio/test_speech.wav", "--prompt", "What?", "--temp", "0",
                           "--max-tokens", "1", "--json", "--threads", "2"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const auto stats =
            QJsonDocument::fromJson(r.out.trimmed().split('\n').last()).object()["stats"].toObject();
        QVERIFY(stats["prompt_tokens"].toInt() > 266 + 63); // 266 image and 63 audio soft tokens
    }
};

QTEST_APPLESS_MAIN(TestCliEmbedImage)
#include "test_cli_embed_image.moc"
