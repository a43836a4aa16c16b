#version 450
// Final logit softcap in place: x = cap * tanh(x / cap).
#include "common.glsl"

layout(binding = 0) buffer Data { float xs[]; };

layout(push_constant) uniform Push {
    uint n;
    uint offset;
    float cap;
} p;

void main() {
    const uint i = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * WG + gl_LocalInvocationID.x;
    if (i >= p.n) return;
    xs[p.offset + i] = p.cap * stableTanh(xs[p.offset + i] / p.cap);
}
