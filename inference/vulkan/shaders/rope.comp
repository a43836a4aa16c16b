#version 450
// RoPE, split-half ("NeoX") pairing, in place on [tokens][heads][headDim] rows: dimension i
// rotates with i + headDim/2 by angle pos * base^(-2i/headDim) / freqFactor[i]. The optional
// frequency factors (GGUF rope_freqs: 1.0 for rotated pairs, 1e30 for the rest) divide the angle
// in fp32, so 1e30 gives a zero angle (cos 1, sin 0) and never overflows.
//
// Precision: base^(-2i/d) comes from a host table rounded once from double (GPU exp2/pow may be
// off by tens of ulp), and the angle is reduced modulo 2 pi with a three-part constant before
// cos/sin (reduceAngle in common.glsl). What remains is the fp32 rounding of
// pos * freq, about one ulp of the angle, as in ggml.
#include "common.glsl"

layout(binding = 0) buffer Data { float xs[]; };
layout(binding = 1) readonly buffer FreqFactors { float ff[]; };
layout(binding = 2) readonly buffer Frequencies { float freq[]; }; // base^(-2i/headDim), i < headDim/2

layout(push_constant) uniform Push {
    uint headDim;
    uint heads;
    uint offset;
    uint tokenStride; // floats between tokens
    uint headStride;  // floats between heads
    uint pos0;        // position of token 0
    uint freqOffset;
    uint hasFreqFactors;
    uint ffOffset;
} p;

void main() {
    const uint halfDim = p.headDim / 2u;
    const uint token = gl_WorkGroupID.y;
    const uint index = gl_WorkGroupID.x * WG + gl_LocalInvocationID.x; // head * halfDim + i
    if (index >= p.heads * halfDim) return;
    const uint head = index / halfDim;
    const uint i = index % halfDim;
    const float pos = float(p.pos0 + token);
    precise float angle = pos * freq[p.freqOffset + i];
    if (p.hasFreqFactors != 0u) angle /= ff[p.ffOffset + i];
    const float reduced = reduceAngle(angle);
    const float c = cos(reduced);
    const float s = sin(reduced);
    const uint b = p.offset + token * p.tokenStride + head * p.headStride;
    const float x0 = xs[b + i];
    const float x1 = xs[b + i + halfDim];
    xs[b + i] = x0 * c - x1 * s;
    xs[b + i + halfDim] = x0 * s + x1 * c;
}
