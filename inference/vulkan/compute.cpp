#include "vulkan/compute.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace ocelle::vulkan {

namespace {
constexpr uint32_t kSetsPerPool = 256;
constexpr uint32_t kProfileQueries = 8192;

// Process-wide sums of the profiled submissions, printed at exit.
struct Profile {
    struct Entry {
        uint64_t dispatches = 0;
        double ns = 0;
    };
    std::mutex mutex;
    std::map<std::string, Entry> shaders;
    uint64_t submissions = 0, dispatches = 0, barriers = 0;
    double ns = 0;
    ~Profile() {
        if (!submissions) return;
        std::fprintf(stderr,
                     "vulkan profile: %llu submissions, %.1f dispatches and %.1f barriers each, %.3f ms of "
                     "device time each\n",
                     (unsigned long long)submissions, double(dispatches) / double(submissions),
                     double(barriers) / double(submissions), ns / 1e6 / double(submissions));
        std::vector<std::pair<std::string, Entry>> sorted(shaders.begin(), shaders.end());
        std::sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) { return a.second.ns > b.second.ns; });
        std::fprintf(
            stderr,
            "| shader | dispatches | ms total | share | us per dispatch |\n|---|---:|---:|---:|---:|\n");
        for (const auto& [name, e] : sorted)
            std::fprintf(stderr, "| %s | %llu | %.1f | %.1f%% | %.1f |\n", name.c_str(),
                         (unsigned long long)e.dispatches, e.ns / 1e6, ns > 0 ? 100.0 * e.ns / ns : 0.0,
                         e.ns / 1e3 / double(e.dispatches));
    }
};
Profile& profile() {
    static Profile p;
    return p;
}
} // namespace

bool Recorder::profiling() {
    static const bool on = [] {
        const char* env = std::getenv("OCELLE_VULKAN_PROFILE");
        return env && std::strcmp(env, "1") == 0;
    }();
    return on;
}

// ---------------------------------------------------------------------------------------------
// Pipelines

