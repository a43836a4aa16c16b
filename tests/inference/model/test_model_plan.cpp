// Hyperparameters, variant detection, memory estimates and tensor-set validation of Gemma 4 files.
// Fixture hyperparameters are checked against what llama.cpp's loader printed for the same files.
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "model/layer_plan.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QtTest>

#include <cmath>

using namespace ocelle;

namespace {

const QString kModels = QStringLiteral(OCELLE_FIXTURES_DIR "/models");

QJsonObject readJson(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) qFatal("cannot read %s", qPrintable(path));
    return QJsonDocument::fromJson(f.readAll()).object();
}

QStringList fixtureNames() {
    QStringList names;
    for (const QString& file : QDir(kModels).entryList({"*.ref.json"}, QDir::Files, QDir::Name))
        names << file.chopped(int(QStringLiteral(".ref.json").size()));
    return names;
}

// "[32, 32, 64]" or "64" (llama.cpp prints per-layer values either way) -> one value per layer.
std::vector<double> perLayer(const QString& text, int nLayer) {
    std::vector<double> out;
    static const QRegularExpression number(R"([-+0-9.eE]+)");
    auto it = number.globalMatch(text);
    while (it.hasNext()) out.push_back(it.next().captured(0).toDouble());
    if (out.size() == 1) out.assign(size_t(nLayer), out[0]);
    return out;
}

// The model built from a patched copy of a fixture file; returns the error message (empty: loaded).
QString loadError(const QByteArray& bytes) {
    try {
        auto file = gguf::File::fromMemory(
            std::span(reinterpret_cast<const uint8_t*>(bytes.constData()), size_t(bytes.size())),
            "patched.gguf");
        model::Model::fromFile(std::move(file));
    } catch (const std::exception& e) {
        return QString::fromUtf8(e.what());
    }
    return {};
}

QByteArray fixtureBytes(const QString& name) {
    QFile f(kModels + "/" + name + ".gguf");
    if (!f.open(QIODevice::ReadOnly)) qFatal("cannot read %s", qPrintable(f.fileName()));
    return f.readAll();
}

// Offset just past a GGUF string (u64 length + bytes) equal to `text`.
qsizetype afterString(const QByteArray& bytes, const QByteArray& text) {
    QByteArray needle(8, '\0');
    const quint64 n = quint64(text.size());
    for (int i = 0; i < 8; ++i) needle[i] = char((n >> (8 * i)) & 0xFF);
    needle += text;
    const qsizetype at = bytes.indexOf(needle);
    if (at < 0) qFatal("string %s not in file", text.constData());
    return at + needle.size();
}

void putU64(QByteArray& bytes, qsizetype at, quint64 v) {
    for (int i = 0; i < 8; ++i) bytes[at + i] = char((v >> (8 * i)) & 0xFF);
}

// Metadata of a Gemma 4 shape (no weights except a small token table), for variant detection and
// memory estimates of the real sizes.
struct Shape {
    int layers, embd, heads;
    std::vector<int32_t> kvHeads;
    int fullEvery; // layer i is full when i % fullEvery == fullEvery - 1
    int window, sharedKv, ple, experts, expertsUsed;
};

std::vector<uint8_t> shapedFile(const Shape& s) {
    gguf::Writer w;
    using gguf::MetaValue;
    w.set("general.architecture", MetaValue::string("gemma4"));
    w.set("gemma4.block_count", MetaValue::uint32(uint32_t(s.layers)));
    w.set("gemma4.embedding_length", MetaValue::uint32(uint32_t(s.embd)));
    w.set("gemma4.attention.head_count", MetaValue::uint32(uint32_t(s.heads)));
    std::vector<int32_t> kv;
    std::vector<bool> pattern;
    for (int i = 0; i < s.layers; ++i) {
        const bool full = i % s.fullEvery == s.fullEvery - 1;
        pattern.push_back(!full);
        kv.push_back(full ? s.kvHeads[1] : s.kvHeads[0]);
    }
    w.set("gemma4.attention.head_count_kv", MetaValue::int32Array(kv));
    w.set("gemma4.attention.sliding_window_pattern", MetaValue::boolArray(pattern));
    w.set("gemma4.feed_forward_length", MetaValue::uint32(4 * uint32_t(s.embd)));
    w.set("gemma4.attention.key_length", MetaValue::uint32(512));
    w.set("gemma4.attention.value_length", MetaValue::uint32(512));
    w.set("gemma4.attention.key_length_swa", MetaValue::uint32(256));
    w.set("gemma4.attention.value_length_swa", MetaValue::uint32(256));
    w.set("gemma4.attention.sliding_window", MetaValue::uint32(uint32_t(s.window)));
    w.set("gemma4.attention.shared_kv_layers", MetaValue::uint32(uint32_t(s.sharedKv)));
    w.set("gemma4.embedding_length_per_layer_input", MetaValue::uint32(uint32_t(s.ple)));
    w.set("gemma4.attention.layer_norm_rms_epsilon", MetaValue::float32(1e-6f));
    if (s.experts) {
        w.set("gemma4.expert_count", MetaValue::uint32(uint32_t(s.experts)));
        w.set("gemma4.expert_used_count", MetaValue::uint32(uint32_t(s.expertsUsed)));
        w.set("gemma4.expert_feed_forward_length", MetaValue::uint32(704));
    }
    const std::vector<float> table(size_t(s.embd) * 2, 0.5f);
    w.addTensor("token_embd.weight", {s.embd, 2}, uint32_t(gguf::TensorType::F32), table);
    return w.toBytes();
}

} // namespace

