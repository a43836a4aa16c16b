#include "audio/audio_encoder.h"
#include "audio/audio_tower.h"
#include "audio/vulkan_audio_encoder.h"
#include "cpu/thread_pool.h"

#include "cpu/kernels.h"
#include "cpu/matmul.h"
#include "gguf/dequant.h"
#include "gguf/gguf.h"
#include "gguf/tensor_types.h"
#include "model/layer_plan.h"
#include "model/tower_reader.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ocelle::audio {
namespace {

constexpr float kInfinity = std::numeric_limits<float>::infinity();

[[noreturn]] void raiseAudioError(const std::string& message) {
    throw AudioError(message);
}

// x / sqrt(mean(x^2) + eps) * weight (no weight when empty), one row of n values, in place.
void rmsNorm(float* x, int64_t n, const std::vector<float>& weight) {
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += double(x[i]) * x[i];
    const float scale = 1.0f / std::sqrt(float(sum / double(n)) + kNormEpsilon);
    for (int64_t i = 0; i < n; ++i) x[i] = x[i] * scale * (weight.empty() ? 1.0f : weight[size_t(i)]);
}

std::vector<float> repackKernel(const std::vector<float>& k, int inChannels, int outChannels) {
    std::vector<float> packed(k.size());
    for (int o = 0; o < outChannels; ++o)
        for (int i = 0; i < inChannels; ++i)
            for (int tap = 0; tap < 9; ++tap)
                packed[(size_t(tap) * outChannels + o) * inChannels + i] =
                    k[(size_t(o) * inChannels + i) * 9 + tap];
    return packed;
}

float silu(float x) {
    return x / (1.0f + std::exp(-x));
}

} // namespace

float attentionQueryScale(int headDim) {
    return (1.0f / std::sqrt(float(headDim))) / std::log(2.0f);
}

float attentionKeyScale() {
    return std::log(1.0f + std::exp(1.0f)) / std::log(2.0f);
}

bool hasAudioEncoder(const gguf::File& file) {
    if (const gguf::Value* v = file.find("clip.has_audio_encoder"); v && v->toBool()) return *v->toBool();
    return file.find("clip.audio.projector_type") != nullptr;
}

void checkTextModelTakesAudio(const model::HyperParams& text, const std::string& textModelName) {
    if (text.variant == model::Variant::A4B26B || text.variant == model::Variant::Dense31B)
        throw AudioError(textModelName + ": this model has no audio encoder (Gemma 4 " +
                         model::variantName(text.variant) +
                         " takes text and images only; audio needs E2B or E4B)");
    if (!text.hasPerLayerInputs())
        throw AudioError(textModelName +
                         ": this model has no audio encoder (only the E2B/E4B kind, with per-layer "
                         "embeddings, takes audio)");
}

namespace {

// The encoder on the CPU's thread pool.
class CpuAudioEncoder : public AudioEncoder {
public:
    CpuAudioEncoder(std::unique_ptr<gguf::File> file, int threads)
        : AudioEncoder(std::move(file)), pool_(std::make_unique<cpu::ThreadPool>(threads)) {}
    std::string backendName() const override { return "cpu"; }
    std::vector<float> encode(std::span<const float> mel, int frames,
                              AudioEncoderTrace* trace = nullptr) const override;

private:
    std::unique_ptr<cpu::ThreadPool> pool_;
};

} // namespace

std::unique_ptr<AudioEncoder> AudioEncoder::load(const std::string& path, int threads) {
    return fromFile(gguf::File::open(path), threads);
}

std::unique_ptr<AudioEncoder> AudioEncoder::fromFile(std::unique_ptr<gguf::File> file, int threads) {
    return std::make_unique<CpuAudioEncoder>(std::move(file), threads);
}

std::unique_ptr<AudioEncoder> loadAudioEncoder(const std::string& path, const AudioEncoderOptions& options) {
    if (options.backend == AudioBackend::Vulkan) return VulkanAudioEncoder::load(path, options.device);
    return AudioEncoder::load(path, options.threads);
}

AudioEncoder::~AudioEncoder() = default;

void AudioEncoder::checkInput(std::span<const float> mel, int frames) const {
    if (frames <= 0) throw AudioError("audio encoder: no mel frames to encode (the audio is too short)");
    if (mel.size() != size_t(params_.melBins) * size_t(frames))
        throw AudioError("audio encoder: expected " + std::to_string(params_.melBins) + " x " +
                         std::to_string(frames) + " mel values, got " + std::to_string(mel.size()));
}

const std::string& AudioEncoder::path() const {
    return file_->path();
}

