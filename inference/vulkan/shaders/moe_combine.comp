#version 450
// Weighted sum of the experts' outputs per token: out[t] (+)= sum_j w[t][j] * s[ids[t][j]] * y[t*k+j],
// with optional per-expert output scales s (Gemma 4: ffn_down_exps.scale).
#include "common.glsl"

layout(binding = 0) readonly buffer ExpertOut { float ys[]; };
layout(binding = 1) readonly buffer Ids { uint ids[]; };
layout(binding = 2) readonly buffer Weights { float ws[]; };
layout(binding = 3) readonly buffer ExpertScale { float es[]; };
layout(binding = 4) buffer Output { float os[]; };

layout(push_constant) uniform Push {
    uint n;
    uint k;
    uint yOffset;
    uint yStride;
    uint oOffset;
    uint oStride;
    uint hasExpertScale;
    uint accumulate;
    uint idsOffset;
    uint weightsOffset;
    uint scaleOffset;
} p;

void main() {
    const uint i = gl_WorkGroupID.x * WG + gl_LocalInvocationID.x;
    const uint token = gl_WorkGroupID.y;
    if (i >= p.n) return;
    float acc = 0.0;
    for (uint j = 0u; j < p.k; ++j) {
        const uint slot = token * p.k + j;
        float w = ws[p.weightsOffset + slot];
        if (p.hasExpertScale != 0u) w *= es[p.scaleOffset + ids[p.idsOffset + slot]];
        acc = fma(w, ys[p.yOffset + slot * p.yStride + i], acc);
    }
    const uint o = p.oOffset + token * p.oStride + i;
    os[o] = p.accumulate != 0u ? os[o] + acc : acc;
}
