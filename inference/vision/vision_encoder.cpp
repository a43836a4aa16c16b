#include "vision/vision_encoder.h"

#include "cpu/kernels.h"
#include "cpu/matmul.h"
#include "cpu/thread_pool.h"
#include "gguf/dequant.h"
#include "gguf/gguf.h"
#include "gguf/tensor_types.h"
#include "model/layer_plan.h"
#include "model/tower_reader.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ocelle::vision {
namespace {

[[noreturn]] void raiseVisionError(const std::string& message) {
    throw VisionError(message);
}

// x / sqrt(mean(x^2) + eps) * weight (no weight when null), one row of n values, in place. fp32.
void rmsNorm(float* x, int64_t n, const float* weight, float eps) {
    const float sumSquares = cpu::kernels().dotF32(x, x, n);
    const float scale = 1.0f / std::sqrt(sumSquares / static_cast<float>(n) + eps);
    if (weight)
        for (int64_t i = 0; i < n; ++i) x[i] = x[i] * scale * weight[i];
    else
        for (int64_t i = 0; i < n; ++i) x[i] *= scale;
}

inline float geluTanh(float x) {
    constexpr float kSqrt2OverPi = 0.7978845608028654f;
    return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
}

inline float geluQuick(float x) {
    return x / (1.0f + std::exp(-1.702f * x));
}

// Split-half rotation of `dims` values by per-pair cos/sin (dimension i pairs with i + dims/2).
inline void rotate(float* v, int dims, const float* cosines, const float* sines) {
    const int half = dims / 2;
    for (int i = 0; i < half; ++i) {
        const float x0 = v[i], x1 = v[i + half];
        v[i] = x0 * cosines[i] - x1 * sines[i];
        v[i + half] = x0 * sines[i] + x1 * cosines[i];
    }
}

} // namespace

bool hasVisionEncoder(const gguf::File& file) {
    if (const gguf::Value* v = file.find("clip.has_vision_encoder"); v && v->toBool()) return *v->toBool();
    if (file.find("clip.vision.projector_type")) return true;
    // Older single-tower files name the projector at the top level and have no audio keys.
    return file.find("clip.projector_type") && !file.find("clip.audio.projector_type") &&
           file.find("clip.vision.embedding_length");
}

const char* imageAttentionPolicyName(ImageAttentionPolicy policy) {
    return policy == ImageAttentionPolicy::HuggingFace ? "hf" : "llama";
}

std::optional<ImageAttentionPolicy> parseImageAttentionPolicy(const std::string& text) {
    if (text == "hf") return ImageAttentionPolicy::HuggingFace;
    if (text == "llama") return ImageAttentionPolicy::LlamaCpp;
    return std::nullopt;
}

bool imageTokensBidirectional(ImageAttentionPolicy policy, const model::HyperParams& text) {
    if (policy == ImageAttentionPolicy::LlamaCpp) return text.nEmbd != 1536 && text.nEmbd != 2560;
    return !text.hasPerLayerInputs(); // HF: E models (per-layer embeddings) stay causal
}

namespace {

// The CPU backend: fp32 activations, the CPU kernels' matmul on the stored weight types.
class CpuVisionEncoder final : public VisionEncoder {
public:
    CpuVisionEncoder(std::unique_ptr<gguf::File> file, int threads)
        : VisionEncoder(std::move(file)), pool_(std::make_unique<cpu::ThreadPool>(threads)) {}
    const char* backendName() const override { return "cpu"; }

protected:
    std::vector<float> encodeVectors(std::vector<float> vectors, int patchesX, int patchesY,
                                     VisionEncoderTrace* trace) const override;

private:
    std::unique_ptr<cpu::ThreadPool> pool_;
};

} // namespace

std::unique_ptr<VisionEncoder> VisionEncoder::load(const std::string& path, int threads) {
    return fromFile(gguf::File::open(path), threads);
}

std::unique_ptr<VisionEncoder> VisionEncoder::fromFile(std::unique_ptr<gguf::File> file, int threads) {
    return std::make_unique<CpuVisionEncoder>(std::move(file), threads);
}

