#version 450
// Attention over a ring-buffer KV cache, fp32, for decode (one query token) and prefill (the z
// dimension of the grid is the query token). Workgroup (head, split, token): query head h reads KV
// head h / (heads / kvHeads) (GQA); key positions run over [lo, pos] with lo = pos - window + 1 for
// sliding layers (0 for full ones), pos = pos0 + token (causal), position p in slot p % capacity.
// The range is split into `splits` pieces of splitLen positions that workgroups process in
// parallel with an online softmax; each writes its partial (o, max, sum) for attention_combine,
// or, with a single split, the normalised output directly. Scores are q . k * scale (Gemma 4:
// scale 1). The running max starts at a finite -1e30 so fully masked pieces never produce NaN.
// With KV_F16 the caches hold fp16 pairs packed in 32-bit words (kv_store.comp): kOffset/vOffset
// are in words, kvRowFloats and headDim in halves (both even); scores, softmax and the weighted
// sum stay fp32.
#include "common.glsl"

layout(constant_id = 1) const uint MAXD = 512; // largest head dim; a multiple of WG

layout(binding = 0) readonly buffer Query { float qs[]; };
#ifdef KV_F16
layout(binding = 1) readonly buffer KeyCache { uint ks[]; };
layout(binding = 2) readonly buffer ValueCache { uint vs[]; };
// Element e (in halves) of a packed cache.
float valueAt(uint e) {
    const vec2 pair = unpackHalf2x16(vs[e >> 1]);
    return (e & 1u) == 0u ? pair.x : pair.y;
}
#else
layout(binding = 1) readonly buffer KeyCache { float ks[]; };
layout(binding = 2) readonly buffer ValueCache { float vs[]; };
float valueAt(uint e) { return vs[e]; }
#endif
layout(binding = 3) writeonly buffer Output { float os[]; };
layout(binding = 4) writeonly buffer Stats { float stats[]; };

layout(push_constant) uniform Push {
    uint headDim;
    uint heads;
    uint kvHeads;
    uint capacity;
    uint pos0;
    uint window;      // 0: full attention
    uint qOffset;
    uint qTokenStride;
    uint kOffset;
    uint vOffset;
    uint kvRowFloats; // floats per cache slot (kvHeads * headDim)
    uint splitLen;
    uint splits;
    uint oOffset;
    uint oTokenStride;
    float scale;
    uint statsOffset;
    uint spanBegin; // positions [spanBegin, spanEnd) also see each other's later positions
    uint spanEnd;   // (bidirectional soft tokens); spanEnd 0: none
} p;

const float NEG = -1.0e30;
const uint DPER = MAXD / WG;

shared float query[MAXD];
shared float probs[WG];

void main() {
    const uint head = gl_WorkGroupID.x;
    const uint split = gl_WorkGroupID.y;
    const uint token = gl_WorkGroupID.z;
    const uint t = gl_LocalInvocationID.x;
    const uint D = p.headDim;
    const uint pos = p.pos0 + token;
    const uint lo = (p.window > 0u && pos + 1u > p.window) ? pos + 1u - p.window : 0u;
    const uint start = lo + split * p.splitLen;
    const uint reach = (pos >= p.spanBegin && pos < p.spanEnd) ? p.spanEnd : pos + 1u;
    const uint end = min(reach, start + p.splitLen);
    const uint kvHead = head / (p.heads / p.kvHeads);

    const uint qb = p.qOffset + token * p.qTokenStride + head * D;
    for (uint d = t; d < D; d += WG) query[d] = qs[qb + d];
    barrier();

    float o[DPER];
    [[unroll]] for (uint j = 0u; j < DPER; ++j) o[j] = 0.0;
    float m = NEG;
    float l = 0.0;

    for (uint tile = start; tile < end; tile += WG) {
        const uint kp = tile + t;
        const bool valid = kp < end;
        float score = NEG;
        if (valid) {
            float dot = 0.0;
#ifdef KV_F16
            const uint kb = p.kOffset + ((kp % p.capacity) * p.kvRowFloats + kvHead * D) / 2u;
            for (uint d = 0u; d < D; d += 2u) {
                const vec2 k2 = unpackHalf2x16(ks[kb + d / 2u]);
                dot = fma(query[d], k2.x, dot);
                dot = fma(query[d + 1u], k2.y, dot);
            }
#else
            const uint kb = p.kOffset + (kp % p.capacity) * p.kvRowFloats + kvHead * D;
            for (uint d = 0u; d < D; ++d) dot = fma(query[d], ks[kb + d], dot);
#endif
            score = dot * p.scale;
        }
        const float mNew = max(m, workgroupMax(score));
        const float pr = valid ? exp(score - mNew) : 0.0;
        probs[t] = pr;
        const float tileSum = workgroupSum(pr); // its barriers also publish probs[]
        const float correction = exp(m - mNew);
        l = l * correction + tileSum;
        const uint n = min(WG, end - tile);
        [[unroll]] for (uint j = 0u; j < DPER; ++j) o[j] *= correction;
        for (uint i = 0u; i < n; ++i) {
            const float w = probs[i];
#ifdef KV_F16
            const uint vb = 2u * p.vOffset + ((tile + i) % p.capacity) * p.kvRowFloats + kvHead * D;
#else
            const uint vb = p.vOffset + ((tile + i) % p.capacity) * p.kvRowFloats + kvHead * D;
#endif
            [[unroll]] for (uint j = 0u; j < DPER; ++j) {
                const uint d = t + j * WG;
                if (d < D) o[j] = fma(w, valueAt(vb + d), o[j]);
            }
        }
        m = mNew;
        barrier(); // probs[] is rewritten by the next tile
    }

    if (p.splits == 1u) {
        const float inv = l > 0.0 ? 1.0 / l : 0.0;
        const uint ob = p.oOffset + token * p.oTokenStride + head * D;
        [[unroll]] for (uint j = 0u; j < DPER; ++j) {
            const uint d = t + j * WG;
            if (d < D) os[ob + d] = o[j] * inv;
        }
    } else {
        const uint piece = (token * p.heads + head) * p.splits + split;
        [[unroll]] for (uint j = 0u; j < DPER; ++j) {
            const uint d = t + j * WG;
            if (d < D) os[p.oOffset + piece * D + d] = o[j];
        }
        if (t == 0u) {
            stats[p.statsOffset + piece * 2u] = m;
            stats[p.statsOffset + piece * 2u + 1u] = l;
        }
    }
}
