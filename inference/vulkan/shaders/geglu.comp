#version 450
// Gated activation: out[r][i] = act(gate[r][i]) * up[r][i], act chosen by specialization constant 1:
// GATE 0 gelu_tanh (the text FFN), GATE 1 sigmoid (the audio conformer's GLU), GATE 2 GELU-quick
// x * sigmoid(1.702 x) (what llama.cpp's vision FFN uses on converter-made files). Gate and up may be
// two halves of one row (the fused MoE gate_up output) through their offsets and strides.
#include "common.glsl"

layout(constant_id = 1) const uint GATE = 0;

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
    const float g = gs[p.gOffset + r * p.gStride + i];
    const float activated = GATE == 0u ? geluTanh(g) : GATE == 1u ? 1.0 / (1.0 + exp(-g)) : g / (1.0 + exp(-1.702 * g));
    os[p.oOffset + r * p.oStride + i] = activated * us[p.uOffset + r * p.uStride + i];
}
