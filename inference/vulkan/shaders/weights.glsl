// Reading GGUF weight blocks from a storage buffer declared by the includer as `uint wdata[]`.
// Blocks are only 2-byte aligned for Q4_0/Q8_0/Q6_K/F16, so everything is addressed in bytes and
// read through 32-bit words (no 8/16-bit storage needed). Each type decodes a "unit" of 32
// consecutive weights of a row; float types mask weights at k >= K (rows of any length).
//
// With NARROW_LOADS (devices with 16- and 8-bit storage; F16, BF16, Q4_0, Q8_0) the includer also
// declares float16_t wdata16[], uint16_t wdata16u[], int8_t wdata8[] and uint8_t wdata8u[] on the
// weights' binding, and fp16 scales, 16-bit weights and 8-bit quants are loaded at their own width.
//
// Exactly one of WTYPE_F32, WTYPE_F16, WTYPE_BF16, WTYPE_Q8_0, WTYPE_Q4_0, WTYPE_Q4_K, WTYPE_Q5_K,
// WTYPE_Q6_K is defined by the build.
//
// A shader that reads two weight matrices of the same type (the fused gate/up matvec) includes this
// file twice: the second time with WFN(name) renaming the functions (name##Up) and W32, W64, W16,
// W16U, W8, W8U naming the second matrix's buffers. The block constants are defined once.
#ifndef WFN
#define WFN(name) name
#define W32 wdata
#define W64 wdata64
#define W16 wdata16
#define W16U wdata16u
#define W8 wdata8
#define W8U wdata8u
#endif

#ifndef OCELLE_WEIGHTS_COMMON
#define OCELLE_WEIGHTS_COMMON
int signedByte(uint word, uint byteIndex) { return bitfieldExtract(int(word), int(byteIndex * 8u), 8); }

#if defined(WTYPE_F32)
const uint BLOCK_BYTES = 4u;
const uint BLOCK_ELEMS = 1u;
#elif defined(WTYPE_F16) || defined(WTYPE_BF16)
const uint BLOCK_BYTES = 2u;
const uint BLOCK_ELEMS = 1u;
#elif defined(WTYPE_Q8_0)
const uint BLOCK_BYTES = 34u;
const uint BLOCK_ELEMS = 32u;
#elif defined(WTYPE_Q4_0)
const uint BLOCK_BYTES = 18u;
const uint BLOCK_ELEMS = 32u;
#elif defined(WTYPE_Q4_K)
const uint BLOCK_BYTES = 144u;
const uint BLOCK_ELEMS = 256u;
#elif defined(WTYPE_Q5_K)
const uint BLOCK_BYTES = 176u;
const uint BLOCK_ELEMS = 256u;
#elif defined(WTYPE_Q6_K)
const uint BLOCK_BYTES = 210u;
const uint BLOCK_ELEMS = 256u;
#else
#error "no WTYPE_* defined"
#endif
#endif

uint WFN(readU8)(uint o) { return (W32[o >> 2] >> ((o & 3u) << 3)) & 0xFFu; }
uint WFN(readU16)(uint o) { return (W32[o >> 2] >> ((o & 2u) << 3)) & 0xFFFFu; } // o even
uint WFN(readU32)(uint o) {
    const uint s = (o & 3u) << 3;
    const uint lo = W32[o >> 2];
    if (s == 0u) return lo;
    return (lo >> s) | (W32[(o >> 2) + 1u] << (32u - s));
}
#ifdef WIDE_LOADS
// The includer also declares `uint64_t wdata64[]` (W64) on the weights' binding: on CPU-type devices each
// load in a loop costs a loop over the lanes whatever its width, so 8 bytes per load halve that cost.
// a[0..2] = the 24 bytes from byte o (2-aligned) on, read as the 3 aligned words covering them.
void WFN(wideBytes3)(uint o, out uint64_t a[3]) {
    const uint i0 = o >> 3;
    const uint s = (o & 7u) * 8u;
    const uint64_t w0 = W64[i0], w1 = W64[i0 + 1u], w2 = W64[i0 + 2u];
    a[0] = s == 0u ? w0 : (w0 >> s) | (w1 << (64u - s));
    a[1] = s == 0u ? w1 : (w1 >> s) | (w2 << (64u - s));
    a[2] = w2 >> s;
}
#endif
float WFN(readF16)(uint o) { return unpackHalf2x16(WFN(readU16)(o)).x; }


#if defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K)
// The 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes at s.
void WFN(kScaleMin)(uint s, uint j, out uint sc, out uint m) {
    if (j < 4u) {
        sc = WFN(readU8)(s + j) & 63u;
        m = WFN(readU8)(s + j + 4u) & 63u;
    } else {
        sc = (WFN(readU8)(s + j + 4u) & 15u) | ((WFN(readU8)(s + j - 4u) >> 6) << 4);
        m = (WFN(readU8)(s + j + 4u) >> 4) | ((WFN(readU8)(s + j) >> 6) << 4);
    }
}
#endif

