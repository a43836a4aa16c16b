// Internal to ocelle_media: owning wrappers for FFmpeg objects and the shared open/decode steps of
// the image (GIF), video and audio readers. Not installed, not part of the public API.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>
}

namespace ocelle::media::detail {

std::string avErrorText(int errorCode);

struct FormatContextDeleter {
    void operator()(AVFormatContext* context) const;
};
struct CodecContextDeleter {
    void operator()(AVCodecContext* context) const;
};
struct FrameDeleter {
    void operator()(AVFrame* frame) const;
};
struct PacketDeleter {
    void operator()(AVPacket* packet) const;
};
using FormatContextPtr = std::unique_ptr<AVFormatContext, FormatContextDeleter>;
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextDeleter>;
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;

FramePtr makeFrame();
PacketPtr makePacket();

// An opened container with its stream info read. `memory` (optional) replaces the file: the bytes
// must outlive the returned object. Throws MediaError naming `name` on failure.
class InputFile {
public:
    explicit InputFile(const std::string& path);
    InputFile(std::span<const std::uint8_t> memory, const std::string& name);
    ~InputFile();
    InputFile(const InputFile&) = delete;
    InputFile& operator=(const InputFile&) = delete;

    AVFormatContext* format() const { return format_.get(); }
    const std::string& name() const { return name_; }

    // The best stream of `type` and a decoder opened for it; throws MediaError with `missingMessage`
    // when the file has no such stream, or naming the codec when it cannot be decoded here.
    int openDecoder(AVMediaType type, const std::string& missingMessage, CodecContextPtr& decoder);

private:
    void findStreamInfo();

    std::string name_;
    FormatContextPtr format_;
    struct MemoryReader;
    std::unique_ptr<MemoryReader> memoryReader_;
};

// Feeds the packets of `streamIndex` to `decoder` and hands each decoded frame to `onFrame`
// (return false to stop early). Flushes the decoder at the end of the file. Returns the number of
// packets that failed to decode (corrupt data is skipped, the caller decides if that is fatal);
// throws MediaError on read errors other than the end of the file.
int decodeStream(InputFile& input, int streamIndex, AVCodecContext* decoder,
                 const std::function<bool(AVFrame*)>& onFrame);

} // namespace ocelle::media::detail
