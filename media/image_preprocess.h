// Gemma 4's image preprocessing: size for a soft-token budget, Pillow-exact bicubic resize, scale to
// [0, 1], 16x16 patches. Two sizing policies (see ../shared/docs/gemma4.md section 7):
//  - HuggingFace (Gemma4ImageProcessor): f = sqrt(9*B*256 / (H*W)); each side floor(f*side/48)*48;
//    no padding. 640x480 at 280 -> 912x672, 266 soft tokens.
//  - LlamaCpp (clip.cpp dyn_size): each side rounded to a multiple of 48, rescaled if the area is
//    outside [minTokens, budget] x 48^2; the image is resized keeping its aspect ratio inside that
//    canvas and centred on black. 640x480 -> 624x480 (content 624x468), 130 soft tokens.
//    llama.cpp's own defaults are minTokens 70, budget 1120. Like llama.cpp, the rounding can land
//    outside the range for extreme shapes (1x5000 at budget 70 -> 48x28368, 591 tokens; 10x10 ->
//    81): the policy reproduces llama.cpp, it does not correct it.
// One soft token = one 3x3 block of 16x16 patches = 48x48 pixels.
#pragma once

#include <cstdint>
#include <vector>

#include "media/image.h"

namespace ocelle::media {

inline constexpr int kPatchSize = 16;
inline constexpr int kPoolingKernel = 3;
inline constexpr int kSoftTokenSide = kPatchSize * kPoolingKernel; // 48 pixels
inline constexpr int kDefaultImageBudget = 280;
inline constexpr int kDocumentImageBudget = 1120;
inline constexpr int kVideoFrameBudget = 70;

enum class ImageSizePolicy { HuggingFace, LlamaCpp };

// Throws MediaError unless budget is one of 70, 140, 280, 560, 1120.
void requireValidBudget(int budget);

struct ImageSize {
    int width = 0;
    int height = 0;
    bool operator==(const ImageSize&) const = default;
};

// HF's target size (both sides multiples of 48) for a width x height image at `budget` soft tokens.
ImageSize huggingFaceTargetSize(int width, int height, int budget);
// llama.cpp's canvas size (multiples of 48) with soft tokens in [minTokens, maxTokens].
ImageSize llamaCppCanvasSize(int width, int height, int minTokens, int maxTokens);
// The size the image content is resized to inside llama.cpp's canvas (aspect ratio kept; the rest
// of the canvas is black).
ImageSize llamaCppContentSize(int width, int height, ImageSize canvas);

// Soft tokens the encoder produces for a preprocessed (multiple-of-48) size.
int softTokensFor(ImageSize preprocessed);
// Soft tokens for an original image size under a policy (HF: budget; llama.cpp: [70, budget]).
int softTokenCount(int width, int height, int budget, ImageSizePolicy policy = ImageSizePolicy::HuggingFace);

// Pillow's Image.resize(size, Image.BICUBIC) on RGB uint8, bit for bit: separable (horizontal then
// vertical), cubic a = -0.5 with support 2 scaled by the downscale factor (antialiasing), 22-bit
// fixed-point weights, uint8 rounding between the passes.
RgbImage resizeBicubicPillow(const RgbImage& image, int width, int height);

struct PreprocessOptions {
    int budget = kDefaultImageBudget;
    ImageSizePolicy policy = ImageSizePolicy::HuggingFace;
    int llamaCppMinTokens = 70;
};

struct PreprocessedImage {
    RgbImage resized;   // the multiple-of-48 image the encoder sees (llama.cpp: with black borders)
    int patchesX = 0;   // resized.width / 16
    int patchesY = 0;   // resized.height / 16
    int softTokens = 0; // (patchesX / 3) * (patchesY / 3)
    // [patchesY * patchesX][16 * 16 * 3] in [0, 1]; patches row-major over the image; inside a
    // patch (row, column, channel) with the channel fastest.
    std::vector<float> patches;
};

PreprocessedImage preprocessImage(const RgbImage& image, const PreprocessOptions& options = {});

// The same pixels as a planar [3][height][width] tensor of u8/255 (llama.cpp's pixel tensor layout,
// as in the fixtures' *.pixels.f32).
std::vector<float> planarPixels(const RgbImage& image);

} // namespace ocelle::media
