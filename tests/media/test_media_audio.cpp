// Audio files (made here with ffmpeg, sox and espeak-ng), the log-mel front end against llama.cpp's
// features in ../shared/fixtures/audio, and soft-token counts against HF's golden numbers.
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <numbers>

#include "media/audio.h"
#include "media_test_support.h"

using namespace ocelle::media;
using namespace ocelle::media::testing;

namespace {

// Strongest frequency in [low, high] Hz (1 Hz steps) over one second of 16 kHz audio, by a plain
// DFT evaluated at each candidate: independent of the library FFT the features use.
double dominantFrequency(const std::vector<float>& samples, std::size_t start, double low, double high) {
    double best = 0, bestPower = -1;
    const std::size_t count = std::min<std::size_t>(16000, samples.size() - start);
    for (double f = low; f <= high; f += 1.0) {
        double re = 0, im = 0;
        for (std::size_t n = 0; n < count; ++n) {
            const double phase = 2 * std::numbers::pi * f * double(n) / 16000.0;
            re += samples[start + n] * std::cos(phase);
            im -= samples[start + n] * std::sin(phase);
        }
        if (re * re + im * im > bestPower) bestPower = re * re + im * im, best = f;
    }
    return best;
}

double rms(const std::vector<float>& samples) {
    double sum = 0;
    for (float s : samples) sum += double(s) * s;
    return samples.empty() ? 0 : std::sqrt(sum / double(samples.size()));
}

} // namespace

class TestMediaAudio : public QObject {
    Q_OBJECT

private:
    QTemporaryDir dir_;
    QString path(const QString& name) const { return dir_.filePath(name); }
    static QStringList quiet() { return {"-hide_banner", "-loglevel", "error", "-y"}; }
    // A 3 s, 440 Hz sine (amplitude 1/8, FFmpeg's default) at 44.1 kHz stereo, encoded as asked.
    QString makeSine(const QString& name, const QStringList& codec) const {
        runTool("ffmpeg", quiet() +
                              QStringList{"-f", "lavfi", "-i",
                                          "sine=frequency=440:sample_rate=44100:duration=3", "-ac", "2"} +
                              codec + QStringList{path(name)});
        return path(name);
    }

private slots:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void goldenTokenCounts() {
        // HF's golden numbers (issue 7): samples -> soft tokens.
        QCOMPARE(audioTokenCount(38560), 60);
        QCOMPARE(audioTokenCount(48000), 75);
        QCOMPARE(audioTokenCount(48800), 76);
        QCOMPARE(audioTokenCount(99360), 155);
        QCOMPARE(audioTokenCount(640000), 750); // over 30 s: one piece counts at most 30 s
        // llama.cpp's fixture: 40000 samples -> 249 frames -> 125 -> 63 tokens.
        QCOMPARE(melFrameCount(40000), 249);
        QCOMPARE(audioTokensForFrames(249), 63);
        QCOMPARE(audioTokenCount(40000), 63);
        // 25 per second, 750 per 30 s; split audio sums its pieces.
        QCOMPARE(audioTokenCount(16000 * 30), 750);
        QCOMPARE(audioTokenCountSplit(16000 * 65), 750 + 750 + audioTokenCount(16000 * 5));
        QCOMPARE(audioTokenCount(16000 * 5), 125);
        QCOMPARE(audioTokenCount(0), 0);
        QCOMPARE(melFrameCount(160), 0);
        QCOMPARE(melFrameCount(161), 1);
    }

