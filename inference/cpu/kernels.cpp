#include "cpu/kernels.h"

#include "gguf/dequant.h"

#include <cstdlib>
#include <cstring>
#include <string_view>

namespace ocelle::cpu {

const char* isaName(Isa isa) {
    return isa == Isa::Avx2 ? "avx2" : "portable";
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

const Kernels kPortable{Isa::Portable, dotF32Portable,  axpyF32Portable, dotF16Portable,  axpyF16Portable,
                        toF16Portable, dotQ8_0Portable, dotQ4_0Portable, dotBF16Portable, dotTile4x2Portable};

bool cpuHasAvx2() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
    return false;
#endif
}

const Kernels* initialChoice() {
    const char* env = std::getenv("OCELLE_CPU_ISA");
    const bool avx2 = cpuHasAvx2() && detail::avx2Kernels();
    if (env && std::string_view(env) == "portable") return &kPortable;
    return avx2 ? detail::avx2Kernels() : &kPortable;
}

const Kernels*& current() {
    static const Kernels* chosen = initialChoice();
    return chosen;
}

} // namespace

namespace detail {
const Kernels& portableKernels() {
    return kPortable;
}
#ifndef OCELLE_HAVE_AVX2_KERNELS
const Kernels* avx2Kernels() {
    return nullptr;
}
#endif
} // namespace detail

const Kernels& kernels() {
    return *current();
}

bool isaSupported(Isa isa) {
    return isa == Isa::Portable || (cpuHasAvx2() && detail::avx2Kernels());
}

bool forceIsa(Isa isa) {
    if (!isaSupported(isa)) return false;
    current() = isa == Isa::Avx2 ? detail::avx2Kernels() : &kPortable;
    return true;
}

} // namespace ocelle::cpu
