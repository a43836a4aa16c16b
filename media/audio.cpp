#include "media/audio.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <numbers>

#include <opencv2/core.hpp>

#include "media/ffmpeg_support.h"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
}

namespace ocelle::media {

namespace {

struct SwrDeleter {
    void operator()(SwrContext* context) const { swr_free(&context); }
};
using ResamplerPtr = std::unique_ptr<SwrContext, SwrDeleter>;

std::string secondsText(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f s", seconds);
    return text;
}

// Converts whatever the decoder produces into 16 kHz mono float, appended to `out`.
class MonoResampler {
public:
    explicit MonoResampler(const std::string& name) : name_(name) {}

    void push(const AVFrame* frame, std::vector<float>& out) {
        if (!resampler_ || frame->format != inputFormat_ || frame->sample_rate != inputRate_ ||
            av_channel_layout_compare(&frame->ch_layout, &frameLayout_) != 0) {
            if (resampler_) flush(out); // the stream changed parameters mid-way: drain, then reconfigure
            configure(frame);
        }
        convert(const_cast<const std::uint8_t**>(frame->extended_data), frame->nb_samples, out);
    }

    void flush(std::vector<float>& out) {
        if (resampler_) convert(nullptr, 0, out);
    }

    ~MonoResampler() {
        av_channel_layout_uninit(&inputLayout_);
        av_channel_layout_uninit(&frameLayout_);
    }

private:
    void configure(const AVFrame* frame) {
        av_channel_layout_uninit(&inputLayout_);
        av_channel_layout_uninit(&frameLayout_);
        av_channel_layout_copy(&frameLayout_, &frame->ch_layout);
        if (frame->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || frame->ch_layout.nb_channels <= 0) {
            av_channel_layout_default(&inputLayout_, std::max(1, frame->ch_layout.nb_channels));
        } else {
            av_channel_layout_copy(&inputLayout_, &frame->ch_layout);
        }
        inputFormat_ = frame->format;
        inputRate_ = frame->sample_rate;
        if (inputRate_ <= 0) throw MediaError(name_ + ": the audio stream has no valid sample rate");
        AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
        SwrContext* raw = nullptr;
        int status = swr_alloc_set_opts2(&raw, &mono, AV_SAMPLE_FMT_FLT, kAudioSampleRate, &inputLayout_,
                                         static_cast<AVSampleFormat>(inputFormat_), inputRate_, 0, nullptr);
        resampler_.reset(raw);
        // Mono is the plain average of the channels, as llama.cpp's and HF's loaders mix down (and as
        // AudioCapture does); swr's default matrix would make correlated stereo 1.41x louder.
        const int channels = inputLayout_.nb_channels;
        const std::vector<double> average(static_cast<size_t>(channels), 1.0 / channels);
        if (status >= 0) status = swr_set_matrix(resampler_.get(), average.data(), channels);
        if (status >= 0) status = swr_init(resampler_.get());
        if (status < 0) {
            throw MediaError(name_ + ": cannot convert its audio to 16 kHz mono (" +
                             detail::avErrorText(status) + ")");
        }
    }

    void convert(const std::uint8_t** input, int inputSamples, std::vector<float>& out) {
        const int capacity = swr_get_out_samples(resampler_.get(), inputSamples);
        if (capacity <= 0) return;
        const std::size_t before = out.size();
        out.resize(before + static_cast<std::size_t>(capacity));
        auto* target = reinterpret_cast<std::uint8_t*>(out.data() + before);
        const int produced = swr_convert(resampler_.get(), &target, capacity, input, inputSamples);
        if (produced < 0)
            throw MediaError(name_ + ": resampling failed (" + detail::avErrorText(produced) + ")");
        out.resize(before + static_cast<std::size_t>(produced));
    }

