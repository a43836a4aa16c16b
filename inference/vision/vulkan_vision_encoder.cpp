#include "vision/vulkan_vision_encoder.h"

#include "gguf/gguf.h"
#include "gguf/tensor_types.h"
#include "vulkan/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace ocelle::vision {

using vulkan::at;
using vulkan::Buffer;
using vulkan::Kernels;
using vulkan::Recorder;
using vulkan::View;
using vulkan::WeightTensor;

namespace {

struct DeviceLinear {
    std::unique_ptr<WeightTensor> weight;
    ClampedLinear host; // the clamp scalars
};

struct DeviceBlock {
    DeviceLinear q, k, v, out, gate, up, down;
    std::unique_ptr<Buffer> ln1, ln2, attnPostNorm, ffnPostNorm, qNorm, kNorm;
    float outScale = 1.0f;
};

} // namespace

struct VulkanVisionEncoder::State {
    std::unique_ptr<vulkan::Pipelines> pipelines;
    std::unique_ptr<Kernels> kernels;
    std::unique_ptr<WeightTensor> patchEmbedding, positionTable;
    std::vector<DeviceBlock> blocks;
    std::unique_ptr<Buffer> stdBias, stdScale;
    DeviceLinear projection;
    uint64_t weightBytes = 0;
};

std::unique_ptr<VulkanVisionEncoder> VulkanVisionEncoder::load(const std::string& path,
                                                               const vulkan::DeviceOptions& options) {
    return fromFile(gguf::File::open(path), options);
}

std::unique_ptr<VulkanVisionEncoder> VulkanVisionEncoder::fromFile(std::unique_ptr<gguf::File> file,
                                                                   const vulkan::DeviceOptions& options) {
    auto device = vulkan::Device::open(options);
    return std::unique_ptr<VulkanVisionEncoder>(new VulkanVisionEncoder(std::move(file), std::move(device)));
}

VulkanVisionEncoder::VulkanVisionEncoder(std::unique_ptr<gguf::File> file,
                                         std::unique_ptr<vulkan::Device> device)
    : VisionEncoder(std::move(file)), device_(std::move(device)), state_(std::make_unique<State>()) {
    State& s = *state_;
    vulkan::Device& dev = *device_;
    const auto put = [&](const model::Weight& w) {
        if (!Kernels::supportsWeightType(w.type))
            throw VisionError(path() + ": vision tensor '" + w.name() + "' has weight type " +
                              gguf::typeName(w.type) + ", which the Vulkan kernels cannot compute with");
        auto tensor = WeightTensor::upload(dev, w.type, uint64_t(w.rows), uint64_t(w.cols), w.data);
        s.weightBytes += tensor->totalBytes();
        return tensor;
    };
    const auto linear = [&](const ClampedLinear& l) { return DeviceLinear{put(l.weight), l}; };
    const auto vec = [&](const std::vector<float>& v) {
        auto buffer = std::make_unique<Buffer>(dev, std::max<size_t>(v.size(), 4) * 4);
        vulkan::upload(dev, *buffer, 0, v.data(), v.size() * 4);
        return buffer;
    };
    const VisionTower& t = tower();
    s.patchEmbedding = put(t.patchEmbedding);
    s.positionTable = put(t.positionTable);
    for (const VisionBlock& b : t.blocks) {
        DeviceBlock d;
        d.q = linear(b.q);
        d.k = linear(b.k);
        d.v = linear(b.v);
        d.out = linear(b.out);
        d.gate = linear(b.gate);
        d.up = linear(b.up);
        d.down = linear(b.down);
        d.ln1 = vec(b.ln1);
        d.ln2 = vec(b.ln2);
        d.attnPostNorm = vec(b.attnPostNorm);
        d.ffnPostNorm = vec(b.ffnPostNorm);
        d.qNorm = vec(b.qNorm);
        d.kNorm = vec(b.kNorm);
        d.outScale = b.outScale;
        s.blocks.push_back(std::move(d));
    }
    if (params().standardize) {
        s.stdBias = vec(t.stdBias);
        s.stdScale = vec(t.stdScale);
    }
    s.projection = linear(t.projection);
    s.pipelines = std::make_unique<vulkan::Pipelines>(dev);
    s.kernels = std::make_unique<Kernels>(*s.pipelines);
}

VulkanVisionEncoder::~VulkanVisionEncoder() = default;

uint64_t VulkanVisionEncoder::deviceWeightBytes() const {
    return state_->weightBytes;
}

namespace {

// y = clamp(W clamp(x)) for n rows; `scratch` holds the clamped input when the layer clamps it.
void clampedLinear(Kernels& k, Recorder& rec, const DeviceLinear& l, View x, View y, uint32_t n,
                   const Buffer& scratch) {
    View input = x;
    if (l.host.inputClamped()) {
        k.clamp(rec, x, at(scratch), uint64_t(n) * l.weight->cols(), l.host.inputMin, l.host.inputMax);
        input = at(scratch);
    }
    k.linear(rec, *l.weight, input, y, n);
    if (l.host.outputClamped())
        k.clamp(rec, y, y, uint64_t(n) * l.weight->rows(), l.host.outputMin, l.host.outputMax);
}

} // namespace

