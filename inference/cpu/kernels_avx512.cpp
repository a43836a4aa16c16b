// AVX-512 (F, BW, VL, DQ) versions of the kernels: 16 lanes per instruction, and the Q4_0 nibbles
// turned into floats by one permute from a 16-entry table instead of widen + convert. This file
// alone is compiled for AVX-512; kernels.cpp calls into it only after checking the CPU has it.
// GCC 12's AVX-512 headers fill "don't care" lanes with _mm512_undefined_*(), which it then warns
// about after inlining; the lanes are never read.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "cpu/kernels.h"

#include <algorithm>
#include <cstring>
#include <immintrin.h>
#include <vector>

namespace ocelle::cpu {
namespace {

inline float hsum(__m512 v) {
    return _mm512_reduce_add_ps(v);
}

inline uint16_t loadU16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

inline __mmask16 tailMask(int64_t remaining) {
    return remaining >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << remaining) - 1);
}

float dotF32(const float* a, const float* b, int64_t n) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
    }
    for (; i < n; i += 16) {
        const __mmask16 m = tailMask(n - i);
        acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc0);
    }
    return hsum(_mm512_add_ps(acc0, acc1));
}

void axpyF32(float a, const float* x, float* y, int64_t n) {
    const __m512 va = _mm512_set1_ps(a);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = tailMask(n - i);
        _mm512_mask_storeu_ps(
            y + i, m, _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}

inline __m512 loadHalf16(__mmask16 m, const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

float dotF16(const uint16_t* a, const float* b, int64_t n) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm512_fmadd_ps(loadHalf16(0xFFFF, a + i), _mm512_loadu_ps(b + i), acc0);
        acc1 = _mm512_fmadd_ps(loadHalf16(0xFFFF, a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
    }
    for (; i < n; i += 16) {
        const __mmask16 m = tailMask(n - i);
        acc0 = _mm512_fmadd_ps(loadHalf16(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc0);
    }
    return hsum(_mm512_add_ps(acc0, acc1));
}

void axpyF16(float a, const uint16_t* x, float* y, int64_t n) {
    const __m512 va = _mm512_set1_ps(a);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = tailMask(n - i);
        _mm512_mask_storeu_ps(y + i, m,
                              _mm512_fmadd_ps(va, loadHalf16(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}

void toF16(const float* src, uint16_t* dst, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = tailMask(n - i);
        _mm256_mask_storeu_epi16(
            dst + i, m, _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, src + i), _MM_FROUND_TO_NEAREST_INT));
    }
}

inline __m512 loadBf16x16(__mmask16 m, const uint16_t* p) {
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
}

float dotBF16(const uint16_t* row, const float* x, int64_t n) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm512_fmadd_ps(loadBf16x16(0xFFFF, row + i), _mm512_loadu_ps(x + i), acc0);
        acc1 = _mm512_fmadd_ps(loadBf16x16(0xFFFF, row + i + 16), _mm512_loadu_ps(x + i + 16), acc1);
    }
    for (; i < n; i += 16) {
        const __mmask16 m = tailMask(n - i);
        acc0 = _mm512_fmadd_ps(loadBf16x16(m, row + i), _mm512_maskz_loadu_ps(m, x + i), acc0);
    }
    return hsum(_mm512_add_ps(acc0, acc1));
}

inline __m512 blockScale(const uint8_t* block) {
    return _mm512_set1_ps(_cvtsh_ss(loadU16(block)));
}

// Q8_0 (34 bytes per 32 weights): the int8 values widened to 16 lanes of int32, converted, FMA.
// Two blocks per step on separate accumulators keep two dependency chains in flight.
float dotQ8_0(const uint8_t* row, const float* x, int64_t n) {
    __m512 total0 = _mm512_setzero_ps(), total1 = _mm512_setzero_ps();
    auto block = [&](const uint8_t* b, const float* xb, __m512& total) {
        const __m512 q0 = _mm512_cvtepi32_ps(
            _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2))));
        const __m512 q1 = _mm512_cvtepi32_ps(
            _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 18))));
        const __m512 acc =
            _mm512_fmadd_ps(q1, _mm512_loadu_ps(xb + 16), _mm512_mul_ps(q0, _mm512_loadu_ps(xb)));
        total = _mm512_fmadd_ps(blockScale(b), acc, total);
    };
    const int64_t blocks = n / 32;
    int64_t b = 0;
    for (; b + 2 <= blocks; b += 2) {
        block(row + b * 34, x + b * 32, total0);
        block(row + (b + 1) * 34, x + (b + 1) * 32, total1);
    }
    if (b < blocks) block(row + b * 34, x + b * 32, total0);
    return hsum(_mm512_add_ps(total0, total1));
}

