#version 450
// Appends K or V rows of new tokens to a ring-buffer cache: token t (position pos0 + t) goes to
// slot (pos0 + t) % capacity. Sliding-window layers use a capacity of at least the window (plus
// the prefill batch), full layers the context length.
#include "common.glsl"

layout(binding = 0) readonly buffer Src { float src[]; };
layout(binding = 1) writeonly buffer Cache { float cache[]; };

layout(push_constant) uniform Push {
    uint rowFloats;  // kvHeads * headDim
    uint srcOffset;
    uint srcStride;
    uint cacheOffset;
    uint capacity;
    uint pos0;
} p;

void main() {
    const uint i = gl_WorkGroupID.x * WG + gl_LocalInvocationID.x;
    const uint t = gl_WorkGroupID.y;
    if (i >= p.rowFloats) return;
    const uint slot = (p.pos0 + t) % p.capacity;
    cache[p.cacheOffset + slot * p.rowFloats + i] = src[p.srcOffset + t * p.srcStride + i];
}