std::vector<float> VulkanVisionEncoder::encodeVectors(std::vector<float> vectors, int patchesX, int patchesY,
                                                      VisionEncoderTrace* trace) const {
    const VisionEncoderParams& p = params();
    State& s = *state_;
    Kernels& k = *s.kernels;
    vulkan::Device& dev = *device_;
    const uint32_t N = uint32_t(patchesX) * uint32_t(patchesY), D = uint32_t(p.width),
                   F = uint32_t(p.ffnWidth);
    const uint32_t H = uint32_t(p.heads), hd = uint32_t(p.headDim), P = uint32_t(p.projectionDim);
    const uint32_t patchValues = uint32_t(s.patchEmbedding->cols());
    const float eps = p.normEpsilon;

    // Tokens per slice of the per-token work: every [slice][width] range fits one binding (less a row
    // for the offset alignment), at most 4096 tokens to bound the FFN buffers.
    const uint64_t widest = std::max({D, F, patchValues, P});
    const uint64_t fitting = dev.maxBindingBytes() / (4 * widest);
    if (fitting < 2) throw VisionError("vision encoder: a row does not fit a storage-buffer binding");
    const uint32_t slice = uint32_t(std::clamp<uint64_t>(fitting - 1, 1, std::min<uint64_t>(N, 4096)));
    const auto slices = [&](auto&& f) {
        for (uint32_t first = 0; first < N; first += slice) f(first, std::min(slice, N - first));
    };

    const auto buffer = [&](uint64_t floats) {
        return std::make_unique<Buffer>(dev, std::max<uint64_t>(floats, 4) * 4);
    };
    auto input = buffer(uint64_t(N) * patchValues);
    vulkan::upload(dev, *input, 0, vectors.data(), vectors.size() * 4);
    vectors = {};
    std::vector<uint32_t> positionIds(size_t(2) * N);
    for (uint32_t n = 0; n < N; ++n) {
        positionIds[n] = n % uint32_t(patchesX);
        positionIds[N + n] = uint32_t(p.positionTableSize) + n / uint32_t(patchesX);
    }
    auto ids = buffer(positionIds.size());
    vulkan::upload(dev, *ids, 0, positionIds.data(), positionIds.size() * 4);
    auto x = buffer(uint64_t(N) * D), normed = buffer(uint64_t(N) * D);
    auto q = buffer(uint64_t(N) * D), kk = buffer(uint64_t(N) * D), v = buffer(uint64_t(N) * D);
    auto attended = buffer(uint64_t(N) * D), branch = buffer(uint64_t(slice) * D);
    auto gate = buffer(uint64_t(slice) * F), up = buffer(uint64_t(slice) * F);
    auto clampScratch = buffer(uint64_t(slice) * std::max(D, F));
    const auto download = [&](const Buffer& b, uint64_t floats) {
        std::vector<float> out(floats);
        vulkan::download(dev, b, 0, out.data(), floats * 4);
        return out;
    };

    Recorder rec(*s.pipelines);
    // Patch embedding plus the x and y rows of the position table.
    rec.begin();
    slices([&](uint32_t first, uint32_t n) {
        k.linear(rec, *s.patchEmbedding, at(*input, uint64_t(first) * patchValues),
                 at(*x, uint64_t(first) * D), n);
    });
    for (uint32_t axis = 0; axis < 2; ++axis) {
        k.gather(rec, *s.positionTable, at(*ids, uint64_t(axis) * N), at(*normed), N);
        k.add(rec, at(*x), at(*normed), at(*x), uint64_t(N) * D);
    }
    rec.submitAndWait();
    if (trace) {
        trace->embeddings = download(*x, uint64_t(N) * D);
        trace->layerOutputs.clear();
    }

    for (const DeviceBlock& B : s.blocks) {
        rec.begin();
        slices([&](uint32_t first, uint32_t n) {
            const uint64_t o = uint64_t(first) * D;
            k.rmsNorm(
                rec,
                {.x = at(*x, o), .out = at(*normed, o), .n = D, .rows = n, .eps = eps, .weight = at(*B.ln1)});
            clampedLinear(k, rec, B.q, at(*normed, o), at(*q, o), n, *clampScratch);
            clampedLinear(k, rec, B.k, at(*normed, o), at(*kk, o), n, *clampScratch);
            clampedLinear(k, rec, B.v, at(*normed, o), at(*v, o), n, *clampScratch);
        });
        // Per-head norms (rows of one head), then the 2-D rotation of q and k.
        k.rmsNorm(rec,
                  {.x = at(*q), .out = at(*q), .n = hd, .rows = N * H, .eps = eps, .weight = at(*B.qNorm)});
        k.rmsNorm(rec,
                  {.x = at(*kk), .out = at(*kk), .n = hd, .rows = N * H, .eps = eps, .weight = at(*B.kNorm)});
        k.rmsNorm(rec, {.x = at(*v), .out = at(*v), .n = hd, .rows = N * H, .eps = eps});
        k.rope2d(rec, at(*q), hd, H, N, uint32_t(patchesX), kRopeBase);
        k.rope2d(rec, at(*kk), hd, H, N, uint32_t(patchesX), kRopeBase);
        // Every patch sees every patch; scale 1.0 (the q/k norms replace 1/sqrt(d)).
        k.encoderAttention(rec, {.q = at(*q),
                                 .k = at(*kk),
                                 .v = at(*v),
                                 .out = at(*attended),
                                 .headDim = hd,
                                 .heads = H,
                                 .tokens = N,
                                 .scale = 1.0f});
        slices([&](uint32_t first, uint32_t n) {
            const uint64_t o = uint64_t(first) * D;
            clampedLinear(k, rec, B.out, at(*attended, o), at(*branch), n, *clampScratch);
            k.rmsNorm(rec, {.x = at(*branch),
                            .out = at(*x, o),
                            .n = D,
                            .rows = n,
                            .eps = eps,
                            .weight = at(*B.attnPostNorm),
                            .residual = at(*x, o)});
            k.rmsNorm(
                rec,
                {.x = at(*x, o), .out = at(*normed, o), .n = D, .rows = n, .eps = eps, .weight = at(*B.ln2)});
            clampedLinear(k, rec, B.gate, at(*normed, o), at(*gate), n, *clampScratch);
            clampedLinear(k, rec, B.up, at(*normed, o), at(*up), n, *clampScratch);
            if (activation() == Activation::GeluQuick)
                k.geluQuickGlu(rec, at(*gate), at(*up), at(*up), F, n);
            else
                k.geglu(rec, at(*gate), at(*up), at(*up), F, n);
            clampedLinear(k, rec, B.down, at(*up), at(*branch), n, *clampScratch);
            // x = (x + norm(down)) * out_scale: the block output scaled for the next block.
            k.rmsNorm(rec, {.x = at(*branch),
                            .out = at(*x, o),
                            .n = D,
                            .rows = n,
                            .eps = eps,
                            .weight = at(*B.ffnPostNorm),
                            .residual = at(*x, o),
                            .scale = B.outScale});
        });
        rec.submitAndWait();
        if (trace) {
            // The trace holds the block output before out_scale (where llama.cpp takes layer_out-N).
            auto out = download(*x, uint64_t(N) * D);
            for (float& value : out) value /= B.outScale;
            trace->layerOutputs.push_back(std::move(out));
        }
    }

    // 3x3 mean pooling x sqrt(D), standardize (large towers), the projector's RMS norm and linear.
    const uint32_t T = uint32_t(tokensFor(patchesX, patchesY));
    const float poolScale = std::sqrt(float(D)) / float(kPoolingKernel * kPoolingKernel);
    auto pooled = buffer(uint64_t(T) * D), tokens = buffer(uint64_t(T) * P);
    auto projectionScratch = buffer(uint64_t(T) * D);
    rec.begin();
    if (trace && p.standardize) {
        k.pool2d(rec, at(*x), at(*pooled), D, uint32_t(patchesX), uint32_t(patchesY), kPoolingKernel,
                 poolScale);
        rec.submitAndWait();
        trace->pooled = download(*pooled, uint64_t(T) * D);
        rec.begin();
    }
    if (p.standardize)
        k.pool2d(rec, at(*x), at(*pooled), D, uint32_t(patchesX), uint32_t(patchesY), kPoolingKernel,
                 poolScale, at(*s.stdBias), at(*s.stdScale));
    else
        k.pool2d(rec, at(*x), at(*pooled), D, uint32_t(patchesX), uint32_t(patchesY), kPoolingKernel,
                 poolScale);
    rec.submitAndWait();
    if (trace && !p.standardize) trace->pooled = download(*pooled, uint64_t(T) * D);
    rec.begin();
    k.rmsNorm(rec, {.x = at(*pooled), .out = at(*pooled), .n = D, .rows = T, .eps = eps});
    clampedLinear(k, rec, s.projection, at(*pooled), at(*tokens), T, *projectionScratch);
    rec.submitAndWait();
    if (trace) trace->projectorInput = download(*pooled, uint64_t(T) * D);
    return download(*tokens, uint64_t(T) * P);
}

std::unique_ptr<VisionEncoder> loadVisionEncoder(const std::string& path,
                                                 const VisionBackendOptions& options) {
    if (!options.vulkan) return VisionEncoder::load(path, options.threads);
    vulkan::DeviceOptions device;
    device.forced = options.device;
    if (device.forced.empty() && !std::getenv("OCELLE_VULKAN_DEVICE")) {
        // Vulkan was asked for: the automatic choice, else the first usable device (a CPU-type one
        // such as lavapipe is acceptable when asked for explicitly).
        vulkan::Instance probe(false);
        const auto devices = probe.devices();
        const vulkan::DeviceChoice choice = vulkan::autoSelectDevice(devices);
        if (choice.index)
            device.forced = std::to_string(*choice.index);
        else
            for (const auto& info : devices)
                if (info.usable()) {
                    device.forced = std::to_string(info.index);
                    break;
                }
    }
    return VulkanVisionEncoder::load(path, device);
}

} // namespace ocelle::vision
