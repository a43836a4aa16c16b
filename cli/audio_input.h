// Audio files into soft tokens for `embed-audio` and `run --audio` (defined in cmd_embed_audio.cpp).
#pragma once

#include "audio/audio_encoder.h"

#include <string>
#include <vector>

namespace ocelle::cli {

struct EncodedAudio {
    double seconds = 0;
    int tokens = 0;
    std::vector<float> embeddings; // tokens x encoder.params().projectionDim
};

// Decodes `path` (any format FFmpeg reads) to 16 kHz mono, splits it into 30 s pieces, computes
// each piece's log-mel features (llama.cpp's log) and encodes them; the pieces' soft tokens are
// concatenated (one audio span). Throws media::MediaError / audio::AudioError with a message
// naming the file; std::runtime_error when the media support was not built.
EncodedAudio encodeAudioFile(const audio::AudioEncoder& encoder, const std::string& path);

} // namespace ocelle::cli
