#version 450
// k x k mean pooling of a grid of [token][n] rows (gridX tokens wide, row-major) into
// [pooled token][n] rows, row-major over the pooled grid: out = sum * scale (the host folds 1/k^2
// and any extra factor into scale), then optionally (out - bias[i]) * stdScale[i] (the vision
// encoder's standardize step).
#include "common.glsl"

layout(binding = 0) readonly buffer Input { float xs[]; };
layout(binding = 1) writeonly buffer Output { float os[]; };
layout(binding = 2) readonly buffer Bias { float bias[]; };
layout(binding = 3) readonly buffer StdScale { float stdScale[]; };

layout(push_constant) uniform Push {
    uint n;
    uint gridX;
    uint kernel;
    uint xOffset;
    uint oOffset;
    float scale;
    uint standardize;
    uint biasOffset;
    uint stdScaleOffset;
} p;

void main() {
    const uint i = gl_WorkGroupID.x * WG + gl_LocalInvocationID.x;
    const uint t = gl_WorkGroupID.y;
    if (i >= p.n) return;
    const uint pooledX = p.gridX / p.kernel;
    const uint x0 = (t % pooledX) * p.kernel;
    const uint y0 = (t / pooledX) * p.kernel;
    float sum = 0.0;
    for (uint dy = 0u; dy < p.kernel; ++dy)
        for (uint dx = 0u; dx < p.kernel; ++dx) sum += xs[p.xOffset + ((y0 + dy) * p.gridX + x0 + dx) * p.n + i];
    float v = sum * p.scale;
    if (p.standardize != 0u) v = (v - bias[p.biasOffset + i]) * stdScale[p.stdScaleOffset + i];
    os[p.oOffset + t * p.n + i] = v;
}
