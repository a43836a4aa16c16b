// AVX2 + FMA + F16C versions of the kernels (this file alone is compiled with -mavx2 -mfma -mf16c;
// kernels.cpp only calls into it after checking the CPU supports them).
#include "cpu/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <immintrin.h>
#include <vector>

namespace ocelle::cpu {
namespace {

inline float hsum(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v);
    const __m128 hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    __m128 shuf = _mm_movehdup_ps(lo);
    __m128 sums = _mm_add_ps(lo, shuf);
    shuf = _mm_movehl_ps(shuf, sums);
    sums = _mm_add_ss(sums, shuf);
    return _mm_cvtss_f32(sums);
}

inline float halfToFloat(uint16_t h) {
    return _cvtsh_ss(h);
}

inline uint16_t loadU16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

float dotF32(const float* a, const float* b, int64_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    float s = hsum(_mm256_add_ps(acc0, acc1));
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}

void axpyF32(float a, const float* x, float* y, int64_t n) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; ++i) y[i] += a * x[i];
}

inline __m256 loadHalf8(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

float dotF16(const uint16_t* a, const float* b, int64_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(loadHalf8(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(loadHalf8(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(loadHalf8(a + i), _mm256_loadu_ps(b + i), acc0);
    float s = hsum(_mm256_add_ps(acc0, acc1));
    for (; i < n; ++i) s += halfToFloat(a[i]) * b[i];
    return s;
}

void axpyF16(float a, const uint16_t* x, float* y, int64_t n) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, loadHalf8(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; ++i) y[i] += a * halfToFloat(x[i]);
}

void toF16(const float* src, uint16_t* dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; ++i) dst[i] = _cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT);
}

inline __m256 bytesToFloat(__m128i eightBytesSigned) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(eightBytesSigned));
}

float dotQ8_0(const uint8_t* row, const float* x, int64_t n) {
    __m256 total = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 32; ++b, row += 34, x += 32) {
        const __m256 d = _mm256_set1_ps(halfToFloat(loadU16(row)));
        const __m128i q0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2));
        const __m128i q1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 18));
        __m256 acc = _mm256_mul_ps(bytesToFloat(q0), _mm256_loadu_ps(x));
        acc = _mm256_fmadd_ps(bytesToFloat(_mm_srli_si128(q0, 8)), _mm256_loadu_ps(x + 8), acc);
        acc = _mm256_fmadd_ps(bytesToFloat(q1), _mm256_loadu_ps(x + 16), acc);
        acc = _mm256_fmadd_ps(bytesToFloat(_mm_srli_si128(q1, 8)), _mm256_loadu_ps(x + 24), acc);
        total = _mm256_fmadd_ps(d, acc, total);
    }
    return hsum(total);
}

float dotQ4_0(const uint8_t* row, const float* x, int64_t n) {
    const __m128i lowMask = _mm_set1_epi8(0xF);
    const __m128i eight = _mm_set1_epi8(8);
    __m256 total = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 32; ++b, row += 18, x += 32) {
        const __m256 d = _mm256_set1_ps(halfToFloat(loadU16(row)));
        const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2));
        const __m128i lo = _mm_sub_epi8(_mm_and_si128(packed, lowMask), eight); // weights 0-15
        const __m128i hi =
            _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(packed, 4), lowMask), eight); // weights 16-31
        __m256 acc = _mm256_mul_ps(bytesToFloat(lo), _mm256_loadu_ps(x));
        acc = _mm256_fmadd_ps(bytesToFloat(_mm_srli_si128(lo, 8)), _mm256_loadu_ps(x + 8), acc);
        acc = _mm256_fmadd_ps(bytesToFloat(hi), _mm256_loadu_ps(x + 16), acc);
        acc = _mm256_fmadd_ps(bytesToFloat(_mm_srli_si128(hi, 8)), _mm256_loadu_ps(x + 24), acc);
        total = _mm256_fmadd_ps(d, acc, total);
    }
    return hsum(total);
}

inline __m256 loadBf16x8(const uint16_t* p) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

