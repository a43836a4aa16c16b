#include "vulkan/kernels.h"

#include "gguf/tensor_types.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace ocelle::vulkan {

namespace {

using gguf::TensorType;

// The shader-name suffix of a weight type the kernels take, or nothing.
std::optional<std::string> weightTypeSuffix(uint32_t type) {
    switch (static_cast<TensorType>(type)) {
    case TensorType::F32:
        return "f32";
    case TensorType::F16:
        return "f16";
    case TensorType::BF16:
        return "bf16";
    case TensorType::Q8_0:
        return "q8_0";
    case TensorType::Q4_0:
        return "q4_0";
    case TensorType::Q4_K:
        return "q4_k";
    case TensorType::Q5_K:
        return "q5_k";
    case TensorType::Q6_K:
        return "q6_k";
    default:
        return std::nullopt;
    }
}

std::string typeSuffix(uint32_t type) {
    if (auto suffix = weightTypeSuffix(type)) return *suffix;
    throw VulkanError("the Vulkan kernels do not support weight type " + gguf::typeName(type));
}

uint32_t ceilDiv(uint64_t a, uint64_t b) {
    return static_cast<uint32_t>((a + b - 1) / b);
}

uint32_t u32(uint64_t v, const char* what) {
    if (v > 0xFFFFFFFFull) throw VulkanError(std::string(what) + " exceeds 32 bits");
    return static_cast<uint32_t>(v);
}

// A binding covering elements [view.offset, view.offset + count) with its start aligned down to
// minStorageBufferOffsetAlignment; `offset` is where the view starts inside the binding.
struct Bound {
    BufferRange range;
    uint32_t offset = 0;
};

Bound bind(const Device& device, View v, uint64_t count) {
    if (!v.buffer) throw VulkanError("a kernel was given an empty view");
    const uint64_t align = std::max<uint64_t>(4, device.features().minStorageBufferOffsetAlignment);
    const uint64_t startByte = v.offset * 4;
    const uint64_t endByte = startByte + std::max<uint64_t>(count, 1) * 4;
    if (endByte > v.buffer->size())
        throw VulkanError("a kernel would access " + std::to_string(endByte) + " bytes of a " +
                          std::to_string(v.buffer->size()) + "-byte buffer");
    const uint64_t aligned = startByte / align * align;
    Bound b;
    b.range = {v.buffer->handle(), aligned, endByte - aligned};
    b.offset = u32((startByte - aligned) / 4, "a view offset");
    if (b.range.bytes > device.features().maxStorageBufferRange)
        throw VulkanError("an activation range of " + std::to_string(b.range.bytes) +
                          " bytes exceeds maxStorageBufferRange; split the work");
    return b;
}

uint64_t extent(uint32_t count, uint32_t stride, uint32_t length) {
    return count == 0 ? 0 : uint64_t(count - 1) * stride + length;
}

template <typename T>
Dispatch make(std::string shader, std::vector<uint32_t> spec, std::vector<Binding> bindings, const T& push,
              uint32_t x, uint32_t y = 1, uint32_t z = 1) {
    static_assert(sizeof(T) <= kPushConstantBytes, "push constants must fit 128 bytes");
    Dispatch d;
    d.shader = std::move(shader);
    d.specialization = std::move(spec);
    d.bindings = std::move(bindings);
    d.push = &push;
    d.pushBytes = sizeof(T);
    d.groups[0] = x;
    d.groups[1] = y;
    d.groups[2] = z;
    return d;
}

constexpr uint32_t kElementwiseWorkgroup = 64;
constexpr uint32_t kRowWorkgroup = 128;

} // namespace

bool Kernels::supportsWeightType(uint32_t type) {
    return weightTypeSuffix(type).has_value();
}

Kernels::Kernels(Pipelines& pipelines, KernelTuning tuning) : pipelines_(pipelines), tuning_(tuning) {
    const DeviceFeatures& f = pipelines.device().features();
    if (!f.subgroupArithmetic) tuning_.useSubgroups = false;
    if (const char* env = std::getenv("OCELLE_VULKAN_NO_SUBGROUPS"); env && !std::strcmp(env, "1"))
        tuning_.useSubgroups = false;
    if (!f.storage16Bit || !f.storage8Bit) tuning_.narrowLoads = false;
    if (const char* env = std::getenv("OCELLE_VULKAN_NO_NARROW_LOADS"); env && !std::strcmp(env, "1"))
        tuning_.narrowLoads = false;
    if (tuning_.matvecWorkgroup == 0) tuning_.matvecWorkgroup = 32;
    if (tuning_.matvecRows == 0) tuning_.matvecRows = 2;
    if (tuning_.rowsPerLane == 0) tuning_.rowsPerLane = 8;
    rowPerInvocation_ = tuning_.rowPerInvocation.value_or(pipelines.device().info().type == DeviceType::Cpu);
    tuning_.rowPerInvocation = rowPerInvocation_;
    // The lane-broadcast row kernels assume subgroups of exactly 8 lanes filled by the workgroup, and
    // read weights as 64-bit words.
    laneBroadcast_ = tuning_.useSubgroups && f.subgroupBallot && f.subgroupSize == 8 && f.int64Arithmetic &&
                     tuning_.matvecWorkgroup % 8 == 0;
    // Integer dot products: by default only where they run in hardware; the environment or the tuning
    // can force them (tests run them on lavapipe, which emulates them).
    if (!tuning_.integerDot) {
        if (const char* env = std::getenv("OCELLE_VULKAN_INTEGER_DOT");
            env && (!std::strcmp(env, "0") || !std::strcmp(env, "1")))
            tuning_.integerDot = !std::strcmp(env, "1");
        else
            tuning_.integerDot = f.integerDotProductAccelerated;
    }
    integerDot_ = *tuning_.integerDot && f.integerDotProduct;
    tuning_.integerDot = integerDot_;
    // 64 x 64 tiles need ~17 KiB of shared memory; 16 KiB devices get 64 x 32.
    matmulBN_ = f.maxSharedMemory >= 20 * 1024 ? 64 : 32;
}

uint32_t Kernels::rowsPerLaneFor(uint64_t rows, uint32_t wanted) const {
    // One row per lane for matrices too small to give 4 workgroups of `wanted` rows per lane (so the
    // device's threads all get work); only two sizes, as each is a pipeline to compile (slowly, on
    // lavapipe).
    return ceilDiv(rows, uint64_t(tuning_.matvecWorkgroup) * wanted) >= 4 ? wanted : 1;
}

std::string Kernels::rowKernel(const std::string& prefix, uint32_t type) const {
    return prefix + typeSuffix(type) + (laneBroadcast_ ? "" : "_nosg");
}

std::string Kernels::reducing(const std::string& name) const {
    return tuning_.useSubgroups ? name : name + "_nosg";
}

