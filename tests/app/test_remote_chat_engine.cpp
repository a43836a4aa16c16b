// RemoteChatEngine against a real HTTP peer on loopback (openai_test_peer.h, its own thread): the
// model check on load, a wrong key, streamed and whole answers with their reasoning and usage, the
// request body with image and audio parts, Stop, an idle server, a connection dropped mid-answer,
// an error inside the stream and a server that is not there. Every failure must arrive as an
// EngineError with the server's words, after the text that came before it.
#include "attachment_list_model.h"
#include "openai_test_peer.h"
#include "remote_chat_engine.h"

#include <QElapsedTimer>
#include <QImage>
#include <QTemporaryDir>
#include <QTest>
#include <thread>

using namespace ocelle::app;

namespace {
LoadRequest remoteRequest(const OpenAiTestPeer& peer, const char* model, const char* key = "") {
    LoadRequest request;
    request.remote = RemoteModel{"test box", peer.baseUrl().toStdString(), key, model};
    return request;
}

GenerationRequest question(const char* text) {
    GenerationRequest request;
    request.turns = {{ChatTurn::Role::User, text, {}}};
    return request;
}

struct Collected {
    std::string reasoning, answer;
    int pieces = 0;
    std::function<void(const StreamDelta&)> sink() {
        return [this](const StreamDelta& d) {
            reasoning += d.reasoning;
            answer += d.answer;
            ++pieces;
        };
    }
};

QString failureOf(const std::function<void()>& run) {
    try {
        run();
    } catch (const LoadCancelled&) {
        return QStringLiteral("cancelled");
    } catch (const EngineError& e) {
        return QString::fromUtf8(e.what());
    }
    return {};
}
} // namespace

class TestRemoteChatEngine : public QObject {
    Q_OBJECT

private slots:
    void loadChecksTheModelList() {
        OpenAiTestPeer peer;
        RemoteChatEngine engine;
        const LoadedModelFacts facts = engine.load(remoteRequest(peer, "steady"), {});
        QVERIFY(engine.loaded());
        QCOMPARE(facts.device, std::string("test box"));
        QVERIFY(QString::fromStdString(facts.deviceReason).contains(peer.baseUrl()));
        QCOMPARE(peer.requests().last().path, QByteArray("/v1/models"));

        const QString missing = failureOf([&] { engine.load(remoteRequest(peer, "no-such-model"), {}); });
        QVERIFY2(missing.contains(QLatin1String("does not serve")) &&
                     missing.contains(QLatin1String("no-such-model")),
                 qPrintable(missing));
        QVERIFY(!engine.loaded());
        // A load the app abandoned stops with LoadCancelled.
        QCOMPARE(failureOf([&] { engine.load(remoteRequest(peer, "steady"), [](double) { return false; }); }),
                 QStringLiteral("cancelled"));
    }

    void wrongKeyShowsTheServersMessage() {
        OpenAiTestPeer peer("right-key");
        RemoteChatEngine engine;
        const QString refused =
            failureOf([&] { engine.load(remoteRequest(peer, "steady", "wrong-key"), {}); });
        QVERIFY2(refused.contains(QLatin1String("HTTP 401: Invalid API key")) &&
                     refused.contains(QLatin1String("test box")),
                 qPrintable(refused));
        engine.load(remoteRequest(peer, "steady", "right-key"), {});
        QCOMPARE(peer.requests().last().authorization, QByteArray("Bearer right-key"));
    }

