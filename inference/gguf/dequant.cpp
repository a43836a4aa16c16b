// Decoding of ggml's weight blocks to f32, written from ggml's block definitions (ggml-common.h) and
// reference dequantizers. Results must match ggml bit for bit, so every float operation follows
// ggml's order (products are rounded before the subtraction; this file is compiled with
// -ffp-contract=off so no compiler turns them into fused multiply-adds).
#include "gguf/dequant.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

// Hot row loops get an AVX2 clone picked at load time on x86-64 (same arithmetic, so the same
// bits: -ffp-contract=off keeps FMA out of both).
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#define OCELLE_DEQUANT_X86 1
#define OCELLE_DEQUANT_CLONES __attribute__((target_clones("avx2", "default")))
#include <immintrin.h>
#else
#define OCELLE_DEQUANT_X86 0
#define OCELLE_DEQUANT_CLONES
#endif

namespace ocelle::gguf {

namespace {

constexpr int kQK = 32;   // weights per Q4_0 / Q8_0 block
constexpr int kQKK = 256; // weights per K-quant super-block

// Block layouts (byte offsets), as ggml-common.h lays them out. Blocks are packed and sit at
// arbitrary byte offsets in a file, so fields are read with memcpy, never through struct casts.
constexpr int kQ8_0Bytes = 2 + kQK;           // fp16 d; int8 qs[32]
constexpr int kQ4_0Bytes = 2 + kQK / 2;       // fp16 d; uint8 qs[16] (low nibbles: 0..15, high: 16..31)
constexpr int kQ4_KBytes = 4 + 12 + kQKK / 2; // fp16 d, dmin; uint8 scales[12]; uint8 qs[128]
constexpr int kQ5_KBytes = 4 + 12 + kQKK / 8 + kQKK / 2;        // ... scales[12]; qh[32]; qs[128]
constexpr int kQ6_KBytes = kQKK / 2 + kQKK / 4 + kQKK / 16 + 2; // ql[128]; qh[64]; int8 scales[16]; fp16 d

inline uint16_t loadU16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

inline void storeU16(uint8_t* p, uint16_t v) {
    std::memcpy(p, &v, sizeof v);
}

// Branch-free fp16 -> f32 for row loops: every case is computed and the right one picked with
// masks, so the compiler can vectorise the loop (ternaries here became branches).
inline float halfToFloatInline(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exponent = h & 0x7c00u;
    const uint32_t mantissa = h & 0x03ffu;
    const uint32_t shifted = static_cast<uint32_t>(h & 0x7fffu) << 13;
    // Normal numbers: rebias the exponent from 15 to 127 (add 112 << 23).
    const uint32_t normal = shifted + 0x38000000u;
    // Inf/NaN: exponent 31 -> 255; a NaN comes out quiet (bit 22 set when the mantissa is not 0),
    // as ggml's conversions return it.
    const uint32_t quietBit = ((mantissa + 0x3ffu) & 0x400u) << 12;
    const uint32_t special = (shifted + 0x70000000u) | quietBit;
    // Zero and subnormals: mantissa * 2^-24 is exact in f32.
    const uint32_t subnormal =
        std::bit_cast<uint32_t>(static_cast<float>(static_cast<int32_t>(mantissa)) * 0x1p-24f);
    const uint32_t isSpecial = 0u - static_cast<uint32_t>(exponent == 0x7c00u);
    const uint32_t isSubnormal = 0u - static_cast<uint32_t>(exponent == 0);
    const uint32_t magnitude =
        (special & isSpecial) | (subnormal & isSubnormal) | (normal & ~(isSpecial | isSubnormal));
    return std::bit_cast<float>(sign | magnitude);
}

// ggml's get_scale_min_k4: 8 six-bit scales and 8 six-bit mins packed into 12 bytes.
inline void scaleMinK4(int j, const uint8_t* q, uint8_t& scale, uint8_t& min) {
    if (j < 4) {
        scale = q[j] & 63;
        min = q[j + 4] & 63;
    } else {
        scale = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        min = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

void dequantF16Portable(const uint8_t* __restrict src, float* __restrict dst, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dst[i] = halfToFloatInline(loadU16(src + 2 * i));
}

#if OCELLE_DEQUANT_X86
// F16C converts 8 halves per instruction, exactly (subnormals kept, NaNs made quiet like ours);
// the test compares it with the scalar conversion on all 65536 values.
__attribute__((target("avx2,f16c"))) void dequantF16Hardware(const uint8_t* __restrict src,
                                                             float* __restrict dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i,
                         _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * i))));
    for (; i < n; ++i) dst[i] = halfToFloatInline(loadU16(src + 2 * i));
}

#endif

