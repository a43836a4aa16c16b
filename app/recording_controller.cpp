#include "recording_controller.h"

#include <QLocale>
#include <QSettings>
#include <QVariantMap>
#include <cmath>

namespace {
const QString kDeviceKey = QStringLiteral("audio/inputDevice");

// Linear amplitude to 0..1 over the 60 dB below full scale: speech sits around the middle.
double meterValue(float linear) {
    if (linear <= 0.001f) return 0;
    return std::clamp((20.0 * std::log10(double(linear)) + 60.0) / 60.0, 0.0, 1.0);
}
} // namespace

RecordingController::RecordingController(QObject* parent) : QObject(parent) {
    const QString saved = QSettings().value(kDeviceKey).toString();
    if (!saved.isEmpty()) capture_.selectDevice(saved); // a device gone since then: the default
    connect(&capture_, &ocelle::media::AudioCapture::recordingChanged, this, [this] {
        if (!capture_.isRecording()) {
            level_ = peak_ = 0;
            emit levelChanged();
        }
        emit recordingChanged();
    });
    connect(&capture_, &ocelle::media::AudioCapture::secondsChanged, this,
            &RecordingController::secondsChanged);
    connect(&capture_, &ocelle::media::AudioCapture::maxSecondsChanged, this,
            &RecordingController::maxSecondsChanged);
    connect(&capture_, &ocelle::media::AudioCapture::levelChanged, this, [this](float rms, float peak) {
        level_ = meterValue(rms);
        peak_ = meterValue(peak);
        emit levelChanged();
    });
    connect(&capture_, &ocelle::media::AudioCapture::finished, this, &RecordingController::onFinished);
    connect(&capture_, &ocelle::media::AudioCapture::errorOccurred, this, &RecordingController::setMessage);
    connect(&watcher_, &QMediaDevices::audioInputsChanged, this, [this] {
        emit devicesChanged();
        emit blockedReasonChanged();
    });
}

QVariantList RecordingController::devices() const {
    QVariantList out;
    for (const auto& d : ocelle::media::AudioCapture::inputDevices())
        out.append(QVariantMap{{QStringLiteral("id"), d.id},
                               {QStringLiteral("name"), d.description},
                               {QStringLiteral("isDefault"), d.isDefault}});
    return out;
}

bool RecordingController::hasDevice() const {
    return !ocelle::media::AudioCapture::inputDevices().isEmpty();
}

void RecordingController::setDeviceId(const QString& id) {
    if (id == capture_.deviceId()) return;
    if (!capture_.selectDevice(id)) {
        setMessage(tr("That microphone is no longer connected; the previous choice is kept."));
        return;
    }
    QSettings().setValue(kDeviceKey, id);
    emit deviceIdChanged();
}

QString RecordingController::blockedReason() const {
    if (!modelRefusal_.isEmpty()) return modelRefusal_;
    if (!hasDevice())
        return tr("No microphone was found. Connect one (or check the sound settings) to record.");
    return {};
}

void RecordingController::setModelRefusal(const QString& reason) {
    if (reason == modelRefusal_) return;
    modelRefusal_ = reason;
    if (!reason.isEmpty() && capture_.isRecording()) capture_.cancel();
    emit blockedReasonChanged();
}

bool RecordingController::start() {
    if (capture_.isRecording()) return true;
    if (const QString reason = blockedReason(); !reason.isEmpty()) {
        setMessage(reason); // said before any device is opened
        return false;
    }
    setMessage({});
    return capture_.start(); // failures arrive through errorOccurred -> message
}

void RecordingController::stop() {
    if (capture_.isRecording()) capture_.stop();
}

void RecordingController::cancel() {
    if (capture_.isRecording()) capture_.cancel();
}

void RecordingController::toggle() {
    if (capture_.isRecording())
        stop();
    else
        start();
}

void RecordingController::onFinished(bool limitReached) {
    const std::vector<float>& samples = capture_.samples();
    if (capture_.seconds() < kMinimumSeconds) {
        setMessage(tr("The recording was too short to use (%1 s).")
                       .arg(QLocale().toString(capture_.seconds(), 'f', 1)));
        return;
    }
    if (limitReached)
        setMessage(tr("Recording stopped at the %1-second limit of one audio clip.").arg(int(maxSeconds())));
    emit recorded(samples, limitReached);
}

void RecordingController::setMessage(const QString& message) {
    if (message == message_) return;
    message_ = message;
    emit messageChanged();
}
