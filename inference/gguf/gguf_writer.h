// Writing GGUF files (version 3 by default): metadata of every value type, tensors given as f32
// (quantized on the way) or as raw bytes, laid out with the file's alignment. Used by tests and
// tools to build small models with chosen shapes and types.
#pragma once

#include "gguf/gguf.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ocelle::gguf {

// One metadata value to write. Arrays hold their elements as MetaValues of one element type
// (which may itself be Array, for nested arrays).
class MetaValue {
public:
    static MetaValue uint8(uint8_t v);
    static MetaValue int8(int8_t v);
    static MetaValue uint16(uint16_t v);
    static MetaValue int16(int16_t v);
    static MetaValue uint32(uint32_t v);
    static MetaValue int32(int32_t v);
    static MetaValue uint64(uint64_t v);
    static MetaValue int64(int64_t v);
    static MetaValue float32(float v);
    static MetaValue float64(double v);
    static MetaValue boolean(bool v);
    static MetaValue string(std::string v);
    // Throws std::invalid_argument when an item's type is not elementType.
    static MetaValue array(ValueType elementType, std::vector<MetaValue> items);
    static MetaValue stringArray(const std::vector<std::string>& items);
    static MetaValue int32Array(const std::vector<int32_t>& items);
    static MetaValue uint32Array(const std::vector<uint32_t>& items);
    static MetaValue float32Array(const std::vector<float>& items);
    static MetaValue boolArray(const std::vector<bool>& items);
    // A copy of a value read from a GGUF file (e.g. to carry a tokenizer into a new file).
    static MetaValue copyOf(const Value& v);

    ValueType type() const { return type_; }
    ValueType elementType() const { return elementType_; }
    const std::vector<MetaValue>& items() const { return items_; }
    uint64_t bits() const { return bits_; }             // scalars: integer (two's complement) or float bits
    const std::string& text() const { return string_; } // strings

private:
    ValueType type_ = ValueType::UInt8;
    uint64_t bits_ = 0; // integers and bools (two's complement), f32/f64 bit patterns
    std::string string_;
    ValueType elementType_ = ValueType::UInt8;
    std::vector<MetaValue> items_;
};

class Writer {
public:
    // GGUF versions 2 and 3 share the layout this writer produces; 3 is what llama.cpp writes.
    explicit Writer(uint32_t version = 3);

    // Adds or replaces a key (the order of first insertion is kept). Setting "general.alignment"
    // (a u32 power of two up to 1 MiB, as readers require) changes the alignment of the tensor data.
    // Throws std::invalid_argument for an empty key or a bad alignment.
    void set(const std::string& key, MetaValue value);
    // Writes general.alignment as a u32 (GGUF's default is 32 and needs no key).
    void setAlignment(uint32_t alignment);
    uint64_t alignment() const { return alignment_; }

    // A tensor from f32 values (ggml order shape: ne[0] is the contiguous row), converted to
    // rawType with quantizeRow (F32, F16, BF16, Q8_0, Q4_0). values.size() must equal the
    // element count and ne[0] must be a multiple of the type's block size.
    void addTensor(const std::string& name, std::vector<int64_t> ne, uint32_t rawType,
                   std::span<const float> values);
    // A tensor of any known type given as its stored bytes (exactly the size the shape needs).
    void addRawTensor(const std::string& name, std::vector<int64_t> ne, uint32_t rawType,
                      std::span<const uint8_t> bytes);
    // Both throw std::invalid_argument for a duplicate name, a shape of 0 or more than 4
    // dimensions, a negative dimension, an unknown or unsupported type or a size mismatch.

    // The complete file image.
    std::vector<uint8_t> toBytes() const;
    // Writes the file; throws gguf::Error naming the path when it cannot be written.
    void write(const std::string& path) const;

private:
    struct Tensor {
        std::string name;
        std::vector<int64_t> ne;
        uint32_t rawType;
        std::vector<uint8_t> bytes;
    };
    void checkNewTensor(const std::string& name, const std::vector<int64_t>& ne, uint32_t rawType,
                        uint64_t& nbytes) const;

    uint32_t version_;
    uint64_t alignment_ = 32;
    std::vector<std::pair<std::string, MetaValue>> metadata_;
    std::vector<Tensor> tensors_;
};

} // namespace ocelle::gguf
