// `ocelle-cli embed-audio` and `run --audio` end to end: the fixture WAV decoded, featurised and
// encoded by our own pipeline against llama.cpp's soft tokens, long audio split into 30 s pieces,
// and the refusals (model without audio, missing file).
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
const QString kMmproj = kFixtures + "/audio/tiny-gemma4-e-mmproj-audio.gguf";
const QString kTextModel = kFixtures + "/models/tiny-gemma4-e.gguf";

using Run = ocelle::test::CliRun<QByteArray>;

Run cli(const QStringList& arguments) {
    return ocelle::test::runCli<QByteArray>(arguments, 60000);
}

// A 16-bit mono PCM WAV of a 440 Hz tone.
void writeToneWav(const QString& path, int sampleRate, double seconds) {
    const quint32 samples = quint32(sampleRate * seconds);
    QByteArray data;
    for (quint32 i = 0; i < samples; ++i) {
        const qint16 v = qint16(8000 * std::sin(2 * M_PI * 440.0 * i / sampleRate));
        data.append(reinterpret_cast<const char*>(&v), 2);
    }
    QByteArray header;
    const auto u32 = [&](quint32 v) { header.append(reinterpret_cast<const char*>(&v), 4); };
    const auto u16 = [&](quint16 v) { header.append(reinterpret_cast<const char*>(&v), 2); };
    header.append("RIFF");
    u32(36 + quint32(data.size()));
    header.append("WAVEfmt ");
    u32(16);
    u16(1);
    u16(1);
    u32(quint32(sampleRate));
    u32(quint32(sampleRate) * 2);
    u16(2);
    u16(16);
    header.append("data");
    u32(quint32(data.size()));
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly)) qFatal("cannot write %s", qPrintable(path));
    f.write(header + data);
}

} // namespace

class TestCliEmbedAudio : public QObject {
    Q_OBJECT

private slots:
    void fixtureWav_data() {
        QTest::addColumn<QString>("backend");
        QTest::newRow("cpu") << "cpu";
        QTest::newRow("vulkan") << "vulkan";
    }

    // Our decode + log-mel + encoder on the fixture WAV against llama.cpp's soft tokens (its own
    // decode and features): the mel features differ by ~3e-4, the encoder by ~5e-4 (relative L2).
    // On both backends (Vulkan: the only usable device, lavapipe here, is accepted when asked for).
    void fixtureWav() {
        QFETCH(QString, backend);
        QTemporaryDir dir;
        const QString out = dir.filePath("speech.bin");
        const Run r =
            cli({"embed-audio", "--mmproj", kMmproj, "--audio", kFixtures + "/audio/test_speech.wav", "--out",
                 out, "--model", kTextModel, "--threads", "2", "--backend", backend});
        if (backend == "vulkan" && r.exitCode != 0 && r.err.contains("no usable Vulkan device"))
            QSKIP(r.err.constData());
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QVERIFY2(r.err.contains(("backend " + backend).toUtf8()), r.err.constData());
        const QJsonObject summary = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(summary["tokens"].toInt(), 63);
        QCOMPARE(summary["seconds"].toDouble(), 2.5);
        const auto ours = readFloats(out);
        const auto reference = readFloats(kFixtures + "/audio/speech.embd.f32");
        QCOMPARE(ours.size(), reference.size());
        double diff = 0, norm = 0;
        for (size_t i = 0; i < ours.size(); ++i) {
            diff += (double(ours[i]) - reference[i]) * (double(ours[i]) - reference[i]);
            norm += double(reference[i]) * reference[i];
        }
        const double rel = std::sqrt(diff / norm);
        qInfo("embed-audio on test_speech.wav: relative L2 %.3g vs llama.cpp (tolerance 1.5e-3)", rel);
        QVERIFY2(rel < 1.5e-3, qPrintable(QString::number(rel)));
    }