void Kernels::matvec(Recorder& rec, const WeightTensor& w, View x, View y, uint32_t cols, uint32_t xStride,
                     uint32_t yStride, float softcap) {
    const uint32_t K = u32(w.cols(), "row length");
    if (!xStride) xStride = K;
    if (!yStride) yStride = u32(w.rows(), "rows");
    const auto wType = static_cast<TensorType>(w.type());
    if (integerDot_ && (wType == TensorType::Q4_0 || wType == TensorType::Q8_0)) {
        // Quants then scales of every column in the scratch buffer.
        const uint64_t quantWords = uint64_t(cols) * (K / 4);
        const Buffer& scratch = q8Scratch(quantWords + uint64_t(cols) * (K / 32));
        const View quants = at(scratch), scales = at(scratch, quantWords);
        quantizeQ8(rec, x, quants, scales, K, cols, xStride);
        matvecQ8(rec, w, quants, scales, y, cols, 0, 0, yStride, softcap);
        return;
    }
    fp32Matvec(rec, w, nullptr, x, y, cols, xStride, yStride, softcap);
}

void Kernels::fp32Matvec(Recorder& rec, const WeightTensor& w, const WeightTensor* up, View x, View y,
                         uint32_t cols, uint32_t xStride, uint32_t yStride, float softcap) {
    const Device& dev = pipelines_.device();
    const uint32_t K = u32(w.cols(), "row length");
    if (!xStride) xStride = K;
    if (!yStride) yStride = u32(w.rows(), "rows");
    const Bound bx = bind(dev, x, extent(cols, xStride, K));
    const auto type = static_cast<TensorType>(w.type());
    const bool narrow = tuning_.narrowLoads && (type == TensorType::F16 || type == TensorType::BF16 ||
                                                type == TensorType::Q8_0 || type == TensorType::Q4_0);
    const std::string gated = up ? "gated_" : "";
    const std::string shader =
        rowPerInvocation_ ? rowKernel("matvec_rows_" + gated, w.type())
                          : reducing("matvec_" + gated + typeSuffix(w.type()) + (narrow ? "_narrow" : ""));
    // Gated, each lane holds gate and up rows: half the rows per lane keeps the same number of weight rows
    // per loaded activation (and a pipeline of the same size).
    const uint32_t rowsPerLane =
        rowPerInvocation_ ? rowsPerLaneFor(w.chunks().front().rows,
                                           up ? std::max(1u, tuning_.rowsPerLane / 2) : tuning_.rowsPerLane)
                          : 1;
    const uint32_t rowsPerGroup =
        rowPerInvocation_ ? tuning_.matvecWorkgroup * rowsPerLane : tuning_.matvecRows;
    for (size_t c = 0; c < w.chunks().size(); ++c) {
        const auto& chunk = w.chunks()[c];
        // One column: bind just this chunk's rows of y, so the chunks' dispatches need no barrier.
        const Bound by = cols == 1 ? bind(dev, View{y.buffer, y.offset + chunk.firstRow}, chunk.rows)
                                   : bind(dev, y, extent(cols, yStride, u32(w.rows(), "rows")));
        const uint32_t rowBase = cols == 1 ? 0 : u32(chunk.firstRow, "row");
        struct {
            uint32_t K, rows, rowBytes, xOffset, xStride, yOffset, yStride, rowBase;
            float softcap;
            uint32_t groupsX, expertFirst, expertCount, xDiv, idsOffset;
        } push{K,
               u32(chunk.rows, "rows"),
               u32(w.rowBytes(), "row bytes"),
               bx.offset,
               xStride,
               by.offset,
               yStride,
               rowBase,
               softcap,
               0,
               0,
               0,
               1,
               0};
        // matvec_rows.comp reads the column count where matvec.comp has expertFirst.
        if (rowPerInvocation_) push.expertFirst = cols;
        const uint32_t groups = ceilDiv(chunk.rows, rowsPerGroup);
        const uint32_t gx = std::min<uint32_t>(groups, 65535);
        push.groupsX = gx;
        std::vector<Binding> bindings{reads(w.chunkRange(c)), reads(bx.range), writes(by.range)};
        if (up) bindings.push_back(reads(up->chunkRange(c)));
        rec.dispatch(make(shader,
                          {tuning_.matvecWorkgroup, rowPerInvocation_ ? 1u : rowsPerGroup, rowsPerLane},
                          std::move(bindings), push, gx, cols, ceilDiv(groups, gx)));
    }
}

const Buffer& Kernels::q8Scratch(uint64_t words) {
    if (!q8Scratch_ || q8Scratch_->size() < words * 4) {
        if (q8Scratch_) q8Outgrown_.push_back(std::move(q8Scratch_));
        // Room for twice the request, so a model's few sizes settle after one or two buffers.
        q8Scratch_ = std::make_unique<Buffer>(pipelines_.device(), std::max<uint64_t>(words, 1024) * 8);
    }
    return *q8Scratch_;
}

uint32_t Kernels::q8Lanes(uint32_t K) const {
    // Lanes stride over a row's blocks: rows of few blocks (small test models) get narrower
    // workgroups (with proportionally more rows each) instead of mostly idle lanes.
    uint32_t lanes = tuning_.matvecWorkgroup;
    while (lanes > 8 && lanes / 2 >= K / 32) lanes /= 2;
    return lanes;
}

void Kernels::quantizeQ8(Recorder& rec, View x, View quants, View scales, uint32_t K, uint32_t cols,
                         uint32_t xStride, uint32_t qStride, uint32_t dStride) {
    if (K % 32) throw VulkanError("quantizeQ8: the row length must be a multiple of 32");
    const Device& dev = pipelines_.device();
    if (!xStride) xStride = K;
    if (!qStride) qStride = K / 4;
    if (!dStride) dStride = K / 32;
    const Bound bx = bind(dev, x, extent(cols, xStride, K));
    const Bound bq = bind(dev, quants, extent(cols, qStride, K / 4));
    const Bound bd = bind(dev, scales, extent(cols, dStride, K / 32));
    struct {
        uint32_t K, xOffset, xStride, qOffset, qStride, dOffset, dStride;
    } push{K, bx.offset, xStride, bq.offset, qStride, bd.offset, dStride};
    rec.dispatch(make("quantize_q8", {kElementwiseWorkgroup},
                      {reads(bx.range), writes(bq.range), writes(bd.range)}, push,
                      ceilDiv(K / 32, kElementwiseWorkgroup), cols));
}