class TestModelPlan : public QObject {
    Q_OBJECT

private slots:
    void hparamsMatchLlamaCpp_data() {
        QTest::addColumn<QString>("name");
        for (const QString& n : fixtureNames()) QTest::newRow(qPrintable(n)) << n;
        QVERIFY(!fixtureNames().isEmpty());
    }

    void hparamsMatchLlamaCpp() {
        QFETCH(QString, name);
        const auto ref = readJson(kModels + "/" + name + ".ref.json");
        const auto llama = ref["llama_cpp_hparams"].toObject();
        const auto model = model::Model::load((kModels + "/" + name + ".gguf").toStdString());
        const auto& hp = model->hparams();
        QCOMPARE(hp.architecture, std::string("gemma4"));
        QCOMPARE(hp.nEmbd, llama["n_embd"].toString().toInt());
        QCOMPARE(hp.nLayer, llama["n_layer"].toString().toInt());
        QCOMPARE(hp.nHead, llama["n_head"].toString().toInt());
        QCOMPARE(hp.nVocab, llama["n_vocab"].toString().toInt());
        QCOMPARE(hp.slidingWindow, llama["n_swa"].toString().toInt());
        QCOMPARE(hp.headDimFull, llama["n_embd_head_k"].toString().toInt());
        QCOMPARE(hp.headDimSliding, llama["n_embd_head_k_swa"].toString().toInt());
        QCOMPARE(hp.ropeDimsFull, llama["n_rot"].toString().toInt());
        QCOMPARE(hp.ropeDimsSliding, llama["n_rot_swa"].toString().toInt());
        QCOMPARE(hp.ropeBaseFull, llama["freq_base_train"].toString().toFloat());
        QCOMPARE(hp.ropeBaseSliding, llama["freq_base_swa"].toString().toFloat());
        QCOMPARE(hp.rmsEps, llama["f_norm_rms_eps"].toString().toFloat());
        QCOMPARE(hp.nExpert, llama["n_expert"].toString().toInt());
        QCOMPARE(hp.nExpertUsed, llama["n_expert_used"].toString().toInt());
        QCOMPARE(hp.contextLength, llama["n_ctx_train"].toString().toLongLong());
        const auto kvHeads = perLayer(llama["n_head_kv"].toString(), hp.nLayer);
        const auto ffn = perLayer(llama["n_ff"].toString(), hp.nLayer);
        const auto kWidths = perLayer(llama["n_embd_k_gqa"].toString(), hp.nLayer);
        QCOMPARE(int(kvHeads.size()), hp.nLayer);
        // is_swa per layer and the layers whose cache is reused, from llama.cpp's logs.
        std::vector<int> isSwa;
        static const QRegularExpression swaLine(R"(layer\s+(\d+) assigned .* is_swa = (\d))");
        for (const auto& line : ref["llama_cpp_layer_log"].toArray()) {
            const auto m = swaLine.match(line.toString());
            // llama.cpp also lists the output layer (index n_layer)
            if (m.hasMatch() && m.captured(1).toInt() < hp.nLayer) isSwa.push_back(m.captured(2).toInt());
        }
        QCOMPARE(int(isSwa.size()), hp.nLayer);
        std::map<int, int> reuse;
        static const QRegularExpression reuseLine(R"(- layer\s+(\d+): reuse layer (\d+))");
        for (const auto& line : ref["llama_cpp_kv_cache_log"].toArray()) {
            const auto m = reuseLine.match(line.toString());
            if (m.hasMatch()) reuse[m.captured(1).toInt()] = m.captured(2).toInt();
        }
        for (int l = 0; l < hp.nLayer; ++l) {
            const auto& layer = hp.layers[size_t(l)];
            QCOMPARE(layer.nHeadKv, int(kvHeads[size_t(l)]));
            QCOMPARE(layer.ffnWidth, int(ffn[size_t(l)]));
            QCOMPARE(layer.nHeadKv * layer.headDim, int(kWidths[size_t(l)]));
            QCOMPARE(int(layer.sliding), isSwa[size_t(l)]);
            const int expectedSource = reuse.count(l) ? reuse[l] : l;
            QCOMPARE(layer.kvSource, expectedSource);
            QCOMPARE(layer.sharedKv, reuse.count(l) > 0);
        }
        QCOMPARE(hp.variant, model::Variant::Other); // tiny shapes are none of the published ones
        // The plan: caches only for the layers that own one; K = V where attn_v is missing.
        const auto& plan = model->plan();
        QCOMPARE(int(plan.cacheOwners.size()), hp.layersOwningKv());
        for (const auto& layer : plan.layers) {
            const bool hasV =
                model->file().tensor("blk." + std::to_string(layer.index) + ".attn_v.weight") != nullptr;
            if (layer.attention.ownsKv) QCOMPARE(layer.attention.valueFromKey, !hasV);
            QVERIFY(layer.outputScale > 0.4f && layer.outputScale < 1.6f); // generator: [0.5, 1.5]
        }
        const auto rope = ref["generator"].toObject()["rope_freqs"].toObject();
        int rotating = 0;
        for (float f : plan.ropeFreqFactors) rotating += f == 1.0f;
        QCOMPARE(rotating, rope["n_rotated_pairs"].toInt());
    }