void AudioEncoder::checkCompatible(const model::HyperParams& text, const std::string& textModelName) const {
    checkTextModelTakesAudio(text, textModelName);
    if (text.nEmbd != params_.projectionDim)
        throw AudioError(path() + ": the audio encoder projects to width " +
                         std::to_string(params_.projectionDim) + " but the text model " + textModelName +
                         " is " + std::to_string(text.nEmbd) +
                         " wide (an mmproj file of another model size?)");
}

int AudioEncoder::tokensForFrames(int frames) {
    if (frames <= 0) return 0;
    const int afterFirst = (frames - 1) / 2 + 1;
    return (afterFirst - 1) / 2 + 1;
}

AudioEncoder::AudioEncoder(std::unique_ptr<gguf::File> file) {
    const model::TowerReader r(*file, "audio", raiseAudioError);
    const auto arch = file->getString("general.architecture");
    if (arch && *arch != "clip")
        r.fail("general.architecture is '" + *arch + "', not 'clip': this is not an mmproj file");
    if (!hasAudioEncoder(*file))
        r.fail("this model has no audio encoder (the mmproj file has no audio tower)");
    std::optional<std::string> projector;
    try {
        projector = file->getString("clip.audio.projector_type");
    } catch (const gguf::Error& e) {
        r.fail(e.what());
    }
    if (!projector) projector = file->getString("clip.projector_type");
    if (!projector) r.fail("the audio tower has no clip.audio.projector_type");
    if (*projector != "gemma4a")
        r.fail("audio projector type '" + *projector + "' is not Gemma 4's ('gemma4a')");

    AudioEncoderParams& p = params_;
    p.melBins = r.positiveKey("clip.audio.num_mel_bins");
    p.width = r.positiveKey("clip.audio.embedding_length");
    p.ffnWidth = r.positiveKey("clip.audio.feed_forward_length");
    p.layers = r.positiveKey("clip.audio.block_count");
    p.heads = r.positiveKey("clip.audio.attention.head_count");
    p.projectionDim = r.positiveKey("clip.audio.projection_dim");
    if (p.width % p.heads)
        r.fail("clip.audio.embedding_length " + std::to_string(p.width) +
               " is not a multiple of the head count " + std::to_string(p.heads));
    p.headDim = p.width / p.heads;

    const gguf::TensorInfo* conv0 = file->tensor("a.conv1d.0.weight");
    const gguf::TensorInfo* conv1 = file->tensor("a.conv1d.1.weight");
    if (!conv0 || !conv1) r.fail("audio tensor 'a.conv1d.0.weight' or 'a.conv1d.1.weight' is missing");
    p.convChannels0 = static_cast<int>(conv0->dim(3));
    p.convChannels1 = static_cast<int>(conv1->dim(3));
    if (p.convChannels0 <= 0 || p.convChannels1 <= 0)
        r.fail("audio sub-sampling convolutions have no channels");
    const int bins1 = (p.melBins - 1) / 2 + 1;
    p.subsampledBins = (bins1 - 1) / 2 + 1;
    const gguf::TensorInfo* out = file->tensor("a.pre_encode.out.weight");
    if (!out) r.fail("audio tensor 'a.pre_encode.out.weight' is missing");
    p.outputDim = static_cast<int>(out->dim(1));
    const gguf::TensorInfo* dw = file->tensor("a.blk.0.conv_dw.weight");
    if (!dw) r.fail("audio tensor 'a.blk.0.conv_dw.weight' is missing");
    p.convKernel = static_cast<int>(dw->dim(0));
    if (p.outputDim <= 0 || p.convKernel <= 0 || p.convKernel > 64)
        r.fail("audio output or conv sizes are invalid");

    auto w = std::make_unique<AudioTower>();
    const int64_t E = p.width, F = p.ffnWidth, C0 = p.convChannels0, C1 = p.convChannels1;
    w->conv0 = repackKernel(r.floats("a.conv1d.0.weight", {3, 3, 1, C0}), 1, int(C0));
    w->conv0Norm = r.floats("a.conv1d.0.norm.weight", {C0});
    w->conv1 = repackKernel(r.floats("a.conv1d.1.weight", {3, 3, C0, C1}), int(C0), int(C1));
    w->conv1Norm = r.floats("a.conv1d.1.norm.weight", {C1});
    w->inputProjection = r.clamped("a.input_projection", int64_t{p.subsampledBins} * C1, E);
    for (int l = 0; l < p.layers; ++l) {
        const std::string b = "a.blk." + std::to_string(l) + ".";
        ConformerLayer L;
        L.ffnNorm = r.floats(b + "ffn_norm.weight", {E});
        L.ffnUp = r.clamped(b + "ffn_up", E, F);
        L.ffnDown = r.clamped(b + "ffn_down", F, E);
        L.ffnPostNorm = r.floats(b + "ffn_post_norm.weight", {E});
        L.attnPreNorm = r.floats(b + "attn_pre_norm.weight", {E});
        L.q = r.clamped(b + "attn_q", E, E);
        L.k = r.clamped(b + "attn_k", E, E);
        L.v = r.clamped(b + "attn_v", E, E);
        L.out = r.clamped(b + "attn_out", E, E);
        L.relativeKey = r.matrix(b + "attn_k_rel.weight", E, E);
        L.perDimScale = r.floats(b + "per_dim_scale.weight", {p.headDim});
        L.attnPostNorm = r.floats(b + "attn_post_norm.weight", {E});
        L.convPreNorm = r.floats(b + "conv_norm.weight", {E});
        L.convPw1 = r.clamped(b + "conv_pw1", E, 2 * E);
        L.depthwise = r.floats(b + "conv_dw.weight", {p.convKernel, E});
        L.convNorm = r.floats(b + "norm_conv.weight", {E});
        L.convPw2 = r.clamped(b + "conv_pw2", E, E);
        L.ffn2Norm = r.floats(b + "ffn_norm_1.weight", {E});
        L.ffn2Up = r.clamped(b + "ffn_up_1", E, F);
        L.ffn2Down = r.clamped(b + "ffn_down_1", F, E);
        L.ffn2PostNorm = r.floats(b + "ffn_post_norm_1.weight", {E});
        L.outNorm = r.floats(b + "ln2.weight", {E});
        w->layers.push_back(std::move(L));
    }
    w->outputProjection = r.matrix("a.pre_encode.out.weight", E, p.outputDim);
    w->outputBias = r.floats("a.pre_encode.out.bias", {p.outputDim});
    w->textProjection = r.matrix("mm.a.input_projection.weight", p.outputDim, p.projectionDim);

    // Transformer-XL sinusoids: row j holds distance 12 - j; sin in the first half, cos in the second.
    const int half = p.width / 2;
    const double increment = std::log(10000.0) / std::max(half - 1, 1);
    w->relativePositions.assign(size_t(kRelativePositions) * E, 0.0f);
    for (int j = 0; j < kRelativePositions; ++j) {
        const double position = kRelativePositions - 1 - j;
        for (int i = 0; i < half; ++i) {
            const float inverse = static_cast<float>(std::exp(-i * increment));
            const float angle = static_cast<float>(position) * inverse;
            w->relativePositions[size_t(j) * E + i] = std::sin(angle);
            w->relativePositions[size_t(j) * E + half + i] = std::cos(angle);
        }
    }

    tower_ = std::move(w);
    file_ = std::move(file);
}