void Kernels::matvecQ8(Recorder& rec, const WeightTensor& w, View quants, View scales, View y, uint32_t cols,
                       uint32_t qStride, uint32_t dStride, uint32_t yStride, float softcap) {
    const auto type = static_cast<TensorType>(w.type());
    if (type != TensorType::Q4_0 && type != TensorType::Q8_0)
        throw VulkanError("the integer-dot matvec takes Q4_0 or Q8_0 weights, not " +
                          gguf::typeName(w.type()));
    if (!pipelines_.device().features().integerDotProduct)
        throw VulkanError("the integer-dot matvec needs a device with shaderIntegerDotProduct");
    const Device& dev = pipelines_.device();
    const uint32_t K = u32(w.cols(), "row length");
    if (!qStride) qStride = K / 4;
    if (!dStride) dStride = K / 32;
    if (!yStride) yStride = u32(w.rows(), "rows");
    const Bound bq = bind(dev, quants, extent(cols, qStride, K / 4));
    const Bound bd = bind(dev, scales, extent(cols, dStride, K / 32));
    const std::string shader = reducing("matvec_q8_" + typeSuffix(w.type()));
    const uint32_t lanes = q8Lanes(K);
    const uint32_t rowsPerGroup = tuning_.matvecRows * (tuning_.matvecWorkgroup / lanes);
    for (size_t c = 0; c < w.chunks().size(); ++c) {
        const auto& chunk = w.chunks()[c];
        // One column: bind just this chunk's rows of y, so the chunks' dispatches need no barrier.
        const Bound by = cols == 1 ? bind(dev, View{y.buffer, y.offset + chunk.firstRow}, chunk.rows)
                                   : bind(dev, y, extent(cols, yStride, u32(w.rows(), "rows")));
        struct {
            uint32_t K, rows, rowBytes, qOffset, qStride, yOffset, yStride, rowBase;
            float softcap;
            uint32_t groupsX, dOffset, dStride, expertFirst, expertCount, xDiv, idsOffset;
        } push{K,
               u32(chunk.rows, "rows"),
               u32(w.rowBytes(), "row bytes"),
               bq.offset,
               qStride,
               by.offset,
               yStride,
               cols == 1 ? 0 : u32(chunk.firstRow, "row"),
               softcap,
               0,
               bd.offset,
               dStride,
               0,
               0,
               1,
               0};
        const uint32_t groups = ceilDiv(chunk.rows, rowsPerGroup);
        const uint32_t gx = std::min<uint32_t>(groups, 65535);
        push.groupsX = gx;
        rec.dispatch(make(shader, {lanes, rowsPerGroup},
                          {reads(w.chunkRange(c)), reads(bq.range), writes(by.range), reads(bd.range)}, push,
                          gx, cols, ceilDiv(groups, gx)));
    }
}

void Kernels::matvecGeglu(Recorder& rec, const WeightTensor& gate, const WeightTensor& up, View x, View y,
                          uint32_t cols, uint32_t xStride, uint32_t yStride) {
    if (gate.type() != up.type() || gate.rows() != up.rows() || gate.cols() != up.cols() ||
        gate.chunks().size() != up.chunks().size())
        throw VulkanError("matvecGeglu: gate and up must have the same type and shape");
    for (size_t c = 0; c < gate.chunks().size(); ++c)
        if (up.chunks()[c].rows != gate.chunks()[c].rows)
            throw VulkanError("matvecGeglu: gate and up are split differently");
    fp32Matvec(rec, gate, &up, x, y, cols, xStride, yStride, 0.0f);
}

void Kernels::matmul(Recorder& rec, const WeightTensor& w, View x, View y, uint32_t n, uint32_t xStride,
                     uint32_t yStride) {
    const Device& dev = pipelines_.device();
    const uint32_t K = u32(w.cols(), "row length");
    if (!xStride) xStride = K;
    if (!yStride) yStride = u32(w.rows(), "rows");
    const Bound by = bind(dev, y, extent(n, yStride, u32(w.rows(), "rows")));
    const auto wType = static_cast<TensorType>(w.type());
    if (integerDot_ && (wType == TensorType::Q4_0 || wType == TensorType::Q8_0)) {
        const uint64_t quantWords = uint64_t(n) * (K / 4);
        const Buffer& scratch = q8Scratch(quantWords + uint64_t(n) * (K / 32));
        const View quants = at(scratch), scales = at(scratch, quantWords);
        quantizeQ8(rec, x, quants, scales, K, n, xStride);
        const Bound bq = bind(dev, quants, quantWords);
        const Bound bd = bind(dev, scales, uint64_t(n) * (K / 32));
        // matmul.comp's tiles: 64 rows x matmulBN_ tokens, 4 x 4 per invocation.
        const uint32_t BM = 64, BN = matmulBN_;
        const std::string shader = "matmul_q8_" + typeSuffix(w.type());
        for (size_t c = 0; c < w.chunks().size(); ++c) {
            const auto& chunk = w.chunks()[c];
            struct {
                uint32_t K, rows, rowBytes, qOffset, qStride, yOffset, yStride, rowBase, N, dOffset, dStride;
            } push{K,
                   u32(chunk.rows, "rows"),
                   u32(w.rowBytes(), "row bytes"),
                   bq.offset,
                   K / 4,
                   by.offset,
                   yStride,
                   u32(chunk.firstRow, "row"),
                   n,
                   bd.offset,
                   K / 32};
            rec.dispatch(make(shader, {(BM / 4) * (BN / 4), BM, BN},
                              {reads(w.chunkRange(c)), reads(bq.range), writes(by.range), reads(bd.range)},
                              push, ceilDiv(chunk.rows, BM), ceilDiv(n, BN)));
        }
        return;
    }
    const Bound bx = bind(dev, x, extent(n, xStride, K));
    if (rowPerInvocation_) {
        // CPU-type devices: one row per lane, each decoded unit used for 8 tokens (no shared-memory tiles,
        // whose barriers are costly when invocations are SIMD lanes).
        // 4 tokens x 4 rows per lane: 16 accumulators, each weight load used 4 times and each activation
        // load 4 times (8 x 8 would halve the loads again but makes a pipeline that takes lavapipe
        // minutes to compile).
        const uint32_t colsPerGroup = 4;
        const std::string shader = rowKernel("matvec_rows_", w.type());
        for (size_t c = 0; c < w.chunks().size(); ++c) {
            const auto& chunk = w.chunks()[c];
            struct {
                uint32_t K, rows, rowBytes, xOffset, xStride, yOffset, yStride, rowBase;
                float softcap;
                uint32_t groupsX, columns;
            } push{K,
                   u32(chunk.rows, "rows"),
                   u32(w.rowBytes(), "row bytes"),
                   bx.offset,
                   xStride,
                   by.offset,
                   yStride,
                   u32(chunk.firstRow, "row"),
                   0.0f,
                   0,
                   n};
            const uint32_t rowsPerLane = rowsPerLaneFor(w.chunks().front().rows, 4);
            const uint32_t groups = ceilDiv(chunk.rows, tuning_.matvecWorkgroup * rowsPerLane);
            const uint32_t gx = std::min<uint32_t>(groups, 65535);
            push.groupsX = gx;
            rec.dispatch(make(shader, {tuning_.matvecWorkgroup, colsPerGroup, rowsPerLane},
                              {reads(w.chunkRange(c)), reads(bx.range), writes(by.range)}, push, gx,
                              ceilDiv(n, colsPerGroup), ceilDiv(groups, gx)));
        }
        return;
    }
    const uint32_t BM = 64, BN = matmulBN_;
    const std::string shader = "matmul_" + typeSuffix(w.type());
    for (size_t c = 0; c < w.chunks().size(); ++c) {
        const auto& chunk = w.chunks()[c];
        struct {
            uint32_t K, rows, rowBytes, xOffset, xStride, yOffset, yStride, rowBase, N;
        } push{K,
               u32(chunk.rows, "rows"),
               u32(w.rowBytes(), "row bytes"),
               bx.offset,
               xStride,
               by.offset,
               yStride,
               u32(chunk.firstRow, "row"),
               n};
        rec.dispatch(make(shader, {(BM / 4) * (BN / 4), BM, BN},
                          {reads(w.chunkRange(c)), reads(bx.range), writes(by.range)}, push,
                          ceilDiv(chunk.rows, BM), ceilDiv(n, BN)));
    }
}

