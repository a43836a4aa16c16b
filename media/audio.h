// Audio for Gemma 4's audio encoder (E2B, E4B): files decoded with FFmpeg and resampled with
// libswresample to 16 kHz mono float; the log-mel front end of ../shared/docs/gemma4.md section 9;
// soft-token counts.
//
// Long audio: the encoder takes at most 30 s at a time. Ocelle SPLITS longer audio into
// consecutive 30 s pieces (the last one shorter), encodes each piece separately and places all of
// their soft tokens in ONE audio span (`<|audio>` + tokens of piece 1, piece 2, ... + `<audio|>`),
// as llama.cpp does (HF truncates to 30 s instead). This is always done the same way; audio longer
// than AudioLimits::maxSeconds (10 minutes by default) is refused with a message.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "media/media_error.h"

namespace ocelle::media {

inline constexpr int kAudioSampleRate = 16000;
inline constexpr int kAudioPieceSeconds = 30;
inline constexpr std::int64_t kAudioPieceSamples = std::int64_t{kAudioPieceSeconds} * kAudioSampleRate;

struct AudioLimits {
    double maxSeconds = 600.0;
};

struct DecodedAudio {
    std::vector<float> samples; // 16 kHz mono, nominally in [-1, 1]
    double seconds() const { return static_cast<double>(samples.size()) / kAudioSampleRate; }
    // What the file held, for messages and diagnostics.
    int sourceSampleRate = 0;
    int sourceChannels = 0;
    std::string codec; // FFmpeg codec name, e.g. "mp3", "opus"
};

// Decodes the audio track of any file FFmpeg reads (WAV, FLAC, MP3, OGG/Opus/Vorbis, M4A/AAC, the
// audio of a video, ...), mixed down to mono and resampled to 16 kHz. Throws MediaError for
// unreadable or non-media files, files without an audio track, truncated files (fewer samples than
// the container header promises), files with no samples at all, and audio over `limits`.
DecodedAudio decodeAudioFile(const std::string& path, const AudioLimits& limits = {});

// Consecutive pieces of at most 30 s (kAudioPieceSamples) each; empty input gives no pieces.
std::vector<std::vector<float>> splitIntoPieces(std::span<const float> samples);

// ---- Features ----------------------------------------------------------------------------------

inline constexpr int kMelBins = 128;
inline constexpr int kMelHop = 160;    // 10 ms
inline constexpr int kMelWindow = 320; // 20 ms, periodic Hann
inline constexpr int kMelFftSize = 512;
inline constexpr int kMelLeftPad = 160;

// The two references differ only in how the log treats small values (fixtures README 7.4):
// HuggingFace ln(mel + 0.001), LlamaCpp ln(max(mel, 0.001)). Ocelle's engine uses LlamaCpp so its
// features can be checked against llama.cpp's (speech.mel.f32).
enum class LogMelVariant { HuggingFace, LlamaCpp };

struct LogMel {
    int frames = 0;
    // Mel-major [kMelBins][frames] (llama.cpp's and the fixture's layout): bin b of frame t is
    // values[b * frames + t].
    std::vector<float> values;
    float at(int frame, int bin) const { return values[static_cast<std::size_t>(bin) * frames + frame]; }
};

// Frames for `sampleCount` samples: 160 zeros are prepended, then a 320-sample window every 160
// samples that fits entirely (HF unfolds 321-sample windows and drops the last sample, so a window
// needs 321 samples): floor((n + 160 - 321) / 160) + 1, or 0 when that is negative.
int melFrameCount(std::int64_t sampleCount);

// Log-mel features of 16 kHz mono samples (one piece, normally at most 30 s): periodic Hann 320,
// zero-padded FFT of 512 (OpenCV cv::dft), magnitude, 128 HTK triangular filters over 0-8000 Hz
// without area normalisation, natural log per `variant`.
LogMel logMelFeatures(std::span<const float> samples, LogMelVariant variant = LogMelVariant::LlamaCpp);

// Soft tokens the encoder makes from `frames` mel frames: two 3x3 stride-2 convolutions with
// padding 1, each giving floor((n - 1) / 2) + 1.
int audioTokensForFrames(int frames);
// Soft tokens for `sampleCount` 16 kHz samples of one piece: at most 30 s are counted (750
// tokens), i.e. 25 per second. HF's golden counts: 38560 -> 60, 48000 -> 75, 640000 -> 750.
int audioTokenCount(std::int64_t sampleCount);
// Soft tokens for audio split into 30 s pieces (the sum over the pieces).
int audioTokenCountSplit(std::int64_t sampleCount);

} // namespace ocelle::media
