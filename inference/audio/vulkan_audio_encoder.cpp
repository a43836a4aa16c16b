#include "audio/vulkan_audio_encoder.h"

#include "audio/audio_tower.h"
#include "gguf/gguf.h"
#include "vulkan/kernels.h"

#include <algorithm>
#include <cmath>

namespace ocelle::audio {

using vulkan::at;
using vulkan::Buffer;
using vulkan::View;
using vulkan::WeightTensor;

namespace {

struct DeviceLinear {
    std::unique_ptr<WeightTensor> weight;
    float inputMin = 0, inputMax = 0, outputMin = 0, outputMax = 0;
    bool clampsInput = false, clampsOutput = false;
};

struct DeviceLayer {
    DeviceLinear ffnUp, ffnDown, q, k, v, out, convPw1, convPw2, ffn2Up, ffn2Down;
    // The half-step FFNs' post-norm weights are stored halved: the norm kernel's residual add then
    // gives x + 0.5 * norm(branch) * w directly.
    std::unique_ptr<Buffer> ffnNorm, ffnPostNormHalf, attnPreNorm, attnPostNorm, convPreNorm, convNorm,
        depthwise, ffn2Norm, ffn2PostNormHalf, outNorm, perDimScale;
    std::unique_ptr<Buffer> relative; // [kRelativePositions][width]: attn_k_rel applied to the sinusoids
};

} // namespace

struct VulkanAudioEncoder::Impl {
    std::unique_ptr<vulkan::Device> device;
    std::unique_ptr<vulkan::Pipelines> pipelines;
    std::unique_ptr<vulkan::Kernels> kernels;
    std::unique_ptr<Buffer> conv0, conv0Norm, conv1, conv1Norm, outputBias;
    DeviceLinear inputProjection;
    std::vector<DeviceLayer> layers;
    std::unique_ptr<WeightTensor> outputProjection, textProjection;

    std::unique_ptr<Buffer> floats(const std::vector<float>& values, float scale = 1.0f) {
        auto buffer = std::make_unique<Buffer>(*device, std::max<size_t>(values.size(), 1) * 4);
        std::vector<float> scaled(values);
        for (float& v : scaled) v *= scale;
        vulkan::upload(*device, *buffer, 0, scaled.data(), scaled.size() * 4);
        return buffer;
    }
    std::unique_ptr<WeightTensor> matrix(const model::Weight& w) {
        return WeightTensor::upload(*device, w.type, uint64_t(w.rows), uint64_t(w.cols), w.data);
    }
    DeviceLinear linear(const ClampedLinear& l) {
        DeviceLinear d;
        d.weight = matrix(l.weight);
        d.inputMin = l.inputMin;
        d.inputMax = l.inputMax;
        d.outputMin = l.outputMin;
        d.outputMax = l.outputMax;
        d.clampsInput = l.inputClamped();
        d.clampsOutput = l.outputClamped();
        return d;
    }

