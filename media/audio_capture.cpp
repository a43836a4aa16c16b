#include "media/audio_capture.h"

#include <QAudioSource>
#include <QIODevice>

#include <algorithm>
#include <cmath>

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>
}

namespace ocelle::media {
namespace {

AVSampleFormat toFfmpeg(QAudioFormat::SampleFormat format) {
    switch (format) {
    case QAudioFormat::UInt8:
        return AV_SAMPLE_FMT_U8;
    case QAudioFormat::Int16:
        return AV_SAMPLE_FMT_S16;
    case QAudioFormat::Int32:
        return AV_SAMPLE_FMT_S32;
    case QAudioFormat::Float:
        return AV_SAMPLE_FMT_FLT;
    default:
        return AV_SAMPLE_FMT_NONE;
    }
}

QString quoted(const QAudioDevice& device) {
    return QStringLiteral("\u201c%1\u201d").arg(device.description());
}

} // namespace

AudioCapture::AudioCapture(QObject* parent) : QObject(parent) {
    connect(&devices_, &QMediaDevices::audioInputsChanged, this, &AudioCapture::onDevicesChanged);
    watchdog_.setInterval(200);
    connect(&watchdog_, &QTimer::timeout, this, &AudioCapture::checkStalled);
}

void AudioCapture::setMaxSeconds(double seconds) {
    const double clamped = std::clamp(seconds, 1.0 / kSampleRate, kMaxSeconds);
    if (clamped == maxSeconds_) return;
    maxSeconds_ = clamped;
    emit maxSecondsChanged(maxSeconds_);
}

AudioCapture::~AudioCapture() {
    finishRecording(false, false);
}

QList<AudioInputDevice> AudioCapture::inputDevices() {
    QList<AudioInputDevice> list;
    for (const QAudioDevice& d : QMediaDevices::audioInputs())
        list.push_back({QString::fromUtf8(d.id()), d.description(), d.isDefault()});
    return list;
}

bool AudioCapture::selectDevice(const QString& id) {
    if (!id.isEmpty()) {
        const auto inputs = QMediaDevices::audioInputs();
        if (std::none_of(inputs.begin(), inputs.end(),
                         [&](const QAudioDevice& d) { return d.id() == id.toUtf8(); }))
            return false;
    }
    deviceId_ = id;
    return true;
}

QAudioDevice AudioCapture::chosenDevice() const {
    const auto inputs = QMediaDevices::audioInputs();
    if (!deviceId_.isEmpty()) {
        for (const QAudioDevice& d : inputs)
            if (d.id() == deviceId_.toUtf8()) return d;
        return {};
    }
    const QAudioDevice fallback = QMediaDevices::defaultAudioInput();
    if (!fallback.isNull()) return fallback;
    return inputs.isEmpty() ? QAudioDevice() : inputs.front();
}

bool AudioCapture::start() {
    finishRecording(false, false);
    samples_.clear();
    maxSamples_ = size_t(std::llround(maxSeconds_ * kSampleRate));
    if (QMediaDevices::audioInputs().isEmpty()) {
        emit errorOccurred(tr("No microphone was found. Connect one, or check the system's sound settings."));
        return false;
    }
    const QAudioDevice device = chosenDevice();
    if (device.isNull()) {
        emit errorOccurred(tr("The chosen microphone is not available any more. Pick another one."));
        return false;
    }
    QAudioFormat format = device.preferredFormat();
    if (toFfmpeg(format.sampleFormat()) == AV_SAMPLE_FMT_NONE) format.setSampleFormat(QAudioFormat::Int16);
    if (format.sampleRate() <= 0 || format.channelCount() <= 0 || !device.isFormatSupported(format)) {
        emit errorOccurred(
            tr("The microphone %1 offers no audio format Ocelle can record.").arg(quoted(device)));
        return false;
    }

    AVChannelLayout input{}, mono{};
    av_channel_layout_default(&input, format.channelCount());
    av_channel_layout_default(&mono, 1);
    int status = swr_alloc_set_opts2(&resampler_, &mono, AV_SAMPLE_FMT_FLT, kSampleRate, &input,
                                     toFfmpeg(format.sampleFormat()), format.sampleRate(), 0, nullptr);
    av_channel_layout_uninit(&input);
    // Mono is the average of the channels (as llama.cpp's and HF's loaders mix down); swr's default
    // matrix would add correlated channels at -3 dB each, making stereo 1.41x louder than mono.
    const std::vector<double> average(size_t(format.channelCount()), 1.0 / format.channelCount());
    if (status >= 0) status = swr_set_matrix(resampler_, average.data(), format.channelCount());
    if (status >= 0) status = swr_init(resampler_);
    if (status < 0) {
        swr_free(&resampler_);
        emit errorOccurred(tr("Cannot convert the microphone's format (%1 Hz, %2 channels) to 16 kHz mono.")
                               .arg(format.sampleRate())
                               .arg(format.channelCount()));
        return false;
    }

    recordingDevice_ = device;
    deviceFormat_ = format;
    source_ = new QAudioSource(device, format, this);
    connect(source_, &QAudioSource::stateChanged, this, &AudioCapture::onStateChanged);
    stream_ = source_->start();
    if (!stream_ || source_->error() != QAudio::NoError) {
        fail(tr("Could not open the microphone %1: access was denied or another program is using it.")
                 .arg(quoted(device)));
        return false;
    }
    connect(stream_, &QIODevice::readyRead, this, &AudioCapture::readAvailable);
    sinceData_.start();
    watchdog_.start();
    emit recordingChanged(true);
    emit secondsChanged(0.0);
    return true;
}

void AudioCapture::stop() {
    if (!source_) return;
    readAvailable();
    if (source_) finishRecording(true, false);
}

void AudioCapture::cancel() {
    finishRecording(false, false);
    samples_.clear();
}

void AudioCapture::readAvailable() {
    if (!stream_) return;
    const QByteArray data = stream_->readAll();
    if (data.isEmpty()) return;
    sinceData_.restart();
    appendConverted(data.constData(), data.size());
}

void AudioCapture::appendConverted(const char* data, qint64 bytes) {
    const int frameBytes = deviceFormat_.bytesPerFrame();
    const int inputSamples = int(bytes / frameBytes); // Qt delivers whole frames
    if (inputSamples <= 0 || !resampler_) return;
    chunk_.resize(size_t(swr_get_out_samples(resampler_, inputSamples)) + 16);
    auto* out = reinterpret_cast<uint8_t*>(chunk_.data());
    const auto* in = reinterpret_cast<const uint8_t*>(data);
    const int produced = swr_convert(resampler_, &out, int(chunk_.size()), &in, inputSamples);
    if (produced <= 0) return;

    float sumSquares = 0, peak = 0;
    for (int i = 0; i < produced; ++i) {
        sumSquares += chunk_[size_t(i)] * chunk_[size_t(i)];
        peak = std::max(peak, std::abs(chunk_[size_t(i)]));
    }
    const size_t room = maxSamples_ - samples_.size();
    const size_t kept = std::min(room, size_t(produced));
    samples_.insert(samples_.end(), chunk_.begin(), chunk_.begin() + std::ptrdiff_t(kept));
    emit levelChanged(std::sqrt(sumSquares / float(produced)), std::min(peak, 1.0f));
    emit secondsChanged(seconds());
    if (samples_.size() >= maxSamples_) finishRecording(true, true);
}

void AudioCapture::finishRecording(bool keep, bool limitReached) {
    if (!source_) return;
    QAudioSource* source = source_;
    source_ = nullptr; // re-entrancy: stateChanged fires inside stop()
    watchdog_.stop();
    stream_ = nullptr;
    source->disconnect(this);
    source->stop();
    source->deleteLater();
    if (keep && resampler_ && samples_.size() < maxSamples_) {
        // The resampler's delay line still holds a few milliseconds.
        chunk_.resize(256);
        auto* out = reinterpret_cast<uint8_t*>(chunk_.data());
        const int produced = swr_convert(resampler_, &out, int(chunk_.size()), nullptr, 0);
        if (produced > 0)
            samples_.insert(samples_.end(), chunk_.begin(),
                            chunk_.begin() +
                                std::ptrdiff_t(std::min(size_t(produced), maxSamples_ - samples_.size())));
    }
    swr_free(&resampler_);
    emit recordingChanged(false);
    if (keep) {
        emit secondsChanged(seconds());
        emit finished(limitReached);
    }
}

void AudioCapture::fail(const QString& message) {
    finishRecording(false, false);
    emit errorOccurred(message);
}

void AudioCapture::onDevicesChanged() {
    if (!source_) return;
    const auto inputs = QMediaDevices::audioInputs();
    const QByteArray id = recordingDevice_.id();
    if (std::none_of(inputs.begin(), inputs.end(), [&](const QAudioDevice& d) { return d.id() == id; }))
        fail(tr("The microphone %1 was disconnected; the recording stopped after %2 s.")
                 .arg(quoted(recordingDevice_))
                 .arg(seconds(), 0, 'f', 1));
}

void AudioCapture::checkStalled() {
    if (!source_) return;
    // Qt 6.4's PulseAudio backend does not always emit audioInputsChanged, and PulseAudio moves a
    // stream whose source vanished to another source, so the device list is polled as well.
    onDevicesChanged();
    if (!source_) return;
    readAvailable();
    if (source_ && sinceData_.elapsed() > kStallMilliseconds)
        fail(tr("The microphone %1 stopped delivering audio (was it disconnected?); the recording stopped "
                "after "
                "%2 s.")
                 .arg(quoted(recordingDevice_))
                 .arg(seconds(), 0, 'f', 1));
}

void AudioCapture::onStateChanged() {
    if (!source_) return;
    switch (source_->error()) {
    case QAudio::NoError:
        return;
    case QAudio::OpenError:
        fail(tr("Could not open the microphone %1: access was denied or another program is using it.")
                 .arg(quoted(recordingDevice_)));
        return;
    default:
        fail(tr("The microphone %1 stopped delivering audio (was it disconnected?); the recording stopped "
                "after "
                "%2 s.")
                 .arg(quoted(recordingDevice_))
                 .arg(seconds(), 0, 'f', 1));
        return;
    }
}

} // namespace ocelle::media