    void logMelMatchesLlamaCpp() {
        const QString audio = QString(OCELLE_FIXTURES_DIR) + "/audio/";
        const std::vector<float> samples = readFloats(audio + "speech.pcm.f32");
        QCOMPARE(samples.size(), std::size_t(40000));
        const LogMel mel = logMelFeatures(samples, LogMelVariant::LlamaCpp);
        QCOMPARE(mel.frames, 249);
        const std::vector<float> reference = readFloats(audio + "speech.mel.f32"); // [128][249]
        QCOMPARE(mel.values.size(), reference.size());
        double maxDifference = 0;
        for (std::size_t i = 0; i < reference.size(); ++i)
            maxDifference = std::max(maxDifference, double(std::abs(mel.values[i] - reference[i])));
        qInfo("log-mel vs llama.cpp speech.mel.f32: max |difference| %.3g over %zu values", maxDifference,
              reference.size());
        // The fixture README: an independent NumPy version reproduces it to 2.9e-4.
        QVERIFY2(maxDifference < 5e-4, qPrintable(QString::number(maxDifference)));

        // HF's variant: ln(mel + 0.001) on the same energies.
        const LogMel hf = logMelFeatures(samples, LogMelVariant::HuggingFace);
        for (std::size_t i = 0; i < hf.values.size(); ++i) {
            const double energy = std::exp(double(hf.values[i])) - 0.001;
            const double expected = std::log(std::max(energy, 0.001));
            QVERIFY(std::abs(expected - mel.values[i]) < 2e-3 * std::max(1.0, std::abs(expected)));
            QVERIFY(hf.values[i] >= mel.values[i] - 1e-5f); // adding the floor never lowers the value
        }
    }

    void wavDecodesExactly() {
        // 16 kHz mono s16: no resampling, so decoding must equal llama.cpp's s16/32768 samples.
        const QString audio = QString(OCELLE_FIXTURES_DIR) + "/audio/";
        const DecodedAudio decoded = decodeAudioFile((audio + "test_speech.wav").toStdString());
        const std::vector<float> reference = readFloats(audio + "speech.pcm.f32");
        QCOMPARE(decoded.samples.size(), reference.size());
        for (std::size_t i = 0; i < reference.size(); ++i) QCOMPARE(decoded.samples[i], reference[i]);
        QCOMPARE(decoded.sourceSampleRate, 16000);
        QCOMPARE(decoded.sourceChannels, 1);
    }

