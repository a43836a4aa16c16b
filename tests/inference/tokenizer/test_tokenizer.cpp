// The tokenizer against llama.cpp's output on the real Gemma 4 vocabulary: every case of the
// fixture files (read at run time, so new cases are picked up), plus load-time validation.
#include "gguf/gguf.h"
#include "gguf_bytes.h"
#include "tokenizer/vocab.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

using namespace ocelle::tokenizer;

namespace {

const char* kVocabPath = OCELLE_FIXTURES_DIR "/tokenizer/ggml-vocab-gemma-4.gguf";

QString idsToString(const std::vector<TokenId>& ids) {
    QStringList parts;
    for (TokenId id : ids) parts << QString::number(id);
    return parts.join(' ');
}

QByteArray readFile(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) qFatal("cannot read %s", qPrintable(path));
    return f.readAll();
}

} // namespace

class TestTokenizer : public QObject {
    Q_OBJECT
    std::unique_ptr<Vocab> vocab_;

private slots:
    void initTestCase() {
        QElapsedTimer timer;
        timer.start();
        vocab_ = Vocab::load(kVocabPath);
        qInfo("vocabulary loaded in %lld ms", static_cast<long long>(timer.elapsed()));
        QCOMPARE(vocab_->size(), size_t(262144));
        QCOMPARE(vocab_->mergeCount(), size_t(514906));
    }

    void specialTokensByText() {
        QCOMPARE(vocab_->bos(), vocab_->require("<bos>"));
        QCOMPARE(vocab_->eos(), vocab_->require("<eos>"));
        QVERIFY(vocab_->isControl(vocab_->require("<|turn>")));
        QVERIFY(vocab_->isUserDefined(vocab_->require("<|channel>")));
        QVERIFY(!vocab_->isControl(vocab_->require("<|channel>")));
        QVERIFY(vocab_->isByte(vocab_->require("<0x41>")));
        for (const char* eog : {"<eos>", "<turn|>", "<|tool_response>"})
            QVERIFY2(vocab_->isEndOfGeneration(vocab_->require(eog)), eog);
        QVERIFY(!vocab_->isEndOfGeneration(vocab_->require("<|turn>")));
        QVERIFY_THROWS_EXCEPTION(Error, vocab_->require("<no such token>"));
        QVERIFY_THROWS_EXCEPTION(Error, vocab_->piece(static_cast<TokenId>(vocab_->size()), false));
        QVERIFY_THROWS_EXCEPTION(Error, vocab_->piece(-1, false));
    }

