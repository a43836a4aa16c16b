#include "media/image.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "media/ffmpeg_support.h"

extern "C" {
#include <libswscale/swscale.h>
}

namespace ocelle::media {

const char* imageFormatName(ImageFormat format) {
    switch (format) {
    case ImageFormat::Png:
        return "PNG";
    case ImageFormat::Jpeg:
        return "JPEG";
    case ImageFormat::WebP:
        return "WebP";
    case ImageFormat::Bmp:
        return "BMP";
    case ImageFormat::Tiff:
        return "TIFF";
    case ImageFormat::Gif:
        return "GIF";
    case ImageFormat::Unknown:
        break;
    }
    return "unknown";
}

namespace {

// Bounds-checked reads over the encoded bytes; every header field goes through these.
class ByteReader {
public:
    ByteReader(std::span<const std::uint8_t> bytes, const std::string& name) : bytes_(bytes), name_(name) {}

    std::size_t size() const { return bytes_.size(); }
    bool has(std::size_t offset, std::size_t count) const {
        return offset <= bytes_.size() && count <= bytes_.size() - offset;
    }
    void require(std::size_t offset, std::size_t count, const char* what) const {
        if (!has(offset, count))
            throw MediaError(name_ + ": truncated or malformed image header (" + what + ")");
    }
    std::uint8_t u8(std::size_t offset) const {
        require(offset, 1, "field past the end");
        return bytes_[offset];
    }
    std::uint32_t be16(std::size_t offset) const {
        require(offset, 2, "field past the end");
        return static_cast<std::uint32_t>(bytes_[offset] << 8 | bytes_[offset + 1]);
    }
    std::uint32_t le16(std::size_t offset) const {
        require(offset, 2, "field past the end");
        return static_cast<std::uint32_t>(bytes_[offset] | bytes_[offset + 1] << 8);
    }
    std::uint32_t be32(std::size_t offset) const { return be16(offset) << 16 | be16(offset + 2); }
    std::uint32_t le32(std::size_t offset) const { return le16(offset) | le16(offset + 2) << 16; }
    std::uint32_t le24(std::size_t offset) const {
        return le16(offset) | static_cast<std::uint32_t>(u8(offset + 2)) << 16;
    }
    bool matches(std::size_t offset, const char* text) const {
        const std::size_t length = std::strlen(text);
        return has(offset, length) && std::memcmp(bytes_.data() + offset, text, length) == 0;
    }
    std::span<const std::uint8_t> slice(std::size_t offset, std::size_t count) const {
        require(offset, count, "block past the end");
        return bytes_.subspan(offset, count);
    }
    const std::string& name() const { return name_; }

private:
    std::span<const std::uint8_t> bytes_;
    const std::string& name_;
};

// A TIFF structure (a TIFF file, or the payload of an EXIF block): reads IFD0 tags.
struct TiffTags {
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    int orientation = 1;
};

TiffTags readTiffIfd0(std::span<const std::uint8_t> tiff, const std::string& name) {
    ByteReader reader(tiff, name);
    TiffTags tags;
    bool littleEndian = false;
    if (reader.matches(0, "II")) {
        littleEndian = true;
    } else if (!reader.matches(0, "MM")) {
        throw MediaError(name + ": malformed TIFF/EXIF block (bad byte-order mark)");
    }
    auto u16 = [&](std::size_t offset) { return littleEndian ? reader.le16(offset) : reader.be16(offset); };
    auto u32 = [&](std::size_t offset) { return littleEndian ? reader.le32(offset) : reader.be32(offset); };
    if (u16(2) != 42) throw MediaError(name + ": malformed TIFF/EXIF block (bad magic number)");
    const std::size_t ifd = u32(4);
    const std::uint32_t entryCount = u16(ifd);
    reader.require(ifd + 2, static_cast<std::size_t>(entryCount) * 12, "IFD entries");
    for (std::uint32_t i = 0; i < entryCount; ++i) {
        const std::size_t entry = ifd + 2 + static_cast<std::size_t>(i) * 12;
        const std::uint32_t tag = u16(entry);
        const std::uint32_t type = u16(entry + 2);
        // SHORT values sit in the first two bytes of the value field, LONG in all four.
        const std::uint32_t value = type == 3 ? u16(entry + 8) : type == 4 ? u32(entry + 8) : 0;
        if (tag == 256) tags.width = value;
        if (tag == 257) tags.height = value;
        if (tag == 274 && value >= 1 && value <= 8) tags.orientation = static_cast<int>(value);
    }
    return tags;
}

// EXIF payloads start with "Exif\0\0" in JPEG and usually (not always) in WebP/PNG.
int orientationFromExif(std::span<const std::uint8_t> exif, const std::string& name) {
    if (exif.size() >= 6 && std::memcmp(exif.data(), "Exif\0\0", 6) == 0) exif = exif.subspan(6);
    try {
        return readTiffIfd0(exif, name).orientation;
    } catch (const MediaError&) {
        return 1; // a broken EXIF block must not make a good image unreadable
    }
}

void readPngHeader(const ByteReader& reader, ImageHeader& header) {
    if (!reader.matches(12, "IHDR"))
        throw MediaError(reader.name() + ": malformed PNG (no IHDR chunk first)");
    header.width =
        static_cast<int>(std::min<std::uint32_t>(reader.be32(16), std::numeric_limits<int>::max()));
    header.height =
        static_cast<int>(std::min<std::uint32_t>(reader.be32(20), std::numeric_limits<int>::max()));
    // Walk the chunks: finds eXIf, and proves the file reaches IEND (a cut file does not).
    std::size_t offset = 8;
    while (true) {
        if (!reader.has(offset, 12)) throw MediaError(reader.name() + ": truncated PNG (no IEND chunk)");
        const std::size_t length = reader.be32(offset);
        if (!reader.has(offset + 8, length) || !reader.has(offset + 8 + length, 4)) {
            throw MediaError(reader.name() + ": truncated PNG (chunk runs past the end of the file)");
        }
        if (reader.matches(offset + 4, "eXIf")) {
            header.exifOrientation = orientationFromExif(reader.slice(offset + 8, length), reader.name());
        }
        if (reader.matches(offset + 4, "IEND")) break;
        offset += 12 + length;
    }
}

void readJpegHeader(const ByteReader& reader, ImageHeader& header) {
    std::size_t offset = 2;
    bool haveSize = false;
    while (true) {
        if (!reader.has(offset, 4)) throw MediaError(reader.name() + ": truncated JPEG (header ends early)");
        if (reader.u8(offset) != 0xFF) throw MediaError(reader.name() + ": corrupt JPEG (bad marker)");
        const std::uint8_t marker = reader.u8(offset + 1);
        if (marker == 0xFF) { // fill byte
            ++offset;
            continue;
        }
        if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) { // no length
            offset += 2;
            continue;
        }
        const std::size_t length = reader.be16(offset + 2);
        if (length < 2 || !reader.has(offset + 2, length))
            throw MediaError(reader.name() + ": truncated JPEG header");
        const std::size_t payload = offset + 4;
        if (marker == 0xE1 && reader.matches(payload, "Exif")) {
            header.exifOrientation = orientationFromExif(reader.slice(payload, length - 2), reader.name());
        }
        const bool startOfFrame =
            marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
        if (startOfFrame) {
            header.height = static_cast<int>(reader.be16(payload + 1));
            header.width = static_cast<int>(reader.be16(payload + 3));
            haveSize = true;
        }
        if (marker == 0xDA) break; // start of scan: entropy-coded data follows
        offset += 2 + length;
    }
    if (!haveSize) throw MediaError(reader.name() + ": corrupt JPEG (no frame header before the image data)");
    // libjpeg only warns on a cut file and returns grey rows, so truncation is caught here: a
    // complete file has its end-of-image marker after the scan data.
    const auto bytes = reader.slice(0, reader.size());
    const std::uint8_t endMarker[2] = {0xFF, 0xD9};
    const auto found = std::search(bytes.begin() + static_cast<std::ptrdiff_t>(offset), bytes.end(),
                                   endMarker, endMarker + 2);
    if (found == bytes.end()) throw MediaError(reader.name() + ": truncated JPEG (no end-of-image marker)");
}

void readWebPHeader(const ByteReader& reader, ImageHeader& header) {
    std::size_t offset = 12;
    bool haveSize = false;
    while (reader.has(offset, 8)) {
        const std::size_t length = reader.le32(offset + 4);
        const std::size_t payload = offset + 8;
        if (reader.matches(offset, "VP8 ")) {
            if (reader.u8(payload + 3) != 0x9D || reader.u8(payload + 4) != 0x01 ||
                reader.u8(payload + 5) != 0x2A) {
                throw MediaError(reader.name() + ": corrupt WebP (bad VP8 start code)");
            }
            header.width = static_cast<int>(reader.le16(payload + 6) & 0x3FFF);
            header.height = static_cast<int>(reader.le16(payload + 8) & 0x3FFF);
            haveSize = true;
        } else if (reader.matches(offset, "VP8L")) {
            if (reader.u8(payload) != 0x2F)
                throw MediaError(reader.name() + ": corrupt WebP (bad VP8L signature)");
            const std::uint32_t bits = reader.le32(payload + 1);
            header.width = static_cast<int>((bits & 0x3FFF) + 1);
            header.height = static_cast<int>(((bits >> 14) & 0x3FFF) + 1);
            haveSize = true;
        } else if (reader.matches(offset, "VP8X")) {
            header.width = static_cast<int>(reader.le24(payload + 4) + 1);
            header.height = static_cast<int>(reader.le24(payload + 7) + 1);
            haveSize = true;
        } else if (reader.matches(offset, "EXIF") && reader.has(payload, length)) {
            header.exifOrientation = orientationFromExif(reader.slice(payload, length), reader.name());
        }
        offset = payload + length + (length & 1);
    }
    if (!haveSize) throw MediaError(reader.name() + ": corrupt or truncated WebP (no image chunk)");
}

void readBmpHeader(const ByteReader& reader, ImageHeader& header) {
    const std::uint32_t infoSize = reader.le32(14);
    if (infoSize == 12) {
        header.width = static_cast<int>(reader.le16(18));
        header.height = static_cast<int>(reader.le16(20));
    } else if (infoSize >= 40) {
        const auto width = static_cast<std::int32_t>(reader.le32(18));
        const auto height = static_cast<std::int32_t>(reader.le32(22)); // negative: stored top-down
        if (width < 0 || height == std::numeric_limits<std::int32_t>::min()) {
            throw MediaError(reader.name() + ": corrupt BMP (negative width)");
        }
        header.width = width;
        header.height = height < 0 ? -height : height;
    } else {
        throw MediaError(reader.name() + ": unsupported BMP header variant");
    }
}

void rejectBadSize(const ImageHeader& header, const std::string& name, const ImageLimits& limits) {
    if (header.width <= 0 || header.height <= 0) {
        throw MediaError(name + ": the " + imageFormatName(header.format) + " header gives an empty image (" +
                         std::to_string(header.width) + "x" + std::to_string(header.height) + ")");
    }
    const std::int64_t pixels = static_cast<std::int64_t>(header.width) * header.height;
    if (pixels > limits.maxPixels) {
        throw MediaError(name + ": image too large (" + std::to_string(header.width) + "x" +
                         std::to_string(header.height) + " = " + std::to_string(pixels / 1'000'000) +
                         " megapixels; the limit is " + std::to_string(limits.maxPixels / 1'000'000) +
                         " megapixels)");
    }
}

// Orientation codes as EXIF defines them: the transform that makes the stored pixels upright.
cv::Mat applyOrientation(const cv::Mat& stored, int orientation) {
    cv::Mat upright;
    switch (orientation) {
    case 2:
        cv::flip(stored, upright, 1);
        break;
    case 3:
        cv::flip(stored, upright, -1);
        break;
    case 4:
        cv::flip(stored, upright, 0);
        break;
    case 5:
        cv::transpose(stored, upright);
        break;
    case 6:
        cv::transpose(stored, upright);
        cv::flip(upright, upright, 1);
        break; // 90 degrees clockwise
    case 7:
        cv::transpose(stored, upright);
        cv::flip(upright, upright, -1);
        break;
    case 8:
        cv::transpose(stored, upright);
        cv::flip(upright, upright, 0);
        break; // 90 counter-clockwise
    default:
        return stored;
    }
    return upright;
}

// Any OpenCV decode (1-4 channels in B,G,R,A order; 8/16-bit or float) to RGB8 over white.
template <typename Sample> void toRgbOverWhite(const cv::Mat& decoded, double maxValue, RgbImage& out) {
    const int channels = decoded.channels();
    for (int y = 0; y < decoded.rows; ++y) {
        const auto* row = decoded.ptr<Sample>(y);
        std::uint8_t* target = out.rgb.data() + static_cast<std::size_t>(y) * out.width * 3;
        for (int x = 0; x < decoded.cols; ++x) {
            const Sample* pixel = row + static_cast<std::ptrdiff_t>(x) * channels;
            double rgb[3];
            if (channels <= 2) {
                rgb[0] = rgb[1] = rgb[2] = static_cast<double>(pixel[0]);
            } else {
                rgb[0] = pixel[2];
                rgb[1] = pixel[1];
                rgb[2] = pixel[0];
            }
            const double alpha = channels == 4   ? pixel[3] / maxValue
                                 : channels == 2 ? pixel[1] / maxValue
                                                 : 1.0;
            for (int c = 0; c < 3; ++c) {
                // Composite onto white in the source precision, then round to 8 bits once.
                const double unit = std::clamp(rgb[c] / maxValue, 0.0, 1.0) * alpha + (1.0 - alpha);
                target[x * 3 + c] = static_cast<std::uint8_t>(unit * 255.0 + 0.5);
            }
        }
    }
}

RgbImage fromOpenCv(const cv::Mat& decoded, const std::string& name) {
    RgbImage image;
    image.width = decoded.cols;
    image.height = decoded.rows;
    image.rgb.resize(static_cast<std::size_t>(image.width) * image.height * 3);
    switch (decoded.depth()) {
    case CV_8U:
        toRgbOverWhite<std::uint8_t>(decoded, 255.0, image);
        break;
    case CV_16U:
        toRgbOverWhite<std::uint16_t>(decoded, 65535.0, image);
        break;
    case CV_32F:
        toRgbOverWhite<float>(decoded, 1.0, image);
        break;
    default:
        throw MediaError(name + ": unsupported sample format (OpenCV depth " +
                         std::to_string(decoded.depth()) + ")");
    }
    return image;
}

struct SwsDeleter {
    void operator()(SwsContext* context) const { sws_freeContext(context); }
};

// GIF through FFmpeg: its first frame, composited onto white like every other format.
RgbImage decodeGifFirstFrame(std::span<const std::uint8_t> bytes, const std::string& name) {
    detail::InputFile input(bytes, name);
    detail::CodecContextPtr decoder;
    const int stream = input.openDecoder(AVMEDIA_TYPE_VIDEO, "no image in the GIF file", decoder);
    cv::Mat rgba;
    detail::decodeStream(input, stream, decoder.get(), [&](AVFrame* frame) {
        std::unique_ptr<SwsContext, SwsDeleter> scaler(sws_getContext(
            frame->width, frame->height, static_cast<AVPixelFormat>(frame->format), frame->width,
            frame->height, AV_PIX_FMT_BGRA, SWS_POINT, nullptr, nullptr, nullptr));
        if (!scaler) throw MediaError(name + ": cannot convert the GIF's pixel format");
        rgba.create(frame->height, frame->width, CV_8UC4);
        std::uint8_t* planes[1] = {rgba.data};
        const int strides[1] = {static_cast<int>(rgba.step[0])};
        sws_scale(scaler.get(), frame->data, frame->linesize, 0, frame->height, planes, strides);
        return false; // only the first frame
    });
    if (rgba.empty()) throw MediaError(name + ": corrupt or truncated GIF (no frame could be decoded)");
    return fromOpenCv(rgba, name);
}

} // namespace