// Q4_0 (18 bytes per 32 weights): 16 bytes widened to 16 int32 lanes; a permute through the table
// {-8, ..., 7} reads each lane's low 4 bits (weights 0-15), and again after a shift by 4 (16-31).
float dotQ4_0(const uint8_t* row, const float* x, int64_t n) {
    const __m512 table = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
    __m512 total0 = _mm512_setzero_ps(), total1 = _mm512_setzero_ps();
    auto block = [&](const uint8_t* b, const float* xb, __m512& total) {
        const __m512i packed = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2)));
        const __m512 lo = _mm512_permutexvar_ps(packed, table);
        const __m512 hi = _mm512_permutexvar_ps(_mm512_srli_epi32(packed, 4), table);
        const __m512 acc =
            _mm512_fmadd_ps(hi, _mm512_loadu_ps(xb + 16), _mm512_mul_ps(lo, _mm512_loadu_ps(xb)));
        total = _mm512_fmadd_ps(blockScale(b), acc, total);
    };
    const int64_t blocks = n / 32;
    int64_t b = 0;
    for (; b + 2 <= blocks; b += 2) {
        block(row + b * 18, x + b * 32, total0);
        block(row + (b + 1) * 18, x + (b + 1) * 32, total1);
    }
    if (b < blocks) block(row + b * 18, x + b * 32, total0);
    return hsum(_mm512_add_ps(total0, total1));
}

// ---- the quantized-activation mode: u8 x s8 products with VNNI (vpdpbusd), two blocks per register ----

// exp(y) for |y| <= 88 (clamped): y = n ln2 + r, a degree-6 polynomial for e^r (|r| <= ln2 / 2), times
// 2^n built in the exponent bits. Relative error ~1e-7.
inline __m512 expClamped(__m512 y) {
    y = _mm512_min_ps(_mm512_max_ps(y, _mm512_set1_ps(-88.0f)), _mm512_set1_ps(88.0f));
    const __m512 v = _mm512_fmadd_ps(y, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(0.5f));
    const __m512 n = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    // r = y - n ln2, ln2 in two parts so n * ln2_hi is exact.
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), y);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    const __m512i bits =
        _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}

// gelu(x) * u with gelu(x) = 0.5 x (1 + tanh(t)) = x / (1 + exp(-2t)), t = sqrt(2/pi) (x + 0.044715 x^3).
inline __m512 geluTimes(__m512 x, __m512 u) {
    const __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
    const __m512 t = _mm512_mul_ps(_mm512_set1_ps(-2.0f * 0.7978845608028654f),
                                   _mm512_fmadd_ps(x3, _mm512_set1_ps(0.044715f), x));
    return _mm512_div_ps(_mm512_mul_ps(x, u), _mm512_add_ps(_mm512_set1_ps(1.0f), expClamped(t)));
}

void geluMul(const float* gate, const float* up, float* out, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(out + i, geluTimes(_mm512_loadu_ps(gate + i), _mm512_loadu_ps(up + i)));
    for (; i < n; i += 16) {
        const __mmask16 m = tailMask(n - i);
        _mm512_mask_storeu_ps(
            out + i, m, geluTimes(_mm512_maskz_loadu_ps(m, gate + i), _mm512_maskz_loadu_ps(m, up + i)));
    }
}

