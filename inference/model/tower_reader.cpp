#include "model/tower_reader.h"

#include "gguf/dequant.h"
#include "gguf/tensor_types.h"

#include <optional>
#include <stdexcept>

namespace ocelle::model {
namespace {

std::string shapeOf(std::initializer_list<int64_t> shape) {
    std::string s = "{";
    for (int64_t n : shape) s += (s.size() > 1 ? ", " : "") + std::to_string(n);
    return s + "}";
}

} // namespace

void TowerReader::fail(const std::string& message) const {
    raise_(file_.path() + ": " + message);
    throw std::logic_error("TowerReader: the raise function returned"); // unreachable by contract
}

int TowerReader::positiveKey(const std::string& key, int64_t max) const {
    std::optional<int64_t> value;
    try {
        value = file_.getInt(key);
    } catch (const gguf::Error& e) {
        fail(tower_ + " key '" + key + "': " + e.what());
    }
    if (!value) fail("the " + tower_ + " tower lacks the required key '" + key + "'");
    if (*value <= 0 || *value > max)
        fail(tower_ + " key '" + key + "' = " + std::to_string(*value) + " is out of range (1.." +
             std::to_string(max) + ")");
    return static_cast<int>(*value);
}

void TowerReader::triple(const std::string& key, float (&into)[3], bool positive) const {
    const gguf::Value* v = file_.find(key);
    if (!v) return;
    if (!v->isArray() || v->size() != 3)
        fail(tower_ + " key '" + key + "' must be an array of 3 numbers, found " + v->describe());
    for (uint64_t i = 0; i < 3; ++i) {
        const auto x = v->floatAt(i);
        if (!x || !std::isfinite(*x) || (positive && *x <= 0))
            fail(tower_ + " key '" + key + "' holds an invalid value: " + v->describe());
        into[i] = static_cast<float>(*x);
    }
}

const gguf::TensorInfo& TowerReader::tensor(const std::string& name,
                                            std::initializer_list<int64_t> shape) const {
    const gguf::TensorInfo* t = file_.tensor(name);
    if (!t) fail(tower_ + " tensor '" + name + "' is missing (expected shape " + shapeOf(shape) + ")");
    bool ok = t->ne.size() <= shape.size();
    size_t i = 0;
    for (int64_t n : shape) ok = ok && t->dim(i++) == n;
    if (!ok)
        fail(tower_ + " tensor '" + name + "' has shape " + t->shapeString() + ", expected " +
             shapeOf(shape));
    return *t;
}

std::vector<float> TowerReader::floats(const std::string& name, std::initializer_list<int64_t> shape) const {
    const gguf::TensorInfo& t = tensor(name, shape);
    const auto traits = gguf::typeTraits(t.rawType);
    if (!traits || !gguf::canDequantize(t.rawType) || t.elements() % traits->blockElements)
        fail(tower_ + " tensor '" + name + "' has type " + gguf::typeName(t.rawType) +
             ", expected F32 or F16");
    std::vector<float> out(static_cast<size_t>(t.elements()));
    gguf::dequantizeRow(t.rawType, t.data, out.data(), t.elements());
    for (float v : out)
        if (!std::isfinite(v)) fail(tower_ + " tensor '" + name + "' contains a non-finite value");
    return out;
}

Weight TowerReader::matrix(const std::string& name, int64_t cols, int64_t rows,
                           std::initializer_list<int64_t> shape) const {
    const gguf::TensorInfo& t = tensor(name, shape);
    const auto traits = gguf::typeTraits(t.rawType);
    if (!traits || !gguf::canDequantize(t.rawType))
        fail(tower_ + " tensor '" + name + "' has weight type " + gguf::typeName(t.rawType) +
             ", which Ocelle cannot compute with");
    if (cols % traits->blockElements)
        fail(tower_ + " tensor '" + name + "': row width " + std::to_string(cols) +
             " is not a multiple of the " + gguf::typeName(t.rawType) + " block size");
    Weight w;
    w.tensor = &t;
    w.type = t.rawType;
    w.data = t.data;
    w.cols = cols;
    w.rows = rows;
    w.rowBytes = static_cast<uint64_t>(cols / traits->blockElements) * traits->blockBytes;
    if (w.rowBytes * static_cast<uint64_t>(rows) > t.nbytes)
        fail(tower_ + " tensor '" + name + "' holds fewer bytes than its shape needs");
    return w;
}

ClampedLinear TowerReader::clamped(const std::string& prefix, int64_t cols, int64_t rows) const {
    ClampedLinear l;
    l.weight = matrix(prefix + ".weight", cols, rows);
    const auto scalar = [&](const char* suffix, float& into) {
        const std::string name = prefix + suffix;
        if (file_.tensor(name)) into = floats(name, {1})[0];
    };
    scalar(".input_min", l.inputMin);
    scalar(".input_max", l.inputMax);
    scalar(".output_min", l.outputMin);
    scalar(".output_max", l.outputMax);
    if (!(l.inputMin <= l.inputMax) || !(l.outputMin <= l.outputMax))
        fail(tower_ + " tensor '" + prefix + "' has a clamp range with min > max");
    return l;
}

} // namespace ocelle::model
