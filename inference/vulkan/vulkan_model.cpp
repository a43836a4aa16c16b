#include "vulkan/vulkan_model.h"

#include "gguf/dequant.h"
#include "gguf/gguf.h"
#include "gguf/tensor_types.h"

#include <algorithm>
#include <cmath>

namespace ocelle::vulkan {

using model::LayerPlan;
using model::ModelPlan;

namespace {

std::string mib(uint64_t bytes) {
    return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB";
}

uint64_t uploadBytes(const model::Weight& w) {
    return w ? uint64_t(w.rows) * w.rowBytes : 0;
}

uint32_t u32(int64_t v) {
    return static_cast<uint32_t>(v);
}

} // namespace

// ---- weights on the device ----

struct VulkanModel::Weights {
    struct Layer {
        std::unique_ptr<WeightTensor> q, k, v, output, gate, up, down;
        std::unique_ptr<WeightTensor> router, expertGateUp, expertGate, expertUp, expertDown;
        std::unique_ptr<WeightTensor> pleGate, pleProjection;
        std::unique_ptr<Buffer> attnNorm, postAttentionNorm, qNorm, kNorm, ffnNorm, postFfwNorm;
        std::unique_ptr<Buffer> routerScale, downScale, preNorm2, postNorm1, postNorm2, plePostNorm;
    };
    std::unique_ptr<WeightTensor> tokenEmbedding, perLayerModelProjection;
    std::unique_ptr<Buffer> outputNorm, ropeFreqFactors, perLayerProjectionNorm;
    std::vector<Layer> layers;
};

std::unique_ptr<VulkanModel> VulkanModel::load(const std::string& path, const DeviceOptions& deviceOptions,
                                               const ProgressCallback& progress) {
    auto model = model::Model::load(path);
    return std::make_unique<VulkanModel>(std::move(model), Device::open(deviceOptions), progress);
}

VulkanModel::VulkanModel(std::unique_ptr<model::Model> model, std::unique_ptr<Device> device,
                         const ProgressCallback& progress)
    : model_(std::move(model)), device_(std::move(device)) {
    const ModelPlan& plan = model_->plan();
    const auto& hp = plan.hp;
    for (const auto& layer : plan.layers)
        if (layer.attention.ropeDims != layer.attention.headDim)
            throw VulkanError("layer " + std::to_string(layer.index) + " rotates " +
                              std::to_string(layer.attention.ropeDims) + " of " +
                              std::to_string(layer.attention.headDim) +
                              " dimensions; the Vulkan RoPE kernel rotates whole heads");

    // Everything but the per-layer token table goes to the device: check it fits first.
    uint64_t total = uploadBytes(plan.tokenEmbedding) + uploadBytes(plan.perLayerModelProjection);
    for (const auto& l : plan.layers) {
        for (const auto* w : {&l.attention.q, &l.attention.k, &l.attention.v, &l.attention.output,
                              &l.ffn.gate, &l.ffn.up, &l.ffn.down})
            total += uploadBytes(*w);
        if (l.moe)
            for (const auto* w : {&l.moe->router, &l.moe->gateUp, &l.moe->gate, &l.moe->up, &l.moe->down})
                total += uploadBytes(*w);
        if (l.perLayerInput)
            total += uploadBytes(l.perLayerInput->inputGate) + uploadBytes(l.perLayerInput->projection);
    }
    const uint64_t available = device_->info().deviceLocalBytes;
    if (available && total > available)
        throw VulkanError("out of device memory: the model's weights need " + mib(total) + " but " +
                          device_->info().name + " has " + mib(available));

    uint64_t done = 0;
    auto put = [&](const model::Weight& w) -> std::unique_ptr<WeightTensor> {
        if (!w) return nullptr;
        const uint64_t base = done;
        auto tensor = WeightTensor::upload(*device_, w.type, uint64_t(w.rows), uint64_t(w.cols), w.data,
                                           uint64_t(w.rows / w.experts), 0, [&](uint64_t d, uint64_t) {
                                               if (progress) progress(base + d, total);
                                           });
        done += uploadBytes(w);
        deviceWeightBytes_ += tensor->totalBytes();
        return tensor;
    };
    auto vec = [&](const std::vector<float>& v) -> std::unique_ptr<Buffer> {
        if (v.empty()) return nullptr;
        auto buffer = std::make_unique<Buffer>(*device_, v.size() * 4);
        upload(*device_, *buffer, 0, v.data(), v.size() * 4);
        return buffer;
    };

    weights_ = std::make_unique<Weights>();
    auto& W = *weights_;
    W.tokenEmbedding = put(plan.tokenEmbedding);
    W.perLayerModelProjection = put(plan.perLayerModelProjection);
    W.outputNorm = vec(plan.outputNorm);
    W.ropeFreqFactors = vec(plan.ropeFreqFactors);
    W.perLayerProjectionNorm = vec(plan.perLayerProjectionNorm);
    for (const auto& l : plan.layers) {
        Weights::Layer d;
        const auto& a = l.attention;
        d.q = put(a.q);
        if (a.ownsKv) {
            d.k = put(a.k);
            if (!a.valueFromKey) d.v = put(a.v);
        }
        d.output = put(a.output);
        d.qNorm = vec(a.qNorm);
        d.kNorm = vec(a.kNorm);
        d.attnNorm = vec(l.attnNorm);
        d.postAttentionNorm = vec(l.postAttentionNorm);
        d.ffnNorm = vec(l.ffnNorm);
        d.postFfwNorm = vec(l.postFfwNorm);
        d.gate = put(l.ffn.gate);
        d.up = put(l.ffn.up);
        d.down = put(l.ffn.down);
        if (l.moe) {
            const auto& m = *l.moe;
            d.router = put(m.router);
            d.expertGateUp = put(m.gateUp);
            d.expertGate = put(m.gate);
            d.expertUp = put(m.up);
            d.expertDown = put(m.down);
            // Router input: rms(x) / sqrt(n_embd) * scale, folded into one norm weight.
            std::vector<float> scale(m.routerScale);
            for (auto& s : scale) s /= std::sqrt(float(hp.nEmbd));
            d.routerScale = vec(scale);
            d.downScale = vec(m.downScale);
            d.preNorm2 = vec(m.preNorm2);
            d.postNorm1 = vec(m.postNorm1);
            d.postNorm2 = vec(m.postNorm2);
        }
        if (l.perLayerInput) {
            d.pleGate = put(l.perLayerInput->inputGate);
            d.pleProjection = put(l.perLayerInput->projection);
            d.plePostNorm = vec(l.perLayerInput->postNorm);
        }
        W.layers.push_back(std::move(d));
    }
    pipelines_ = std::make_unique<Pipelines>(*device_);
    kernels_ = std::make_unique<Kernels>(*pipelines_);
}

VulkanModel::~VulkanModel() = default;

std::unique_ptr<VulkanSession> VulkanModel::createSession(const VulkanSessionOptions& options) {
    return std::unique_ptr<VulkanSession>(new VulkanSession(*this, options));
}

// ---- sessions ----

struct VulkanSession::Impl {
    VulkanModel& owner;
    const ModelPlan& plan;
    Device& dev;
    Kernels& k;
    Recorder rec;
    int batch = 0; // tokens per pass the working buffers hold
    bool kvF16 = false;
    int64_t widestQ = 0, widestKv = 0, widestFfn = 0;
    int logitRows = 0; // rows the logits buffer holds
    struct Cache {
        std::unique_ptr<Buffer> k, v;
        uint32_t slots = 0;
        bool sliding = false;
        int window = 0;
    };
    std::vector<Cache> caches;
    // Working buffers, [token][width].
    std::unique_ptr<Buffer> ids, x, normed, q, kNew, vNew, attn, proj, hidden, gate, up, dense, moeAcc;
    std::unique_ptr<Buffer> routerLogits, expertIds, expertWeights, expertGate, expertUp, expertAct,
        expertOut;
    std::unique_ptr<Buffer> perLayerInputs, perLayerTokens, logits, scratch;
    uint64_t bytes = 0;