void dequantF16(const uint8_t* __restrict src, float* __restrict dst, int64_t n) {
#if OCELLE_DEQUANT_X86
    // Every CPU with AVX2 has F16C (clang 14 cannot test "f16c" itself); the check includes OS support.
    static const bool hasF16C = __builtin_cpu_supports("avx2");
    if (hasF16C) return dequantF16Hardware(src, dst, n);
#endif
    dequantF16Portable(src, dst, n);
}

OCELLE_DEQUANT_CLONES void dequantBF16(const uint8_t* __restrict src, float* __restrict dst, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        dst[i] = std::bit_cast<float>(static_cast<uint32_t>(loadU16(src + 2 * i)) << 16);
}

OCELLE_DEQUANT_CLONES void dequantQ8_0(const uint8_t* __restrict src, float* __restrict dst, int64_t n) {
    for (int64_t b = 0; b < n / kQK; ++b, src += kQ8_0Bytes, dst += kQK) {
        const float d = halfToFloatInline(loadU16(src));
        const int8_t* qs = reinterpret_cast<const int8_t*>(src + 2);
        for (int j = 0; j < kQK; ++j) dst[j] = static_cast<float>(qs[j]) * d;
    }
}

void dequantQ4_0(const uint8_t* __restrict src, float* __restrict dst, int64_t n) {
    for (int64_t b = 0; b < n / kQK; ++b, src += kQ4_0Bytes, dst += kQK) {
        const float d = halfToFloatInline(loadU16(src));
        const uint8_t* qs = src + 2;
        // Low nibbles are weights 0..15, high nibbles 16..31; codes 0..15 stand for -8..7.
        // Unpacking first leaves one 32-wide loop the compiler turns into a few vector ops.
        int8_t codes[kQK];
        for (int j = 0; j < kQK / 2; ++j) {
            codes[j] = static_cast<int8_t>((qs[j] & 0x0F) - 8);
            codes[j + kQK / 2] = static_cast<int8_t>((qs[j] >> 4) - 8);
        }
        for (int j = 0; j < kQK; ++j) dst[j] = static_cast<float>(codes[j]) * d;
    }
}

OCELLE_DEQUANT_CLONES void dequantQ4_K(const uint8_t* __restrict src, float* __restrict dst, int64_t n) {
    for (int64_t b = 0; b < n / kQKK; ++b, src += kQ4_KBytes) {
        const float d = halfToFloatInline(loadU16(src));
        const float dmin = halfToFloatInline(loadU16(src + 2));
        const uint8_t* scales = src + 4;
        const uint8_t* q = src + 16;
        for (int group = 0; group < kQKK / 64; ++group, q += 32) {
            uint8_t sc = 0, m = 0;
            scaleMinK4(2 * group, scales, sc, m);
            const float d1 = d * static_cast<float>(sc);
            const float m1 = dmin * static_cast<float>(m);
            scaleMinK4(2 * group + 1, scales, sc, m);
            const float d2 = d * static_cast<float>(sc);
            const float m2 = dmin * static_cast<float>(m);
            for (int l = 0; l < 32; ++l) *dst++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; ++l) *dst++ = d2 * static_cast<float>(q[l] >> 4) - m2;
        }
    }
}

OCELLE_DEQUANT_CLONES void dequantQ5_K(const uint8_t* __restrict src, float* __restrict dst, int64_t n) {
    for (int64_t b = 0; b < n / kQKK; ++b, src += kQ5_KBytes) {
        const float d = halfToFloatInline(loadU16(src));
        const float dmin = halfToFloatInline(loadU16(src + 2));
        const uint8_t* scales = src + 4;
        const uint8_t* qh = src + 16;
        const uint8_t* ql = src + 16 + kQKK / 8;
        int highBitLow = 0; // the bit of qh[l] holding the 5th bit of this group's low nibbles
        for (int group = 0; group < kQKK / 64; ++group, ql += 32, highBitLow += 2) {
            uint8_t sc = 0, m = 0;
            scaleMinK4(2 * group, scales, sc, m);
            const float d1 = d * static_cast<float>(sc);
            const float m1 = dmin * static_cast<float>(m);
            scaleMinK4(2 * group + 1, scales, sc, m);
            const float d2 = d * static_cast<float>(sc);
            const float m2 = dmin * static_cast<float>(m);
            for (int l = 0; l < 32; ++l) {
                const int v = (ql[l] & 0xF) | (((qh[l] >> highBitLow) & 1) << 4);
                *dst++ = d1 * static_cast<float>(v) - m1;
            }
            for (int l = 0; l < 32; ++l) {
                const int v = (ql[l] >> 4) | (((qh[l] >> (highBitLow + 1)) & 1) << 4);
                *dst++ = d2 * static_cast<float>(v) - m2;
            }
        }
    }
}

