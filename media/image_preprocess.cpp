#include "media/image_preprocess.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace ocelle::media {

void requireValidBudget(int budget) {
    if (budget != 70 && budget != 140 && budget != 280 && budget != 560 && budget != 1120) {
        throw MediaError("image token budget " + std::to_string(budget) +
                         " is not one of 70, 140, 280, 560, 1120");
    }
}

ImageSize huggingFaceTargetSize(int width, int height, int budget) {
    if (width <= 0 || height <= 0) throw MediaError("cannot size an empty image");
    // Same double arithmetic, in the same order, as Gemma4ImageProcessor's
    // get_aspect_ratio_preserving_size (max_patches = 9 * budget, patch 16, pooling 3).
    const double targetPixels = static_cast<double>(9 * budget) * (kPatchSize * kPatchSize);
    const double factor = std::sqrt(targetPixels / (static_cast<double>(height) * width));
    int targetHeight = static_cast<int>(std::floor(factor * height / kSoftTokenSide)) * kSoftTokenSide;
    int targetWidth = static_cast<int>(std::floor(factor * width / kSoftTokenSide)) * kSoftTokenSide;
    const int maxSide = budget * kSoftTokenSide; // (max_patches / 9) * 48
    // Very elongated images: the short side would vanish, so it gets one token row/column.
    if (targetHeight == 0) {
        targetHeight = kSoftTokenSide;
        targetWidth = std::min((width / height) * kSoftTokenSide, maxSide);
    } else if (targetWidth == 0) {
        targetWidth = kSoftTokenSide;
        targetHeight = std::min((height / width) * kSoftTokenSide, maxSide);
    }
    return {targetWidth, targetHeight};
}

ImageSize llamaCppCanvasSize(int width, int height, int minTokens, int maxTokens) {
    if (width <= 0 || height <= 0) throw MediaError("cannot size an empty image");
    // clip.cpp's calc_size_preserved_ratio, float arithmetic included.
    const int align = kSoftTokenSide;
    const int minPixels = minTokens * align * align;
    const int maxPixels = maxTokens * align * align;
    auto roundBy = [align](float x) {
        return static_cast<int>(std::round(x / static_cast<float>(align))) * align;
    };
    auto ceilBy = [align](float x) {
        return static_cast<int>(std::ceil(x / static_cast<float>(align))) * align;
    };
    auto floorBy = [align](float x) {
        return static_cast<int>(std::floor(x / static_cast<float>(align))) * align;
    };
    int heightBar = std::max(align, roundBy(static_cast<float>(height)));
    int widthBar = std::max(align, roundBy(static_cast<float>(width)));
    const auto pixels = static_cast<std::int64_t>(height) * width;
    if (static_cast<std::int64_t>(heightBar) * widthBar > maxPixels) {
        const float beta = std::sqrt(static_cast<float>(pixels) / static_cast<float>(maxPixels));
        heightBar = std::max(align, floorBy(static_cast<float>(height) / beta));
        widthBar = std::max(align, floorBy(static_cast<float>(width) / beta));
    } else if (static_cast<std::int64_t>(heightBar) * widthBar < minPixels) {
        const float beta = std::sqrt(static_cast<float>(minPixels) / static_cast<float>(pixels));
        heightBar = ceilBy(static_cast<float>(height) * beta);
        widthBar = ceilBy(static_cast<float>(width) * beta);
    }
    return {widthBar, heightBar};
}

ImageSize llamaCppContentSize(int width, int height, ImageSize canvas) {
    if (canvas.width == width && canvas.height == height) return canvas;
    const float scale = std::min(static_cast<float>(canvas.width) / static_cast<float>(width),
                                 static_cast<float>(canvas.height) / static_cast<float>(height));
    return {std::min(static_cast<int>(std::ceil(static_cast<float>(width) * scale)), canvas.width),
            std::min(static_cast<int>(std::ceil(static_cast<float>(height) * scale)), canvas.height)};
}

int softTokensFor(ImageSize preprocessed) {
    return (preprocessed.width / kSoftTokenSide) * (preprocessed.height / kSoftTokenSide);
}

