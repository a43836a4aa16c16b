// The compute kernels, each appended to a Recorder's command buffer (nothing runs until submit).
//
// Activations live in Buffers and are addressed by View {buffer, offset in 4-byte elements};
// shapes and strides are in elements. Each call binds exactly the range it touches, so the
// Recorder's dependency tracking inserts barriers only between dependent kernels. Weights are
// WeightTensors: one dispatch per chunk, so tensors beyond maxStorageBufferRange just work.
//
// A forward pass records a token's whole layer plan into one Recorder:
//   rec.begin();
//   k.gather(rec, embd, ids, x, 1, sqrt(hidden));
//   for each layer: k.rmsNorm(...); k.matvec(rec, wq, ...); k.matvec(rec, wk, ...); ... k.attention(...);
//   k.matvec(rec, output, xn, logits, 1, ..., /*softcap*/ 30);
//   rec.submitAndWait();  download(logits)   // the only host wait of the token
#pragma once

#include "vulkan/compute.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace ocelle::vulkan {

struct View {
    const Buffer* buffer = nullptr;
    uint64_t offset = 0; // in 4-byte elements
};
inline View at(const Buffer& b, uint64_t offset = 0) {
    return {&b, offset};
}

struct KernelTuning {
    bool useSubgroups = true;     // subgroup-arithmetic variants (forced off when the device lacks them)
    uint32_t matvecWorkgroup = 0; // 0: chosen from the device
    uint32_t matvecRows = 0;      // rows per matvec workgroup; 0: chosen from the device
    // One row per invocation, no cross-lane reduction (matvec_rows.comp): the faster layout on CPU-type
    // devices, whose invocations are SIMD lanes. Default: on for CPU devices, off for GPUs.
    std::optional<bool> rowPerInvocation;
    // Rows per invocation of that layout's matvec (each loaded activation serves this many rows; 1 for
    // matrices too small to give 4 workgroups; 0: 8). Prefill uses 4 tokens x 4 rows.
    uint32_t rowsPerLane = 0;
    // 16/8-bit storage loads of F16/BF16/Q4_0/Q8_0 weights in the GPU matvec (used when the device has
    // both storage features; OCELLE_VULKAN_NO_NARROW_LOADS=1 turns them off).
    bool narrowLoads = true;
    uint32_t attentionMinPerSplit = 128; // decode attention: key positions per split at least
    uint32_t attentionMaxSplits = 32;
    // Q4_0/Q8_0 matvec and matmul on activations rounded to 8 bits per 32-value block (the CPU's q8
    // mode: logits within 1.0 of exact math) with packed 4x8-bit integer dot products. Unset: the
    // environment's OCELLE_VULKAN_INTEGER_DOT=1/0, else on only where the device accelerates signed
    // 4x8-bit dot products (GPUs; not lavapipe). Always off without shaderIntegerDotProduct.
    std::optional<bool> integerDot;
};

struct RmsNormArgs {
    View x;
    View out;
    uint32_t n = 0; // row length
    uint32_t rows = 1;
    float eps = 1e-6f;
    std::optional<View> weight = std::nullopt;   // length n, shared by all rows
    std::optional<View> residual = std::nullopt; // out = (residual + norm(x) * w) * scale
    float scale = 1.0f;
    uint32_t xStride = 0, outStride = 0, residualStride = 0; // 0: n
};

struct AttentionArgs {
    View q;      // [tokens][heads][headDim] (token stride qTokenStride, 0: heads*headDim)
    View kCache; // [capacity][kvHeads][headDim]
    View vCache;
    bool kvF16 = false; // the caches hold fp16 pairs packed in words (kvStore with f16); headDim even
    View out;           // [tokens][heads][headDim] (token stride outTokenStride, 0: heads*headDim)
    std::optional<View> scratch; // decode splits: attentionScratchElements() elements
    uint32_t headDim = 0, heads = 0, kvHeads = 0;
    uint32_t capacity = 0; // cache slots; position p is slot p % capacity
    uint32_t pos0 = 0;     // position of the first query token (its K/V already stored)
    uint32_t tokens = 1;
    uint32_t window = 0; // 0: full causal; else sliding window of this many positions
    float scale = 1.0f;
    uint32_t splits = 0; // 0: automatic (decode) / 1 (prefill)
    uint32_t qTokenStride = 0, outTokenStride = 0;
    // Queries at positions [spanBegin, spanEnd) also see every later position of that range (one
    // image's bidirectional soft tokens on sliding layers; all of it stored before this call).
    // spanEnd 0: causal only. Forces a single split.
    uint32_t spanBegin = 0, spanEnd = 0;
};