    // out = clamp(W clamp(x)) for n rows; `scratch` holds the clamped input.
    void linear(vulkan::Recorder& rec, const DeviceLinear& l, View x, View out, uint32_t n, View scratch) {
        View input = x;
        if (l.clampsInput) {
            kernels->clamp(rec, x, scratch, uint64_t(n) * l.weight->cols(), l.inputMin, l.inputMax);
            input = scratch;
        }
        kernels->linear(rec, *l.weight, input, out, n);
        if (l.clampsOutput)
            kernels->clamp(rec, out, out, uint64_t(n) * l.weight->rows(), l.outputMin, l.outputMax);
    }
};

std::unique_ptr<VulkanAudioEncoder> VulkanAudioEncoder::load(const std::string& path,
                                                             const std::string& device) {
    auto file = gguf::File::open(path);
    vulkan::DeviceOptions options;
    options.forced = device;
    return fromFile(std::move(file), vulkan::Device::open(options));
}

std::unique_ptr<VulkanAudioEncoder> VulkanAudioEncoder::fromFile(std::unique_ptr<gguf::File> file,
                                                                 std::unique_ptr<vulkan::Device> device) {
    return std::unique_ptr<VulkanAudioEncoder>(new VulkanAudioEncoder(std::move(file), std::move(device)));
}

VulkanAudioEncoder::VulkanAudioEncoder(std::unique_ptr<gguf::File> file,
                                       std::unique_ptr<vulkan::Device> device)
    : AudioEncoder(std::move(file)), impl_(std::make_unique<Impl>()) {
    Impl& d = *impl_;
    d.device = std::move(device);
    d.pipelines = std::make_unique<vulkan::Pipelines>(*d.device);
    d.kernels = std::make_unique<vulkan::Kernels>(*d.pipelines);
    const AudioTower& t = tower();
    const AudioEncoderParams& p = params();
    if (p.headDim * p.heads != p.width)
        throw AudioError(path() + ": the audio width is not heads x head dimension");

    d.conv0 = d.floats(t.conv0);
    d.conv0Norm = d.floats(t.conv0Norm);
    d.conv1 = d.floats(t.conv1);
    d.conv1Norm = d.floats(t.conv1Norm);
    d.inputProjection = d.linear(t.inputProjection);
    d.outputProjection = d.matrix(t.outputProjection);
    d.outputBias = d.floats(t.outputBias);
    d.textProjection = d.matrix(t.textProjection);

    auto positions = d.floats(t.relativePositions);
    vulkan::Recorder rec(*d.pipelines);
    rec.begin();
    for (const ConformerLayer& L : t.layers) {
        DeviceLayer l;
        l.ffnUp = d.linear(L.ffnUp);
        l.ffnDown = d.linear(L.ffnDown);
        l.q = d.linear(L.q);
        l.k = d.linear(L.k);
        l.v = d.linear(L.v);
        l.out = d.linear(L.out);
        l.convPw1 = d.linear(L.convPw1);
        l.convPw2 = d.linear(L.convPw2);
        l.ffn2Up = d.linear(L.ffn2Up);
        l.ffn2Down = d.linear(L.ffn2Down);
        l.ffnNorm = d.floats(L.ffnNorm);
        l.ffnPostNormHalf = d.floats(L.ffnPostNorm, 0.5f);
        l.attnPreNorm = d.floats(L.attnPreNorm);
        l.attnPostNorm = d.floats(L.attnPostNorm);
        l.convPreNorm = d.floats(L.convPreNorm);
        l.convNorm = d.floats(L.convNorm);
        l.depthwise = d.floats(L.depthwise);
        l.ffn2Norm = d.floats(L.ffn2Norm);
        l.ffn2PostNormHalf = d.floats(L.ffn2PostNorm, 0.5f);
        l.outNorm = d.floats(L.outNorm);
        l.perDimScale = d.floats(L.perDimScale);
        // The relative-position keys depend on the weights only: projected once here.
        auto relativeKey = d.matrix(L.relativeKey);
        l.relative = std::make_unique<Buffer>(*d.device, uint64_t(kRelativePositions) * p.width * 4);
        d.kernels->linear(rec, *relativeKey, at(*positions), at(*l.relative), kRelativePositions);
        rec.submitAndWait();
        rec.begin();
        d.layers.push_back(std::move(l));
    }
    rec.submitAndWait();
}

VulkanAudioEncoder::~VulkanAudioEncoder() = default;

std::string VulkanAudioEncoder::backendName() const {
    return "vulkan (" + impl_->device->info().name + ")";
}

const vulkan::Device& VulkanAudioEncoder::device() const {
    return *impl_->device;
}

std::vector<float> VulkanAudioEncoder::encode(std::span<const float> mel, int frames,
                                              AudioEncoderTrace* trace) const {
    checkInput(mel, frames);
    const AudioEncoderParams& p = params();
    Impl& d = *impl_;
    vulkan::Kernels& k = *d.kernels;
    vulkan::Device& dev = *d.device;

    const uint32_t bins = uint32_t(p.melBins), C0 = uint32_t(p.convChannels0), C1 = uint32_t(p.convChannels1);
    const uint32_t t1 = uint32_t(frames - 1) / 2 + 1, f1 = (bins - 1) / 2 + 1;
    const uint32_t S = uint32_t(tokensForFrames(frames)), f2 = (f1 - 1) / 2 + 1;
    if (f2 != uint32_t(p.subsampledBins))
        throw AudioError("audio encoder: internal sub-sampling size mismatch");
    const uint32_t E = uint32_t(p.width), F = uint32_t(p.ffnWidth), H = uint32_t(p.heads);
    const uint32_t D = uint32_t(p.headDim), O = uint32_t(p.outputDim), P = uint32_t(p.projectionDim);

    // Mel-major input -> [time][freq] (one input channel).
    std::vector<float> x0(size_t(frames) * bins);
    for (uint32_t b = 0; b < bins; ++b)
        for (int t = 0; t < frames; ++t) x0[size_t(t) * bins + b] = mel[size_t(b) * frames + size_t(t)];

    auto buffer = [&](uint64_t floats) {
        return std::make_unique<Buffer>(dev, std::max<uint64_t>(floats, 1) * 4);
    };
    auto input = buffer(x0.size());
    vulkan::upload(dev, *input, 0, x0.data(), x0.size() * 4);
    auto sub1 = buffer(uint64_t(t1) * f1 * C0);
    auto sub2 = buffer(uint64_t(S) * f2 * C1);
    const uint64_t rowsE = uint64_t(S) * E;
    auto x = buffer(rowsE), normed = buffer(rowsE), q = buffer(rowsE), kb = buffer(rowsE), v = buffer(rowsE);
    auto attended = buffer(rowsE), branch = buffer(rowsE);
    auto hidden = buffer(uint64_t(S) * std::max(F, 2 * E));
    auto scratch = buffer(uint64_t(S) * std::max({F, 2 * E, f2 * C1}));
    auto projected = buffer(uint64_t(S) * O);
    auto tokens = buffer(uint64_t(S) * P);

    vulkan::Recorder rec(*d.pipelines);
    rec.begin();
    // With a trace, the recording stops at each traced intermediate to read it back.
    const auto checkpoint = [&](const Buffer& b, uint64_t count, std::vector<float>* into) {
        if (!trace) return;
        rec.submitAndWait();
        into->resize(count);
        vulkan::download(dev, b, 0, into->data(), count * 4);
        rec.begin();
    };

    k.convSubsample(rec, at(*input), at(*d.conv0), at(*d.conv0Norm), at(*sub1), uint32_t(frames), bins, 1, C0,
                    kNormEpsilon);
    k.convSubsample(rec, at(*sub1), at(*d.conv1), at(*d.conv1Norm), at(*sub2), t1, f1, C0, C1, kNormEpsilon);
    checkpoint(*sub2, uint64_t(S) * f2 * C1, trace ? &trace->subsampled : nullptr);
    d.linear(rec, d.inputProjection, at(*sub2), at(*x), S, at(*scratch));
    checkpoint(*x, rowsE, trace ? &trace->conformerInput : nullptr);

    const auto norm = [&](const Buffer& from, const Buffer& to, const Buffer* weight,
                          const Buffer* residual = nullptr, uint32_t n = 0) {
        vulkan::RmsNormArgs a;
        a.x = at(from);
        a.out = at(to);
        a.n = n ? n : E;
        a.rows = S;
        a.eps = kNormEpsilon;
        if (weight) a.weight = at(*weight);
        if (residual) a.residual = at(*residual);
        k.rmsNorm(rec, a);
    };
    const auto halfStepFfn = [&](const Buffer& preNorm, const DeviceLinear& up, const DeviceLinear& down,
                                 const Buffer& postNormHalf) {
        norm(*x, *normed, &preNorm);
        d.linear(rec, up, at(*normed), at(*hidden), S, at(*scratch));
        k.silu(rec, at(*hidden), at(*hidden), uint64_t(S) * F);
        d.linear(rec, down, at(*hidden), at(*branch), S, at(*scratch));
        norm(*branch, *x, &postNormHalf, x.get()); // x += 0.5 * norm(branch) * w
    };

    for (const DeviceLayer& L : d.layers) {
        halfStepFfn(*L.ffnNorm, L.ffnUp, L.ffnDown, *L.ffnPostNormHalf);

        norm(*x, *normed, L.attnPreNorm.get());
        d.linear(rec, L.q, at(*normed), at(*q), S, at(*scratch));
        d.linear(rec, L.k, at(*normed), at(*kb), S, at(*scratch));
        d.linear(rec, L.v, at(*normed), at(*v), S, at(*scratch));
        vulkan::Kernels::LocalAttentionArgs a;
        a.q = at(*q);
        a.k = at(*kb);
        a.v = at(*v);
        a.rel = at(*L.relative);
        a.perDimScale = at(*L.perDimScale);
        a.out = at(*attended);
        a.tokens = S;
        a.heads = H;
        a.headDim = D;
        a.keys = kAttentionKeys;
        a.queryScale = attentionQueryScale(int(D));
        a.keyScale = attentionKeyScale();
        a.softcap = kAttentionSoftcap;
        k.localAttention(rec, a);
        d.linear(rec, L.out, at(*attended), at(*branch), S, at(*scratch));
        norm(*branch, *x, L.attnPostNorm.get(), x.get());

        // Light conv module: pw1, GLU (first half times sigmoid of the second), causal depthwise
        // conv, norm, SiLU, pw2, residual add.
        norm(*x, *normed, L.convPreNorm.get());
        d.linear(rec, L.convPw1, at(*normed), at(*hidden), S, at(*scratch));
        k.sigmoidGlu(rec, at(*hidden, E), at(*hidden), at(*normed), E, S, 2 * E, 2 * E, E);
        k.depthwiseConvCausal(rec, at(*normed), at(*L.depthwise), at(*branch), E, uint32_t(p.convKernel), S);
        norm(*branch, *branch, L.convNorm.get());
        k.silu(rec, at(*branch), at(*branch), rowsE);
        d.linear(rec, L.convPw2, at(*branch), at(*attended), S, at(*scratch));
        k.add(rec, at(*x), at(*attended), at(*x), rowsE);

        halfStepFfn(*L.ffn2Norm, L.ffn2Up, L.ffn2Down, *L.ffn2PostNormHalf);
        norm(*x, *x, L.outNorm.get());
    }
    checkpoint(*x, rowsE, trace ? &trace->conformerOutput : nullptr);

    // Output projection with bias, weightless RMSNorm, projection into the text width.
    k.linear(rec, *d.outputProjection, at(*x), at(*projected), S);
    k.add(rec, at(*projected), at(*d.outputBias), at(*projected), uint64_t(S) * O, 1.0f, true, O);
    norm(*projected, *projected, nullptr, nullptr, O);
    checkpoint(*projected, uint64_t(S) * O, trace ? &trace->projectorInput : nullptr);
    k.linear(rec, *d.textProjection, at(*projected), at(*tokens), S);
    rec.submitAndWait();
    std::vector<float> out(size_t(S) * P);
    vulkan::download(dev, *tokens, 0, out.data(), out.size() * 4);
    return out;
}

} // namespace ocelle::audio