// cap * tanh(x / cap) = cap * (1 - 2 / (exp(2x / cap) + 1)); exp saturates, so no NaN for large |x|.
void softcap(float* x, int64_t n, float cap) {
    const __m512 twoOverCap = _mm512_set1_ps(2.0f / cap), vcap = _mm512_set1_ps(cap),
                 one = _mm512_set1_ps(1.0f);
    auto capped = [&](__m512 v) {
        const __m512 e = expClamped(_mm512_mul_ps(v, twoOverCap));
        return _mm512_mul_ps(vcap,
                             _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one))));
    };
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, capped(_mm512_loadu_ps(x + i)));
    for (; i < n; i += 16) {
        const __mmask16 m = tailMask(n - i);
        _mm512_mask_storeu_ps(x + i, m, capped(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

void quantizeQ8(const float* x, int64_t n, uint8_t* q, float* d) {
    const __m512 magnitude = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
    const __m512i bias = _mm512_set1_epi32(128);
    for (int64_t b = 0; b < n / 32; ++b, x += 32, q += 32, d += kQ8ScalesPerBlock) {
        const __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
        const float amax =
            _mm512_reduce_max_ps(_mm512_max_ps(_mm512_and_ps(x0, magnitude), _mm512_and_ps(x1, magnitude)));
        const __m512 inverse = _mm512_set1_ps(amax > 0 ? 127.0f / amax : 0.0f);
        // cvtps rounds to nearest even (the default MXCSR mode), as lrint does.
        const __m512i q0 = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(x0, inverse)), bias);
        const __m512i q1 = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(x1, inverse)), bias);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtepi32_epi8(q0));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16), _mm512_cvtepi32_epi8(q1));
        _mm256_storeu_ps(d, _mm256_set1_ps(amax / 127.0f));
    }
}

// Blocks b and b + 1 of a row as 64 signed bytes in the activations' order (for Q4_0: a block's 16
// low nibbles, then its 16 high ones, minus 8). Without the second block (a row with an odd
// number of blocks) its half is zero and nothing past the first block is read.
template <bool Q4, bool Second> inline __m512i loadWeightPair(const uint8_t* block) {
    if constexpr (Q4) {
        const __m128i first = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 2));
        const __m128i second =
            Second ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 20)) : _mm_setzero_si128();
        const __m256i packed = _mm256_inserti128_si256(_mm256_castsi128_si256(first), second, 1);
        // [low nibbles of both, high nibbles of both] -> [block 0 low, block 0 high, block 1 low, ...]
        __m512i nibbles = _mm512_inserti64x4(_mm512_castsi256_si512(packed), _mm256_srli_epi16(packed, 4), 1);
        nibbles = _mm512_and_si512(nibbles, _mm512_set1_epi8(0xF));
        nibbles = _mm512_shuffle_i64x2(nibbles, nibbles, _MM_SHUFFLE(3, 1, 2, 0));
        const __m512i weights = _mm512_sub_epi8(nibbles, _mm512_set1_epi8(8));
        return Second ? weights : _mm512_maskz_mov_epi8(__mmask64(0xFFFFFFFFu), weights);
    } else {
        const __m256i first = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 2));
        if constexpr (!Second) return _mm512_zextsi256_si512(first);
        return _mm512_inserti64x4(_mm512_castsi256_si512(first),
                                  _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 36)), 1);
    }
}

// Each block's weight scale over the 8 int32 lanes that hold its products.
template <bool Q4, bool Second> inline __m512 weightScalePair(const uint8_t* block) {
    constexpr int64_t kBlockBytes = Q4 ? 18 : 34;
    if constexpr (!Second) return _mm512_maskz_mov_ps(0x00FF, _mm512_set1_ps(_cvtsh_ss(loadU16(block))));
    // Both halves converted at once, then spread: [d0 x8, d1 x8].
    const __m128i halves =
        _mm_insert_epi16(_mm_cvtsi32_si128(loadU16(block)), loadU16(block + kBlockBytes), 1);
    return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
                                 _mm512_castps128_ps512(_mm_cvtph_ps(halves)));
}

