#version 450
// Tiled integer-dot matrix product for prefill with Q4_0 and Q8_0 weights (the quantized-activation
// mode): Y[n][m] = sum over 32-value blocks of d_w d_x (int8 . int8), the activations rounded by
// quantize_q8.comp. A workgroup computes a BM x BN tile; each K step stages one block of BM weight
// rows and of BN tokens in shared memory as packed int8 words (each weight block decoded once per
// tile), and every invocation accumulates a 4 x 4 block: 8 packed 4x8-bit dot products (OpSDot) per
// row and token, summed in int32, then scaled into fp32 accumulators.
#extension GL_EXT_spirv_intrinsics : require
#include "common.glsl"

layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
const uint TM = 4u;
const uint TN = 4u;
const uint PAD = 9u; // words per staged block: 8 plus one against bank conflicts

layout(binding = 0) readonly buffer Weights { uint wdata[]; };
layout(binding = 1) readonly buffer Quants { int xq[]; };
layout(binding = 2) writeonly buffer Output { float ys[]; };
layout(binding = 3) readonly buffer Scales { float xd[]; };

#include "weights.glsl"
#include "intdot.glsl"

layout(push_constant) uniform Push {
    uint K;
    uint rows;     // M, rows in this chunk
    uint rowBytes;
    uint qOffset;  // activation quants, in words
    uint qStride;  // words between tokens
    uint yOffset;
    uint yStride;
    uint rowBase;
    uint N;        // tokens
    uint dOffset;  // activation scales
    uint dStride;
} p;

shared int tileW[BM * PAD];
shared float tileWd[BM];
shared int tileX[BN * PAD];
shared float tileXd[BN];

void main() {
    const uint t = gl_LocalInvocationID.x;
    const uint m0 = gl_WorkGroupID.x * BM;
    const uint n0 = gl_WorkGroupID.y * BN;
    const uint threadsM = BM / TM;
    const uint tm = t % threadsM;
    const uint tn = t / threadsM;

    float acc[TM * TN];
    [[unroll]] for (uint i = 0u; i < TM * TN; ++i) acc[i] = 0.0;

    const uint blocks = p.K / 32u;
    for (uint u = 0u; u < blocks; ++u) {
        for (uint r = t; r < BM; r += WG) {
            int w[8];
            float d = 0.0;
            const uint row = m0 + r;
            if (row < p.rows) weightBlock(row * p.rowBytes, u, w, d);
            else [[unroll]] for (uint m = 0u; m < 8u; ++m) w[m] = 0;
            [[unroll]] for (uint m = 0u; m < 8u; ++m) tileW[r * PAD + m] = w[m];
            tileWd[r] = d;
        }
        for (uint idx = t; idx < BN * 9u; idx += WG) {
            const uint c = idx / 9u;
            const uint m = idx % 9u;
            const uint n = n0 + c;
            if (m < 8u) tileX[c * PAD + m] = n < p.N ? xq[p.qOffset + n * p.qStride + u * 8u + m] : 0;
            else tileXd[c] = n < p.N ? xd[p.dOffset + n * p.dStride + u] : 0.0;
        }
        barrier();
        int b[TN][8];
        [[unroll]] for (uint j = 0u; j < TN; ++j)
            [[unroll]] for (uint m = 0u; m < 8u; ++m) b[j][m] = tileX[(tn * TN + j) * PAD + m];
        [[unroll]] for (uint i = 0u; i < TM; ++i) {
            const uint r = tm * TM + i;
            int a[8];
            [[unroll]] for (uint m = 0u; m < 8u; ++m) a[m] = tileW[r * PAD + m];
            const float dw = tileWd[r];
            [[unroll]] for (uint j = 0u; j < TN; ++j) {
                int s = 0;
                [[unroll]] for (uint m = 0u; m < 8u; ++m) s += dot4x8(a[m], b[j][m], 0);
                acc[i * TN + j] += float(s) * (dw * tileXd[tn * TN + j]);
            }
        }
        barrier();
    }
    [[unroll]] for (uint i = 0u; i < TM; ++i) {
        const uint m = m0 + tm * TM + i;
        if (m >= p.rows) continue;
        [[unroll]] for (uint j = 0u; j < TN; ++j) {
            const uint n = n0 + tn * TN + j;
            if (n < p.N) ys[p.yOffset + n * p.yStride + p.rowBase + m] = acc[i * TN + j];
        }
    }
}
