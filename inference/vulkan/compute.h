// Pipelines and command recording.
//
// Every pipeline shares one descriptor-set layout (kMaxBindings storage buffers) and one 128-byte
// push-constant range; shaders use the bindings they need. SPIR-V is compiled at build time and
// embedded (shader_blobs.cpp, generated); pipelines are created lazily per (shader, specialization
// constants) through one VkPipelineCache.
//
// A Recorder records many dispatches into one command buffer. It tracks the buffer ranges written
// and read since the last barrier and inserts a barrier only when a dispatch depends on (or
// overwrites) one of them, so independent kernels (Q/K/V projections) run back to back.
#pragma once

#include "vulkan/memory.h"

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ocelle::vulkan {

struct ShaderCode {
    const char* name;
    const uint32_t* words;
    size_t wordCount;
};
// The embedded shader called `name` (file name without .comp, plus variant suffix), or null.
const ShaderCode* findShader(std::string_view name);
std::vector<std::string> shaderNames();

constexpr uint32_t kMaxBindings = 8;
constexpr uint32_t kPushConstantBytes = 128;

class Pipelines {
public:
    explicit Pipelines(Device& device);
    ~Pipelines();
    Pipelines(const Pipelines&) = delete;
    Pipelines& operator=(const Pipelines&) = delete;

    // Specialization constant i gets id i. Throws VulkanError for an unknown shader.
    VkPipeline get(const std::string& shader, const std::vector<uint32_t>& specialization);
    VkPipelineLayout layout() const { return layout_; }
    VkDescriptorSetLayout setLayout() const { return setLayout_; }
    Device& device() const { return device_; }
    size_t count() const { return pipelines_.size(); }

private:
    Device& device_;
    VkDescriptorSetLayout setLayout_ = VK_NULL_HANDLE;
    VkPipelineLayout layout_ = VK_NULL_HANDLE;
    VkPipelineCache cache_ = VK_NULL_HANDLE;
    std::map<std::pair<std::string, std::vector<uint32_t>>, VkPipeline> pipelines_;
};

enum class Access { Read, Write, ReadWrite };

struct Binding {
    BufferRange range;
    Access access = Access::Read;
};
inline Binding reads(BufferRange r) {
    return {r, Access::Read};
}
inline Binding writes(BufferRange r) {
    return {r, Access::Write};
}
inline Binding readsWrites(BufferRange r) {
    return {r, Access::ReadWrite};
}

struct Dispatch {
    std::string shader;
    std::vector<uint32_t> specialization;
    std::vector<Binding> bindings; // binding i of the shader; an empty range leaves it on a dummy buffer
    const void* push = nullptr;
    uint32_t pushBytes = 0;
    uint32_t groups[3] = {1, 1, 1};
};

class Recorder {
public:
    explicit Recorder(Pipelines& pipelines);
    ~Recorder();
    Recorder(const Recorder&) = delete;
    Recorder& operator=(const Recorder&) = delete;

    // Starts a new command buffer (waits for the previous submission first) and recycles the
    // descriptor sets of the previous recording.
    void begin();
    void dispatch(const Dispatch& d);
    // vkCmdFillBuffer (e.g. zeroing an accumulator); ordered like a dispatch that writes `range`.
    void fill(BufferRange range, uint32_t value);
    // Forces a full barrier (rarely needed: dispatch() inserts the ones dependencies require).
    void barrier();
    // Ends and submits; wait() blocks until the device finished. The CPU waits only here.
    void submit();
    void wait();
    void submitAndWait() {
        submit();
        wait();
    }

    Pipelines& pipelines() const { return pipelines_; }
    Device& device() const { return pipelines_.device(); }
    uint32_t dispatchCount() const { return dispatches_; }
    uint32_t barrierCount() const { return barriers_; }

    // OCELLE_VULKAN_PROFILE=1 (and a device with timestamps): a timestamp after every dispatch; the
    // time per shader, dispatches and barriers per submission are summed over the process and
    // printed to stderr at exit. Off: no queries are recorded.
    static bool profiling();

private:
    struct Span {
        VkBuffer buffer;
        uint64_t begin, end;
    };
    static bool overlaps(const std::vector<Span>& spans, const Span& s);
    void syncFor(const std::vector<Binding>& bindings);
    VkDescriptorSet allocateSet();

    Pipelines& pipelines_;
    VkCommandBuffer commandBuffer_ = VK_NULL_HANDLE;
    VkFence fence_ = VK_NULL_HANDLE;
    bool recording_ = false;
    bool pending_ = false;
    std::vector<VkDescriptorPool> pools_;
    uint32_t setsUsedInLastPool_ = 0;
    size_t currentPool_ = 0;
    std::unique_ptr<Buffer> dummy_;
    VkQueryPool queries_ = VK_NULL_HANDLE;
    std::vector<std::string> queryShaders_; // shader of timestamp i + 1 (0 is the start)
    std::vector<Span> unsyncedWrites_;
    std::vector<Span> unsyncedReads_;
    uint32_t dispatches_ = 0;
    uint32_t barriers_ = 0;
};

} // namespace ocelle::vulkan