// R rows x T tokens, all n columns: the weights of a block pair are unpacked once for T tokens and
// each activation register serves R rows. The activations are q + 128 (unsigned), so every
// product sum is started at -128 * sum(w) to leave sum(q * w).
template <bool Q4, int R, int T>
void tileQ8(const uint8_t* w, int64_t rowBytes, const uint8_t* xq, const float* xd, int64_t n, float* out,
            int64_t outStride) {
    constexpr int64_t kBlockBytes = Q4 ? 18 : 34;
    const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
    __m512 acc[R][T];
    for (auto& row : acc)
        for (auto& a : row) a = _mm512_setzero_ps();
    auto step = [&]<bool Second>(int64_t b) {
        __m512i weights[R], start[R];
        __m512 scales[R];
        for (int r = 0; r < R; ++r) {
            const uint8_t* block = w + r * rowBytes + b * kBlockBytes;
            weights[r] = loadWeightPair<Q4, Second>(block);
            start[r] = _mm512_sub_epi32(_mm512_setzero_si512(),
                                        _mm512_dpbusd_epi32(_mm512_setzero_si512(), bias, weights[r]));
            scales[r] = weightScalePair<Q4, Second>(block);
        }
        for (int t = 0; t < T; ++t) {
            const uint8_t* q = xq + t * n + b * 32;
            const float* d = xd + t * (n / 4) + b * kQ8ScalesPerBlock;
            const __m512i x =
                Second ? _mm512_loadu_si512(q)
                       : _mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q)));
            const __m512 xScales = Second ? _mm512_loadu_ps(d) : _mm512_maskz_loadu_ps(0x00FF, d);
            for (int r = 0; r < R; ++r) {
                const __m512i sums = _mm512_dpbusd_epi32(start[r], x, weights[r]);
                acc[r][t] =
                    _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), _mm512_mul_ps(scales[r], xScales), acc[r][t]);
            }
        }
    };
    const int64_t blocks = n / 32;
    int64_t b = 0;
    for (; b + 2 <= blocks; b += 2) step.template operator()<true>(b);
    if (b < blocks) step.template operator()<false>(b);
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) out[t * outStride + r] = _mm512_reduce_add_ps(acc[r][t]);
}

// Decode of Q4_0 (one token, memory-bound: every instruction per weight byte counts). The token is
// prepared once per call in the order the nibbles unpack to without a shuffle ([block 0 values
// 0-15, block 1 values 0-15, block 0 values 16-31, block 1 values 16-31] per pair), as signed bytes
// so the unsigned nibbles (0-15) multiply them directly; the -8 offset becomes a start value of
// -8 * sum(x) per int32 lane that depends on the token only.
struct PreparedPair {
    __m512i x;     // signed activations, reordered
    __m512i start; // -8 * (sum of the four activations of each int32 lane)
    __m512 scales; // the activation scales in the same lane order
};

// How far ahead of the pair being read rowQ4_0OneToken prefetches.
constexpr int64_t kPrefetchBytes = 3072;

// One row at a time: reading rows one after the other streams from memory twice as fast as four
// interleaved rows here (bench_cpu_matmul's 73728-row case: 22 vs 8.5 GB per CPU-second). Two
// accumulators for consecutive pairs keep two dependency chains in flight.
float rowQ4_0OneToken(const uint8_t* row, const PreparedPair* prepared, int64_t pairs) {
    const __m512i lowNibbles = _mm512_set1_epi8(0xF);
    // [d0 x4, d1 x4, d0 x4, d1 x4]: the two blocks' scales over their int32 lanes.
    const __m512i scaleOrder = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1);
    __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    auto pair = [&](int64_t p, __m512& total) {
        const PreparedPair& x = prepared[p];
        const uint8_t* block = row + p * 36;
        const __m256i packed = _mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 2))),
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 20)), 1);
        const __m512i nibbles = _mm512_and_si512(
            _mm512_inserti64x4(_mm512_castsi256_si512(packed), _mm256_srli_epi16(packed, 4), 1), lowNibbles);
        const __m128i halves = _mm_insert_epi16(_mm_cvtsi32_si128(loadU16(block)), loadU16(block + 18), 1);
        const __m512 scales = _mm512_permutexvar_ps(scaleOrder, _mm512_castps128_ps512(_mm_cvtph_ps(halves)));
        const __m512i sums = _mm512_dpbusd_epi32(x.start, nibbles, x.x);
        total = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), _mm512_mul_ps(scales, x.scales), total);
    };
    int64_t p = 0;
    for (; p + 2 <= pairs; p += 2) {
        // A few KB ahead, past the row's end into the next rows (a prefetch never faults). Measured on
        // the E2B matrices from memory: long rows (the 12288-wide down projection, whose prepared token
        // fills L1) stream 1.8x the GB per CPU-second with it, short rows about the same (bench_cpu_matmul
        // --model-matrices; docs/benchmarks.md).
        _mm_prefetch(reinterpret_cast<const char*>(row + p * 36 + kPrefetchBytes), _MM_HINT_T0);
        pair(p, acc[0]);
        pair(p + 1, acc[1]);
    }
    if (p < pairs) pair(p, acc[0]);
    return _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1]));
}

