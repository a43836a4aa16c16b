#version 450
// Streaming-read probe: every invocation reads 16-byte words across the whole buffer and folds
// them into one value per workgroup (written so the reads cannot be optimised away).
#include "common.glsl"

layout(binding = 0) readonly buffer Source { uvec4 src[]; };
layout(binding = 1) writeonly buffer Sink { uint sink[]; };

layout(push_constant) uniform Push {
    uint words;
} p;

void main() {
    const uint threads = gl_NumWorkGroups.x * WG;
    uvec4 acc = uvec4(0u);
    for (uint i = gl_WorkGroupID.x * WG + gl_LocalInvocationID.x; i < p.words; i += threads) acc ^= src[i];
    const uint folded = acc.x ^ acc.y ^ acc.z ^ acc.w;
    if (folded == 0x9E3779B9u) sink[gl_WorkGroupID.x] = folded; // practically never; keeps the loads live
}