    void streamsReasoningAnswerAndUsage() {
        OpenAiTestPeer peer;
        RemoteChatEngine engine;
        engine.load(remoteRequest(peer, "steady"), {});
        Collected got;
        GenerationRequest request = question("Say hello");
        request.systemPrompt = "Be kind.";
        request.sampling.maxTokens = 32;
        const GenerationOutcome outcome = engine.generate(request, got.sink());
        QCOMPARE(got.reasoning, std::string("Thinking."));
        QCOMPARE(got.answer, std::string("Hello, world!"));
        QVERIFY(got.pieces >= 4); // streamed in pieces, not at the end
        QCOMPARE(outcome.ending, GenerationOutcome::Ending::Finished);
        QCOMPARE(outcome.promptTokens, 21);
        QCOMPARE(outcome.generatedTokens, 5);
        QVERIFY(outcome.timeToFirstTokenSeconds >= 0);
        QVERIFY(outcome.tokensPerSecond > 0);
        const OpenAiTestPeer::Request sent = peer.requests().last();
        QCOMPARE(sent.path, QByteArray("/v1/chat/completions"));
        QCOMPARE(sent.body["model"].toString(), QStringLiteral("steady"));
        QCOMPARE(sent.body["stream"].toBool(), true);
        QCOMPARE(sent.body["max_tokens"].toInt(), 32);
        QCOMPARE(sent.body["messages"][0]["content"].toString(), QStringLiteral("Be kind."));
        QCOMPARE(sent.body["messages"][1]["content"].toString(), QStringLiteral("Say hello"));
    }

    void wholeAnswerWithoutStreaming() {
        OpenAiTestPeer peer;
        RemoteChatEngine engine;
        engine.setStreaming(false);
        engine.load(remoteRequest(peer, "steady"), {});
        Collected got;
        const GenerationOutcome outcome = engine.generate(question("Hi"), got.sink());
        QCOMPARE(got.answer, std::string("Whole answer."));
        QCOMPARE(got.reasoning, std::string("Thought."));
        QCOMPARE(outcome.generatedTokens, 3);
        QCOMPARE(peer.requests().last().body["stream"].toBool(), false);
    }

    void imagesAndAudioGoAsContentParts() {
        QTemporaryDir dir;
        const QString png = dir.filePath("dot.png"), bmp = dir.filePath("dot.bmp"),
                      wav = dir.filePath("tone.wav");
        QImage image(8, 6, QImage::Format_RGB888);
        image.fill(Qt::red);
        QVERIFY(image.save(png) && image.save(bmp));
        std::vector<float> tone(1600);
        for (size_t i = 0; i < tone.size(); ++i) tone[i] = 0.5f * float(std::sin(double(i) * 0.3));
        QFile wavFile(wav);
        QVERIFY(wavFile.open(QIODevice::WriteOnly));
        wavFile.write(AttachmentListModel::wavFileBytes(tone));
        wavFile.close();

        OpenAiTestPeer peer;
        RemoteChatEngine engine;
        engine.load(remoteRequest(peer, "steady"), {});
        GenerationRequest request = question("What is in these?");
        request.turns[0].media = {{TurnMedia::Kind::Image, png.toStdString()},
                                  {TurnMedia::Kind::Image, bmp.toStdString()},
                                  {TurnMedia::Kind::Audio, wav.toStdString()}};
        Collected got;
        engine.generate(request, got.sink());
        const QJsonArray parts = peer.requests().last().body["messages"][0]["content"].toArray();
        QCOMPARE(parts.size(), 4);
        QCOMPARE(parts[0]["type"].toString(), QStringLiteral("image_url"));
        const QString pngUrl = parts[0]["image_url"]["url"].toString();
        QVERIFY(pngUrl.startsWith(QLatin1String("data:image/png;base64,")));
        QFile pngFile(png);
        QVERIFY(pngFile.open(QIODevice::ReadOnly));
        QCOMPARE(QByteArray::fromBase64(pngUrl.section(QLatin1Char(','), 1).toLatin1()), pngFile.readAll());
        // BMP is not a web format: sent as PNG, the same picture.
        const QString bmpUrl = parts[1]["image_url"]["url"].toString();
        QVERIFY(bmpUrl.startsWith(QLatin1String("data:image/png;base64,")));
        const QImage sentBmp =
            QImage::fromData(QByteArray::fromBase64(bmpUrl.section(QLatin1Char(','), 1).toLatin1()));
        QCOMPARE(sentBmp.size(), QSize(8, 6));
        QCOMPARE(sentBmp.pixelColor(3, 3), QColor(Qt::red));
        QCOMPARE(parts[2]["type"].toString(), QStringLiteral("input_audio"));
        QCOMPARE(parts[2]["input_audio"]["format"].toString(), QStringLiteral("wav"));
        QCOMPARE(QByteArray::fromBase64(parts[2]["input_audio"]["data"].toString().toLatin1()).left(4),
                 QByteArray("RIFF"));
        QCOMPARE(parts[3]["text"].toString(), QStringLiteral("What is in these?"));

        // A file that is gone is named, and nothing is sent.
        const int before = int(peer.requests().size());
        request.turns[0].media = {{TurnMedia::Kind::Image, dir.filePath("gone.png").toStdString()}};
        const QString missing = failureOf([&] { engine.generate(request, got.sink()); });
        QVERIFY2(missing.contains(QLatin1String("gone.png")), qPrintable(missing));
        QCOMPARE(int(peer.requests().size()), before);
    }