void dequantQ6_K(const uint8_t* __restrict src, float* __restrict dst, int64_t n) {
    for (int64_t b = 0; b < n / kQKK; ++b, src += kQ6_KBytes) {
        const uint8_t* ql = src;
        const uint8_t* qh = src + kQKK / 2;
        const int8_t* sc = reinterpret_cast<const int8_t*>(src + kQKK / 2 + kQKK / 4);
        const float d = halfToFloatInline(loadU16(src + kQKK / 2 + kQKK / 4 + kQKK / 16));
        // Each half of 128 weights: 4 runs of 32 built from ql's nibbles and qh's 2-bit pairs,
        // every 16 weights with their own scale. ggml computes (d * scale) * q, as done here.
        for (int half = 0; half < 2; ++half, dst += 128, ql += 64, qh += 32, sc += 8) {
            for (int part = 0; part < 2; ++part) {
                const float s1 = d * static_cast<float>(sc[part]);
                const float s2 = d * static_cast<float>(sc[part + 2]);
                const float s3 = d * static_cast<float>(sc[part + 4]);
                const float s4 = d * static_cast<float>(sc[part + 6]);
                const uint8_t* lo = ql + 16 * part;
                const uint8_t* hi = qh + 16 * part;
                float* out = dst + 16 * part;
                for (int l = 0; l < 16; ++l)
                    out[l] = s1 * static_cast<float>(((lo[l] & 0xF) | ((hi[l] & 3) << 4)) - 32);
                for (int l = 0; l < 16; ++l)
                    out[l + 32] =
                        s2 * static_cast<float>(((lo[l + 32] & 0xF) | (((hi[l] >> 2) & 3) << 4)) - 32);
                for (int l = 0; l < 16; ++l)
                    out[l + 64] = s3 * static_cast<float>(((lo[l] >> 4) | (((hi[l] >> 4) & 3) << 4)) - 32);
                for (int l = 0; l < 16; ++l)
                    out[l + 96] =
                        s4 * static_cast<float>(((lo[l + 32] >> 4) | (((hi[l] >> 6) & 3) << 4)) - 32);
            }
        }
    }
}

// float -> integer for the quantizers. For finite input the value is always in range (the scale
// is derived from the block maximum); a NaN or infinity in the input would make the C cast
// undefined, so those are clamped (NaN -> 0) instead.
inline int clampToInt(float v, int lo, int hi) {
    if (!(v >= static_cast<float>(lo))) return v != v ? 0 : lo;
    if (v > static_cast<float>(hi)) return hi;
    return static_cast<int>(v);
}

void quantQ8_0(const float* src, uint8_t* dst, int64_t n) {
    for (int64_t b = 0; b < n / kQK; ++b, src += kQK, dst += kQ8_0Bytes) {
        float amax = 0.0f;
        for (int j = 0; j < kQK; ++j) {
            const float a = std::fabs(src[j]);
            amax = amax > a ? amax : a; // ggml's MAX(amax, |x|), NaN handling included
        }
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        storeU16(dst, floatToFp16(d));
        for (int j = 0; j < kQK; ++j) {
            const int q = clampToInt(std::round(src[j] * id), -128, 127); // roundf: ties away from zero
            dst[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(q));
        }
    }
}

void quantQ4_0(const float* src, uint8_t* dst, int64_t n) {
    for (int64_t b = 0; b < n / kQK; ++b, src += kQK, dst += kQ4_0Bytes) {
        // The scale maps the value of largest magnitude (with its sign) to -8.
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < kQK; ++j) {
            if (amax < std::fabs(src[j])) {
                amax = std::fabs(src[j]);
                max = src[j];
            }
        }
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        storeU16(dst, floatToFp16(d));
        for (int j = 0; j < kQK / 2; ++j) {
            // ggml: MIN(15, (int8_t)(x * id + 8.5f)), i.e. truncation after adding 8.5.
            const int lo = std::min(15, clampToInt(src[j] * id + 8.5f, -128, 127));
            const int hi = std::min(15, clampToInt(src[j + kQK / 2] * id + 8.5f, -128, 127));
            dst[2 + j] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
        }
    }
}

[[noreturn]] void unsupported(const char* what, uint32_t rawType) {
    throw std::invalid_argument(std::string(what) + ": tensor type " + typeName(rawType) +
                                " is not supported");
}

void checkLength(const char* what, uint32_t rawType, int64_t n) {
    const auto traits = typeTraits(rawType);
    if (n < 0 || !traits || n % traits->blockElements != 0)
        throw std::invalid_argument(std::string(what) + ": " + std::to_string(n) + " weights of type " +
                                    typeName(rawType) + " is not a whole number of blocks");
}

} // namespace

