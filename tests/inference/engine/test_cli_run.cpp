// `ocelle-cli run` end to end on the fixture models: greedy output against the float64
// reference (ids and raw text prompts), chat mode, seeds, context full, Ctrl-C, usage errors.
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QtTest>

#include <csignal>

namespace {

QString modelsDir() {
    return QStringLiteral(OCELLE_FIXTURES_DIR "/models");
}
QString eModel() {
    return modelsDir() + "/tiny-gemma4-e.gguf";
}

struct Run {
    int exitCode = -1;
    QByteArray out;
    QString err;
    qint64 msFromInterruptToExit = -1;
};

// With `interruptWhenDecoding`, SIGINT is sent once the first generated tokens reach stdout (the
// model is loaded, the prompt processed and the decode running), never to a process that has ended.
Run runCli(const QStringList& arguments, bool interruptWhenDecoding = false) {
    QProcess process;
    process.start(QStringLiteral(OCELLE_CLI_PATH), QStringList{"run"} + arguments);
    Run run;
    if (!process.waitForStarted()) return run;
    QElapsedTimer sinceInterrupt;
    if (interruptWhenDecoding) {
        const bool decoding = process.waitForReadyRead(120000);
        if (!decoding || process.state() != QProcess::Running || process.processId() <= 0) {
            process.waitForFinished(120000);
            run.err = "ocelle-cli ended before it could be interrupted";
            return run;
        }
        ::kill(pid_t(process.processId()), SIGINT);
        sinceInterrupt.start();
    }
    if (!process.waitForFinished(120000) || process.exitStatus() != QProcess::NormalExit) {
        run.err = "ocelle-cli did not finish normally: " + process.errorString();
        return run;
    }
    if (sinceInterrupt.isValid()) run.msFromInterruptToExit = sinceInterrupt.elapsed();
    run.exitCode = process.exitCode();
    run.out = process.readAllStandardOutput();
    run.err += QString::fromUtf8(process.readAllStandardError());
    return run;
}

// --json output: the token objects' ids and the final stats object.
struct JsonRun {
    std::vector<int> ids;
    QJsonObject last;
    bool valid = true;
};

JsonRun parseJsonLines(const QByteArray& out) {
    JsonRun r;
    for (const QByteArray& line : out.split('\n')) {
        if (line.isEmpty()) continue;
        QJsonParseError error;
        const QJsonObject o = QJsonDocument::fromJson(line, &error).object();
        if (error.error != QJsonParseError::NoError) r.valid = false;
        if (o.contains("stats"))
            r.last = o;
        else if (o["id"].toInt() >= 0)
            r.ids.push_back(o["id"].toInt());
    }
    return r;
}

QString idsText(const QJsonArray& ids) {
    QStringList words;
    for (const auto& v : ids) words << QString::number(v.toInt());
    return words.join(' ');
}

std::vector<int> toVector(const QJsonArray& ids) {
    std::vector<int> v;
    for (const auto& id : ids) v.push_back(id.toInt());
    return v;
}

QJsonObject readJson(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) qFatal("cannot open %s", qPrintable(path));
    return QJsonDocument::fromJson(f.readAll()).object();
}

} // namespace

