#include "gguf/gguf_writer.h"

#include "gguf/dequant.h"

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace ocelle::gguf {

namespace {

constexpr uint32_t kMagic = 0x46554747; // "GGUF" as a little-endian u32
constexpr char kAlignmentKey[] = "general.alignment";

class ByteSink {
public:
    std::vector<uint8_t> bytes;

    template <typename T> void put(T v) { append(&v, sizeof(T)); } // GGUF is little-endian, as our platforms
    void putString(const std::string& s) {
        put<uint64_t>(s.size());
        append(s.data(), s.size());
    }
    void append(const void* data, size_t n) {
        const size_t at = bytes.size();
        bytes.resize(at + n);
        if (n) std::memcpy(bytes.data() + at, data, n);
    }
    void padTo(uint64_t alignment) {
        const uint64_t rem = bytes.size() % alignment;
        if (rem) bytes.resize(bytes.size() + (alignment - rem), 0);
    }
};

uint64_t scalarBytes(ValueType t) {
    switch (t) {
    case ValueType::UInt8:
    case ValueType::Int8:
    case ValueType::Bool:
        return 1;
    case ValueType::UInt16:
    case ValueType::Int16:
        return 2;
    case ValueType::UInt32:
    case ValueType::Int32:
    case ValueType::Float32:
        return 4;
    case ValueType::UInt64:
    case ValueType::Int64:
    case ValueType::Float64:
        return 8;
    case ValueType::String:
    case ValueType::Array:
        return 0;
    }
    return 0;
}

MetaValue scalarOf(ValueType t, uint64_t bits) {
    switch (t) {
    case ValueType::UInt8:
        return MetaValue::uint8(static_cast<uint8_t>(bits));
    case ValueType::Int8:
        return MetaValue::int8(static_cast<int8_t>(bits));
    case ValueType::UInt16:
        return MetaValue::uint16(static_cast<uint16_t>(bits));
    case ValueType::Int16:
        return MetaValue::int16(static_cast<int16_t>(bits));
    case ValueType::UInt32:
        return MetaValue::uint32(static_cast<uint32_t>(bits));
    case ValueType::Int32:
        return MetaValue::int32(static_cast<int32_t>(bits));
    case ValueType::UInt64:
        return MetaValue::uint64(bits);
    case ValueType::Int64:
        return MetaValue::int64(static_cast<int64_t>(bits));
    case ValueType::Bool:
        return MetaValue::boolean(bits != 0);
    default:
        throw std::invalid_argument("scalarOf: not an integer type");
    }
}

} // namespace

// ---- MetaValue ----

#define OCELLE_SCALAR_FACTORY(fn, cType, valueType)                                                          \
    MetaValue MetaValue::fn(cType v) {                                                                       \
        MetaValue m;                                                                                         \
        m.type_ = ValueType::valueType;                                                                      \
        m.bits_ = static_cast<uint64_t>(v);                                                                  \
        return m;                                                                                            \
    }
OCELLE_SCALAR_FACTORY(uint8, uint8_t, UInt8)
OCELLE_SCALAR_FACTORY(int8, int8_t, Int8)
OCELLE_SCALAR_FACTORY(uint16, uint16_t, UInt16)
OCELLE_SCALAR_FACTORY(int16, int16_t, Int16)
OCELLE_SCALAR_FACTORY(uint32, uint32_t, UInt32)
OCELLE_SCALAR_FACTORY(int32, int32_t, Int32)
OCELLE_SCALAR_FACTORY(uint64, uint64_t, UInt64)
OCELLE_SCALAR_FACTORY(int64, int64_t, Int64)
OCELLE_SCALAR_FACTORY(boolean, bool, Bool)
#undef OCELLE_SCALAR_FACTORY

MetaValue MetaValue::float32(float v) {
    MetaValue m;
    m.type_ = ValueType::Float32;
    m.bits_ = std::bit_cast<uint32_t>(v);
    return m;
}

MetaValue MetaValue::float64(double v) {
    MetaValue m;
    m.type_ = ValueType::Float64;
    m.bits_ = std::bit_cast<uint64_t>(v);
    return m;
}

MetaValue MetaValue::string(std::string v) {
    MetaValue m;
    m.type_ = ValueType::String;
    m.string_ = std::move(v);
    return m;
}

MetaValue MetaValue::array(ValueType elementType, std::vector<MetaValue> items) {
    for (const MetaValue& item : items)
        if (item.type_ != elementType)
            throw std::invalid_argument(std::string("MetaValue::array: a ") + valueTypeName(item.type_) +
                                        " item in an array of " + valueTypeName(elementType));
    MetaValue m;
    m.type_ = ValueType::Array;
    m.elementType_ = elementType;
    m.items_ = std::move(items);
    return m;
}

MetaValue MetaValue::stringArray(const std::vector<std::string>& items) {
    std::vector<MetaValue> values;
    values.reserve(items.size());
    for (const auto& s : items) values.push_back(string(s));
    return array(ValueType::String, std::move(values));
}

MetaValue MetaValue::int32Array(const std::vector<int32_t>& items) {
    std::vector<MetaValue> values;
    values.reserve(items.size());
    for (int32_t v : items) values.push_back(int32(v));
    return array(ValueType::Int32, std::move(values));
}

MetaValue MetaValue::uint32Array(const std::vector<uint32_t>& items) {
    std::vector<MetaValue> values;
    values.reserve(items.size());
    for (uint32_t v : items) values.push_back(uint32(v));
    return array(ValueType::UInt32, std::move(values));
}

MetaValue MetaValue::float32Array(const std::vector<float>& items) {
    std::vector<MetaValue> values;
    values.reserve(items.size());
    for (float v : items) values.push_back(float32(v));
    return array(ValueType::Float32, std::move(values));
}

MetaValue MetaValue::boolArray(const std::vector<bool>& items) {
    std::vector<MetaValue> values;
    values.reserve(items.size());
    for (bool v : items) values.push_back(boolean(v));
    return array(ValueType::Bool, std::move(values));
}

MetaValue MetaValue::copyOf(const Value& v) {
    switch (v.type()) {
    case ValueType::Float32:
        return float32(static_cast<float>(*v.toFloat()));
    case ValueType::Float64:
        return float64(*v.toFloat());
    case ValueType::String:
        return string(std::string(*v.toString()));
    case ValueType::Bool:
        return boolean(*v.toBool());
    case ValueType::Array: {
        std::vector<MetaValue> items;
        items.reserve(v.size());
        for (uint64_t i = 0; i < v.size(); ++i) {
            switch (v.elementType()) {
            case ValueType::String:
                items.push_back(string(std::string(v.stringAt(i))));
                break;
            case ValueType::Array:
                items.push_back(copyOf(v.arrayAt(i)));
                break;
            case ValueType::Float32:
                items.push_back(float32(static_cast<float>(*v.floatAt(i))));
                break;
            case ValueType::Float64:
                items.push_back(float64(*v.floatAt(i)));
                break;
            case ValueType::Bool:
                items.push_back(boolean(*v.boolAt(i)));
                break;
            default: {
                const auto u = v.uintAt(i);
                items.push_back(scalarOf(v.elementType(), u ? *u : static_cast<uint64_t>(*v.intAt(i))));
                break;
            }
            }
        }
        return array(v.elementType(), std::move(items));
    }
    default:
        if (auto u = v.toUInt()) return scalarOf(v.type(), *u);
        return scalarOf(v.type(), static_cast<uint64_t>(*v.toInt()));
    }
}

// ---- Writer ----

Writer::Writer(uint32_t version) : version_(version) {
    if (version != 2 && version != 3)
        throw std::invalid_argument("gguf::Writer: only versions 2 and 3 are written");
}

void Writer::set(const std::string& key, MetaValue value) {
    if (key.empty()) throw std::invalid_argument("gguf::Writer: empty metadata key");
    if (key == kAlignmentKey) {
        const uint64_t a = value.bits();
        if (value.type() != ValueType::UInt32 || a == 0 || (a & (a - 1)) != 0 || a > (1u << 20))
            throw std::invalid_argument(
                "gguf::Writer: general.alignment must be a u32 power of two up to 1 MiB");
        alignment_ = a;
    }
    for (auto& [k, v] : metadata_) {
        if (k == key) {
            v = std::move(value);
            return;
        }
    }
    metadata_.emplace_back(key, std::move(value));
}

void Writer::setAlignment(uint32_t alignment) {
    set(kAlignmentKey, MetaValue::uint32(alignment));
}

void Writer::checkNewTensor(const std::string& name, const std::vector<int64_t>& ne, uint32_t rawType,
                            uint64_t& nbytes) const {
    const std::string what = "gguf::Writer: tensor '" + name + "': ";
    for (const Tensor& t : tensors_)
        if (t.name == name) throw std::invalid_argument(what + "duplicate name");
    if (ne.empty() || ne.size() > 4) throw std::invalid_argument(what + "needs 1 to 4 dimensions");
    const auto traits = typeTraits(rawType);
    if (!traits) throw std::invalid_argument(what + "unknown " + typeName(rawType));
    uint64_t elements = 1;
    for (int64_t d : ne) {
        if (d < 0) throw std::invalid_argument(what + "negative dimension");
        if (__builtin_mul_overflow(elements, static_cast<uint64_t>(d), &elements))
            throw std::invalid_argument(what + "element count overflows");
    }
    if (ne[0] % traits->blockElements != 0)
        throw std::invalid_argument(what + "width " + std::to_string(ne[0]) + " is not a multiple of " +
                                    traits->name + "'s block of " + std::to_string(traits->blockElements));
    if (__builtin_mul_overflow(elements / traits->blockElements, static_cast<uint64_t>(traits->blockBytes),
                               &nbytes))
        throw std::invalid_argument(what + "byte size overflows");
}

void Writer::addTensor(const std::string& name, std::vector<int64_t> ne, uint32_t rawType,
                       std::span<const float> values) {
    uint64_t nbytes = 0;
    checkNewTensor(name, ne, rawType, nbytes);
    if (!canQuantize(rawType))
        throw std::invalid_argument("gguf::Writer: tensor '" + name + "': cannot convert f32 to " +
                                    typeName(rawType));
    uint64_t elements = 1;
    for (int64_t d : ne) elements *= static_cast<uint64_t>(d);
    if (values.size() != elements)
        throw std::invalid_argument("gguf::Writer: tensor '" + name + "': " + std::to_string(values.size()) +
                                    " values for " + std::to_string(elements) + " elements");
    Tensor t{name, std::move(ne), rawType, std::vector<uint8_t>(nbytes)};
    if (elements) quantizeRow(rawType, values.data(), t.bytes.data(), static_cast<int64_t>(elements));
    tensors_.push_back(std::move(t));
}

void Writer::addRawTensor(const std::string& name, std::vector<int64_t> ne, uint32_t rawType,
                          std::span<const uint8_t> bytes) {
    uint64_t nbytes = 0;
    checkNewTensor(name, ne, rawType, nbytes);
    if (bytes.size() != nbytes)
        throw std::invalid_argument("gguf::Writer: tensor '" + name + "': " + std::to_string(bytes.size()) +
                                    " bytes given, the shape needs " + std::to_string(nbytes));
    tensors_.push_back(
        Tensor{name, std::move(ne), rawType, std::vector<uint8_t>(bytes.begin(), bytes.end())});
}

namespace {

// A value without its own type tag (the caller writes that): scalars as their little-endian
// bytes, strings as length + bytes, arrays as element type + count + elements.
void putValue(ByteSink& out, const MetaValue& v) {
    switch (v.type()) {
    case ValueType::String:
        out.putString(v.text());
        return;
    case ValueType::Array:
        out.put<uint32_t>(static_cast<uint32_t>(v.elementType()));
        out.put<uint64_t>(v.items().size());
        for (const MetaValue& item : v.items()) putValue(out, item);
        return;
    default:
        break;
    }
    switch (scalarBytes(v.type())) {
    case 1:
        out.put<uint8_t>(static_cast<uint8_t>(v.bits()));
        break;
    case 2:
        out.put<uint16_t>(static_cast<uint16_t>(v.bits()));
        break;
    case 4:
        out.put<uint32_t>(static_cast<uint32_t>(v.bits()));
        break;
    default:
        out.put<uint64_t>(v.bits());
        break;
    }
}

} // namespace

std::vector<uint8_t> Writer::toBytes() const {
    ByteSink out;
    out.put<uint32_t>(kMagic);
    out.put<uint32_t>(version_);
    out.put<uint64_t>(tensors_.size());
    out.put<uint64_t>(metadata_.size());
    for (const auto& [key, value] : metadata_) {
        out.putString(key);
        out.put<uint32_t>(static_cast<uint32_t>(value.type()));
        putValue(out, value);
    }
    uint64_t offset = 0;
    for (const Tensor& t : tensors_) {
        out.putString(t.name);
        out.put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
        for (int64_t d : t.ne) out.put<uint64_t>(static_cast<uint64_t>(d));
        out.put<uint32_t>(t.rawType);
        out.put<uint64_t>(offset);
        offset += t.bytes.size();
        offset += (alignment_ - offset % alignment_) % alignment_;
    }
    out.padTo(alignment_);
    for (const Tensor& t : tensors_) {
        out.append(t.bytes.data(), t.bytes.size());
        out.padTo(alignment_);
    }
    return std::move(out.bytes);
}

void Writer::write(const std::string& path) const {
    const std::vector<uint8_t> bytes = toBytes();
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) throw Error(path + ": cannot create: " + std::strerror(errno));
    const size_t written = std::fwrite(bytes.data(), 1, bytes.size(), f);
    const int writeErr = written == bytes.size() ? 0 : errno;
    if (std::fclose(f) != 0 || written != bytes.size())
        throw Error(path + ": cannot write: " + std::strerror(writeErr ? writeErr : errno));
}

} // namespace ocelle::gguf
