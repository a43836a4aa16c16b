// Recording from a microphone for Gemma 4's audio input: Qt Multimedia's QAudioSource at whatever
// format the device offers, converted on the fly to 16 kHz mono float with FFmpeg's libswresample,
// with a live level for the UI and the encoder's 30-second limit.
//
//     AudioCapture capture;
//     for (const auto& d : AudioCapture::inputDevices()) ...;   // show them, let the user pick
//     capture.selectDevice(savedId);                             // the app persists deviceId()
//     connect(&capture, &AudioCapture::levelChanged, ...);       // draw rms/peak (0..1)
//     connect(&capture, &AudioCapture::finished, ...);           // capture.samples() is ready
//     connect(&capture, &AudioCapture::errorOccurred, ...);      // a sentence for the user
//     capture.start();  ...  capture.stop();                     // or cancel()
//
// All calls and signals happen on the thread that owns the object (it needs a running event loop).
// Errors are reported as text fit to show as it is: no input device, the chosen device missing,
// the device refusing to open (permission denied or busy), the device disappearing mid-recording.
#pragma once

#include <QAudioDevice>
#include <QByteArray>
#include <QElapsedTimer>
#include <QList>
#include <QMediaDevices>
#include <QObject>
#include <QString>
#include <QTimer>

#include <memory>
#include <vector>

class QAudioSource;
class QIODevice;
struct SwrContext;

namespace ocelle::media {

struct AudioInputDevice {
    QString id; // stable across runs: what the app stores
    QString description;
    bool isDefault = false;
};

class AudioCapture : public QObject {
    Q_OBJECT
    Q_PROPERTY(bool recording READ isRecording NOTIFY recordingChanged)
    Q_PROPERTY(double seconds READ seconds NOTIFY secondsChanged)
    Q_PROPERTY(double maxSeconds READ maxSeconds NOTIFY maxSecondsChanged)

public:
    static constexpr double kMaxSeconds = 30.0; // one encoder piece
    static constexpr int kSampleRate = 16000;
    // A device that delivers nothing for this long while recording is treated as gone (some
    // PulseAudio versions leave a stream whose source vanished silent instead of failing it).
    static constexpr int kStallMilliseconds = 2000;

    explicit AudioCapture(QObject* parent = nullptr);
    ~AudioCapture() override;

    static QList<AudioInputDevice> inputDevices();

    // Chooses the device by id; an empty id means the system default. Returns false (and keeps the
    // previous choice) when no input device has that id.
    bool selectDevice(const QString& id);
    // The chosen id (empty: the system default).
    QString deviceId() const { return deviceId_; }

    // Starts recording (discarding any previous recording). Returns false and emits errorOccurred
    // when there is no usable device or it cannot be opened.
    bool start();
    // Ends the recording and emits finished() with what was captured.
    void stop();
    // Ends the recording and throws it away (no finished()).
    void cancel();

    bool isRecording() const { return source_ != nullptr; }
    double seconds() const { return double(samples_.size()) / kSampleRate; }
    double maxSeconds() const { return maxSeconds_; }
    // A shorter limit (0 < seconds <= kMaxSeconds), e.g. for tests; takes effect at the next start().
    void setMaxSeconds(double seconds);
    // The recording so far (or the finished one): 16 kHz mono float in [-1, 1].
    const std::vector<float>& samples() const { return samples_; }
    // The format the device delivered in the last recording (for diagnostics).
    QAudioFormat deviceFormat() const { return deviceFormat_; }

signals:
    void recordingChanged(bool recording);
    void maxSecondsChanged(double seconds);
    void secondsChanged(double seconds);
    // Level of the audio that just arrived, linear 0..1 (RMS and absolute peak).
    void levelChanged(float rms, float peak);
    // The recording ended normally; limitReached is true when it stopped at kMaxSeconds.
    void finished(bool limitReached);
    void errorOccurred(const QString& message);

private:
    void readAvailable();
    void appendConverted(const char* data, qint64 bytes);
    void finishRecording(bool keep, bool limitReached);
    void fail(const QString& message);
    void onDevicesChanged();
    void onStateChanged();
    void checkStalled();
    QAudioDevice chosenDevice() const;

    QString deviceId_;
    QMediaDevices devices_;
    QAudioDevice recordingDevice_;
    QAudioFormat deviceFormat_;
    QAudioSource* source_ = nullptr;
    QIODevice* stream_ = nullptr;
    SwrContext* resampler_ = nullptr;
    std::vector<float> samples_;
    std::vector<float> chunk_;
    double maxSeconds_ = kMaxSeconds;
    size_t maxSamples_ = size_t(kMaxSeconds * kSampleRate);
    QTimer watchdog_;
    QElapsedTimer sinceData_;
};

} // namespace ocelle::media
