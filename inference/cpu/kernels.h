// Inner loops of the CPU path: dot products of f32 activations with weight rows stored in their
// quantized form (each block decoded in registers, products accumulated in fp32), plus the f32/f16
// vector helpers attention uses. Three implementations share this table: portable C++, AVX2+FMA+F16C
// and AVX-512 (F/BW/VL/DQ), chosen at run time so one binary runs on any x86-64.
#pragma once

#include <cstdint>
#include <vector>

namespace ocelle::cpu {

enum class Isa { Portable, Avx2, Avx512 };

// One token's activations rounded to 8 bits for the quantized-activation mode (as llama.cpp does):
// per 32-value block a scale d = max|x| / 127 and q = round(x / d) in [-127, 127]; value = d * q.
// Stored in the form the integer kernels consume: q + 128 as unsigned bytes (the unsigned operand
// of the u8 x s8 multiply-add instructions), n bytes, and each block's d repeated 8 times (once per
// int32 lane of that block's products), n / 4 floats. n a multiple of 32.
constexpr int64_t kQ8ScalesPerBlock = 8;
void quantizeActivationsQ8(const float* x, int64_t n, uint8_t* q, float* d);

// The activations of a batch (prefill) regrouped for the packed tiles: per group of kPackedTokens
// tokens and per 32-value block, eight 64-byte lines, line g holding values 4g..4g+3 of every token
// as signed bytes q (token after token), so one register holds the same four values of 16 tokens;
// and per group and block a PackedBlock: the tokens' scales d and their sums of q (the tiles start
// each token's sum at -8 * sum(q) for Q4_0, -128 * sum(q) for Q8_0, so that the weights can be the
// unsigned operand: nibbles 0-15, or the Q8_0 values + 128).
// Tokens past the end are q = 0, d = 0. Groups are contiguous: a range of whole groups can be
// packed by its own call. packedQ holds packedGroups(tokens) * kPackedTokens * n bytes, packedBlocks
// packedGroups(tokens) * n / 32 entries.
constexpr int64_t kPackedTokens = 16;
struct PackedBlock {
    float d[kPackedTokens];
    int32_t sum[kPackedTokens];
};
inline int64_t packedGroups(int64_t tokens) {
    return (tokens + kPackedTokens - 1) / kPackedTokens;
}
void packActivationsQ8(const uint8_t* xq, const float* xd, int64_t tokens, int64_t n, uint8_t* packedQ,
                       PackedBlock* packedBlocks);
const char* isaName(Isa isa);

struct Kernels {
    Isa isa;
    float (*dotF32)(const float* a, const float* b, int64_t n);
    // y += a * x
    void (*axpyF32)(float a, const float* x, float* y, int64_t n);
    // f16 vectors (the f16 KV cache, F16 weights)
    float (*dotF16)(const uint16_t* a, const float* b, int64_t n);
    void (*axpyF16)(float a, const uint16_t* x, float* y, int64_t n);
    void (*toF16)(const float* src, uint16_t* dst, int64_t n);
    // Weight rows decoded on the fly (n a multiple of 32).
    float (*dotQ8_0)(const uint8_t* row, const float* x, int64_t n);
    float (*dotQ4_0)(const uint8_t* row, const float* x, int64_t n);
    float (*dotBF16)(const uint16_t* row, const float* x, int64_t n);
    // Four f32 rows (w + r * wStride) times tileTokens f32 vectors (x + t * xStride), n values each:
    // out[t * 4 + r]. Each loaded value serves several products, which is what makes batched
    // prefill compute-bound rather than load-bound (2 tokens with 16 vector registers, 4 with 32).
    int tileTokens;
    void (*dotTile)(const float* w, int64_t wStride, const float* x, int64_t xStride, int64_t n, float* out);
    // The quantized-activation mode's products: `rows` Q8_0 / Q4_0 weight rows (rowBytes apart) times
    // `tokens` quantized activations (quantizeActivationsQ8: xq n bytes and xd n / 4 floats per
    // token), 8-bit multiplies summed in int32 per block, one float scale per block and product:
    // out[t * outStride + r]. Register-blocked over several rows and tokens.
    // out[i] = gelu(gate[i]) * up[i], GELU with the tanh approximation Gemma uses (written as
    // x / (1 + exp(-2u)), the same function; vector levels use a polynomial exp within ~1e-6).
    // out may alias gate or up.
    void (*geluMul)(const float* gate, const float* up, float* out, int64_t n);
    // x[i] = cap * tanh(x[i] / cap) (the final logit soft-cap), within ~1e-6 * cap of float64.
    void (*softcap)(float* x, int64_t n, float cap);
    // quantizeActivationsQ8 for this level (the same rounding: to nearest, ties to even).
    void (*quantizeQ8)(const float* x, int64_t n, uint8_t* q, float* d);
    using GemmQ8 = void (*)(const uint8_t* w, int64_t rowBytes, int64_t rows, const uint8_t* xq,
                            const float* xd, int64_t tokens, int64_t n, float* out, int64_t outStride);
    GemmQ8 gemmQ8_0Q8;
    GemmQ8 gemmQ4_0Q8;
    // Q4_K rows (n a multiple of 256) decoded in registers; nullptr: the caller decodes the row
    // with gguf::dequantizeRow and uses dotF32.
    float (*dotQ4_K)(const uint8_t* row, const float* x, int64_t n);
    float (*dotQ5_K)(const uint8_t* row, const float* x, int64_t n); // the same for Q5_K
    float (*dotQ6_K)(const uint8_t* row, const float* x, int64_t n); // and Q6_K
    // gemmQ4_0Q8 / gemmQ8_0Q8 with the activations in packActivationsQ8's layout, for batches:
    // each weight row's blocks are unpacked once per call into a small buffer (a few rows at a time)
    // and every 4-byte weight group is broadcast against 16 tokens' values, so each int32 lane sums a
    // whole block of one row and token and the float work (convert, scale, add) is done once per
    // block, row and 16 tokens. nullptr: not on this level.
    using GemmPacked = void (*)(const uint8_t* w, int64_t rowBytes, int64_t rows, const uint8_t* xq,
                                const PackedBlock* xb, int64_t tokens, int64_t n, float* out,
                                int64_t outStride);
    GemmPacked gemmQ4_0Q8Packed;
    GemmPacked gemmQ8_0Q8Packed;
};

// The best table this CPU supports, unless forced (tests run every level).
const Kernels& kernels();
bool isaSupported(Isa isa);
// Every level the dispatcher can pick on this CPU, lowest first, and the one it picks by default.
std::vector<Isa> supportedIsas();
Isa bestIsa();
// Forces a level for the whole process (false if this CPU lacks it). Environment variable
// OCELLE_CPU_ISA=portable|avx2|avx512 does the same at start-up (a level the CPU lacks is ignored).
bool forceIsa(Isa isa);

namespace detail {
const Kernels& portableKernels();
const Kernels* avx2Kernels();   // nullptr when not compiled in
const Kernels* avx512Kernels(); // nullptr when not compiled in
// Shared by the AVX2 and AVX-512 tables (the 256-bit prefill tile measured faster per CPU-second
// than a 512-bit 4x4 tile on this Xeon: 114 vs 108 prefill tokens per CPU-second).
void dotTile4x2Avx2(const float* w, int64_t wStride, const float* x, int64_t xStride, int64_t n, float* out);
float dotQ4_KAvx2(const uint8_t* row, const float* x, int64_t n);
// The packed tiles' weights: rows [0, rows) of Q4_0 (q4) or Q8_0 weights unpacked per block into
// packedRows rows of 32 unsigned bytes (Q4_0: the nibbles 0-15; Q8_0: the values + 128; the tiles
// start each token's sums at -8 or -128 times its sum(q) to make them the weights), then their scales
// as floats: packedRows * 36 bytes per block. Rows from `rows` to packedRows are zero.
void unpackRowsQ8Avx2(bool q4, const uint8_t* w, int64_t rowBytes, int64_t rows, int packedRows,
                      int64_t blocks, uint8_t* packed);
float dotQ5_KAvx2(const uint8_t* row, const float* x, int64_t n);
float dotQ6_KAvx2(const uint8_t* row, const float* x, int64_t n);
} // namespace detail

} // namespace ocelle::cpu
