// Shared by the vision and audio encoder tests: reading the fixtures' raw float dumps and JSON
// references, comparing against them, and writing edited copies of an mmproj file.
#pragma once

#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QString>
#include <QtGlobal>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace ocelle::test {

// A file of little-endian fp32 values; empty (with a warning) when it cannot be read.
inline std::vector<float> readFloats(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        qWarning("cannot open %s", qPrintable(path));
        return {};
    }
    const QByteArray bytes = f.readAll();
    std::vector<float> out(size_t(bytes.size()) / sizeof(float));
    std::memcpy(out.data(), bytes.constData(), out.size() * sizeof(float));
    return out;
}

inline QJsonObject readJson(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) qFatal("cannot open %s", qPrintable(path));
    return QJsonDocument::fromJson(f.readAll()).object();
}

struct Difference {
    double relativeL2 = 0; // |ours - reference| / |reference|
    double maxAbs = 0;
};

inline Difference compare(const float* ours, const float* reference, size_t n) {
    double diff = 0, norm = 0, worst = 0;
    for (size_t i = 0; i < n; ++i) {
        const double d = double(ours[i]) - reference[i];
        diff += d * d;
        norm += double(reference[i]) * reference[i];
        worst = std::max(worst, std::abs(d));
    }
    return {std::sqrt(diff / norm), worst};
}

inline Difference compare(const std::vector<float>& ours, const float* reference, size_t n) {
    if (ours.size() != n) qFatal("size mismatch: %zu vs %zu", ours.size(), n);
    return compare(ours.data(), reference, n);
}

inline double relativeL2(const float* ours, const float* reference, size_t n) {
    return compare(ours, reference, n).relativeL2;
}

// A copy of an mmproj through these edits (drop or change keys and tensors, add 1-D F32 tensors).
struct GgufEdit {
    std::function<bool(const std::string&)> keepKey = [](const std::string&) { return true; };
    std::function<bool(const std::string&)> keepTensor = [](const std::string&) { return true; };
    std::vector<std::pair<std::string, gguf::MetaValue>> setKeys;
    std::vector<std::pair<std::string, std::vector<float>>> addF32;
};

inline void writeEditedCopy(const std::string& source, const std::string& path, const GgufEdit& edit) {
    auto file = gguf::File::open(source);
    gguf::Writer writer;
    for (const auto& [key, value] : file->metadata())
        if (edit.keepKey(key) && key != "general.alignment") writer.set(key, gguf::MetaValue::copyOf(value));
    for (const auto& [key, value] : edit.setKeys) writer.set(key, value);
    for (const auto& t : file->tensors())
        if (edit.keepTensor(t.name)) writer.addRawTensor(t.name, t.ne, t.rawType, {t.data, size_t(t.nbytes)});
    for (const auto& [name, values] : edit.addF32)
        writer.addTensor(name, {int64_t(values.size())}, uint32_t(gguf::TensorType::F32), values);
    writer.write(path);
}

} // namespace ocelle::test
