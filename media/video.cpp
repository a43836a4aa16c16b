#include "media/video.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include "media/ffmpeg_support.h"

extern "C" {
#include <libavutil/display.h>
#include <libswscale/swscale.h>
}

namespace ocelle::media {

std::string formatVideoTimestamp(double seconds) {
    const auto whole = static_cast<long long>(std::floor(std::max(0.0, seconds)));
    char text[32];
    std::snprintf(text, sizeof text, "%02lld:%02lld", whole / 60, whole % 60);
    return text;
}

namespace {

struct SwsDeleter {
    void operator()(SwsContext* context) const { sws_freeContext(context); }
};

// The video stream of a file, opened for decoding.
struct OpenVideo {
    detail::InputFile input;
    detail::CodecContextPtr decoder;
    int streamIndex = -1;
    AVStream* stream = nullptr;
    std::int64_t startPts = 0;
    int clockwiseQuarterTurns = 0;

    explicit OpenVideo(const std::string& path) : input(path) {
        streamIndex =
            input.openDecoder(AVMEDIA_TYPE_VIDEO, "no video stream in this file (audio only?)", decoder);
        stream = input.format()->streams[streamIndex];
        if (stream->disposition & AV_DISPOSITION_ATTACHED_PIC) {
            throw MediaError(path + ": no video stream in this file (audio only, with cover art)");
        }
        startPts = stream->start_time != AV_NOPTS_VALUE ? stream->start_time : 0;
        clockwiseQuarterTurns = displayQuarterTurns(stream);
    }

    // Phones store portrait video as landscape plus a display matrix; like the ffmpeg command line,
    // frames are turned upright by the nearest multiple of 90 degrees (clockwise quarter turns).
    static int displayQuarterTurns(const AVStream* stream) {
        std::size_t size = 0;
        const auto* matrix = reinterpret_cast<const std::int32_t*>(
            av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, &size));
        if (!matrix || size < 9 * sizeof(std::int32_t)) return 0;
        const double matrixDegrees = av_display_rotation_get(matrix);
        if (std::isnan(matrixDegrees)) return 0;
        const long turns = std::lround(-matrixDegrees / 90.0);
        return static_cast<int>(((turns % 4) + 4) % 4);
    }

    double secondsOf(const AVFrame* frame, std::int64_t index, double fallbackRate) const {
        const std::int64_t pts = frame->best_effort_timestamp;
        if (pts != AV_NOPTS_VALUE) return static_cast<double>(pts - startPts) * av_q2d(stream->time_base);
        return fallbackRate > 0 ? static_cast<double>(index) / fallbackRate : 0.0;
    }
};

RgbImage rotateClockwise(const RgbImage& image, int quarterTurns) {
    if (quarterTurns == 0) return image;
    const bool sideways = quarterTurns % 2 == 1;
    RgbImage out{sideways ? image.height : image.width, sideways ? image.width : image.height,
                 std::vector<std::uint8_t>(image.rgb.size())};
    for (int y = 0; y < image.height; ++y) {
        for (int x = 0; x < image.width; ++x) {
            int outX = x, outY = y;
            if (quarterTurns == 1) outX = image.height - 1 - y, outY = x;
            if (quarterTurns == 2) outX = image.width - 1 - x, outY = image.height - 1 - y;
            if (quarterTurns == 3) outX = y, outY = image.width - 1 - x;
            std::copy_n(&image.rgb[(static_cast<std::size_t>(y) * image.width + x) * 3], 3,
                        &out.rgb[(static_cast<std::size_t>(outY) * out.width + outX) * 3]);
        }
    }
    return out;
}

// Converts decoded frames (any pixel format) to packed RGB at their own size.
class RgbConverter {
public:
    RgbConverter(const std::string& name, const ImageLimits& limits, int clockwiseQuarterTurns)
        : name_(name), limits_(limits), turns_(clockwiseQuarterTurns) {}

    RgbImage convert(const AVFrame* frame) {
        if (static_cast<std::int64_t>(frame->width) * frame->height > limits_.maxPixels ||
            frame->width <= 0 || frame->height <= 0) {
            throw MediaError(name_ + ": a frame of " + std::to_string(frame->width) + "x" +
                             std::to_string(frame->height) + " is outside the supported size");
        }
        scaler_.reset(sws_getCachedContext(
            scaler_.release(), frame->width, frame->height, static_cast<AVPixelFormat>(frame->format),
            frame->width, frame->height, AV_PIX_FMT_RGB24, SWS_BILINEAR, nullptr, nullptr, nullptr));
        if (!scaler_) throw MediaError(name_ + ": cannot convert the video's pixel format to RGB");
        RgbImage image{frame->width, frame->height,
                       std::vector<std::uint8_t>(static_cast<std::size_t>(frame->width) * frame->height * 3)};
        std::uint8_t* planes[1] = {image.rgb.data()};
        const int strides[1] = {frame->width * 3};
        sws_scale(scaler_.get(), frame->data, frame->linesize, 0, frame->height, planes, strides);
        return rotateClockwise(image, turns_);
    }

private:
    const std::string& name_;
    const ImageLimits& limits_;
    int turns_ = 0;
    std::unique_ptr<SwsContext, SwsDeleter> scaler_;
};

std::string secondsText(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f s", seconds);
    return text;
}

} // namespace