    void variantsAndMemory_data() {
        QTest::addColumn<int>("layers");
        QTest::addColumn<int>("embd");
        QTest::addColumn<int>("heads");
        QTest::addColumn<int>("kvSliding");
        QTest::addColumn<int>("kvFull");
        QTest::addColumn<int>("fullEvery");
        QTest::addColumn<int>("window");
        QTest::addColumn<int>("sharedKv");
        QTest::addColumn<int>("ple");
        QTest::addColumn<int>("experts");
        QTest::addColumn<QString>("variant");
        // The table of gemma4.md section 1.
        QTest::newRow("E2B") << 35 << 1536 << 8 << 1 << 1 << 5 << 512 << 20 << 256 << 0 << "E2B";
        QTest::newRow("E4B") << 42 << 2560 << 8 << 2 << 2 << 6 << 512 << 18 << 256 << 0 << "E4B";
        QTest::newRow("26B-A4B") << 30 << 2816 << 16 << 8 << 2 << 6 << 1024 << 0 << 0 << 128 << "26B-A4B";
        QTest::newRow("31B") << 60 << 5376 << 32 << 16 << 4 << 6 << 1024 << 0 << 0 << 0 << "31B";
        QTest::newRow("other") << 12 << 1536 << 8 << 1 << 1 << 6 << 512 << 0 << 0 << 0 << "other";
    }

    // Variant names, and the KV cache size at 4096 positions counted layer by layer from the
    // family table: sliding layers min(W, ctx) slots, full layers ctx, shared layers none.
    void variantsAndMemory() {
        QFETCH(int, layers);
        QFETCH(int, embd);
        QFETCH(int, heads);
        QFETCH(int, kvSliding);
        QFETCH(int, kvFull);
        QFETCH(int, fullEvery);
        QFETCH(int, window);
        QFETCH(int, sharedKv);
        QFETCH(int, ple);
        QFETCH(int, experts);
        QFETCH(QString, variant);
        const auto bytes = shapedFile(
            {layers, embd, heads, {kvSliding, kvFull}, fullEvery, window, sharedKv, ple, experts, 8});
        const auto file = gguf::File::fromMemory(bytes);
        const auto hp = model::HyperParams::fromFile(*file);
        QCOMPARE(QString(model::variantName(hp.variant)), variant);
        const int64_t ctx = 4096;
        uint64_t expected = 0;
        for (int l = 0; l < layers - sharedKv; ++l) {
            const bool full = l % fullEvery == fullEvery - 1;
            const uint64_t slotCount = full ? ctx : std::min<int64_t>(window, ctx);
            expected += 2 * slotCount * uint64_t(full ? kvFull : kvSliding) * (full ? 512 : 256) * 2;
        }
        QCOMPARE(model::kvCacheBytes(hp, ctx, model::KvType::F16), expected);
        QCOMPARE(model::kvCacheBytes(hp, ctx, model::KvType::F32), 2 * expected);
        const auto m = model::estimateMemory(hp, 1000, ctx, model::KvType::F16, 512);
        QCOMPARE(m.weights, uint64_t(1000));
        QCOMPARE(m.kvCache, expected);
        QVERIFY(m.activations > uint64_t(4) * hp.nVocab); // at least one row of logits
        QCOMPARE(m.total(), m.weights + m.kvCache + m.activations);
        // A short context shrinks sliding rings to the context.
        QVERIFY(model::kvCacheBytes(hp, 100, model::KvType::F32) <
                model::kvCacheBytes(hp, ctx, model::KvType::F32));
        // The shared layers read the last unshared layer of their own type.
        for (int l = layers - sharedKv; l < layers; ++l) {
            const auto& layer = hp.layers[size_t(l)];
            QVERIFY(layer.sharedKv);
            QCOMPARE(hp.layers[size_t(layer.kvSource)].sliding, layer.sliding);
            QVERIFY(layer.kvSource < layers - sharedKv);
            for (int d = layer.kvSource + 1; d < layers - sharedKv; ++d)
                QVERIFY(hp.layers[size_t(d)].sliding != layer.sliding);
        }
        // Weights are not in the file: the plan names the first missing tensor.
        const QString error = [&] {
            try {
                model::Model::fromFile(gguf::File::fromMemory(bytes));
            } catch (const model::ModelError& e) {
                return QString(e.what());
            }
            return QString();
        }();
        QVERIFY2(error.contains("'output_norm.weight'") && error.contains("missing"), qPrintable(error));
    }