// v[i] = weight (unit * 32 + i) of the row starting at byte rowOff; K is the row length.
void WFN(dequantUnit)(uint rowOff, uint unit, uint K, out float v[32]) {
#if defined(NARROW_LOADS) && (defined(WTYPE_F16) || defined(WTYPE_BF16))
    // 16-bit storage: one 16-bit load per weight (rowOff is even).
    [[unroll]] for (uint i = 0u; i < 32u; ++i) {
        const uint k = unit * 32u + i;
#if defined(WTYPE_F16)
        v[i] = k < K ? float(W16[(rowOff >> 1) + k]) : 0.0;
#else
        v[i] = k < K ? uintBitsToFloat(uint(W16U[(rowOff >> 1) + k]) << 16) : 0.0;
#endif
    }
#elif defined(NARROW_LOADS) && defined(WTYPE_Q4_0)
    // 16-bit scale and 8-bit quants read where they are (8/16-bit storage): no word assembly.
    const uint b = rowOff + unit * 18u;
    const float d = float(W16[b >> 1]);
    const float offset = -8.0 * d;
    [[unroll]] for (uint i = 0u; i < 16u; ++i) {
        const uint q = uint(W8U[b + 2u + i]);
        v[i] = fma(float(q & 15u), d, offset);
        v[i + 16u] = fma(float(q >> 4), d, offset);
    }
#elif defined(NARROW_LOADS) && defined(WTYPE_Q8_0)
    const uint b = rowOff + unit * 34u;
    const float d = float(W16[b >> 1]);
    [[unroll]] for (uint i = 0u; i < 32u; ++i) v[i] = d * float(int(W8[b + 2u + i]));
#elif defined(WTYPE_F32) || defined(WTYPE_F16) || defined(WTYPE_BF16)
    [[unroll]] for (uint i = 0u; i < 32u; ++i) {
        const uint k = unit * 32u + i;
        float w = 0.0;
        if (k < K) {
#if defined(WTYPE_F32)
            w = uintBitsToFloat(W32[(rowOff >> 2) + k]);
#elif defined(WTYPE_F16)
            w = WFN(readF16)(rowOff + 2u * k);
#else
            w = uintBitsToFloat(WFN(readU16)(rowOff + 2u * k) << 16);
#endif
        }
        v[i] = w;
    }
#elif defined(WTYPE_Q4_0) && defined(WIDE_LOADS)
    // The 18-byte block as the 3 aligned 64-bit words covering it, shifted down by its offset in
    // the first word (0, 2, 4 or 6 bytes).
    uint64_t a[3];
    WFN(wideBytes3)(rowOff + unit * 18u, a);
    const float d = unpackHalf2x16(uint(a[0]) & 0xFFFFu).x;
    const float offset = -8.0 * d;
    const uint64_t lo = (a[0] >> 16) | (a[1] << 48), hi = (a[1] >> 16) | (a[2] << 48);
    const uint qws[4] = uint[4](uint(lo), uint(lo >> 32), uint(hi), uint(hi >> 32));
    [[unroll]] for (uint i = 0u; i < 4u; ++i) {
        const uint qw = qws[i];
        [[unroll]] for (uint j = 0u; j < 4u; ++j) {
            v[4u * i + j] = fma(float((qw >> (8u * j)) & 15u), d, offset);
            v[4u * i + j + 16u] = fma(float((qw >> (8u * j + 4u)) & 15u), d, offset);
        }
    }
#elif defined(WTYPE_Q4_0)
    // The 18-byte block read as the 5 aligned words covering it (a load per word is what costs on
    // CPU-type devices, where divergent loads become per-lane loops): the scale is the low or high
    // half of the first word, and the quants are shifted by 16 bits when the block starts mid-word.
    const uint b = rowOff + unit * 18u;
    const uint i0 = b >> 2;
    const bool midWord = (b & 2u) != 0u;
    uint w[5];
    [[unroll]] for (uint i = 0u; i < 5u; ++i) w[i] = W32[i0 + i];
    const float d = unpackHalf2x16(midWord ? (w[0] >> 16) : w[0]).x;
    const float offset = -8.0 * d; // d * (q - 8) = fma(q, d, -8 d), the same single rounding
    [[unroll]] for (uint i = 0u; i < 4u; ++i) {
        const uint qw = midWord ? w[i + 1u] : ((w[i] >> 16) | (w[i + 1u] << 16));
        [[unroll]] for (uint j = 0u; j < 4u; ++j) {
            v[4u * i + j] = fma(float((qw >> (8u * j)) & 15u), d, offset);
            v[4u * i + j + 16u] = fma(float((qw >> (8u * j + 4u)) & 15u), d, offset);
        }
    }
#elif defined(WTYPE_Q8_0) && defined(WIDE_LOADS)
    // The 34-byte block as the 5 aligned 64-bit words covering it.
    const uint b = rowOff + unit * 34u;
    const uint i0 = b >> 3;
    const uint s = (b & 7u) * 8u;
    uint64_t w[5];
    [[unroll]] for (uint i = 0u; i < 5u; ++i) w[i] = W64[i0 + i];
    uint64_t a[5]; // the block's bytes from its start
    [[unroll]] for (uint i = 0u; i < 4u; ++i) a[i] = s == 0u ? w[i] : (w[i] >> s) | (w[i + 1u] << (64u - s));
    a[4] = w[4] >> s;
    const float d = unpackHalf2x16(uint(a[0]) & 0xFFFFu).x;
    [[unroll]] for (uint i = 0u; i < 4u; ++i) {
        const uint64_t q = (a[i] >> 16) | (a[i + 1u] << 48); // quant bytes 8i .. 8i + 7
        const uint q0 = uint(q), q1 = uint(q >> 32);
        [[unroll]] for (uint j = 0u; j < 4u; ++j) {
            v[8u * i + j] = d * float(signedByte(q0, j));
            v[8u * i + j + 4u] = d * float(signedByte(q1, j));
        }
    }
#elif defined(WTYPE_Q8_0)
    // As Q4_0: the 34-byte block as the 9 aligned words covering it.
    const uint b = rowOff + unit * 34u;
    const uint i0 = b >> 2;
    const bool midWord = (b & 2u) != 0u;
    uint w[9];
    [[unroll]] for (uint i = 0u; i < 9u; ++i) w[i] = W32[i0 + i];
    const float d = unpackHalf2x16(midWord ? (w[0] >> 16) : w[0]).x;
    [[unroll]] for (uint i = 0u; i < 8u; ++i) {
        const uint qw = midWord ? w[i + 1u] : ((w[i] >> 16) | (w[i + 1u] << 16));
        [[unroll]] for (uint j = 0u; j < 4u; ++j) v[4u * i + j] = d * float(signedByte(qw, j));
    }
#elif defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K)
    const uint j = unit & 7u;
    const uint b = rowOff + (unit >> 3) * BLOCK_BYTES; // 16-byte aligned: rowBytes is a multiple of 16
    const vec2 dm = unpackHalf2x16(W32[b >> 2]);
    uint sc, m;
    WFN(kScaleMin)(b + 4u, j, sc, m);
    const float scale = dm.x * float(sc);
    const float minimum = dm.y * float(m);
#if defined(WTYPE_Q4_K)
    const uint q = (b + 16u + (j >> 1) * 32u) >> 2;
#else
    const uint q = (b + 48u + (j >> 1) * 32u) >> 2;
    const uint h = (b + 16u) >> 2;
#endif
    const uint shift = (j & 1u) * 4u;
    [[unroll]] for (uint i = 0u; i < 8u; ++i) {
        const uint w = W32[q + i];
#if defined(WTYPE_Q5_K)
        const uint hw = W32[h + i];
#endif
        [[unroll]] for (uint k = 0u; k < 4u; ++k) {
            uint x = (w >> (8u * k + shift)) & 15u;
#if defined(WTYPE_Q5_K)
            x |= ((hw >> (8u * k + j)) & 1u) << 4;
#endif
            v[4u * i + k] = scale * float(x) - minimum;
        }
    }
#elif defined(WTYPE_Q6_K)
    const uint b = rowOff + (unit >> 3) * 210u;
    const uint within = unit & 7u;
    const uint half_ = within >> 2;
    const uint quarter = within & 3u;
    const float d = WFN(readF16)(b + 208u);
    const uint ql = b + half_ * 64u + (quarter & 1u) * 32u;
    const uint nibbleShift = (quarter >> 1) * 4u;
    const uint qh = b + 128u + half_ * 32u;
    const uint highShift = 2u * quarter;
    const uint sc = b + 192u + half_ * 8u + 2u * quarter;
    const float s0 = d * float(bitfieldExtract(int(WFN(readU8)(sc)), 0, 8));
    const float s1 = d * float(bitfieldExtract(int(WFN(readU8)(sc + 1u)), 0, 8));
    [[unroll]] for (uint i = 0u; i < 8u; ++i) {
        const uint wl = WFN(readU32)(ql + 4u * i);
        const uint wh = WFN(readU32)(qh + 4u * i);
        [[unroll]] for (uint k = 0u; k < 4u; ++k) {
            const uint x = ((wl >> (8u * k + nibbleShift)) & 15u) | (((wh >> (8u * k + highShift)) & 3u) << 4);
            v[4u * i + k] = (i < 4u ? s0 : s1) * (float(x) - 32.0);
        }
    }
#endif
}
