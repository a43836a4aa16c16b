// Detokenization against llama.cpp on every case of detok.jsonl: whole sequences, per-token
// pieces, and token-by-token streaming that must never split a UTF-8 character.
#include "tokenizer/detokenizer.h"
#include "tokenizer/vocab.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

using namespace ocelle::tokenizer;

namespace {

bool isValidUtf8(const QByteArray& bytes) {
    // Independent of the code under test: Qt's decoder, checked by a lossless round trip.
    return QString::fromUtf8(bytes).toUtf8() == bytes;
}

} // namespace

class TestDetokenizer : public QObject {
    Q_OBJECT
    std::unique_ptr<Vocab> vocab_;

private slots:
    void initTestCase() { vocab_ = Vocab::load(OCELLE_FIXTURES_DIR "/tokenizer/ggml-vocab-gemma-4.gguf"); }

    void fixtureCases_data() {
        QTest::addColumn<QJsonObject>("fixture");
        QFile f(OCELLE_FIXTURES_DIR "/tokenizer/detok.jsonl");
        QVERIFY(f.open(QIODevice::ReadOnly));
        int row = 0;
        for (const QByteArray& line : f.readAll().split('\n')) {
            if (line.trimmed().isEmpty()) continue;
            QJsonParseError error;
            const QJsonObject o = QJsonDocument::fromJson(line, &error).object();
            QVERIFY2(error.error == QJsonParseError::NoError, qPrintable(error.errorString()));
            QTest::addRow("case %d: %s", ++row, qPrintable(o["note"].toString())) << o;
        }
        QVERIFY(row >= 21);
    }

    void fixtureCases() {
        QFETCH(QJsonObject, fixture);
        std::vector<TokenId> ids;
        for (const auto& v : fixture["ids"].toArray()) ids.push_back(v.toInt());
        DetokenizeOptions options;
        options.removeSpecial = fixture["remove_special"].toBool();
        options.unparseSpecial = fixture["unparse_special"].toBool();
        const QByteArray expected = QByteArray::fromHex(fixture["text_utf8_hex"].toString().toLatin1());
        if (fixture["valid_utf8"].toBool()) QCOMPARE(QString::fromUtf8(expected), fixture["text"].toString());

        // Whole sequence, as llama_detokenize.
        QCOMPARE(QByteArray::fromStdString(vocab_->detokenize(ids, options)), expected);

        // Per-token pieces, as llama_token_to_piece.
        const QJsonArray pieces = fixture["pieces_hex"].toArray();
        QCOMPARE(static_cast<size_t>(pieces.size()), ids.size());
        for (size_t i = 0; i < ids.size(); ++i) {
            const QByteArray piece = QByteArray::fromStdString(vocab_->piece(ids[i], options.unparseSpecial));
            QCOMPARE(piece.toHex(), pieces[static_cast<qsizetype>(i)].toString().toLatin1());
        }

        // Streaming, one token at a time.
        StreamingDetokenizer stream(*vocab_, options);
        QByteArray joined;
        for (TokenId id : ids) {
            const QByteArray chunk = QByteArray::fromStdString(stream.push(id));
            if (fixture["valid_utf8"].toBool()) QVERIFY2(isValidUtf8(chunk), chunk.toHex().constData());
            joined += chunk;
        }
        joined += QByteArray::fromStdString(stream.flush());
        QCOMPARE(joined, expected);
        QVERIFY(!stream.holding());
    }

    void byteFallbackCharacterComesOutWhole() {
        // 😀 as four byte tokens: nothing until the last byte, then the whole character.
        const std::vector<TokenId> ids = {vocab_->require("<0xF0>"), vocab_->require("<0x9F>"),
                                          vocab_->require("<0x98>"), vocab_->require("<0x80>")};
        StreamingDetokenizer stream(*vocab_);
        QCOMPARE(stream.push(ids[0]), std::string());
        QCOMPARE(stream.push(ids[1]), std::string());
        QCOMPARE(stream.push(ids[2]), std::string());
        QVERIFY(stream.holding());
        QCOMPARE(stream.push(ids[3]), std::string("\xF0\x9F\x98\x80"));
        QVERIFY(!stream.holding());
        // An ASCII token after an unfinished lead byte releases the stray byte with it.
        QCOMPARE(stream.push(ids[0]), std::string());
        QCOMPARE(stream.push(vocab_->require("<0x41>")), std::string("\xF0"
                                                                     "A"));
        // reset() starts over: a leading <bos> is dropped again with removeSpecial.
        DetokenizeOptions remove;
        remove.removeSpecial = true;
        remove.unparseSpecial = true;
        StreamingDetokenizer special(*vocab_, remove);
        QCOMPARE(special.push(vocab_->bos()), std::string());
        QCOMPARE(special.push(vocab_->bos()), std::string("<bos>"));
        special.reset();
        QCOMPARE(special.push(vocab_->bos()), std::string());
    }

    void completePrefixRules() {
        QCOMPARE(completeUtf8Prefix(""), size_t(0));
        QCOMPARE(completeUtf8Prefix("abc"), size_t(3));
        QCOMPARE(completeUtf8Prefix("a\xE4\xB8"), size_t(1));
        QCOMPARE(completeUtf8Prefix("a\xE4\xB8\xAD"), size_t(4));
        QCOMPARE(completeUtf8Prefix("\xF0\x9F\x98"), size_t(0));
        QCOMPARE(completeUtf8Prefix("\x80\x80\x80\x80"), size_t(4)); // nothing could complete these
        QCOMPARE(completeUtf8Prefix("a\xFF"), size_t(2));
    }

    void cleanSpacesLikeLlamaCpp() {
        // llama_detokenize's clean-up for this vocabulary; streaming never applies it.
        const auto ids = vocab_->tokenize("Hi . Yes , it 's ok ' ok", false, false);
        QCOMPARE(vocab_->detokenize(ids), std::string("Hi. Yes, it's ok'ok"));
        DetokenizeOptions raw;
        raw.cleanSpaces = false;
        QCOMPARE(vocab_->detokenize(ids, raw), std::string("Hi . Yes , it 's ok ' ok"));
    }
};

QTEST_APPLESS_MAIN(TestDetokenizer)
#include "test_detokenizer.moc"