    // 31 s at 44.1 kHz: one 30 s piece (750 tokens) and a 1 s piece (25) in one output.
    void longAudioSplitsIntoPieces() {
        QTemporaryDir dir;
        const QString wav = dir.filePath("tone.wav");
        writeToneWav(wav, 44100, 31.0);
        const Run r =
            cli({"embed-audio", "--mmproj", kMmproj, "--audio", wav, "--out", dir.filePath("tone.bin")});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QJsonObject summary = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(summary["tokens"].toInt(), 775);
        QCOMPARE(summary["seconds"].toDouble(), 31.0);
        QCOMPARE(QFileInfo(dir.filePath("tone.bin")).size(), qint64(775) * summary["width"].toInt() * 4);
    }

    void refusals() {
        QTemporaryDir dir;
        const QString wav = kFixtures + "/audio/test_speech.wav";
        Run r = cli({"embed-audio", "--mmproj", kMmproj, "--audio", wav, "--out", dir.filePath("x.bin"),
                     "--model", kFixtures + "/models/tiny-gemma4-moe.gguf"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("this model has no audio encoder"), r.err.constData());
        r = cli({"embed-audio", "--mmproj", kMmproj, "--audio", dir.filePath("missing.wav"), "--out",
                 dir.filePath("x.bin")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("missing.wav"), r.err.constData());
        r = cli({"run", "--model", kFixtures + "/models/tiny-gemma4-moe.gguf", "--mmproj", kMmproj, "--audio",
                 wav, "--prompt", "Transcribe."});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("this model has no audio encoder"), r.err.constData());
        r = cli({"run", "--model", kTextModel, "--audio", wav, "--prompt", "Transcribe."});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains("--audio needs --mmproj"), r.err.constData());
    }

    void runWithAudio_data() {
        QTest::addColumn<QString>("backend");
        QTest::newRow("cpu") << "cpu";
        QTest::newRow("vulkan") << "vulkan";
    }

    // run --audio places <|audio> + 63 soft tokens + <audio|> before the text: the prompt has as
    // many tokens as the chat template renders for a 63-token audio part. The encoder runs on the
    // text model's backend: the same greedy tokens either way.
    void runWithAudio() {
        QFETCH(QString, backend);
        QTemporaryDir dir;
        const QString conversation = dir.filePath("conversation.json");
        {
            QFile f(conversation);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(R"([{"role":"user","content":[{"type":"audio"},{"type":"text","text":"Transcribe."}]}])");
        }
        const Run rendered = cli({"chat-template", "--model", kTextModel, "--json", conversation,
                                  "--audio-tokens", "63", "--ids"});
        QVERIFY2(rendered.exitCode == 0, rendered.err.constData());
        const int expectedTokens = int(rendered.out.trimmed().split(' ').size());

        const Run r = cli({"run", "--model", kTextModel, "--mmproj", kMmproj, "--audio",
                           kFixtures + "/audio/test_speech.wav", "--prompt", "Transcribe.", "--temp", "0",
                           "--max-tokens", "2", "--json", "--threads", "2", "--backend", backend});
        if (backend == "vulkan" && r.exitCode != 0 && r.err.contains("no usable Vulkan device"))
            QSKIP(r.err.constData());
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QVERIFY2(r.err.contains(("backend " + backend).toUtf8()), r.err.constData());
        const QList<QByteArray> lines = r.out.trimmed().split('\n');
        const QJsonObject stats = QJsonDocument::fromJson(lines.last()).object()["stats"].toObject();
        QCOMPARE(stats["prompt_tokens"].toInt(), expectedTokens);
        QCOMPARE(stats["generated_tokens"].toInt(), 2);
        QList<int> ids; // the generated tokens, one JSON line each before the stats
        for (qsizetype i = 0; i + 1 < lines.size(); ++i)
            ids << QJsonDocument::fromJson(lines[i]).object()["id"].toInt();
        QCOMPARE(ids.size(), 2);
        if (backend == "cpu")
            cpuIds_ = ids;
        else if (!cpuIds_.isEmpty())
            QCOMPARE(ids, cpuIds_);
    }

private:
    QList<int> cpuIds_;
};

QTEST_APPLESS_MAIN(TestCliEmbedAudio)
#include "test_cli_embed_audio.moc"
