// libFuzzer target for the GGUF reader: any input must either parse or end in gguf::Error; a
// parsed file's metadata and tensor data must be safe to walk in full (sanitizers watch it).
#include "gguf/dequant.h"
#include "gguf/gguf.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

using namespace ocelle::gguf;

namespace {

// Touches every element of a value through the public accessors.
size_t walk(const Value& v) {
    size_t touched = v.describe().size();
    if (!v.isArray())
        return touched + v.toInt().has_value() + v.toFloat().has_value() + v.toString().has_value();
    for (uint64_t i = 0; i < v.size(); ++i) {
        switch (v.elementType()) {
        case ValueType::String:
            touched += v.stringAt(i).size();
            break;
        case ValueType::Array:
            touched += walk(v.arrayAt(i));
            break;
        case ValueType::Bool:
            touched += v.boolAt(i).value_or(false);
            break;
        default:
            touched += v.intAt(i).has_value() + v.uintAt(i).has_value() + v.floatAt(i).has_value();
            break;
        }
    }
    return touched;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        auto file = File::fromMemory(std::span<const uint8_t>(data, size), "fuzz-input.gguf");
        size_t touched = 0;
        for (const auto& [key, value] : file->metadata()) touched += key.size() + walk(value);
        // The first and last row of every tensor we can decode: the reader's byte size and bounds
        // checks are what keep these reads inside the input.
        std::vector<float> row;
        for (const TensorInfo& t : file->tensors()) {
            touched += t.shapeString().size();
            if (!canDequantize(t.rawType) || t.elements() == 0 || t.ne[0] > (1 << 16)) continue;
            const auto traits = *typeTraits(t.rawType);
            const uint64_t rowBytes =
                static_cast<uint64_t>(t.ne[0]) / traits.blockElements * traits.blockBytes;
            row.resize(static_cast<size_t>(t.ne[0]));
            dequantizeRow(t.rawType, t.data, row.data(), t.ne[0]);
            dequantizeRow(t.rawType, t.data + (static_cast<uint64_t>(t.rows()) - 1) * rowBytes, row.data(),
                          t.ne[0]);
            touched += static_cast<size_t>(std::count(row.begin(), row.end(), 0.0f));
        }
        if (touched == SIZE_MAX) return -1; // keeps the walk from being optimised away
    } catch (const Error&) {
        // Refusing a broken file with an Error is the expected outcome.
    }
    return 0;
}