VideoReader::VideoReader(std::string path, const ImageLimits& limits)
    : path_(std::move(path)), limits_(limits) {
    OpenVideo video(path_);
    const AVCodecParameters* parameters = video.stream->codecpar;
    info_.width = parameters->width;
    info_.height = parameters->height;
    info_.codec = avcodec_get_name(parameters->codec_id);
    info_.clockwiseRotation = video.clockwiseQuarterTurns * 90;
    if (info_.width <= 0 || info_.height <= 0)
        throw MediaError(path_ + ": the video stream has no valid frame size");
    if (static_cast<std::int64_t>(info_.width) * info_.height > limits_.maxPixels) {
        throw MediaError(path_ + ": video frames of " + std::to_string(info_.width) + "x" +
                         std::to_string(info_.height) + " are larger than the limit");
    }
    if (video.clockwiseQuarterTurns % 2 == 1) std::swap(info_.width, info_.height);
    const AVRational rate = video.stream->avg_frame_rate;
    info_.averageFrameRate = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0.0;
    if (video.stream->duration > 0) {
        info_.durationSeconds = static_cast<double>(video.stream->duration) * av_q2d(video.stream->time_base);
    } else if (video.input.format()->duration > 0) {
        info_.durationSeconds = static_cast<double>(video.input.format()->duration) / AV_TIME_BASE;
    }
    info_.frameCount = video.stream->nb_frames;
    if (info_.frameCount <= 0) {
        // The header does not say (WebM, MKV, ...): count the packets without decoding them. The last
        // packet's time also shows whether the file stops before the duration its header gives.
        detail::PacketPtr packet = detail::makePacket();
        std::int64_t count = 0;
        double lastSeconds = 0;
        while (av_read_frame(video.input.format(), packet.get()) >= 0) {
            if (packet->stream_index == video.streamIndex) {
                ++count;
                if (packet->pts != AV_NOPTS_VALUE) {
                    lastSeconds = std::max(lastSeconds, static_cast<double>(packet->pts - video.startPts) *
                                                            av_q2d(video.stream->time_base));
                }
            }
            av_packet_unref(packet.get());
        }
        info_.frameCount = count;
        if (info_.durationSeconds > 2.0 && lastSeconds < 0.9 * info_.durationSeconds - 0.5) {
            throw MediaError(path_ + ": the file is truncated or damaged: video stops at " +
                             formatVideoTimestamp(lastSeconds) + " but its header gives a duration of " +
                             formatVideoTimestamp(info_.durationSeconds));
        }
    }
    if (info_.frameCount <= 0) throw MediaError(path_ + ": the video stream holds no frames");
}

