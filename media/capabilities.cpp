#include "media/capabilities.h"

#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/version.h>
}

#include <algorithm>

namespace ocelle::media {
namespace {

std::string libavVersionString(unsigned packed) {
    return std::to_string(AV_VERSION_MAJOR(packed)) + "." + std::to_string(AV_VERSION_MINOR(packed)) + "." +
           std::to_string(AV_VERSION_MICRO(packed));
}

} // namespace

bool Capabilities::canDemux(const std::string& shortName) const {
    // libavformat names demuxers by comma-separated aliases ("mov,mp4,m4a,3gp,3g2,mj2").
    void* iterator = nullptr;
    while (const AVInputFormat* format = av_demuxer_iterate(&iterator)) {
        std::string names = format->name;
        size_t start = 0;
        while (start <= names.size()) {
            size_t end = names.find(',', start);
            if (end == std::string::npos) end = names.size();
            if (names.compare(start, end - start, shortName) == 0) return true;
            start = end + 1;
        }
    }
    return false;
}

std::string Capabilities::summary() const {
    std::string line = "OpenCV " + opencvVersion + " (";
    for (size_t i = 0; i < imageFormats.size(); ++i) line += (i ? ", " : "") + imageFormats[i];
    line += "), libavformat " + libavformatVersion + " (" + std::to_string(demuxerCount) + " demuxers)";
    return line;
}

Capabilities capabilities() {
    Capabilities caps;
    caps.opencvVersion = cv::getVersionString();
    // Ask the codec registry rather than assuming: distributions build OpenCV with different codecs.
    // OpenCV only offers this query for writers; its encoders and decoders come from the same codec
    // libraries (libpng, libjpeg, libwebp...), so a format with a writer has a reader too.
    for (const char* extension : {"png", "jpg", "webp", "bmp", "tiff"}) {
        if (cv::haveImageWriter(std::string(".") + extension)) caps.imageFormats.emplace_back(extension);
    }
    caps.libavformatVersion = libavVersionString(avformat_version());
    caps.libavcodecVersion = libavVersionString(avcodec_version());
    void* iterator = nullptr;
    while (av_demuxer_iterate(&iterator)) ++caps.demuxerCount;
    return caps;
}

} // namespace ocelle::media
