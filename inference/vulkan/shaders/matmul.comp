#version 450
// Tiled matrix-matrix product for prefill: Y[n][m] = W[m] . X[n] for N tokens at once. A
// workgroup computes a BM x BN tile; each K step dequantizes one 32-weight unit of BM rows into
// shared memory (each weight decoded once per tile instead of once per token) and stages the
// matching 32 x BN activations; every invocation accumulates a 4 x 4 block in fp32 registers.
#include "common.glsl"

layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
const uint TM = 4u;
const uint TN = 4u;
const uint BK = 32u;

layout(binding = 0) readonly buffer Weights { uint wdata[]; };
layout(binding = 1) readonly buffer Input { float xs[]; };
layout(binding = 2) writeonly buffer Output { float ys[]; };

#include "weights.glsl"

layout(push_constant) uniform Push {
    uint K;
    uint rows;     // M, rows in this chunk
    uint rowBytes;
    uint xOffset;
    uint xStride;
    uint yOffset;
    uint yStride;
    uint rowBase;
    uint N;        // tokens
} p;

shared float tileW[BK * BM];
shared float tileX[BK * BN];

void main() {
    const uint t = gl_LocalInvocationID.x;
    const uint m0 = gl_WorkGroupID.x * BM;
    const uint n0 = gl_WorkGroupID.y * BN;
    const uint threadsM = BM / TM;
    const uint tm = t % threadsM;
    const uint tn = t / threadsM;

    float acc[TM * TN];
    [[unroll]] for (uint i = 0u; i < TM * TN; ++i) acc[i] = 0.0;

    const uint units = (p.K + 31u) / 32u;
    for (uint u = 0u; u < units; ++u) {
        for (uint r = t; r < BM; r += WG) {
            float w[32];
            const uint row = m0 + r;
            if (row < p.rows) dequantUnit(row * p.rowBytes, u, p.K, w);
            else [[unroll]] for (uint i = 0u; i < 32u; ++i) w[i] = 0.0;
            [[unroll]] for (uint i = 0u; i < 32u; ++i) tileW[i * BM + r] = w[i];
        }
        for (uint idx = t; idx < BK * BN; idx += WG) {
            const uint c = idx / BK;
            const uint kk = idx % BK;
            const uint n = n0 + c;
            const uint k = u * 32u + kk;
            tileX[kk * BN + c] = (n < p.N && k < p.K) ? xs[p.xOffset + n * p.xStride + k] : 0.0;
        }
        barrier();
        [[unroll]] for (uint kk = 0u; kk < BK; ++kk) {
            float a[TM];
            float b[TN];
            [[unroll]] for (uint i = 0u; i < TM; ++i) a[i] = tileW[kk * BM + tm * TM + i];
            [[unroll]] for (uint j = 0u; j < TN; ++j) b[j] = tileX[kk * BN + tn * TN + j];
            [[unroll]] for (uint i = 0u; i < TM; ++i)
                [[unroll]] for (uint j = 0u; j < TN; ++j) acc[i * TN + j] = fma(a[i], b[j], acc[i * TN + j]);
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