int softTokenCount(int width, int height, int budget, ImageSizePolicy policy) {
    requireValidBudget(budget);
    if (policy == ImageSizePolicy::HuggingFace)
        return softTokensFor(huggingFaceTargetSize(width, height, budget));
    return softTokensFor(llamaCppCanvasSize(width, height, std::min(70, budget), budget));
}

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

double bicubicWeight(double x) {
    constexpr double a = -0.5;
    x = std::abs(x);
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
}

// Per output pixel: the first input pixel, how many contribute, and their fixed-point weights.
struct ResampleTaps {
    int kernelSize = 0;
    std::vector<int> first;
    std::vector<int> count;
    std::vector<std::int32_t> weights; // [output][kernelSize]
};

ResampleTaps computeTaps(int inSize, int outSize) {
    constexpr double filterSupport = 2.0;
    const double scale = static_cast<double>(inSize) / outSize;
    const double filterScale = std::max(scale, 1.0); // widen the kernel when shrinking: antialiasing
    const double support = filterSupport * filterScale;
    ResampleTaps taps;
    taps.kernelSize = static_cast<int>(std::ceil(support)) * 2 + 1;
    taps.first.resize(static_cast<std::size_t>(outSize));
    taps.count.resize(static_cast<std::size_t>(outSize));
    taps.weights.assign(static_cast<std::size_t>(outSize) * taps.kernelSize, 0);
    std::vector<double> row(static_cast<std::size_t>(taps.kernelSize));
    for (int out = 0; out < outSize; ++out) {
        const double center = (out + 0.5) * scale;
        const double inverseScale = 1.0 / filterScale;
        const int first = std::max(0, static_cast<int>(center - support + 0.5)); // C truncation, as Pillow
        const int last = std::min(inSize, static_cast<int>(center + support + 0.5));
        const int count = last - first;
        double sum = 0.0;
        for (int i = 0; i < count; ++i) {
            row[static_cast<std::size_t>(i)] = bicubicWeight((i + first - center + 0.5) * inverseScale);
            sum += row[static_cast<std::size_t>(i)];
        }
        for (int i = 0; i < count; ++i) {
            const double normalized =
                sum != 0.0 ? row[static_cast<std::size_t>(i)] / sum : row[static_cast<std::size_t>(i)];
            const double fixed = normalized * (1 << kPrecisionBits);
            taps.weights[static_cast<std::size_t>(out) * taps.kernelSize + i] =
                static_cast<std::int32_t>(fixed < 0 ? fixed - 0.5 : fixed + 0.5);
        }
        taps.first[static_cast<std::size_t>(out)] = first;
        taps.count[static_cast<std::size_t>(out)] = count;
    }
    return taps;
}

std::uint8_t clampFixed(std::int32_t value) {
    if (value >= (1 << kPrecisionBits << 8)) return 255;
    if (value <= 0) return 0;
    return static_cast<std::uint8_t>(value >> kPrecisionBits);
}

RgbImage resampleHorizontal(const RgbImage& in, int width) {
    const ResampleTaps taps = computeTaps(in.width, width);
    RgbImage out{width, in.height,
                 std::vector<std::uint8_t>(static_cast<std::size_t>(width) * in.height * 3)};
    for (int y = 0; y < in.height; ++y) {
        const std::uint8_t* source = in.rgb.data() + static_cast<std::size_t>(y) * in.width * 3;
        std::uint8_t* target = out.rgb.data() + static_cast<std::size_t>(y) * width * 3;
        for (int x = 0; x < width; ++x) {
            const std::int32_t* weights = taps.weights.data() + static_cast<std::size_t>(x) * taps.kernelSize;
            const int first = taps.first[static_cast<std::size_t>(x)];
            for (int c = 0; c < 3; ++c) {
                std::int32_t sum = 1 << (kPrecisionBits - 1);
                for (int i = 0; i < taps.count[static_cast<std::size_t>(x)]; ++i) {
                    sum += source[(first + i) * 3 + c] * weights[i];
                }
                target[x * 3 + c] = clampFixed(sum);
            }
        }
    }
    return out;
}

