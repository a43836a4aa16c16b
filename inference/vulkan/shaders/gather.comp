#version 450
// Embedding gather: out[t] = dequant(E[ids[t]]) * scale for the tokens whose row lives in this
// chunk of the (possibly split) table; tokens of other chunks are left to their chunk's dispatch.
#include "common.glsl"

layout(binding = 0) readonly buffer Weights { uint wdata[]; };
layout(binding = 1) readonly buffer Ids { uint ids[]; };
layout(binding = 2) writeonly buffer Output { float os[]; };

#include "weights.glsl"

layout(push_constant) uniform Push {
    uint K;
    uint rowBytes;
    uint firstRow;   // chunk's first row
    uint rows;       // chunk's rows
    uint oOffset;
    uint oStride;
    float scale;
    uint idsOffset;
} p;

void main() {
    const uint t = gl_WorkGroupID.x;
    const uint id = ids[p.idsOffset + t];
    if (id < p.firstRow || id >= p.firstRow + p.rows) return;
    const uint rowOff = (id - p.firstRow) * p.rowBytes;
    const uint units = (p.K + 31u) / 32u;
    for (uint u = gl_LocalInvocationID.x; u < units; u += WG) {
        float w[32];
        dequantUnit(rowOff, u, p.K, w);
        [[unroll]] for (uint i = 0u; i < 32u; ++i) {
            const uint k = u * 32u + i;
            if (k < p.K) os[p.oOffset + t * p.oStride + k] = w[i] * p.scale;
        }
    }
}