    void stopAbortsTheRequest() {
        OpenAiTestPeer peer;
        RemoteChatEngine engine;
        engine.load(remoteRequest(peer, "slow"), {});
        Collected got;
        std::atomic<bool> stopped{false};
        QElapsedTimer clock;
        clock.start();
        const GenerationOutcome outcome = engine.generate(question("Go on"), [&](const StreamDelta& d) {
            got.sink()(d);
            if (got.pieces == 3 && !stopped.exchange(true))
                std::thread([&engine] { engine.cancel(); }).detach(); // Stop from another thread
        });
        QCOMPARE(outcome.ending, GenerationOutcome::Ending::Stopped);
        QVERIFY(got.pieces >= 3 && got.pieces < 200);
        QVERIFY2(clock.elapsed() < 3000, "the stop must not wait for the whole answer (200 x 50 ms)");
        QVERIFY(QString::fromStdString(got.answer).startsWith(QLatin1String("w0 w1 w2")));
        // The engine answers again after a stop.
        engine.resetCancel();
        engine.load(remoteRequest(peer, "steady"), {});
        Collected again;
        QCOMPARE(engine.generate(question("Again"), again.sink()).ending,
                 GenerationOutcome::Ending::Finished);
        QCOMPARE(again.answer, std::string("Hello, world!"));
    }

    void silenceHitsTheIdleTimeout() {
        OpenAiTestPeer peer;
        RemoteChatEngine engine;
        engine.setTimeouts({std::chrono::milliseconds(2000), std::chrono::milliseconds(500)});
        engine.load(remoteRequest(peer, "stall"), {});
        Collected got;
        const QString message = failureOf([&] { engine.generate(question("Hello?"), got.sink()); });
        QVERIFY2(message.contains(QLatin1String("sent nothing for 0.5 s")), qPrintable(message));
        QCOMPARE(got.answer, std::string("Partial")); // delivered before the failure: the app keeps it
    }

    void droppedConnectionAndStreamErrorsAreReported() {
        OpenAiTestPeer peer;
        RemoteChatEngine engine;
        engine.load(remoteRequest(peer, "drop"), {});
        Collected got;
        const QString dropped = failureOf([&] { engine.generate(question("Hello?"), got.sink()); });
        QVERIFY2(dropped.contains(QLatin1String("test box")) &&
                     (dropped.contains(QLatin1String("broke off")) ||
                      dropped.contains(QLatin1String("closed the connection"))),
                 qPrintable(dropped));
        QCOMPARE(got.answer, std::string("Partial answer"));

        engine.load(remoteRequest(peer, "midway-error"), {});
        Collected partial;
        const QString reported = failureOf([&] { engine.generate(question("Hello?"), partial.sink()); });
        QVERIFY2(reported.contains(QLatin1String("The model ran out of memory")), qPrintable(reported));
        QCOMPARE(partial.answer, std::string("Partial"));
    }

    void aServerThatIsNotThere() {
        int port = 0;
        {
            OpenAiTestPeer gone;
            port = gone.port();
        } // closed: nothing listens on the port now
        RemoteChatEngine engine;
        LoadRequest request;
        request.remote = RemoteModel{
            "gone box", QStringLiteral("http://127.0.0.1:%1/v1").arg(port).toStdString(), "", "m"};
        const QString message = failureOf([&] { engine.load(request, {}); });
        QVERIFY2(message.contains(QLatin1String("Cannot reach gone box")), qPrintable(message));
    }
};

QTEST_GUILESS_MAIN(TestRemoteChatEngine)
#include "test_remote_chat_engine.moc"
