// Image files into soft tokens for `embed-image` and `run --image` (defined in cmd_embed_image.cpp).
#pragma once

#include "vision/vision_encoder.h"

#include <string>
#include <vector>

namespace ocelle::cli {

// How an image is sized for the encoder (../shared/docs/gemma4.md section 7): HF's rule (a budget
// of 70..1120 soft tokens, no padding) or llama.cpp's (sides rounded to 48, 70..budget tokens,
// padded with black).
enum class ImageSizing { HuggingFace, LlamaCpp };

struct EncodedImage {
    int width = 0; // the preprocessed size the encoder saw
    int height = 0;
    int tokens = 0;
    std::vector<float> embeddings; // tokens x encoder.params().projectionDim
};

// Decodes `path` (PNG, JPEG, WebP, BMP, TIFF, GIF), preprocesses it at `budget` soft tokens and
// encodes it. Throws media::MediaError / vision::VisionError with a message naming the file;
// std::runtime_error when the media support was not built.
EncodedImage encodeImageFile(const vision::VisionEncoder& encoder, const std::string& path, int budget,
                             ImageSizing sizing);

} // namespace ocelle::cli