    void fixtureCases_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("addSpecial");
        QTest::addColumn<bool>("parseSpecial");
        QTest::addColumn<QString>("expected");
        const QList<QByteArray> lines = readFile(OCELLE_FIXTURES_DIR "/tokenizer/cases.jsonl").split('\n');
        int row = 0;
        for (const QByteArray& line : lines) {
            if (line.trimmed().isEmpty()) continue;
            QJsonParseError error;
            const QJsonObject o = QJsonDocument::fromJson(line, &error).object();
            QVERIFY2(error.error == QJsonParseError::NoError, qPrintable(error.errorString()));
            QStringList ids;
            for (const auto& v : o["ids"].toArray()) ids << QString::number(v.toInt());
            QTest::addRow("case %d", ++row) << o["text"].toString() << o["add_special"].toBool()
                                            << o["parse_special"].toBool() << ids.join(' ');
        }
        QVERIFY(row >= 63);
    }

    void fixtureCases() {
        QFETCH(QString, text);
        QFETCH(bool, addSpecial);
        QFETCH(bool, parseSpecial);
        QFETCH(QString, expected);
        const QByteArray utf8 = text.toUtf8();
        const auto ids =
            vocab_->tokenize(std::string_view(utf8.constData(), utf8.size()), addSpecial, parseSpecial);
        QCOMPARE(idsToString(ids), expected);
    }

    // llama.cpp's own test vectors: inputs separated by "\n__ggml_vocab_test__\n", one output
    // line each, tokenized without BOS and without special-token parsing.
    void llamaCppVocabTestVectors_data() {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<QString>("expected");
        const QByteArray inp = readFile(OCELLE_FIXTURES_DIR "/tokenizer/ggml-vocab-gemma-4.gguf.inp");
        const QByteArray out = readFile(OCELLE_FIXTURES_DIR "/tokenizer/ggml-vocab-gemma-4.gguf.out");
        const QByteArray separator = "\n__ggml_vocab_test__\n";
        QList<QByteArray> inputs;
        qsizetype from = 0;
        for (qsizetype at; (at = inp.indexOf(separator, from)) >= 0; from = at + separator.size())
            inputs << inp.mid(from, at - from);
        inputs << inp.mid(from); // the last input runs to the end of the file
        QList<QByteArray> outputs = out.split('\n');
        if (!outputs.isEmpty() && outputs.last().isEmpty() && outputs.size() > inputs.size())
            outputs.removeLast();
        QCOMPARE(outputs.size(), inputs.size());
        QVERIFY(inputs.size() > 30);
        for (qsizetype i = 0; i < inputs.size(); ++i)
            QTest::addRow("vector %lld", static_cast<long long>(i))
                << inputs[i] << QString::fromUtf8(outputs[i]).trimmed();
    }

    void llamaCppVocabTestVectors() {
        QFETCH(QByteArray, text);
        QFETCH(QString, expected);
        const auto ids = vocab_->tokenize(std::string_view(text.constData(), text.size()), false, false);
        QCOMPARE(idsToString(ids), expected);
    }

    // Text without special tokens survives tokenize -> detokenize unchanged.
    void roundTripsFixtureTexts() {
        const QList<QByteArray> lines = readFile(OCELLE_FIXTURES_DIR "/tokenizer/cases.jsonl").split('\n');
        DetokenizeOptions plain;
        plain.cleanSpaces = false;
        for (const QByteArray& line : lines) {
            if (line.trimmed().isEmpty()) continue;
            const QJsonObject o = QJsonDocument::fromJson(line).object();
            if (o["parse_special"].toBool()) continue;
            const QByteArray text = o["text"].toString().toUtf8();
            const auto ids = vocab_->tokenize(std::string_view(text.constData(), text.size()), false, false);
            const std::string back = vocab_->detokenize(ids, plain);
            QCOMPARE(QByteArray::fromStdString(back), text);
        }
    }

    void controlTextIsPlainWithoutParseSpecial() {
        const TokenId turn = vocab_->require("<|turn>");
        const auto parsed = vocab_->tokenize("<|turn>user", false, true);
        QCOMPARE(parsed.front(), turn);
        const auto plain = vocab_->tokenize("<|turn>user", false, false);
        QVERIFY(std::find(plain.begin(), plain.end(), turn) == plain.end());
        // USER_DEFINED tokens are matched either way.
        const TokenId quote = vocab_->require("<|\"|>");
        QCOMPARE(vocab_->tokenize("<|\"|>", false, false), std::vector<TokenId>{quote});
    }

    void oneBosWhenAsked() {
        const auto ids = vocab_->tokenize("Hello", true, true);
        QCOMPARE(std::count(ids.begin(), ids.end(), vocab_->bos()), 1);
        QCOMPARE(ids.front(), vocab_->bos());
        const auto none = vocab_->tokenize("Hello", false, true);
        QCOMPARE(std::count(none.begin(), none.end(), vocab_->bos()), 0);
    }

    void longRunsAndInvalidUtf8() {
        // A single 200 kB "word" (no newline) tokenizes and round-trips.
        std::string word;
        for (int i = 0; i < 20000; ++i) word += "abc\xC3\xA9xyz \xE2\x82\xAC";
        const auto ids = vocab_->tokenize(word, false, false);
        QVERIFY(!ids.empty());
        DetokenizeOptions plain;
        plain.cleanSpaces = false;
        QCOMPARE(vocab_->detokenize(ids, plain), word);
        // 40 newlines: no single token; pieces still cover every newline.
        const std::string newlines(40, '\n');
        QCOMPARE(vocab_->detokenize(vocab_->tokenize(newlines, false, false), plain), newlines);
        // Bytes that are not UTF-8 are read as U+FFFD, one per bad byte (llama.cpp's decoder).
        QCOMPARE(vocab_->tokenize("a\xFF b\xE2\x82", false, false),
                 vocab_->tokenize("a\xEF\xBF\xBD b\xEF\xBF\xBD\xEF\xBF\xBD", false, false));
        QCOMPARE(vocab_->tokenize("\xF5\x80\x80\x80", false, false),
                 vocab_->tokenize("\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", false, false));
    }

    void refusesOtherTokenizers() {
        const auto bytes = ocelle::testing::GgufBytes()
                               .string("tokenizer.ggml.model", "llama")
                               .strings("tokenizer.ggml.tokens", {"<unk>", "a"})
                               .finish();
        auto file = ocelle::gguf::File::fromMemory(bytes, "llama-vocab.gguf");
        try {
            Vocab::fromGguf(*file);
            QFAIL("a llama tokenizer was accepted");
        } catch (const Error& e) {
            const QString message = e.what();
            QVERIFY2(message.contains("llama-vocab.gguf") && message.contains("'llama'") &&
                         message.contains("gemma4"),
                     e.what());
        }
    }

    void reportsBrokenTokenizerData() {
        using ocelle::testing::GgufBytes;
        struct Case {
            const char* name;
            std::vector<uint8_t> bytes;
            const char* expect;
        };
        const std::vector<Case> cases = {
            {"no model key", GgufBytes().strings("tokenizer.ggml.tokens", {"a"}).finish(),
             "tokenizer.ggml.model"},
            {"no tokens", GgufBytes().string("tokenizer.ggml.model", "gemma4").finish(),
             "tokenizer.ggml.tokens"},
            {"no merges",
             GgufBytes()
                 .string("tokenizer.ggml.model", "gemma4")
                 .strings("tokenizer.ggml.tokens", {"a", "b"})
                 .finish(),
             "tokenizer.ggml.merges"},
            {"short token types",
             GgufBytes()
                 .string("tokenizer.ggml.model", "gemma4")
                 .strings("tokenizer.ggml.tokens", {"a", "b"})
                 .int32s("tokenizer.ggml.token_type", {1})
                 .strings("tokenizer.ggml.merges", {"a b"})
                 .finish(),
             "token_type"},
            {"duplicate token",
             GgufBytes()
                 .string("tokenizer.ggml.model", "gemma4")
                 .strings("tokenizer.ggml.tokens", {"a", "a"})
                 .strings("tokenizer.ggml.merges", {"a a"})
                 .u32Value("tokenizer.ggml.bos_token_id", 0)
                 .u32Value("tokenizer.ggml.eos_token_id", 1)
                 .finish(),
             "duplicate token"},
            {"bos out of range",
             GgufBytes()
                 .string("tokenizer.ggml.model", "gemma4")
                 .strings("tokenizer.ggml.tokens", {"a", "b"})
                 .strings("tokenizer.ggml.merges", {"a b"})
                 .u32Value("tokenizer.ggml.bos_token_id", 7)
                 .u32Value("tokenizer.ggml.eos_token_id", 1)
                 .finish(),
             "bos_token_id"},
            {"merge without space",
             GgufBytes()
                 .string("tokenizer.ggml.model", "gemma4")
                 .strings("tokenizer.ggml.tokens", {"a", "b"})
                 .strings("tokenizer.ggml.merges", {"ab"})
                 .u32Value("tokenizer.ggml.bos_token_id", 0)
                 .u32Value("tokenizer.ggml.eos_token_id", 1)
                 .finish(),
             "merge 0"},
        };
        for (const Case& c : cases) {
            auto file = ocelle::gguf::File::fromMemory(c.bytes, "broken.gguf");
            try {
                Vocab::fromGguf(*file);
                QFAIL(qPrintable(QString("accepted: ") + c.name));
            } catch (const Error& e) {
                QVERIFY2(QString(e.what()).contains(c.expect) && QString(e.what()).contains("broken.gguf"),
                         qPrintable(QString(c.name) + ": " + e.what()));
            }
        }
    }

    void tinyVocabularyMergesByRank() {
        // "a b" outranks "b c", so "abc" becomes "ab" + "c" although "bc" is also a token.
        const auto bytes =
            ocelle::testing::GgufBytes()
                .string("tokenizer.ggml.model", "gemma4")
                .strings("tokenizer.ggml.tokens", {"<bos>", "<eos>", "a", "b", "c", "ab", "bc", "<0x63>"})
                .int32s("tokenizer.ggml.token_type", {3, 3, 1, 1, 1, 1, 1, 6})
                .strings("tokenizer.ggml.merges", {"a b", "b c"})
                .u32Value("tokenizer.ggml.bos_token_id", 0)
                .u32Value("tokenizer.ggml.eos_token_id", 1)
                .finish();
        auto file = ocelle::gguf::File::fromMemory(bytes, "tiny.gguf");
        auto vocab = Vocab::fromGguf(*file);
        QCOMPARE(vocab->tokenize("abc", false, false), (std::vector<TokenId>{5, 4}));
        QCOMPARE(vocab->tokenize("bc", true, false), (std::vector<TokenId>{0, 6}));
        // "d" is no token and has no byte token: dropped, as llama.cpp does.
        QCOMPARE(vocab->tokenize("d", false, false), std::vector<TokenId>{});
    }
};

QTEST_APPLESS_MAIN(TestTokenizer)
#include "test_tokenizer.moc"