ImageHeader readImageHeader(std::span<const std::uint8_t> bytes, const std::string& nameForErrors) {
    ByteReader reader(bytes, nameForErrors);
    ImageHeader header;
    const std::uint8_t pngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (reader.has(0, 8) && std::memcmp(bytes.data(), pngSignature, 8) == 0) {
        header.format = ImageFormat::Png;
        readPngHeader(reader, header);
    } else if (reader.has(0, 3) && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) {
        header.format = ImageFormat::Jpeg;
        readJpegHeader(reader, header);
    } else if (reader.matches(0, "RIFF") && reader.matches(8, "WEBP")) {
        header.format = ImageFormat::WebP;
        readWebPHeader(reader, header);
    } else if (reader.matches(0, "BM")) {
        header.format = ImageFormat::Bmp;
        readBmpHeader(reader, header);
    } else if (reader.matches(0, "II*") || reader.matches(0, "MM")) {
        header.format = ImageFormat::Tiff;
        const TiffTags tags = readTiffIfd0(bytes, nameForErrors);
        header.width = static_cast<int>(std::min<std::uint32_t>(tags.width, std::numeric_limits<int>::max()));
        header.height =
            static_cast<int>(std::min<std::uint32_t>(tags.height, std::numeric_limits<int>::max()));
        header.exifOrientation = tags.orientation;
    } else if (reader.matches(0, "GIF87a") || reader.matches(0, "GIF89a")) {
        header.format = ImageFormat::Gif;
        header.width = static_cast<int>(reader.le16(6));
        header.height = static_cast<int>(reader.le16(8));
    } else {
        throw MediaError(nameForErrors +
                         ": not an image in a supported format (PNG, JPEG, WebP, BMP, TIFF, GIF)");
    }
    return header;
}

