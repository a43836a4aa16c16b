#include "cpu/matmul.h"

#include "cpu/kernels.h"
#include "gguf/dequant.h"
#include "gguf/tensor_types.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <optional>
#include <string_view>
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
    case TensorType::Q4_K:
        if (!k.dotQ4_K || n % 256 != 0) return false;
        out = k.dotQ4_K(row, x, n);
        return true;
    case TensorType::Q5_K:
        if (!k.dotQ5_K || n % 256 != 0) return false;
        out = k.dotQ5_K(row, x, n);
        return true;
    case TensorType::Q6_K:
        if (!k.dotQ6_K || n % 256 != 0) return false;
        out = k.dotQ6_K(row, x, n);
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

// The precision OCELLE_CPU_ACTIVATIONS names, if it names one.
std::optional<ActivationPrecision> precisionFromEnvironment() {
    const char* env = std::getenv("OCELLE_CPU_ACTIVATIONS");
    if (!env) return std::nullopt;
    if (std::string_view(env) == "q8") return ActivationPrecision::Q8;
    if (std::string_view(env) == "exact") return ActivationPrecision::Exact;
    return std::nullopt;
}

std::atomic<ActivationPrecision>& precisionSetting() {
    static std::atomic<ActivationPrecision> setting{
        precisionFromEnvironment().value_or(ActivationPrecision::Exact)};
    return setting;
}

// From this many tokens on, batches use the packed tiles where the level has them: padding a group
// of 16 tokens costs less than the small tiles' per-product work (bench_cpu_matmul --tokens N, one
// thread: AVX-512 Q4_0 at 8 tokens ~1.35x the 4 x 4 tile, Q8_0 and AVX2 about equal; at 4 tokens the
// 4 x 4 tile is ~1.8x faster).
constexpr int64_t kPackedMinTokens = 8;

bool quantizedProduct(const model::Weight& w) {
    const auto type = static_cast<TensorType>(w.type);
    return (type == TensorType::Q4_0 || type == TensorType::Q8_0) && w.cols % 32 == 0 &&
           activationPrecision() == ActivationPrecision::Q8;
}

// One token, several products in one parallel region: each distinct input is quantized once, the
// jobs' rows are laid end to end and split into contiguous chunks, and a chunk's rows of one matrix
// go to the kernel in one call (the one-token kernels prepare the token once per call).
void decodeQ8(ThreadPool& pool, const Kernels& k, std::span<const MatmulJob> jobs) {
    // Named through references: the workers must use the caller's buffers, not their own thread_locals.
    thread_local std::vector<uint8_t> quantizedBuffer;
    thread_local std::vector<float> scaleBuffer;
    thread_local std::vector<int64_t> inputAtBuffer, rowStartBuffer;
    auto& quantized = quantizedBuffer;
    auto& scales = scaleBuffer;
    auto& inputAt = inputAtBuffer;   // per job: offset of its quantized input
    auto& rowStart = rowStartBuffer; // per job: its first row in the concatenation; then the total
    const auto count = jobs.size();
    inputAt.assign(count, -1);
    rowStart.assign(count + 1, 0);
    int64_t inputBytes = 0, weights = 0;
    for (size_t j = 0; j < count; ++j) {
        const model::Weight& w = *jobs[j].weight;
        for (size_t i = 0; i < j && inputAt[j] < 0; ++i)
            if (jobs[i].x == jobs[j].x && jobs[i].weight->cols == w.cols) inputAt[j] = inputAt[i];
        if (inputAt[j] < 0) {
            inputAt[j] = inputBytes;
            inputBytes += w.cols;
        }
        rowStart[j + 1] = rowStart[j] + w.rows;
        weights += w.rows * w.cols;
    }
    quantized.resize(static_cast<size_t>(inputBytes));
    scales.resize(static_cast<size_t>(inputBytes / 4));
    for (int64_t at = 0, j = 0; at < inputBytes; ++j)
        if (inputAt[static_cast<size_t>(j)] == at) {
            const MatmulJob& job = jobs[static_cast<size_t>(j)];
            quantizeActivationsQ8(job.x, job.weight->cols, quantized.data() + at, scales.data() + at / 4);
            at += job.weight->cols;
        }
    const int64_t totalRows = rowStart[count];
    const auto runRows = [&](int64_t begin, int64_t end) {
        auto j = static_cast<size_t>(std::upper_bound(rowStart.begin(), rowStart.end(), begin) -
                                     rowStart.begin() - 1);
        for (; begin < end; ++j) {
            const model::Weight& w = *jobs[j].weight;
            const int64_t first = begin - rowStart[j];
            const int64_t last = std::min(end, rowStart[j + 1]) - rowStart[j];
            const auto gemm =
                static_cast<TensorType>(w.type) == TensorType::Q4_0 ? k.gemmQ4_0Q8 : k.gemmQ8_0Q8;
            const int64_t at = inputAt[j];
            gemm(w.data + static_cast<uint64_t>(first) * w.rowBytes, static_cast<int64_t>(w.rowBytes),
                 last - first, quantized.data() + at, scales.data() + at / 4, 1, w.cols, jobs[j].out + first,
                 w.rows);
            begin = rowStart[j] + last;
        }
    };
    // Blocks of 16 rows, chunks of at least ~64K weights.
    constexpr int64_t kRowBlock = 16;
    const int64_t meanCols = std::max<int64_t>(1, weights / std::max<int64_t>(1, totalRows));
    const int64_t grain = std::max<int64_t>(1, 65536 / (kRowBlock * meanCols));
    pool.parallelFor(
        (totalRows + kRowBlock - 1) / kRowBlock,
        [&](int64_t begin, int64_t end) { runRows(begin * kRowBlock, std::min(totalRows, end * kRowBlock)); },
        grain);
}

