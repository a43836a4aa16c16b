#version 450
// Matrix-vector product for decode: y[col][row] = W[row] . x[col], the weights dequantized on the
// fly, fp32 accumulation. A workgroup computes ROWS rows; its invocations stride over 32-weight
// units and the partial sums are reduced across the workgroup. The y dimension of the grid is the
// column (a token, or with MOE a token's expert slot). With MOE the weight chunk holds whole
// experts and each column picks its expert from `ids` (on the device: no read-back for routing);
// columns whose expert lives in another chunk return at once.
// NARROW_LOADS: 16/8-bit storage reads of the weights (weights.glsl), for devices that have them.
// GATED: the fused FFN input, gelu_tanh(gate . x) * (up . x) with the gate matrix on binding 0 and the
// up matrix (same type and shape) on binding 3; each decoded x unit serves both, fp32 accumulators.
#include "common.glsl"

layout(constant_id = 1) const uint ROWS = 1;

layout(binding = 0) readonly buffer Weights { uint wdata[]; };
#ifdef NARROW_LOADS
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_8bit_storage : require
layout(binding = 0) readonly buffer Weights16 { float16_t wdata16[]; };
layout(binding = 0) readonly buffer Weights16u { uint16_t wdata16u[]; };
layout(binding = 0) readonly buffer Weights8 { int8_t wdata8[]; };
layout(binding = 0) readonly buffer Weights8u { uint8_t wdata8u[]; };
#endif
layout(binding = 1) readonly buffer Input { float xs[]; };
layout(binding = 2) writeonly buffer Output { float ys[]; };
#ifdef MOE
layout(binding = 3) readonly buffer Ids { uint ids[]; };
#endif
#ifdef GATED
layout(binding = 3) readonly buffer UpWeights { uint wup[]; };
#ifdef NARROW_LOADS
layout(binding = 3) readonly buffer UpWeights16 { float16_t wup16[]; };
layout(binding = 3) readonly buffer UpWeights16u { uint16_t wup16u[]; };
layout(binding = 3) readonly buffer UpWeights8 { int8_t wup8[]; };
layout(binding = 3) readonly buffer UpWeights8u { uint8_t wup8u[]; };
#endif
#endif

#include "weights.glsl"
#ifdef GATED
// The up matrix's reader: dequantUnitUp() on binding 3.
#undef WFN
#undef W32
#undef W16
#undef W16U
#undef W8
#undef W8U
#define WFN(name) name##Up
#define W32 wup
#define W16 wup16
#define W16U wup16u
#define W8 wup8
#define W8U wup8u
#include "weights.glsl"
#endif

layout(push_constant) uniform Push {
    uint K;         // row length
    uint rows;      // rows in this chunk (MOE: rows per expert)
    uint rowBytes;
    uint xOffset;   // in floats
    uint xStride;   // floats between columns of x
    uint yOffset;
    uint yStride;
    uint rowBase;   // first row of this chunk in y
    float softcap;  // 0: none; else y = softcap * tanh(y / softcap) (final logits)
    uint groupsX;   // row groups are folded into x and z when there are more than 65535
    uint expertFirst;
    uint expertCount;
    uint xDiv;      // MOE: columns per x vector (top-k when the experts share their input, else 1)
    uint idsOffset;
} p;

void main() {
    const uint group = gl_WorkGroupID.x + gl_WorkGroupID.z * p.groupsX;
    const uint col = gl_WorkGroupID.y;
    const uint row0 = group * ROWS;
    if (row0 >= p.rows) return; // uniform across the workgroup
#ifdef MOE
    const uint expert = ids[p.idsOffset + col];
    if (expert < p.expertFirst || expert >= p.expertFirst + p.expertCount) return;
    const uint rowOrigin = (expert - p.expertFirst) * p.rows;
    const uint xBase = p.xOffset + (col / p.xDiv) * p.xStride;
#else
    const uint rowOrigin = 0u;
    const uint xBase = p.xOffset + col * p.xStride;
#endif

    float acc[ROWS];
    [[unroll]] for (uint r = 0u; r < ROWS; ++r) acc[r] = 0.0;
#ifdef GATED
    float accUp[ROWS];
    [[unroll]] for (uint r = 0u; r < ROWS; ++r) accUp[r] = 0.0;
#endif

    const uint units = (p.K + 31u) / 32u;
    for (uint u = gl_LocalInvocationID.x; u < units; u += WG) {
        float x[32];
        [[unroll]] for (uint i = 0u; i < 32u; ++i) {
            const uint k = u * 32u + i;
            x[i] = k < p.K ? xs[xBase + k] : 0.0;
        }
        [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
            const uint row = row0 + r;
            if (row < p.rows) {
                float w[32];
                dequantUnit((rowOrigin + row) * p.rowBytes, u, p.K, w);
                float s = 0.0;
                [[unroll]] for (uint i = 0u; i < 32u; ++i) s = fma(w[i], x[i], s);
                acc[r] += s;
#ifdef GATED
                dequantUnitUp((rowOrigin + row) * p.rowBytes, u, p.K, w);
                s = 0.0;
                [[unroll]] for (uint i = 0u; i < 32u; ++i) s = fma(w[i], x[i], s);
                accUp[r] += s;
#endif
            }
        }
    }

    [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
        float s = workgroupSum(acc[r]);
#ifdef GATED
        s = geluTanh(s) * workgroupSum(accUp[r]);
#endif
        const uint row = row0 + r;
        if (gl_LocalInvocationID.x == 0u && row < p.rows) {
            if (p.softcap > 0.0) s = p.softcap * stableTanh(s / p.softcap);
            ys[p.yOffset + col * p.yStride + p.rowBase + row] = s;
        }
    }
}