    void missingTensor() {
        QByteArray bytes = fixtureBytes("tiny-gemma4-e");
        QVERIFY(loadError(bytes).isEmpty());
        const qsizetype end = afterString(bytes, "blk.2.attn_k_norm.weight");
        bytes[end - 1] = 'X'; // renamed: the expected name is now absent
        const QString error = loadError(bytes);
        QVERIFY2(error.contains("'blk.2.attn_k_norm.weight'") && error.contains("missing"),
                 qPrintable(error));
    }

    void wrongShape() {
        QByteArray bytes = fixtureBytes("tiny-gemma4-e");
        // Tensor info: name, n_dims (u32), ne[0..n) (u64 each), type, offset.
        const qsizetype at = afterString(bytes, "blk.1.attn_q_norm.weight");
        putU64(bytes, at + 4, 16); // {32} -> {16}
        QString error = loadError(bytes);
        QVERIFY2(error.contains("'blk.1.attn_q_norm.weight'") && error.contains("{16}") &&
                     error.contains("{32}"),
                 qPrintable(error));

        bytes = fixtureBytes("tiny-gemma4-moe");
        const qsizetype q = afterString(bytes, "blk.3.ffn_down_exps.weight");
        putU64(bytes, q + 4 + 8 + 8, 4); // {32, 64, 8} -> {32, 64, 4}: fewer experts than expert_count
        error = loadError(bytes);
        QVERIFY2(error.contains("'blk.3.ffn_down_exps.weight'") && error.contains("{32, 64, 4}"),
                 qPrintable(error));
    }

    void otherArchitecture() {
        QByteArray bytes = fixtureBytes("tiny-gemma4-e");
        const qsizetype at = afterString(bytes, "general.architecture");
        // value: type u32 (8 = string), length u64, "gemma4"
        QCOMPARE(bytes.mid(at + 4 + 8, 6), QByteArray("gemma4"));
        bytes.replace(at + 4 + 8, 6, "llama3");
        const QString error = loadError(bytes);
        QVERIFY2(error.contains("'llama3'") && error.contains("not supported"), qPrintable(error));

        // An mmproj file is refused with a hint.
        try {
            model::Model::load(OCELLE_FIXTURES_DIR "/vision/tiny-gemma4-e-mmproj.gguf");
            QFAIL("an mmproj file loaded as a text model");
        } catch (const model::ModelError& e) {
            QVERIFY2(QString(e.what()).contains("'clip'") && QString(e.what()).contains("mmproj"), e.what());
        }
    }

    void missingOrBadMetadata() {
        QByteArray bytes = fixtureBytes("tiny-gemma4-moe");
        qsizetype at = afterString(bytes, "gemma4.attention.sliding_window_pattern");
        bytes[at - 1] = 'X';
        QString error = loadError(bytes);
        QVERIFY2(error.contains("gemma4.attention.sliding_window_pattern") && error.contains("missing"),
                 qPrintable(error));

        // head_count_kv array with a value that does not divide head_count.
        bytes = fixtureBytes("tiny-gemma4-moe");
        at = afterString(bytes, "gemma4.attention.head_count_kv");
        // type u32 (9 = array), element type u32, count u64, then int32 values
        bytes[at + 4 + 4 + 8] = 3;
        error = loadError(bytes);
        QVERIFY2(error.contains("head_count_kv") && error.contains("layer 0"), qPrintable(error));
    }
};

QTEST_APPLESS_MAIN(TestModelPlan)
#include "test_model_plan.moc"
