#include "gguf/gguf.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ocelle::gguf {

namespace {

constexpr uint32_t kMagic = 0x46554747; // "GGUF" read as little-endian u32
constexpr uint32_t kMaxDims = 4;        // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 4;       // arrays of arrays of ...; real files use 1

bool scalarSize(ValueType t, uint64_t& size) {
    switch (t) {
    case ValueType::UInt8:
    case ValueType::Int8:
    case ValueType::Bool:
        size = 1;
        return true;
    case ValueType::UInt16:
    case ValueType::Int16:
        size = 2;
        return true;
    case ValueType::UInt32:
    case ValueType::Int32:
    case ValueType::Float32:
        size = 4;
        return true;
    case ValueType::UInt64:
    case ValueType::Int64:
    case ValueType::Float64:
        size = 8;
        return true;
    case ValueType::String:
    case ValueType::Array:
        return false;
    }
    return false;
}

bool knownValueType(uint32_t t) {
    return t <= static_cast<uint32_t>(ValueType::Float64);
}

template <typename T> T loadLE(const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof(T)); // GGUF is little-endian; so are all platforms we build for
    return v;
}

// Decodes one scalar of type t at p into (bits, float).
void decodeScalar(ValueType t, const uint8_t* p, uint64_t& bits, double& f) {
    switch (t) {
    case ValueType::UInt8:
        bits = loadLE<uint8_t>(p);
        break;
    case ValueType::Int8:
        bits = static_cast<uint64_t>(static_cast<int64_t>(loadLE<int8_t>(p)));
        break;
    case ValueType::UInt16:
        bits = loadLE<uint16_t>(p);
        break;
    case ValueType::Int16:
        bits = static_cast<uint64_t>(static_cast<int64_t>(loadLE<int16_t>(p)));
        break;
    case ValueType::UInt32:
        bits = loadLE<uint32_t>(p);
        break;
    case ValueType::Int32:
        bits = static_cast<uint64_t>(static_cast<int64_t>(loadLE<int32_t>(p)));
        break;
    case ValueType::UInt64:
        bits = loadLE<uint64_t>(p);
        break;
    case ValueType::Int64:
        bits = static_cast<uint64_t>(loadLE<int64_t>(p));
        break;
    case ValueType::Bool:
        bits = loadLE<uint8_t>(p) != 0;
        break;
    case ValueType::Float32:
        f = loadLE<float>(p);
        break;
    case ValueType::Float64:
        f = loadLE<double>(p);
        break;
    case ValueType::String:
    case ValueType::Array:
        break;
    }
}

bool isSigned(ValueType t) {
    return t == ValueType::Int8 || t == ValueType::Int16 || t == ValueType::Int32 || t == ValueType::Int64;
}

bool isIntegerType(ValueType t) {
    switch (t) {
    case ValueType::UInt8:
    case ValueType::Int8:
    case ValueType::UInt16:
    case ValueType::Int16:
    case ValueType::UInt32:
    case ValueType::Int32:
    case ValueType::UInt64:
    case ValueType::Int64:
        return true;
    default:
        return false;
    }
}

std::optional<int64_t> asInt(ValueType t, uint64_t bits) {
    if (!isIntegerType(t)) return std::nullopt;
    if (t == ValueType::UInt64 && bits > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(bits);
}

} // namespace

const char* valueTypeName(ValueType t) {
    switch (t) {
    case ValueType::UInt8:
        return "u8";
    case ValueType::Int8:
        return "i8";
    case ValueType::UInt16:
        return "u16";
    case ValueType::Int16:
        return "i16";
    case ValueType::UInt32:
        return "u32";
    case ValueType::Int32:
        return "i32";
    case ValueType::Float32:
        return "f32";
    case ValueType::Bool:
        return "bool";
    case ValueType::String:
        return "string";
    case ValueType::Array:
        return "array";
    case ValueType::UInt64:
        return "u64";
    case ValueType::Int64:
        return "i64";
    case ValueType::Float64:
        return "f64";
    }
    return "?";
}

// ---- Value ----

bool Value::isInteger() const {
    return isIntegerType(type_);
}

std::optional<int64_t> Value::toInt() const {
    return asInt(type_, bits_);
}

