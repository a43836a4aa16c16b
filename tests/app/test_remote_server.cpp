// The remote engine against OUR server (issue 9's criterion): `ocelle-cli serve` with the tiny
// fixture model on a free loopback port, a real process and a real HTTP peer. The model list and a
// wrong key through the app's server list; streamed and whole answers (greedy, so they must be the
// same text) with usage; Stop; and the server SIGKILLed mid-answer while the app's controllers
// stream it: the answer keeps what arrived, is marked failed with the reason, and the app goes on
// (the next question is refused with "Cannot reach", not a crash). Images and audio are refused
// for the model the server lists without them.
#include "chat_controller.h"
#include "conversation_store.h"
#include "message_list_model.h"
#include "model_controller.h"
#include "remote_chat_engine.h"
#include "remote_server_list.h"
#include "scripted_chat_engine.h"
#include "settings_controller.h"

#include <QProcess>
#include <QRegularExpression>
#include <QSettings>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>
#include <csignal>
#include <thread>

using namespace ocelle::app;

namespace {
const QString kModel = QStringLiteral(OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf");
const QString kModelId = QStringLiteral("tiny-gemma4-e");

// `ocelle-cli serve` on a port the system picks; ready once it printed "Serving MODEL at URL".
class ServeProcess {
public:
    explicit ServeProcess(const QStringList& extra = {}) {
        process_.setProcessChannelMode(QProcess::SeparateChannels);
        process_.start(QStringLiteral(OCELLE_CLI_PATH), QStringList{"serve", "--model", kModel, "--port", "0",
                                                                    "--backend", "cpu", "--threads", "1"} +
                                                            extra);
    }
    ~ServeProcess() {
        if (process_.state() != QProcess::NotRunning) {
            process_.kill();
            process_.waitForFinished(10000);
        }
    }
    // The base URL, empty when the server did not come up (the output is in the failure message).
    QString waitUntilServing() {
        static const QRegularExpression serving(QStringLiteral("Serving (\\S+) at (\\S+)"));
        QByteArray output;
        for (int waited = 0; waited < 120; ++waited) {
            process_.waitForReadyRead(1000);
            output += process_.readAllStandardOutput();
            const auto match = serving.match(QString::fromUtf8(output));
            if (match.hasMatch()) return match.captured(2);
            if (process_.state() == QProcess::NotRunning) break;
        }
        qWarning("ocelle-cli serve did not start: %s %s", output.constData(),
                 process_.readAllStandardError().constData());
        return {};
    }
    // Never kill(0, ...): a finished process has no id, and 0 would be this whole process group.
    void killHard() {
        if (const qint64 pid = process_.processId(); pid > 0) ::kill(pid_t(pid), SIGKILL);
    }

private:
    QProcess process_;
};

LoadRequest remoteRequest(const QString& baseUrl, const std::string& key = {}) {
    LoadRequest request;
    request.remote = RemoteModel{"our server", baseUrl.toStdString(), key, kModelId.toStdString()};
    return request;
}

GenerationRequest greedy(int maxTokens) {
    GenerationRequest request;
    request.turns = {{ChatTurn::Role::User, "Write a long story about a cat.", {}}};
    request.sampling.temperature = 0;
    request.sampling.maxTokens = maxTokens;
    return request;
}
} // namespace

class TestRemoteServer : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }
    void init() { QSettings().clear(); } // no servers saved by the test before

    void modelListAndWrongKey() {
        ServeProcess server({"--api-key", "right-key"});
        const QString url = server.waitUntilServing();
        QVERIFY(!url.isEmpty());
        RemoteServerList servers;
        servers.add(QStringLiteral("ours"), url, QStringLiteral("wrong-key"));
        QTRY_VERIFY_WITH_TIMEOUT(!servers.adding(), 15000);
        QVERIFY2(servers.addProblem().contains(QLatin1String("HTTP 401")), qPrintable(servers.addProblem()));
        QCOMPARE(servers.count(), 0);

        QSignalSpy added(&servers, &RemoteServerList::added);
        servers.add(QStringLiteral("ours"), url, QStringLiteral("right-key"));
        QVERIFY(added.wait(15000));
        QCOMPARE(servers.count(), 1);
        QCOMPARE(servers.servers()[0].models.size(), 1);
        QCOMPARE(servers.servers()[0].models[0].id, kModelId);

        RemoteChatEngine engine; // the engine's own check of the key
        try {
            engine.load(remoteRequest(url, "wrong-key"), {});
            QFAIL("a wrong key was accepted");
        } catch (const EngineError& e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(QLatin1String("HTTP 401")), e.what());
        }
        engine.load(remoteRequest(url, "right-key"), {});
        QVERIFY(engine.loaded());
    }

    void streamedAndWholeAnswersAgree() {
        ServeProcess server;
        const QString url = server.waitUntilServing();
        QVERIFY(!url.isEmpty());
        RemoteChatEngine engine;
        engine.load(remoteRequest(url), {});
        std::string streamed;
        int pieces = 0;
        const GenerationOutcome outcome = engine.generate(greedy(12), [&](const StreamDelta& d) {
            streamed += d.answer;
            ++pieces;
        });
        QVERIFY(!streamed.empty());
        QVERIFY2(pieces > 1, "a streamed answer arrives in pieces");
        QCOMPARE(outcome.generatedTokens, 12); // the server's usage
        QVERIFY(outcome.promptTokens > 0);
        QCOMPARE(outcome.ending, GenerationOutcome::Ending::MaxTokens); // finish_reason "length"

        engine.setStreaming(false);
        std::string whole;
        const GenerationOutcome wholeOutcome =
            engine.generate(greedy(12), [&](const StreamDelta& d) { whole += d.answer; });
        QCOMPARE(QString::fromStdString(whole), QString::fromStdString(streamed));
        QCOMPARE(wholeOutcome.generatedTokens, 12);
    }

    void stopEndsTheRequest() {
        ServeProcess server;
        const QString url = server.waitUntilServing();
        QVERIFY(!url.isEmpty());
        RemoteChatEngine engine;
        engine.load(remoteRequest(url), {});
        int pieces = 0;
        bool stopped = false;
        const GenerationOutcome outcome = engine.generate(greedy(2000), [&](const StreamDelta&) {
            if (++pieces == 3 && !stopped) {
                stopped = true;
                std::thread([&engine] { engine.cancel(); }).detach();
            }
        });
        QCOMPARE(outcome.ending, GenerationOutcome::Ending::Stopped);
        QVERIFY2(pieces < 2000, "the stop ended the answer early");
        // The server takes the next question.
        engine.resetCancel();
        std::string next;
        QCOMPARE(engine.generate(greedy(4), [&](const StreamDelta& d) { next += d.answer; }).generatedTokens,
                 4);
        QVERIFY(!next.empty());
    }

    // The app's own path: the server list, ModelController, ChatController and the store.
    void aServerKilledMidAnswer() {
        auto server = std::make_unique<ServeProcess>();
        const QString url = server->waitUntilServing();
        QVERIFY(!url.isEmpty());
        QTemporaryDir dataDir;
        auto shared = std::make_shared<ScriptedChatEngine::Shared>();
        ModelController models(std::make_unique<ScriptedChatEngine>(std::vector<StreamDelta>{}, shared));
        ConversationStore store(dataDir.path());
        SettingsController settings;
        settings.setMaxTokens(2000);
        ChatController chat(&models, &store);
        chat.setSettings(&settings);

        QSignalSpy added(models.library()->servers(), &RemoteServerList::added);
        models.library()->servers()->add(QStringLiteral("ours"), url, {});
        QVERIFY(added.wait(15000));
        QSignalSpy loaded(&models, &ModelController::loadFinished);
        QCOMPARE(models.library()->servers()->count(), 1);
        QVERIFY(
            models.openRemoteModel(models.library()->servers()->servers()[0].baseUrl.toString(), kModelId));
        QVERIFY(loaded.wait(15000));
        QVERIFY2(models.modelLoaded(), qPrintable(models.statusText()));
        // Served without an mmproj, the model lists only "completion": images and audio are refused
        // with the reason before anything is attached.
        QVERIFY2(chat.imageInputReason().contains(QLatin1String("takes no images")),
                 qPrintable(chat.imageInputReason()));
        QVERIFY2(chat.audioInputReason().contains(QLatin1String("takes no audio")),
                 qPrintable(chat.audioInputReason()));

        // SIGKILL once the answer is streaming.
        int deltas = 0;
        connect(models.engineHost(), &EngineHost::delta, this, [&] {
            if (++deltas == 3) server->killHard();
        });
        QSignalSpy finished(&chat, &ChatController::answerFinished);
        QVERIFY(chat.send(QStringLiteral("Tell me a long story.")));
        QVERIFY(finished.wait(60000));
        MessageListModel* messages = chat.messages();
        const int row = messages->count() - 1;
        const QString kept = messages->textAt(row);
        const QString note = messages->data(messages->index(row), MessageListModel::NoteRole).toString();
        qInfo("kept %d characters; note: %s", int(kept.size()), qPrintable(note));
        QVERIFY2(!kept.isEmpty(), "the partial answer is kept");
        QVERIFY2(note.startsWith(QLatin1String("The answer failed:")) && note.contains(QLatin1String("ours")),
                 qPrintable(note));
        QVERIFY(!chat.generating());
        // The store has the partial answer, marked failed.
        store.sync();
        const QList<StoredMessage> stored = store.messages(chat.currentConversationId());
        QCOMPARE(stored.last().text, kept);
        QCOMPARE(stored.last().state, StoredMessage::State::Failed);

        // The app goes on: the next question says the server cannot be reached.
        QVERIFY(chat.send(QStringLiteral("Are you there?")));
        QVERIFY(finished.wait(30000));
        const QString second =
            messages->data(messages->index(messages->count() - 1), MessageListModel::NoteRole).toString();
        QVERIFY2(second.contains(QLatin1String("Cannot reach ours")), qPrintable(second));
        server.reset();
    }
};

QTEST_GUILESS_MAIN(TestRemoteServer)
#include "test_remote_server.moc"