float fp16ToFloat(uint16_t h) {
    return halfToFloatInline(h);
}

uint16_t floatToFp16(float f) {
    const uint32_t x = std::bit_cast<uint32_t>(f);
    const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
    const uint32_t magnitude = x & 0x7fffffffu;
    if (magnitude > 0x7f800000u) return sign | 0x7e00u;  // NaN: ggml returns the canonical quiet NaN
    if (magnitude >= 0x477ff000u) return sign | 0x7c00u; // >= 65520 rounds to infinity (and inf)
    if (magnitude >= 0x38800000u) {                      // >= 2^-14: a normal half
        uint32_t h = (magnitude >> 13) - (112u << 10);   // rebias exponent 127 -> 15, keep 10 mantissa bits
        const uint32_t rest = magnitude & 0x1fffu;
        if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h; // a carry correctly bumps the exponent
        return static_cast<uint16_t>(sign | h);
    }
    if (magnitude <= 0x33000000u) return sign; // <= 2^-25: rounds to zero (2^-25 itself ties to even 0)
    // Subnormal half: count units of 2^-24. The float is m * 2^(e-150) with the implicit bit in m.
    const uint32_t e = magnitude >> 23;
    const uint32_t m = (magnitude & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - e; // 14..25
    uint32_t q = m >> shift;
    const uint32_t rest = m & ((1u << shift) - 1u);
    const uint32_t halfway = 1u << (shift - 1u);
    if (rest > halfway || (rest == halfway && (q & 1u))) ++q; // may become 0x400, the smallest normal
    return static_cast<uint16_t>(sign | q);
}

float bf16ToFloat(uint16_t b) {
    return std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

uint16_t floatToBf16(float f) {
    const uint32_t x = std::bit_cast<uint32_t>(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u); // NaN, made quiet
    return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16); // round to nearest even
}

bool canDequantize(uint32_t rawType) {
    switch (static_cast<TensorType>(rawType)) {
    case TensorType::F32:
    case TensorType::F16:
    case TensorType::BF16:
    case TensorType::Q8_0:
    case TensorType::Q4_0:
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K:
        return true;
    default:
        return false;
    }
}

void dequantizeRow(uint32_t rawType, const void* src, float* dst, int64_t n) {
    if (!canDequantize(rawType)) unsupported("dequantizeRow", rawType);
    checkLength("dequantizeRow", rawType, n);
    const auto* bytes = static_cast<const uint8_t*>(src);
    switch (static_cast<TensorType>(rawType)) {
    case TensorType::F32:
        std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
        return;
    case TensorType::F16:
        dequantF16(bytes, dst, n);
        return;
    case TensorType::BF16:
        dequantBF16(bytes, dst, n);
        return;
    case TensorType::Q8_0:
        dequantQ8_0(bytes, dst, n);
        return;
    case TensorType::Q4_0:
        dequantQ4_0(bytes, dst, n);
        return;
    case TensorType::Q4_K:
        dequantQ4_K(bytes, dst, n);
        return;
    case TensorType::Q5_K:
        dequantQ5_K(bytes, dst, n);
        return;
    case TensorType::Q6_K:
        dequantQ6_K(bytes, dst, n);
        return;
    default:
        unsupported("dequantizeRow", rawType);
    }
}

bool canQuantize(uint32_t rawType) {
    switch (static_cast<TensorType>(rawType)) {
    case TensorType::F32:
    case TensorType::F16:
    case TensorType::BF16:
    case TensorType::Q8_0:
    case TensorType::Q4_0:
        return true;
    default:
        return false;
    }
}

void quantizeRow(uint32_t rawType, const float* src, void* dst, int64_t n) {
    if (!canQuantize(rawType)) unsupported("quantizeRow", rawType);
    checkLength("quantizeRow", rawType, n);
    auto* bytes = static_cast<uint8_t*>(dst);
    switch (static_cast<TensorType>(rawType)) {
    case TensorType::F32:
        std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
        return;
    case TensorType::F16:
        for (int64_t i = 0; i < n; ++i) storeU16(bytes + 2 * i, floatToFp16(src[i]));
        return;
    case TensorType::BF16:
        for (int64_t i = 0; i < n; ++i) storeU16(bytes + 2 * i, floatToBf16(src[i]));
        return;
    case TensorType::Q8_0:
        quantQ8_0(src, bytes, n);
        return;
    case TensorType::Q4_0:
        quantQ4_0(src, bytes, n);
        return;
    default:
        unsupported("quantizeRow", rawType);
    }
}

} // namespace ocelle::gguf
