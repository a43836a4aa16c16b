// Shared by the vision and audio encoder tests: reading the fixtures' raw float dumps and JSON
// references, comparing against them, and writing edited copies of an mmproj file.
#pragma once

#include "audio/audio_encoder.h"
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "vision/vision_encoder.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QString>
#include <QTest>
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

// One traced intermediate against the fixture's dump of llama.cpp's: `entry` is an element of the
// reference's "intermediates.tensors" (name, ne, byte offset into `acts`). Failures are recorded in
// the running test; callers check QTest::currentTestFailed().
inline void checkIntermediate(const QJsonObject& entry, const std::vector<float>& acts,
                              const std::vector<float>& ours, double tolerance) {
    const QString name = entry["name"].toString();
    size_t n = 1;
    for (const auto& dim : entry["ne"].toArray()) n *= size_t(dim.toInt());
    const size_t offset = size_t(entry["offset"].toInt()) / sizeof(float);
    QVERIFY2(offset + n <= acts.size(), qPrintable(name));
    QVERIFY2(ours.size() == n,
             qPrintable(QString("%1: %2 values, expected %3").arg(name).arg(ours.size()).arg(n)));
    const Difference d = compare(ours, acts.data() + offset, n);
    qInfo("  %-40s relative L2 %.3g, max abs %.3g", qPrintable(name), d.relativeL2, d.maxAbs);
    QVERIFY2(d.relativeL2 < tolerance, qPrintable(QString("%1: relative L2 %2").arg(name).arg(d.relativeL2)));
}

// Every intermediate the vision fixture lists, against the trace (`projected`: the encoder's output).
inline void checkVisionIntermediates(const QJsonObject& image, const QString& visionDir,
                                     const vision::VisionEncoderTrace& trace,
                                     const std::vector<float>& projected) {
    const auto acts = readFloats(visionDir + image["intermediates"].toObject()["file"].toString());
    for (const auto& value : image["intermediates"].toObject()["tensors"].toArray()) {
        const auto entry = value.toObject();
        const QString name = entry["name"].toString();
        const std::vector<float>* ours = nullptr;
        if (name == "pos_embd")
            ours = &trace.embeddings;
        else if (name.startsWith("layer_out-"))
            ours = &trace.layerOutputs.at(size_t(name.mid(10).toInt()));
        else if (name == "pooled")
            ours = &trace.pooled;
        else if (name == "input_of:mm.input_projection.weight")
            ours = &trace.projectorInput;
        else if (name == "output_of:mm.input_projection.weight" || name == "projected")
            ours = &projected;
        QVERIFY2(ours, qPrintable("unknown intermediate " + name));
        checkIntermediate(entry, acts, *ours, 2e-3);
        if (QTest::currentTestFailed()) return;
    }
}

// The audio tower's traced stages against the fixture (the reference lists more than we trace).
inline void checkAudioIntermediates(const QJsonObject& reference, const std::vector<float>& acts,
                                    const audio::AudioEncoderTrace& trace) {
    const auto tensors = reference["audio"].toObject()["intermediates"].toObject()["tensors"].toArray();
    const std::pair<const char*, const std::vector<float>*> traced[] = {
        {"input_of:a.input_projection.weight", &trace.subsampled},
        {"output_of:a.input_projection.weight", &trace.conformerInput},
        {"input_of:a.pre_encode.out.weight", &trace.conformerOutput},
        {"input_of:mm.a.input_projection.weight", &trace.projectorInput},
    };
    for (const auto& [name, ours] : traced) {
        const auto entry = std::find_if(tensors.begin(), tensors.end(), [&](const QJsonValue& t) {
            return t.toObject()["name"].toString() == QLatin1String(name);
        });
        QVERIFY2(entry != tensors.end(), name);
        checkIntermediate(entry->toObject(), acts, *ours, 1.5e-3);
        if (QTest::currentTestFailed()) return;
    }
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