    Impl(VulkanModel& m)
        : owner(m), plan(m.model().plan()), dev(m.device()), k(*m.kernels_), rec(*m.pipelines_) {}

    std::unique_ptr<Buffer> buffer(uint64_t floats) {
        auto b = std::make_unique<Buffer>(dev, std::max<uint64_t>(floats, 4) * 4);
        bytes += b->size();
        return b;
    }

    void allocateWorking(int B);
    void forward(std::span<const int32_t> ids, int64_t p0, std::span<const VulkanSoftTokens> soft,
                 int64_t softOffset, VulkanLogits wanted, std::vector<float>& out);
    void attentionBlock(const LayerPlan& layer, const VulkanModel::Weights::Layer& w, uint32_t n, uint32_t p0,
                        uint32_t spanBegin, uint32_t spanEnd);
    void ffnBlock(const LayerPlan& layer, const VulkanModel::Weights::Layer& w, uint32_t n, float scale);
    void moeBlock(const LayerPlan& layer, const VulkanModel::Weights::Layer& w, uint32_t n, float scale);
    void perLayerInputBlock(const LayerPlan& layer, const VulkanModel::Weights::Layer& w, uint32_t n);
};

VulkanSession::VulkanSession(VulkanModel& model, const VulkanSessionOptions& options)
    : model_(model), options_(options), impl_(std::make_unique<Impl>(model)) {
    if (options_.contextLength < 1) throw std::invalid_argument("context length must be at least 1");
    if (options_.maxBatch < 1) throw std::invalid_argument("maxBatch must be at least 1");
    if (options_.slidingSlack < 0) throw std::invalid_argument("slidingSlack must not be negative");
    auto& s = *impl_;
    const auto& plan = s.plan;
    const auto& hp = plan.hp;
    const uint64_t maxBinding = s.dev.maxBindingBytes();
    const int B = int(std::min<int64_t>(options_.maxBatch, options_.contextLength));
    s.batch = B;
    s.kvF16 = options_.kvF16;
    try {
        for (int owner : plan.cacheOwners) {
            const auto& a = plan.layers[size_t(owner)].attention;
            Impl::Cache c;
            c.sliding = a.sliding;
            c.window = a.window;
            c.slots = u32(a.sliding ? std::min<int64_t>(options_.contextLength,
                                                        int64_t(a.window) + options_.slidingSlack + B - 1)
                                    : options_.contextLength);
            if (options_.kvF16 && a.headDim % 2)
                throw VulkanError("an f16 KV cache needs an even head dim (layer " + std::to_string(owner) +
                                  " has " + std::to_string(a.headDim) + ")");
            // 4-byte elements: fp32 values, or fp16 pairs.
            const uint64_t elements =
                uint64_t(c.slots) * uint64_t(a.nHeadKv) * uint64_t(a.headDim) / (options_.kvF16 ? 2 : 1);
            if (elements * 4 > maxBinding)
                throw VulkanError("the KV cache of layer " + std::to_string(owner) + " at a context of " +
                                  std::to_string(options_.contextLength) + " needs " + mib(elements * 4) +
                                  ", more than one storage binding of " + s.dev.info().name + " (" +
                                  mib(maxBinding) + "); use a shorter context");
            c.k = s.buffer(elements);
            c.v = s.buffer(elements);
            s.caches.push_back(std::move(c));
        }
        int64_t widestQ = 0, widestKv = 0, widestFfn = 0, maxHeads = 0, maxHeadDim = 0;
        for (const auto& l : plan.layers) {
            widestQ = std::max<int64_t>(widestQ, int64_t(l.attention.nHead) * l.attention.headDim);
            widestKv = std::max<int64_t>(widestKv, int64_t(l.attention.nHeadKv) * l.attention.headDim);
            widestFfn = std::max<int64_t>(widestFfn, l.ffn.width);
            maxHeads = std::max<int64_t>(maxHeads, l.attention.nHead);
            maxHeadDim = std::max<int64_t>(maxHeadDim, l.attention.headDim);
        }
        widestFfn = std::max<int64_t>(widestFfn, hp.perLayerInputDim);
        s.widestQ = widestQ;
        s.widestKv = widestKv;
        s.widestFfn = widestFfn;
        s.allocateWorking(B);
        const uint64_t V = uint64_t(hp.nVocab);
        // One row until logits of every position are asked for (the vocabulary makes rows big).
        s.logitRows = int(std::clamp<uint64_t>(maxBinding / (V * 4), 1, uint64_t(B)));
        s.logits = s.buffer(V);
        s.scratch = s.buffer(Kernels::attentionScratchElements(u32(maxHeads), u32(maxHeadDim),
                                                               s.k.tuning().attentionMaxSplits, 1));
    } catch (const VulkanError& e) {
        throw VulkanError(std::string("cannot create a Vulkan session (") + std::to_string(s.bytes >> 20) +
                          " MiB allocated so far): " + e.what());
    }
}

// The per-token working buffers for passes of up to B tokens (replacing smaller ones).
void VulkanSession::Impl::allocateWorking(int B) {
    const auto& hp = plan.hp;
    for (auto* b : {&ids,
                    &x,
                    &normed,
                    &q,
                    &kNew,
                    &vNew,
                    &attn,
                    &proj,
                    &hidden,
                    &gate,
                    &up,
                    &dense,
                    &moeAcc,
                    &routerLogits,
                    &expertIds,
                    &expertWeights,
                    &expertGate,
                    &expertUp,
                    &expertAct,
                    &expertOut,
                    &perLayerInputs,
                    &perLayerTokens})
        if (*b) {
            bytes -= (*b)->size();
            b->reset();
        }
    batch = B;
    const uint64_t E = uint64_t(hp.nEmbd);
    ids = buffer(uint64_t(B));
    x = buffer(B * E);
    normed = buffer(B * E);
    q = buffer(uint64_t(B * widestQ));
    kNew = buffer(uint64_t(B * widestKv));
    vNew = buffer(uint64_t(B * widestKv));
    attn = buffer(uint64_t(B * widestQ));
    proj = buffer(B * E);
    hidden = buffer(B * E);
    gate = buffer(uint64_t(B * widestFfn));
    up = buffer(uint64_t(B * widestFfn));
    if (hp.isMoe()) {
        const uint64_t slots = uint64_t(B) * uint64_t(hp.nExpertUsed);
        const uint64_t F = uint64_t(hp.expertFfnWidth);
        dense = buffer(B * E);
        moeAcc = buffer(B * E);
        routerLogits = buffer(uint64_t(B) * uint64_t(hp.nExpert));
        expertIds = buffer(slots);
        expertWeights = buffer(slots);
        expertGate = buffer(slots * 2 * F);
        expertUp = buffer(slots * F);
        expertAct = buffer(slots * F);
        expertOut = buffer(slots * E);
    }
    if (hp.hasPerLayerInputs()) {
        const uint64_t LD = uint64_t(hp.nLayer) * uint64_t(hp.perLayerInputDim);
        perLayerInputs = buffer(B * LD);
        perLayerTokens = buffer(B * LD);
    }
}

VulkanSession::~VulkanSession() = default;

int VulkanSession::nVocab() const {
    return impl_->plan.hp.nVocab;
}

size_t VulkanSession::memoryBytes() const {
    return size_t(impl_->bytes);
}

bool VulkanSession::canTruncateTo(int64_t newPosition) const {
    if (newPosition < 0 || newPosition > position_) return false;
    if (newPosition == position_ || newPosition == 0) return true;
    for (const auto& c : impl_->caches) {
        if (!c.sliding) continue;
        const int64_t needed = std::max<int64_t>(0, newPosition - c.window + 1);
        const int64_t held = std::max<int64_t>(0, position_ - int64_t(c.slots));
        if (needed < held) return false;
    }
    return true;
}

void VulkanSession::truncate(int64_t newPosition) {
    if (!canTruncateTo(newPosition))
        throw std::invalid_argument("cannot truncate the session from position " + std::to_string(position_) +
                                    " to " + std::to_string(newPosition) +
                                    ": the sliding-window cache no longer holds the positions needed (reset "
                                    "and prefill the kept tokens again)");
    position_ = newPosition;
}

std::vector<float> VulkanSession::decode(int32_t id) {
    return prefill(std::span<const int32_t>(&id, 1), VulkanLogits::Last);
}

std::vector<float> VulkanSession::prefill(std::span<const int32_t> ids, VulkanLogits logits,
                                          std::span<const VulkanSoftTokens> softTokens) {
    const auto& hp = impl_->plan.hp;
    const auto count = static_cast<int64_t>(ids.size());
    if (count == 0) return {};
    if (position_ + count > options_.contextLength)
        throw ContextFull("the context is full: " + std::to_string(position_) + " of " +
                          std::to_string(options_.contextLength) + " positions are used, " +
                          std::to_string(count) + " more do not fit");
    for (int32_t id : ids)
        if (id < 0 || id >= hp.nVocab)
            throw std::invalid_argument("token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                                        std::to_string(hp.nVocab - 1) + ")");
    for (const auto& s : softTokens) {
        if (s.first < 0 || s.count < 0 || s.first + s.count > count ||
            static_cast<int64_t>(s.embeddings.size()) != s.count * hp.nEmbd)
            throw std::invalid_argument("soft tokens at " + std::to_string(s.first) + " (+" +
                                        std::to_string(s.count) + ") do not fit the " +
                                        std::to_string(count) + " ids or are not " +
                                        std::to_string(hp.nEmbd) + " values wide");
    }
    const int64_t passLimit = logits == VulkanLogits::All ? impl_->logitRows : impl_->batch;
    // A bidirectional span is evaluated in one pass: a longer one than maxBatch stretches the pass,
    // which the sliding rings must hold (W + span - 1 slots) and the working buffers grow to.
    int64_t longestSpan = 0;
    for (const auto& s : softTokens)
        if (s.bidirectional) longestSpan = std::max(longestSpan, s.count);
    if (longestSpan > passLimit) {
        const auto refuse = [&](const std::string& why) {
            throw std::invalid_argument("a bidirectional soft-token span of " + std::to_string(longestSpan) +
                                        " tokens does not fit one pass: " + why);
        };
        if (logits == VulkanLogits::All)
            refuse("the logits of all positions are limited to " + std::to_string(passLimit) +
                   " rows a pass");
        for (const auto& c : impl_->caches)
            if (c.sliding && int64_t(c.slots) < options_.contextLength &&
                int64_t(c.slots) < c.window + longestSpan - 1)
                refuse("the sliding-window cache has " + std::to_string(c.slots) +
                       " slots (raise maxBatch or slidingSlack)");
        if (longestSpan > impl_->batch) impl_->allocateWorking(int(longestSpan));
    }
    if (logits == VulkanLogits::All) {
        const uint64_t needed = uint64_t(std::min<int64_t>(passLimit, count)) * uint64_t(hp.nVocab) * 4;
        if (impl_->logits->size() < needed) {
            impl_->bytes -= impl_->logits->size();
            impl_->logits.reset();
            impl_->logits = impl_->buffer(needed / 4);
        }
    }
    std::vector<float> result;
    if (logits == VulkanLogits::All) result.reserve(size_t(count) * size_t(hp.nVocab));
    for (int64_t start = 0, n = 0; start < count; start += n) {
        if (cancel_ && cancel_->load(std::memory_order_relaxed)) throw Cancelled("evaluation cancelled");
        n = std::min<int64_t>(passLimit, count - start);
        // A bidirectional span must be in one pass: end the pass before it, or stretch it over it;
        // and one span per pass (the attention kernel takes one).
        for (const auto& s : softTokens)
            if (s.bidirectional && s.first < start + n && start + n < s.first + s.count)
                n = s.first > start ? s.first - start : s.first + s.count - start;
        bool spanSeen = false;
        for (const auto& s : softTokens)
            if (s.bidirectional && s.count > 0 && s.first + s.count > start && s.first < start + n) {
                if (spanSeen && s.first > start) n = std::min(n, s.first - start);
                spanSeen = true;
            }
        const bool last = start + n == count;
        const VulkanLogits wanted = logits == VulkanLogits::All              ? VulkanLogits::All
                                    : (logits == VulkanLogits::Last && last) ? VulkanLogits::Last
                                                                             : VulkanLogits::None;
        std::vector<float> passLogits;
        impl_->forward(ids.subspan(size_t(start), size_t(n)), position_, softTokens, start, wanted,
                       passLogits);
        position_ += n;
        result.insert(result.end(), passLogits.begin(), passLogits.end());
    }
    return result;
}

// ---- the forward pass ----

void VulkanSession::Impl::attentionBlock(const LayerPlan& layer, const VulkanModel::Weights::Layer& w,
                                         uint32_t n, uint32_t p0, uint32_t spanBegin, uint32_t spanEnd) {
    const auto& hp = plan.hp;
    const uint32_t E = u32(hp.nEmbd);
    const auto& a = layer.attention;
    const uint32_t hd = u32(a.headDim);
    const float eps = hp.rmsEps;
    const std::optional<View> factors = a.ropeUsesFreqFactors && owner.weights_->ropeFreqFactors
                                            ? std::optional<View>(at(*owner.weights_->ropeFreqFactors))
                                            : std::nullopt;
    k.rmsNorm(rec,
              {.x = at(*x), .out = at(*normed), .n = E, .rows = n, .eps = eps, .weight = at(*w.attnNorm)});
    k.linear(rec, *w.q, at(*normed), at(*q), n);
    const Cache& cache = caches[size_t(a.cacheIndex)];
    const uint32_t kvRow = u32(a.nHeadKv) * hd;
    HeadNormArgs qNorm{.x = at(*q),
                       .headDim = hd,
                       .heads = u32(a.nHead),
                       .tokens = n,
                       .eps = eps,
                       .weight = at(*w.qNorm),
                       .rope = true,
                       .ropeBase = a.ropeBase,
                       .freqFactors = factors,
                       .pos0 = p0};
    if (hd % 4 == 0) {
        // Fused: norm + RoPE + store in one dispatch per projection (3 instead of 7 on layers that store
        // K/V, 1 instead of 2 on the others). With valueFromKey V is normed from the raw K projection,
        // which K's pass leaves as it is (it writes only the cache).
        if (a.ownsKv) {
            k.linear(rec, *w.k, at(*normed), at(*kNew), n);
            if (!a.valueFromKey) k.linear(rec, *w.v, at(*normed), at(*vNew), n);
            k.headNorm(rec, {.x = at(a.valueFromKey ? *kNew : *vNew),
                             .headDim = hd,
                             .heads = u32(a.nHeadKv),
                             .tokens = n,
                             .eps = eps,
                             .pos0 = p0,
                             .cache = at(*cache.v),
                             .capacity = cache.slots,
                             .cacheF16 = kvF16});
            HeadNormArgs kNorm = qNorm;
            kNorm.x = at(*kNew);
            kNorm.heads = u32(a.nHeadKv);
            kNorm.weight = at(*w.kNorm);
            kNorm.cache = at(*cache.k);
            kNorm.capacity = cache.slots;
            kNorm.cacheF16 = kvF16;
            k.headNorm(rec, kNorm);
        }
        k.headNorm(rec, qNorm);
    } else { // head dims not a multiple of 4: separate norm, RoPE and store passes
        if (a.ownsKv) {
            k.linear(rec, *w.k, at(*normed), at(*kNew), n);
            if (a.valueFromKey) // V is the raw K projection, normed without weight
                k.rmsNorm(
                    rec, {.x = at(*kNew), .out = at(*vNew), .n = hd, .rows = n * u32(a.nHeadKv), .eps = eps});
            else {
                k.linear(rec, *w.v, at(*normed), at(*vNew), n);
                k.rmsNorm(
                    rec, {.x = at(*vNew), .out = at(*vNew), .n = hd, .rows = n * u32(a.nHeadKv), .eps = eps});
            }
            k.rmsNorm(rec, {.x = at(*kNew),
                            .out = at(*kNew),
                            .n = hd,
                            .rows = n * u32(a.nHeadKv),
                            .eps = eps,
                            .weight = at(*w.kNorm)});
            k.rope(rec, at(*kNew), hd, u32(a.nHeadKv), n, p0, a.ropeBase, factors);
            k.kvStore(rec, at(*kNew), at(*cache.k), kvRow, n, p0, cache.slots, 0, kvF16);
            k.kvStore(rec, at(*vNew), at(*cache.v), kvRow, n, p0, cache.slots, 0, kvF16);
        }
        k.rmsNorm(rec, {.x = at(*q),
                        .out = at(*q),
                        .n = hd,
                        .rows = n * u32(a.nHead),
                        .eps = eps,
                        .weight = at(*w.qNorm)});
        k.rope(rec, at(*q), hd, u32(a.nHead), n, p0, a.ropeBase, factors);
    }
    AttentionArgs args;
    args.q = at(*q);
    args.kCache = at(*cache.k);
    args.vCache = at(*cache.v);
    args.kvF16 = kvF16;
    args.out = at(*attn);
    args.scratch = at(*scratch);
    args.headDim = hd;
    args.heads = u32(a.nHead);
    args.kvHeads = u32(a.nHeadKv);
    args.capacity = cache.slots;
    args.pos0 = p0;
    args.tokens = n;
    args.window = a.sliding ? u32(a.window) : 0;
    args.scale = 1.0f; // q/k norms replace 1/sqrt(d)
    if (a.sliding) {   // bidirectional soft tokens: full layers stay causal
        args.spanBegin = spanBegin;
        args.spanEnd = spanEnd;
    }
    k.attention(rec, args);
    k.linear(rec, *w.output, at(*attn), at(*proj), n);
    k.rmsNorm(rec, {.x = at(*proj),
                    .out = at(*x),
                    .n = E,
                    .rows = n,
                    .eps = eps,
                    .weight = at(*w.postAttentionNorm),
                    .residual = at(*x)});
}

// x += norm(Wdown(gelu(Wgate n) * (Wup n)), post_ffw_norm) * scale, n = norm(x, ffn_norm).
void VulkanSession::Impl::ffnBlock(const LayerPlan& layer, const VulkanModel::Weights::Layer& w, uint32_t n,
                                   float scale) {
    const auto& hp = plan.hp;
    const uint32_t E = u32(hp.nEmbd);
    const uint32_t F = u32(layer.ffn.width);
    k.rmsNorm(
        rec,
        {.x = at(*x), .out = at(*normed), .n = E, .rows = n, .eps = hp.rmsEps, .weight = at(*w.ffnNorm)});
    const auto type = static_cast<gguf::TensorType>(w.gate->type());
    const bool integerDot =
        k.integerDot() && (type == gguf::TensorType::Q4_0 || type == gguf::TensorType::Q8_0);
    // Decode (a few columns, like Kernels::linear's matvec): gate, up and GELU in one pass, unless the
    // integer-dot matvec (int8 activations) takes these weights or the two are quantized differently
    // (mixed-quantization files).
    if (n <= 2 && !integerDot && w.gate->type() == w.up->type()) {
        k.matvecGeglu(rec, *w.gate, *w.up, at(*normed), at(*gate), n);
    } else {
        k.linear(rec, *w.gate, at(*normed), at(*gate), n);
        k.linear(rec, *w.up, at(*normed), at(*up), n);
        k.geglu(rec, at(*gate), at(*up), at(*gate), F, n);
    }
    k.linear(rec, *w.down, at(*gate), at(*proj), n);
    if (layer.moe) return; // the MoE block post-norms the dense branch itself
    k.rmsNorm(rec, {.x = at(*proj),
                    .out = at(*x),
                    .n = E,
                    .rows = n,
                    .eps = hp.rmsEps,
                    .weight = at(*w.postFfwNorm),
                    .residual = at(*x),
                    .scale = scale});
}

void VulkanSession::Impl::moeBlock(const LayerPlan& layer, const VulkanModel::Weights::Layer& w, uint32_t n,
                                   float scale) {
    const auto& hp = plan.hp;
    const auto& m = *layer.moe;
    const uint32_t E = u32(hp.nEmbd);
    const uint32_t X = u32(m.nExpert);
    const uint32_t K = u32(m.nUsed);
    const uint32_t F = u32(m.width);
    const float eps = hp.rmsEps;
    // Dense branch, post-normed with post_ffw_norm_1.
    ffnBlock(layer, w, n, 1.0f);
    k.rmsNorm(rec,
              {.x = at(*proj), .out = at(*dense), .n = E, .rows = n, .eps = eps, .weight = at(*w.postNorm1)});
    // Router on the raw residual.
    k.rmsNorm(rec,
              {.x = at(*x), .out = at(*hidden), .n = E, .rows = n, .eps = eps, .weight = at(*w.routerScale)});
    k.linear(rec, *w.router, at(*hidden), at(*routerLogits), n);
    k.moeRoute(rec, at(*routerLogits), at(*expertIds), at(*expertWeights), X, K, n);
    // Experts read norm(x, pre_ffw_norm_2).
    k.rmsNorm(rec,
              {.x = at(*x), .out = at(*hidden), .n = E, .rows = n, .eps = eps, .weight = at(*w.preNorm2)});
    if (w.expertGateUp) {
        k.moeMatvec(rec, *w.expertGateUp, at(*hidden), at(*expertIds), at(*expertGate), n, K, true);
        k.geglu(rec, at(*expertGate), at(*expertGate, F), at(*expertAct), F, n * K, 2 * F, 2 * F, F);
    } else {
        k.moeMatvec(rec, *w.expertGate, at(*hidden), at(*expertIds), at(*expertGate), n, K, true);
        k.moeMatvec(rec, *w.expertUp, at(*hidden), at(*expertIds), at(*expertUp), n, K, true);
        k.geglu(rec, at(*expertGate), at(*expertUp), at(*expertAct), F, n * K);
    }
    k.moeMatvec(rec, *w.expertDown, at(*expertAct), at(*expertIds), at(*expertOut), n, K, false);
    k.moeCombine(rec, at(*expertOut), at(*expertIds), at(*expertWeights), at(*w.downScale), at(*moeAcc), E, K,
                 n, false);
    // x += norm(dense + norm(experts, post_ffw_norm_2), post_ffw_norm) * scale.
    k.rmsNorm(rec, {.x = at(*moeAcc),
                    .out = at(*hidden),
                    .n = E,
                    .rows = n,
                    .eps = eps,
                    .weight = at(*w.postNorm2),
                    .residual = at(*dense)});
    k.rmsNorm(rec, {.x = at(*hidden),
                    .out = at(*x),
                    .n = E,
                    .rows = n,
                    .eps = eps,
                    .weight = at(*w.postFfwNorm),
                    .residual = at(*x),
                    .scale = scale});
}

// x = (x + norm(proj(gelu(inp_gate x) * P[l]), post_norm)) * layer scale.
void VulkanSession::Impl::perLayerInputBlock(const LayerPlan& layer, const VulkanModel::Weights::Layer& w,
                                             uint32_t n) {
    const auto& hp = plan.hp;
    const uint32_t E = u32(hp.nEmbd);
    const uint32_t D = u32(hp.perLayerInputDim);
    const uint32_t LD = u32(hp.nLayer) * D;
    k.linear(rec, *w.pleGate, at(*x), at(*gate), n);
    k.geglu(rec, at(*gate), at(*perLayerInputs, uint64_t(layer.index) * D), at(*gate), D, n, D, LD, D);
    k.linear(rec, *w.pleProjection, at(*gate), at(*proj), n);
    k.rmsNorm(rec, {.x = at(*proj),
                    .out = at(*x),
                    .n = E,
                    .rows = n,
                    .eps = hp.rmsEps,
                    .weight = at(*w.plePostNorm),
                    .residual = at(*x),
                    .scale = layer.outputScale});
}

void VulkanSession::Impl::forward(std::span<const int32_t> tokenIds, int64_t p0,
                                  std::span<const VulkanSoftTokens> soft, int64_t softOffset,
                                  VulkanLogits wanted, std::vector<float>& out) {
    const auto& hp = plan.hp;
    const auto& W = *owner.weights_;
    const uint32_t E = u32(hp.nEmbd);
    const auto n = u32(int64_t(tokenIds.size()));

    // Host side first (the previous pass has finished): ids, soft-token rows straight into x, and
    // the per-layer token embeddings of this pass's ids.
    std::vector<char> isSoft(n, 0);
    for (const auto& s : soft) {
        // The span's rows that fall into this pass, uploaded in one copy.
        const int64_t begin = std::max<int64_t>(0, s.first - softOffset);
        const int64_t end = std::min<int64_t>(int64_t(n), s.first + s.count - softOffset);
        if (begin >= end) continue;
        const int64_t firstRow = begin + softOffset - s.first;
        upload(dev, *x, uint64_t(begin) * E * 4, s.embeddings.data() + firstRow * E,
               uint64_t(end - begin) * E * 4);
        for (int64_t t = begin; t < end; ++t) isSoft[size_t(t)] = 1;
    }
    uint32_t spanBegin = 0, spanEnd = 0; // positions of this pass's bidirectional span
    for (const auto& s : soft)
        if (s.bidirectional && s.count > 0 && s.first >= softOffset && s.first + s.count <= softOffset + n) {
            spanBegin = u32(p0 + s.first - softOffset);
            spanEnd = u32(p0 + s.first + s.count - softOffset);
            break;
        }
    std::vector<uint32_t> idWords(n);
    for (uint32_t t = 0; t < n; ++t) idWords[t] = isSoft[t] ? 0u : uint32_t(tokenIds[t]);
    upload(dev, *ids, 0, idWords.data(), uint64_t(n) * 4);
    if (hp.hasPerLayerInputs()) {
        const auto& table = plan.perLayerTokenEmbedding;
        const uint64_t LD = uint64_t(hp.nLayer) * uint64_t(hp.perLayerInputDim);
        const float tokenScale = std::sqrt(float(hp.perLayerInputDim));
        std::vector<float> rows(n * LD);
        for (uint32_t t = 0; t < n; ++t) {
            float* row = rows.data() + t * LD;
            gguf::dequantizeRow(table.type, table.data + uint64_t(idWords[t]) * table.rowBytes, row,
                                int64_t(LD));
            for (uint64_t i = 0; i < LD; ++i) row[i] *= tokenScale;
        }
        upload(dev, *perLayerTokens, 0, rows.data(), rows.size() * 4);
    }

    rec.begin();
    // Embeddings of the non-soft runs, scaled by sqrt(n_embd).
    for (uint32_t t = 0; t < n;) {
        if (isSoft[t]) {
            ++t;
            continue;
        }
        uint32_t end = t;
        while (end < n && !isSoft[end]) ++end;
        k.gather(rec, *W.tokenEmbedding, at(*ids, t), at(*x, uint64_t(t) * E), end - t, std::sqrt(float(E)));
        t = end;
    }
    if (hp.hasPerLayerInputs()) {
        // P = (norm(proj . x / sqrt(E), proj_norm) + T * sqrt(D)) / sqrt(2); the 1/sqrt(E) moves into
        // the norm's epsilon (norm(c x, eps) = norm(x, eps / c^2)).
        const uint32_t D = u32(hp.perLayerInputDim);
        k.linear(rec, *W.perLayerModelProjection, at(*x), at(*perLayerInputs), n);
        k.rmsNorm(rec, {.x = at(*perLayerInputs),
                        .out = at(*perLayerInputs),
                        .n = D,
                        .rows = n * u32(hp.nLayer),
                        .eps = hp.rmsEps * float(E),
                        .weight = at(*W.perLayerProjectionNorm),
                        .residual = at(*perLayerTokens),
                        .scale = 1.0f / std::sqrt(2.0f)});
    }
    for (const auto& layer : plan.layers) {
        const auto& w = W.layers[size_t(layer.index)];
        attentionBlock(layer, w, n, u32(p0), spanBegin, spanEnd);
        const float scale = layer.perLayerInput ? 1.0f : layer.outputScale;
        if (layer.moe)
            moeBlock(layer, w, n, scale);
        else
            ffnBlock(layer, w, n, scale);
        if (layer.perLayerInput) perLayerInputBlock(layer, w, n);
    }
    uint32_t rows = 0;
    if (wanted != VulkanLogits::None) {
        const uint32_t first = wanted == VulkanLogits::All ? 0 : n - 1;
        rows = n - first;
        const uint32_t V = u32(hp.nVocab);
        k.rmsNorm(rec, {.x = at(*x, uint64_t(first) * E),
                        .out = at(*normed),
                        .n = E,
                        .rows = rows,
                        .eps = hp.rmsEps,
                        .weight = at(*W.outputNorm)});
        if (rows <= 2) {
            k.matvec(rec, *W.tokenEmbedding, at(*normed), at(*logits), rows, 0, 0, hp.finalLogitSoftcap);
        } else {
            k.linear(rec, *W.tokenEmbedding, at(*normed), at(*logits), rows);
            if (hp.finalLogitSoftcap > 0) k.softcap(rec, at(*logits), rows * V, hp.finalLogitSoftcap);
        }
    }
    rec.submitAndWait();
    if (rows) {
        out.resize(size_t(rows) * size_t(hp.nVocab));
        download(dev, *logits, 0, out.data(), out.size() * 4);
    }
}

} // namespace ocelle::vulkan