VisionEncoder::~VisionEncoder() = default;

const std::string& VisionEncoder::path() const {
    return file_->path();
}

void VisionEncoder::checkCompatible(const model::HyperParams& text, const std::string& textModelName) const {
    if (text.nEmbd != params_.projectionDim)
        throw VisionError(path() + ": the vision encoder projects to width " +
                          std::to_string(params_.projectionDim) + " but the text model " + textModelName +
                          " is " + std::to_string(text.nEmbd) +
                          " wide (an mmproj file made for another model size?)");
}

int VisionEncoder::tokensFor(int patchesX, int patchesY) {
    if (patchesX <= 0 || patchesY <= 0) return 0;
    return (patchesX / kPoolingKernel) * (patchesY / kPoolingKernel);
}

VisionEncoder::VisionEncoder(std::unique_ptr<gguf::File> file) {
    const model::TowerReader r(*file, "vision", raiseVisionError);
    const auto arch = file->getString("general.architecture");
    if (arch && *arch != "clip")
        r.fail("general.architecture is '" + *arch + "', not 'clip': this is not an mmproj file");
    if (!hasVisionEncoder(*file))
        r.fail("this mmproj has no vision tower (it cannot encode images; an audio-only file?)");
    std::optional<std::string> projector;
    try {
        projector = file->getString("clip.vision.projector_type");
        if (!projector) projector = file->getString("clip.projector_type");
    } catch (const gguf::Error& e) {
        r.fail(e.what());
    }
    if (!projector) r.fail("the vision tower has no clip.vision.projector_type");
    if (*projector != "gemma4v")
        r.fail("vision projector type '" + *projector + "' is not Gemma 4's ('gemma4v')");

    VisionEncoderParams& p = params_;
    p.width = r.positiveKey("clip.vision.embedding_length");
    p.ffnWidth = r.positiveKey("clip.vision.feed_forward_length");
    p.layers = r.positiveKey("clip.vision.block_count", 1024);
    p.heads = r.positiveKey("clip.vision.attention.head_count", 1024);
    p.patchSize = r.positiveKey("clip.vision.patch_size", 1024);
    if (p.patchSize != 16)
        r.fail("clip.vision.patch_size is " + std::to_string(p.patchSize) + ", Gemma 4 uses 16");
    if (p.width % p.heads)
        r.fail("clip.vision.embedding_length " + std::to_string(p.width) +
               " is not a multiple of the head count " + std::to_string(p.heads));
    p.headDim = p.width / p.heads;
    if (p.headDim % 4)
        r.fail("vision head size " + std::to_string(p.headDim) +
               " is not a multiple of 4 (2-D RoPE rotates pairs in each half)");
    if (const gguf::Value* eps = file->find("clip.vision.attention.layer_norm_epsilon")) {
        const auto e = eps->toFloat();
        if (!e || !(*e > 0) || *e > 1e-2)
            r.fail("vision key 'clip.vision.attention.layer_norm_epsilon' is invalid: " + eps->describe());
        p.normEpsilon = static_cast<float>(*e);
    }
    if (const gguf::Value* g = file->find("clip.use_gelu")) p.fileUseGelu = g->toBool();
    r.triple("clip.vision.image_mean", p.imageMean, false);
    r.triple("clip.vision.image_std", p.imageStd, true);

    const int64_t D = p.width, F = p.ffnWidth, P = p.patchSize;
    auto w = std::make_unique<VisionTower>();
    w->patchEmbedding = r.matrix("v.patch_embd.weight", P * P * 3, D, {P, P, 3, D});
    const gguf::TensorInfo* table = file->tensor("v.position_embd.weight");
    if (!table)
        r.fail("vision tensor 'v.position_embd.weight' is missing (expected shape {" + std::to_string(D) +
               ", 10240, 2})");
    p.positionTableSize = static_cast<int>(std::clamp<int64_t>(table->dim(1), 0, 1 << 20));
    if (p.positionTableSize <= 0) r.fail("vision tensor 'v.position_embd.weight' has no rows");
    w->positionTable =
        r.matrix("v.position_embd.weight", D, 2 * int64_t(p.positionTableSize), {D, p.positionTableSize, 2});

    for (int l = 0; l < p.layers; ++l) {
        const std::string b = "v.blk." + std::to_string(l) + ".";
        VisionBlock B;
        B.ln1 = r.floats(b + "ln1.weight", {D});
        B.q = r.clamped(b + "attn_q", D, D);
        B.k = r.clamped(b + "attn_k", D, D);
        B.v = r.clamped(b + "attn_v", D, D);
        B.qNorm = r.floats(b + "attn_q_norm.weight", {p.headDim});
        B.kNorm = r.floats(b + "attn_k_norm.weight", {p.headDim});
        B.out = r.clamped(b + "attn_out", D, D);
        B.attnPostNorm = r.floats(b + "attn_post_norm.weight", {D});
        B.ln2 = r.floats(b + "ln2.weight", {D});
        B.gate = r.clamped(b + "ffn_gate", D, F);
        B.up = r.clamped(b + "ffn_up", D, F);
        B.down = r.clamped(b + "ffn_down", F, D);
        B.ffnPostNorm = r.floats(b + "ffn_post_norm.weight", {D});
        if (file->tensor(b + "out_scale.weight")) {
            B.outScale = r.floats(b + "out_scale.weight", {1})[0];
            p.blockOutputScale = true;
        }
        for (const ClampedLinear* c : {&B.q, &B.k, &B.v, &B.out, &B.gate, &B.up, &B.down})
            p.clampedLinears = p.clampedLinears || c->clamped();
        w->blocks.push_back(std::move(B));
    }
    if (file->tensor(std::string("v.blk.") + std::to_string(p.layers) + ".ln1.weight"))
        r.fail("the file has more vision blocks than clip.vision.block_count = " + std::to_string(p.layers));

    const bool hasBias = file->tensor("v.std_bias") != nullptr;
    const bool hasScale = file->tensor("v.std_scale") != nullptr;
    if (hasBias != hasScale)
        r.fail(std::string("vision tensor '") + (hasBias ? "v.std_scale" : "v.std_bias") +
               "' is missing (the standardize step needs both v.std_bias and v.std_scale)");
    if (hasBias) {
        w->stdBias = r.floats("v.std_bias", {D});
        w->stdScale = r.floats("v.std_scale", {D});
        p.standardize = true;
    }

    const gguf::TensorInfo* proj = file->tensor("mm.input_projection.weight");
    if (!proj)
        r.fail("vision tensor 'mm.input_projection.weight' is missing (the projector into the text model)");
    if (proj->dim(1) <= 0 || proj->dim(1) > (1 << 20))
        r.fail("vision tensor 'mm.input_projection.weight' has shape " + proj->shapeString());
    p.projectionDim = static_cast<int>(proj->dim(1));
    w->projection = r.clamped("mm.input_projection", D, p.projectionDim);

    tower_ = std::move(w);
    file_ = std::move(file);
}

