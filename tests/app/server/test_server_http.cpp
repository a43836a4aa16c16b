// `ocelle-cli serve` as a real process on a free loopback port with the fixture model and its
// mmproj, spoken to with curl and with the official `openai` npm package (installed from the npm
// registry into the build tree on first use): models, answers streamed and not, an image made with
// ImageMagick, a WAV made with espeak-ng, refusals (400, 401, 404, 413), two clients at once, a
// full queue (503) and a client that goes away mid-answer.
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

namespace {

const QString kKey = QStringLiteral("test-key-123");
const QString kModel = QStringLiteral("tiny-gemma4-e");

struct Reply {
    int status = 0;
    QByteArray body;
    QJsonObject json() const { return QJsonDocument::fromJson(body).object(); }
};

QString fixture(const char* relative) {
    return QStringLiteral(OCELLE_FIXTURES_DIR "/") + relative;
}

bool run(const QString& program, const QStringList& arguments, int timeoutMs, QByteArray* output = nullptr,
         const QProcessEnvironment& environment = QProcessEnvironment::systemEnvironment()) {
    QProcess process;
    process.setProcessEnvironment(environment);
    process.setProcessChannelMode(QProcess::MergedChannels);
    process.start(program, arguments);
    const bool finished = process.waitForFinished(timeoutMs);
    if (output) *output = process.readAll();
    if (!finished) process.kill();
    return finished && process.exitStatus() == QProcess::NormalExit && process.exitCode() == 0;
}

} // namespace