void Kernels::linear(Recorder& rec, const WeightTensor& w, View x, View y, uint32_t n, uint32_t xStride,
                     uint32_t yStride) {
    // A matvec column rereads the weights; the tile shares each decoded weight across 64 tokens.
    if (n <= 2)
        matvec(rec, w, x, y, n, xStride, yStride);
    else
        matmul(rec, w, x, y, n, xStride, yStride);
}

void Kernels::moeMatvec(Recorder& rec, const WeightTensor& w, View x, View ids, View y, uint32_t tokens,
                        uint32_t k, bool sharedInput, uint32_t xStride, uint32_t yStride) {
    const Device& dev = pipelines_.device();
    const uint32_t K = u32(w.cols(), "row length");
    const uint32_t rowsPerExpert = u32(w.rowGroup(), "rows per expert");
    if (!xStride) xStride = K;
    if (!yStride) yStride = rowsPerExpert;
    const uint32_t slots = tokens * k;
    const Bound bx = bind(dev, x, extent(sharedInput ? tokens : slots, xStride, K));
    const Bound bi = bind(dev, ids, slots);
    const Bound by = bind(dev, y, extent(slots, yStride, rowsPerExpert));
    const auto wType = static_cast<TensorType>(w.type());
    if (integerDot_ && (wType == TensorType::Q4_0 || wType == TensorType::Q8_0)) {
        // The inputs quantized once each (a token's, shared by its k experts, or one per slot).
        const uint32_t inputs = sharedInput ? tokens : slots;
        const uint64_t quantWords = uint64_t(inputs) * (K / 4);
        const Buffer& scratch = q8Scratch(quantWords + uint64_t(inputs) * (K / 32));
        const View quants = at(scratch), scales = at(scratch, quantWords);
        quantizeQ8(rec, x, quants, scales, K, inputs, xStride);
        const Bound bq = bind(dev, quants, quantWords);
        const Bound bd = bind(dev, scales, uint64_t(inputs) * (K / 32));
        const uint32_t lanes = q8Lanes(K);
        const uint32_t rowsPerGroup = tuning_.matvecRows * (tuning_.matvecWorkgroup / lanes);
        const std::string shader = reducing("matvec_q8_moe_" + typeSuffix(w.type()));
        for (size_t c = 0; c < w.chunks().size(); ++c) {
            const auto& chunk = w.chunks()[c];
            struct {
                uint32_t K, rows, rowBytes, qOffset, qStride, yOffset, yStride, rowBase;
                float softcap;
                uint32_t groupsX, dOffset, dStride, expertFirst, expertCount, xDiv, idsOffset;
            } push{K,
                   rowsPerExpert,
                   u32(w.rowBytes(), "row bytes"),
                   bq.offset,
                   K / 4,
                   by.offset,
                   yStride,
                   0,
                   0.0f,
                   0,
                   bd.offset,
                   K / 32,
                   u32(chunk.firstRow / rowsPerExpert, "expert"),
                   u32(chunk.rows / rowsPerExpert, "experts"),
                   sharedInput ? k : 1,
                   bi.offset};
            const uint32_t groups = ceilDiv(rowsPerExpert, rowsPerGroup);
            const uint32_t gx = std::min<uint32_t>(groups, 65535);
            push.groupsX = gx;
            rec.dispatch(make(
                shader, {lanes, rowsPerGroup},
                {reads(w.chunkRange(c)), reads(bq.range), writes(by.range), reads(bd.range), reads(bi.range)},
                push, gx, slots, ceilDiv(groups, gx)));
        }
        return;
    }
    // matvec_rows.comp (MOE) takes the same push constants: its `columns` field is expertFirst.
    const std::string shader = rowPerInvocation_ ? rowKernel("matvec_rows_moe_", w.type())
                                                 : reducing("matvec_moe_" + typeSuffix(w.type()));
    const uint32_t rowsPerGroup = rowPerInvocation_ ? tuning_.matvecWorkgroup : tuning_.matvecRows;
    for (size_t c = 0; c < w.chunks().size(); ++c) {
        const auto& chunk = w.chunks()[c];
        struct {
            uint32_t K, rows, rowBytes, xOffset, xStride, yOffset, yStride, rowBase;
            float softcap;
            uint32_t groupsX, expertFirst, expertCount, xDiv, idsOffset;
        } push{K,
               rowsPerExpert,
               u32(w.rowBytes(), "row bytes"),
               bx.offset,
               xStride,
               by.offset,
               yStride,
               0,
               0.0f,
               0,
               u32(chunk.firstRow / rowsPerExpert, "expert"),
               u32(chunk.rows / rowsPerExpert, "experts"),
               sharedInput ? k : 1,
               bi.offset};
        const uint32_t groups = ceilDiv(rowsPerExpert, rowsPerGroup);
        const uint32_t gx = std::min<uint32_t>(groups, 65535);
        push.groupsX = gx;
        rec.dispatch(make(shader, {tuning_.matvecWorkgroup, rowPerInvocation_ ? 1u : rowsPerGroup},
                          {reads(w.chunkRange(c)), reads(bx.range), writes(by.range), reads(bi.range)}, push,
                          gx, slots, ceilDiv(groups, gx)));
    }
}

void Kernels::rmsNorm(Recorder& rec, const RmsNormArgs& a) {
    const Device& dev = pipelines_.device();
    const uint32_t xStride = a.xStride ? a.xStride : a.n;
    const uint32_t oStride = a.outStride ? a.outStride : a.n;
    const uint32_t rStride = a.residualStride ? a.residualStride : a.n;
    const Bound bx = bind(dev, a.x, extent(a.rows, xStride, a.n));
    const Bound bo = bind(dev, a.out, extent(a.rows, oStride, a.n));
    Bound bw, br;
    if (a.weight) bw = bind(dev, *a.weight, a.n);
    if (a.residual) br = bind(dev, *a.residual, extent(a.rows, rStride, a.n));
    struct {
        uint32_t n, xOffset, xStride, wOffset, rOffset, rStride, oOffset, oStride;
        float eps, scale;
        uint32_t hasWeight, hasResidual;
    } push{a.n,       bx.offset, xStride, bw.offset, br.offset,          rStride,
           bo.offset, oStride,   a.eps,   a.scale,   a.weight ? 1u : 0u, a.residual ? 1u : 0u};
    // In place (out == x): one read-write binding for the tracker; the shader still sees two.
    const bool inPlace = bx.range.buffer == bo.range.buffer && bx.range.offset == bo.range.offset;
    std::vector<Binding> bindings{inPlace ? readsWrites(bx.range) : reads(bx.range), reads(bw.range),
                                  reads(br.range), inPlace ? readsWrites(bo.range) : writes(bo.range)};
    const uint32_t gx = std::min<uint32_t>(a.rows, 65535);
    rec.dispatch(make(reducing("rmsnorm"), {kRowWorkgroup}, bindings, push, gx, ceilDiv(a.rows, gx)));
}