float dotBF16(const uint16_t* row, const float* x, int64_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(loadBf16x8(row + i), _mm256_loadu_ps(x + i), acc0);
        acc1 = _mm256_fmadd_ps(loadBf16x8(row + i + 8), _mm256_loadu_ps(x + i + 8), acc1);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(loadBf16x8(row + i), _mm256_loadu_ps(x + i), acc0);
    float s = hsum(_mm256_add_ps(acc0, acc1));
    for (; i < n; ++i) {
        const uint32_t bits = static_cast<uint32_t>(row[i]) << 16;
        float w;
        std::memcpy(&w, &bits, sizeof w);
        s += w * x[i];
    }
    return s;
}

void dotTile4x2(const float* w, int64_t wStride, const float* x, int64_t xStride, int64_t n, float* out) {
    __m256 acc[2][4];
    for (auto& row : acc)
        for (auto& a : row) a = _mm256_setzero_ps();
    const float* x0 = x;
    const float* x1 = x + xStride;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 a = _mm256_loadu_ps(x0 + i);
        const __m256 b = _mm256_loadu_ps(x1 + i);
        for (int r = 0; r < 4; ++r) {
            const __m256 wr = _mm256_loadu_ps(w + r * wStride + i);
            acc[0][r] = _mm256_fmadd_ps(wr, a, acc[0][r]);
            acc[1][r] = _mm256_fmadd_ps(wr, b, acc[1][r]);
        }
    }
    for (int t = 0; t < 2; ++t)
        for (int r = 0; r < 4; ++r) {
            float s = hsum(acc[t][r]);
            for (int64_t j = i; j < n; ++j) s += w[r * wStride + j] * x[t * xStride + j];
            out[t * 4 + r] = s;
        }
}

// Q4_0's 16 packed bytes as 32 signed bytes (nibble - 8): low nibbles first, then high.
inline __m256i unpackQ4_0(const uint8_t* packed) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed));
    const __m128i lowMask = _mm_set1_epi8(0xF);
    const __m256i nibbles =
        _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(bytes, 4), lowMask), _mm_and_si128(bytes, lowMask));
    return _mm256_sub_epi8(nibbles, _mm256_set1_epi8(8));
}

// ---- the quantized-activation mode: u8 x s8 products with maddubs, one block per register ----

// exp(y) for |y| <= 88 (clamped): y = n ln2 + r, a degree-6 polynomial for e^r (|r| <= ln2 / 2), times
// 2^n built in the exponent bits. Relative error ~1e-7.
inline __m256 expClamped(__m256 y) {
    y = _mm256_min_ps(_mm256_max_ps(y, _mm256_set1_ps(-88.0f)), _mm256_set1_ps(88.0f));
    const __m256 v = _mm256_fmadd_ps(y, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f));
    const __m256 n = _mm256_floor_ps(v);
    // r = y - n ln2, ln2 in two parts so n * ln2_hi is exact.
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), y);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i bits =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

// gelu(x) * u with gelu(x) = 0.5 x (1 + tanh(t)) = x / (1 + exp(-2t)), t = sqrt(2/pi) (x + 0.044715 x^3).
inline __m256 geluTimes(__m256 x, __m256 u) {
    const __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
    const __m256 t = _mm256_mul_ps(_mm256_set1_ps(-2.0f * 0.7978845608028654f),
                                   _mm256_fmadd_ps(x3, _mm256_set1_ps(0.044715f), x));
    return _mm256_div_ps(_mm256_mul_ps(x, u), _mm256_add_ps(_mm256_set1_ps(1.0f), expClamped(t)));
}

void geluMul(const float* gate, const float* up, float* out, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, geluTimes(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
    if (i < n) {
        float g[8] = {}, u[8] = {}, o[8];
        std::memcpy(g, gate + i, sizeof(float) * size_t(n - i));
        std::memcpy(u, up + i, sizeof(float) * size_t(n - i));
        _mm256_storeu_ps(o, geluTimes(_mm256_loadu_ps(g), _mm256_loadu_ps(u)));
        std::memcpy(out + i, o, sizeof(float) * size_t(n - i));
    }
}

// cap * tanh(x / cap) = cap * (1 - 2 / (exp(2x / cap) + 1)); exp saturates, so no NaN for large |x|.
void softcap(float* x, int64_t n, float cap) {
    const __m256 twoOverCap = _mm256_set1_ps(2.0f / cap), vcap = _mm256_set1_ps(cap),
                 one = _mm256_set1_ps(1.0f);
    auto capped = [&](__m256 v) {
        const __m256 e = expClamped(_mm256_mul_ps(v, twoOverCap));
        return _mm256_mul_ps(vcap,
                             _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one))));
    };
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, capped(_mm256_loadu_ps(x + i)));
    for (; i < n; ++i) x[i] = cap * std::tanh(x[i] / cap);
}

