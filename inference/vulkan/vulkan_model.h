// The Gemma 4 text decoder on a Vulkan device: the same layer plan as the CPU path (model/layer_plan.h),
// executed by the compute kernels (vulkan/kernels.h). Weights are uploaded once, quantized as in the
// file; the per-layer token-embedding table stays in host memory and only the rows a pass needs are
// uploaded. A session owns the device KV caches and working buffers; each pass of up to maxBatch
// tokens is one command buffer, and the host waits only for the logits.
//
//     auto model = ocelle::vulkan::VulkanModel::load("gemma-4-E2B.gguf", {.forced = "0"});
//     auto session = model->createSession({.contextLength = 8192});
//     auto logits = session->prefill(promptIds);   // last position's logits (n_vocab, softcapped)
//     logits = session->decode(nextId);
//
// Errors mirror cpu::CpuSession: ContextFull (nothing evaluated), Cancelled (seen between passes;
// finished passes stay committed), std::invalid_argument for bad ids or soft tokens, VulkanError for
// device problems (including out-of-memory with what was needed and available).
#pragma once

#include "model/layer_plan.h"
#include "vulkan/kernels.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace ocelle::vulkan {

class ContextFull : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Cancelled : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct VulkanSessionOptions {
    int64_t contextLength = 4096;
    // Tokens per pass (one command buffer). Sliding rings get maxBatch - 1 extra slots so a pass can
    // store all its keys before attending.
    int maxBatch = 64;
    // Extra slots in each sliding ring, as cpu::SessionOptions::slidingSlack (for truncate()).
    int slidingSlack = 0;
    // K and V cached as fp16 (half the memory and cache reads; scores, softmax and sums stay fp32).
    bool kvF16 = false;
};

// Encoder output replacing the embeddings of `count` positions from index `first` of the ids
// (n_embd-wide rows, unscaled; the per-layer embedding's token part uses id 0 there).
struct VulkanSoftTokens {
    int64_t first = 0;
    int64_t count = 0;
    std::span<const float> embeddings;
    // The span's tokens also see its later positions on sliding layers (cpu::SoftTokens::bidirectional);
    // such a span is evaluated in one pass, so it must not exceed maxBatch.
    bool bidirectional = false;
};

enum class VulkanLogits { None, Last, All };

class VulkanSession;

class VulkanModel {
public:
    // Opens the device (options.forced / OCELLE_VULKAN_DEVICE / automatic choice) and uploads.
    static std::unique_ptr<VulkanModel> load(const std::string& path, const DeviceOptions& deviceOptions = {},
                                             const ProgressCallback& progress = {});
    VulkanModel(std::unique_ptr<model::Model> model, std::unique_ptr<Device> device,
                const ProgressCallback& progress = {});
    ~VulkanModel();

    const model::Model& model() const { return *model_; }
    const model::HyperParams& hparams() const { return model_->hparams(); }
    Device& device() const { return *device_; }
    uint64_t deviceWeightBytes() const { return deviceWeightBytes_; }
    const Kernels& kernels() const { return *kernels_; } // which kernel paths were chosen (tuning())

    // Sessions share the model's pipelines: run one pass at a time per model.
    std::unique_ptr<VulkanSession> createSession(const VulkanSessionOptions& options = {});

private:
    friend class VulkanSession;
    struct Weights;
    std::unique_ptr<model::Model> model_;
    std::unique_ptr<Device> device_;
    std::unique_ptr<Pipelines> pipelines_;
    std::unique_ptr<Kernels> kernels_;
    std::unique_ptr<Weights> weights_;
    uint64_t deviceWeightBytes_ = 0;
};

class VulkanSession {
public:
    ~VulkanSession();

    // Evaluates ids at positions position(), position()+1, ... and returns the requested logits
    // (Last: n_vocab values; All: ids.size() rows; None: empty), in passes of maxBatch tokens.
    std::vector<float> prefill(std::span<const int32_t> ids, VulkanLogits logits = VulkanLogits::Last,
                               std::span<const VulkanSoftTokens> softTokens = {});
    std::vector<float> decode(int32_t id);

    // Checked before every pass. nullptr: never cancelled.
    void setCancelFlag(const std::atomic<bool>* flag) { cancel_ = flag; }

    int64_t position() const { return position_; }
    int64_t contextLength() const { return options_.contextLength; }
    const VulkanSessionOptions& options() const { return options_; }
    int nVocab() const;

    void reset() { position_ = 0; }
    bool canTruncateTo(int64_t newPosition) const;
    void truncate(int64_t newPosition); // throws std::invalid_argument when !canTruncateTo
    size_t memoryBytes() const;         // device KV caches and working buffers

private:
    friend class VulkanModel;
    VulkanSession(VulkanModel& model, const VulkanSessionOptions& options);
    struct Impl;
    VulkanModel& model_;
    VulkanSessionOptions options_;
    int64_t position_ = 0;
    const std::atomic<bool>* cancel_ = nullptr;
    std::unique_ptr<Impl> impl_;
};

} // namespace ocelle::vulkan