std::optional<uint64_t> Value::toUInt() const {
    if (!isIntegerType(type_)) return std::nullopt;
    if (isSigned(type_) && static_cast<int64_t>(bits_) < 0) return std::nullopt;
    return bits_;
}

std::optional<double> Value::toFloat() const {
    if (isFloat()) return float_;
    if (auto i = toInt()) return static_cast<double>(*i);
    return std::nullopt;
}

std::optional<bool> Value::toBool() const {
    if (type_ != ValueType::Bool) return std::nullopt;
    return bits_ != 0;
}

std::optional<std::string_view> Value::toString() const {
    if (type_ != ValueType::String) return std::nullopt;
    return string_;
}

std::optional<int64_t> Value::intAt(uint64_t i) const {
    if (!isArray() || i >= count_ || !raw_ || !isIntegerType(elementType_)) return std::nullopt;
    uint64_t size = 0;
    scalarSize(elementType_, size);
    uint64_t bits = 0;
    double f = 0;
    decodeScalar(elementType_, raw_ + i * size, bits, f);
    return asInt(elementType_, bits);
}

std::optional<uint64_t> Value::uintAt(uint64_t i) const {
    if (!isArray() || i >= count_ || !raw_ || !isIntegerType(elementType_)) return std::nullopt;
    uint64_t size = 0;
    scalarSize(elementType_, size);
    uint64_t bits = 0;
    double f = 0;
    decodeScalar(elementType_, raw_ + i * size, bits, f);
    if (isSigned(elementType_) && static_cast<int64_t>(bits) < 0) return std::nullopt;
    return bits;
}

std::optional<double> Value::floatAt(uint64_t i) const {
    if (!isArray() || i >= count_ || !raw_) return std::nullopt;
    if (isIntegerType(elementType_)) {
        auto v = intAt(i);
        return v ? std::optional<double>(static_cast<double>(*v)) : std::nullopt;
    }
    if (elementType_ != ValueType::Float32 && elementType_ != ValueType::Float64) return std::nullopt;
    uint64_t size = 0;
    scalarSize(elementType_, size);
    uint64_t bits = 0;
    double f = 0;
    decodeScalar(elementType_, raw_ + i * size, bits, f);
    return f;
}

std::optional<bool> Value::boolAt(uint64_t i) const {
    if (!isArray() || i >= count_ || !raw_ || elementType_ != ValueType::Bool) return std::nullopt;
    return raw_[i] != 0;
}

std::string Value::describe(size_t maxItems) const {
    switch (type_) {
    case ValueType::String: {
        std::string s = "\"";
        s.append(string_.substr(0, 80));
        s.append(string_.size() > 80 ? "...\"" : "\"");
        return s;
    }
    case ValueType::Bool:
        return bits_ ? "true" : "false";
    case ValueType::Float32:
    case ValueType::Float64: {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%g", float_);
        return buf;
    }
    case ValueType::Array: {
        std::string out = "[";
        const uint64_t shown = std::min<uint64_t>(count_, maxItems);
        for (uint64_t i = 0; i < shown; ++i) {
            if (i) out += ", ";
            if (elementType_ == ValueType::String) {
                out.append("\"").append(strings_[i].substr(0, 40)).append("\"");
            } else if (elementType_ == ValueType::Array) {
                out += items_[i].describe(maxItems);
            } else if (elementType_ == ValueType::Bool) {
                out += *boolAt(i) ? "true" : "false";
            } else if (isIntegerType(elementType_)) {
                auto v = intAt(i);
                out += v ? std::to_string(*v) : std::string("?");
            } else {
                char buf[64];
                std::snprintf(buf, sizeof buf, "%g", floatAt(i).value_or(0));
                out += buf;
            }
        }
        if (count_ > shown) out += ", ... " + std::to_string(count_) + " items";
        return out + "]";
    }
    default: {
        if (isSigned(type_)) return std::to_string(static_cast<int64_t>(bits_));
        return std::to_string(bits_);
    }
    }
}

// ---- TensorInfo ----

int64_t TensorInfo::elements() const {
    int64_t n = 1;
    for (int64_t d : ne) n *= d; // validated against overflow at load
    return n;
}

