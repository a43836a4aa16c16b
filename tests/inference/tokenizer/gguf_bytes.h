// Hand-assembled GGUF images for tests that need a file the fixtures do not provide.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ocelle::testing {

class GgufBytes {
public:
    explicit GgufBytes(uint32_t version = 3) {
        put("GGUF", 4);
        u32(version);
        u64(0); // tensors
        countAt_ = bytes_.size();
        u64(0); // metadata entries, patched as they are added
    }
    GgufBytes& string(const std::string& key, const std::string& value) {
        begin(key, 8);
        str(value);
        return *this;
    }
    GgufBytes& u32Value(const std::string& key, uint32_t value) {
        begin(key, 4);
        u32(value);
        return *this;
    }
    GgufBytes& strings(const std::string& key, const std::vector<std::string>& values) {
        begin(key, 9);
        u32(8);
        u64(values.size());
        for (const auto& v : values) str(v);
        return *this;
    }
    GgufBytes& int32s(const std::string& key, const std::vector<int32_t>& values) {
        begin(key, 9);
        u32(5);
        u64(values.size());
        for (int32_t v : values) u32(static_cast<uint32_t>(v));
        return *this;
    }
    std::vector<uint8_t> finish() const {
        std::vector<uint8_t> out = bytes_;
        while (out.size() % 32) out.push_back(0);
        return out;
    }

private:
    void begin(const std::string& key, uint32_t type) {
        str(key);
        u32(type);
        ++count_;
        for (int i = 0; i < 8; ++i) bytes_[countAt_ + i] = static_cast<uint8_t>(count_ >> (8 * i));
    }
    void put(const void* p, size_t n) {
        const auto* b = static_cast<const uint8_t*>(p);
        for (size_t i = 0; i < n; ++i) bytes_.push_back(b[i]); // (vector::insert trips a GCC 12 false warning)
    }
    void u32(uint32_t v) {
        for (int i = 0; i < 4; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
    }
    void u64(uint64_t v) {
        for (int i = 0; i < 8; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
    }
    void str(const std::string& s) {
        u64(s.size());
        put(s.data(), s.size());
    }
    std::vector<uint8_t> bytes_;
    size_t countAt_ = 0;
    uint64_t count_ = 0;
};

} // namespace ocelle::testing