// n a multiple of 64.
void rowsTimesOneTokenQ4_0(const uint8_t* w, int64_t rowBytes, int64_t rows, const uint8_t* xq,
                           const float* xd, int64_t n, float* out) {
    const int64_t pairs = n / 64;
    thread_local std::vector<PreparedPair> prepared;
    prepared.resize(static_cast<size_t>(pairs));
    const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
    const __m512i eight = _mm512_set1_epi8(8);
    for (int64_t p = 0; p < pairs; ++p) {
        // 16-byte quarters [b0 0-15, b0 16-31, b1 0-15, b1 16-31] -> [b0 0-15, b1 0-15, b0 16-31, b1 16-31]
        const __m512i x = _mm512_xor_si512(_mm512_loadu_si512(xq + p * 64), bias);
        const __m512i reordered = _mm512_shuffle_i64x2(x, x, _MM_SHUFFLE(3, 1, 2, 0));
        const __m512 scales = _mm512_loadu_ps(xd + p * 2 * kQ8ScalesPerBlock);
        prepared[static_cast<size_t>(p)] = {
            reordered,
            _mm512_sub_epi32(_mm512_setzero_si512(),
                             _mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, reordered)),
            _mm512_shuffle_f32x4(scales, scales, _MM_SHUFFLE(3, 1, 2, 0))};
    }
    for (int64_t r = 0; r < rows; ++r) out[r] = rowQ4_0OneToken(w + r * rowBytes, prepared.data(), pairs);
}

// Tiles of 4 rows x 4 tokens for batches (16 accumulators of the 32 registers; measured 5-15% more
// work per CPU-second than 2 x 8, 2 x 12, 3 x 6 or 1 x 16 with bench_cpu_matmul), one token at a time
// for the rest (decode), single rows for the remaining rows.
template <bool Q4>
void gemmQ8(const uint8_t* w, int64_t rowBytes, int64_t rows, const uint8_t* xq, const float* xd,
            int64_t tokens, int64_t n, float* out, int64_t outStride) {
    auto rowsTimes = [&]<int Wide, int T>(int64_t t) {
        int64_t r = 0;
        for (; r + Wide <= rows; r += Wide)
            tileQ8<Q4, Wide, T>(w + r * rowBytes, rowBytes, xq + t * n, xd + t * (n / 4), n,
                                out + t * outStride + r, outStride);
        for (; r < rows; ++r)
            tileQ8<Q4, 1, T>(w + r * rowBytes, rowBytes, xq + t * n, xd + t * (n / 4), n,
                             out + t * outStride + r, outStride);
    };
    int64_t t = 0;
    for (; t + 4 <= tokens; t += 4) rowsTimes.template operator()<4, 4>(t);
    for (; t < tokens; ++t) {
        if (Q4 && n % 64 == 0)
            rowsTimesOneTokenQ4_0(w, rowBytes, rows, xq + t * n, xd + t * (n / 4), n, out + t * outStride);
        else
            rowsTimes.template operator()<1, 1>(t); // one row at a time: see rowQ4_0OneToken
    }
}

// ---- batches in the packed layouts (prefill) ----

// Rows unpacked per call for the packed tile (detail::unpackRowsQ8Avx2): 8 rows of 6144 values in 54 KB.
constexpr int kPackedRows = 8;
constexpr int64_t kPackedBlockBytes = kPackedRows * 36;