namespace {

// 3x3 stride-2 convolution with padding 1 over [time][freq][inChannels] (channel fastest), then
// LayerNorm over the output channels (weight, no bias) and ReLU. Output [time'][freq'][outChannels].
std::vector<float> subsampleLayer(cpu::ThreadPool& pool, const std::vector<float>& in, int times, int bins,
                                  int inChannels, const std::vector<float>& kernel,
                                  const std::vector<float>& norm, int outChannels, int& outTimes,
                                  int& outBins) {
    outTimes = (times - 1) / 2 + 1;
    outBins = (bins - 1) / 2 + 1;
    std::vector<float> out(size_t(outTimes) * outBins * outChannels);
    const int T = outTimes, Fo = outBins;
    const auto& kern = cpu::kernels();
    pool.parallelFor(T, [&](int64_t begin, int64_t end) {
        std::vector<float> acc(static_cast<size_t>(outChannels));
        for (int64_t t = begin; t < end; ++t) {
            for (int f = 0; f < Fo; ++f) {
                std::fill(acc.begin(), acc.end(), 0.0f);
                for (int kh = 0; kh < 3; ++kh) {
                    const int ti = int(2 * t) - 1 + kh;
                    if (ti < 0 || ti >= times) continue;
                    for (int kw = 0; kw < 3; ++kw) {
                        const int fi = 2 * f - 1 + kw;
                        if (fi < 0 || fi >= bins) continue;
                        const float* x = &in[(size_t(ti) * bins + fi) * inChannels];
                        const float* taps = &kernel[size_t(kh * 3 + kw) * outChannels * inChannels];
                        for (int o = 0; o < outChannels; ++o)
                            acc[size_t(o)] += kern.dotF32(taps + size_t(o) * inChannels, x, inChannels);
                    }
                }
                double mean = 0, var = 0;
                for (float v : acc) mean += v;
                mean /= outChannels;
                for (float v : acc) var += (v - mean) * (v - mean);
                var /= outChannels;
                const float inv = 1.0f / std::sqrt(float(var) + kNormEpsilon);
                float* y = &out[(size_t(t) * Fo + f) * outChannels];
                for (int o = 0; o < outChannels; ++o)
                    y[o] = std::max(0.0f, (acc[size_t(o)] - float(mean)) * inv * norm[size_t(o)]);
            }
        }
    });
    return out;
}

} // namespace