void Kernels::rope(Recorder& rec, View x, uint32_t headDim, uint32_t heads, uint32_t tokens, uint32_t pos0,
                   float base, std::optional<View> freqFactors, uint32_t tokenStride) {
    if (headDim % 2) throw VulkanError("RoPE needs an even head dimension");
    const Device& dev = pipelines_.device();
    if (!tokenStride) tokenStride = heads * headDim;
    const Bound bx = bind(dev, x, extent(tokens, tokenStride, heads * headDim));
    Bound bf;
    if (freqFactors) bf = bind(dev, *freqFactors, headDim / 2);
    const Buffer& table = ropeTable(base, headDim);
    struct {
        uint32_t headDim, heads, offset, tokenStride, headStride, pos0, freqOffset, hasFreqFactors, ffOffset;
    } push{headDim, heads, bx.offset, tokenStride, headDim, pos0, 0, freqFactors ? 1u : 0u, bf.offset};
    rec.dispatch(make("rope", {kElementwiseWorkgroup},
                      {readsWrites(bx.range), reads(bf.range), reads(whole(table))}, push,
                      ceilDiv(uint64_t(heads) * headDim / 2, kElementwiseWorkgroup), tokens));
}

void Kernels::headNorm(Recorder& rec, const HeadNormArgs& a) {
    if (a.headDim == 0 || a.headDim % 4)
        throw VulkanError("headNorm needs a head dimension that is a multiple of 4");
    if (a.heads == 0 || a.tokens == 0) throw VulkanError("headNorm: no heads or no tokens");
    if (a.heads > 65535 || a.tokens > 65535)
        throw VulkanError("headNorm handles at most 65535 heads and tokens");
    if (a.cache && a.tokens > a.capacity) throw VulkanError("more new tokens than KV cache slots");
    const Device& dev = pipelines_.device();
    const uint32_t rowFloats = a.heads * a.headDim;
    const uint32_t tokenStride = a.tokenStride ? a.tokenStride : rowFloats;
    const Bound bx = bind(dev, a.x, extent(a.tokens, tokenStride, rowFloats));
    Bound bw, bf, bc;
    if (a.weight) bw = bind(dev, *a.weight, a.headDim);
    if (a.rope && a.freqFactors) bf = bind(dev, *a.freqFactors, a.headDim / 2);
    if (a.cache) bc = bind(dev, *a.cache, uint64_t(a.capacity) * (a.cacheF16 ? rowFloats / 2 : rowFloats));
    BufferRange table;
    if (a.rope) table = whole(ropeTable(a.ropeBase, a.headDim));
    struct {
        uint32_t headDim, heads, xOffset, tokenStride;
        float eps;
        uint32_t hasWeight, wOffset, rope, pos0, hasFreqFactors, ffOffset, store, cacheOffset, capacity;
    } push{a.headDim, a.heads,
           bx.offset, tokenStride,
           a.eps,     a.weight ? 1u : 0u,
           bw.offset, a.rope ? 1u : 0u,
           a.pos0,    a.rope && a.freqFactors ? 1u : 0u,
           bf.offset, a.cache ? 1u : 0u,
           bc.offset, a.capacity};
    const std::string shader = reducing(a.cache && a.cacheF16 ? "head_norm_f16" : "head_norm");
    rec.dispatch(make(shader, {kElementwiseWorkgroup},
                      {a.cache ? reads(bx.range) : readsWrites(bx.range), reads(bw.range), reads(bf.range),
                       reads(table), writes(bc.range)},
                      push, a.heads, a.tokens));
}

void Kernels::rope2d(Recorder& rec, View x, uint32_t headDim, uint32_t heads, uint32_t tokens, uint32_t gridX,
                     float base, uint32_t tokenStride) {
    if (headDim % 4) throw VulkanError("2-D RoPE needs a head dimension that is a multiple of 4");
    if (gridX == 0) throw VulkanError("2-D RoPE needs a grid width");
    if (tokens > 65535) throw VulkanError("2-D RoPE handles at most 65535 tokens per call");
    if (!tokenStride) tokenStride = heads * headDim;
    const Bound bx = bind(pipelines_.device(), x, extent(tokens, tokenStride, heads * headDim));
    // The table of a half-size head is exactly base^(-2i / (headDim/2)).
    const Buffer& table = ropeTable(base, headDim / 2);
    struct {
        uint32_t headDim, heads, offset, tokenStride, gridX;
    } push{headDim, heads, bx.offset, tokenStride, gridX};
    rec.dispatch(make("rope_2d", {kElementwiseWorkgroup}, {readsWrites(bx.range), reads(whole(table))}, push,
                      ceilDiv(uint64_t(heads) * headDim / 2, kElementwiseWorkgroup), tokens));
}

void Kernels::pool2d(Recorder& rec, View x, View out, uint32_t n, uint32_t gridX, uint32_t gridY,
                     uint32_t kernel, float scale, std::optional<View> bias, std::optional<View> stdScale) {
    if (kernel == 0 || gridX % kernel || gridY % kernel)
        throw VulkanError("pool2d: the grid is not a whole number of pooling windows");
    if (bias.has_value() != stdScale.has_value())
        throw VulkanError("pool2d: standardize needs bias and scale");
    const Device& dev = pipelines_.device();
    const uint32_t pooled = (gridX / kernel) * (gridY / kernel);
    if (pooled > 65535) throw VulkanError("pool2d handles at most 65535 pooled rows per call");
    const Bound bx = bind(dev, x, uint64_t(gridX) * gridY * n);
    const Bound bo = bind(dev, out, uint64_t(pooled) * n);
    Bound bb, bs;
    if (bias) {
        bb = bind(dev, *bias, n);
        bs = bind(dev, *stdScale, n);
    }
    struct {
        uint32_t n, gridX, kernel, xOffset, oOffset;
        float scale;
        uint32_t standardize, biasOffset, stdScaleOffset;
    } push{n, gridX, kernel, bx.offset, bo.offset, scale, bias ? 1u : 0u, bb.offset, bs.offset};
    rec.dispatch(make("pool_2d", {kElementwiseWorkgroup},
                      {reads(bx.range), writes(bo.range), reads(bb.range), reads(bs.range)}, push,
                      ceilDiv(n, kElementwiseWorkgroup), pooled));
}

void Kernels::encoderAttention(Recorder& rec, const EncoderAttentionArgs& a) {
    if (a.headDim == 0 || a.headDim > 256) throw VulkanError("encoder attention: head dim must be 1..256");
    if (a.tokens == 0 || a.heads == 0) throw VulkanError("encoder attention: no tokens or no heads");
    const Device& dev = pipelines_.device();
    const uint32_t row = a.heads * a.headDim;
    const uint32_t qStride = a.qStride ? a.qStride : row, kStride = a.kStride ? a.kStride : row,
                   vStride = a.vStride ? a.vStride : row, oStride = a.outStride ? a.outStride : row;
    const Bound bq = bind(dev, a.q, extent(a.tokens, qStride, row));
    const Bound bk = bind(dev, a.k, extent(a.tokens, kStride, row));
    const Bound bv = bind(dev, a.v, extent(a.tokens, vStride, row));
    const Bound bo = bind(dev, a.out, extent(a.tokens, oStride, row));
    struct {
        uint32_t tokens, qOffset, qStride, kOffset, kStride, vOffset, vStride, oOffset, oStride;
        float scale;
    } push{a.tokens, bq.offset, qStride, bk.offset, kStride, bv.offset, vStride, bo.offset, oStride, a.scale};
    rec.dispatch(make("attention_encoder", {kElementwiseWorkgroup, a.headDim},
                      {reads(bq.range), reads(bk.range), reads(bv.range), writes(bo.range)}, push,
                      ceilDiv(a.tokens, kElementwiseWorkgroup), a.heads));
}

