#version 450
// Matrix-vector product with one row per invocation, for CPU-type Vulkan devices (lavapipe): there
// the invocations of a workgroup are SIMD lanes of one CPU thread, so a cross-lane reduction
// (barriers, shared memory) costs more than it saves, while the activations every lane reads at the
// same address are loaded once for all lanes. Same push constants and results as matvec.comp
// (with MOE: the expert matvec, COLS = 1, columns = expert slots). GPUs use matvec.comp, whose
// lanes read consecutive weights of one row.
// With COLS > 1 it is the prefill kernel for these devices: each decoded weight unit is used for
// COLS tokens (grid y = token blocks), which is what makes batched prompts cheaper than decode.
// With GATED (decode, COLS = 1) it is the fused FFN input: binding 0 holds the gate matrix, binding 3
// the up matrix of the same type and shape, and the result is gelu_tanh(gate . x) * (up . x), both
// products accumulated in fp32 by the same lane (one dispatch instead of two matvecs and geglu).
// With LANE_BROADCAST (subgroups of exactly 8 lanes with ballot operations), each lane loads every
// 8th activation of a unit and subgroupBroadcast hands them to the others: on lavapipe every
// storage-buffer load inside a loop becomes a loop over the 8 lanes even when all lanes read the
// same address, so 8 lanes reading 8 different activations replace 8 loads of one value each
// (4 instead of 32 load loops per unit and column; broadcasts are register shuffles).
#include "common.glsl"
#ifdef LANE_BROADCAST
#extension GL_KHR_shader_subgroup_ballot : enable
#endif

layout(binding = 0) readonly buffer Weights { uint wdata[]; };
#ifdef WIDE_LOADS
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
layout(binding = 0) readonly buffer Weights64 { uint64_t wdata64[]; };
#endif
layout(binding = 1) readonly buffer Input { float xs[]; };
layout(binding = 2) writeonly buffer Output { float ys[]; };
#ifdef MOE
layout(binding = 3) readonly buffer Ids { uint ids[]; };
#endif
#ifdef GATED
layout(binding = 3) readonly buffer UpWeights { uint wup[]; };
#ifdef WIDE_LOADS
layout(binding = 3) readonly buffer UpWeights64 { uint64_t wup64[]; };
#endif
#endif

#include "weights.glsl"
#ifdef GATED
// The up matrix's reader: dequantUnitUp() on binding 3.
#undef WFN
#undef W32
#undef W64
#define WFN(name) name##Up
#define W32 wup
#define W64 wup64
#include "weights.glsl"
#endif

layout(constant_id = 1) const uint COLS = 1;
// Rows per lane (not with MOE): each loaded activation serves RPL rows. A workgroup covers WG * RPL
// rows; lane l has rows l, l + WG, ...
layout(constant_id = 2) const uint RPL = 1;

layout(push_constant) uniform Push {
    uint K;
    uint rows;
    uint rowBytes;
    uint xOffset;
    uint xStride;
    uint yOffset;
    uint yStride;
    uint rowBase;
    float softcap;
    uint groupsX;
    uint columns; // total columns (tokens); this workgroup does [y * COLS, y * COLS + COLS)
#ifdef MOE
    uint expertCount; // experts in this chunk, the first being `columns` (MOE reuses that field)
    uint xDiv;
    uint idsOffset;
#endif
} p;

// Float rows may end inside a unit; quantized rows are whole blocks of 32.
const bool RAGGED = BLOCK_ELEMS == 1u;

// xv[i] = xs[base + i] for i < count (0 beyond), the same values in every lane.
void loadUnitOfX(uint base, uint count, out float xv[32]) {
#ifdef LANE_BROADCAST
    const uint lane = gl_SubgroupInvocationID;
    [[unroll]] for (uint m = 0u; m < 4u; ++m) {
        const uint i = m * 8u + lane;
        const float mine = (!RAGGED || i < count) ? xs[base + i] : 0.0;
        [[unroll]] for (uint j = 0u; j < 8u; ++j) xv[m * 8u + j] = subgroupBroadcast(mine, j);
    }
#else
    [[unroll]] for (uint i = 0u; i < 32u; ++i) xv[i] = (!RAGGED || i < count) ? xs[base + i] : 0.0;
#endif
}