int64_t TensorInfo::rows() const {
    return ne.empty() || ne[0] == 0 ? 0 : elements() / ne[0];
}

std::string TensorInfo::shapeString() const {
    std::string s = "{";
    for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
    return s + "}";
}

// ---- Parser ----

class Parser {
public:
    explicit Parser(File& f) : file_(f) {}

    void parse() {
        if (file_.size_ < 4) file_.fail("not a GGUF file (" + std::to_string(file_.size_) + " bytes)");
        if (u32() != kMagic) file_.fail("not a GGUF file (bad magic)");
        file_.version_ = need<uint32_t>("the version");
        if (file_.version_ == 1)
            file_.fail("GGUF version 1 is not supported (only versions 2 and 3); re-convert the file");
        if (file_.version_ != 2 && file_.version_ != 3)
            file_.fail("unsupported GGUF version " + std::to_string(file_.version_) + " (expected 2 or 3)");
        const uint64_t tensorCount = need<uint64_t>("the tensor count");
        const uint64_t kvCount = need<uint64_t>("the metadata count");
        // Each metadata entry takes at least 12 bytes (key length + type), each tensor entry 24.
        if (kvCount > remaining() / 12)
            file_.fail("metadata count " + std::to_string(kvCount) + " cannot fit in the file");
        if (tensorCount > remaining() / 24)
            file_.fail("tensor count " + std::to_string(tensorCount) + " cannot fit in the file");

        // No reserve from the counts: they are only bounded by the file size, and a hostile file
        // must not buy an allocation many times its size with them.
        for (uint64_t i = 0; i < kvCount; ++i) {
            std::string key(string("metadata key #" + std::to_string(i)));
            const uint32_t rawType = need<uint32_t>("the type of '" + key + "'");
            Value v = value(rawType, key, 0);
            if (!file_.metadataIndex_.emplace(key, file_.metadata_.size()).second)
                file_.fail("duplicate metadata key '" + key + "'");
            file_.metadata_.emplace_back(std::move(key), std::move(v));
        }

        if (const Value* a = file_.find("general.alignment")) {
            // ggml reads the alignment as a u32 and refuses any other type; so do we.
            auto align = a->type() == ValueType::UInt32 ? a->toUInt() : std::nullopt;
            if (!align || *align == 0 || (*align & (*align - 1)) != 0 || *align > (1u << 20))
                file_.fail(std::string("general.alignment must be a u32 power of two up to 1 MiB, found ") +
                           valueTypeName(a->type()) + " " + a->describe());
            file_.alignment_ = *align;
        }

        for (uint64_t i = 0; i < tensorCount; ++i) file_.tensors_.push_back(tensorInfo(i));

        uint64_t dataOffset = pos_;
        const uint64_t rem = dataOffset % file_.alignment_;
        if (rem) dataOffset += file_.alignment_ - rem;
        file_.dataOffset_ = dataOffset;

        for (auto& t : file_.tensors_) {
            if (t.offset % file_.alignment_ != 0)
                file_.fail("tensor '" + t.name + "' has offset " + std::to_string(t.offset) +
                           ", not a multiple of the alignment " + std::to_string(file_.alignment_));
            uint64_t start = 0, end = 0;
            if (__builtin_add_overflow(dataOffset, t.offset, &start) ||
                __builtin_add_overflow(start, t.nbytes, &end) || end > file_.size_)
                file_.fail("tensor '" + t.name + "' data (" + std::to_string(t.nbytes) + " bytes at offset " +
                           std::to_string(t.offset) + ") lies past the end of the file (" +
                           std::to_string(file_.size_) + " bytes; truncated download?)");
            t.data = file_.base_ + start;
        }
    }

private:
    uint64_t remaining() const { return file_.size_ - pos_; }

    void require(uint64_t n, const std::string& what) {
        if (n > remaining())
            file_.fail("truncated while reading " + what + " at byte " + std::to_string(pos_) +
                       " (file has " + std::to_string(file_.size_) + " bytes)");
    }

    uint32_t u32() {
        require(4, "the header");
        auto v = loadLE<uint32_t>(file_.base_ + pos_);
        pos_ += 4;
        return v;
    }