const Buffer& Kernels::ropeTable(float base, uint32_t headDim) {
    auto key = std::make_pair(base, headDim);
    if (auto it = ropeTables_.find(key); it != ropeTables_.end()) return *it->second;
    std::vector<float> freq(headDim / 2);
    for (uint32_t i = 0; i < headDim / 2; ++i)
        freq[i] = static_cast<float>(std::pow(double(base), -2.0 * i / double(headDim)));
    auto buffer = std::make_unique<Buffer>(pipelines_.device(), freq.size() * 4);
    upload(pipelines_.device(), *buffer, 0, freq.data(), freq.size() * 4);
    return *ropeTables_.emplace(key, std::move(buffer)).first->second;
}

void Kernels::geglu(Recorder& rec, View gate, View up, View out, uint32_t n, uint32_t rows,
                    uint32_t gateStride, uint32_t upStride, uint32_t outStride) {
    gatedActivation(rec, 0, gate, up, out, n, rows, gateStride, upStride, outStride);
}

void Kernels::sigmoidGlu(Recorder& rec, View gate, View up, View out, uint32_t n, uint32_t rows,
                         uint32_t gateStride, uint32_t upStride, uint32_t outStride) {
    gatedActivation(rec, 1, gate, up, out, n, rows, gateStride, upStride, outStride);
}

void Kernels::geluQuickGlu(Recorder& rec, View gate, View up, View out, uint32_t n, uint32_t rows,
                           uint32_t gateStride, uint32_t upStride, uint32_t outStride) {
    gatedActivation(rec, 2, gate, up, out, n, rows, gateStride, upStride, outStride);
}

void Kernels::gatedActivation(Recorder& rec, uint32_t activation, View gate, View up, View out, uint32_t n,
                              uint32_t rows, uint32_t gateStride, uint32_t upStride, uint32_t outStride) {
    const Device& dev = pipelines_.device();
    if (!gateStride) gateStride = n;
    if (!upStride) upStride = n;
    if (!outStride) outStride = n;
    const Bound bg = bind(dev, gate, extent(rows, gateStride, n));
    const Bound bu = bind(dev, up, extent(rows, upStride, n));
    const Bound bo = bind(dev, out, extent(rows, outStride, n));
    struct {
        uint32_t n, gOffset, gStride, uOffset, uStride, oOffset, oStride;
    } push{n, bg.offset, gateStride, bu.offset, upStride, bo.offset, outStride};
    rec.dispatch(make("geglu", {kElementwiseWorkgroup, activation},
                      {reads(bg.range), reads(bu.range), writes(bo.range)}, push,
                      ceilDiv(n, kElementwiseWorkgroup), rows));
}

void Kernels::softmax(Recorder& rec, View x, uint32_t n, uint32_t rows, uint32_t stride, float scale) {
    if (!stride) stride = n;
    const Bound bx = bind(pipelines_.device(), x, extent(rows, stride, n));
    struct {
        uint32_t n, offset, stride;
        float scale;
    } push{n, bx.offset, stride, scale};
    rec.dispatch(make(reducing("softmax"), {kRowWorkgroup}, {readsWrites(bx.range)}, push, rows));
}

void Kernels::softcap(Recorder& rec, View x, uint32_t n, float cap) {
    const Bound bx = bind(pipelines_.device(), x, n);
    struct {
        uint32_t n, offset;
        float cap;
    } push{n, bx.offset, cap};
    const uint32_t groups = ceilDiv(n, kElementwiseWorkgroup);
    const uint32_t gx = std::min<uint32_t>(groups, 65535);
    rec.dispatch(
        make("softcap", {kElementwiseWorkgroup}, {readsWrites(bx.range)}, push, gx, ceilDiv(groups, gx)));
}

void Kernels::kvStore(Recorder& rec, View src, View cache, uint32_t rowFloats, uint32_t tokens, uint32_t pos0,
                      uint32_t capacity, uint32_t srcStride, bool f16) {
    if (tokens > capacity) throw VulkanError("more new tokens than KV cache slots");
    if (f16 && rowFloats % 2) throw VulkanError("an f16 KV cache needs rows of an even length");
    const Device& dev = pipelines_.device();
    if (!srcStride) srcStride = rowFloats;
    const uint32_t rowElements = f16 ? rowFloats / 2 : rowFloats;
    const Bound bs = bind(dev, src, extent(tokens, srcStride, rowFloats));
    const Bound bc = bind(dev, cache, uint64_t(capacity) * rowElements);
    struct {
        uint32_t rowFloats, srcOffset, srcStride, cacheOffset, capacity, pos0;
    } push{rowFloats, bs.offset, srcStride, bc.offset, capacity, pos0};
    rec.dispatch(make(f16 ? "kv_store_f16" : "kv_store", {kElementwiseWorkgroup},
                      {reads(bs.range), writes(bc.range)}, push, ceilDiv(rowElements, kElementwiseWorkgroup),
                      tokens));
}

uint32_t Kernels::attentionSplits(const AttentionArgs& a) const {
    if (a.splits) return a.splits;
    if (a.tokens > 1 || !a.scratch) return 1;
    const uint32_t pos = a.pos0;
    const uint32_t lo = (a.window && pos + 1 > a.window) ? pos + 1 - a.window : 0;
    const uint32_t length = pos - lo + 1;
    return std::clamp<uint32_t>(ceilDiv(length, tuning_.attentionMinPerSplit), 1, tuning_.attentionMaxSplits);
}

uint64_t Kernels::attentionScratchElements(uint32_t heads, uint32_t headDim, uint32_t splits,
                                           uint32_t tokens) {
    return uint64_t(tokens) * heads * splits * (headDim + 2);
}