void main() {
    const uint group = gl_WorkGroupID.x + gl_WorkGroupID.z * p.groupsX;
#ifdef MOE
    if (group * WG >= p.rows) return; // a whole workgroup past the end (uniform)
    const uint wanted = group * WG + gl_LocalInvocationID.x;
    // Lanes past the last row recompute it and store nothing: their loads stay in bounds and, with
    // lane broadcasts, every lane of a subgroup has to take part.
    const uint row = min(wanted, p.rows - 1u);
    const bool store = wanted < p.rows;
    const uint units = (p.K + 31u) / 32u;
    const uint slot = gl_WorkGroupID.y;
    const uint expert = ids[p.idsOffset + slot];
    const uint expertFirst = p.columns;
    if (expert < expertFirst || expert >= expertFirst + p.expertCount) return; // uniform
    const uint rowOff = ((expert - expertFirst) * p.rows + row) * p.rowBytes;
    const uint xBase = p.xOffset + (slot / p.xDiv) * p.xStride;
    float acc = 0.0;
    for (uint u = 0u; u < units; ++u) {
        float w[32], xv[32];
        dequantUnit(rowOff, u, p.K, w);
        loadUnitOfX(xBase + u * 32u, p.K - u * 32u, xv);
        [[unroll]] for (uint i = 0u; i < 32u; ++i) acc = fma(w[i], xv[i], acc);
    }
    if (store) ys[p.yOffset + slot * p.yStride + row] = acc;
#elif defined(GATED)
    const uint first = group * WG * RPL;
    if (first >= p.rows) return; // a whole workgroup past the end (uniform)
    const uint units = (p.K + 31u) / 32u;
    const uint col = gl_WorkGroupID.y;
    uint rowOff[RPL];
    [[unroll]] for (uint r = 0u; r < RPL; ++r)
        rowOff[r] = min(first + r * WG + gl_LocalInvocationID.x, p.rows - 1u) * p.rowBytes;
    float gate[RPL], up[RPL];
    [[unroll]] for (uint r = 0u; r < RPL; ++r) {
        gate[r] = 0.0;
        up[r] = 0.0;
    }
    for (uint u = 0u; u < units; ++u) {
        // All of the unit's weights first, then the activations (as the plain matvec does).
        float wg[RPL][32], wu[RPL][32];
        [[unroll]] for (uint r = 0u; r < RPL; ++r) {
            dequantUnit(rowOff[r], u, p.K, wg[r]);
            dequantUnitUp(rowOff[r], u, p.K, wu[r]);
        }
        float xv[32];
        loadUnitOfX(p.xOffset + col * p.xStride + u * 32u, p.K - u * 32u, xv);
        [[unroll]] for (uint r = 0u; r < RPL; ++r) {
            float sg = 0.0, su = 0.0;
            [[unroll]] for (uint i = 0u; i < 32u; ++i) {
                sg = fma(wg[r][i], xv[i], sg);
                su = fma(wu[r][i], xv[i], su);
            }
            gate[r] += sg;
            up[r] += su;
        }
    }
    [[unroll]] for (uint r = 0u; r < RPL; ++r) {
        const uint row = first + r * WG + gl_LocalInvocationID.x;
        if (row < p.rows) ys[p.yOffset + col * p.yStride + p.rowBase + row] = geluTanh(gate[r]) * up[r];
    }
#else
    const uint first = group * WG * RPL;
    if (first >= p.rows) return; // a whole workgroup past the end (uniform)
    const uint units = (p.K + 31u) / 32u;
    const uint col0 = gl_WorkGroupID.y * COLS;
    // Lanes past the last row recompute it and store nothing: their loads stay in bounds and, with
    // lane broadcasts, every lane of a subgroup has to take part.
    uint rowOff[RPL];
    [[unroll]] for (uint r = 0u; r < RPL; ++r)
        rowOff[r] = min(first + r * WG + gl_LocalInvocationID.x, p.rows - 1u) * p.rowBytes;
    float acc[COLS * RPL];
    [[unroll]] for (uint c = 0u; c < COLS * RPL; ++c) acc[c] = 0.0;
    for (uint u = 0u; u < units; ++u) {
        float w[RPL][32];
        [[unroll]] for (uint r = 0u; r < RPL; ++r) dequantUnit(rowOff[r], u, p.K, w[r]);
        [[unroll]] for (uint c = 0u; c < COLS; ++c) {
            if (col0 + c < p.columns) { // uniform across the workgroup
                float xv[32];
                loadUnitOfX(p.xOffset + (col0 + c) * p.xStride + u * 32u, p.K - u * 32u, xv);
                [[unroll]] for (uint r = 0u; r < RPL; ++r) {
                    float s = 0.0;
                    [[unroll]] for (uint i = 0u; i < 32u; ++i) s = fma(w[r][i], xv[i], s);
                    acc[c * RPL + r] += s;
                }
            }
        }
    }
    [[unroll]] for (uint r = 0u; r < RPL; ++r) {
        const uint row = first + r * WG + gl_LocalInvocationID.x;
        if (row < p.rows) {
            [[unroll]] for (uint c = 0u; c < COLS; ++c) {
                if (col0 + c < p.columns) {
                    float v = acc[c * RPL + r];
                    if (p.softcap > 0.0) v = p.softcap * stableTanh(v / p.softcap);
                    ys[p.yOffset + (col0 + c) * p.yStride + p.rowBase + row] = v;
                }
            }
        }
    }
#endif
}