    const std::string& name_;
    ResamplerPtr resampler_;
    AVChannelLayout inputLayout_{}; // what the resampler was told (unspecified orders made default)
    AVChannelLayout frameLayout_{}; // as the frames carry it, to notice changes
    int inputFormat_ = -1;
    int inputRate_ = 0;
};

// What the container says the audio lasts, when it knows (not guessed from the bitrate).
double promisedSeconds(const AVFormatContext* format, const AVStream* stream) {
    if (format->duration_estimation_method == AVFMT_DURATION_FROM_BITRATE) return 0.0;
    if (stream->duration > 0 && stream->time_base.den > 0)
        return static_cast<double>(stream->duration) * av_q2d(stream->time_base);
    if (format->duration > 0) return static_cast<double>(format->duration) / AV_TIME_BASE;
    return 0.0;
}

} // namespace

DecodedAudio decodeAudioFile(const std::string& path, const AudioLimits& limits) {
    detail::InputFile input(path);
    detail::CodecContextPtr decoder;
    const int streamIndex = input.openDecoder(AVMEDIA_TYPE_AUDIO, "no audio track in this file", decoder);
    const AVStream* stream = input.format()->streams[streamIndex];

    DecodedAudio audio;
    audio.codec = avcodec_get_name(stream->codecpar->codec_id);
    audio.sourceSampleRate = stream->codecpar->sample_rate;
    audio.sourceChannels = stream->codecpar->ch_layout.nb_channels;
    const double promised = promisedSeconds(input.format(), stream);
    if (promised > limits.maxSeconds) {
        throw MediaError(path + ": audio is " + secondsText(promised) + " long; the limit is " +
                         secondsText(limits.maxSeconds));
    }
    const auto maxSamples = static_cast<std::size_t>(limits.maxSeconds * kAudioSampleRate);

    MonoResampler resampler(path);
    const int failedPackets = detail::decodeStream(input, streamIndex, decoder.get(), [&](AVFrame* frame) {
        resampler.push(frame, audio.samples);
        if (audio.samples.size() > maxSamples) {
            throw MediaError(path + ": audio is longer than the limit of " + secondsText(limits.maxSeconds));
        }
        return true;
    });
    resampler.flush(audio.samples);

    if (audio.samples.empty()) {
        throw MediaError(
            path + ": no audio could be decoded" +
            (failedPackets > 0 ? std::string(" (corrupt data)") : std::string(" (the track is empty)")));
    }
    // A cut file decodes without complaint up to where it stops; the header still tells its length.
    const double decoded = audio.seconds();
    if (promised > 0.0 && decoded < promised * 0.95 && promised - decoded > 0.25) {
        throw MediaError(path + ": the file is truncated or damaged: its header promises " +
                         secondsText(promised) + " of audio but only " + secondsText(decoded) +
                         " could be decoded");
    }
    return audio;
}

std::vector<std::vector<float>> splitIntoPieces(std::span<const float> samples) {
    std::vector<std::vector<float>> pieces;
    for (std::size_t start = 0; start < samples.size(); start += kAudioPieceSamples) {
        const std::size_t count = std::min<std::size_t>(kAudioPieceSamples, samples.size() - start);
        pieces.emplace_back(samples.begin() + static_cast<std::ptrdiff_t>(start),
                            samples.begin() + static_cast<std::ptrdiff_t>(start + count));
    }
    return pieces;
}

int melFrameCount(std::int64_t sampleCount) {
    const std::int64_t padded = sampleCount + kMelLeftPad;
    if (padded < kMelWindow + 1) return 0;
    return static_cast<int>((padded - (kMelWindow + 1)) / kMelHop + 1);
}

namespace {

constexpr int kSpectrumBins = kMelFftSize / 2 + 1;

double hzToMel(double hz) {
    return 2595.0 * std::log10(1.0 + hz / 700.0);
}
double melToHz(double mel) {
    return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0);
}

// [kSpectrumBins][kMelBins] triangles on the HTK scale, 0-8000 Hz, peak 1 (no area normalisation);
// built like HF's mel_filter_bank(norm=None, mel_scale="htk") in double precision.
const std::vector<double>& melFilters() {
    static const std::vector<double> filters = [] {
        const double nyquist = kAudioSampleRate / 2.0;
        std::array<double, kMelBins + 2> edges{};
        const double melMax = hzToMel(nyquist);
        const double step = melMax / (kMelBins + 1); // numpy linspace(0, melMax, 130)
        for (int i = 0; i < kMelBins + 2; ++i)
            edges[static_cast<std::size_t>(i)] = melToHz(i == kMelBins + 1 ? melMax : i * step);
        std::vector<double> bank(static_cast<std::size_t>(kSpectrumBins) * kMelBins);
        for (int k = 0; k < kSpectrumBins; ++k) {
            const double frequency = k * (nyquist / (kSpectrumBins - 1));
            for (int m = 0; m < kMelBins; ++m) {
                const double lower = edges[static_cast<std::size_t>(m)];
                const double centre = edges[static_cast<std::size_t>(m) + 1];
                const double upper = edges[static_cast<std::size_t>(m) + 2];
                const double rising = (frequency - lower) / (centre - lower);
                const double falling = (upper - frequency) / (upper - centre);
                bank[static_cast<std::size_t>(k) * kMelBins + m] = std::max(0.0, std::min(rising, falling));
            }
        }
        return bank;
    }();
    return filters;
}

const std::array<double, kMelWindow>& hannWindow() {
    static const std::array<double, kMelWindow> window = [] {
        std::array<double, kMelWindow> w{};
        for (int n = 0; n < kMelWindow; ++n)
            w[static_cast<std::size_t>(n)] = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * n / kMelWindow);
        return w;
    }();
    return window;
}

} // namespace

