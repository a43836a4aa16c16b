#version 450
// Activations rounded to 8 bits per 32-value block for the integer-dot kernels, exactly as the CPU's
// quantizeActivationsQ8 (inference/cpu/kernels.h): d = max|x| / 127 and q = round-to-nearest-even(
// x * (127 / max|x|)). Both divisions are done in integer arithmetic, correctly rounded like the
// CPU's (Vulkan's OpFDiv is only within 2.5 ulp), and x * inverse is one correctly rounded multiply,
// so quants and scales are the CPU's bit for bit. Blocks whose max|x| is below 2^-100 get zero quants
// and scale 0 (there the CPU's inverse overflows or its products meet subnormals; the block's
// products are 0 or negligible either way).
// One invocation per block; grid y = column. Output per column: K/4 words of four int8 (value i in
// byte i % 4 of word i / 4) and K/32 float scales.
#include "common.glsl"

layout(binding = 0) readonly buffer Input { float xs[]; };
layout(binding = 1) writeonly buffer Quants { uint xq[]; };
layout(binding = 2) writeonly buffer Scales { float xd[]; };

layout(push_constant) uniform Push {
    uint K; // a multiple of 32
    uint xOffset;
    uint xStride;
    uint qOffset; // words
    uint qStride; // words between columns
    uint dOffset; // floats
    uint dStride;
} p;

// a / b rounded to nearest, ties to even, for positive normal a and b with a normal quotient: long
// division of the 24-bit significands.
float divideRounded(float a, float b) {
    const uint ab = floatBitsToUint(a), bb = floatBitsToUint(b);
    const uint mb = (bb & 0x7FFFFFu) | 0x800000u;
    uint r = (ab & 0x7FFFFFu) | 0x800000u;
    int e = int(ab >> 23) - int(bb >> 23);
    if (r < mb) { // quotient significand below 1: one more bit from the dividend
        r <<= 1;
        e -= 1;
    }
    uint q = 0u; // 1 integer bit, 23 fraction bits, then the round bit
    for (uint i = 0u; i < 25u; ++i) {
        q <<= 1;
        if (r >= mb) {
            r -= mb;
            q |= 1u;
        }
        r <<= 1;
    }
    const bool roundBit = (q & 1u) != 0u;
    q >>= 1;
    if (roundBit && (r != 0u || (q & 1u) != 0u)) q += 1u;
    if (q == 0x1000000u) {
        q >>= 1;
        e += 1;
    }
    return uintBitsToFloat((uint(e + 127) << 23) | (q & 0x7FFFFFu));
}

void main() {
    const uint block = gl_GlobalInvocationID.x;
    if (block >= p.K / 32u) return;
    const uint col = gl_WorkGroupID.y;
    const uint base = p.xOffset + col * p.xStride + block * 32u;
    float x[32];
    float amax = 0.0;
    [[unroll]] for (uint i = 0u; i < 32u; ++i) {
        x[i] = xs[base + i];
        amax = max(amax, abs(x[i]));
    }
    uint words[8] = uint[8](0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u);
    float d = 0.0;
    if (floatBitsToUint(amax) >= (27u << 23)) { // amax >= 2^-100
        const float inverse = divideRounded(127.0, amax);
        d = divideRounded(amax, 127.0);
        [[unroll]] for (uint i = 0u; i < 32u; ++i) {
            const int q = int(roundEven(x[i] * inverse));
            words[i / 4u] |= (uint(q) & 0xFFu) << (8u * (i % 4u));
        }
    }
    const uint qBase = p.qOffset + col * p.qStride + block * 8u;
    [[unroll]] for (uint m = 0u; m < 8u; ++m) xq[qBase + m] = words[m];
    xd[p.dOffset + col * p.dStride + block] = d;
}