void quantizeQ8(const float* x, int64_t n, uint8_t* q, float* d) {
    const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    for (int64_t b = 0; b < n / 32; ++b, x += 32, q += 32, d += kQ8ScalesPerBlock) {
        __m256 v[4], largest = _mm256_setzero_ps();
        for (int i = 0; i < 4; ++i) {
            v[i] = _mm256_loadu_ps(x + 8 * i);
            largest = _mm256_max_ps(largest, _mm256_and_ps(v[i], magnitude));
        }
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(largest), _mm256_extractf128_ps(largest, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        const float amax = _mm_cvtss_f32(m);
        const __m256 inverse = _mm256_set1_ps(amax > 0 ? 127.0f / amax : 0.0f);
        __m256i ints[4];
        for (int i = 0; i < 4; ++i)
            ints[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], inverse)); // ties to even
        // |q| <= 127: the saturating packs are exact; they interleave 128-bit lanes, the permute undoes it.
        const __m256i bytes =
            _mm256_packs_epi16(_mm256_packs_epi32(ints[0], ints[1]), _mm256_packs_epi32(ints[2], ints[3]));
        const __m256i ordered = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(q),
                            _mm256_xor_si256(ordered, _mm256_set1_epi8(static_cast<char>(0x80))));
        _mm256_storeu_ps(d, _mm256_set1_ps(amax / 127.0f));
    }
}

template <bool Q4> inline __m256i loadWeightBlock(const uint8_t* block) {
    if constexpr (Q4) return unpackQ4_0(block + 2);
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 2));
}

// R rows x T tokens over all n columns. maddubs wants one unsigned operand and its pair sums must
// not saturate 16 bits: |w| (<= 128) times q (|q| <= 127, the stored q + 128 turned back into a
// signed byte) carrying w's sign gives the same products.
template <bool Q4, int R, int T>
void tileQ8(const uint8_t* w, int64_t rowBytes, const uint8_t* xq, const float* xd, int64_t n, float* out,
            int64_t outStride) {
    constexpr int64_t kBlockBytes = Q4 ? 18 : 34;
    const __m256i bias = _mm256_set1_epi8(static_cast<char>(0x80));
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[R][T];
    for (auto& row : acc)
        for (auto& a : row) a = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 32; ++b) {
        __m256i weights[R], magnitudes[R];
        __m256 scales[R];
        for (int r = 0; r < R; ++r) {
            const uint8_t* block = w + r * rowBytes + b * kBlockBytes;
            weights[r] = loadWeightBlock<Q4>(block);
            magnitudes[r] = _mm256_sign_epi8(weights[r], weights[r]);
            scales[r] = _mm256_set1_ps(halfToFloat(loadU16(block)));
        }
        for (int t = 0; t < T; ++t) {
            const __m256i x = _mm256_xor_si256(
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + t * n + b * 32)), bias);
            const __m256 xScales = _mm256_loadu_ps(xd + t * (n / 4) + b * kQ8ScalesPerBlock);
            for (int r = 0; r < R; ++r) {
                const __m256i pairs = _mm256_maddubs_epi16(magnitudes[r], _mm256_sign_epi8(x, weights[r]));
                const __m256 sums = _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, ones));
                acc[r][t] = _mm256_fmadd_ps(sums, _mm256_mul_ps(scales[r], xScales), acc[r][t]);
            }
        }
    }
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) out[t * outStride + r] = hsum(acc[r][t]);
}

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
    for (; t + 4 <= tokens; t += 4) rowsTimes.template operator()<2, 4>(t);
    for (; t < tokens; ++t) rowsTimes.template operator()<2, 1>(t);
}

// ---- batches in the packed layouts (prefill), Q4_0 ----

// Rows unpacked per call for the packed tile (unpackRowsQ8Avx2).
constexpr int kPackedRows = 4;
constexpr int64_t kPackedBlockBytes = kPackedRows * 36;

