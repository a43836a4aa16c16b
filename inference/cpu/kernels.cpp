#include "cpu/kernels.h"

#include "gguf/dequant.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace ocelle::cpu {

const char* isaName(Isa isa) {
    switch (isa) {
    case Isa::Avx2:
        return "avx2";
    case Isa::Avx512:
        return "avx512";
    case Isa::Portable:
        break;
    }
    return "portable";
}

namespace {

// Eight independent partial sums: no loop-carried dependency on one accumulator, and a shape the
// compiler can turn into vector code without reassociating a single sum.
constexpr int kLanes = 8;

inline float sumLanes(const float* acc) {
    float s = 0;
    for (int i = 0; i < kLanes; ++i) s += acc[i];
    return s;
}

inline uint16_t loadU16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

float dotF32Portable(const float* a, const float* b, int64_t n) {
    float acc[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (int j = 0; j < kLanes; ++j) acc[j] += a[i + j] * b[i + j];
    float s = sumLanes(acc);
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}

void axpyF32Portable(float a, const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

float dotF16Portable(const uint16_t* a, const float* b, int64_t n) {
    float acc[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (int j = 0; j < kLanes; ++j) acc[j] += gguf::fp16ToFloat(a[i + j]) * b[i + j];
    float s = sumLanes(acc);
    for (; i < n; ++i) s += gguf::fp16ToFloat(a[i]) * b[i];
    return s;
}

void axpyF16Portable(float a, const uint16_t* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += a * gguf::fp16ToFloat(x[i]);
}

void toF16Portable(const float* src, uint16_t* dst, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dst[i] = gguf::floatToFp16(src[i]);
}

float dotBF16Portable(const uint16_t* row, const float* x, int64_t n) {
    float acc[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (int j = 0; j < kLanes; ++j) acc[j] += gguf::bf16ToFloat(row[i + j]) * x[i + j];
    float s = sumLanes(acc);
    for (; i < n; ++i) s += gguf::bf16ToFloat(row[i]) * x[i];
    return s;
}

// Q8_0: per 32 weights an f16 scale d and 32 int8 q; weight = d * q.
float dotQ8_0Portable(const uint8_t* row, const float* x, int64_t n) {
    float total = 0;
    for (int64_t b = 0; b < n / 32; ++b, row += 34, x += 32) {
        const float d = gguf::fp16ToFloat(loadU16(row));
        const auto* q = reinterpret_cast<const int8_t*>(row + 2);
        float acc[kLanes] = {};
        for (int i = 0; i < 32; i += kLanes)
            for (int j = 0; j < kLanes; ++j) acc[j] += static_cast<float>(q[i + j]) * x[i + j];
        total += d * sumLanes(acc);
    }
    return total;
}

// Q4_0: per 32 weights an f16 scale d and 16 bytes; low nibbles are weights 0-15, high 16-31;
// weight = d * (nibble - 8).
float dotQ4_0Portable(const uint8_t* row, const float* x, int64_t n) {
    float total = 0;
    for (int64_t b = 0; b < n / 32; ++b, row += 18, x += 32) {
        const float d = gguf::fp16ToFloat(loadU16(row));
        const uint8_t* q = row + 2;
        float acc[kLanes] = {};
        for (int i = 0; i < 16; i += kLanes)
            for (int j = 0; j < kLanes; ++j)
                acc[j] += static_cast<float>((q[i + j] & 0xF) - 8) * x[i + j] +
                          static_cast<float>((q[i + j] >> 4) - 8) * x[16 + i + j];
        total += d * sumLanes(acc);
    }
    return total;
}

void dotTile4x2Portable(const float* w, int64_t wStride, const float* x, int64_t xStride, int64_t n,
                        float* out) {
    for (int t = 0; t < 2; ++t)
        for (int r = 0; r < 4; ++r) out[t * 4 + r] = dotF32Portable(w + r * wStride, x + t * xStride, n);
}

void geluMulPortable(const float* gate, const float* up, float* out, int64_t n) {
    constexpr float kSqrt2OverPi = 0.7978845608028654f;
    for (int64_t i = 0; i < n; ++i) {
        const float x = gate[i];
        out[i] = 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x))) * up[i];
    }
}

void softcapPortable(float* x, int64_t n, float cap) {
    for (int64_t i = 0; i < n; ++i) x[i] = cap * std::tanh(x[i] / cap);
}

void quantizeQ8Portable(const float* x, int64_t n, uint8_t* q, float* d) {
    for (int64_t b = 0; b < n / 32; ++b, x += 32, q += 32, d += kQ8ScalesPerBlock) {
        float amax = 0;
        for (int i = 0; i < 32; ++i) amax = std::max(amax, std::abs(x[i]));
        const float inverse = amax > 0 ? 127.0f / amax : 0.0f;
        for (int i = 0; i < 32; ++i) q[i] = static_cast<uint8_t>(std::lrint(x[i] * inverse) + 128);
        std::fill_n(d, kQ8ScalesPerBlock, amax / 127.0f);
    }
}

// The reference form of the integer products: every block's sum in int32, then scaled.
template <bool Q4>
void gemmQ8Portable(const uint8_t* w, int64_t rowBytes, int64_t rows, const uint8_t* xq, const float* xd,
                    int64_t tokens, int64_t n, float* out, int64_t outStride) {
    const int64_t blocks = n / 32;
    constexpr int64_t kBlockBytes = Q4 ? 18 : 34;
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t t = 0; t < tokens; ++t) {
            const uint8_t* block = w + r * rowBytes;
            const uint8_t* q = xq + t * n;
            const float* d = xd + t * (n / 4);
            float total = 0;
            for (int64_t b = 0; b < blocks; ++b, block += kBlockBytes, q += 32) {
                int32_t sum = 0;
                for (int i = 0; i < 32; ++i) {
                    const int32_t weight = Q4 ? (i < 16 ? (block[2 + i] & 0xF) : (block[2 + i - 16] >> 4)) - 8
                                              : int32_t(static_cast<int8_t>(block[2 + i]));
                    sum += weight * (int32_t(q[i]) - 128);
                }
                total +=
                    gguf::fp16ToFloat(loadU16(block)) * d[b * kQ8ScalesPerBlock] * static_cast<float>(sum);
            }
            out[t * outStride + r] = total;
        }
}

const Kernels kPortable{Isa::Portable,
                        dotF32Portable,
                        axpyF32Portable,
                        dotF16Portable,
                        axpyF16Portable,
                        toF16Portable,
                        dotQ8_0Portable,
                        dotQ4_0Portable,
                        dotBF16Portable,
                        2,
                        dotTile4x2Portable,
                        geluMulPortable,
                        softcapPortable,
                        quantizeQ8Portable,
                        gemmQ8Portable<false>,
                        gemmQ8Portable<true>,
                        nullptr,
                        nullptr,
                        nullptr,
                        nullptr,
                        nullptr};

bool cpuHasAvx2() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
    return false;
#endif
}