    void eachFormat_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QStringList>("codec");
        QTest::newRow("wav") << "sine.wav" << QStringList{};
        QTest::newRow("flac") << "sine.flac" << QStringList{};
        QTest::newRow("mp3") << "sine.mp3" << QStringList{"-c:a", "libmp3lame", "-b:a", "128k"};
        QTest::newRow("opus") << "sine.opus" << QStringList{"-c:a", "libopus", "-b:a", "64k"};
        QTest::newRow("ogg vorbis") << "sine.ogg" << QStringList{"-c:a", "libvorbis"};
        QTest::newRow("m4a") << "sine.m4a" << QStringList{"-c:a", "aac", "-b:a", "128k"};
    }
    void eachFormat() {
        QFETCH(QString, file);
        QFETCH(QStringList, codec);
        const DecodedAudio audio = decodeAudioFile(makeSine(file, codec).toStdString());
        QVERIFY2(std::abs(audio.seconds() - 3.0) < 0.06, qPrintable(QString("%1 s").arg(audio.seconds())));
        QCOMPARE(audio.sourceChannels, 2);
        QCOMPARE(dominantFrequency(audio.samples, 8000, 100, 2000), 440.0);
        // FFmpeg spreads the mono sine (amplitude 1/8) onto both channels at -3 dB each (1/8 / sqrt 2).
        // The mono mix is the channels' average, so it keeps that amplitude: RMS 1/8 / sqrt 2 / sqrt 2.
        // (swr's default downmix would add the channels at -3 dB and give RMS 1/8 / sqrt 2 instead.)
        const double level =
            rms(std::vector<float>(audio.samples.begin() + 8000, audio.samples.end() - 8000));
        QVERIFY2(std::abs(level - 0.125 / 2.0) < 0.006, qPrintable(QString::number(level)));
    }

    void audioTrackOfAVideo() {
        runTool("ffmpeg",
                quiet() + QStringList{"-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=2", "-f",
                                      "lavfi", "-i", "sine=frequency=1000:sample_rate=48000:duration=2",
                                      "-c:v", "mpeg4", "-c:a", "aac", "-shortest", path("clip.mp4")});
        const DecodedAudio audio = decodeAudioFile(path("clip.mp4").toStdString());
        QVERIFY(std::abs(audio.seconds() - 2.0) < 0.1);
        QCOMPARE(dominantFrequency(audio.samples, 4000, 500, 1500), 1000.0);
        // The same video without sound is refused plainly.
        runTool("ffmpeg",
                quiet() + QStringList{"-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=1", "-c:v",
                                      "mpeg4", path("mute.mp4")});
        const QString error = errorOf([&] { decodeAudioFile(path("mute.mp4").toStdString()); });
        QVERIFY2(error.contains("no audio track"), qPrintable(error));
    }

    void soxAndEspeak() {
        runTool("sox", {"-n", "-r", "22050", "-c", "1", path("tone.wav"), "synth", "2", "sine", "1234"});
        const DecodedAudio tone = decodeAudioFile(path("tone.wav").toStdString());
        QVERIFY(std::abs(tone.seconds() - 2.0) < 0.01);
        QCOMPARE(dominantFrequency(tone.samples, 8000, 500, 3000), 1234.0);
        // The loudest mel band of the tone sits where 1234 Hz falls on the HTK scale.
        const LogMel mel = logMelFeatures(tone.samples);
        int loudest = 0;
        for (int b = 1; b < kMelBins; ++b)
            if (mel.at(100, b) > mel.at(100, loudest)) loudest = b;
        const double melOf1234 = 2595 * std::log10(1 + 1234 / 700.0),
                     melStep = 2595 * std::log10(1 + 8000 / 700.0) / 129;
        QVERIFY2(std::abs(loudest + 1 - melOf1234 / melStep) <= 1.0, qPrintable(QString::number(loudest)));

        runTool("espeak-ng", {"-w", path("speech.wav"), "Ocelle listens to what you say."});
        const DecodedAudio speech = decodeAudioFile(path("speech.wav").toStdString());
        QVERIFY(speech.seconds() > 1.0 && speech.seconds() < 6.0);
        QVERIFY(rms(speech.samples) > 0.01);
        QCOMPARE(speech.samples.size() > 0, true);
    }

    void silence() {
        runTool("sox", {"-n", "-r", "8000", "-c", "1", path("silent.flac"), "trim", "0", "1.5"});
        const DecodedAudio silent = decodeAudioFile(path("silent.flac").toStdString());
        QVERIFY(std::abs(silent.seconds() - 1.5) < 0.01);
        QCOMPARE(rms(silent.samples), 0.0);
        const LogMel mel = logMelFeatures(silent.samples);
        for (float v : mel.values) QCOMPARE(v, float(std::log(0.001)));
        QCOMPARE(audioTokenCount(std::int64_t(silent.samples.size())), 38); // 1.5 s: 149 frames -> 75 -> 38
    }

    void longAudioIsSplit() {
        runTool("sox", {"-n", "-r", "16000", "-c", "1", path("long.flac"), "synth", "65", "sine", "300"});
        const DecodedAudio audio = decodeAudioFile(path("long.flac").toStdString());
        QCOMPARE(audio.samples.size(), std::size_t(65 * 16000));
        const auto pieces = splitIntoPieces(audio.samples);
        QCOMPARE(pieces.size(), std::size_t(3));
        QCOMPARE(pieces[0].size(), std::size_t(480000));
        QCOMPARE(pieces[1].size(), std::size_t(480000));
        QCOMPARE(pieces[2].size(), std::size_t(80000));
        QCOMPARE(pieces[1][17], audio.samples[480000 + 17]);
        QCOMPARE(logMelFeatures(pieces[0]).frames, 2999);
        AudioLimits tight;
        tight.maxSeconds = 20;
        const QString error = errorOf([&] { decodeAudioFile(path("long.flac").toStdString(), tight); });
        QVERIFY2(error.contains("limit"), qPrintable(error));
    }

    void truncatedAndBrokenFiles() {
        for (const QString name : {"cut.wav", "cut.flac"}) {
            runTool("sox", {"-n", "-r", "16000", "-c", "1", path(name), "synth", "4", "sine", "500"});
            truncateFile(path(name), 0.4);
            const QString error = errorOf([&] { decodeAudioFile(path(name).toStdString()); });
            QVERIFY2(error.contains("truncated") && error.contains(name), qPrintable(name + ": " + error));
        }
        writeBytes(path("noise.mp3"), QByteArray(5000, 'x'));
        QVERIFY(!errorOf([&] { decodeAudioFile(path("noise.mp3").toStdString()); }).isEmpty());
        QVERIFY(errorOf([&] { decodeAudioFile(path("absent.wav").toStdString()); }).contains("cannot open"));
    }
};

QTEST_APPLESS_MAIN(TestMediaAudio)
#include "test_media_audio.moc"