namespace {

void checkGrid(const VisionEncoderParams& p, int patchesX, int patchesY) {
    if (patchesX <= 0 || patchesY <= 0 || patchesX % kPoolingKernel || patchesY % kPoolingKernel)
        throw VisionError("vision encoder: a grid of " + std::to_string(patchesX) + " x " +
                          std::to_string(patchesY) +
                          " patches cannot be pooled in 3x3 blocks (image sides must be multiples of 48)");
    if (patchesX > p.positionTableSize || patchesY > p.positionTableSize)
        throw VisionError("vision encoder: a grid of " + std::to_string(patchesX) + " x " +
                          std::to_string(patchesY) + " patches exceeds the position table (" +
                          std::to_string(p.positionTableSize) + " per side)");
}

} // namespace

std::vector<float> VisionEncoder::encodePixels(std::span<const float> planar, int width, int height,
                                               VisionEncoderTrace* trace) const {
    const int P = params_.patchSize;
    if (width <= 0 || height <= 0 || width % P || height % P)
        throw VisionError("vision encoder: image size " + std::to_string(width) + "x" +
                          std::to_string(height) + " is not a multiple of the " + std::to_string(P) +
                          "-pixel patch");
    const int px = width / P, py = height / P;
    checkGrid(params_, px, py);
    if (planar.size() != size_t(3) * size_t(width) * size_t(height))
        throw VisionError("vision encoder: expected 3 x " + std::to_string(height) + " x " +
                          std::to_string(width) + " pixel values, got " + std::to_string(planar.size()));
    const int64_t patchValues = int64_t(P) * P * 3;
    std::vector<float> vectors(size_t(px) * size_t(py) * size_t(patchValues));
    for (int c = 0; c < 3; ++c) {
        const float scale = 1.0f / params_.imageStd[c], mean = params_.imageMean[c];
        for (int y = 0; y < height; ++y)
            for (int x = 0; x < width; ++x) {
                const float value = planar[(size_t(c) * height + y) * width + x];
                const size_t patch = size_t(y / P) * px + size_t(x / P);
                vectors[patch * patchValues + (size_t(c) * P + y % P) * P + x % P] =
                    2.0f * ((value - mean) * scale) - 1.0f;
            }
    }
    return encodeVectors(std::move(vectors), px, py, trace);
}