// Encoder attention: every query of one sequence sees every key of it (no mask, no cache), as in
// the vision encoder's attention over an image's patches. q, k, v, out: [tokens][heads][headDim]
// rows with the given token strides (0: heads * headDim).
struct EncoderAttentionArgs {
    View q, k, v, out;
    uint32_t headDim = 0, heads = 0, tokens = 0;
    float scale = 1.0f;
    uint32_t qStride = 0, kStride = 0, vStride = 0, outStride = 0;
};

// Per-head RMSNorm, then optionally RoPE, of [tokens][heads][headDim] rows in one dispatch: Gemma 4's
// q/k norms + RoPE (+ the K store) and the unweighted V norm (+ store). headDim a multiple of 4.
struct HeadNormArgs {
    View x;
    uint32_t headDim = 0, heads = 0, tokens = 1;
    uint32_t tokenStride = 0; // floats between tokens of x (0: heads * headDim)
    float eps = 1e-6f;
    std::optional<View> weight = std::nullopt; // headDim floats, shared by every head
    bool rope = false;                         // rotate as Kernels::rope (split-half pairs)
    float ropeBase = 10000.0f;
    std::optional<View> freqFactors = std::nullopt;
    uint32_t pos0 = 0; // position of token 0 (RoPE angle and cache slot)
    // Set: the rows go to cache slots (pos0 + t) % capacity as Kernels::kvStore writes them (fp16 pairs
    // with cacheF16), x is left unchanged. Unset: back into x.
    std::optional<View> cache = std::nullopt;
    uint32_t capacity = 0;
    bool cacheF16 = false;
};

class Kernels {
public:
    Kernels(Pipelines& pipelines, KernelTuning tuning = {});

    // Whether the weight kernels (matvec, matmul, gather, ...) take weights of this GGUF type.
    static bool supportsWeightType(uint32_t ggmlType);

