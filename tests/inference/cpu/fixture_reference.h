// Shared by the CPU model tests: the fixture models and their reference logits (.ref.json, read with
// QJsonDocument), and the checks against the float64 reference and llama.cpp.
#pragma once

#include "cpu/cpu_model.h"
#include "cpu/kernels.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace ocelle::cpu_test {

inline const QString kModels = QStringLiteral(OCELLE_FIXTURES_DIR "/models");

struct Fixture {
    QString name; // "tiny-gemma4-e"
    QString gguf;
    QJsonObject ref;
};

inline QJsonObject readJson(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) qFatal("cannot read %s", qPrintable(path));
    return QJsonDocument::fromJson(f.readAll()).object();
}

inline const QList<Fixture>& fixtures() {
    static const QList<Fixture> all = [] {
        QList<Fixture> list;
        for (const QString& file : QDir(kModels).entryList({"*.ref.json"}, QDir::Files, QDir::Name)) {
            Fixture f;
            f.name = file.chopped(int(QStringLiteral(".ref.json").size()));
            f.gguf = kModels + "/" + f.name + ".gguf";
            f.ref = readJson(kModels + "/" + file);
            list.push_back(f);
        }
        return list;
    }();
    return all;
}

inline std::vector<int32_t> toIds(const QJsonArray& a) {
    std::vector<int32_t> ids;
    for (const auto& v : a) ids.push_back(v.toInt());
    return ids;
}

inline QJsonObject promptNamed(const Fixture& f, const QString& name) {
    for (const auto& p : f.ref["prompts"].toArray())
        if (p.toObject()["name"].toString() == name) return p.toObject();
    qFatal("prompt %s missing", qPrintable(name));
    return {};
}

inline double logSumExp(const float* logits, int n) {
    const double m = *std::max_element(logits, logits + n);
    double s = 0;
    for (int i = 0; i < n; ++i) s += std::exp(static_cast<double>(logits[i]) - m);
    return m + std::log(s);
}

inline int argmax(const float* logits, int n) {
    return static_cast<int>(std::max_element(logits, logits + n) - logits);
}

// Checks one position's logits against a reference distribution summary ({top10, argmax, lse,
// probe_logits, margin_top1_top2}); appends failures.
struct Checker {
    QStringList failures;
    double worst = 0;

    void position(const float* logits, int vocab, const QJsonObject& ref, double tolerance,
                  const QJsonArray& probeIds, bool checkExtras, const QString& where) {
        const auto fail = [&](const QString& what) {
            if (failures.size() < 20) failures << where + ": " + what;
        };
        for (const auto& pair : ref["top10"].toArray()) {
            const int id = pair.toArray()[0].toInt();
            const double expected = pair.toArray()[1].toDouble();
            const double diff = std::abs(logits[id] - expected);
            if (tolerance < 1.0) worst = std::max(worst, diff); // the float64 comparisons
            if (diff > tolerance)
                fail(QString("id %1: ours %2, reference %3 (tolerance %4)")
                         .arg(id)
                         .arg(logits[id])
                         .arg(expected)
                         .arg(tolerance));
        }
        if (!checkExtras) return;
        const double margin = ref["margin_top1_top2"].toDouble();
        if (margin > 2 * tolerance && argmax(logits, vocab) != ref["argmax"].toInt())
            fail(QString("argmax %1, reference %2 (margin %3)")
                     .arg(argmax(logits, vocab))
                     .arg(ref["argmax"].toInt())
                     .arg(margin));
        const double lse = logSumExp(logits, vocab);
        if (std::abs(lse - ref["lse"].toDouble()) > tolerance)
            fail(QString("lse %1, reference %2").arg(lse).arg(ref["lse"].toDouble()));
        const auto probes = ref["probe_logits"].toArray();
        for (int i = 0; i < probes.size() && i < probeIds.size(); ++i) {
            const int id = probeIds[i].toInt();
            worst = std::max(worst, std::abs(logits[id] - probes[i].toDouble()));
            if (std::abs(logits[id] - probes[i].toDouble()) > tolerance)
                fail(QString("probe id %1: ours %2, reference %3")
                         .arg(id)
                         .arg(logits[id])
                         .arg(probes[i].toDouble()));
        }
    }
};

// Compares the logits of prompt + float64 greedy continuation (one row per fed id) with the
// float64 reference (`tolerance`: top-10 ids, probe ids, argmax where the margin allows, lse) and
// llama.cpp fa_off at the prompt positions (its top-10 ids within 1.0).
inline void checkAgainstReferences(Checker& checker, const float* logits, int vocab,
                                   const QJsonObject& prompt, const QJsonArray& probeIds, double tolerance,
                                   const QString& where) {
    const int n = prompt["n_tokens"].toInt();
    const auto f64 = prompt["float64_reference"].toObject();
    const auto f64Positions = f64["positions"].toArray();
    const auto f64Steps = f64["greedy"].toObject()["steps"].toArray();
    const auto f64Greedy = f64["greedy"].toObject()["ids"].toArray();
    const int rows = n + f64Greedy.size();
    for (int i = 0; i < n; ++i)
        checker.position(logits + size_t(i) * vocab, vocab, f64Positions[i].toObject(), tolerance, probeIds,
                         true, where + QString(" float64 pos %1").arg(i));
    for (int k = 0; k < f64Steps.size() && n - 1 + k < rows; ++k)
        checker.position(logits + size_t(n - 1 + k) * vocab, vocab, f64Steps[k].toObject(), tolerance,
                         probeIds, true, where + QString(" float64 greedy step %1").arg(k));

    const auto llama = prompt["fa_off"].toObject();
    const auto llamaPositions = llama["positions"].toArray();
    for (int i = 0; i < n; ++i)
        checker.position(logits + size_t(i) * vocab, vocab, llamaPositions[i].toObject(), 1.0, probeIds,
                         false, where + QString(" llama.cpp pos %1").arg(i));
    // llama.cpp's greedy steps are not compared: the fixtures guarantee its MoE routing matches the
    // float64 reference only at prompt positions, and past them a flipped expert choice moves its
    // logits by more than 1.0 (seen on the MoE model's control_tokens continuation).
}

inline std::vector<int32_t> promptWithGreedy(const QJsonObject& prompt) {
    auto ids = toIds(prompt["ids"].toArray());
    const auto greedy = toIds(prompt["float64_reference"].toObject()["greedy"].toObject()["ids"].toArray());
    ids.insert(ids.end(), greedy.begin(), greedy.end());
    return ids;
}

inline float maxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return INFINITY;
    float m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
    return m;
}

struct IsaGuard {
    explicit IsaGuard(cpu::Isa isa) { ok = cpu::forceIsa(isa); }
    ~IsaGuard() { cpu::forceIsa(cpu::bestIsa()); }
    bool ok = false;
};

// One data row per fixture model, column "fixture" (its index in fixtures()).
inline void addFixtureRows() {
    QTest::addColumn<int>("fixture");
    for (int i = 0; i < fixtures().size(); ++i) QTest::newRow(qPrintable(fixtures()[i].name)) << i;
}

} // namespace ocelle::cpu_test
