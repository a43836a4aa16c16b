#version 450
// Per-head RMSNorm fused with RoPE and the KV-cache store, one workgroup per (head, token) of a
// [tokens][heads][headDim] projection: out = rope(x / sqrt(mean(x^2) + eps) * w), each step optional
// (Gemma 4's q/k norms + RoPE, and the unweighted V norm). The result goes back in place, or with
// STORE into the cache slot (pos0 + token) % capacity as kv_store.comp writes it (fp32, or with KV_F16
// fp16 pairs packed in words). The same arithmetic as rmsnorm.comp followed by rope.comp, in one pass.
//
// Invocation m handles the quad 2m, 2m + 1, 2m + half, 2m + 1 + half (headDim a multiple of 4): both
// RoPE pairs and both fp16 words it writes are its own, so no element is shared between invocations.
#include "common.glsl"

layout(binding = 0) buffer Data { float xs[]; };
layout(binding = 1) readonly buffer Weight { float ws[]; };
layout(binding = 2) readonly buffer FreqFactors { float ff[]; };
layout(binding = 3) readonly buffer Frequencies { float freq[]; }; // base^(-2i/headDim), i < headDim/2
#ifdef KV_F16
layout(binding = 4) writeonly buffer Cache { uint cache[]; };
#else
layout(binding = 4) writeonly buffer Cache { float cache[]; };
#endif

layout(push_constant) uniform Push {
    uint headDim;
    uint heads;
    uint xOffset;
    uint tokenStride; // floats between tokens of x
    float eps;
    uint hasWeight;
    uint wOffset;
    uint rope; // 0: no rotation
    uint pos0; // position of token 0
    uint hasFreqFactors;
    uint ffOffset;
    uint store; // 0: in place; 1: into the cache
    uint cacheOffset; // in 4-byte elements
    uint capacity;
} p;

void main() {
    const uint head = gl_WorkGroupID.x;
    const uint token = gl_WorkGroupID.y;
    const uint halfDim = p.headDim / 2u;
    const uint quads = p.headDim / 4u;
    const uint b = p.xOffset + token * p.tokenStride + head * p.headDim;
    float ss = 0.0;
    for (uint m = gl_LocalInvocationID.x; m < quads; m += WG) {
        const uint i = b + 2u * m;
        const float a0 = xs[i], a1 = xs[i + 1u], b0 = xs[i + halfDim], b1 = xs[i + halfDim + 1u];
        ss = fma(a0, a0, ss);
        ss = fma(a1, a1, ss);
        ss = fma(b0, b0, ss);
        ss = fma(b1, b1, ss);
    }
    ss = workgroupSum(ss);
    const float inv = inversesqrt(ss / float(p.headDim) + p.eps);
    const uint position = p.pos0 + token;
    const float pos = float(position);
    const uint rowFloats = p.heads * p.headDim;
    const uint slot = p.store != 0u ? position % p.capacity : 0u;
    for (uint m = gl_LocalInvocationID.x; m < quads; m += WG) {
        const uint i = b + 2u * m;
        // v[0], v[1]: dimensions 2m, 2m + 1; v[2], v[3]: their RoPE partners 2m + half, 2m + 1 + half.
        float v[4] = float[4](xs[i] * inv, xs[i + 1u] * inv, xs[i + halfDim] * inv, xs[i + halfDim + 1u] * inv);
        if (p.hasWeight != 0u) {
            const uint w = p.wOffset + 2u * m;
            v[0] *= ws[w];
            v[1] *= ws[w + 1u];
            v[2] *= ws[w + halfDim];
            v[3] *= ws[w + halfDim + 1u];
        }
        if (p.rope != 0u) {
            [[unroll]] for (uint j = 0u; j < 2u; ++j) {
                const uint d = 2u * m + j;
                precise float angle = pos * freq[d];
                if (p.hasFreqFactors != 0u) angle /= ff[p.ffOffset + d];
                const float reduced = reduceAngle(angle);
                const float c = cos(reduced);
                const float s = sin(reduced);
                const float x0 = v[j], x1 = v[j + 2u];
                v[j] = x0 * c - x1 * s;
                v[j + 2u] = x0 * s + x1 * c;
            }
        }
        if (p.store != 0u) {
#ifdef KV_F16
            const uint word = p.cacheOffset + (slot * rowFloats + head * p.headDim) / 2u + m;
            cache[word] = packHalf2x16(vec2(v[0], v[1]));
            cache[word + halfDim / 2u] = packHalf2x16(vec2(v[2], v[3]));
#else
            const uint c = p.cacheOffset + slot * rowFloats + head * p.headDim + 2u * m;
            cache[c] = v[0];
            cache[c + 1u] = v[1];
            cache[c + halfDim] = v[2];
            cache[c + halfDim + 1u] = v[3];
#endif
        } else {
            xs[i] = v[0];
            xs[i + 1u] = v[1];
            xs[i + halfDim] = v[2];
            xs[i + halfDim + 1u] = v[3];
        }
    }
}
