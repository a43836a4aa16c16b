// Matrix products with weights used in place (memory-mapped, still quantized).
#pragma once

#include "cpu/thread_pool.h"
#include "model/layer_plan.h"

#include <cstdint>

namespace ocelle::cpu {

// out[t * w.rows + r] = sum_k W[r][k] * x[t * w.cols + k] for t in [0, tokens), r in [0, w.rows).
// Parallel over output rows. One token: each row's blocks are decoded inside the dot product.
// Several tokens: each row is decoded once into a per-thread buffer of one row and reused for
// every token. Whole weights are never expanded in memory; accumulation is fp32.
void matmul(ThreadPool& pool, const model::Weight& w, const float* x, int64_t tokens, float* out);

// The same for one row (used by tests and by the single-row paths).
float dotRow(const model::Weight& w, int64_t row, const float* x);

} // namespace ocelle::cpu
