#include "media/ffmpeg_support.h"

#include <algorithm>
#include <cstring>

#include "media/media_error.h"

extern "C" {
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
}

namespace ocelle::media::detail {

std::string avErrorText(int errorCode) {
    char text[AV_ERROR_MAX_STRING_SIZE] = {};
    av_strerror(errorCode, text, sizeof text);
    return text;
}

void FormatContextDeleter::operator()(AVFormatContext* context) const { avformat_close_input(&context); }
void CodecContextDeleter::operator()(AVCodecContext* context) const { avcodec_free_context(&context); }
void FrameDeleter::operator()(AVFrame* frame) const { av_frame_free(&frame); }
void PacketDeleter::operator()(AVPacket* packet) const { av_packet_free(&packet); }

FramePtr makeFrame() {
    FramePtr frame(av_frame_alloc());
    if (!frame) throw MediaError("out of memory allocating a video/audio frame");
    return frame;
}

PacketPtr makePacket() {
    PacketPtr packet(av_packet_alloc());
    if (!packet) throw MediaError("out of memory allocating a packet");
    return packet;
}

namespace {
// FFmpeg prints warnings for every damaged packet; our callers report problems themselves.
void quietFfmpegLogging() {
    static const bool once = [] {
        av_log_set_level(AV_LOG_ERROR);
        return true;
    }();
    (void)once;
}
std::string openFailureHint(int status) {
    if (status == AVERROR_INVALIDDATA)
        return ": not a format FFmpeg reads, or the file is damaged or truncated";
    if (status == AVERROR(ENOENT)) return ": no such file";
    return {};
}
} // namespace

// Serves a byte span to libavformat through a custom AVIOContext.
struct InputFile::MemoryReader {
    std::span<const std::uint8_t> bytes;
    std::int64_t position = 0;
    AVIOContext* io = nullptr;