class TestCliRun : public QObject {
    Q_OBJECT
private slots:
    void greedyReproducesTheFloat64Continuation_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("ids");
        QTest::addColumn<QString>("text"); // empty when the text does not give back the ids
        QTest::addColumn<QJsonArray>("expected");
        const auto refs = QDir(modelsDir()).entryList({"*.ref.json"}, QDir::Files, QDir::Name);
        QVERIFY(!refs.isEmpty());
        for (const QString& ref : refs) {
            const QJsonObject doc = readJson(modelsDir() + "/" + ref);
            for (const auto& value : doc["prompts"].toArray()) {
                const QJsonObject p = value.toObject();
                // Prompts cut to a token count no longer match their text.
                const bool textMatches =
                    p["truncated_to"].isNull() && p["add_special"].toBool() && p["parse_special"].toBool();
                QTest::newRow(qPrintable(ref.section('.', 0, 0) + "/" + p["name"].toString()))
                    << modelsDir() + "/" + QString(ref).replace(".ref.json", ".gguf")
                    << idsText(p["ids"].toArray()) << (textMatches ? p["text"].toString() : QString())
                    << p["float64_reference"].toObject()["greedy"].toObject()["ids"].toArray();
            }
        }
    }

    void greedyReproducesTheFloat64Continuation() {
        QFETCH(QString, model);
        QFETCH(QString, ids);
        QFETCH(QString, text);
        QFETCH(QJsonArray, expected);
        const QString count = QString::number(expected.size());
        const Run byIds =
            runCli({"--model", model, "--ids", ids, "--temp", "0", "--max-tokens", count, "--json"});
        QVERIFY2(byIds.exitCode == 0, qPrintable(byIds.err));
        const JsonRun parsed = parseJsonLines(byIds.out);
        QVERIFY(parsed.valid);
        QCOMPARE(parsed.ids, toVector(expected));
        const QJsonObject stats = parsed.last["stats"].toObject();
        QCOMPARE(stats["stop_reason"].toString(), QStringLiteral("max_tokens"));
        QCOMPARE(stats["generated_tokens"].toInt(), int(expected.size()));
        QCOMPARE(stats["prompt_tokens"].toInt(), int(ids.split(' ').size()));
        QVERIFY(stats["decode_tokens_per_second"].toDouble() > 0);

        if (text.isEmpty()) return;
        // --raw: the prompt's text, tokenized with control tokens recognised and <bos> added.
        const Run byText = runCli(
            {"--model", model, "--raw", "--prompt", text, "--temp", "0", "--max-tokens", count, "--json"});
        QVERIFY2(byText.exitCode == 0, qPrintable(byText.err));
        const JsonRun fromText = parseJsonLines(byText.out);
        QCOMPARE(fromText.last["stats"].toObject()["prompt_tokens"].toInt(), int(ids.split(' ').size()));
        QCOMPARE(fromText.ids, toVector(expected));
    }

    void rawTextStreamsTheContinuationToStdout() {
        const Run run =
            runCli({"--model", eModel(), "--raw", "--prompt", "Hello", "--temp", "0", "--max-tokens", "4"});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        QVERIFY(!run.out.trimmed().isEmpty());
        QVERIFY2(run.err.contains("[max_tokens"), qPrintable(run.err));
        QVERIFY2(run.err.contains("tok/s"), qPrintable(run.err));
    }

    void chatModeRendersTheTemplateAndReportsTheReply() {
        const Run plain = runCli(
            {"--model", eModel(), "--raw", "--prompt", "Hi", "--temp", "0", "--max-tokens", "3", "--json"});
        const Run chat = runCli({"--model", eModel(), "--prompt", "Hi", "--system", "Be brief.", "--temp",
                                 "0", "--max-tokens", "3", "--json"});
        QVERIFY2(chat.exitCode == 0, qPrintable(chat.err));
        const JsonRun parsed = parseJsonLines(chat.out);
        QVERIFY(parsed.valid);
        QCOMPARE(parsed.ids.size(), size_t(3));
        // <bos>, two turns with their markers and the generation prompt: far more than the raw text.
        const int rawTokens = parseJsonLines(plain.out).last["stats"].toObject()["prompt_tokens"].toInt();
        QVERIFY(parsed.last["stats"].toObject()["prompt_tokens"].toInt() > rawTokens + 10);
        QVERIFY(parsed.last.contains("answer") && parsed.last.contains("reasoning"));
    }

    void sameSeedSameTokens() {
        auto sample = [](const QString& seed) {
            const Run run =
                runCli({"--model", eModel(), "--ids", "2 105 2364 107", "--temp", "1.5", "--top-k", "0",
                        "--top-p", "1", "--seed", seed, "--max-tokens", "12", "--json"});
            return parseJsonLines(run.out);
        };
        const JsonRun a = sample("7");
        QCOMPARE(a.ids.size(), size_t(12));
        QCOMPARE(a.last["stats"].toObject()["seed"].toInteger(), 7);
        QCOMPARE(sample("7").ids, a.ids);
        QVERIFY(sample("8").ids != a.ids);
    }

    void contextFullStopsWithAMessage() {
        const Run run = runCli({"--model", eModel(), "--ids", "2 105 2364 107", "--temp", "0", "--ctx", "8",
                                "--max-tokens", "0", "--json"});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        const JsonRun parsed = parseJsonLines(run.out);
        QCOMPARE(parsed.last["stats"].toObject()["stop_reason"].toString(), QStringLiteral("context_full"));
        QCOMPARE(parsed.ids.size(), size_t(8 - 4 + 1));
        QVERIFY2(run.err.contains("context is full"), qPrintable(run.err));

        const Run tooLong = runCli({"--model", eModel(), "--ids", "2 105 2364 107", "--ctx", "3"});
        QCOMPARE(tooLong.exitCode, 1);
        QVERIFY2(tooLong.err.contains("context"), qPrintable(tooLong.err));
    }

    void interruptCancelsAndStillReportsStats() {
        // Generates until the 4096-token context is full (thousands of tokens); the interrupt comes
        // with the first tokens on stdout, so the run is mid-decode whatever the machine's speed.
        const Run run = runCli(
            {"--model", eModel(), "--ids", "2 105", "--ctx", "4096", "--max-tokens", "0", "--json"}, true);
        QVERIFY2(run.exitCode == 130, qPrintable(run.err));
        QVERIFY2(run.msFromInterruptToExit < 1000, qPrintable(QString::number(run.msFromInterruptToExit)));
        const JsonRun parsed = parseJsonLines(run.out);
        QCOMPARE(parsed.last["stats"].toObject()["stop_reason"].toString(), QStringLiteral("cancelled"));
    }

    void kvCacheTypeReachesTheSession() {
        auto sessionBytes = [](const QString& kv) {
            const Run run = runCli({"--model", eModel(), "--ids", "2 105", "--temp", "0", "--ctx", "2048",
                                    "--kv", kv, "--max-tokens", "1", "--json"});
            return parseJsonLines(run.out).last["stats"].toObject()["session_bytes"].toInteger();
        };
        const qint64 f32 = sessionBytes("f32");
        const qint64 f16 = sessionBytes("f16");
        QVERIFY2(f16 > 0 && f16 < f32, qPrintable(QString("f16 %1, f32 %2").arg(f16).arg(f32)));
        QCOMPARE(runCli({"--model", eModel(), "--ids", "2", "--kv", "q8"}).exitCode, 2);
    }

    void usageErrors() {
        QCOMPARE(runCli({"--prompt", "x"}).exitCode, 2);                     // no --model
        QCOMPARE(runCli({"--model", eModel()}).exitCode, 2);                 // no prompt
        QCOMPARE(runCli({"--model", eModel(), "--ids", "2 x"}).exitCode, 2); // bad id
        QCOMPARE(runCli({"--model", eModel(), "--raw", "--prompt", "a", "--system", "b"}).exitCode, 2);
        QCOMPARE(runCli({"--model", eModel(), "--prompt", "a", "--top-p", "0"}).exitCode, 2);
        QCOMPARE(runCli({"--model", eModel(), "--prompt", "a", "--backend", "tpu"}).exitCode, 2);
        const Run missing = runCli({"--model", "/nonexistent/m.gguf", "--prompt", "a"});
        QCOMPARE(missing.exitCode, 1);
        QVERIFY2(missing.err.contains("/nonexistent/m.gguf"), qPrintable(missing.err));
        const Run outside = runCli({"--model", eModel(), "--ids", "2 999999"});
        QCOMPARE(outside.exitCode, 1);
        QVERIFY2(outside.err.contains("999999"), qPrintable(outside.err));
    }
};

QTEST_GUILESS_MAIN(TestCliRun)
#include "test_cli_run.moc"
