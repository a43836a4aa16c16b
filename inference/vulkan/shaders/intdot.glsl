// The integer-dot kernels' shared pieces (matvec_q8.comp, matmul_q8.comp): the packed dot product and
// Q4_0 / Q8_0 weight blocks as packed int8 words. The includer declares `uint wdata[]` and includes
// weights.glsl first.
#extension GL_EXT_spirv_intrinsics : require

// OpSDot (4450) on two words of four int8 each, PackedVectorFormat4x8Bit (0): capabilities
// DotProduct (6019) and DotProductInput4x8BitPacked (6018).
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6019, 6018], id = 4450)
int dot4x8(int a, int b, spirv_literal int packedFormat);

// Weight block `unit` of the row at byte rowOff as 8 words of four int8 in the activations' order
// (weight i in byte i % 4 of word i / 4), and its scale. Blocks are 2-byte aligned: read as the
// aligned words covering them.
void weightBlock(uint rowOff, uint unit, out int w[8], out float d) {
#if defined(WTYPE_Q4_0)
    const uint b = rowOff + unit * 18u;
    const uint i0 = b >> 2;
    const bool midWord = (b & 2u) != 0u;
    uint a[5];
    [[unroll]] for (uint i = 0u; i < 5u; ++i) a[i] = wdata[i0 + i];
    d = unpackHalf2x16(midWord ? (a[0] >> 16) : a[0]).x;
    [[unroll]] for (uint i = 0u; i < 4u; ++i) {
        const uint qw = midWord ? a[i + 1u] : ((a[i] >> 16) | (a[i + 1u] << 16));
        // Byte j holds weight 4i + j (low nibble) and 16 + 4i + j (high nibble), stored + 8.
        // Nibble n -> int8 n - 8 in every byte without carries: (n + 120) ^ 128.
        w[i] = int(((qw & 0x0F0F0F0Fu) + 0x78787878u) ^ 0x80808080u);
        w[i + 4u] = int((((qw >> 4) & 0x0F0F0F0Fu) + 0x78787878u) ^ 0x80808080u);
    }
#elif defined(WTYPE_Q8_0)
    const uint b = rowOff + unit * 34u;
    const uint i0 = b >> 2;
    const bool midWord = (b & 2u) != 0u;
    uint a[9];
    [[unroll]] for (uint i = 0u; i < 9u; ++i) a[i] = wdata[i0 + i];
    d = unpackHalf2x16(midWord ? (a[0] >> 16) : a[0]).x;
    [[unroll]] for (uint i = 0u; i < 8u; ++i)
        w[i] = int(midWord ? a[i + 1u] : ((a[i] >> 16) | (a[i + 1u] << 16)));
#else
#error "matvec_q8 is for Q4_0 and Q8_0 weights"
#endif
}