    template <typename T> T need(const std::string& what) {
        require(sizeof(T), what);
        T v = loadLE<T>(file_.base_ + pos_);
        pos_ += sizeof(T);
        return v;
    }

    std::string_view string(const std::string& what) {
        const uint64_t len = need<uint64_t>("the length of " + what);
        if (len > remaining())
            file_.fail("the length of " + what + " (" + std::to_string(len) +
                       " bytes) runs past the end of the file");
        std::string_view s(reinterpret_cast<const char*>(file_.base_ + pos_), len);
        pos_ += len;
        return s;
    }

    // string() for the items of a string array (a vocabulary holds 262144): the error text is
    // only built when the item is broken, by handing over to string().
    std::string_view stringItem(uint64_t i, const std::string& key) {
        if (remaining() >= 8) {
            const uint64_t len = loadLE<uint64_t>(file_.base_ + pos_);
            if (len <= remaining() - 8) {
                std::string_view s(reinterpret_cast<const char*>(file_.base_ + pos_ + 8), len);
                pos_ += 8 + len;
                return s;
            }
        }
        return string("item " + std::to_string(i) + " of '" + key + "'");
    }

    Value value(uint32_t rawType, const std::string& key, int depth) {
        if (!knownValueType(rawType))
            file_.fail("metadata '" + key + "' has unknown value type " + std::to_string(rawType));
        Value v;
        v.type_ = static_cast<ValueType>(rawType);
        uint64_t size = 0;
        if (scalarSize(v.type_, size)) {
            require(size, "the value of '" + key + "'");
            decodeScalar(v.type_, file_.base_ + pos_, v.bits_, v.float_);
            pos_ += size;
            return v;
        }
        if (v.type_ == ValueType::String) {
            v.string_ = string("the value of '" + key + "'");
            return v;
        }
        // Array
        if (depth >= kMaxArrayDepth) file_.fail("metadata '" + key + "' nests arrays too deeply");
        const uint32_t elemRaw = need<uint32_t>("the element type of '" + key + "'");
        if (!knownValueType(elemRaw))
            file_.fail("metadata '" + key + "' is an array of unknown type " + std::to_string(elemRaw));
        v.elementType_ = static_cast<ValueType>(elemRaw);
        v.count_ = need<uint64_t>("the length of '" + key + "'");
        uint64_t elemSize = 0;
        if (scalarSize(v.elementType_, elemSize)) {
            if (v.count_ > remaining() / elemSize)
                file_.fail("metadata array '" + key + "' claims " + std::to_string(v.count_) +
                           " items, more than the file holds");
            v.raw_ = file_.base_ + pos_;
            pos_ += v.count_ * elemSize;
        } else if (v.elementType_ == ValueType::String) {
            if (v.count_ > remaining() / 8)
                file_.fail("metadata array '" + key + "' claims " + std::to_string(v.count_) +
                           " strings, more than the file holds");
            v.strings_.reserve(v.count_);
            for (uint64_t i = 0; i < v.count_; ++i) v.strings_.push_back(stringItem(i, key));
        } else {
            if (v.count_ > remaining() / 12)
                file_.fail("metadata array '" + key + "' claims " + std::to_string(v.count_) +
                           " arrays, more than the file holds");
            for (uint64_t i = 0; i < v.count_; ++i)
                v.items_.push_back(value(static_cast<uint32_t>(ValueType::Array), key, depth + 1));
        }
        return v;
    }