std::vector<float> CpuAudioEncoder::encode(std::span<const float> mel, int frames,
                                           AudioEncoderTrace* trace) const {
    const AudioEncoderParams& p = params();
    const AudioTower& w = tower();
    cpu::ThreadPool& pool = *pool_;
    checkInput(mel, frames);

    // Sub-sampling: mel-major input -> [time][freq][1].
    std::vector<float> x0(size_t(frames) * p.melBins);
    for (int b = 0; b < p.melBins; ++b)
        for (int t = 0; t < frames; ++t) x0[size_t(t) * p.melBins + b] = mel[size_t(b) * frames + t];
    int t1 = 0, f1 = 0, t2 = 0, f2 = 0;
    auto x1 = subsampleLayer(pool, x0, frames, p.melBins, 1, w.conv0, w.conv0Norm, p.convChannels0, t1, f1);
    auto x2 =
        subsampleLayer(pool, x1, t1, f1, p.convChannels0, w.conv1, w.conv1Norm, p.convChannels1, t2, f2);
    if (f2 != p.subsampledBins) throw AudioError("audio encoder: internal sub-sampling size mismatch");
    const int64_t S = t2, E = p.width;
    if (trace) trace->subsampled = x2;

    std::vector<float> x(size_t(S * E)), clampScratch;
    cpu::clampedMatmul(pool, w.inputProjection, x2.data(), S, x.data(), clampScratch);
    if (trace) trace->conformerInput = x;

    std::vector<float> normed(size_t(S * E)), hidden(size_t(S * std::max<int64_t>(p.ffnWidth, 2 * E)));
    std::vector<float> q(size_t(S * E)), k(size_t(S * E)), v(size_t(S * E)), attended(size_t(S * E));
    std::vector<float> relative(size_t(kRelativePositions) * E), branch(size_t(S * E));
    const auto& kern = cpu::kernels();

    const auto halfStepFfn = [&](const std::vector<float>& preNorm, const ClampedLinear& up,
                                 const ClampedLinear& down, const std::vector<float>& postNorm) {
        normed = x;
        for (int64_t s = 0; s < S; ++s) rmsNorm(&normed[size_t(s * E)], E, preNorm);
        cpu::clampedMatmul(pool, up, normed.data(), S, hidden.data(), clampScratch);
        for (int64_t i = 0; i < S * p.ffnWidth; ++i) hidden[size_t(i)] = silu(hidden[size_t(i)]);
        cpu::clampedMatmul(pool, down, hidden.data(), S, branch.data(), clampScratch);
        for (int64_t s = 0; s < S; ++s) {
            rmsNorm(&branch[size_t(s * E)], E, postNorm);
            for (int64_t i = 0; i < E; ++i) x[size_t(s * E + i)] += 0.5f * branch[size_t(s * E + i)];
        }
    };

    const int H = p.heads, D = p.headDim;
    const float queryScale = attentionQueryScale(D);
    const float keyScale = attentionKeyScale();

    for (const ConformerLayer& L : w.layers) {
        halfStepFfn(L.ffnNorm, L.ffnUp, L.ffnDown, L.ffnPostNorm);

        // Chunked causal local attention: frame t sees frames t-11..t (blocks of 12 with 12 past
        // keys and a window mask, flattened), scores q.k + q.relK[distance], softcapped.
        normed = x;
        for (int64_t s = 0; s < S; ++s) rmsNorm(&normed[size_t(s * E)], E, L.attnPreNorm);
        cpu::clampedMatmul(pool, L.q, normed.data(), S, q.data(), clampScratch);
        cpu::clampedMatmul(pool, L.k, normed.data(), S, k.data(), clampScratch);
        cpu::clampedMatmul(pool, L.v, normed.data(), S, v.data(), clampScratch);
        cpu::matmul(pool, L.relativeKey, w.relativePositions.data(), kRelativePositions, relative.data());
        for (int64_t s = 0; s < S; ++s)
            for (int h = 0; h < H; ++h)
                for (int d = 0; d < D; ++d) {
                    q[size_t(s * E + h * D + d)] *= queryScale * L.perDimScale[size_t(d)];
                    k[size_t(s * E + h * D + d)] *= keyScale;
                }
        pool.parallelFor(S * H, [&](int64_t begin, int64_t end) {
            float scores[kAttentionKeys];
            for (int64_t item = begin; item < end; ++item) {
                const int64_t t = item / H;
                const int h = int(item % H);
                const float* qt = &q[size_t(t * E + h * D)];
                const int64_t first = std::max<int64_t>(0, t - (kAttentionKeys - 1));
                float maxScore = -kInfinity;
                for (int64_t key = first; key <= t; ++key) {
                    const int64_t distance = t - key;
                    const float* rel = &relative[size_t((kRelativePositions - 1 - distance) * E + h * D)];
                    float s = kern.dotF32(qt, &k[size_t(key * E + h * D)], D) + kern.dotF32(qt, rel, D);
                    s = kAttentionSoftcap * std::tanh(s / kAttentionSoftcap);
                    scores[key - first] = s;
                    maxScore = std::max(maxScore, s);
                }
                float sum = 0;
                for (int64_t key = first; key <= t; ++key)
                    sum += scores[key - first] = std::exp(scores[key - first] - maxScore);
                float* o = &attended[size_t(t * E + h * D)];
                std::fill(o, o + D, 0.0f);
                for (int64_t key = first; key <= t; ++key)
                    kern.axpyF32(scores[key - first] / sum, &v[size_t(key * E + h * D)], o, D);
            }
        });
        cpu::clampedMatmul(pool, L.out, attended.data(), S, branch.data(), clampScratch);
        for (int64_t s = 0; s < S; ++s) {
            rmsNorm(&branch[size_t(s * E)], E, L.attnPostNorm);
            for (int64_t i = 0; i < E; ++i) x[size_t(s * E + i)] += branch[size_t(s * E + i)];
        }

        // Light conv module: pw1, GLU, causal depthwise conv, norm, SiLU, pw2.
        normed = x;
        for (int64_t s = 0; s < S; ++s) rmsNorm(&normed[size_t(s * E)], E, L.convPreNorm);
        cpu::clampedMatmul(pool, L.convPw1, normed.data(), S, hidden.data(), clampScratch);
        for (int64_t s = 0; s < S; ++s)
            for (int64_t i = 0; i < E; ++i) {
                const float a = hidden[size_t(s * 2 * E + i)], gate = hidden[size_t(s * 2 * E + E + i)];
                normed[size_t(s * E + i)] = a / (1.0f + std::exp(-gate));
            }
        const int K = p.convKernel;
        for (int64_t s = 0; s < S; ++s) {
            for (int64_t c = 0; c < E; ++c) {
                float acc = 0;
                for (int j = 0; j < K; ++j) {
                    const int64_t src = s - (K - 1) + j;
                    if (src >= 0) acc += L.depthwise[size_t(c * K + j)] * normed[size_t(src * E + c)];
                }
                branch[size_t(s * E + c)] = acc;
            }
            rmsNorm(&branch[size_t(s * E)], E, L.convNorm);
            for (int64_t c = 0; c < E; ++c) branch[size_t(s * E + c)] = silu(branch[size_t(s * E + c)]);
        }
        cpu::clampedMatmul(pool, L.convPw2, branch.data(), S, attended.data(), clampScratch);
        for (int64_t i = 0; i < S * E; ++i) x[size_t(i)] += attended[size_t(i)];

        halfStepFfn(L.ffn2Norm, L.ffn2Up, L.ffn2Down, L.ffn2PostNorm);
        for (int64_t s = 0; s < S; ++s) rmsNorm(&x[size_t(s * E)], E, L.outNorm);
    }
    if (trace) trace->conformerOutput = x;

    // Output projection with bias, weightless RMSNorm, projection into the text width.
    std::vector<float> projected(size_t(S) * p.outputDim);
    cpu::matmul(pool, w.outputProjection, x.data(), S, projected.data());
    for (int64_t s = 0; s < S; ++s) {
        float* row = &projected[size_t(s) * p.outputDim];
        for (int i = 0; i < p.outputDim; ++i) row[i] += w.outputBias[size_t(i)];
        rmsNorm(row, p.outputDim, {});
    }
    if (trace) trace->projectorInput = projected;
    std::vector<float> tokens(size_t(S) * p.projectionDim);
    cpu::matmul(pool, w.textProjection, projected.data(), S, tokens.data());
    return tokens;
}

} // namespace ocelle::audio
