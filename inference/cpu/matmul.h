// Matrix products with weights used in place (memory-mapped, still quantized).
#pragma once

#include "cpu/thread_pool.h"
#include "model/layer_plan.h"
#include "model/tower_reader.h"

#include <cstdint>
#include <span>
#include <vector>

namespace ocelle::cpu {

// out[t * w.rows + r] = sum_k W[r][k] * x[t * w.cols + k] for t in [0, tokens), r in [0, w.rows).
// Parallel over output rows. One token: each row's blocks are decoded inside the dot product.
// Several tokens: each row is decoded once into a per-thread buffer of one row and reused for
// every token. Whole weights are never expanded in memory; accumulation is fp32.
void matmul(ThreadPool& pool, const model::Weight& w, const float* x, int64_t tokens, float* out);

// Several independent products (each out = weight x over `tokens` tokens, as matmul()) as one
// parallel region where that pays (one token, quantized activations: one hand-off to the workers
// instead of one per matrix, each distinct input quantized once); otherwise one after another.
// The results are the same bits as separate matmul() calls.
struct MatmulJob {
    const model::Weight* weight;
    const float* x;
    float* out;
};
void matmuls(ThreadPool& pool, std::span<const MatmulJob> jobs, int64_t tokens);

// Activation precision of the products with Q4_0 and Q8_0 weights.
//  Exact (default): fp32 activations times the decoded weights; logits within 2e-3 of float64 math.
//  Q8: like llama.cpp's CPU backend, each token's activations are rounded to 8 bits per 32-value
//      block once per matrix and the products summed in integers (VNNI / maddubs tiles over
//      several rows and tokens: several times fewer instructions per weight). Logits stay within
//      1.0 of the float64 reference and llama.cpp on the fixture models (tested, decode and prefill).
// Applies to decode and batched prefill alike; other weight types always use the exact products.
// Process-wide; the environment variable OCELLE_CPU_ACTIVATIONS=exact|q8 sets it at start-up.
enum class ActivationPrecision { Exact, Q8 };
void setActivationPrecision(ActivationPrecision precision);
ActivationPrecision activationPrecision();
// Sets `precision` unless OCELLE_CPU_ACTIVATIONS chose one: how a program picks its own default
// (the library's is Exact; the app and `ocelle-cli bench` use Q8, see docs/benchmarks.md).
void setDefaultActivationPrecision(ActivationPrecision precision);
const char* activationPrecisionName(ActivationPrecision precision); // "exact" or "q8"

// The same for one row (used by tests and by the single-row paths).
float dotRow(const model::Weight& w, int64_t row, const float* x);

// matmul through a clamped linear: the input clamped first (into `scratch` when it clamps), the
// output clamped after.
void clampedMatmul(ThreadPool& pool, const model::ClampedLinear& l, const float* x, int64_t tokens,
                   float* out, std::vector<float>& scratch);

} // namespace ocelle::cpu