void Kernels::attention(Recorder& rec, const AttentionArgs& a) {
    const Device& dev = pipelines_.device();
    if (a.kvHeads == 0 || a.heads % a.kvHeads)
        throw VulkanError("attention: heads must be a multiple of kvHeads");
    if (a.headDim == 0 || a.headDim > 512) throw VulkanError("attention: head dim must be 1..512");
    if (a.capacity < a.tokens) throw VulkanError("attention: the cache is smaller than the query batch");
    if (a.kvF16 && a.headDim % 2) throw VulkanError("attention: an f16 KV cache needs an even head dim");
    const uint32_t qStride = a.qTokenStride ? a.qTokenStride : a.heads * a.headDim;
    const uint32_t oStride = a.outTokenStride ? a.outTokenStride : a.heads * a.headDim;
    const uint32_t kvRow = a.kvHeads * a.headDim;
    const bool span = a.spanEnd > a.spanBegin;
    if (span && (a.spanBegin < a.pos0 || a.spanEnd > a.pos0 + a.tokens))
        throw VulkanError("attention: a bidirectional span must lie within the query batch");
    const uint32_t splits = span ? 1 : attentionSplits(a);
    if (splits > 1 && !a.scratch) throw VulkanError("attention with splits needs a scratch view");
    // The longest key range (the last token's) decides the split length; shorter ones leave pieces
    // empty. With a span, earlier tokens may reach further from their window start: one piece
    // covering every position.
    const uint32_t lastPos = a.pos0 + a.tokens - 1;
    const uint32_t lo = (a.window && lastPos + 1 > a.window) ? lastPos + 1 - a.window : 0;
    const uint32_t splitLen = span ? lastPos + 1 : ceilDiv(lastPos - lo + 1, splits);
    const uint32_t WG = 64;
    const uint32_t maxD = a.headDim <= 256 ? 256 : 512;

    const Bound bq = bind(dev, a.q, extent(a.tokens, qStride, a.heads * a.headDim));
    const uint64_t cacheElements = uint64_t(a.capacity) * (a.kvF16 ? kvRow / 2 : kvRow);
    const Bound bk = bind(dev, a.kCache, cacheElements);
    const Bound bv = bind(dev, a.vCache, cacheElements);
    const std::string shader = reducing(a.kvF16 ? "attention_f16" : "attention");
    const Bound bo = bind(dev, a.out, extent(a.tokens, oStride, a.heads * a.headDim));
    Bound partial, stats;
    if (splits > 1) {
        const uint64_t pieces = uint64_t(a.tokens) * a.heads * splits;
        partial = bind(dev, *a.scratch, pieces * a.headDim);
        stats = bind(dev, View{a.scratch->buffer, a.scratch->offset + pieces * a.headDim}, pieces * 2);
    }
    struct {
        uint32_t headDim, heads, kvHeads, capacity, pos0, window, qOffset, qTokenStride, kOffset, vOffset,
            kvRowFloats, splitLen, splits, oOffset, oTokenStride;
        float scale;
        uint32_t statsOffset, spanBegin, spanEnd;
    } push{a.headDim,
           a.heads,
           a.kvHeads,
           a.capacity,
           a.pos0,
           a.window,
           bq.offset,
           qStride,
           bk.offset,
           bv.offset,
           kvRow,
           splitLen,
           splits,
           bo.offset,
           oStride,
           a.scale,
           0,
           span ? a.spanBegin : 0u,
           span ? a.spanEnd : 0u};
    if (splits == 1) {
        rec.dispatch(make(shader, {WG, maxD},
                          {reads(bq.range), reads(bk.range), reads(bv.range), writes(bo.range), {}}, push,
                          a.heads, 1, a.tokens));
        return;
    }
    push.oOffset = partial.offset;
    push.statsOffset = stats.offset;
    rec.dispatch(
        make(shader, {WG, maxD},
             {reads(bq.range), reads(bk.range), reads(bv.range), writes(partial.range), writes(stats.range)},
             push, a.heads, splits, a.tokens));
    struct {
        uint32_t headDim, heads, splits, oOffset, oTokenStride, partOffset, statsOffset;
    } combine{a.headDim, a.heads, splits, bo.offset, oStride, partial.offset, stats.offset};
    rec.dispatch(make("attention_combine", {WG}, {reads(partial.range), reads(stats.range), writes(bo.range)},
                      combine, a.heads, a.tokens));
}

void Kernels::gather(Recorder& rec, const WeightTensor& table, View ids, View out, uint32_t tokens,
                     float scale, uint32_t outStride) {
    const Device& dev = pipelines_.device();
    const uint32_t K = u32(table.cols(), "row length");
    if (!outStride) outStride = K;
    const Bound bi = bind(dev, ids, tokens);
    const Bound bo = bind(dev, out, extent(tokens, outStride, K));
    const std::string shader = "gather_" + typeSuffix(table.type());
    for (size_t c = 0; c < table.chunks().size(); ++c) {
        const auto& chunk = table.chunks()[c];
        struct {
            uint32_t K, rowBytes, firstRow, rows, oOffset, oStride;
            float scale;
            uint32_t idsOffset;
        } push{K,
               u32(table.rowBytes(), "row bytes"),
               u32(chunk.firstRow, "row"),
               u32(chunk.rows, "rows"),
               bo.offset,
               outStride,
               scale,
               bi.offset};
        rec.dispatch(make(shader, {kElementwiseWorkgroup},
                          {reads(table.chunkRange(c)), reads(bi.range), writes(bo.range)}, push, tokens));
    }
}

void Kernels::moeRoute(Recorder& rec, View logits, View ids, View weights, uint32_t experts, uint32_t k,
                       uint32_t tokens, uint32_t logitStride) {
    if (experts > 256) throw VulkanError("moeRoute supports up to 256 experts");
    if (k == 0 || k > experts) throw VulkanError("moeRoute: top-k must be 1..experts");
    const Device& dev = pipelines_.device();
    if (!logitStride) logitStride = experts;
    const Bound bl = bind(dev, logits, extent(tokens, logitStride, experts));
    const Bound bi = bind(dev, ids, uint64_t(tokens) * k);
    const Bound bw = bind(dev, weights, uint64_t(tokens) * k);
    struct {
        uint32_t experts, k, logitOffset, logitStride, idsOffset, weightsOffset;
    } push{experts, k, bl.offset, logitStride, bi.offset, bw.offset};
    rec.dispatch(make(reducing("moe_route"), {kElementwiseWorkgroup, 256},
                      {reads(bl.range), writes(bi.range), writes(bw.range)}, push, tokens));
}

void Kernels::moeCombine(Recorder& rec, View y, View ids, View weights, std::optional<View> expertScale,
                         View out, uint32_t n, uint32_t k, uint32_t tokens, bool accumulate, uint32_t yStride,
                         uint32_t outStride) {
    const Device& dev = pipelines_.device();
    if (!yStride) yStride = n;
    if (!outStride) outStride = n;
    const uint32_t slots = tokens * k;
    const Bound by = bind(dev, y, extent(slots, yStride, n));
    const Bound bi = bind(dev, ids, slots);
    const Bound bw = bind(dev, weights, slots);
    const Bound bo = bind(dev, out, extent(tokens, outStride, n));
    Bound be;
    if (expertScale) be = bind(dev, *expertScale, 1); // indexed by expert id; bound from its start
    // Indexed by expert id: bind from the view's start to the end of the buffer.
    if (expertScale)
        be.range.bytes = std::min<uint64_t>(expertScale->buffer->size() - be.range.offset,
                                            dev.features().maxStorageBufferRange);
    struct {
        uint32_t n, k, yOffset, yStride, oOffset, oStride, hasExpertScale, accumulate, idsOffset,
            weightsOffset, scaleOffset;
    } push{n,
           k,
           by.offset,
           yStride,
           bo.offset,
           outStride,
           expertScale ? 1u : 0u,
           accumulate ? 1u : 0u,
           bi.offset,
           bw.offset,
           be.offset};
    rec.dispatch(make("moe_combine", {kElementwiseWorkgroup},
                      {reads(by.range), reads(bi.range), reads(bw.range), reads(be.range),
                       accumulate ? readsWrites(bo.range) : writes(bo.range)},
                      push, ceilDiv(n, kElementwiseWorkgroup), tokens));
}