class TestServerHttp : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    QProcess server_;
    QString baseUrl_; // http://127.0.0.1:PORT/v1
    QString npmDir_ = QStringLiteral(OCELLE_OPENAI_NPM_DIR);

    // curl with the key (unless `key` says otherwise); the body from a file when given.
    Reply curl(const QString& path, const QByteArray& body = {}, const QString& key = kKey) {
        QStringList arguments{"-s", "-S", "-o", "-", "-w", "\n%{http_code}", "--max-time", "120"};
        if (!key.isEmpty())
            arguments << "-H"
                      << "Authorization: Bearer " + key;
        if (!body.isNull()) {
            const QString file = dir_.filePath("body.json");
            QFile out(file);
            if (!out.open(QIODevice::WriteOnly) || out.write(body) != body.size()) return {};
            out.close();
            arguments << "-H"
                      << "Content-Type: application/json"
                      << "--data-binary"
                      << "@" + file;
        }
        arguments << baseUrl_ + path;
        QByteArray output;
        run("curl", arguments, 130000, &output);
        Reply reply;
        const qsizetype newline = output.lastIndexOf('\n');
        reply.body = output.left(newline);
        reply.status = output.mid(newline + 1).trimmed().toInt();
        return reply;
    }

    bool node(const QString& kase, const QString& file = {}) {
        QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
        environment.insert("OCELLE_OPENAI_NPM_DIR", npmDir_);
        QByteArray output;
        const bool ok = run(
            "node",
            {QStringLiteral(OCELLE_SERVER_TEST_DIR "/openai_client.cjs"), kase, baseUrl_, kKey, kModel, file},
            180000, &output, environment);
        qInfo().noquote() << output.trimmed();
        return ok;
    }

    static QByteArray chatBody(const QJsonObject& extra) {
        QJsonObject request{
            {"model", kModel},
            {"messages", QJsonArray{QJsonObject{{"role", "user"}, {"content", "Hello there."}}}}};
        for (auto it = extra.begin(); it != extra.end(); ++it) request.insert(it.key(), it.value());
        return QJsonDocument(request).toJson(QJsonDocument::Compact);
    }

    // Starts a streaming curl in the background; its output (the raw SSE) arrives on stdout.
    QProcess* startStream(const QByteArray& body, const QString& name) {
        const QString file = dir_.filePath(name);
        QFile out(file);
        if (!out.open(QIODevice::WriteOnly)) return nullptr;
        out.write(body);
        out.close();
        auto* process = new QProcess(this);
        process->start("curl", {"-s", "-N", "-w", "\nHTTP %{http_code}", "-H",
                                "Authorization: Bearer " + kKey, "-H", "Content-Type: application/json",
                                "--data-binary", "@" + file, baseUrl_ + "/chat/completions"});
        return process;
    }

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        for (const char* tool : {"curl", "node", "npm", "convert", "espeak-ng"})
            QVERIFY2(!QStandardPaths::findExecutable(tool).isEmpty(), tool);
        // The official client, from the npm registry, kept in the build tree for the next run.
        if (!QFile::exists(npmDir_ + "/node_modules/openai/package.json")) {
            QDir().mkpath(npmDir_);
            QByteArray output;
            QVERIFY2(run("npm",
                         {"install", "--prefix", npmDir_, "--no-audit", "--no-fund", "--loglevel=error",
                          "openai@5"},
                         300000, &output),
                     output.constData());
        }
        server_.setProcessChannelMode(QProcess::SeparateChannels);
        server_.start(QStringLiteral(OCELLE_CLI_PATH),
                      {"serve", "--model", fixture("models/tiny-gemma4-e.gguf"), "--mmproj",
                       fixture("vision/tiny-gemma4-e-mmproj.gguf"), "--port", "0", "--api-key", kKey, "--ctx",
                       "2048", "--max-body-mb", "1", "--queue", "1"});
        QVERIFY(server_.waitForStarted());
        // Ready when it prints where it serves.
        QByteArray banner;
        QElapsedTimer waited;
        waited.start();
        while (!banner.contains('\n') && waited.elapsed() < 120000 && server_.state() == QProcess::Running) {
            server_.waitForReadyRead(500);
            banner += server_.readAllStandardOutput();
        }
        const QRegularExpressionMatch match =
            QRegularExpression("Serving (\\S+) at (http://127\\.0\\.0\\.1:\\d+/v1)")
                .match(QString::fromUtf8(banner));
        QVERIFY2(match.hasMatch(), (banner + server_.readAllStandardError()).constData());
        QCOMPARE(match.captured(1), kModel);
        baseUrl_ = match.captured(2);
    }

    void cleanupTestCase() {
        server_.terminate();
        if (!server_.waitForFinished(10000)) server_.kill();
    }

    void listsTheModel() {
        const Reply reply = curl("/models");
        QCOMPARE(reply.status, 200);
        const QJsonObject entry = reply.json()["data"].toArray().at(0).toObject();
        QCOMPARE(entry["id"].toString(), kModel);
        // The fixture mmproj has both encoders.
        QCOMPARE(entry["capabilities"].toArray(), (QJsonArray{"completion", "vision", "audio"}));
        QCOMPARE(curl("/models/" + kModel).status, 200);
        QCOMPARE(curl("/models/other").status, 404);
        QVERIFY(node("models"));
    }

    void answersWithAndWithoutStreaming() {
        const Reply reply = curl("/chat/completions", chatBody({{"max_tokens", 5}, {"seed", 11}}));
        QCOMPARE(reply.status, 200);
        const QJsonObject answer = reply.json();
        QCOMPARE(answer["object"].toString(), QStringLiteral("chat.completion"));
        const QJsonObject choice = answer["choices"].toArray().at(0).toObject();
        const QString content = choice["message"].toObject()["content"].toString();
        QVERIFY(!content.isEmpty());
        QCOMPARE(answer["usage"].toObject()["completion_tokens"].toInt(), 5);
        QCOMPARE(choice["finish_reason"].toString(), QStringLiteral("length"));

        // Streamed: chunks, the same text for the same seed, then [DONE].
        const Reply stream =
            curl("/chat/completions", chatBody({{"max_tokens", 5}, {"seed", 11}, {"stream", true}}));
        QCOMPARE(stream.status, 200);
        QString streamed;
        int chunks = 0;
        QString finish;
        const QList<QByteArray> events = stream.body.split('\n');
        for (const QByteArray& line : events) {
            if (!line.startsWith("data: ") || line == "data: [DONE]") continue;
            const QJsonObject chunk = QJsonDocument::fromJson(line.mid(6)).object();
            QCOMPARE(chunk["object"].toString(), QStringLiteral("chat.completion.chunk"));
            const QJsonObject c = chunk["choices"].toArray().at(0).toObject();
            streamed += c["delta"].toObject()["content"].toString();
            if (!c["finish_reason"].isNull()) finish = c["finish_reason"].toString();
            ++chunks;
        }
        QCOMPARE(streamed, content);
        QCOMPARE(finish, QStringLiteral("length"));
        QVERIFY2(chunks >= 3, "a role chunk, at least one content chunk and the finish chunk");
        QVERIFY(stream.body.trimmed().endsWith("data: [DONE]"));

        // The official client, streaming and not (it compares both itself).
        QVERIFY(node("chat"));
    }

    void stopStringsEndTheAnswer() {
        const Reply full = curl("/chat/completions", chatBody({{"max_tokens", 8}, {"seed", 5}}));
        QCOMPARE(full.status, 200);
        const QString text =
            full.json()["choices"].toArray().at(0).toObject()["message"].toObject()["content"].toString();
        QVERIFY(text.size() >= 4);
        // Stop at a piece from the middle of that answer: the same seed gives the text before it.
        const QString stop = text.mid(text.size() / 2, 2);
        const Reply cut =
            curl("/chat/completions", chatBody({{"max_tokens", 8}, {"seed", 5}, {"stop", stop}}));
        const QJsonObject choice = cut.json()["choices"].toArray().at(0).toObject();
        QCOMPARE(choice["message"].toObject()["content"].toString(), text.left(text.indexOf(stop)));
        QCOMPARE(choice["finish_reason"].toString(), QStringLiteral("stop"));
    }

    void takesAnImage() {
        const QString png = dir_.filePath("picture.png");
        QVERIFY(run(
            "convert",
            {"-size", "96x64", "gradient:orange-navy", "-fill", "white", "-draw", "circle 48,32 48,12", png},
            30000));
        QFile file(png);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QString url = "data:image/png;base64," + QString::fromLatin1(file.readAll().toBase64());
        const QJsonArray parts{QJsonObject{{"type", "image_url"}, {"image_url", QJsonObject{{"url", url}}}},
                               QJsonObject{{"type", "text"}, {"text", "What is this?"}}};
        const Reply seen =
            curl("/chat/completions",
                 chatBody({{"max_tokens", 2},
                           {"messages", QJsonArray{QJsonObject{{"role", "user"}, {"content", parts}}}}}));
        QCOMPARE(seen.status, 200);
        const Reply text =
            curl("/chat/completions",
                 chatBody({{"max_tokens", 2},
                           {"messages",
                            QJsonArray{QJsonObject{{"role", "user"}, {"content", "What is this?"}}}}}));
        // The image's soft tokens (a small image at budget 280) are in the prompt.
        const int extra = seen.json()["usage"].toObject()["prompt_tokens"].toInt() -
                          text.json()["usage"].toObject()["prompt_tokens"].toInt();
        QVERIFY2(extra > 20, qPrintable(QString::number(extra)));

        // A broken image is the client's error, named by its place in the request.
        const QJsonArray broken{QJsonObject{
            {"type", "image_url"}, {"image_url", QJsonObject{{"url", "data:image/png;base64,AAAA"}}}}};
        const Reply refused =
            curl("/chat/completions",
                 chatBody({{"messages", QJsonArray{QJsonObject{{"role", "user"}, {"content", broken}}}}}));
        QCOMPARE(refused.status, 400);
        QVERIFY(refused.json()["error"].toObject()["message"].toString().contains("messages[0].content[0]"));
    }

    void takesAudio() {
        const QString wav = dir_.filePath("speech.wav");
        QVERIFY(run("espeak-ng", {"-w", wav, "Hello, this is a test."}, 30000));
        QVERIFY(node("audio", wav));
    }

    void refusesBadRequests() {
        const Reply notJson = curl("/chat/completions", "{\"model\":");
        QCOMPARE(notJson.status, 400);
        const QJsonObject error = notJson.json()["error"].toObject();
        QCOMPARE(error["type"].toString(), QStringLiteral("invalid_request_error"));
        QVERIFY(error["message"].toString().contains("JSON"));
        QVERIFY(error.contains("param") && error.contains("code"));

        QCOMPARE(curl("/chat/completions", chatBody({{"model", "gpt-4o"}}))
                     .json()["error"]
                     .toObject()["code"]
                     .toString(),
                 QStringLiteral("model_not_found"));
        QCOMPARE(curl("/nowhere").status, 404);
        QCOMPARE(curl("/chat/completions").status, 405); // GET
        QVERIFY(node("badRequest"));
    }

    void refusesAWrongKey() {
        const Reply wrong = curl("/models", {}, "wrong");
        QCOMPARE(wrong.status, 401);
        QCOMPARE(wrong.json()["error"].toObject()["code"].toString(), QStringLiteral("invalid_api_key"));
        QCOMPARE(curl("/models", {}, QString()).status, 401);
        QVERIFY(node("wrongKey"));
    }

    void refusesTooLargeBodies() {
        // 1.5 MiB against the 1 MiB limit: refused from its Content-Length, before it is read.
        QByteArray big = chatBody({{"padding", QString(1536 * 1024, 'x')}});
        const Reply reply = curl("/chat/completions", big);
        QCOMPARE(reply.status, 413);
        QCOMPARE(reply.json()["error"].toObject()["code"].toString(), QStringLiteral("request_too_large"));
        // The server is still there.
        QCOMPARE(curl("/models").status, 200);
    }

    void answersTwoClientsOneAfterTheOther() { QVERIFY(node("concurrent")); }

    void refusesWhenTheQueueIsFull() {
        // One answer running, one waiting (--queue 1): a third request is refused with 503.
        QProcess* running =
            startStream(chatBody({{"max_tokens", 150}, {"seed", 2}, {"stream", true}}), "a.json");
        QVERIFY(running && running->waitForStarted());
        QByteArray seen;
        QElapsedTimer waited;
        waited.start();
        while (!seen.contains("\"content\":\"") && waited.elapsed() < 60000) {
            running->waitForReadyRead(200);
            seen += running->readAllStandardOutput();
        }
        QVERIFY2(seen.contains("data: "), "the first answer did not start");
        QProcess* second = startStream(chatBody({{"max_tokens", 3}, {"stream", true}}), "b.json");
        QProcess* third = startStream(chatBody({{"max_tokens", 3}, {"stream", true}}), "c.json");
        QVERIFY(second->waitForFinished(120000) && third->waitForFinished(120000));
        QVERIFY(running->waitForFinished(120000));
        seen += running->readAllStandardOutput();
        const QByteArray b = second->readAllStandardOutput(), c = third->readAllStandardOutput();
        // Whichever arrived second waited and was answered; the other was turned away.
        const bool bQueued = b.endsWith("HTTP 200");
        const QByteArray& answered = bQueued ? b : c;
        const QByteArray& refused = bQueued ? c : b;
        QVERIFY2(answered.contains("data: [DONE]"), answered.constData());
        QVERIFY2(refused.endsWith("HTTP 503") && refused.contains("queue_full"), refused.constData());
        QVERIFY2(seen.contains("\"finish_reason\":\"length\"") && seen.contains("data: [DONE]"),
                 "the running answer was disturbed");
    }

    void aClientThatLeavesStopsItsAnswer() {
        // A long answer whose client goes away after the first piece is stopped, and the next
        // request is answered.
        QProcess* leaving =
            startStream(chatBody({{"max_tokens", 4000}, {"seed", 9}, {"stream", true}}), "d.json");
        QVERIFY(leaving && leaving->waitForStarted());
        QByteArray seen;
        QElapsedTimer waited;
        waited.start();
        while (!seen.contains("\"content\":\"") && waited.elapsed() < 60000) {
            leaving->waitForReadyRead(200);
            seen += leaving->readAllStandardOutput();
        }
        QVERIFY(seen.contains("data: "));
        leaving->kill();
        leaving->waitForFinished();
        const Reply reply = curl("/chat/completions", chatBody({{"max_tokens", 3}}));
        QCOMPARE(reply.status, 200);
        // The server's log says the answer stopped because its client left, well before the
        // context (2048) or max_tokens ended it.
        QString log;
        const QRegularExpression stoppedLine(
            "\\(stream\\): \\d+ prompt \\+ (\\d+) completion tokens, stopped: the client went away");
        for (int i = 0; i < 100 && !stoppedLine.match(log).hasMatch(); ++i) {
            QTest::qWait(100); // QProcess reads the server's stderr in the event loop
            log += QString::fromUtf8(server_.readAllStandardError());
        }
        const QRegularExpressionMatch stopped =
            QRegularExpression(
                "\\(stream\\): \\d+ prompt \\+ (\\d+) completion tokens, stopped: the client went away")
                .match(log);
        QVERIFY2(stopped.hasMatch(), qPrintable(log));
        QVERIFY2(stopped.captured(1).toInt() < 1500, qPrintable(stopped.captured(0)));
    }
};

QTEST_GUILESS_MAIN(TestServerHttp)
#include "test_server_http.moc"
