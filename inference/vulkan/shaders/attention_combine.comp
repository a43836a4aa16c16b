#version 450
// Combines the split pieces of attention.comp: with M the largest piece max,
// out = sum_s o_s exp(m_s - M) / sum_s l_s exp(m_s - M). Workgroup (head, token).
#include "common.glsl"

layout(binding = 0) readonly buffer Partial { float parts[]; };
layout(binding = 1) readonly buffer Stats { float stats[]; };
layout(binding = 2) writeonly buffer Output { float os[]; };

layout(push_constant) uniform Push {
    uint headDim;
    uint heads;
    uint splits;
    uint oOffset;
    uint oTokenStride;
    uint partOffset;
    uint statsOffset;
} p;

void main() {
    const uint head = gl_WorkGroupID.x;
    const uint token = gl_WorkGroupID.y;
    const uint first = (token * p.heads + head) * p.splits;
    float M = -1.0e30;
    for (uint s = 0u; s < p.splits; ++s) M = max(M, stats[p.statsOffset + (first + s) * 2u]);
    float L = 0.0;
    for (uint s = 0u; s < p.splits; ++s) L += stats[p.statsOffset + (first + s) * 2u + 1u] * exp(stats[p.statsOffset + (first + s) * 2u] - M);
    const float inv = L > 0.0 ? 1.0 / L : 0.0;
    const uint ob = p.oOffset + token * p.oTokenStride + head * p.headDim;
    for (uint d = gl_LocalInvocationID.x; d < p.headDim; d += WG) {
        float acc = 0.0;
        for (uint s = 0u; s < p.splits; ++s)
            acc = fma(parts[p.partOffset + (first + s) * p.headDim + d], exp(stats[p.statsOffset + (first + s) * 2u] - M), acc);
        os[ob + d] = acc * inv;
    }
}