namespace {

// elementwise.comp's operations (specialization constant 1).
enum class Elementwise : uint32_t { Clamp = 0, Silu = 1, Add = 2 };

} // namespace

void Kernels::elementwise(Recorder& rec, uint32_t op, View x, std::optional<View> y, View out, uint64_t count,
                          float lo, float hi, float scale, bool broadcast, uint32_t n) {
    const Device& dev = pipelines_.device();
    const Bound bx = bind(dev, x, count);
    const Bound bo = bind(dev, out, count);
    Bound by;
    if (y) by = bind(dev, *y, broadcast ? n : count);
    struct {
        uint32_t count, n, xOffset, yOffset, oOffset;
        float lo, hi, scale;
        uint32_t broadcast;
    } push{u32(count, "element count"), n, bx.offset, by.offset, bo.offset, lo, hi, scale,
           broadcast ? 1u : 0u};
    const bool inPlace = bx.range.buffer == bo.range.buffer && bx.range.offset == bo.range.offset;
    const uint32_t groups = ceilDiv(count, kElementwiseWorkgroup);
    const uint32_t gx = std::min<uint32_t>(groups, 65535);
    rec.dispatch(make("elementwise", {kElementwiseWorkgroup, op},
                      {inPlace ? readsWrites(bx.range) : reads(bx.range), reads(by.range),
                       inPlace ? readsWrites(bo.range) : writes(bo.range)},
                      push, gx, ceilDiv(groups, gx)));
}

void Kernels::clamp(Recorder& rec, View x, View out, uint64_t count, float lo, float hi) {
    elementwise(rec, uint32_t(Elementwise::Clamp), x, std::nullopt, out, count, lo, hi, 1.0f, false, 0);
}

void Kernels::silu(Recorder& rec, View x, View out, uint64_t count) {
    elementwise(rec, uint32_t(Elementwise::Silu), x, std::nullopt, out, count, 0.0f, 0.0f, 1.0f, false, 0);
}

void Kernels::add(Recorder& rec, View x, View y, View out, uint64_t count, float yScale, bool broadcast,
                  uint32_t n) {
    if (broadcast && (n == 0 || count % n))
        throw VulkanError("add: a broadcast row must divide the element count");
    elementwise(rec, uint32_t(Elementwise::Add), x, y, out, count, 0.0f, 0.0f, yScale, broadcast, n);
}

void Kernels::depthwiseConvCausal(Recorder& rec, View x, View weight, View out, uint32_t channels,
                                  uint32_t taps, uint32_t tokens) {
    const Device& dev = pipelines_.device();
    const Bound bx = bind(dev, x, uint64_t(tokens) * channels);
    const Bound bw = bind(dev, weight, uint64_t(channels) * taps);
    const Bound bo = bind(dev, out, uint64_t(tokens) * channels);
    struct {
        uint32_t channels, taps, xOffset, xStride, wOffset, oOffset, oStride;
    } push{channels, taps, bx.offset, channels, bw.offset, bo.offset, channels};
    const uint32_t gy = std::min<uint32_t>(tokens, 65535);
    rec.dispatch(make("depthwise_conv", {kElementwiseWorkgroup},
                      {reads(bx.range), reads(bw.range), writes(bo.range)}, push,
                      ceilDiv(channels, kElementwiseWorkgroup), gy, ceilDiv(tokens, gy)));
}

void Kernels::convSubsample(Recorder& rec, View x, View kernel, View norm, View out, uint32_t times,
                            uint32_t bins, uint32_t inChannels, uint32_t outChannels, float eps) {
    constexpr uint32_t kMaxChannels = 512; // conv_subsample.comp's shared accumulator
    if (outChannels == 0 || outChannels > kMaxChannels)
        throw VulkanError("convSubsample: 1.." + std::to_string(kMaxChannels) + " output channels");
    const Device& dev = pipelines_.device();
    const uint32_t outTimes = (times - 1) / 2 + 1, outBins = (bins - 1) / 2 + 1;
    const Bound bx = bind(dev, x, uint64_t(times) * bins * inChannels);
    const Bound bk = bind(dev, kernel, uint64_t(9) * outChannels * inChannels);
    const Bound bn = bind(dev, norm, outChannels);
    const Bound bo = bind(dev, out, uint64_t(outTimes) * outBins * outChannels);
    struct {
        uint32_t times, bins, inChannels, outChannels, outBins, xOffset, kOffset, nOffset, oOffset;
        float eps;
    } push{times, bins, inChannels, outChannels, outBins, bx.offset, bk.offset, bn.offset, bo.offset, eps};
    const uint32_t gy = std::min<uint32_t>(outTimes, 65535);
    rec.dispatch(make(reducing("conv_subsample"), {kElementwiseWorkgroup, kMaxChannels},
                      {reads(bx.range), reads(bk.range), reads(bn.range), writes(bo.range)}, push, outBins,
                      gy, ceilDiv(outTimes, gy)));
}

void Kernels::localAttention(Recorder& rec, const LocalAttentionArgs& a) {
    if (a.keys == 0 || a.keys > 64) throw VulkanError("localAttention: 1..64 keys per query");
    const Device& dev = pipelines_.device();
    const uint32_t stride = a.heads * a.headDim;
    const uint64_t count = uint64_t(a.tokens) * stride;
    const Bound bq = bind(dev, a.q, count);
    const Bound bk = bind(dev, a.k, count);
    const Bound bv = bind(dev, a.v, count);
    const Bound br = bind(dev, a.rel, uint64_t(a.keys + 1) * stride);
    const Bound bd = bind(dev, a.perDimScale, a.headDim);
    const Bound bo = bind(dev, a.out, count);
    struct {
        uint32_t tokens, heads, headDim, stride, qOffset, kOffset, vOffset, rOffset, dOffset, oOffset;
        float queryScale, keyScale, softcap;
    } push{a.tokens,  a.heads,   a.headDim, stride,       bq.offset,  bk.offset, bv.offset,
           br.offset, bd.offset, bo.offset, a.queryScale, a.keyScale, a.softcap};
    const uint32_t groups = ceilDiv(uint64_t(a.tokens) * a.heads, kElementwiseWorkgroup);
    const uint32_t gx = std::min<uint32_t>(groups, 65535);
    rec.dispatch(make("local_attention", {kElementwiseWorkgroup, a.keys},
                      {reads(bq.range), reads(bk.range), reads(bv.range), reads(br.range), reads(bd.range),
                       writes(bo.range)},
                      push, gx, ceilDiv(groups, gx)));
}

void Kernels::readAll(Recorder& rec, const Buffer& source, const Buffer& sink, uint32_t workgroups) {
    const uint64_t bytes =
        std::min<uint64_t>(source.size(), pipelines_.device().features().maxStorageBufferRange);
    struct {
        uint32_t words;
    } push{u32(bytes / 16, "words")};
    rec.dispatch(make("bandwidth", {256}, {reads({source.handle(), 0, bytes / 16 * 16}), writes(whole(sink))},
                      push, workgroups));
}

} // namespace ocelle::vulkan
