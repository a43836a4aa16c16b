// The CPU text decoder against independent references: the float64 NumPy forward pass and
// llama.cpp's logits stored with every fixture model (new *.ref.json files are picked up), on every
// instruction-set level, plus the alternative expert layout and image soft tokens.
#include "cpu/matmul.h"
#include "gguf/gguf_writer.h"

#include <cstring>

#include "fixture_reference.h"

using namespace ocelle;
using namespace ocelle::cpu_test;

class TestCpuModel : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QVERIFY2(!fixtures().isEmpty(), qPrintable("no *.ref.json in " + kModels)); }

    // Every fixture on every instruction-set level the dispatcher can pick (unsupported ones skip).
    static void addFixtureIsaRows() {
        QTest::addColumn<int>("fixture");
        QTest::addColumn<int>("isa");
        for (int i = 0; i < fixtures().size(); ++i)
            for (cpu::Isa isa : {cpu::Isa::Avx512, cpu::Isa::Avx2, cpu::Isa::Portable})
                QTest::newRow(qPrintable(fixtures()[i].name + "/" + cpu::isaName(isa))) << i << int(isa);
    }

    void fixtureLogits_data() { addFixtureIsaRows(); }

    // Prompt + float64 greedy continuation as one batched prefill: every position against the
    // float64 reference (2e-3) and llama.cpp (1.0).
    void fixtureLogits() {
        QFETCH(int, fixture);
        QFETCH(int, isa);
        IsaGuard guard(static_cast<cpu::Isa>(isa));
        if (!guard.ok) QSKIP("this CPU lacks the instruction set");
        const Fixture& f = fixtures()[fixture];
        const auto model = cpu::CpuModel::load(f.gguf.toStdString());
        const int vocab = model->hparams().nVocab;
        QCOMPARE(vocab, f.ref["n_vocab"].toInt());
        Checker checker;
        for (const auto& p : f.ref["prompts"].toArray()) {
            const auto prompt = p.toObject();
            const auto ids = promptWithGreedy(prompt);
            auto session =
                model->createSession({.contextLength = int64_t(ids.size()), .maxBatch = int(ids.size())});
            const auto logits = session->prefill(ids, cpu::LogitsFor::All);
            QCOMPARE(logits.size(), ids.size() * size_t(vocab));
            checkAgainstReferences(checker, logits.data(), vocab, prompt, f.ref["probe_ids"].toArray(), 2e-3,
                                   f.name + "/" + prompt["name"].toString());
        }
        qInfo("%s: max |ours - reference| over checked ids %.3g", qPrintable(f.name), checker.worst);
        QVERIFY2(checker.failures.isEmpty(), qPrintable(checker.failures.join('\n')));
    }

    void quantizedActivations_data() { addFixtureIsaRows(); }

    // The optional quantized-activation mode (8-bit activations for Q4_0/Q8_0 products, as
    // llama.cpp does) stays within its stated tolerance of 1.0 of the float64 reference and
    // llama.cpp at every position, in decode and in batched prefill, and really is a different
    // computation from the exact path.
    void quantizedActivations() {
        QFETCH(int, fixture);
        QFETCH(int, isa);
        IsaGuard guard(static_cast<cpu::Isa>(isa));
        if (!guard.ok) QSKIP("this CPU lacks the instruction set");
        const Fixture& f = fixtures()[fixture];
        const auto model = cpu::CpuModel::load(f.gguf.toStdString());
        const int vocab = model->hparams().nVocab;
        Checker checker, float64Checker;
        float largestChange = 0;
        for (const auto& p : f.ref["prompts"].toArray()) {
            const auto prompt = p.toObject();
            const auto ids = toIds(prompt["ids"].toArray());
            // The mode applies to decode steps (the prompt fed one token at a time) and to batched
            // prefill (the whole prompt in one pass: the register-blocked tiles).
            auto session =
                model->createSession({.contextLength = int64_t(ids.size()), .maxBatch = int(ids.size())});
            const auto stepByStep = [&] {
                session->reset();
                std::vector<float> all;
                for (int32_t id : ids) {
                    const auto logits = session->decode(id);
                    all.insert(all.end(), logits.begin(), logits.end());
                }
                return all;
            };
            const auto batched = [&] {
                session->reset();
                return session->prefill(ids, cpu::LogitsFor::All);
            };
            cpu::setActivationPrecision(cpu::ActivationPrecision::Q8);
            const auto quantized = stepByStep();
            const auto quantizedBatch = batched();
            cpu::setActivationPrecision(cpu::ActivationPrecision::Exact);
            const auto exact = stepByStep();
            largestChange = std::max(largestChange, maxAbsDiff(quantized, exact));
            // Prompt positions: llama.cpp (which quantizes activations the same way) within 1.0,
            // float64 top-10 within 1.0 as well (the mode's stated tolerance).
            const int n = prompt["n_tokens"].toInt();
            const auto f64 = prompt["float64_reference"].toObject()["positions"].toArray();
            const auto llama = prompt["fa_off"].toObject()["positions"].toArray();
            for (const auto* run : {&quantized, &quantizedBatch})
                for (int i = 0; i < n; ++i) {
                    const QString where = f.name + (run == &quantized ? " q8 decode/" : " q8 prefill/") +
                                          prompt["name"].toString() + QString(" pos %1").arg(i);
                    checker.position(run->data() + size_t(i) * vocab, vocab, llama[i].toObject(), 1.0, {},
                                     false, where + " llama.cpp");
                    float64Checker.position(run->data() + size_t(i) * vocab, vocab, f64[i].toObject(), 1.0,
                                            {}, false, where + " float64");
                }
        }
        qInfo("%s: quantized activations move logits by up to %.3g", qPrintable(f.name), largestChange);
        QVERIFY2(float64Checker.failures.isEmpty(), qPrintable(float64Checker.failures.join('\n')));
        QVERIFY2(checker.failures.isEmpty(), qPrintable(checker.failures.join('\n')));
        QVERIFY2(largestChange > 1e-4, "the quantized-activation mode did not change any product");
    }

    void greedyDecode_data() { addFixtureIsaRows(); }

    // Prefill the prompt, then generate greedily one decode() at a time (the single-token kernels):
    // the 16 tokens are the float64 reference's, and each step's logits match it.
    void greedyDecode() {
        QFETCH(int, fixture);
        QFETCH(int, isa);
        IsaGuard guard(static_cast<cpu::Isa>(isa));
        if (!guard.ok) QSKIP("this CPU lacks the instruction set");
        const Fixture& f = fixtures()[fixture];
        const auto model = cpu::CpuModel::load(f.gguf.toStdString());
        const int vocab = model->hparams().nVocab;
        Checker checker;
        for (const auto& p : f.ref["prompts"].toArray()) {
            const auto prompt = p.toObject();
            const auto ids = toIds(prompt["ids"].toArray());
            const auto f64 = prompt["float64_reference"].toObject()["greedy"].toObject();
            const auto expected = toIds(f64["ids"].toArray());
            const auto steps = f64["steps"].toArray();
            auto session = model->createSession({.contextLength = 128});
            auto logits = session->prefill(ids);
            std::vector<int32_t> generated;
            for (size_t k = 0; k < expected.size(); ++k) {
                checker.position(logits.data(), vocab, steps[int(k)].toObject(), 2e-3,
                                 f.ref["probe_ids"].toArray(), true,
                                 f.name + "/" + prompt["name"].toString() + QString(" step %1").arg(k));
                generated.push_back(argmax(logits.data(), vocab));
                logits = session->decode(generated.back());
            }
            QCOMPARE(generated, expected);
            QCOMPARE(session->position(), int64_t(ids.size() + expected.size()));
        }
        QVERIFY2(checker.failures.isEmpty(), qPrintable(checker.failures.join('\n')));
    }

    // GGUFs may store the experts' gate and up projections as two tensors instead of the fused
    // ffn_gate_up_exps: the MoE fixture rewritten that way (same stored blocks, split per expert)
    // still matches the float64 reference.
    void splitExpertTensors() {
        int rewritten = 0;
        for (const Fixture& f : fixtures()) {
            const auto source = gguf::File::open(f.gguf.toStdString());
            if (!source->tensor("blk.0.ffn_gate_up_exps.weight")) continue;
            gguf::Writer writer;
            for (const auto& [key, value] : source->metadata())
                if (key != "general.alignment") writer.set(key, gguf::MetaValue::copyOf(value));
            for (const auto& t : source->tensors()) {
                const std::string fused = "ffn_gate_up_exps.weight";
                if (t.name.size() > fused.size() && t.name.ends_with(fused)) {
                    const int64_t E = t.dim(0), F = t.dim(1) / 2, X = t.dim(2);
                    const uint64_t rowBytes = t.nbytes / uint64_t(2 * F * X);
                    std::vector<uint8_t> gate, up;
                    for (int64_t e = 0; e < X; ++e) {
                        const uint8_t* expert = t.data + uint64_t(e * 2 * F) * rowBytes;
                        gate.insert(gate.end(), expert, expert + F * rowBytes);
                        up.insert(up.end(), expert + F * rowBytes, expert + 2 * F * rowBytes);
                    }
                    const std::string prefix = t.name.substr(0, t.name.size() - fused.size());
                    writer.addRawTensor(prefix + "ffn_gate_exps.weight", {E, F, X}, t.rawType, gate);
                    writer.addRawTensor(prefix + "ffn_up_exps.weight", {E, F, X}, t.rawType, up);
                } else {
                    writer.addRawTensor(t.name, t.ne, t.rawType, std::span(t.data, t.nbytes));
                }
            }
            const auto bytes = writer.toBytes();
            auto file = gguf::File::fromMemory(bytes, "split-experts.gguf");
            QVERIFY(!file->tensor("blk.0.ffn_gate_up_exps.weight") &&
                    file->tensor("blk.0.ffn_gate_exps.weight"));
            cpu::CpuModel model(model::Model::fromFile(std::move(file)));
            QVERIFY(model.model().plan().layers[0].moe->gate);
            const int vocab = model.hparams().nVocab;
            Checker checker;
            for (const auto& p : f.ref["prompts"].toArray()) {
                const auto prompt = p.toObject();
                const auto ids = promptWithGreedy(prompt);
                auto session = model.createSession({.contextLength = int64_t(ids.size())});
                const auto logits = session->prefill(ids, cpu::LogitsFor::All);
                checkAgainstReferences(checker, logits.data(), vocab, prompt, f.ref["probe_ids"].toArray(),
                                       2e-3, f.name + " split experts/" + prompt["name"].toString());
            }
            QVERIFY2(checker.failures.isEmpty(), qPrintable(checker.failures.join('\n')));
            ++rewritten;
        }
        if (rewritten == 0) QSKIP("no MoE fixture");
    }

    // Soft tokens: llama.cpp's image embeddings for the vision fixture fed at the image positions,
    // decoded causally; the last position matches the float64 reference computed the same way.
    void imageSoftTokens() {
        const QString dir = QStringLiteral(OCELLE_FIXTURES_DIR "/vision");
        const auto ref = readJson(dir + "/vision.ref.json");
        const auto model = cpu::CpuModel::load((dir + "/" + ref["text_model"].toString()).toStdString());
        const int E = model->hparams().nEmbd;
        const int vocab = model->hparams().nVocab;
        for (const auto& imageValue : ref["images"].toArray()) {
            const auto image = imageValue.toObject();
            QFile embd(dir + "/" + image["embeddings"].toObject()["file"].toString());
            QVERIFY(embd.open(QIODevice::ReadOnly));
            const QByteArray bytes = embd.readAll();
            const int nSoft = image["n_soft_tokens"].toInt();
            QCOMPARE(bytes.size(), qsizetype(nSoft) * E * 4);
            std::vector<float> rows(size_t(nSoft) * E);
            std::memcpy(rows.data(), bytes.data(), size_t(bytes.size()));
            std::vector<int32_t> ids;
            int64_t softFirst = -1;
            for (const auto& c : image["chunks"].toArray()) {
                const auto chunk = c.toObject();
                if (chunk["type"].toString() == "text") {
                    const auto part = toIds(chunk["ids"].toArray());
                    ids.insert(ids.end(), part.begin(), part.end());
                } else {
                    softFirst = int64_t(ids.size());
                    ids.insert(ids.end(), size_t(chunk["n_tokens"].toInt()), 258880); // <|image|>, replaced
                }
            }
            QVERIFY(softFirst > 0);
            auto session = model->createSession({.contextLength = int64_t(ids.size()), .maxBatch = 64});
            const cpu::SoftTokens soft{.first = softFirst, .count = nSoft, .embeddings = rows};
            const auto logits = session->prefill(ids, cpu::LogitsFor::Last, {&soft, 1});
            Checker checker;
            const auto expected = image["float64_reference_last_logits"].toObject()["causal"].toObject();
            checker.position(logits.data(), vocab, expected, 2e-3, {}, false, image["image"].toString());
            QVERIFY2(checker.failures.isEmpty(), qPrintable(checker.failures.join('\n')));
            QCOMPARE(argmax(logits.data(), vocab), expected["argmax"].toInt());
        }
    }
};

QTEST_APPLESS_MAIN(TestCpuModel)
#include "test_cpu_model.moc"