std::vector<float> VisionEncoder::encodePatches(std::span<const float> patches, int patchesX, int patchesY,
                                                VisionEncoderTrace* trace) const {
    const int P = params_.patchSize;
    checkGrid(params_, patchesX, patchesY);
    const int64_t patchValues = int64_t(P) * P * 3;
    const size_t count = size_t(patchesX) * size_t(patchesY);
    if (patches.size() != count * size_t(patchValues))
        throw VisionError("vision encoder: expected " + std::to_string(count) + " patches of " +
                          std::to_string(patchValues) + " values, got " + std::to_string(patches.size()) +
                          " values");
    std::vector<float> vectors(patches.size());
    for (size_t n = 0; n < count; ++n)
        for (int row = 0; row < P; ++row)
            for (int col = 0; col < P; ++col)
                for (int c = 0; c < 3; ++c) {
                    const float value = patches[n * patchValues + (size_t(row) * P + col) * 3 + c];
                    vectors[n * patchValues + (size_t(c) * P + row) * P + col] =
                        2.0f * ((value - params_.imageMean[c]) / params_.imageStd[c]) - 1.0f;
                }
    return encodeVectors(std::move(vectors), patchesX, patchesY, trace);
}

std::vector<float> CpuVisionEncoder::encodeVectors(std::vector<float> vectors, int patchesX, int patchesY,
                                                   VisionEncoderTrace* trace) const {
    const VisionEncoderParams& p = params();
    const VisionTower& w = tower();
    cpu::ThreadPool& pool = *pool_;
    const cpu::Kernels& kern = cpu::kernels();
    const int64_t N = int64_t(patchesX) * patchesY, D = p.width, F = p.ffnWidth;
    const int H = p.heads, hd = p.headDim;
    const float eps = p.normEpsilon;

    // Patch embedding plus the x and y position rows.
    std::vector<float> x(size_t(N * D));
    cpu::matmul(pool, w.patchEmbedding, vectors.data(), N, x.data());
    vectors = {};
    {
        std::vector<float> row(static_cast<size_t>(D));
        for (int64_t n = 0; n < N; ++n) {
            const int64_t px = n % patchesX, py = n / patchesX;
            for (int64_t axisRow : {px, int64_t(p.positionTableSize) + py}) {
                gguf::dequantizeRow(w.positionTable.type,
                                    w.positionTable.data + uint64_t(axisRow) * w.positionTable.rowBytes,
                                    row.data(), D);
                for (int64_t i = 0; i < D; ++i) x[size_t(n * D + i)] += row[size_t(i)];
            }
        }
    }
    if (trace) {
        trace->embeddings = x;
        trace->layerOutputs.clear();
    }

    // 2-D RoPE tables: each half of a head (hd/2 values) rotates by one axis, pairs (i, i + hd/4),
    // angle pos * 100^(-2i / (hd/2)).
    const int half = hd / 2, quarter = hd / 4;
    const auto angles = [&](int positions) {
        std::vector<float> cs(size_t(positions) * quarter * 2);
        for (int pos = 0; pos < positions; ++pos)
            for (int i = 0; i < quarter; ++i) {
                const double theta = pos * std::pow(double(kRopeBase), -2.0 * i / double(half));
                cs[size_t(pos) * quarter * 2 + i] = float(std::cos(theta));
                cs[size_t(pos) * quarter * 2 + quarter + i] = float(std::sin(theta));
            }
        return cs;
    };
    const std::vector<float> ropeX = angles(patchesX), ropeY = angles(patchesY);
    const auto ropeHead = [&](float* v, int64_t n) {
        const float* cx = &ropeX[size_t(n % patchesX) * quarter * 2];
        const float* cy = &ropeY[size_t(n / patchesX) * quarter * 2];
        rotate(v, half, cx, cx + quarter);
        rotate(v + half, half, cy, cy + quarter);
    };

    std::vector<float> normed(size_t(N * D)), q(size_t(N * D)), k(size_t(N * D)), v(size_t(N * D));
    std::vector<float> attended(size_t(N * D)), branch(size_t(N * D));
    std::vector<float> gate(size_t(N * F)), up(size_t(N * F)), clampScratch;
    // Keys and values per head, contiguous: [head][patch][hd].
    std::vector<float> kHeads(size_t(N * D)), vHeads(size_t(N * D));

    for (const VisionBlock& B : w.blocks) {
        pool.parallelFor(N, [&](int64_t b, int64_t e) {
            for (int64_t n = b; n < e; ++n) {
                std::copy_n(&x[size_t(n * D)], D, &normed[size_t(n * D)]);
                rmsNorm(&normed[size_t(n * D)], D, B.ln1.data(), eps);
            }
        });
        cpu::clampedMatmul(pool, B.q, normed.data(), N, q.data(), clampScratch);
        cpu::clampedMatmul(pool, B.k, normed.data(), N, k.data(), clampScratch);
        cpu::clampedMatmul(pool, B.v, normed.data(), N, v.data(), clampScratch);
        pool.parallelFor(N, [&](int64_t b, int64_t e) {
            for (int64_t n = b; n < e; ++n)
                for (int h = 0; h < H; ++h) {
                    float* qh = &q[size_t(n * D + h * hd)];
                    rmsNorm(qh, hd, B.qNorm.data(), eps);
                    ropeHead(qh, n);
                    float* kh = &k[size_t(n * D + h * hd)];
                    rmsNorm(kh, hd, B.kNorm.data(), eps);
                    ropeHead(kh, n);
                    float* vh = &v[size_t(n * D + h * hd)];
                    rmsNorm(vh, hd, nullptr, eps);
                    std::copy_n(kh, hd, &kHeads[size_t((h * N + n) * hd)]);
                    std::copy_n(vh, hd, &vHeads[size_t((h * N + n) * hd)]);
                }
        });
        // Every patch sees every patch of the image; scale 1.0 (the q/k norms replace 1/sqrt(d)).
        pool.parallelFor(N * H, [&](int64_t begin, int64_t end) {
            std::vector<float> scores(static_cast<size_t>(N));
            for (int64_t item = begin; item < end; ++item) {
                const int64_t n = item / H;
                const int h = int(item % H);
                const float* qh = &q[size_t(n * D + h * hd)];
                const float* keys = &kHeads[size_t(h * N * hd)];
                float maxScore = -std::numeric_limits<float>::infinity();
                for (int64_t j = 0; j < N; ++j) {
                    scores[size_t(j)] = kern.dotF32(qh, keys + j * hd, hd);
                    maxScore = std::max(maxScore, scores[size_t(j)]);
                }
                float sum = 0;
                for (int64_t j = 0; j < N; ++j)
                    sum += scores[size_t(j)] = std::exp(scores[size_t(j)] - maxScore);
                const float inv = 1.0f / sum;
                float* o = &attended[size_t(n * D + h * hd)];
                std::fill_n(o, hd, 0.0f);
                const float* values = &vHeads[size_t(h * N * hd)];
                for (int64_t j = 0; j < N; ++j) kern.axpyF32(scores[size_t(j)] * inv, values + j * hd, o, hd);
            }
        });
        cpu::clampedMatmul(pool, B.out, attended.data(), N, branch.data(), clampScratch);
        pool.parallelFor(N, [&](int64_t b, int64_t e) {
            for (int64_t n = b; n < e; ++n) {
                float* row = &branch[size_t(n * D)];
                rmsNorm(row, D, B.attnPostNorm.data(), eps);
                float* h = &x[size_t(n * D)];
                for (int64_t i = 0; i < D; ++i) h[i] += row[i];
                std::copy_n(h, D, &normed[size_t(n * D)]);
                rmsNorm(&normed[size_t(n * D)], D, B.ln2.data(), eps);
            }
        });
        cpu::clampedMatmul(pool, B.gate, normed.data(), N, gate.data(), clampScratch);
        cpu::clampedMatmul(pool, B.up, normed.data(), N, up.data(), clampScratch);
        const bool quick = activation() == Activation::GeluQuick;
        pool.parallelFor(
            N * F,
            [&](int64_t b, int64_t e) {
                for (int64_t i = b; i < e; ++i) {
                    const float g = gate[size_t(i)];
                    gate[size_t(i)] = (quick ? geluQuick(g) : geluTanh(g)) * up[size_t(i)];
                }
            },
            4096);
        cpu::clampedMatmul(pool, B.down, gate.data(), N, branch.data(), clampScratch);
        pool.parallelFor(N, [&](int64_t b, int64_t e) {
            for (int64_t n = b; n < e; ++n) {
                float* row = &branch[size_t(n * D)];
                rmsNorm(row, D, B.ffnPostNorm.data(), eps);
                float* h = &x[size_t(n * D)];
                for (int64_t i = 0; i < D; ++i) h[i] += row[i];
            }
        });
        if (trace) trace->layerOutputs.push_back(x);
        if (B.outScale != 1.0f)
            for (float& value : x) value *= B.outScale;
    }

    // 3x3 mean pooling, row-major over the pooled grid, times sqrt(D).
    const int gx = patchesX / kPoolingKernel, gy = patchesY / kPoolingKernel;
    const int64_t T = int64_t(gx) * gy;
    std::vector<float> pooled(size_t(T * D), 0.0f);
    const float poolScale = std::sqrt(float(D)) / float(kPoolingKernel * kPoolingKernel);
    for (int ty = 0; ty < gy; ++ty)
        for (int tx = 0; tx < gx; ++tx) {
            float* out = &pooled[size_t((int64_t(ty) * gx + tx) * D)];
            for (int dy = 0; dy < kPoolingKernel; ++dy)
                for (int dx = 0; dx < kPoolingKernel; ++dx) {
                    const int64_t n = int64_t(ty * kPoolingKernel + dy) * patchesX + tx * kPoolingKernel + dx;
                    for (int64_t i = 0; i < D; ++i) out[i] += x[size_t(n * D + i)];
                }
            for (int64_t i = 0; i < D; ++i) out[i] *= poolScale;
        }
    if (trace) trace->pooled = pooled;
    if (p.standardize)
        for (int64_t t = 0; t < T; ++t)
            for (int64_t i = 0; i < D; ++i) {
                float& value = pooled[size_t(t * D + i)];
                value = (value - w.stdBias[size_t(i)]) * w.stdScale[size_t(i)];
            }

    // Projector: Wproj rms(x), no weights on the norm.
    for (int64_t t = 0; t < T; ++t) rmsNorm(&pooled[size_t(t * D)], D, nullptr, eps);
    if (trace) trace->projectorInput = pooled;
    std::vector<float> tokens(size_t(T) * size_t(p.projectionDim));
    cpu::clampedMatmul(pool, w.projection, pooled.data(), T, tokens.data(), clampScratch);
    return tokens;
}

} // namespace ocelle::vision
