#version 450
// MoE routing for each token (one workgroup): softmax over all experts' logits in fp32, keep the
// top k (ties go to the lower index), renormalise their weights to sum 1. Writes expert ids and
// weights on the device, where the expert matvecs read them (no read-back).
#include "common.glsl"

layout(constant_id = 1) const uint MAX_EXPERTS = 256;

layout(binding = 0) readonly buffer Logits { float logits[]; };
layout(binding = 1) writeonly buffer Ids { uint ids[]; };
layout(binding = 2) writeonly buffer Weights { float weights[]; };

layout(push_constant) uniform Push {
    uint experts;
    uint k;
    uint logitOffset;
    uint logitStride;
    uint idsOffset;
    uint weightsOffset;
} p;

shared float prob[MAX_EXPERTS];
shared float bestValue[WG];
shared uint bestIndex[WG];
shared float chosen[MAX_EXPERTS];

void main() {
    const uint token = gl_WorkGroupID.x;
    const uint t = gl_LocalInvocationID.x;
    const uint b = p.logitOffset + token * p.logitStride;
    float m = -3.402823466e38;
    for (uint e = t; e < p.experts; e += WG) m = max(m, logits[b + e]);
    m = workgroupMax(m);
    float s = 0.0;
    for (uint e = t; e < p.experts; e += WG) {
        const float x = exp(logits[b + e] - m);
        prob[e] = x;
        s += x;
    }
    s = workgroupSum(s);
    for (uint e = t; e < p.experts; e += WG) prob[e] /= s;
    barrier();

    for (uint r = 0u; r < p.k; ++r) {
        float v = -1.0;
        uint index = 0xFFFFFFFFu;
        for (uint e = t; e < p.experts; e += WG)
            if (prob[e] > v) { // strided in increasing e: the first maximum wins ties
                v = prob[e];
                index = e;
            }
        bestValue[t] = v;
        bestIndex[t] = index;
        barrier();
        for (uint stride = WG / 2u; stride > 0u; stride >>= 1u) {
            if (t < stride) {
                const float ov = bestValue[t + stride];
                const uint oi = bestIndex[t + stride];
                if (ov > bestValue[t] || (ov == bestValue[t] && oi < bestIndex[t])) {
                    bestValue[t] = ov;
                    bestIndex[t] = oi;
                }
            }
            barrier();
        }
        if (t == 0u) {
            chosen[r] = bestValue[0];
            ids[p.idsOffset + token * p.k + r] = bestIndex[0];
            prob[bestIndex[0]] = -2.0; // taken
        }
        barrier();
    }
    if (t == 0u) {
        float total = 0.0;
        for (uint r = 0u; r < p.k; ++r) total += chosen[r];
        for (uint r = 0u; r < p.k; ++r) weights[p.weightsOffset + token * p.k + r] = chosen[r] / total;
    }
}