RgbImage decodeImage(std::span<const std::uint8_t> bytes, const std::string& nameForErrors,
                     const ImageLimits& limits) {
    const ImageHeader header = readImageHeader(bytes, nameForErrors);
    rejectBadSize(header, nameForErrors, limits);
    if (header.format == ImageFormat::Gif) return decodeGifFirstFrame(bytes, nameForErrors);

    // IMREAD_UNCHANGED keeps alpha and 16 bits; OpenCV then skips EXIF orientation for JPEG/PNG/WebP
    // (applied below from our own header parse). Its TIFF reader orients the pixels itself.
    const cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8UC1,
                          const_cast<std::uint8_t*>(bytes.data()));
    cv::Mat decoded;
    try {
        decoded = cv::imdecode(encoded, cv::IMREAD_UNCHANGED);
    } catch (const cv::Exception& error) {
        throw MediaError(nameForErrors + ": corrupt " + imageFormatName(header.format) + " image (" +
                         error.err + ")");
    }
    if (decoded.empty()) {
        throw MediaError(nameForErrors + ": corrupt or truncated " +
                         std::string(imageFormatName(header.format)) + " image (the decoder rejected it)");
    }
    if (decoded.cols != header.width || decoded.rows != header.height) {
        const bool tiffOriented = header.format == ImageFormat::Tiff && decoded.cols == header.height &&
                                  decoded.rows == header.width;
        if (!tiffOriented)
            throw MediaError(nameForErrors + ": decoded size differs from the header (corrupt file)");
    }
    if (header.format != ImageFormat::Tiff) decoded = applyOrientation(decoded, header.exifOrientation);
    return fromOpenCv(decoded, nameForErrors);
}

RgbImage loadImage(const std::string& path, const ImageLimits& limits) {
    std::ifstream file(path, std::ios::binary | std::ios::ate);
    if (!file) throw MediaError(path + ": cannot open the file");
    const std::streamoff size = file.tellg();
    if (size <= 0) throw MediaError(path + ": the file is empty");
    if (size > limits.maxFileBytes) {
        throw MediaError(path + ": file too large for an image (" + std::to_string(size / (1024 * 1024)) +
                         " MiB; limit " + std::to_string(limits.maxFileBytes / (1024 * 1024)) + " MiB)");
    }
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
    file.seekg(0);
    if (!file.read(reinterpret_cast<char*>(bytes.data()), size)) throw MediaError(path + ": read error");
    return decodeImage(bytes, path, limits);
}

} // namespace ocelle::media
