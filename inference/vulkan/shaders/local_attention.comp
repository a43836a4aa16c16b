#version 450
// The audio conformer's chunked causal local attention: query t of head h sees keys
// max(0, t - KEYS + 1) .. t. score = qs . (k * keyScale + rel[KEYS - distance]) with
// qs = q * queryScale * perDimScale, softcapped, softmaxed (fp32), then the weighted sum of V.
// rel holds KEYS + 1 rows [distance KEYS .. 0] of the layer's projected relative-position table.
// One invocation per (token, head): a window of KEYS keys is too small to share across lanes.
#include "common.glsl"

layout(constant_id = 1) const uint KEYS = 12;

layout(binding = 0) readonly buffer Q { float qs[]; };
layout(binding = 1) readonly buffer K { float ks[]; };
layout(binding = 2) readonly buffer V { float vs[]; };
layout(binding = 3) readonly buffer Rel { float rs[]; };
layout(binding = 4) readonly buffer Scale { float ds[]; }; // per-dimension query scale, headDim
layout(binding = 5) writeonly buffer Output { float os[]; };

layout(push_constant) uniform Push {
    uint tokens;
    uint heads;
    uint headDim;
    uint stride; // floats per token in q, k, v, out and rel rows (heads * headDim)
    uint qOffset;
    uint kOffset;
    uint vOffset;
    uint rOffset;
    uint dOffset;
    uint oOffset;
    float queryScale;
    float keyScale;
    float softcap;
} p;

void main() {
    const uint item = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * WG + gl_LocalInvocationID.x;
    if (item >= p.tokens * p.heads) return;
    const uint t = item / p.heads;
    const uint h = item % p.heads;
    const uint first = t + 1u > KEYS ? t + 1u - KEYS : 0u;
    const uint count = t - first + 1u;
    const uint head = h * p.headDim;

    float scores[KEYS];
    [[unroll]] for (uint j = 0u; j < KEYS; ++j) scores[j] = 0.0;
    for (uint d = 0u; d < p.headDim; ++d) {
        const float q = qs[p.qOffset + t * p.stride + head + d] * p.queryScale * ds[p.dOffset + d];
        for (uint j = 0u; j < count; ++j) {
            const uint key = first + j;
            const uint relRow = KEYS - (t - key);
            const float k = ks[p.kOffset + key * p.stride + head + d] * p.keyScale;
            scores[j] = fma(q, k + rs[p.rOffset + relRow * p.stride + head + d], scores[j]);
        }
    }
    float maxScore = -3.402823e38;
    for (uint j = 0u; j < count; ++j) {
        scores[j] = p.softcap * stableTanh(scores[j] / p.softcap);
        maxScore = max(maxScore, scores[j]);
    }
    float total = 0.0;
    for (uint j = 0u; j < count; ++j) {
        scores[j] = exp(scores[j] - maxScore);
        total += scores[j];
    }
    const float norm = 1.0 / total;
    for (uint d = 0u; d < p.headDim; ++d) {
        float o = 0.0;
        for (uint j = 0u; j < count; ++j) o = fma(scores[j], vs[p.vOffset + (first + j) * p.stride + head + d], o);
        os[p.oOffset + t * p.stride + head + d] = o * norm;
    }
}