RgbImage resampleVertical(const RgbImage& in, int height) {
    const ResampleTaps taps = computeTaps(in.height, height);
    const std::size_t rowBytes = static_cast<std::size_t>(in.width) * 3;
    RgbImage out{in.width, height, std::vector<std::uint8_t>(rowBytes * height)};
    for (int y = 0; y < height; ++y) {
        const std::int32_t* weights = taps.weights.data() + static_cast<std::size_t>(y) * taps.kernelSize;
        const int first = taps.first[static_cast<std::size_t>(y)];
        const int count = taps.count[static_cast<std::size_t>(y)];
        std::uint8_t* target = out.rgb.data() + rowBytes * y;
        for (std::size_t i = 0; i < rowBytes; ++i) {
            std::int32_t sum = 1 << (kPrecisionBits - 1);
            for (int k = 0; k < count; ++k) sum += in.rgb[rowBytes * (first + k) + i] * weights[k];
            target[i] = clampFixed(sum);
        }
    }
    return out;
}

} // namespace

RgbImage resizeBicubicPillow(const RgbImage& image, int width, int height) {
    if (image.width <= 0 || image.height <= 0 || width <= 0 || height <= 0) {
        throw MediaError("cannot resize an empty image or to an empty size");
    }
    // Pillow runs each pass only when that dimension changes, horizontal first.
    RgbImage result = image.width != width ? resampleHorizontal(image, width) : image;
    if (image.height != height) result = resampleVertical(result, height);
    return result;
}

std::vector<float> planarPixels(const RgbImage& image) {
    const std::size_t plane = static_cast<std::size_t>(image.width) * image.height;
    std::vector<float> planar(plane * 3);
    for (std::size_t i = 0; i < plane; ++i) {
        for (int c = 0; c < 3; ++c) planar[c * plane + i] = static_cast<float>(image.rgb[i * 3 + c]) / 255.0f;
    }
    return planar;
}

PreprocessedImage preprocessImage(const RgbImage& image, const PreprocessOptions& options) {
    requireValidBudget(options.budget);
    if (image.width <= 0 || image.height <= 0) throw MediaError("cannot preprocess an empty image");
    PreprocessedImage result;
    if (options.policy == ImageSizePolicy::HuggingFace) {
        const ImageSize target = huggingFaceTargetSize(image.width, image.height, options.budget);
        result.resized = resizeBicubicPillow(image, target.width, target.height);
    } else {
        const ImageSize canvas = llamaCppCanvasSize(
            image.width, image.height, std::min(options.llamaCppMinTokens, options.budget), options.budget);
        const ImageSize content = llamaCppContentSize(image.width, image.height, canvas);
        const RgbImage inside = resizeBicubicPillow(image, content.width, content.height);
        result.resized = {
            canvas.width, canvas.height,
            std::vector<std::uint8_t>(static_cast<std::size_t>(canvas.width) * canvas.height * 3, 0)};
        const int left = (canvas.width - content.width) / 2;
        const int top = (canvas.height - content.height) / 2;
        for (int y = 0; y < content.height; ++y) {
            std::copy_n(inside.rgb.data() + static_cast<std::size_t>(y) * content.width * 3,
                        static_cast<std::size_t>(content.width) * 3,
                        result.resized.rgb.data() +
                            (static_cast<std::size_t>(y + top) * canvas.width + left) * 3);
        }
    }
    result.patchesX = result.resized.width / kPatchSize;
    result.patchesY = result.resized.height / kPatchSize;
    result.softTokens = softTokensFor({result.resized.width, result.resized.height});
    constexpr int patchValues = kPatchSize * kPatchSize * 3;
    result.patches.resize(static_cast<std::size_t>(result.patchesX) * result.patchesY * patchValues);
    float* out = result.patches.data();
    for (int py = 0; py < result.patchesY; ++py) {
        for (int px = 0; px < result.patchesX; ++px) {
            for (int row = 0; row < kPatchSize; ++row) {
                for (int column = 0; column < kPatchSize; ++column) {
                    for (int c = 0; c < 3; ++c) {
                        *out++ = static_cast<float>(
                                     result.resized.at(px * kPatchSize + column, py * kPatchSize + row, c)) /
                                 255.0f;
                    }
                }
            }
        }
    }
    return result;
}

} // namespace ocelle::media
