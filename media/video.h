// Video frames for Gemma 4 (../shared/docs/gemma4.md section 8) with FFmpeg: open any file FFmpeg
// reads, pick N frames at indices floor(i * total / N) (default 32) or at a frame rate the user
// chooses, or one frame at a given time. Frames are decoded sequentially, one at a time, and
// converted to RGB with libswscale; the whole video is never held in memory. Each frame carries its
// presentation time, written `mm:ss` as the prompt needs it. Encode frames at budget 70
// (kVideoFrameBudget in image_preprocess.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "media/image.h"

namespace ocelle::media {

inline constexpr int kDefaultVideoFrames = 32;

// `mm:ss` (minutes not wrapped at 60: 75:03 for 1 h 15 min 3 s); fractions of a second are dropped.
std::string formatVideoTimestamp(double seconds);

struct VideoInfo {
    int width = 0; // as displayed, after the rotation below
    int height = 0;
    int clockwiseRotation = 0;   // 0, 90, 180 or 270: the display matrix frames are turned by
    double durationSeconds = 0;  // 0 when the container does not say
    double averageFrameRate = 0; // 0 when unknown
    std::int64_t frameCount = 0; // frames in the video stream (counted by demuxing when the header lacks it)
    std::string codec;           // e.g. "h264", "vp9", "mpeg4"
};

struct VideoFrame {
    std::int64_t index = 0; // position among the decoded frames, 0-based
    double seconds = 0;     // presentation time from the start of the stream
    std::string timestamp;  // formatVideoTimestamp(seconds)
    RgbImage image;
};

struct FrameSampling {
    // Frames picked at floor(i * frameCount / frames), i = 0..frames-1 (all frames when fewer).
    int frames = kDefaultVideoFrames;
    // When > 0, frames are picked by time instead: the first frame at or after each k / rate seconds.
    double framesPerSecond = 0;
    // Safety cap for the rate mode (a 2 h video at 1 fps would otherwise give 7200 frames).
    int maxFrames = 1024;
};

// Called after each delivered frame with (frames delivered, frames expected); return false to cancel
// (sampling then throws MediaError("... cancelled")).
using VideoProgress = std::function<bool(int done, int total)>;

class VideoReader {
public:
    // Opens the file and reads its header; throws MediaError for unreadable or non-media files,
    // audio-only files, undecodable codecs and frames over `limits.maxPixels`.
    explicit VideoReader(std::string path, const ImageLimits& limits = {});

    const VideoInfo& info() const { return info_; }

    // Decodes the video once from the start and hands each sampled frame to `onFrame` as soon as it
    // is decoded (only that frame is alive at a time). Returns the number of frames delivered. Throws
    // MediaError when the file ends before the frames its header promises (truncated) or on
    // cancellation.
    int sampleFrames(const FrameSampling& sampling, const std::function<void(VideoFrame&&)>& onFrame,
                     const VideoProgress& progress = {}) const;

    // Convenience: every sampled frame in a vector (32 full-size frames of a 1080p video are 200 MB:
    // prefer the callback form and preprocess each frame as it arrives).
    std::vector<VideoFrame> sampleFrames(const FrameSampling& sampling = {},
                                         const VideoProgress& progress = {}) const;

    // The frame shown at `seconds` (the last frame starting at or before it). Throws MediaError when
    // the time is outside the video.
    VideoFrame frameAt(double seconds) const;

private:
    std::string path_;
    ImageLimits limits_;
    VideoInfo info_;
};

} // namespace ocelle::media
