// ocelle-cli tokenize / detokenize / chat-template, run as a process on the fixture vocabulary:
// their exact output formats are what other tools read.
#include "cli/cli_run.h"
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

namespace {

const QString kVocab = OCELLE_FIXTURES_DIR "/tokenizer/ggml-vocab-gemma-4.gguf";

using Run = ocelle::test::CliRun<QByteArray>;

Run cli(const QStringList& arguments) {
    return ocelle::test::runCli<QByteArray>(arguments, 60000);
}

QList<QJsonObject> readJsonLines(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) qFatal("cannot read %s", qPrintable(path));
    QList<QJsonObject> out;
    for (const QByteArray& line : f.readAll().split('\n'))
        if (!line.trimmed().isEmpty()) out << QJsonDocument::fromJson(line).object();
    return out;
}

QByteArray idLine(const QJsonArray& ids) {
    QStringList parts;
    for (const auto& id : ids) parts << QString::number(id.toInt());
    return parts.join(' ').toUtf8();
}

} // namespace

class TestTokenizerCli : public QObject {
    Q_OBJECT
private slots:
    void tokenizeMatchesFixtureCases() {
        const auto cases = readJsonLines(OCELLE_FIXTURES_DIR "/tokenizer/cases.jsonl");
        QVERIFY(cases.size() >= 63);
        // One process per flag combination and a spread of texts keeps the test short; the
        // library test covers every case.
        int checked = 0;
        for (qsizetype i = 0; i < cases.size(); i += 4) {
            const QJsonObject& c = cases[i];
            QStringList args = {"tokenize", "--model", kVocab, "--text", c["text"].toString()};
            if (!c["add_special"].toBool()) args << "--no-bos";
            if (!c["parse_special"].toBool()) args << "--no-special";
            const Run r = cli(args);
            QVERIFY2(r.exitCode == 0, r.err.constData());
            QCOMPARE(r.out, idLine(c["ids"].toArray()) + "\n");
            ++checked;
        }
        QVERIFY(checked >= 15);
    }

    void tokenizeFlags() {
        const Run plain =
            cli({"tokenize", "--model", kVocab, "--text", "<|turn>user", "--no-bos", "--no-special"});
        const Run special = cli({"tokenize", "--model", kVocab, "--text", "<|turn>user"});
        QCOMPARE(plain.exitCode, 0);
        QVERIFY(special.out.startsWith("2 105 "));
        QVERIFY(!plain.out.startsWith("2 "));
        QVERIFY(!plain.out.contains(" 105 "));
        QVERIFY(!plain.out.contains(' ' + QByteArray("\n")) && plain.out.endsWith('\n'));
    }

    void detokenizeMatchesFixtureCases() {
        const auto cases = readJsonLines(OCELLE_FIXTURES_DIR "/tokenizer/detok.jsonl");
        QVERIFY(cases.size() >= 21);
        // Every other case (the library test covers all); each flag combination occurs among them.
        for (qsizetype i = 0; i < cases.size(); i += 2) {
            const QJsonObject& c = cases[i];
            QStringList args = {"detokenize", "--model", kVocab, "--ids", idLine(c["ids"].toArray())};
            if (c["remove_special"].toBool()) args << "--remove-bos";
            if (c["unparse_special"].toBool()) args << "--special";
            const Run r = cli(args);
            QVERIFY2(r.exitCode == 0, r.err.constData());
            QCOMPARE(r.out.toHex(), c["text_utf8_hex"].toString().toLatin1());
        }
    }

    void chatTemplate() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString path = dir.filePath("chat.json");
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(
            R"({"thinking": true, "messages": [{"role": "system", "content": "You are a helpful assistant."},
                   {"role": "user", "content": [{"type": "text", "text": "What is 2+2?"}]}]})");
        f.close();
        const Run text = cli({"chat-template", "--model", kVocab, "--json", path});
        QVERIFY2(text.exitCode == 0, text.err.constData());
        QCOMPARE(text.out,
                 QByteArray("<bos><|turn>system\n<|think|>You are a helpful assistant.<turn|>\n<|turn>user\n"
                            "What is 2+2?<turn|>\n<|turn>model\n"));
        // The ids are llama.cpp's for this prompt (detok.jsonl).
        const Run ids = cli({"chat-template", "--model", kVocab, "--json", path, "--ids"});
        QCOMPARE(ids.exitCode, 0);
        bool found = false;
        for (const QJsonObject& c : readJsonLines(OCELLE_FIXTURES_DIR "/tokenizer/detok.jsonl")) {
            if (c["note"].toString() != "chat prompt with control tokens rendered") continue;
            QCOMPARE(ids.out, idLine(c["ids"].toArray()) + "\n");
            found = true;
        }
        QVERIFY(found);
    }

    void errorsAreReported() {
        const Run missing = cli({"tokenize", "--model", "/nonexistent.gguf", "--text", "x"});
        QCOMPARE(missing.exitCode, 1);
        QVERIFY2(missing.err.contains("/nonexistent.gguf"), missing.err.constData());
        const Run badId = cli({"detokenize", "--model", kVocab, "--ids", "2 999999"});
        QCOMPARE(badId.exitCode, 2);
        QVERIFY2(badId.err.contains("999999"), badId.err.constData());
        const Run noText = cli({"tokenize", "--model", kVocab});
        QCOMPARE(noText.exitCode, 2);
        QVERIFY(noText.err.contains("--text"));
        QTemporaryDir dir;
        const QString path = dir.filePath("bad.json");
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"hologram\"}]}]}");
        f.close();
        const Run badJson = cli({"chat-template", "--model", kVocab, "--json", path});
        QCOMPARE(badJson.exitCode, 1);
        QVERIFY2(badJson.err.contains("hologram") && badJson.err.contains("bad.json"),
                 badJson.err.constData());
    }
};

QTEST_APPLESS_MAIN(TestTokenizerCli)
#include "test_tokenizer_cli.moc"
