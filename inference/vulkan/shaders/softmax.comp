#version 450
// Softmax of each row in place, fp32, max-subtracted. One workgroup per row.
#include "common.glsl"

layout(binding = 0) buffer Data { float xs[]; };

layout(push_constant) uniform Push {
    uint n;
    uint offset;
    uint stride;
    float scale; // applied to the inputs first
} p;

void main() {
    const uint b = p.offset + gl_WorkGroupID.x * p.stride;
    float m = -3.402823466e38;
    for (uint i = gl_LocalInvocationID.x; i < p.n; i += WG) m = max(m, xs[b + i] * p.scale);
    m = workgroupMax(m);
    float s = 0.0;
    for (uint i = gl_LocalInvocationID.x; i < p.n; i += WG) {
        const float e = exp(xs[b + i] * p.scale - m);
        xs[b + i] = e;
        s += e;
    }
    s = workgroupSum(s);
    const float inv = 1.0 / s;
    for (uint i = gl_LocalInvocationID.x; i < p.n; i += WG) xs[b + i] *= inv;
}