    static int read(void* opaque, std::uint8_t* buffer, int size) {
        auto* self = static_cast<MemoryReader*>(opaque);
        const auto remaining = static_cast<std::int64_t>(self->bytes.size()) - self->position;
        if (remaining <= 0) return AVERROR_EOF;
        const int count = static_cast<int>(std::min<std::int64_t>(remaining, size));
        std::memcpy(buffer, self->bytes.data() + self->position, static_cast<std::size_t>(count));
        self->position += count;
        return count;
    }
    static std::int64_t seek(void* opaque, std::int64_t offset, int whence) {
        auto* self = static_cast<MemoryReader*>(opaque);
        const auto size = static_cast<std::int64_t>(self->bytes.size());
        if (whence == AVSEEK_SIZE) return size;
        std::int64_t target = offset;
        if ((whence & ~AVSEEK_FORCE) == SEEK_CUR) target = self->position + offset;
        if ((whence & ~AVSEEK_FORCE) == SEEK_END) target = size + offset;
        if (target < 0 || target > size) return AVERROR(EINVAL);
        self->position = target;
        return target;
    }
    ~MemoryReader() {
        if (io) {
            av_freep(&io->buffer);
            avio_context_free(&io);
        }
    }
};

InputFile::InputFile(const std::string& path) : name_(path) {
    quietFfmpegLogging();
    AVFormatContext* raw = nullptr;
    const int status = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
    if (status < 0) {
        throw MediaError(path + ": cannot open as a media file (" + avErrorText(status) + ")" +
                         openFailureHint(status));
    }
    format_.reset(raw);
    findStreamInfo();
}

InputFile::InputFile(std::span<const std::uint8_t> memory, const std::string& name) : name_(name) {
    quietFfmpegLogging();
    memoryReader_ = std::make_unique<MemoryReader>();
    memoryReader_->bytes = memory;
    constexpr int bufferSize = 64 * 1024;
    auto* buffer = static_cast<std::uint8_t*>(av_malloc(bufferSize));
    if (!buffer) throw MediaError(name + ": out of memory");
    memoryReader_->io = avio_alloc_context(buffer, bufferSize, 0, memoryReader_.get(), &MemoryReader::read,
                                           nullptr, &MemoryReader::seek);
    if (!memoryReader_->io) {
        av_free(buffer);
        throw MediaError(name + ": out of memory");
    }
    AVFormatContext* raw = avformat_alloc_context();
    if (!raw) throw MediaError(name + ": out of memory");
    raw->pb = memoryReader_->io;
    raw->flags |= AVFMT_FLAG_CUSTOM_IO;
    const int status = avformat_open_input(&raw, nullptr, nullptr, nullptr); // frees raw on failure
    if (status < 0) {
        throw MediaError(name + ": cannot open as a media file (" + avErrorText(status) + ")" +
                         openFailureHint(status));
    }
    format_.reset(raw);
    findStreamInfo();
}

InputFile::~InputFile() {
    format_.reset(); // before the memory reader it may still reference
}

void InputFile::findStreamInfo() {
    const int status = avformat_find_stream_info(format_.get(), nullptr);
    if (status < 0) {
        throw MediaError(name_ + ": cannot read the stream information (" + avErrorText(status) + ")");
    }
}

int InputFile::openDecoder(AVMediaType type, const std::string& missingMessage, CodecContextPtr& decoder) {
    const AVCodec* codec = nullptr;
    const int index = av_find_best_stream(format_.get(), type, -1, -1, &codec, 0);
    if (index == AVERROR_STREAM_NOT_FOUND) throw MediaError(name_ + ": " + missingMessage);
    AVStream* stream = format_->streams[index];
    if (index < 0 || !codec) {
        throw MediaError(name_ + ": no decoder for its " + av_get_media_type_string(type) + " codec '" +
                         avcodec_get_name(stream->codecpar->codec_id) + "' in this FFmpeg build");
    }
    decoder.reset(avcodec_alloc_context3(codec));
    if (!decoder) throw MediaError(name_ + ": out of memory");
    int status = avcodec_parameters_to_context(decoder.get(), stream->codecpar);
    if (status >= 0) {
        decoder->pkt_timebase = stream->time_base;
        decoder->thread_count = 2; // the machine-wide budget is two cores
        status = avcodec_open2(decoder.get(), codec, nullptr);
    }
    if (status < 0) {
        throw MediaError(name_ + ": cannot open the " + codec->name + " decoder (" + avErrorText(status) + ")");
    }
    return index;
}

int decodeStream(InputFile& input, int streamIndex, AVCodecContext* decoder,
                 const std::function<bool(AVFrame*)>& onFrame) {
    PacketPtr packet = makePacket();
    FramePtr frame = makeFrame();
    int failedPackets = 0;
    bool stopped = false;

    // Drains every frame the decoder has ready; false when the caller asked to stop.
    auto receiveAll = [&]() -> bool {
        while (true) {
            const int status = avcodec_receive_frame(decoder, frame.get());
            if (status == AVERROR(EAGAIN) || status == AVERROR_EOF) return true;
            if (status < 0) {
                ++failedPackets;
                return true;
            }
            const bool keepGoing = onFrame(frame.get());
            av_frame_unref(frame.get());
            if (!keepGoing) return false;
        }
    };

    while (!stopped) {
        const int status = av_read_frame(input.format(), packet.get());
        if (status == AVERROR_EOF) break;
        if (status < 0) {
            // A damaged tail surfaces as an I/O or invalid-data error: treat it as the end, the
            // callers compare what they got with what the header promised.
            if (status == AVERROR_INVALIDDATA || status == AVERROR(EIO)) break;
            throw MediaError(input.name() + ": read error (" + avErrorText(status) + ")");
        }
        if (packet->stream_index == streamIndex) {
            if (avcodec_send_packet(decoder, packet.get()) < 0) ++failedPackets;
            stopped = !receiveAll();
        }
        av_packet_unref(packet.get());
    }
    if (!stopped) {
        avcodec_send_packet(decoder, nullptr);
        receiveAll();
    }
    return failedPackets;
}

} // namespace ocelle::media::detail
