// Image files into 8-bit RGB: PNG, JPEG, WebP, BMP, TIFF (OpenCV) and GIF (first frame, FFmpeg,
// since OpenCV 4.6 has no GIF reader). EXIF orientation is applied, alpha is composited onto white,
// grey and 16-bit images become 8-bit RGB. The dimensions are read from the file header and checked
// against a pixel cap before anything is decoded, so giant or corrupt files fail early with a
// MediaError naming the problem instead of allocating gigabytes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "media/media_error.h"

namespace ocelle::media {

// 8-bit RGB, interleaved, rows top to bottom, no padding: pixel (x, y) channel c is at
// rgb[(y * width + x) * 3 + c].
struct RgbImage {
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> rgb;

    std::uint8_t at(int x, int y, int channel) const {
        return rgb[(static_cast<std::size_t>(y) * width + x) * 3 + channel];
    }
};

enum class ImageFormat { Unknown, Png, Jpeg, WebP, Bmp, Tiff, Gif };
const char* imageFormatName(ImageFormat format);

struct ImageLimits {
    // 50 megapixels: a 16-bit RGBA decode of that is 400 MB, the most we let one image take.
    std::int64_t maxPixels = 50'000'000;
    std::int64_t maxFileBytes = 256ll * 1024 * 1024;
};

// What the header says, without decoding the pixels.
struct ImageHeader {
    ImageFormat format = ImageFormat::Unknown;
    int width = 0; // as stored (before EXIF orientation)
    int height = 0;
    int exifOrientation = 1; // 1..8 (TIFF/EXIF convention), 1 when absent
};

// Reads format, size and EXIF orientation from the first bytes of an encoded image. Throws
// MediaError for unknown formats, malformed or truncated headers and zero sizes.
ImageHeader readImageHeader(std::span<const std::uint8_t> bytes, const std::string& nameForErrors);

// Decodes an image file. Throws MediaError (file name in the message) when the file cannot be
// read, is not a supported image, is corrupt or truncated, or exceeds `limits`.
RgbImage loadImage(const std::string& path, const ImageLimits& limits = {});
// The same from bytes in memory (GIF goes through a temporary FFmpeg memory reader).
RgbImage decodeImage(std::span<const std::uint8_t> bytes, const std::string& nameForErrors,
                     const ImageLimits& limits = {});

} // namespace ocelle::media