int VideoReader::sampleFrames(const FrameSampling& sampling, const std::function<void(VideoFrame&&)>& onFrame,
                              const VideoProgress& progress) const {
    const bool byRate = sampling.framesPerSecond > 0;
    if (!byRate && sampling.frames <= 0)
        throw MediaError("the number of video frames to sample must be positive");
    const std::int64_t total = info_.frameCount;
    // Index mode: the frames to take. Rate mode: how many we expect, for progress only: one per
    // k / rate before the end (80 s at 0.05 fps: 0, 20, 40, 60 s).
    const int wanted =
        byRate
            ? static_cast<int>(std::clamp<double>(
                  std::ceil(info_.durationSeconds * sampling.framesPerSecond - 1e-6), 1, sampling.maxFrames))
            : static_cast<int>(std::min<std::int64_t>(sampling.frames, total));
    auto targetIndex = [&](int i) { return static_cast<std::int64_t>(i) * total / wanted; };

    OpenVideo video(path_);
    RgbConverter converter(path_, limits_, video.clockwiseQuarterTurns);
    std::int64_t decoded = 0;
    int delivered = 0;
    int nextTarget = 0; // index mode: next i; rate mode: next k with target time k / rate
    bool cancelled = false;
    detail::FramePtr lastFrame = detail::makeFrame(); // a reference to the latest frame, for a short tail
    double lastSeconds = 0;

    auto deliver = [&](const AVFrame* frame, std::int64_t index, double seconds) {
        VideoFrame out;
        out.index = index;
        out.seconds = seconds;
        out.timestamp = formatVideoTimestamp(seconds);
        out.image = converter.convert(frame);
        onFrame(std::move(out));
        ++delivered;
        if (progress && !progress(delivered, std::max(wanted, delivered))) cancelled = true;
    };

    const int failedPackets =
        detail::decodeStream(video.input, video.streamIndex, video.decoder.get(), [&](AVFrame* frame) {
            const std::int64_t index = decoded++;
            const double seconds = video.secondsOf(frame, index, info_.averageFrameRate);
            lastSeconds = seconds;
            if (byRate) {
                if (seconds + 1e-6 >= nextTarget / sampling.framesPerSecond) {
                    deliver(frame, index, seconds);
                    while (nextTarget / sampling.framesPerSecond <= seconds + 1e-6) ++nextTarget;
                }
                if (delivered >= sampling.maxFrames) return false;
            } else {
                if (index == targetIndex(nextTarget)) {
                    deliver(frame, index, seconds);
                    ++nextTarget;
                }
                if (nextTarget >= wanted) return false;
            }
            av_frame_unref(lastFrame.get());
            av_frame_ref(lastFrame.get(), frame);
            return !cancelled;
        });
    if (cancelled) throw MediaError(path_ + ": frame sampling cancelled");

    // Headers round: a stream may decode a frame or two fewer than it declares. More than that
    // missing means the file was cut or is damaged.
    const std::int64_t missingAllowed = std::max<std::int64_t>(2, total / 50);
    const bool complete =
        byRate ? delivered >= sampling.maxFrames || decoded + missingAllowed >= total : nextTarget >= wanted;
    if (!complete) {
        if (decoded + missingAllowed >= total && lastFrame->data[0] != nullptr) {
            deliver(lastFrame.get(), decoded - 1,
                    lastSeconds); // the last target fell on a frame that is not there
        } else {
            throw MediaError(path_ + ": the file is truncated or damaged: only " + std::to_string(decoded) +
                             " of its " + std::to_string(total) + " frames could be decoded" +
                             (failedPackets > 0 ? " (" + std::to_string(failedPackets) + " damaged packets)"
                                                : std::string()));
        }
    }
    return delivered;
}

std::vector<VideoFrame> VideoReader::sampleFrames(const FrameSampling& sampling,
                                                  const VideoProgress& progress) const {
    std::vector<VideoFrame> frames;
    sampleFrames(
        sampling, [&](VideoFrame&& frame) { frames.push_back(std::move(frame)); }, progress);
    return frames;
}

VideoFrame VideoReader::frameAt(double seconds) const {
    if (!(seconds >= 0) || (info_.durationSeconds > 0 && seconds > info_.durationSeconds)) {
        throw MediaError(path_ + ": time " + secondsText(seconds) + " is outside the video (0 to " +
                         secondsText(info_.durationSeconds) + ")");
    }
    OpenVideo video(path_);
    const std::int64_t target =
        video.startPts + static_cast<std::int64_t>(std::floor(seconds / av_q2d(video.stream->time_base)));
    // Seek to the key frame before the time, then decode forward to it.
    if (av_seek_frame(video.input.format(), video.streamIndex, target, AVSEEK_FLAG_BACKWARD) >= 0) {
        avcodec_flush_buffers(video.decoder.get());
    }
    detail::FramePtr chosen = detail::makeFrame();
    double chosenSeconds = 0;
    detail::decodeStream(video.input, video.streamIndex, video.decoder.get(), [&](AVFrame* frame) {
        const double frameSeconds = video.secondsOf(frame, 0, 0.0);
        const bool after = frameSeconds > seconds + 1e-6;
        if (after && chosen->data[0] != nullptr) return false; // the previous frame is the one on screen
        av_frame_unref(chosen.get());
        av_frame_ref(chosen.get(), frame);
        chosenSeconds = frameSeconds;
        return !after;
    });
    if (chosen->data[0] == nullptr)
        throw MediaError(path_ + ": no frame could be decoded near " + secondsText(seconds));
    RgbConverter converter(path_, limits_, video.clockwiseQuarterTurns);
    VideoFrame out;
    out.index = -1; // unknown after a seek
    out.seconds = chosenSeconds;
    out.timestamp = formatVideoTimestamp(chosenSeconds);
    out.image = converter.convert(chosen.get());
    return out;
}

} // namespace ocelle::media
