// Device memory: buffers, uploads/downloads through staging, and weight tensors kept in their
// quantized form and split into row ranges that each fit one storage-buffer binding.
#pragma once

#include "vulkan/device.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace ocelle::vulkan {

enum class MemoryKind {
    DeviceLocal, // weights, activations, KV cache (host-visible too on UMA devices: uploads skip staging)
    Staging,     // host-visible, for uploads
    Readback,    // host-visible and cached, for downloads
};

class Buffer {
public:
    // Throws VulkanError naming the size when the allocation fails (out of device memory).
    Buffer(Device& device, uint64_t bytes, MemoryKind kind = MemoryKind::DeviceLocal);
    ~Buffer();
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;

    VkBuffer handle() const { return buffer_; }
    uint64_t size() const { return size_; }
    void* mapped() const { return mapped_; } // null unless host-visible

private:
    Device& device_;
    VkBuffer buffer_ = VK_NULL_HANDLE;
    VkDeviceMemory memory_ = VK_NULL_HANDLE;
    uint64_t size_ = 0;
    void* mapped_ = nullptr;
};

// The part of a buffer one shader binding sees.
struct BufferRange {
    VkBuffer buffer = VK_NULL_HANDLE;
    uint64_t offset = 0;
    uint64_t bytes = 0;
};
inline BufferRange whole(const Buffer& b) {
    return {b.handle(), 0, b.size()};
}
inline BufferRange slice(const Buffer& b, uint64_t offset, uint64_t bytes) {
    return {b.handle(), offset, bytes};
}

// Copies host data into a buffer (mapped memcpy when host-visible, else through staging) and back.
void upload(Device& device, Buffer& dst, uint64_t dstOffset, const void* data, uint64_t bytes);
void download(Device& device, const Buffer& src, uint64_t srcOffset, void* data, uint64_t bytes);

// Upload progress: bytes done so far, bytes in total.
using ProgressCallback = std::function<void(uint64_t done, uint64_t total)>;

// A weight matrix [rows x cols] of one GGUF type, stored as in the file. Rows are grouped into
// chunks of whole `rowGroup`s (an expert's rows for MoE tensors) so that each chunk fits one
// binding; kernels issue one dispatch per chunk, which keeps the splitting invisible to callers.
class WeightTensor {
public:
    struct Chunk {
        std::unique_ptr<Buffer> buffer;
        uint64_t firstRow = 0;
        uint64_t rows = 0;
        uint64_t bytes = 0; // rows * rowBytes
    };

    // `maxChunkBytes` 0 means the device's binding limit; tests pass smaller values to force splits.
    // Throws std::invalid_argument for an unknown type or cols not a multiple of the block size.
    static std::unique_ptr<WeightTensor> upload(Device& device, uint32_t ggmlType, uint64_t rows,
                                                uint64_t cols, const void* data, uint64_t rowGroup = 1,
                                                uint64_t maxChunkBytes = 0,
                                                const ProgressCallback& progress = {});

    uint32_t type() const { return type_; }
    uint64_t rows() const { return rows_; }
    uint64_t cols() const { return cols_; }
    uint64_t rowBytes() const { return rowBytes_; }
    uint64_t rowGroup() const { return rowGroup_; }
    uint64_t totalBytes() const { return rows_ * rowBytes_; }
    const std::vector<Chunk>& chunks() const { return chunks_; }
    BufferRange chunkRange(size_t i) const;

private:
    uint32_t type_ = 0;
    uint64_t rows_ = 0, cols_ = 0, rowBytes_ = 0, rowGroup_ = 1;
    std::vector<Chunk> chunks_;
};

} // namespace ocelle::vulkan
