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

#include <cstring>
#include <immintrin.h>

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

inline __m256i unpackQ4_0(const uint8_t* packed) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed));
    const __m128i lowMask = _mm_set1_epi8(0xF);
    const __m256i nibbles =
        _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(bytes, 4), lowMask), _mm_and_si128(bytes, lowMask));
    return _mm256_sub_epi8(nibbles, _mm256_set1_epi8(8));
}

// VNNI: one instruction multiplies 32 unsigned-by-signed byte pairs and adds them into int32 lanes
// (|w| and x carrying w's sign give the signed products).
inline __m256 dotBytes(__m256i w, __m256i x) {
    const __m256i sums =
        _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
    return _mm256_cvtepi32_ps(sums);
}

float dotQ8_0Q8(const uint8_t* row, const BlockQ8* x, int64_t n) {
    __m256 total0 = _mm256_setzero_ps(), total1 = _mm256_setzero_ps();
    auto block = [](const uint8_t* b, const BlockQ8* xb, __m256& total) {
        const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2));
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb->q));
        total = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(loadU16(b)) * xb->d), dotBytes(w, q), total);
    };
    const int64_t blocks = n / 32;
    int64_t b = 0;
    for (; b + 2 <= blocks; b += 2) {
        block(row + b * 34, x + b, total0);
        block(row + (b + 1) * 34, x + b + 1, total1);
    }
    if (b < blocks) block(row + b * 34, x + b, total0);
    return hsum(_mm512_zextps256_ps512(_mm256_add_ps(total0, total1)));
}

float dotQ4_0Q8(const uint8_t* row, const BlockQ8* x, int64_t n) {
    __m256 total0 = _mm256_setzero_ps(), total1 = _mm256_setzero_ps();
    auto block = [](const uint8_t* b, const BlockQ8* xb, __m256& total) {
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb->q));
        total = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(loadU16(b)) * xb->d), dotBytes(unpackQ4_0(b + 2), q),
                                total);
    };
    const int64_t blocks = n / 32;
    int64_t b = 0;
    for (; b + 2 <= blocks; b += 2) {
        block(row + b * 18, x + b, total0);
        block(row + (b + 1) * 18, x + b + 1, total1);
    }
    if (b < blocks) block(row + b * 18, x + b, total0);
    return hsum(_mm512_zextps256_ps512(_mm256_add_ps(total0, total1)));
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
                      dotQ8_0Q8,
                      dotQ4_0Q8,
                      detail::dotQ4_KAvx2,
                      detail::dotQ5_KAvx2,
                      detail::dotQ6_KAvx2};

} // namespace

namespace detail {
const Kernels* avx512Kernels() {
    return &kAvx512;
}
} // namespace detail

} // namespace ocelle::cpu
