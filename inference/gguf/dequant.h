// Weight formats: ggml's block layouts decoded to f32 (bit-exact with ggml), and the two
// quantizers the GGUF writer needs.
#pragma once

#include "gguf/tensor_types.h"

#include <cstdint>

namespace ocelle::gguf {

float fp16ToFloat(uint16_t h);
uint16_t floatToFp16(float f); // round to nearest even, as ggml
float bf16ToFloat(uint16_t b);
uint16_t floatToBf16(float f); // round to nearest even, NaN kept quiet, as ggml

// Whether dequantizeRow handles this type (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K).
bool canDequantize(uint32_t rawType);

// Decodes n weights starting at src (n a multiple of the type's block size) into dst. src needs
// no alignment; nothing is allocated. Results are bit-identical to ggml's to_float.
// Throws std::invalid_argument for a type canDequantize() refuses or a partial block.
void dequantizeRow(uint32_t rawType, const void* src, float* dst, int64_t n);

// Whether quantizeRow handles this type (F32, F16, BF16, Q8_0, Q4_0).
bool canQuantize(uint32_t rawType);

// Encodes n floats (a multiple of the block size) into dst, which holds n / blockElements blocks,
// rounding as ggml's reference quantizers (quantize_row_q8_0_ref / _q4_0_ref) do. NaN/inf inputs
// give defined (clamped) codes. Throws std::invalid_argument like dequantizeRow.
void quantizeRow(uint32_t rawType, const float* src, void* dst, int64_t n);

} // namespace ocelle::gguf
