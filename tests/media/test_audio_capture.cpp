// Microphone capture through a real PulseAudio server: the test starts its own daemon (private
// XDG_RUNTIME_DIR, no desktop session needed, works as root) with a pipe source as the only
// microphone (44.1 kHz stereo, so the capture resamples and mixes down), writes PCM into the pipe
// (a sine tone, an espeak-ng sentence), records it through
// AudioCapture and checks the duration, the level and the 16 kHz signal (tone frequency by a DFT).
// Then the 30-second limit, the device disappearing mid-recording, and no device at all.
#include "media/audio_capture.h"
#include "pulse_pipe_microphone.h"

#include <QProcess>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <atomic>
#include <cmath>
#include <csignal>
#include <fcntl.h>
#include <thread>
#include <unistd.h>

using ocelle::media::AudioCapture;

namespace {

using Microphone = ocelle::testing::PulsePipeMicrophone;
// The fake microphone delivers CD-style stereo, so the capture really resamples and mixes down.
constexpr int kPipeRate = Microphone::kRate;
constexpr int kPipeChannels = Microphone::kChannels;

std::vector<int16_t> sine(double frequency, double seconds, double amplitude) {
    return Microphone::sine(frequency, seconds, amplitude);
}

// Frequency (1 Hz steps in [lo, hi]) with the largest DFT magnitude (Goertzel's recurrence for
// the DFT at each frequency).
double dominantFrequency(const std::vector<float>& x, int lo, int hi) {
    double bestPower = -1, best = 0;
    for (int f = lo; f <= hi; ++f) {
        const double coefficient = 2 * std::cos(2 * M_PI * f / AudioCapture::kSampleRate);
        double s1 = 0, s2 = 0;
        for (float v : x) {
            const double s0 = v + coefficient * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        const double power = s1 * s1 + s2 * s2 - coefficient * s1 * s2;
        if (power > bestPower) bestPower = power, best = f;
    }
    return best;
}

double rms(const std::vector<float>& x) {
    double s = 0;
    for (float v : x) s += double(v) * v;
    return x.empty() ? 0 : std::sqrt(s / double(x.size()));
}

} // namespace

class TestAudioCapture : public QObject {
    Q_OBJECT

    Microphone mic_;

    QByteArray pactl(const QStringList& args) { return mic_.pactl(args); }
    void feed(std::vector<int16_t> pcm) { mic_.feed(std::move(pcm)); }

    // Records `pcm` played into the pipe; returns when `expectedSeconds` have arrived (+ margin).
    void record(std::vector<int16_t> pcm, std::vector<float>& samples, QList<float>* rmsLevels,
                QList<float>* peaks) {
        AudioCapture capture;
        QVERIFY(capture.selectDevice("fakemic"));
        QSignalSpy errors(&capture, &AudioCapture::errorOccurred);
        connect(&capture, &AudioCapture::levelChanged, this, [&](float r, float p) {
            if (rmsLevels) rmsLevels->push_back(r);
            if (peaks) peaks->push_back(p);
        });
        const double expected = double(pcm.size()) / kPipeChannels / kPipeRate;
        QVERIFY(capture.start());
        feed(std::move(pcm));
        QTRY_VERIFY_WITH_TIMEOUT(capture.seconds() >= expected - 0.05, int(expected * 1000) + 10000);
        QTest::qWait(300); // anything late would show up as extra duration
        QSignalSpy finished(&capture, &AudioCapture::finished);
        capture.stop();
        QCOMPARE(finished.size(), 1);
        QVERIFY2(errors.isEmpty(), errors.isEmpty() ? "" : qPrintable(errors.first().first().toString()));
        samples = capture.samples();
        qInfo("device format: %d Hz, %d channels, %d bytes per sample", capture.deviceFormat().sampleRate(),
              capture.deviceFormat().channelCount(), capture.deviceFormat().bytesPerSample());
    }

private slots:
    void initTestCase() {
        for (const char* tool : {"pulseaudio", "pactl", "espeak-ng", "sox"})
            if (QStandardPaths::findExecutable(tool).isEmpty())
                QFAIL(qPrintable(QString("%1 is not installed (scripts/setup installs it)").arg(tool)));
        const QString problem = mic_.start();
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
    }

    void cleanupTestCase() { mic_.stop(); }

    void listsThePipeSource() {
        QTRY_VERIFY_WITH_TIMEOUT(!AudioCapture::inputDevices().isEmpty(), 5000);
        const auto devices = AudioCapture::inputDevices();
        QVERIFY(std::any_of(devices.begin(), devices.end(), [](const auto& d) { return d.id == "fakemic"; }));
        AudioCapture capture;
        QVERIFY(!capture.selectDevice("no-such-microphone"));
        QVERIFY(capture.deviceId().isEmpty());
        QVERIFY(capture.selectDevice("fakemic"));
        QCOMPARE(capture.deviceId(), QString("fakemic"));
    }

    void sineTone() {
        QList<float> levels, peaks;
        std::vector<float> samples;
        record(sine(1000.0, 1.5, 0.5), samples, &levels, &peaks);
        if (QTest::currentTestFailed()) return;
        const double seconds = double(samples.size()) / AudioCapture::kSampleRate;
        qInfo("tone: %.3f s recorded, %lld level updates", seconds, qlonglong(levels.size()));
        QVERIFY2(std::abs(seconds - 1.5) < 0.1, qPrintable(QString::number(seconds)));
        QVERIFY(!levels.isEmpty());
        const float maxRms = *std::max_element(levels.begin(), levels.end());
        const float maxPeak = *std::max_element(peaks.begin(), peaks.end());
        QVERIFY2(maxRms > 0.30f && maxRms < 0.40f, qPrintable(QString::number(maxRms))); // 0.5 / sqrt(2)
        QVERIFY2(maxPeak > 0.45f && maxPeak <= 0.55f, qPrintable(QString::number(maxPeak)));
        // The middle of the recording (no onset), resampled back to 16 kHz: still 1 kHz.
        const std::vector<float> middle(samples.begin() + 4000, samples.begin() + 12000);
        QCOMPARE(dominantFrequency(middle, 100, 7900), 1000.0);
    }