inline int32_t loadI32(const uint8_t* p) {
    int32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// kPackedRows unpacked Q4_0 rows times one group of 16 packed tokens, 8 tokens per pass. maddubs
// multiplies each row's 4-byte group of nibbles (0-15, unsigned), broadcast, with the activations q
// (signed); the int16 pair sums of a whole block are added in int16 (16 products of at most
// 15 * 127 = 1905 each: at most 30480, no overflow), then widened once per block, row and 8 tokens
// and started at -8 * sum(q), which makes the nibbles the weights nibble - 8.
void tilePackedQ4_0(const uint8_t* packed, const uint8_t* xq, const PackedBlock* xb, int64_t blocks,
                    float (&result)[kPackedRows][kPackedTokens], const uint8_t* nextRows, int64_t rowBytes) {
    const __m256i ones = _mm256_set1_epi16(1);
    for (int half = 0; half < 2; ++half) {
        __m256 acc[kPackedRows];
        for (auto& a : acc) a = _mm256_setzero_ps();
        for (int64_t b = 0; b < blocks; ++b) {
            if (nextRows && half == 1)
                for (int r = 0; r < kPackedRows; ++r)
                    _mm_prefetch(reinterpret_cast<const char*>(nextRows + r * rowBytes + b * 18),
                                 _MM_HINT_T0);
            const uint8_t* weights = packed + b * kPackedBlockBytes;
            const float* scales = reinterpret_cast<const float*>(weights + kPackedRows * 32);
            const uint8_t* lines = xq + b * 32 * kPackedTokens + half * 32;
            __m256i sums[kPackedRows];
            for (int g = 0; g < 8; ++g) {
                const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lines + g * 64));
                for (int r = 0; r < kPackedRows; ++r) {
                    const __m256i pairs =
                        _mm256_maddubs_epi16(_mm256_set1_epi32(loadI32(weights + r * 32 + g * 4)), x);
                    sums[r] = g == 0 ? pairs : _mm256_add_epi16(sums[r], pairs);
                }
            }
            const __m256 xScales = _mm256_loadu_ps(xb[b].d + half * 8);
            const __m256i start = _mm256_slli_epi32(
                _mm256_sub_epi32(_mm256_setzero_si256(),
                                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[b].sum + half * 8))),
                3);
            for (int r = 0; r < kPackedRows; ++r) {
                const __m256i total = _mm256_add_epi32(_mm256_madd_epi16(sums[r], ones), start);
                acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(total),
                                         _mm256_mul_ps(xScales, _mm256_set1_ps(scales[r])), acc[r]);
            }
        }
        for (int r = 0; r < kPackedRows; ++r) _mm256_storeu_ps(result[r] + half * 8, acc[r]);
    }
}

void gemmQ4_0Q8Packed(const uint8_t* w, int64_t rowBytes, int64_t rows, const uint8_t* xq,
                      const PackedBlock* xb, int64_t tokens, int64_t n, float* out, int64_t outStride) {
    const int64_t blocks = n / 32;
    thread_local std::vector<uint8_t> buffer;
    buffer.resize(static_cast<size_t>(blocks * kPackedBlockBytes));
    for (int64_t first = 0; first < rows; first += kPackedRows) {
        const int64_t count = std::min<int64_t>(kPackedRows, rows - first);
        detail::unpackRowsQ8Avx2(true, w + first * rowBytes, rowBytes, count, kPackedRows, blocks,
                                 buffer.data());
        // The next rows are fetched during the last token group.
        const int64_t groups = packedGroups(tokens);
        const uint8_t* nextRows =
            first + 2 * kPackedRows <= rows ? w + (first + kPackedRows) * rowBytes : nullptr;
        for (int64_t group = 0; group < groups; ++group) {
            float result[kPackedRows][kPackedTokens];
            tilePackedQ4_0(buffer.data(), xq + group * kPackedTokens * n, xb + group * blocks, blocks, result,
                           group == groups - 1 ? nextRows : nullptr, rowBytes);
            const int64_t groupTokens = std::min(kPackedTokens, tokens - group * kPackedTokens);
            for (int64_t t = 0; t < groupTokens; ++t)
                for (int64_t r = 0; r < count; ++r)
                    out[(group * kPackedTokens + t) * outStride + first + r] = result[r][t];
        }
    }
}

} // namespace