inline int32_t loadI32(const uint8_t* p) {
    int32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// kPackedRows unpacked rows times one group of 16 packed tokens: acc[r] lane t = row r . token t.
// Per block the 8 activation lines are loaded once and serve all rows; each row's 4-byte weight
// groups are broadcast from the buffer into the multiply-adds, whose int32 lanes then hold the
// block's whole sum for one token: one convert and one multiply-add per row, block and 16 tokens.
// The weights are the unsigned operand (Q4_0 nibbles 0-15, Q8_0 values + 128) and q the signed
// one, each token's sum started at -8 * sum(q) or -128 * sum(q). nextRows, if set: the next rows'
// weights in the file (rowBytes apart), fetched into the cache block by block alongside, so that
// unpacking them does not wait for memory.
template <bool Q4>
void tilePacked(const uint8_t* packed, const uint8_t* xq, const PackedBlock* xb, int64_t blocks,
                float (&result)[kPackedRows][kPackedTokens], const uint8_t* nextRows, int64_t rowBytes) {
    constexpr int64_t kBlockBytes = Q4 ? 18 : 34;
    // Local accumulators: through a reference they were stored every block (the byte pointers may
    // alias them).
    __m512 acc[kPackedRows];
    for (auto& a : acc) a = _mm512_setzero_ps();
    for (int64_t b = 0; b < blocks; ++b) {
        if (nextRows)
            for (int r = 0; r < kPackedRows; ++r)
                _mm_prefetch(reinterpret_cast<const char*>(nextRows + r * rowBytes + b * kBlockBytes),
                             _MM_HINT_T0);
        const uint8_t* weights = packed + b * kPackedBlockBytes;
        const float* scales = reinterpret_cast<const float*>(weights + kPackedRows * 32);
        const uint8_t* lines = xq + b * 32 * kPackedTokens;
        __m512i x[8];
        for (int g = 0; g < 8; ++g) x[g] = _mm512_loadu_si512(lines + g * 64);
        const __m512 xScales = _mm512_loadu_ps(xb[b].d);
        const __m512i start = _mm512_slli_epi32(
            _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_loadu_si512(xb[b].sum)), Q4 ? 3 : 7);
        for (int r = 0; r < kPackedRows; ++r) {
            __m512i sums = start;
            for (int g = 0; g < 8; ++g)
                sums = _mm512_dpbusd_epi32(sums, _mm512_set1_epi32(loadI32(weights + r * 32 + g * 4)), x[g]);
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums),
                                     _mm512_mul_ps(xScales, _mm512_set1_ps(scales[r])), acc[r]);
        }
    }
    for (int r = 0; r < kPackedRows; ++r) _mm512_store_ps(result[r], acc[r]);
}

template <bool Q4>
void gemmQ8Packed(const uint8_t* w, int64_t rowBytes, int64_t rows, const uint8_t* xq, const PackedBlock* xb,
                  int64_t tokens, int64_t n, float* out, int64_t outStride) {
    const int64_t blocks = n / 32;
    thread_local std::vector<uint8_t> buffer;
    buffer.resize(static_cast<size_t>(blocks * kPackedBlockBytes));
    for (int64_t first = 0; first < rows; first += kPackedRows) {
        const int64_t count = std::min<int64_t>(kPackedRows, rows - first);
        detail::unpackRowsQ8Avx2(Q4, w + first * rowBytes, rowBytes, count, kPackedRows, blocks,
                                 buffer.data());
        // The next rows are fetched during the last token group (a full row of blocks ahead).
        const int64_t groups = packedGroups(tokens);
        const uint8_t* nextRows =
            first + 2 * kPackedRows <= rows ? w + (first + kPackedRows) * rowBytes : nullptr;
        for (int64_t group = 0; group < groups; ++group) {
            alignas(64) float result[kPackedRows][kPackedTokens];
            tilePacked<Q4>(buffer.data(), xq + group * kPackedTokens * n, xb + group * blocks, blocks, result,
                           group == groups - 1 ? nextRows : nullptr, rowBytes);
            const int64_t groupTokens = std::min(kPackedTokens, tokens - group * kPackedTokens);
            for (int64_t t = 0; t < groupTokens; ++t)
                for (int64_t r = 0; r < count; ++r)
                    out[(group * kPackedTokens + t) * outStride + first + r] = result[r][t];
        }
    }
}

const Kernels kAvx512{Isa::Avx512,
                      dotF32,
                      axpyF32,
                      dotF16,
                      axpyF16,
                      toF16,
                      dotQ8_0,
                      dotQ4_0,
                      dotBF16,
                      2,
                      detail::dotTile4x2Avx2,
                      geluMul,
                      softcap,
                      quantizeQ8,
                      gemmQ8<false>,
                      gemmQ8<true>,
                      detail::dotQ4_KAvx2,
                      detail::dotQ5_KAvx2,
                      detail::dotQ6_KAvx2,
                      gemmQ8Packed<true>,
                      gemmQ8Packed<false>};

} // namespace

namespace detail {
const Kernels* avx512Kernels() {
    return &kAvx512;
}
} // namespace detail

} // namespace ocelle::cpu
