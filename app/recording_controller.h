// The composer's microphone: records through media::AudioCapture (16 kHz mono, live level, the
// encoder's 30-second limit) and hands the finished recording over as an audio attachment. The
// chosen input device is remembered (QSettings "audio/inputDevice"). When the loaded model cannot
// hear, start() refuses before any device is opened and says why (blockedReason).
#pragma once

#include "media/audio_capture.h"

#include <QObject>
#include <QString>
#include <QVariantList>
#include <QtQml/qqmlregistration.h>
#include <vector>

class RecordingController : public QObject {
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("The microphone belongs to ChatController.recorder")
    Q_PROPERTY(bool recording READ recording NOTIFY recordingChanged)
    Q_PROPERTY(double seconds READ seconds NOTIFY secondsChanged)
    Q_PROPERTY(double maxSeconds READ maxSeconds NOTIFY maxSecondsChanged)
    // The last level, 0..1 on a 60 dB scale (0 = -60 dBFS or quieter, 1 = full scale), for a meter.
    Q_PROPERTY(double level READ level NOTIFY levelChanged)
    Q_PROPERTY(double peak READ peak NOTIFY levelChanged)
    Q_PROPERTY(QVariantList devices READ devices NOTIFY devicesChanged)
    Q_PROPERTY(QString deviceId READ deviceId WRITE setDeviceId NOTIFY deviceIdChanged)
    Q_PROPERTY(bool hasDevice READ hasDevice NOTIFY devicesChanged)
    // Why recording cannot start now (the model cannot hear, no microphone); empty when it can.
    Q_PROPERTY(QString blockedReason READ blockedReason NOTIFY blockedReasonChanged)
    // The last problem (device lost, could not open, too short), for the composer's notice.
    Q_PROPERTY(QString message READ message NOTIFY messageChanged)

public:
    static constexpr double kMinimumSeconds = 0.2;

    explicit RecordingController(QObject* parent = nullptr);

    bool recording() const { return capture_.isRecording(); }
    double seconds() const { return capture_.seconds(); }
    double maxSeconds() const { return capture_.maxSeconds(); }
    double level() const { return level_; }
    double peak() const { return peak_; }
    QVariantList devices() const;
    bool hasDevice() const;
    QString deviceId() const { return capture_.deviceId(); }
    void setDeviceId(const QString& id);
    QString blockedReason() const;
    QString message() const { return message_; }

    // Set by ChatController from the loaded model: why it cannot take audio (empty: it can).
    void setModelRefusal(const QString& reason);
    // A shorter limit for tests.
    void setMaxSeconds(double seconds) { capture_.setMaxSeconds(seconds); }
    ocelle::media::AudioCapture* capture() { return &capture_; }

    Q_INVOKABLE bool start();
    Q_INVOKABLE void stop();
    Q_INVOKABLE void cancel();
    Q_INVOKABLE void toggle();

signals:
    void recordingChanged();
    void secondsChanged();
    void maxSecondsChanged();
    void levelChanged();
    void devicesChanged();
    void deviceIdChanged();
    void blockedReasonChanged();
    void messageChanged();
    // A recording ended and is long enough to send; limitReached: it stopped at maxSeconds.
    void recorded(const std::vector<float>& samples, bool limitReached);

private:
    void setMessage(const QString& message);
    void onFinished(bool limitReached);

    ocelle::media::AudioCapture capture_;
    QMediaDevices watcher_;
    QString modelRefusal_;
    QString message_;
    double level_ = 0;
    double peak_ = 0;
};
