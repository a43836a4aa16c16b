#include "cpu/matmul.h"

#include "cpu/kernels.h"
#include "gguf/dequant.h"
#include "gguf/tensor_types.h"

#include <algorithm>
#include <vector>

namespace ocelle::cpu {

namespace {

using gguf::TensorType;

// Dot product of one stored row with x when a fused kernel exists for the type.
bool fusedDot(const Kernels& k, uint32_t type, const uint8_t* row, const float* x, int64_t n, float& out) {
    switch (static_cast<TensorType>(type)) {
    case TensorType::F32:
        out = k.dotF32(reinterpret_cast<const float*>(row), x, n);
        return true;
    case TensorType::F16:
        out = k.dotF16(reinterpret_cast<const uint16_t*>(row), x, n);
        return true;
    case TensorType::BF16:
        out = k.dotBF16(reinterpret_cast<const uint16_t*>(row), x, n);
        return true;
    case TensorType::Q8_0:
        out = k.dotQ8_0(row, x, n);
        return true;
    case TensorType::Q4_0:
        out = k.dotQ4_0(row, x, n);
        return true;
    default:
        return false;
    }
}

std::vector<float>& rowBuffer(int64_t n) {
    thread_local std::vector<float> buffer;
    if (static_cast<int64_t>(buffer.size()) < n) buffer.resize(static_cast<size_t>(n));
    return buffer;
}

} // namespace

float dotRow(const model::Weight& w, int64_t row, const float* x) {
    const Kernels& k = kernels();
    const uint8_t* data = w.data + static_cast<uint64_t>(row) * w.rowBytes;
    float out = 0;
    if (fusedDot(k, w.type, data, x, w.cols, out)) return out;
    auto& buffer = rowBuffer(w.cols);
    gguf::dequantizeRow(w.type, data, buffer.data(), w.cols);
    return k.dotF32(buffer.data(), x, w.cols);
}

void matmul(ThreadPool& pool, const model::Weight& w, const float* x, int64_t tokens, float* out) {
    const int64_t rows = w.rows;
    const int64_t cols = w.cols;
    const Kernels& k = kernels();
    const bool fusedType = [&] {
        float unused = 0;
        return fusedDot(k, w.type, w.data, x, 0, unused);
    }();
    // Decoding a row costs about as much as one fused dot product: worth it from two tokens on.
    const bool decodeRows = !fusedType || tokens >= 2;
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, cols * tokens));
    pool.parallelFor(
        rows,
        [&](int64_t begin, int64_t end) {
            if (!decodeRows) {
                for (int64_t r = begin; r < end; ++r) {
                    const uint8_t* data = w.data + static_cast<uint64_t>(r) * w.rowBytes;
                    for (int64_t t = 0; t < tokens; ++t)
                        fusedDot(k, w.type, data, x + t * cols, cols, out[t * rows + r]);
                }
                return;
            }
            auto& buffer = rowBuffer(cols);
            for (int64_t r = begin; r < end; ++r) {
                gguf::dequantizeRow(w.type, w.data + static_cast<uint64_t>(r) * w.rowBytes, buffer.data(),
                                    cols);
                for (int64_t t = 0; t < tokens; ++t)
                    out[t * rows + r] = k.dotF32(buffer.data(), x + t * cols, cols);
            }
        },
        grain);
}

} // namespace ocelle::cpu
