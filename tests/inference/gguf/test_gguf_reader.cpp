#include "gguf/gguf.h"

#include <QtTest>

using namespace ocelle::gguf;

class TestGgufReader : public QObject {
    Q_OBJECT
private slots:
    void readsFixtureModel() {
        auto f = File::open(OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf");
        QCOMPARE(f->requireString("general.architecture"), std::string("gemma4"));
        QVERIFY(f->version() == 2 || f->version() == 3);
        QCOMPARE(f->requireInt("gemma4.embedding_length"), 64);
        const Value* tokens = f->find("tokenizer.ggml.tokens");
        QVERIFY(tokens && tokens->isArray());
        QCOMPARE(tokens->size(), uint64_t(262144));
        QCOMPARE(tokens->stringAt(2), std::string_view("<bos>"));
        const TensorInfo& embd = f->requireTensor("token_embd.weight");
        QCOMPARE(embd.ne[0], int64_t(64));
        QCOMPARE(embd.ne[1], int64_t(262144));
        QCOMPARE(typeName(embd.rawType), std::string("Q4_0"));
        QCOMPARE(embd.nbytes, uint64_t(64 / 32 * 18) * 262144);
        QVERIFY(embd.data >= reinterpret_cast<const uint8_t*>(0));
    }
};

QTEST_APPLESS_MAIN(TestGgufReader)
#include "test_gguf_reader.moc"