namespace detail {
void unpackRowsQ8Avx2(bool q4, const uint8_t* w, int64_t rowBytes, int64_t rows, int packedRows,
                      int64_t blocks, uint8_t* packed) {
    const int64_t blockBytes = q4 ? 18 : 34;
    const __m256i lowNibbles = _mm256_set1_epi8(0xF);
    for (int64_t b = 0; b < blocks; ++b) {
        uint8_t* out = packed + b * packedRows * 36;
        float* scales = reinterpret_cast<float*>(out + packedRows * 32);
        for (int r = 0; r < packedRows; ++r) {
            if (r >= rows) {
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + r * 32), _mm256_setzero_si256());
                scales[r] = 0;
                continue;
            }
            const uint8_t* block = w + r * rowBytes + b * blockBytes;
            __m256i values;
            if (q4) {
                // Low nibbles are values 0-15, high nibbles 16-31.
                const __m128i packedNibbles = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 2));
                values = _mm256_and_si256(_mm256_inserti128_si256(_mm256_castsi128_si256(packedNibbles),
                                                                  _mm_srli_epi16(packedNibbles, 4), 1),
                                          lowNibbles);
            } else {
                values = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 2)),
                                          _mm256_set1_epi8(static_cast<char>(0x80)));
            }
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + r * 32), values);
            scales[r] = halfToFloat(loadU16(block));
        }
    }
}
} // namespace detail

namespace {

// Q4_K and Q5_K: super-blocks of 256 weights (fp16 d and dmin, twelve bytes of 6-bit scales and
// mins for eight sub-blocks of 32, for Q5_K 32 bytes of fifth bits, then 128 bytes of nibbles: each
// 32 bytes hold sub-block 2g in the low and 2g+1 in the high nibbles; Q5_K's fifth bit of sub-block
// j is bit j of qh[l]). weight = d * scale * q - dmin * min.
template <bool FifthBit> float dotKQuant4or5(const uint8_t* row, const float* x, int64_t n) {
    constexpr int kBlockBytes = FifthBit ? 176 : 144;
    constexpr int kNibblesAt = FifthBit ? 48 : 16;
    const __m256i lowMask = _mm256_set1_epi8(0xF);
    const __m256i one = _mm256_set1_epi8(1);
    __m256 total0 = _mm256_setzero_ps(), total1 = _mm256_setzero_ps();
    // Eight values (as bytes) times x[0..8) with the sub-block's scale and offset applied.
    const auto accumulate = [](__m128i eightBytes, const float* xs, __m256 scale, __m256 offset,
                               __m256& total) {
        const __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(eightBytes));
        total = _mm256_fmadd_ps(_mm256_fmsub_ps(scale, q, offset), _mm256_loadu_ps(xs), total);
    };
    for (int64_t b = 0; b < n / 256; ++b, row += kBlockBytes, x += 256) {
        const float d = halfToFloat(loadU16(row));
        const float dmin = halfToFloat(loadU16(row + 2));
        const uint8_t* s = row + 4;
        const uint8_t* q = row + kNibblesAt;
        const __m256i qh =
            FifthBit ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 16)) : __m256i{};
        for (int g = 0; g < 4; ++g, q += 32) {
            const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
            for (int half = 0; half < 2; ++half) {
                const int j = 2 * g + half;
                const int scale = j < 4 ? s[j] & 63 : (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
                const int min = j < 4 ? s[j + 4] & 63 : (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
                const __m256 vs = _mm256_set1_ps(d * static_cast<float>(scale));
                const __m256 vm = _mm256_set1_ps(dmin * static_cast<float>(min));
                __m256i values = half == 0 ? _mm256_and_si256(packed, lowMask)
                                           : _mm256_and_si256(_mm256_srli_epi16(packed, 4), lowMask);
                if constexpr (FifthBit) {
                    const __m256i bit = _mm256_and_si256(_mm256_srli_epi16(qh, j), one);
                    values = _mm256_or_si256(values, _mm256_slli_epi16(bit, 4));
                }
                const __m128i lo = _mm256_castsi256_si128(values);
                const __m128i hi = _mm256_extracti128_si256(values, 1);
                const float* xs = x + j * 32;
                accumulate(lo, xs, vs, vm, total0);
                accumulate(_mm_srli_si128(lo, 8), xs + 8, vs, vm, total1);
                accumulate(hi, xs + 16, vs, vm, total0);
                accumulate(_mm_srli_si128(hi, 8), xs + 24, vs, vm, total1);
            }
        }
    }
    return hsum(_mm256_add_ps(total0, total1));
}

} // namespace

