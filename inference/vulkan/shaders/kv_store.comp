#version 450
// Appends K or V rows of new tokens to a ring-buffer cache: token t (position pos0 + t) goes to
// slot (pos0 + t) % capacity. Sliding-window layers use a capacity of at least the window (plus
// the prefill batch), full layers the context length.
// With KV_F16 the cache holds fp16 pairs packed in 32-bit words (round to nearest even; no 16-bit
// storage needed): invocation i writes elements 2i and 2i+1, offsets and rowFloats count halves
// (rowFloats even, cacheOffset in words).
#include "common.glsl"

layout(binding = 0) readonly buffer Src { float src[]; };
#ifdef KV_F16
layout(binding = 1) writeonly buffer Cache { uint cache[]; };
#else
layout(binding = 1) writeonly buffer Cache { float cache[]; };
#endif

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
    const uint slot = (p.pos0 + t) % p.capacity;
#ifdef KV_F16
    const uint words = p.rowFloats / 2u;
    if (i >= words) return;
    const uint s = p.srcOffset + t * p.srcStride + 2u * i;
    cache[p.cacheOffset + slot * words + i] = packHalf2x16(vec2(src[s], src[s + 1u]));
#else
    if (i >= p.rowFloats) return;
    cache[p.cacheOffset + slot * p.rowFloats + i] = src[p.srcOffset + t * p.srcStride + i];
#endif
}
