#version 450
// One sub-sampling stage of the audio encoder: 3x3 convolution with stride 2 and padding 1 over
// [time][freq][inChannels] (channel fastest), then LayerNorm over the output channels (weight, no
// bias, fp32 statistics) and ReLU. Output [time'][freq'][outChannels]. One workgroup per output
// position; kernel taps repacked to [kh][kw][out][in] so each channel's inputs are contiguous.
#include "common.glsl"

layout(constant_id = 1) const uint MAX_CHANNELS = 512;

layout(binding = 0) readonly buffer Input { float xs[]; };
layout(binding = 1) readonly buffer Kernel { float ks[]; };
layout(binding = 2) readonly buffer Norm { float ns[]; };
layout(binding = 3) writeonly buffer Output { float os[]; };

layout(push_constant) uniform Push {
    uint times;
    uint bins;
    uint inChannels;
    uint outChannels;
    uint outBins;
    uint xOffset;
    uint kOffset;
    uint nOffset;
    uint oOffset;
    float eps;
} p;

shared float acc[MAX_CHANNELS];

void main() {
    const uint f = gl_WorkGroupID.x;
    const uint t = gl_WorkGroupID.y + gl_WorkGroupID.z * gl_NumWorkGroups.y;
    float sum = 0.0;
    for (uint o = gl_LocalInvocationID.x; o < p.outChannels; o += WG) {
        float a = 0.0;
        for (uint kh = 0u; kh < 3u; ++kh) {
            const int ti = int(2u * t) - 1 + int(kh);
            if (ti < 0 || ti >= int(p.times)) continue;
            for (uint kw = 0u; kw < 3u; ++kw) {
                const int fi = int(2u * f) - 1 + int(kw);
                if (fi < 0 || fi >= int(p.bins)) continue;
                const uint xb = p.xOffset + (uint(ti) * p.bins + uint(fi)) * p.inChannels;
                const uint kb = p.kOffset + ((kh * 3u + kw) * p.outChannels + o) * p.inChannels;
                for (uint i = 0u; i < p.inChannels; ++i) a = fma(ks[kb + i], xs[xb + i], a);
            }
        }
        acc[o] = a;
        sum += a;
    }
    const float mean = workgroupSum(sum) / float(p.outChannels);
    float sq = 0.0;
    for (uint o = gl_LocalInvocationID.x; o < p.outChannels; o += WG) {
        const float d = acc[o] - mean;
        sq = fma(d, d, sq);
    }
    const float inv = inversesqrt(workgroupSum(sq) / float(p.outChannels) + p.eps);
    const uint ob = p.oOffset + (t * p.outBins + f) * p.outChannels;
    for (uint o = gl_LocalInvocationID.x; o < p.outChannels; o += WG)
        os[ob + o] = max(0.0, (acc[o] - mean) * inv * ns[p.nOffset + o]);
}
