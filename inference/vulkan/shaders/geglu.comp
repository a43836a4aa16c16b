#version 450
// Gated GELU: out[r][i] = gelu_tanh(gate[r][i]) * up[r][i]. Gate and up may be two halves of one
// row (the fused MoE gate_up output) through their offsets and strides.
#include "common.glsl"

layout(binding = 0) readonly buffer Gate { float gs[]; };
layout(binding = 1) readonly buffer Up { float us[]; };
layout(binding = 2) writeonly buffer Output { float os[]; };

layout(push_constant) uniform Push {
    uint n;
    uint gOffset;
    uint gStride;
    uint uOffset;
    uint uStride;
    uint oOffset;
    uint oStride;
} p;

void main() {
    const uint i = gl_WorkGroupID.x * WG + gl_LocalInvocationID.x;
    const uint r = gl_WorkGroupID.y;
    if (i >= p.n) return;
    os[p.oOffset + r * p.oStride + i] = geluTanh(gs[p.gOffset + r * p.gStride + i]) * us[p.uOffset + r * p.uStride + i];
}