// Quantized-activation products: every token's x rounded to 8-bit blocks once per matrix, then
// each thread takes blocks of rows and multiplies them with the tokens in chunks small enough to stay
// in L2 while the block's rows (in L1/L2) are reused for every chunk.
void matmulQ8(ThreadPool& pool, const Kernels& k, const model::Weight& w, const float* x, int64_t tokens,
              float* out) {
    if (tokens == 1) {
        const MatmulJob job{&w, x, out};
        decodeQ8(pool, k, std::span(&job, 1));
        return;
    }
    const int64_t rows = w.rows;
    const int64_t cols = w.cols;
    thread_local std::vector<uint8_t> quantized;
    thread_local std::vector<float> scales;
    quantized.resize(static_cast<size_t>(tokens * cols));
    scales.resize(static_cast<size_t>(tokens * cols / 4));
    uint8_t* xq = quantized.data();
    float* xd = scales.data();
    pool.parallelFor(tokens, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t)
            quantizeActivationsQ8(x + t * cols, cols, xq + t * cols, xd + t * (cols / 4));
    });
    const bool q4 = static_cast<TensorType>(w.type) == TensorType::Q4_0;
    const auto packedGemm = q4 ? k.gemmQ4_0Q8Packed : k.gemmQ8_0Q8Packed;
    if (packedGemm && tokens >= kPackedMinTokens) {
        // Batches: the tokens regrouped once per matrix, then blocks of rows, each unpacked once per
        // call by the kernel and multiplied with every token group.
        thread_local std::vector<uint8_t> packedQ;
        thread_local std::vector<PackedBlock> packedBlocks;
        const int64_t groups = packedGroups(tokens);
        packedQ.resize(static_cast<size_t>(groups * kPackedTokens * cols));
        packedBlocks.resize(static_cast<size_t>(groups * cols / 32));
        uint8_t* pq = packedQ.data();
        PackedBlock* pb = packedBlocks.data();
        pool.parallelFor(groups, [&](int64_t begin, int64_t end) {
            for (int64_t g = begin; g < end; ++g)
                packActivationsQ8(xq + g * kPackedTokens * cols, xd + g * kPackedTokens * (cols / 4),
                                  std::min(kPackedTokens, tokens - g * kPackedTokens), cols,
                                  pq + g * kPackedTokens * cols, pb + g * (cols / 32));
        });
        constexpr int64_t kRowBlock = 8;
        const int64_t rowBlocks = (rows + kRowBlock - 1) / kRowBlock;
        pool.parallelFor(rowBlocks, [&](int64_t begin, int64_t end) {
            const int64_t first = begin * kRowBlock;
            packedGemm(w.data + static_cast<uint64_t>(first) * w.rowBytes, static_cast<int64_t>(w.rowBytes),
                       std::min(end * kRowBlock, rows) - first, pq, pb, tokens, cols, out + first, rows);
        });
        return;
    }
    const auto gemm = q4 ? k.gemmQ4_0Q8 : k.gemmQ8_0Q8;
    constexpr int64_t kRowBlock = 16;
    const int64_t tokenChunk = std::max<int64_t>(8, (128 * 1024 / (2 * cols)) / 8 * 8);
    const int64_t groups = (rows + kRowBlock - 1) / kRowBlock;
    const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, kRowBlock * cols * tokens));
    pool.parallelFor(
        groups,
        [&](int64_t begin, int64_t end) {
            for (int64_t g = begin; g < end; ++g) {
                const int64_t first = g * kRowBlock;
                const int64_t count = std::min(kRowBlock, rows - first);
                for (int64_t t = 0; t < tokens; t += tokenChunk)
                    gemm(w.data + static_cast<uint64_t>(first) * w.rowBytes, static_cast<int64_t>(w.rowBytes),
                         count, xq + t * cols, xd + t * (cols / 4), std::min(tokenChunk, tokens - t), cols,
                         out + t * rows + first, rows);
            }
        },
        grain);
}

} // namespace