    TensorInfo tensorInfo(uint64_t index) {
        TensorInfo t;
        t.name = std::string(string("the name of tensor #" + std::to_string(index)));
        const uint32_t nDims = need<uint32_t>("the rank of tensor '" + t.name + "'");
        if (nDims == 0 || nDims > kMaxDims)
            file_.fail("tensor '" + t.name + "' has " + std::to_string(nDims) +
                       " dimensions (1 to 4 allowed)");
        int64_t elements = 1;
        for (uint32_t d = 0; d < nDims; ++d) {
            const uint64_t n = need<uint64_t>("the shape of tensor '" + t.name + "'");
            if (n > static_cast<uint64_t>(INT64_MAX) ||
                __builtin_mul_overflow(elements, static_cast<int64_t>(n), &elements))
                file_.fail("tensor '" + t.name + "' has an absurd shape (element count overflows)");
            t.ne.push_back(static_cast<int64_t>(n));
        }
        t.rawType = need<uint32_t>("the type of tensor '" + t.name + "'");
        t.offset = need<uint64_t>("the offset of tensor '" + t.name + "'");
        auto traits = typeTraits(t.rawType);
        if (!traits)
            file_.fail("tensor '" + t.name + "' has unknown tensor type " + std::to_string(t.rawType));
        if (t.ne[0] % traits->blockElements != 0)
            file_.fail("tensor '" + t.name + "' of type " + traits->name + " has width " +
                       std::to_string(t.ne[0]) + ", not a multiple of its block size " +
                       std::to_string(traits->blockElements));
        const uint64_t blocks = static_cast<uint64_t>(elements) / traits->blockElements;
        if (__builtin_mul_overflow(blocks, static_cast<uint64_t>(traits->blockBytes), &t.nbytes))
            file_.fail("tensor '" + t.name + "' has an absurd shape (byte size overflows)");
        if (t.nbytes > file_.size_)
            file_.fail("tensor '" + t.name + "' " + t.shapeString() + " needs " + std::to_string(t.nbytes) +
                       " bytes, more than the whole file");
        if (!file_.tensorIndex_.emplace(t.name, index).second)
            file_.fail("duplicate tensor name '" + t.name + "'");
        return t;
    }

    File& file_;
    uint64_t pos_ = 0;
};

// ---- File ----

std::unique_ptr<File> File::open(const std::string& path) {
    std::unique_ptr<File> f(new File());
    f->path_ = path;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) f->fail(std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        f->fail("not a regular file");
    }
    f->size_ = static_cast<uint64_t>(st.st_size);
    if (f->size_ > 0) {
        void* m = mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            f->fail(std::string("cannot map into memory: ") + std::strerror(err));
        }
        f->mapping_ = m;
        f->base_ = static_cast<const uint8_t*>(m);
    }
    ::close(fd);
    Parser(*f).parse();
    return f;
}

std::unique_ptr<File> File::fromMemory(std::span<const uint8_t> bytes, std::string name) {
    std::unique_ptr<File> f(new File());
    f->path_ = std::move(name);
    f->base_ = bytes.data();
    f->size_ = bytes.size();
    Parser(*f).parse();
    return f;
}

File::~File() {
    if (mapping_) munmap(mapping_, size_);
}

void File::fail(const std::string& message) const {
    throw Error(path_ + ": " + message);
}

const Value* File::find(std::string_view key) const {
    auto it = metadataIndex_.find(std::string(key));
    return it == metadataIndex_.end() ? nullptr : &metadata_[it->second].second;
}

std::optional<int64_t> File::getInt(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    auto i = v->toInt();
    if (!i)
        fail("metadata '" + std::string(key) + "' should be an integer, found " + valueTypeName(v->type()));
    return i;
}

std::optional<double> File::getFloat(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    auto f = v->toFloat();
    if (!f) fail("metadata '" + std::string(key) + "' should be a number, found " + valueTypeName(v->type()));
    return f;
}

std::optional<bool> File::getBool(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    auto b = v->toBool();
    if (!b) fail("metadata '" + std::string(key) + "' should be a bool, found " + valueTypeName(v->type()));
    return b;
}

std::optional<std::string> File::getString(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    auto s = v->toString();
    if (!s) fail("metadata '" + std::string(key) + "' should be a string, found " + valueTypeName(v->type()));
    return std::string(*s);
}

int64_t File::requireInt(std::string_view key) const {
    auto v = getInt(key);
    if (!v) fail("required metadata '" + std::string(key) + "' is missing");
    return *v;
}

std::string File::requireString(std::string_view key) const {
    auto v = getString(key);
    if (!v) fail("required metadata '" + std::string(key) + "' is missing");
    return *v;
}

const TensorInfo* File::tensor(std::string_view name) const {
    auto it = tensorIndex_.find(std::string(name));
    return it == tensorIndex_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& File::requireTensor(std::string_view name) const {
    const TensorInfo* t = tensor(name);
    if (!t) fail("required tensor '" + std::string(name) + "' is missing");
    return *t;
}

} // namespace ocelle::gguf
