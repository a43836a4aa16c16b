#version 450
// Elementwise operations over `count` floats, chosen by specialization constant 1:
//   OP 0 clamp: out = clamp(x, lo, hi)       (Gemma 4's clipped linears)
//   OP 1 silu:  out = x * sigmoid(x)
//   OP 2 add:   out = x + scale * y, y indexed i % n when broadcast (a bias row), else i
// In-place use (out aliasing x) is safe: each element is read and then written by one invocation.
#include "common.glsl"

layout(constant_id = 1) const uint OP = 0;

layout(binding = 0) readonly buffer Input { float xs[]; };
layout(binding = 1) readonly buffer Other { float ys[]; };
layout(binding = 2) buffer Output { float os[]; };

layout(push_constant) uniform Push {
    uint count;
    uint n; // row length of a broadcast y
    uint xOffset;
    uint yOffset;
    uint oOffset;
    float lo;
    float hi;
    float scale;
    uint broadcast;
} p;

void main() {
    const uint i = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * WG + gl_LocalInvocationID.x;
    if (i >= p.count) return;
    const float x = xs[p.xOffset + i];
    float v;
    if (OP == 0u) {
        v = min(max(x, p.lo), p.hi);
    } else if (OP == 1u) {
        v = x / (1.0 + exp(-x));
    } else {
        v = x + p.scale * ys[p.yOffset + (p.broadcast != 0u ? i % p.n : i)];
    }
    os[p.oOffset + i] = v;
}
