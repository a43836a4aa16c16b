#version 450
// 2-D RoPE (Gemma 4's vision encoder), in place on [tokens][heads][headDim] rows of a grid gridX
// tokens wide: the first half of each head rotates by the token's column x = t % gridX, the second
// half by its row y = t / gridX; inside each half, split-half pairs (i, i + headDim/4) turn by
// pos * freq[i], freq[i] = base^(-2i / (headDim/2)) from a host table rounded once from double.
// The angle is reduced like rope.comp's (reduceAngle in common.glsl).
#include "common.glsl"

layout(binding = 0) buffer Data { float xs[]; };
layout(binding = 1) readonly buffer Frequencies { float freq[]; };

layout(push_constant) uniform Push {
    uint headDim;
    uint heads;
    uint offset;
    uint tokenStride;
    uint gridX;
} p;

void main() {
    const uint halfDim = p.headDim / 2u;
    const uint quarter = p.headDim / 4u;
    const uint token = gl_WorkGroupID.y;
    const uint index = gl_WorkGroupID.x * WG + gl_LocalInvocationID.x; // head * halfDim + pair
    if (index >= p.heads * halfDim) return;
    const uint head = index / halfDim;
    const uint pair = index % halfDim;
    const uint axis = pair / quarter; // 0: x (first half), 1: y (second half)
    const uint i = pair % quarter;
    const float pos = float(axis == 0u ? token % p.gridX : token / p.gridX);
    precise float angle = pos * freq[i];
    const float reduced = reduceAngle(angle);
    const float c = cos(reduced);
    const float s = sin(reduced);
    const uint b = p.offset + token * p.tokenStride + head * p.headDim + axis * halfDim;
    const float x0 = xs[b + i];
    const float x1 = xs[b + i + quarter];
    xs[b + i] = x0 * c - x1 * s;
    xs[b + i + quarter] = x0 * s + x1 * c;
}
