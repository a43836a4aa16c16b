// Reading GGUF files (versions 2 and 3): metadata, tensor directory, memory-mapped tensor data.
//
// Every count, offset and length in the file is checked against the file's size before it is used,
// so a truncated or hostile file ends in a gguf::Error naming the file and the problem, never in a
// crash or an allocation the file's size cannot justify.
#pragma once

#include "gguf/tensor_types.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ocelle::gguf {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// GGUF metadata value types (gguf.h `enum gguf_type`).
enum class ValueType : uint32_t {
    UInt8 = 0,
    Int8 = 1,
    UInt16 = 2,
    Int16 = 3,
    UInt32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    UInt64 = 10,
    Int64 = 11,
    Float64 = 12,
};

const char* valueTypeName(ValueType t);

// One metadata value. Scalars are held decoded; arrays of scalars point into the mapped file;
// arrays of strings hold views into the mapped file; arrays of arrays hold their elements.
// Views stay valid as long as the File that produced the value.
class Value {
public:
    ValueType type() const { return type_; }
    bool isArray() const { return type_ == ValueType::Array; }
    bool isInteger() const;
    bool isFloat() const { return type_ == ValueType::Float32 || type_ == ValueType::Float64; }

    // Scalar accessors: nothing when the value is not of a fitting type (or an integer does not fit).
    std::optional<int64_t> toInt() const;
    std::optional<uint64_t> toUInt() const;
    std::optional<double> toFloat() const; // integers convert too
    std::optional<bool> toBool() const;
    std::optional<std::string_view> toString() const;

    // Arrays.
    ValueType elementType() const { return elementType_; }
    uint64_t size() const { return count_; }
    std::optional<int64_t> intAt(uint64_t i) const;
    std::optional<uint64_t> uintAt(uint64_t i) const; // integer elements that are not negative
    std::optional<double> floatAt(uint64_t i) const;
    std::optional<bool> boolAt(uint64_t i) const;
    std::string_view stringAt(uint64_t i) const { return strings_.at(i); }
    const Value& arrayAt(uint64_t i) const { return items_.at(i); }
    const std::vector<std::string_view>& strings() const { return strings_; }

    // Short human-readable rendering ("[1, 2, 3, ... 35 items]").
    std::string describe(size_t maxItems = 8) const;

private:
    friend class Parser;
    ValueType type_ = ValueType::UInt8;
    // scalars
    uint64_t bits_ = 0; // integer/bool payload (sign-extended for signed types) or float bits
    double float_ = 0;
    std::string_view string_;
    // arrays
    ValueType elementType_ = ValueType::UInt8;
    uint64_t count_ = 0;
    const uint8_t* raw_ = nullptr; // scalar array elements, little-endian, possibly unaligned
    std::vector<std::string_view> strings_;
    std::vector<Value> items_;
};

struct TensorInfo {
    std::string name;
    uint32_t rawType = 0;
    std::vector<int64_t> ne; // ggml order: ne[0] is the contiguous (input) width
    uint64_t offset = 0;     // relative to the data section
    uint64_t nbytes = 0;
    const uint8_t* data = nullptr; // into the mapping

    TensorType type() const { return static_cast<TensorType>(rawType); }
    int64_t elements() const;
    int64_t dim(size_t i) const { return i < ne.size() ? ne[i] : 1; }
    int64_t rows() const;            // elements / ne[0]
    std::string shapeString() const; // "{64, 262144}"
};

class File {
public:
    // Opens and validates a GGUF file. Throws gguf::Error.
    static std::unique_ptr<File> open(const std::string& path);
    // Parses a GGUF image already in memory (not copied: `bytes` must outlive the File).
    static std::unique_ptr<File> fromMemory(std::span<const uint8_t> bytes, std::string name = "<memory>");

    ~File();
    File(const File&) = delete;
    File& operator=(const File&) = delete;

    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    uint64_t alignment() const { return alignment_; }
    uint64_t fileSize() const { return size_; }
    uint64_t dataOffset() const { return dataOffset_; }

    const std::vector<std::pair<std::string, Value>>& metadata() const { return metadata_; }
    const Value* find(std::string_view key) const;
    // Typed look-ups; throw gguf::Error naming the key when it is missing (required) or mistyped.
    std::optional<int64_t> getInt(std::string_view key) const;
    std::optional<double> getFloat(std::string_view key) const;
    std::optional<bool> getBool(std::string_view key) const;
    std::optional<std::string> getString(std::string_view key) const;
    int64_t requireInt(std::string_view key) const;
    std::string requireString(std::string_view key) const;

    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    const TensorInfo* tensor(std::string_view name) const;
    const TensorInfo& requireTensor(std::string_view name) const;

    // "path: message", the form every error about this file takes.
    [[noreturn]] void fail(const std::string& message) const;

private:
    File() = default;
    friend class Parser;
    std::string path_;
    const uint8_t* base_ = nullptr;
    uint64_t size_ = 0;
    void* mapping_ = nullptr; // owned mmap, if any
    uint32_t version_ = 0;
    uint64_t alignment_ = 32;
    uint64_t dataOffset_ = 0;
    std::vector<std::pair<std::string, Value>> metadata_;
    std::unordered_map<std::string, size_t> metadataIndex_;
    std::vector<TensorInfo> tensors_;
    std::unordered_map<std::string, size_t> tensorIndex_;
};

} // namespace ocelle::gguf