LogMel logMelFeatures(std::span<const float> samples, LogMelVariant variant) {
    LogMel mel;
    mel.frames = melFrameCount(static_cast<std::int64_t>(samples.size()));
    mel.values.assign(static_cast<std::size_t>(mel.frames) * kMelBins, 0.0f);
    if (mel.frames == 0) return mel;
    const auto& filters = melFilters();
    const auto& window = hannWindow();
    // Each triangle covers a few spectrum bins: sum only over those (the others are exactly zero).
    std::array<std::pair<int, int>, kMelBins> filterSpan{};
    for (int m = 0; m < kMelBins; ++m) {
        int begin = kSpectrumBins, end = 0;
        for (int k = 0; k < kSpectrumBins; ++k) {
            if (filters[static_cast<std::size_t>(k) * kMelBins + m] != 0.0)
                begin = std::min(begin, k), end = k + 1;
        }
        filterSpan[static_cast<std::size_t>(m)] = {begin, std::max(begin, end)};
    }
    // Sample i of the left-padded signal.
    auto padded = [&](std::int64_t i) -> double {
        const std::int64_t source = i - kMelLeftPad;
        return source >= 0 && source < static_cast<std::int64_t>(samples.size())
                   ? samples[static_cast<std::size_t>(source)]
                   : 0.0;
    };
    // Frames go through cv::dft in batches (one row each) to keep memory flat for long pieces.
    constexpr int batchFrames = 256;
    cv::Mat frames(batchFrames, kMelFftSize, CV_64F);
    cv::Mat spectrum;
    std::array<double, kSpectrumBins> magnitude{};
    for (int first = 0; first < mel.frames; first += batchFrames) {
        const int count = std::min(batchFrames, mel.frames - first);
        frames = 0.0;
        for (int f = 0; f < count; ++f) {
            auto* row = frames.ptr<double>(f);
            const std::int64_t start = static_cast<std::int64_t>(first + f) * kMelHop;
            for (int n = 0; n < kMelWindow; ++n)
                row[n] = padded(start + n) * window[static_cast<std::size_t>(n)];
        }
        cv::dft(frames.rowRange(0, count), spectrum, cv::DFT_ROWS | cv::DFT_COMPLEX_OUTPUT);
        for (int f = 0; f < count; ++f) {
            const auto* bins = spectrum.ptr<cv::Vec2d>(f);
            for (int k = 0; k < kSpectrumBins; ++k)
                magnitude[static_cast<std::size_t>(k)] = std::hypot(bins[k][0], bins[k][1]);
            const int frame = first + f;
            for (int m = 0; m < kMelBins; ++m) {
                double energy = 0.0;
                for (int k = filterSpan[static_cast<std::size_t>(m)].first;
                     k < filterSpan[static_cast<std::size_t>(m)].second; ++k) {
                    energy += filters[static_cast<std::size_t>(k) * kMelBins + m] *
                              magnitude[static_cast<std::size_t>(k)];
                }
                const double logged = variant == LogMelVariant::HuggingFace
                                          ? std::log(energy + 0.001)
                                          : std::log(std::max(energy, 0.001));
                mel.values[static_cast<std::size_t>(m) * mel.frames + frame] = static_cast<float>(logged);
            }
        }
    }
    return mel;
}

int audioTokensForFrames(int frames) {
    auto strideTwoConv = [](int n) { return n <= 0 ? 0 : (n - 1) / 2 + 1; };
    return strideTwoConv(strideTwoConv(frames));
}

int audioTokenCount(std::int64_t sampleCount) {
    return audioTokensForFrames(melFrameCount(std::min(sampleCount, kAudioPieceSamples)));
}

int audioTokenCountSplit(std::int64_t sampleCount) {
    int tokens = 0;
    for (std::int64_t start = 0; start < sampleCount; start += kAudioPieceSamples) {
        tokens += audioTokenCount(std::min(kAudioPieceSamples, sampleCount - start));
    }
    return tokens;
}

} // namespace ocelle::media