void setActivationPrecision(ActivationPrecision precision) {
    precisionSetting().store(precision, std::memory_order_relaxed);
}

ActivationPrecision activationPrecision() {
    return precisionSetting().load(std::memory_order_relaxed);
}

void setDefaultActivationPrecision(ActivationPrecision precision) {
    if (!precisionFromEnvironment()) setActivationPrecision(precision);
}

const char* activationPrecisionName(ActivationPrecision precision) {
    return precision == ActivationPrecision::Q8 ? "q8" : "exact";
}

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
    const auto type = static_cast<TensorType>(w.type);
    if ((type == TensorType::Q4_0 || type == TensorType::Q8_0) && cols % 32 == 0 &&
        activationPrecision() == ActivationPrecision::Q8) {
        matmulQ8(pool, k, w, x, tokens, out);
        return;
    }
    const bool fusedType = [&] {
        float unused = 0;
        return fusedDot(k, w.type, w.data, x, 0, unused);
    }();
    // Decoding a row costs about as much as one fused dot product: worth it from two tokens on.
    const bool decodeRows = !fusedType || tokens >= 2;
    if (!decodeRows) {
        const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, cols));
        pool.parallelFor(
            rows,
            [&](int64_t begin, int64_t end) {
                for (int64_t r = begin; r < end; ++r)
                    fusedDot(k, w.type, w.data + static_cast<uint64_t>(r) * w.rowBytes, x, cols, out[r]);
            },
            grain);
        return;
    }
    // Groups of four rows are decoded together and multiplied with the kernel's tile of tokens.
    constexpr int64_t kTileRows = 4;
    const int64_t tileTokens = k.tileTokens;
    const int64_t groups = (rows + kTileRows - 1) / kTileRows;
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, kTileRows * cols * tokens));
    pool.parallelFor(
        groups,
        [&](int64_t begin, int64_t end) {
            auto& buffer = rowBuffer(kTileRows * cols);
            float tile[kTileRows * 8];
            for (int64_t g = begin; g < end; ++g) {
                const int64_t first = g * kTileRows;
                const int64_t count = std::min(kTileRows, rows - first);
                for (int64_t r = 0; r < count; ++r)
                    gguf::dequantizeRow(w.type, w.data + static_cast<uint64_t>(first + r) * w.rowBytes,
                                        buffer.data() + r * cols, cols);
                int64_t t = 0;
                if (count == kTileRows)
                    for (; t + tileTokens <= tokens; t += tileTokens) {
                        k.dotTile(buffer.data(), cols, x + t * cols, cols, cols, tile);
                        for (int64_t j = 0; j < tileTokens; ++j)
                            for (int64_t r = 0; r < kTileRows; ++r)
                                out[(t + j) * rows + first + r] = tile[j * kTileRows + r];
                    }
                for (; t < tokens; ++t)
                    for (int64_t r = 0; r < count; ++r)
                        out[t * rows + first + r] = k.dotF32(buffer.data() + r * cols, x + t * cols, cols);
            }
        },
        grain);
}

void matmuls(ThreadPool& pool, std::span<const MatmulJob> jobs, int64_t tokens) {
    const bool together =
        tokens == 1 && !jobs.empty() &&
        std::all_of(jobs.begin(), jobs.end(), [](const MatmulJob& j) { return quantizedProduct(*j.weight); });
    if (together) {
        decodeQ8(pool, kernels(), jobs);
        return;
    }
    for (const auto& job : jobs) matmul(pool, *job.weight, job.x, tokens, job.out);
}

void clampedMatmul(ThreadPool& pool, const model::ClampedLinear& l, const float* x, int64_t tokens,
                   float* out, std::vector<float>& scratch) {
    const float* input = x;
    if (l.inputClamped()) {
        scratch.assign(x, x + tokens * l.weight.cols);
        for (float& v : scratch) v = std::clamp(v, l.inputMin, l.inputMax);
        input = scratch.data();
    }
    matmul(pool, l.weight, input, tokens, out);
    if (l.outputClamped())
        for (int64_t i = 0; i < tokens * l.weight.rows; ++i)
            out[i] = std::clamp(out[i], l.outputMin, l.outputMax);
}

} // namespace ocelle::cpu
