// ggml tensor types as they appear in GGUF files: ids, block geometry and names.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace ocelle::gguf {

// Numeric ids are ggml's (ggml.h `enum ggml_type`); gaps are ids ggml has retired.
enum class TensorType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    IQ1_M = 29,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
    MXFP4 = 39,
};

struct TypeTraits {
    const char* name;
    uint32_t blockElements; // weights per block
    uint32_t blockBytes;    // bytes per block
};

// Traits of a raw type id, or nothing when the id is not a ggml type we know.
std::optional<TypeTraits> typeTraits(uint32_t rawType);

// "Q4_K", or "type 77" for an unknown id.
std::string typeName(uint32_t rawType);
inline std::string typeName(TensorType t) {
    return typeName(static_cast<uint32_t>(t));
}

} // namespace ocelle::gguf
