#version 450
// RMSNorm of each row, fp32: out = (residual + x / sqrt(mean(x^2) + eps) * w) * scale, where the
// weight (Gemma 4 multiplies by w, not 1 + w), the residual and the scale are optional. One
// workgroup per row. This fuses Gemma's post-norm, residual add and layer scalar into one pass.
// In-place use (out aliasing x or residual) is safe: each element is read and then written by the
// same invocation.
#include "common.glsl"

layout(binding = 0) readonly buffer Input { float xs[]; };
layout(binding = 1) readonly buffer Weight { float ws[]; };
layout(binding = 2) readonly buffer Residual { float rs[]; };
layout(binding = 3) buffer Output { float os[]; };

layout(push_constant) uniform Push {
    uint n;          // row length
    uint xOffset;
    uint xStride;
    uint wOffset;
    uint rOffset;
    uint rStride;
    uint oOffset;
    uint oStride;
    float eps;
    float scale;
    uint hasWeight;
    uint hasResidual;
} p;

void main() {
    const uint row = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    const uint xb = p.xOffset + row * p.xStride;
    float ss = 0.0;
    for (uint i = gl_LocalInvocationID.x; i < p.n; i += WG) {
        const float v = xs[xb + i];
        ss = fma(v, v, ss);
    }
    ss = workgroupSum(ss);
    const float inv = inversesqrt(ss / float(p.n) + p.eps);
    const uint ob = p.oOffset + row * p.oStride;
    const uint rb = p.rOffset + row * p.rStride;
    for (uint i = gl_LocalInvocationID.x; i < p.n; i += WG) {
        float v = xs[xb + i] * inv;
        if (p.hasWeight != 0u) v *= ws[p.wOffset + i];
        if (p.hasResidual != 0u) v += rs[rb + i];
        os[ob + i] = v * p.scale;
    }
}