    void spokenSentence() {
        QTemporaryDir dir;
        const QString wav = dir.filePath("speech.wav"), raw = dir.filePath("speech.raw");
        QCOMPARE(QProcess::execute("espeak-ng", {"-w", wav, "Please transcribe this short sentence."}), 0);
        QCOMPARE(QProcess::execute("sox", {wav, "-t", "raw", "-r", QString::number(kPipeRate), "-c",
                                           QString::number(kPipeChannels), "-e", "signed", "-b", "16", raw}),
                 0);
        QFile f(raw);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray bytes = f.readAll();
        std::vector<int16_t> pcm(size_t(bytes.size()) / 2);
        std::memcpy(pcm.data(), bytes.constData(), pcm.size() * 2);
        std::vector<float> source(pcm.size() / kPipeChannels); // the left channel (sox duplicates it)
        for (size_t i = 0; i < source.size(); ++i) source[i] = pcm[i * kPipeChannels] / 32768.0f;

        std::vector<float> samples;
        record(pcm, samples, nullptr, nullptr);
        if (QTest::currentTestFailed()) return;
        const double seconds = double(samples.size()) / AudioCapture::kSampleRate;
        const double expected = double(source.size()) / kPipeRate;
        qInfo("speech: %.3f s recorded of %.3f s, rms %.4f (source %.4f)", seconds, expected, rms(samples),
              rms(source));
        QVERIFY2(std::abs(seconds - expected) < 0.1, qPrintable(QString::number(seconds)));
        QVERIFY2(std::abs(rms(samples) / rms(source) - 1.0) < 0.1, qPrintable(QString::number(rms(samples))));
    }

    // The limit: 30 s by default; fed more than the limit, the recording stops by itself at exactly
    // the limit and reports it (a 2 s limit keeps the test short: the pipe source runs in real time).
    void stopsAtTheLimit() {
        AudioCapture capture;
        QCOMPARE(capture.maxSeconds(), 30.0);
        capture.setMaxSeconds(100);
        QCOMPARE(capture.maxSeconds(), 30.0);
        capture.setMaxSeconds(2.0);
        QVERIFY(capture.selectDevice("fakemic"));
        QSignalSpy finished(&capture, &AudioCapture::finished);
        QVERIFY(capture.start());
        feed(sine(440.0, 3.0, 0.3));
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 15000);
        QCOMPARE(finished.first().first().toBool(), true);
        QVERIFY(!capture.isRecording());
        QCOMPARE(capture.samples().size(), size_t(2 * AudioCapture::kSampleRate));
        mic_.waitForWriter();
    }

    void cancelDiscards() {
        AudioCapture capture;
        QVERIFY(capture.selectDevice("fakemic"));
        QSignalSpy finished(&capture, &AudioCapture::finished);
        QVERIFY(capture.start());
        feed(sine(440.0, 0.5, 0.3));
        QTRY_VERIFY_WITH_TIMEOUT(capture.seconds() > 0.2, 10000);
        capture.cancel();
        QVERIFY(!capture.isRecording());
        QVERIFY(capture.samples().empty());
        QCOMPARE(finished.size(), 0);
        mic_.waitForWriter();
    }

    // The microphone disappears mid-recording; then the remembered one is missing while another
    // exists; then there is none at all.
    void deviceDisappears() {
        const QByteArray other =
            pactl({"load-module", "module-null-source", "source_name=othermic"}).trimmed();
        QVERIFY(!other.isEmpty());
        AudioCapture capture;
        QVERIFY(capture.selectDevice("fakemic"));
        QSignalSpy errors(&capture, &AudioCapture::errorOccurred);
        QVERIFY(capture.start());
        feed(sine(440.0, 0.5, 0.3));
        QTRY_VERIFY_WITH_TIMEOUT(capture.seconds() > 0.2, 10000);
        mic_.unloadPipeSource();
        QTRY_COMPARE_WITH_TIMEOUT(errors.size(), 1, 10000);
        const QString message = errors.first().first().toString();
        qInfo("%s", qPrintable(message));
        QVERIFY2(message.contains("disconnected"), qPrintable(message));
        QVERIFY(!capture.isRecording());

        QTRY_VERIFY_WITH_TIMEOUT(AudioCapture::inputDevices().size() == 1, 10000);
        QVERIFY(!capture.start());
        QCOMPARE(errors.size(), 2);
        QVERIFY2(errors.last().first().toString().contains("not available"),
                 qPrintable(errors.last().first().toString()));

        pactl({"unload-module", QString::fromUtf8(other)});
        QTRY_VERIFY_WITH_TIMEOUT(AudioCapture::inputDevices().isEmpty(), 10000);
        QVERIFY(!capture.start());
        QCOMPARE(errors.size(), 3);
        QVERIFY2(errors.last().first().toString().contains("No microphone"),
                 qPrintable(errors.last().first().toString()));
    }
};

QTEST_GUILESS_MAIN(TestAudioCapture)
#include "test_audio_capture.moc"