Pipelines::Pipelines(Device& device) : device_(device) {
    VkDescriptorSetLayoutBinding bindings[kMaxBindings]{};
    for (uint32_t i = 0; i < kMaxBindings; ++i) {
        bindings[i].binding = i;
        bindings[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        bindings[i].descriptorCount = 1;
        bindings[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
    }
    VkDescriptorSetLayoutCreateInfo setInfo{};
    setInfo.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO;
    setInfo.bindingCount = kMaxBindings;
    setInfo.pBindings = bindings;
    check(vk().vkCreateDescriptorSetLayout(device.handle(), &setInfo, nullptr, &setLayout_),
          "vkCreateDescriptorSetLayout");

    VkPushConstantRange push{VK_SHADER_STAGE_COMPUTE_BIT, 0, kPushConstantBytes};
    VkPipelineLayoutCreateInfo layoutInfo{};
    layoutInfo.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO;
    layoutInfo.setLayoutCount = 1;
    layoutInfo.pSetLayouts = &setLayout_;
    layoutInfo.pushConstantRangeCount = 1;
    layoutInfo.pPushConstantRanges = &push;
    check(vk().vkCreatePipelineLayout(device.handle(), &layoutInfo, nullptr, &layout_),
          "vkCreatePipelineLayout");

    VkPipelineCacheCreateInfo cacheInfo{};
    cacheInfo.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO;
    check(vk().vkCreatePipelineCache(device.handle(), &cacheInfo, nullptr, &cache_), "vkCreatePipelineCache");
}

Pipelines::~Pipelines() {
    VkDevice d = device_.handle();
    for (auto& [key, pipeline] : pipelines_) vk().vkDestroyPipeline(d, pipeline, nullptr);
    vk().vkDestroyPipelineCache(d, cache_, nullptr);
    vk().vkDestroyPipelineLayout(d, layout_, nullptr);
    vk().vkDestroyDescriptorSetLayout(d, setLayout_, nullptr);
}

VkPipeline Pipelines::get(const std::string& shader, const std::vector<uint32_t>& specialization) {
    auto key = std::make_pair(shader, specialization);
    if (auto it = pipelines_.find(key); it != pipelines_.end()) return it->second;
    const ShaderCode* code = findShader(shader);
    if (!code) throw VulkanError("no embedded shader named \"" + shader + "\"");

    VkShaderModuleCreateInfo moduleInfo{};
    moduleInfo.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO;
    moduleInfo.codeSize = code->wordCount * 4;
    moduleInfo.pCode = code->words;
    VkShaderModule module = VK_NULL_HANDLE;
    check(vk().vkCreateShaderModule(device_.handle(), &moduleInfo, nullptr, &module), "vkCreateShaderModule");

    std::vector<VkSpecializationMapEntry> entries(specialization.size());
    for (uint32_t i = 0; i < entries.size(); ++i) entries[i] = {i, i * 4, 4};
    VkSpecializationInfo spec{};
    spec.mapEntryCount = static_cast<uint32_t>(entries.size());
    spec.pMapEntries = entries.data();
    spec.dataSize = specialization.size() * 4;
    spec.pData = specialization.data();

    VkComputePipelineCreateInfo info{};
    info.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO;
    info.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    info.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    info.stage.module = module;
    info.stage.pName = "main";
    info.stage.pSpecializationInfo = specialization.empty() ? nullptr : &spec;
    info.layout = layout_;
    VkPipeline pipeline = VK_NULL_HANDLE;
    VkResult r = vk().vkCreateComputePipelines(device_.handle(), cache_, 1, &info, nullptr, &pipeline);
    vk().vkDestroyShaderModule(device_.handle(), module, nullptr);
    check(r, ("creating the compute pipeline " + shader).c_str());
    pipelines_.emplace(std::move(key), pipeline);
    return pipeline;
}

// ---------------------------------------------------------------------------------------------
// Recorder

Recorder::Recorder(Pipelines& pipelines) : pipelines_(pipelines) {
    Device& device = pipelines.device();
    VkCommandBufferAllocateInfo alloc{};
    alloc.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
    alloc.commandPool = device.commandPool();
    alloc.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    alloc.commandBufferCount = 1;
    check(vk().vkAllocateCommandBuffers(device.handle(), &alloc, &commandBuffer_),
          "vkAllocateCommandBuffers");
    VkFenceCreateInfo fenceInfo{};
    fenceInfo.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO;
    check(vk().vkCreateFence(device.handle(), &fenceInfo, nullptr, &fence_), "vkCreateFence");
    dummy_ = std::make_unique<Buffer>(device, 256, MemoryKind::DeviceLocal);
    if (profiling() && device.features().timestampPeriodNs > 0) {
        VkQueryPoolCreateInfo info{};
        info.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO;
        info.queryType = VK_QUERY_TYPE_TIMESTAMP;
        info.queryCount = kProfileQueries;
        check(vk().vkCreateQueryPool(device.handle(), &info, nullptr, &queries_), "vkCreateQueryPool");
    }
}

Recorder::~Recorder() {
    VkDevice d = device().handle();
    if (pending_) vk().vkWaitForFences(d, 1, &fence_, VK_TRUE, UINT64_MAX);
    for (VkDescriptorPool pool : pools_) vk().vkDestroyDescriptorPool(d, pool, nullptr);
    if (queries_) vk().vkDestroyQueryPool(d, queries_, nullptr);
    vk().vkDestroyFence(d, fence_, nullptr);
    vk().vkFreeCommandBuffers(d, device().commandPool(), 1, &commandBuffer_);
}

void Recorder::begin() {
    if (pending_) wait();
    VkDevice d = device().handle();
    for (VkDescriptorPool pool : pools_)
        check(vk().vkResetDescriptorPool(d, pool, 0), "vkResetDescriptorPool");
    currentPool_ = 0;
    setsUsedInLastPool_ = 0;
    check(vk().vkResetCommandBuffer(commandBuffer_, 0), "vkResetCommandBuffer");
    VkCommandBufferBeginInfo info{};
    info.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
    info.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    check(vk().vkBeginCommandBuffer(commandBuffer_, &info), "vkBeginCommandBuffer");
    recording_ = true;
    queryShaders_.clear();
    if (queries_) {
        vk().vkCmdResetQueryPool(commandBuffer_, queries_, 0, kProfileQueries);
        vk().vkCmdWriteTimestamp(commandBuffer_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_, 0);
    }
    unsyncedReads_.clear();
    unsyncedWrites_.clear();
    dispatches_ = 0;
    barriers_ = 0;
}

VkDescriptorSet Recorder::allocateSet() {
    VkDevice d = device().handle();
    if (pools_.empty() || setsUsedInLastPool_ == kSetsPerPool) {
        if (!pools_.empty()) ++currentPool_;
        setsUsedInLastPool_ = 0;
        if (currentPool_ >= pools_.size()) {
            VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kSetsPerPool * kMaxBindings};
            VkDescriptorPoolCreateInfo info{};
            info.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO;
            info.maxSets = kSetsPerPool;
            info.poolSizeCount = 1;
            info.pPoolSizes = &size;
            VkDescriptorPool pool = VK_NULL_HANDLE;
            check(vk().vkCreateDescriptorPool(d, &info, nullptr, &pool), "vkCreateDescriptorPool");
            pools_.push_back(pool);
            currentPool_ = pools_.size() - 1;
        }
    }
    VkDescriptorSetLayout layout = pipelines_.setLayout();
    VkDescriptorSetAllocateInfo alloc{};
    alloc.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO;
    alloc.descriptorPool = pools_[currentPool_];
    alloc.descriptorSetCount = 1;
    alloc.pSetLayouts = &layout;
    VkDescriptorSet set = VK_NULL_HANDLE;
    check(vk().vkAllocateDescriptorSets(d, &alloc, &set), "vkAllocateDescriptorSets");
    ++setsUsedInLastPool_;
    return set;
}

bool Recorder::overlaps(const std::vector<Span>& spans, const Span& s) {
    for (const Span& o : spans)
        if (o.buffer == s.buffer && o.begin < s.end && s.begin < o.end) return true;
    return false;
}

void Recorder::barrier() {
    VkMemoryBarrier mb{};
    mb.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER;
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT |
                       VK_ACCESS_TRANSFER_READ_BIT;
    const VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    vk().vkCmdPipelineBarrier(commandBuffer_, stages, stages, 0, 1, &mb, 0, nullptr, 0, nullptr);
    unsyncedReads_.clear();
    unsyncedWrites_.clear();
    ++barriers_;
}

void Recorder::syncFor(const std::vector<Binding>& bindings) {
    bool needed = false;
    for (const Binding& b : bindings) {
        if (b.range.buffer == VK_NULL_HANDLE) continue;
        const Span s{b.range.buffer, b.range.offset, b.range.offset + b.range.bytes};
        // Read after write, write after write, write after read.
        if (overlaps(unsyncedWrites_, s)) needed = true;
        if (b.access != Access::Read && overlaps(unsyncedReads_, s)) needed = true;
    }
    if (needed) barrier();
    for (const Binding& b : bindings) {
        if (b.range.buffer == VK_NULL_HANDLE) continue;
        const Span s{b.range.buffer, b.range.offset, b.range.offset + b.range.bytes};
        if (b.access == Access::Read)
            unsyncedReads_.push_back(s);
        else
            unsyncedWrites_.push_back(s); // a read-write span also counts as written
    }
}

void Recorder::dispatch(const Dispatch& d) {
    if (!recording_) throw VulkanError("Recorder::dispatch outside begin()/submit()");
    if (d.bindings.size() > kMaxBindings) throw VulkanError("too many bindings for shader " + d.shader);
    if (d.pushBytes > kPushConstantBytes)
        throw VulkanError("push constants too large for shader " + d.shader);
    const uint64_t maxRange = device().features().maxStorageBufferRange;
    for (const Binding& b : d.bindings)
        if (b.range.bytes > maxRange)
            throw VulkanError("a binding of " + std::to_string(b.range.bytes) + " bytes for " + d.shader +
                              " exceeds maxStorageBufferRange (split it)");
    for (int i = 0; i < 3; ++i)
        if (d.groups[i] > device().features().maxWorkgroupCount[i])
            throw VulkanError("dispatch of " + d.shader + " exceeds the device's workgroup count limit");
    if (d.groups[0] == 0 || d.groups[1] == 0 || d.groups[2] == 0) return;

    VkPipeline pipeline = pipelines_.get(d.shader, d.specialization);
    syncFor(d.bindings);

    VkDescriptorSet set = allocateSet();
    VkDescriptorBufferInfo infos[kMaxBindings];
    VkWriteDescriptorSet writes[kMaxBindings];
    for (uint32_t i = 0; i < kMaxBindings; ++i) {
        const bool used = i < d.bindings.size() && d.bindings[i].range.buffer != VK_NULL_HANDLE;
        if (used)
            infos[i] = {d.bindings[i].range.buffer, d.bindings[i].range.offset, d.bindings[i].range.bytes};
        else
            infos[i] = {dummy_->handle(), 0, VK_WHOLE_SIZE};
        writes[i] = VkWriteDescriptorSet{};
        writes[i].sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
        writes[i].dstSet = set;
        writes[i].dstBinding = i;
        writes[i].descriptorCount = 1;
        writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        writes[i].pBufferInfo = &infos[i];
    }
    vk().vkUpdateDescriptorSets(device().handle(), kMaxBindings, writes, 0, nullptr);

    vk().vkCmdBindPipeline(commandBuffer_, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
    vk().vkCmdBindDescriptorSets(commandBuffer_, VK_PIPELINE_BIND_POINT_COMPUTE, pipelines_.layout(), 0, 1,
                                 &set, 0, nullptr);
    // Always push the full range so every shader's block is defined (the rest is zero).
    uint8_t push[kPushConstantBytes] = {};
    if (d.push) std::memcpy(push, d.push, d.pushBytes);
    vk().vkCmdPushConstants(commandBuffer_, pipelines_.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0,
                            kPushConstantBytes, push);
    vk().vkCmdDispatch(commandBuffer_, d.groups[0], d.groups[1], d.groups[2]);
    ++dispatches_;
    if (queries_ && queryShaders_.size() + 1 < kProfileQueries) {
        queryShaders_.push_back(d.shader);
        vk().vkCmdWriteTimestamp(commandBuffer_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_,
                                 uint32_t(queryShaders_.size()));
    }
}

void Recorder::fill(BufferRange range, uint32_t value) {
    if (!recording_) throw VulkanError("Recorder::fill outside begin()/submit()");
    syncFor({writes(range)});
    vk().vkCmdFillBuffer(commandBuffer_, range.buffer, range.offset, range.bytes, value);
}

void Recorder::submit() {
    if (!recording_) throw VulkanError("Recorder::submit without begin()");
    // Make the last writes visible to the host for downloads of mapped memory after wait().
    VkMemoryBarrier mb{};
    mb.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER;
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    vk().vkCmdPipelineBarrier(commandBuffer_,
                              VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                              VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
    check(vk().vkEndCommandBuffer(commandBuffer_), "vkEndCommandBuffer");
    recording_ = false;
    VkSubmitInfo submit{};
    submit.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO;
    submit.commandBufferCount = 1;
    submit.pCommandBuffers = &commandBuffer_;
    check(vk().vkResetFences(device().handle(), 1, &fence_), "vkResetFences");
    check(vk().vkQueueSubmit(device().queue(), 1, &submit, fence_), "vkQueueSubmit");
    pending_ = true;
}

void Recorder::wait() {
    if (!pending_) return;
    check(vk().vkWaitForFences(device().handle(), 1, &fence_, VK_TRUE, UINT64_MAX), "vkWaitForFences");
    pending_ = false;
    if (!queries_) return;
    std::vector<uint64_t> stamps(queryShaders_.size() + 1);
    check(vk().vkGetQueryPoolResults(device().handle(), queries_, 0, uint32_t(stamps.size()),
                                     stamps.size() * 8, stamps.data(), 8,
                                     VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
          "vkGetQueryPoolResults");
    const double period = device().features().timestampPeriodNs;
    Profile& p = profile();
    std::lock_guard lock(p.mutex);
    ++p.submissions;
    p.dispatches += dispatches_;
    p.barriers += barriers_;
    for (size_t i = 0; i < queryShaders_.size(); ++i) {
        const double ns = double(stamps[i + 1] - stamps[i]) * period;
        auto& e = p.shaders[queryShaders_[i]];
        ++e.dispatches;
        e.ns += ns;
        p.ns += ns;
    }
}

} // namespace ocelle::vulkan
