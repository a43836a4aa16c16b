// Media files through Gemma 4's encoders into chat parts that carry their soft tokens, ready for
// engine::promptFromConversation (inference/engine/media_prompt.h). Shared by ocelle-cli and the
// app; plain C++ on ocelle_media (decoding) and the inference encoders. PDFs are in
// media/pdf_document.h (Qt).
//
//     auto vision = vision::VisionEncoder::load(mmproj);
//     chat::Part photo = media::encodeImagePart(*vision, "photo.jpg");             // budget 280
//     chat::Part clip = media::encodeVideoPart(*vision, "clip.mp4", {}, progress); // 32 frames at 70
#pragma once

#include "audio/audio_encoder.h"
#include "chat/chat_format.h"
#include "media/image.h"
#include "media/image_preprocess.h"
#include "media/video.h"
#include "vision/vision_encoder.h"

#include <string>
#include <vector>

namespace ocelle::media {

struct EncodedImage {
    int width = 0; // the preprocessed size the encoder saw
    int height = 0;
    int tokens = 0;
    std::vector<float> embeddings; // tokens x encoder.params().projectionDim
};

// Preprocesses an RGB image at `budget` soft tokens under `policy` and encodes it.
EncodedImage encodeImage(const vision::VisionEncoder& encoder, const RgbImage& image, int budget,
                         ImageSizePolicy policy = ImageSizePolicy::HuggingFace);
// The same for a file (PNG, JPEG, WebP, BMP, TIFF, GIF). Throws MediaError / vision::VisionError
// with a message naming the file.
EncodedImage encodeImageFile(const vision::VisionEncoder& encoder, const std::string& path, int budget,
                             ImageSizePolicy policy = ImageSizePolicy::HuggingFace);

struct EncodedAudio {
    double seconds = 0;
    int tokens = 0;
    std::vector<float> embeddings; // tokens x encoder.params().projectionDim
};

// Decodes `path` (any format FFmpeg reads) to 16 kHz mono, splits it into 30 s pieces, computes
// each piece's log-mel features (llama.cpp's log) and encodes them; the pieces' soft tokens are
// concatenated (one audio span). Throws MediaError / audio::AudioError naming the file.
EncodedAudio encodeAudioFile(const audio::AudioEncoder& encoder, const std::string& path);

// Chat parts with their embeddings attached.
chat::Part imagePart(EncodedImage encoded);
chat::Part audioPart(EncodedAudio encoded);
chat::Part encodeImagePart(const vision::VisionEncoder& encoder, const std::string& path,
                           int budget = kDefaultImageBudget);
chat::Part encodeAudioPart(const audio::AudioEncoder& encoder, const std::string& path);

// A video as one chat part: frames sampled as `sampling` says (32 uniformly by default), each
// encoded at `budget` (70 for video) as soon as it is decoded, so only one frame is held at a time.
// `progress(done, total)` is called after each frame has been encoded; returning false cancels
// (MediaError "... cancelled"). Throws MediaError for broken, truncated or audio-only files.
chat::Part encodeVideoPart(const vision::VisionEncoder& encoder, const std::string& path,
                           const FrameSampling& sampling = {}, const VideoProgress& progress = {},
                           int budget = kVideoFrameBudget);
// One frame (the one shown at `seconds`) as a one-frame video part, for "what is happening here?".
chat::Part encodeVideoFramePart(const vision::VisionEncoder& encoder, const std::string& path, double seconds,
                                int budget = kVideoFrameBudget);

} // namespace ocelle::media
