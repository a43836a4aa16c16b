#version 450
// Integer-dot matrix-vector product for Q4_0 and Q8_0 weights (the quantized-activation mode):
// y[col][row] = sum over 32-value blocks of d_w * d_x * (int32 sum of int8 weight x int8 activation),
// with the activations rounded by quantize_q8.comp. Each block's 32 products are 8 packed 4x8-bit
// signed dot products (OpSDot, SPV_KHR_integer_dot_product, written through GL_EXT_spirv_intrinsics:
// this glslc has no GLSL built-in for it), summed in int32; blocks are summed in fp32.
// With MOE it is the expert matvec (matvec.comp's MOE: each column picks its expert from `ids`).
// The layout is matvec.comp's (for GPUs): a workgroup computes ROWS rows, its lanes stride over the
// blocks of a row (each lane's activation block serves ROWS rows) and the partial sums are reduced
// across the workgroup (subgroup operations with USE_SUBGROUP, shared memory otherwise).
#extension GL_EXT_spirv_intrinsics : require
#include "common.glsl"

layout(constant_id = 1) const uint ROWS = 1;

layout(binding = 0) readonly buffer Weights { uint wdata[]; };
layout(binding = 1) readonly buffer Quants { int xq[]; };
layout(binding = 2) writeonly buffer Output { float ys[]; };
layout(binding = 3) readonly buffer Scales { float xd[]; };
#ifdef MOE
layout(binding = 4) readonly buffer Ids { uint ids[]; };
#endif

#include "weights.glsl"
#include "intdot.glsl"

layout(push_constant) uniform Push {
    uint K;        // row length, a multiple of 32
    uint rows;     // rows in this chunk
    uint rowBytes;
    uint qOffset;  // activation quants, in words
    uint qStride;  // words between columns
    uint yOffset;
    uint yStride;
    uint rowBase;  // first row of this chunk in y
    float softcap; // 0: none
    uint groupsX;
    uint dOffset;  // activation scales, in floats
    uint dStride;
    uint expertFirst; // MOE (as matvec.comp): the chunk's experts, rows = rows per expert
    uint expertCount;
    uint xDiv;        // columns per activation vector
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
    const uint xCol = col / p.xDiv;
#else
    const uint rowOrigin = 0u;
    const uint xCol = col;
#endif
    const uint qBase = p.qOffset + xCol * p.qStride;
    const uint dBase = p.dOffset + xCol * p.dStride;

    float acc[ROWS];
    [[unroll]] for (uint r = 0u; r < ROWS; ++r) acc[r] = 0.0;

    const uint blocks = p.K / 32u;
    for (uint u = gl_LocalInvocationID.x; u < blocks; u += WG) {
        int x[8];
        [[unroll]] for (uint m = 0u; m < 8u; ++m) x[m] = xq[qBase + u * 8u + m];
        const float dx = xd[dBase + u];
        [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
            const uint row = row0 + r;
            if (row < p.rows) {
                int w[8];
                float dw;
                weightBlock((rowOrigin + row) * p.rowBytes, u, w, dw);
                int s = 0;
                [[unroll]] for (uint m = 0u; m < 8u; ++m) s += dot4x8(w[m], x[m], 0);
                acc[r] += float(s) * (dw * dx);
            }
        }
    }

    [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
        float s = workgroupSum(acc[r]);
        const uint row = row0 + r;
        if (gl_LocalInvocationID.x == 0u && row < p.rows) {
            if (p.softcap > 0.0) s = p.softcap * stableTanh(s / p.softcap);
            ys[p.yOffset + col * p.yStride + p.rowBase + row] = s;
        }
    }
}
