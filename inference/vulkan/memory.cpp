#include "vulkan/memory.h"

#include "gguf/tensor_types.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace ocelle::vulkan {

namespace {

std::optional<uint32_t> findMemoryType(const VkPhysicalDeviceMemoryProperties& props, uint32_t allowed,
                                       VkMemoryPropertyFlags want) {
    for (uint32_t i = 0; i < props.memoryTypeCount; ++i)
        if ((allowed & (1u << i)) && (props.memoryTypes[i].propertyFlags & want) == want) return i;
    return std::nullopt;
}

std::string mib(uint64_t bytes) {
    return std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB";
}

// Shaders read weights as 32-bit words and may read one word past a row's last byte.
constexpr uint64_t kTailSlack = 16;

constexpr uint64_t kStagingBytes = 64ull << 20;

} // namespace

Buffer::Buffer(Device& device, uint64_t bytes, MemoryKind kind) : device_(device), size_(bytes) {
    if (bytes == 0) throw VulkanError("cannot create an empty Vulkan buffer");
    VkBufferCreateInfo info{};
    info.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
    info.size = bytes;
    info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                 VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    check(vk().vkCreateBuffer(device.handle(), &info, nullptr, &buffer_), "vkCreateBuffer");
    VkMemoryRequirements req{};
    vk().vkGetBufferMemoryRequirements(device.handle(), buffer_, &req);

    const auto& props = device.memoryProperties();
    std::optional<uint32_t> type;
    switch (kind) {
    case MemoryKind::DeviceLocal:
        // UMA (integrated GPUs, lavapipe): device-local memory that is also host-visible lets uploads
        // be a memcpy; discrete GPUs fall through to plain device-local memory.
        type = findMemoryType(props, req.memoryTypeBits,
                              VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                  VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
        if (type && device.info().type == DeviceType::DiscreteGpu) type.reset(); // keep the small BAR free
        if (!type) type = findMemoryType(props, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
        break;
    case MemoryKind::Readback:
        type = findMemoryType(props, req.memoryTypeBits,
                              VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT |
                                  VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
        [[fallthrough]];
    case MemoryKind::Staging:
        if (!type)
            type = findMemoryType(props, req.memoryTypeBits,
                                  VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
        break;
    }
    if (!type) type = findMemoryType(props, req.memoryTypeBits, 0);
    if (!type) {
        vk().vkDestroyBuffer(device.handle(), buffer_, nullptr);
        throw VulkanError("no Vulkan memory type can hold a storage buffer");
    }
    const VkMemoryPropertyFlags flags = props.memoryTypes[*type].propertyFlags;
    VkMemoryAllocateInfo alloc{};
    alloc.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
    alloc.allocationSize = req.size;
    alloc.memoryTypeIndex = *type;
    VkResult r = vk().vkAllocateMemory(device.handle(), &alloc, nullptr, &memory_);
    if (r != VK_SUCCESS) {
        vk().vkDestroyBuffer(device.handle(), buffer_, nullptr);
        const uint64_t heap = props.memoryHeaps[props.memoryTypes[*type].heapIndex].size;
        throw VulkanError("out of Vulkan memory: allocating " + mib(req.size) + " failed (" + resultName(r) +
                          "; the heap holds " + mib(heap) + " in total)");
    }
    check(vk().vkBindBufferMemory(device.handle(), buffer_, memory_, 0), "vkBindBufferMemory");
    // Only coherent memory is mapped, so no flush/invalidate calls are needed anywhere.
    const VkMemoryPropertyFlags mappable =
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    VkResult mapped = VK_SUCCESS;
    if ((flags & mappable) == mappable)
        mapped = vk().vkMapMemory(device.handle(), memory_, 0, VK_WHOLE_SIZE, 0, &mapped_);
    if (mapped != VK_SUCCESS || (!mapped_ && kind != MemoryKind::DeviceLocal)) {
        // The destructor does not run for a throwing constructor: release here.
        vk().vkDestroyBuffer(device.handle(), buffer_, nullptr);
        vk().vkFreeMemory(device.handle(), memory_, nullptr);
        throw VulkanError(mapped != VK_SUCCESS ? std::string("vkMapMemory failed: ") + resultName(mapped)
                                               : "no host-visible coherent Vulkan memory for staging");
    }
}

Buffer::~Buffer() {
    if (mapped_) vk().vkUnmapMemory(device_.handle(), memory_);
    vk().vkDestroyBuffer(device_.handle(), buffer_, nullptr);
    vk().vkFreeMemory(device_.handle(), memory_, nullptr);
}

void upload(Device& device, Buffer& dst, uint64_t dstOffset, const void* data, uint64_t bytes) {
    if (dstOffset + bytes > dst.size()) throw VulkanError("upload past the end of a Vulkan buffer");
    if (bytes == 0) return;
    if (dst.mapped()) {
        // Host-visible (and, as chosen above, coherent for device-local memory): no staging needed.
        std::memcpy(static_cast<char*>(dst.mapped()) + dstOffset, data, bytes);
        return;
    }
    Buffer staging(device, std::min(bytes, kStagingBytes), MemoryKind::Staging);
    for (uint64_t done = 0; done < bytes;) {
        const uint64_t n = std::min(bytes - done, staging.size());
        std::memcpy(staging.mapped(), static_cast<const char*>(data) + done, n);
        device.runNow([&](VkCommandBuffer cb) {
            VkBufferCopy region{0, dstOffset + done, n};
            vk().vkCmdCopyBuffer(cb, staging.handle(), dst.handle(), 1, &region);
        });
        done += n;
    }
}

void download(Device& device, const Buffer& src, uint64_t srcOffset, void* data, uint64_t bytes) {
    if (srcOffset + bytes > src.size()) throw VulkanError("download past the end of a Vulkan buffer");
    if (bytes == 0) return;
    if (src.mapped()) {
        std::memcpy(data, static_cast<const char*>(src.mapped()) + srcOffset, bytes);
        return;
    }
    Buffer staging(device, std::min(bytes, kStagingBytes), MemoryKind::Readback);
    for (uint64_t done = 0; done < bytes;) {
        const uint64_t n = std::min(bytes - done, staging.size());
        device.runNow([&](VkCommandBuffer cb) {
            VkBufferCopy region{srcOffset + done, 0, n};
            vk().vkCmdCopyBuffer(cb, src.handle(), staging.handle(), 1, &region);
        });
        std::memcpy(static_cast<char*>(data) + done, staging.mapped(), n);
        done += n;
    }
}

std::unique_ptr<WeightTensor> WeightTensor::upload(Device& device, uint32_t ggmlType, uint64_t rows,
                                                   uint64_t cols, const void* data, uint64_t rowGroup,
                                                   uint64_t maxChunkBytes, const ProgressCallback& progress) {
    const auto traits = gguf::typeTraits(ggmlType);
    if (!traits) throw std::invalid_argument("unknown tensor type id " + std::to_string(ggmlType));
    if (cols == 0 || rows == 0) throw std::invalid_argument("empty weight tensor");
    if (cols % traits->blockElements != 0)
        throw std::invalid_argument(std::string("row length ") + std::to_string(cols) +
                                    " is not a multiple of the " + traits->name + " block size " +
                                    std::to_string(traits->blockElements));
    if (rowGroup == 0 || rows % rowGroup != 0)
        throw std::invalid_argument("rows are not a whole number of row groups");

    auto t = std::unique_ptr<WeightTensor>(new WeightTensor());
    t->type_ = ggmlType;
    t->rows_ = rows;
    t->cols_ = cols;
    t->rowGroup_ = rowGroup;
    t->rowBytes_ = cols / traits->blockElements * traits->blockBytes;
    uint64_t limit = device.maxBindingBytes() - 2 * kTailSlack; // the binding covers the slack too
    if (maxChunkBytes) limit = std::min(limit, maxChunkBytes);
    const uint64_t groupBytes = t->rowBytes_ * rowGroup;
    if (groupBytes > limit)
        throw VulkanError("a weight row group of " + std::to_string(groupBytes) +
                          " bytes exceeds the device's " + std::to_string(limit) +
                          "-byte storage-buffer range");
    const uint64_t rowsPerChunk = limit / groupBytes * rowGroup;
    const uint64_t total = rows * t->rowBytes_;
    for (uint64_t first = 0; first < rows; first += rowsPerChunk) {
        Chunk chunk;
        chunk.firstRow = first;
        chunk.rows = std::min(rowsPerChunk, rows - first);
        chunk.bytes = chunk.rows * t->rowBytes_;
        const uint64_t allocBytes = (chunk.bytes + kTailSlack + 15) / 16 * 16;
        chunk.buffer = std::make_unique<Buffer>(device, allocBytes, MemoryKind::DeviceLocal);
        const char* src = static_cast<const char*>(data) + first * t->rowBytes_;
        vulkan::upload(device, *chunk.buffer, 0, src, chunk.bytes);
        // Zero the slack so the words read past the end hold defined values.
        static const char zeros[kTailSlack + 16] = {};
        vulkan::upload(device, *chunk.buffer, chunk.bytes, zeros, allocBytes - chunk.bytes);
        t->chunks_.push_back(std::move(chunk));
        if (progress) progress(std::min(total, (first + rowsPerChunk) * t->rowBytes_), total);
    }
    return t;
}

BufferRange WeightTensor::chunkRange(size_t i) const {
    const Chunk& c = chunks_.at(i);
    return {c.buffer->handle(), 0, c.buffer->size()};
}

} // namespace ocelle::vulkan