bool cpuHasAvx512() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    return cpuHasAvx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vnni");
#else
    return false;
#endif
}

const Kernels* tableFor(Isa isa) {
    switch (isa) {
    case Isa::Avx2:
        return cpuHasAvx2() ? detail::avx2Kernels() : nullptr;
    case Isa::Avx512:
        return cpuHasAvx512() ? detail::avx512Kernels() : nullptr;
    case Isa::Portable:
        break;
    }
    return &kPortable;
}

const Kernels* initialChoice() {
    if (const char* env = std::getenv("OCELLE_CPU_ISA"))
        for (Isa isa : {Isa::Portable, Isa::Avx2, Isa::Avx512})
            if (std::string_view(env) == isaName(isa))
                if (const Kernels* table = tableFor(isa)) return table;
    return tableFor(bestIsa());
}

const Kernels*& current() {
    static const Kernels* chosen = initialChoice();
    return chosen;
}

} // namespace

void quantizeActivationsQ8(const float* x, int64_t n, uint8_t* q, float* d) {
    kernels().quantizeQ8(x, n, q, d);
}

// Sum of the 8 bytes of v, read as unsigned.
inline uint32_t byteSum(uint64_t v) {
    constexpr uint64_t kEvenBytes = 0x00FF00FF00FF00FFull;
    const uint64_t pairs = (v & kEvenBytes) + ((v >> 8) & kEvenBytes); // four 16-bit sums <= 510
    return static_cast<uint32_t>((pairs * 0x0001000100010001ull) >> 48);
}

void packActivationsQ8(const uint8_t* xq, const float* xd, int64_t tokens, int64_t n, uint8_t* packedQ,
                       PackedBlock* packedBlocks) {
    const int64_t blocks = n / 32;
    for (int64_t group = 0; group < packedGroups(tokens); ++group) {
        uint8_t* q = packedQ + group * kPackedTokens * n;
        PackedBlock* packed = packedBlocks + group * blocks;
        for (int64_t b = 0; b < blocks; ++b)
            for (int64_t t = 0; t < kPackedTokens; ++t) {
                const int64_t token = group * kPackedTokens + t;
                uint8_t* line = q + b * 32 * kPackedTokens + t * 4;
                if (token >= tokens) {
                    for (int g = 0; g < 8; ++g) std::memset(line + g * 4 * kPackedTokens, 0, 4);
                    packed[b].d[t] = 0;
                    packed[b].sum[t] = 0;
                    continue;
                }
                // Eight bytes at a time: q + 128 summed, and flipped to q (two's complement) by ^ 0x80.
                const uint8_t* values = xq + token * n + b * 32;
                uint32_t sum = 0;
                for (int i = 0; i < 4; ++i) {
                    uint64_t eight;
                    std::memcpy(&eight, values + i * 8, 8);
                    sum += byteSum(eight);
                    eight ^= 0x8080808080808080ull;
                    std::memcpy(line + (2 * i) * 4 * kPackedTokens, &eight, 4);
                    std::memcpy(line + (2 * i + 1) * 4 * kPackedTokens,
                                reinterpret_cast<uint8_t*>(&eight) + 4, 4);
                }
                packed[b].d[t] = xd[token * (n / 4) + b * kQ8ScalesPerBlock];
                packed[b].sum[t] = static_cast<int32_t>(sum) - 128 * 32;
            }
    }
}

namespace detail {
const Kernels& portableKernels() {
    return kPortable;
}
#ifndef OCELLE_HAVE_AVX2_KERNELS
const Kernels* avx2Kernels() {
    return nullptr;
}
#endif
#ifndef OCELLE_HAVE_AVX512_KERNELS
const Kernels* avx512Kernels() {
    return nullptr;
}
#endif
} // namespace detail

const Kernels& kernels() {
    return *current();
}

bool isaSupported(Isa isa) {
    return tableFor(isa) != nullptr;
}

std::vector<Isa> supportedIsas() {
    std::vector<Isa> out;
    for (Isa isa : {Isa::Portable, Isa::Avx2, Isa::Avx512})
        if (isaSupported(isa)) out.push_back(isa);
    return out;
}

Isa bestIsa() {
    return supportedIsas().back();
}

bool forceIsa(Isa isa) {
    const Kernels* table = tableFor(isa);
    if (!table) return false;
    current() = table;
    return true;
}

} // namespace ocelle::cpu