    // y[c][rowsOf(w)] = W . x[c] for `cols` vectors; optional softcap on the results.
    void matvec(Recorder& rec, const WeightTensor& w, View x, View y, uint32_t cols = 1, uint32_t xStride = 0,
                uint32_t yStride = 0, float softcap = 0.0f);
    // The integer-dot path's two halves (matvec runs both when tuning().integerDot is on; matmul
    // quantizes, then runs a tiled integer-dot kernel):
    // quantizeQ8 rounds `cols` vectors of K values (K a multiple of 32) to 8 bits per 32-value block
    // exactly as cpu::quantizeActivationsQ8 (same quants, same scales; blocks with max|x| < 2^-100
    // become zeros): quants[c * qStride + i / 4] holds value i in byte i % 4 (int8), scales[c * dStride
    // + b] block b's scale (0: K / 4 and K / 32).
    void quantizeQ8(Recorder& rec, View x, View quants, View scales, uint32_t K, uint32_t cols,
                    uint32_t xStride = 0, uint32_t qStride = 0, uint32_t dStride = 0);
    // y[c][rowsOf(w)] = sum over blocks of d_w d_x (int8 . int8) for Q4_0/Q8_0 weights and quantizeQ8's
    // output; optional softcap. Needs the device's shaderIntegerDotProduct.
    void matvecQ8(Recorder& rec, const WeightTensor& w, View quants, View scales, View y, uint32_t cols = 1,
                  uint32_t qStride = 0, uint32_t dStride = 0, uint32_t yStride = 0, float softcap = 0.0f);
    // y[c][r] = gelu_tanh(gate[r] . x[c]) * (up[r] . x[c]) for `cols` vectors (a few: decode), both
    // products accumulated in fp32 by one workgroup, one dispatch per chunk: Gemma's FFN input without
    // the separate gate/up outputs and geglu pass. gate and up have the same type and shape.
    void matvecGeglu(Recorder& rec, const WeightTensor& gate, const WeightTensor& up, View x, View y,
                     uint32_t cols = 1, uint32_t xStride = 0, uint32_t yStride = 0);
    // Y[n][rows] = W . X[n], tiled (prefill).
    void matmul(Recorder& rec, const WeightTensor& w, View x, View y, uint32_t n, uint32_t xStride = 0,
                uint32_t yStride = 0);
    // matvec for a few columns, matmul beyond.
    void linear(Recorder& rec, const WeightTensor& w, View x, View y, uint32_t n, uint32_t xStride = 0,
                uint32_t yStride = 0);
    // Expert matvec: w holds experts x rowsPerExpert rows (WeightTensor rowGroup = rowsPerExpert).
    // For slot s = token * k + j the expert is ids[s]; the input is x[token] when sharedInput, else
    // x[s]; y[s] gets rowsPerExpert values.
    void moeMatvec(Recorder& rec, const WeightTensor& w, View x, View ids, View y, uint32_t tokens,
                   uint32_t k, bool sharedInput, uint32_t xStride = 0, uint32_t yStride = 0);
    void rmsNorm(Recorder& rec, const RmsNormArgs& a);
    // In place on [tokens][heads][headDim]; base is the RoPE theta; freqFactors has headDim/2 floats.
    void rope(Recorder& rec, View x, uint32_t headDim, uint32_t heads, uint32_t tokens, uint32_t pos0,
              float base, std::optional<View> freqFactors = std::nullopt, uint32_t tokenStride = 0);
    void headNorm(Recorder& rec, const HeadNormArgs& a);
    // 2-D RoPE in place on [tokens][heads][headDim] rows of a grid gridX tokens wide: the first half of
    // each head rotates by the column t % gridX, the second by the row t / gridX (split-half pairs
    // inside each half, angle pos * base^(-2i / (headDim/2))). headDim a multiple of 4.
    void rope2d(Recorder& rec, View x, uint32_t headDim, uint32_t heads, uint32_t tokens, uint32_t gridX,
                float base, uint32_t tokenStride = 0);
    // kernel x kernel mean pooling of a grid (gridX x gridY tokens of n values, row-major) into
    // (gridX/kernel) x (gridY/kernel) rows: mean * scale, then (v - bias[i]) * stdScale[i] when given.
    void pool2d(Recorder& rec, View x, View out, uint32_t n, uint32_t gridX, uint32_t gridY, uint32_t kernel,
                float scale, std::optional<View> bias = std::nullopt,
                std::optional<View> stdScale = std::nullopt);
    void encoderAttention(Recorder& rec, const EncoderAttentionArgs& a);
    // out[r][i] = gelu_quick(gate[r][i]) * up[r][i] with gelu_quick(x) = x * sigmoid(1.702 x), strides as
    // geglu.
    void geluQuickGlu(Recorder& rec, View gate, View up, View out, uint32_t n, uint32_t rows = 1,
                      uint32_t gateStride = 0, uint32_t upStride = 0, uint32_t outStride = 0);
    // out[r][i] = gelu_tanh(gate[r][i]) * up[r][i], i < n.
    void geglu(Recorder& rec, View gate, View up, View out, uint32_t n, uint32_t rows = 1,
               uint32_t gateStride = 0, uint32_t upStride = 0, uint32_t outStride = 0);
    void softmax(Recorder& rec, View x, uint32_t n, uint32_t rows = 1, uint32_t stride = 0,
                 float scale = 1.0f);
    void softcap(Recorder& rec, View x, uint32_t n, float cap);
    // Stores rows of `tokens` new tokens (rowFloats each) at slots (pos0 + t) % capacity. With f16 the
    // cache holds fp16 (round to nearest even) packed two per 4-byte element: capacity * rowFloats / 2
    // elements; rowFloats even.
    void kvStore(Recorder& rec, View src, View cache, uint32_t rowFloats, uint32_t tokens, uint32_t pos0,
                 uint32_t capacity, uint32_t srcStride = 0, bool f16 = false);
    void attention(Recorder& rec, const AttentionArgs& a);
    uint32_t attentionSplits(const AttentionArgs& a) const;
    static uint64_t attentionScratchElements(uint32_t heads, uint32_t headDim, uint32_t splits,
                                             uint32_t tokens);
    // out[t] = dequant(table[ids[t]]) * scale.
    void gather(Recorder& rec, const WeightTensor& table, View ids, View out, uint32_t tokens,
                float scale = 1.0f, uint32_t outStride = 0);
    // Softmax over experts, top k, renormalised: ids[t][k] (uint32) and weights[t][k].
    void moeRoute(Recorder& rec, View logits, View ids, View weights, uint32_t experts, uint32_t k,
                  uint32_t tokens, uint32_t logitStride = 0);
    // out[t] (+)= sum_j weights[t][j] * expertScale[ids[t][j]] * y[t*k+j].
    void moeCombine(Recorder& rec, View y, View ids, View weights, std::optional<View> expertScale, View out,
                    uint32_t n, uint32_t k, uint32_t tokens, bool accumulate, uint32_t yStride = 0,
                    uint32_t outStride = 0);
    // Encoder kernels (audio conformer; see the shaders for the exact formulas).
    // out[r][i] = sigmoid(gate[r][i]) * up[r][i] (the conformer's GLU), strides as geglu.
    void sigmoidGlu(Recorder& rec, View gate, View up, View out, uint32_t n, uint32_t rows = 1,
                    uint32_t gateStride = 0, uint32_t upStride = 0, uint32_t outStride = 0);
    // out[i] = clamp(x[i], lo, hi) for `count` contiguous floats; out may be x.
    void clamp(Recorder& rec, View x, View out, uint64_t count, float lo, float hi);
    // out[i] = x[i] * sigmoid(x[i]); out may be x.
    void silu(Recorder& rec, View x, View out, uint64_t count);
    // out[i] = x[i] + yScale * y[i], or y[i % n] when broadcast (one row of n added to each row);
    // out may be x.
    void add(Recorder& rec, View x, View y, View out, uint64_t count, float yScale = 1.0f,
             bool broadcast = false, uint32_t n = 0);
    // Causal depthwise conv over `tokens` rows of `channels`: out[t][c] = sum_j w[c][j] x[t-K+1+j][c].
    void depthwiseConvCausal(Recorder& rec, View x, View weight, View out, uint32_t channels, uint32_t taps,
                             uint32_t tokens);
    // 3x3 stride-2 pad-1 convolution over [times][bins][inChannels], channel LayerNorm (weight `norm`,
    // no bias), ReLU -> [(times+1)/2][(bins+1)/2][outChannels]. kernel is [kh][kw][out][in].
    void convSubsample(Recorder& rec, View x, View kernel, View norm, View out, uint32_t times, uint32_t bins,
                       uint32_t inChannels, uint32_t outChannels, float eps);
    // Chunked causal local attention with relative positions and softcap (local_attention.comp);
    // q, k, v, out: [tokens][heads * headDim]; rel: [keys + 1][heads * headDim]; perDimScale: headDim.
    struct LocalAttentionArgs {
        View q, k, v, rel, perDimScale, out;
        uint32_t tokens = 0, heads = 0, headDim = 0, keys = 12;
        float queryScale = 1.0f, keyScale = 1.0f, softcap = 50.0f;
    };
    void localAttention(Recorder& rec, const LocalAttentionArgs& a);

