#version 450
// Matrix-vector product with one row per invocation, for CPU-type Vulkan devices (lavapipe): there
// the invocations of a workgroup are SIMD lanes of one CPU thread, so a cross-lane reduction
// (barriers, shared memory) costs more than it saves, while the activations every lane reads at the
// same address are loaded once for all lanes. Same push constants and results as matvec.comp
// (with MOE: the expert matvec, COLS = 1, columns = expert slots). GPUs use matvec.comp, whose
// lanes read consecutive weights of one row.
// With COLS > 1 it is the prefill kernel for these devices: each decoded weight unit is used for
// COLS tokens (grid y = token blocks), which is what makes batched prompts cheaper than decode.
#include "common.glsl"

layout(binding = 0) readonly buffer Weights { uint wdata[]; };
layout(binding = 1) readonly buffer Input { float xs[]; };
layout(binding = 2) writeonly buffer Output { float ys[]; };
#ifdef MOE
layout(binding = 3) readonly buffer Ids { uint ids[]; };
#endif

#include "weights.glsl"

layout(constant_id = 1) const uint COLS = 1;

layout(push_constant) uniform Push {
    uint K;
    uint rows;
    uint rowBytes;
    uint xOffset;
    uint xStride;
    uint yOffset;
    uint yStride;
    uint rowBase;
    float softcap;
    uint groupsX;
    uint columns; // total columns (tokens); this workgroup does [y * COLS, y * COLS + COLS)
#ifdef MOE
    uint expertCount; // experts in this chunk, the first being `columns` (MOE reuses that field)
    uint xDiv;
    uint idsOffset;
#endif
} p;

void main() {
    const uint group = gl_WorkGroupID.x + gl_WorkGroupID.z * p.groupsX;
    const uint col0 = gl_WorkGroupID.y * COLS;
    const uint row = group * WG + gl_LocalInvocationID.x;
    if (row >= p.rows) return;
#ifdef MOE
    const uint slot = gl_WorkGroupID.y;
    const uint expert = ids[p.idsOffset + slot];
    const uint expertFirst = p.columns;
    if (expert < expertFirst || expert >= expertFirst + p.expertCount) return;
    const uint rowOff = ((expert - expertFirst) * p.rows + row) * p.rowBytes;
    const uint xBase = p.xOffset + (slot / p.xDiv) * p.xStride;
    const uint units = (p.K + 31u) / 32u;
    float acc = 0.0;
    for (uint u = 0u; u < units; ++u) {
        float w[32];
        dequantUnit(rowOff, u, p.K, w);
        [[unroll]] for (uint i = 0u; i < 32u; ++i) acc = fma(w[i], xs[xBase + u * 32u + i], acc);
    }
    ys[p.yOffset + slot * p.yStride + row] = acc;
#else
    const uint rowOff = row * p.rowBytes;
    const uint units = (p.K + 31u) / 32u;
    float acc[COLS];
    [[unroll]] for (uint c = 0u; c < COLS; ++c) acc[c] = 0.0;
    for (uint u = 0u; u < units; ++u) {
        float w[32];
        dequantUnit(rowOff, u, p.K, w);
        [[unroll]] for (uint c = 0u; c < COLS; ++c) {
            if (col0 + c < p.columns) { // uniform across the workgroup
                const uint xBase = p.xOffset + (col0 + c) * p.xStride + u * 32u;
                float s = 0.0;
                [[unroll]] for (uint i = 0u; i < 32u; ++i)
                    s = fma(w[i], u * 32u + i < p.K ? xs[xBase + i] : 0.0, s);
                acc[c] += s;
            }
        }
    }
    [[unroll]] for (uint c = 0u; c < COLS; ++c) {
        if (col0 + c < p.columns) {
            float v = acc[c];
            if (p.softcap > 0.0) v = p.softcap * stableTanh(v / p.softcap);
            ys[p.yOffset + (col0 + c) * p.yStride + p.rowBase + row] = v;
        }
    }
#endif
}
