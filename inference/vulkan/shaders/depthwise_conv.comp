#version 450
// Causal depthwise 1-D convolution over tokens: out[t][c] = sum_j w[c][j] * x[t - (K-1) + j][c],
// taps before the first token reading zero (the conformer's light conv module).
#include "common.glsl"

layout(binding = 0) readonly buffer Input { float xs[]; };
layout(binding = 1) readonly buffer Weight { float ws[]; }; // [channels][K]
layout(binding = 2) writeonly buffer Output { float os[]; };

layout(push_constant) uniform Push {
    uint channels;
    uint taps; // K
    uint xOffset;
    uint xStride;
    uint wOffset;
    uint oOffset;
    uint oStride;
} p;

void main() {
    const uint c = gl_WorkGroupID.x * WG + gl_LocalInvocationID.x;
    const uint t = gl_WorkGroupID.y + gl_WorkGroupID.z * gl_NumWorkGroups.y;
    if (c >= p.channels) return;
    float acc = 0.0;
    for (uint j = 0u; j < p.taps; ++j) {
        const int src = int(t) - int(p.taps - 1u) + int(j);
        if (src >= 0) acc = fma(ws[p.wOffset + c * p.taps + j], xs[p.xOffset + uint(src) * p.xStride + c], acc);
    }
    os[p.oOffset + t * p.oStride + c] = acc;
}