    // Reads all of `source` once (streaming-read bandwidth probe).
    void readAll(Recorder& rec, const Buffer& source, const Buffer& sink, uint32_t workgroups);

    const KernelTuning& tuning() const { return tuning_; }
    // The row-per-invocation kernels share activations between lanes by subgroup broadcasts.
    bool laneBroadcast() const { return laneBroadcast_; }
    // matvec / matmul / moeMatvec of Q4_0/Q8_0 weights quantize the activations and use integer dot
    // products.
    bool integerDot() const { return integerDot_; }

private:
    std::string reducing(const std::string& name) const;
    // The matvec on fp32 activations; with `up` the gated one (matvecGeglu), w being the gate.
    void fp32Matvec(Recorder& rec, const WeightTensor& w, const WeightTensor* up, View x, View y,
                    uint32_t cols, uint32_t xStride, uint32_t yStride, float softcap);
    // matvec_rows variant: lane-broadcast activations where the device allows, plain loads otherwise.
    std::string rowKernel(const std::string& prefix, uint32_t type) const;
    uint32_t rowsPerLaneFor(uint64_t rows, uint32_t wanted) const;
    void gatedActivation(Recorder& rec, uint32_t activation, View gate, View up, View out, uint32_t n,
                         uint32_t rows, uint32_t gateStride, uint32_t upStride, uint32_t outStride);
    void elementwise(Recorder& rec, uint32_t op, View x, std::optional<View> y, View out, uint64_t count,
                     float lo, float hi, float scale, bool broadcast, uint32_t n);
    // base^(-2i/headDim) rounded once from double, uploaded on first use per (base, headDim).
    const Buffer& ropeTable(float base, uint32_t headDim);
    std::map<std::pair<float, uint32_t>, std::unique_ptr<Buffer>> ropeTables_;
    // The integer-dot matvec's quantized activations: grown on demand; outgrown buffers stay alive
    // (recorded commands may still use them).
    const Buffer& q8Scratch(uint64_t words);
    uint32_t q8Lanes(uint32_t K) const; // workgroup width of the integer-dot matvec for rows of K
    std::unique_ptr<Buffer> q8Scratch_;
    std::vector<std::unique_ptr<Buffer>> q8Outgrown_;
    Pipelines& pipelines_;
    KernelTuning tuning_;
    uint32_t matmulBN_ = 64;
    bool rowPerInvocation_ = false;
    bool laneBroadcast_ = false;
    bool integerDot_ = false;
};

} // namespace ocelle::vulkan