void detail::dotTile4x2Avx2(const float* w, int64_t wStride, const float* x, int64_t xStride, int64_t n,
                            float* out) {
    dotTile4x2(w, wStride, x, xStride, n, out);
}

float detail::dotQ4_KAvx2(const uint8_t* row, const float* x, int64_t n) {
    return dotKQuant4or5<false>(row, x, n);
}

float detail::dotQ5_KAvx2(const uint8_t* row, const float* x, int64_t n) {
    return dotKQuant4or5<true>(row, x, n);
}

// Q6_K: super-blocks of 256 (ql[128] low nibbles, qh[64] 2-bit high parts, int8 scales[16] for
// runs of 16, fp16 d); weight = d * scale * (6-bit q - 32). Each half of 128 weights is four runs
// of 32 built from 32 bytes of ql (two loads) and 32 bytes of qh.
float detail::dotQ6_KAvx2(const uint8_t* row, const float* x, int64_t n) {
    const __m256i lowMask = _mm256_set1_epi8(0xF);
    const __m256i twoBits = _mm256_set1_epi8(3);
    const __m256i offset = _mm256_set1_epi8(32);
    __m256 total = _mm256_setzero_ps();
    // 32 signed weights (as bytes) times x[0..32): runs of 16 with their own scale.
    const auto run = [&](__m256i q, const float* xs, float scale0, float scale1) {
        const __m128i lo = _mm256_castsi256_si128(q);
        const __m128i hi = _mm256_extracti128_si256(q, 1);
        __m256 a = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), _mm256_loadu_ps(xs));
        a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))),
                            _mm256_loadu_ps(xs + 8), a);
        __m256 b = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), _mm256_loadu_ps(xs + 16));
        b = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))),
                            _mm256_loadu_ps(xs + 24), b);
        total = _mm256_fmadd_ps(_mm256_set1_ps(scale0), a, total);
        total = _mm256_fmadd_ps(_mm256_set1_ps(scale1), b, total);
    };
    for (int64_t b = 0; b < n / 256; ++b, row += 210) {
        const uint8_t* ql = row;
        const uint8_t* qh = row + 128;
        const auto* sc = reinterpret_cast<const int8_t*>(row + 192);
        const float d = halfToFloat(loadU16(row + 208));
        for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8, x += 128) {
            const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
            const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
            const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh));
            const auto high = [&](int shift) {
                return _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, shift), twoBits), 4);
            };
            const auto weights = [&](__m256i nibbles, int shift) {
                return _mm256_sub_epi8(_mm256_or_si256(nibbles, high(shift)), offset);
            };
            const __m256i q1 = weights(_mm256_and_si256(l0, lowMask), 0);
            const __m256i q2 = weights(_mm256_and_si256(l1, lowMask), 2);
            const __m256i q3 = weights(_mm256_and_si256(_mm256_srli_epi16(l0, 4), lowMask), 4);
            const __m256i q4 = weights(_mm256_and_si256(_mm256_srli_epi16(l1, 4), lowMask), 6);
            run(q1, x, d * float(sc[0]), d * float(sc[1]));
            run(q2, x + 32, d * float(sc[2]), d * float(sc[3]));
            run(q3, x + 64, d * float(sc[4]), d * float(sc[5]));
            run(q4, x + 96, d * float(sc[6]), d * float(sc[7]));
        }
    }
    return hsum(total);
}

namespace {

const Kernels kAvx2{Isa::Avx2,
                    dotF32,
                    axpyF32,
                    dotF16,
                    axpyF16,
                    toF16,
                    dotQ8_0,
                    dotQ4_0,
                    dotBF16,
                    2,
                    dotTile4x2,
                    geluMul,
                    softcap,
                    quantizeQ8,
                    gemmQ8<false>,
                    gemmQ8<true>,
                    detail::dotQ4_KAvx2,
                    detail::dotQ5_KAvx2,
                    detail::dotQ6_KAvx2,
                    gemmQ4_0Q8Packed,
                    nullptr};

} // namespace

namespace detail {
const Kernels* avx2Kernels() {
    return &kAvx2;
}
} // namespace detail

} // namespace ocelle::cpu
