#version 450
// Encoder attention over one sequence (an image's patches): every query sees every key, no mask, no
// cache. One query of one head per invocation: grid (query blocks of WG, heads). No shared memory
// and no barriers, so it runs within lavapipe's 32 KiB of shared memory for any sequence length, and
// on CPU-type devices (invocations are SIMD lanes) every lane of a workgroup reads the same key at
// the same time. Keys go in blocks of 8: the block's scores, then one online-softmax rescale per
// block. q, k, v and out are [token][heads][headDim] rows (strides in floats); fp32 throughout.
#include "common.glsl"

layout(constant_id = 1) const uint HEAD_DIM = 64; // the exact head size (register arrays)

layout(binding = 0) readonly buffer Query { float qs[]; };
layout(binding = 1) readonly buffer Keys { float ks[]; };
layout(binding = 2) readonly buffer Values { float vs[]; };
layout(binding = 3) writeonly buffer Output { float os[]; };

layout(push_constant) uniform Push {
    uint tokens;
    uint qOffset;
    uint qStride;
    uint kOffset;
    uint kStride;
    uint vOffset;
    uint vStride;
    uint oOffset;
    uint oStride;
    float scale;
} p;

const uint BLOCK = 8u;
const float NEG = -1.0e30;

void main() {
    const uint token = gl_WorkGroupID.x * WG + gl_LocalInvocationID.x;
    const uint head = gl_WorkGroupID.y;
    if (token >= p.tokens) return;
    const uint headBase = head * HEAD_DIM;

    float q[HEAD_DIM];
    float o[HEAD_DIM];
    const uint qb = p.qOffset + token * p.qStride + headBase;
    for (uint d = 0u; d < HEAD_DIM; ++d) {
        q[d] = qs[qb + d] * p.scale;
        o[d] = 0.0;
    }
    float m = NEG;
    float l = 0.0;
    for (uint first = 0u; first < p.tokens; first += BLOCK) {
        const uint count = min(BLOCK, p.tokens - first);
        float s[BLOCK];
        float blockMax = NEG;
        [[unroll]] for (uint b = 0u; b < BLOCK; ++b) {
            s[b] = NEG;
            if (b < count) {
                const uint kb = p.kOffset + (first + b) * p.kStride + headBase;
                float dot = 0.0;
                for (uint d = 0u; d < HEAD_DIM; ++d) dot = fma(q[d], ks[kb + d], dot);
                s[b] = dot;
                blockMax = max(blockMax, dot);
            }
        }
        const float mNew = max(m, blockMax);
        const float correction = exp(m - mNew);
        l *= correction;
        for (uint d = 0u; d < HEAD_DIM; ++d) o[d] *= correction;
        [[unroll]] for (uint b = 0u; b < BLOCK; ++b) {
            if (b < count) {
                const float w = exp(s[b] - mNew);
                l += w;
                const uint vb = p.vOffset + (first + b) * p.vStride + headBase;
                for (uint d = 0u; d < HEAD_DIM; ++d) o[d] = fma(w, vs[vb + d], o[d]);
            }
        }
        m = mNew;
    }
    const float inv = 1.0 / l; // l >= 1: the largest score contributes exp(0)
    const uint ob = p.oOffset + token * p.oStride + headBase;
    for (uint d = 0u; d < HEAD_DIM; ++d) os[ob + d] = o[d] * inv;
}
