// ChatController with a scripted engine on the real engine thread: sending streams the answer
// into the last message, reasoning kept apart with its duration, stats per answer, stop keeps
// what arrived, regenerate replaces the last answer; and without a model nothing pretends to answer.
#include "chat_controller.h"
#include "scripted_chat_engine.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QtTest>

namespace {

const QString kModel = QStringLiteral(OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf");

std::vector<ocelle::app::StreamDelta> thinkThenAnswer() {
    std::vector<ocelle::app::StreamDelta> script;
    for (const char* r : {"Let ", "me ", "think."}) script.push_back({r, ""});
    for (const char* a : {"Paris ", "is ", "the ", "capital."}) script.push_back({"", a});
    return script;
}

struct Fixture {
    std::shared_ptr<ScriptedChatEngine::Shared> shared = std::make_shared<ScriptedChatEngine::Shared>();
    std::unique_ptr<ModelController> models;
    std::unique_ptr<ChatController> chat;

    explicit Fixture(std::vector<ocelle::app::StreamDelta> script, int pauseMs = 0, bool load = true) {
        models =
            std::make_unique<ModelController>(std::make_unique<ScriptedChatEngine>(script, shared, pauseMs));
        chat = std::make_unique<ChatController>(models.get());
        if (load) {
            QSignalSpy loaded(models.get(), &ModelController::loadFinished);
            models->openModelPath(kModel);
            loaded.wait(5000);
        }
    }
};

} // namespace

class TestChatController : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void sendingWithoutAModelExplainsAndSendsNothing() {
        Fixture f(thinkThenAnswer(), 0, false);
        QAbstractItemModelTester messagesTester(f.chat->messages(),
                                                QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy noticeSpy(f.chat.get(), &ChatController::noticeChanged);
        QVERIFY(!f.chat->send(QStringLiteral("   \n ")));
        QVERIFY(f.chat->notice().isEmpty()); // blank input: nothing to explain
        QVERIFY(!f.chat->send(QStringLiteral("Hello")));
        QCOMPARE(noticeSpy.count(), 1);
        QVERIFY2(f.chat->notice().contains(QStringLiteral("Open model")), qPrintable(f.chat->notice()));
        QCOMPARE(f.chat->messages()->count(), 0);
        QVERIFY(f.shared->requests.empty());
    }

    void anAnswerStreamsIntoTheLastMessage() {
        Fixture f(thinkThenAnswer());
        QVERIFY(f.models->modelLoaded());
        QAbstractItemModelTester tester(f.chat->messages(),
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy finished(f.chat.get(), &ChatController::answerFinished);
        f.chat->setSystemPrompt(QStringLiteral("Be brief."));
        f.chat->setThinking(true);

        QVERIFY(f.chat->send(QStringLiteral("What is the capital of France?")));
        QVERIFY(f.chat->generating());
        QCOMPARE(f.chat->messages()->count(), 2);
        QCOMPARE(f.chat->messages()->authorAt(0), MessageListModel::Author::User);
        QCOMPARE(f.chat->currentTitle(), QStringLiteral("What is the capital of France?"));
        const QModelIndex answer = f.chat->messages()->index(1);
        QVERIFY(answer.data(MessageListModel::StreamingRole).toBool());

        QVERIFY(finished.wait(5000));
        QVERIFY(!f.chat->generating());
        QCOMPARE(answer.data(MessageListModel::TextRole).toString(), QStringLiteral("Paris is the capital."));
        QCOMPARE(answer.data(MessageListModel::ReasoningRole).toString(), QStringLiteral("Let me think."));
        QVERIFY(answer.data(MessageListModel::ReasoningSecondsRole).toDouble() >= 0);
        QVERIFY(!answer.data(MessageListModel::StreamingRole).toBool());
        const QString stats = answer.data(MessageListModel::StatsTextRole).toString();
        QVERIFY2(stats.contains(QStringLiteral("tokens/s")) && stats.contains(QStringLiteral("7 tokens")),
                 qPrintable(stats));
        QVERIFY(answer.data(MessageListModel::NoteRole).toString().isEmpty());

        std::lock_guard lock(f.shared->mutex);
        QCOMPARE(f.shared->requests.size(), size_t(1));
        const auto& request = f.shared->requests[0];
        QCOMPARE(request.systemPrompt, std::string("Be brief."));
        QVERIFY(request.thinking);
        QCOMPARE(request.turns.size(), size_t(1));
        QCOMPARE(request.turns[0].text, std::string("What is the capital of France?"));
        // The engine ran on its own thread, never the GUI thread.
        QVERIFY(f.shared->generateThread != nullptr);
        QVERIFY(f.shared->generateThread != QThread::currentThread());
    }

    void stopKeepsWhatArrivedAndRegenerateReplacesIt() {
        std::vector<ocelle::app::StreamDelta> slow;
        for (int i = 0; i < 200; ++i) slow.push_back({"", "word "});
        Fixture f(slow, 5);
        QAbstractItemModelTester tester(f.chat->messages(),
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy finished(f.chat.get(), &ChatController::answerFinished);
        QVERIFY(f.chat->send(QStringLiteral("Talk")));
        const QModelIndex answer = f.chat->messages()->index(1);
        QTRY_VERIFY(!answer.data(MessageListModel::TextRole).toString().isEmpty());
        QVERIFY(!f.chat->send(QStringLiteral("Another"))); // one answer at a time
        QVERIFY(f.chat->notice().contains(QStringLiteral("Stop")));
        f.chat->stop();
        QVERIFY(finished.wait(5000));
        const QString partial = answer.data(MessageListModel::TextRole).toString();
        QVERIFY(partial.size() < 200 * 5);
        QVERIFY(partial.startsWith(QStringLiteral("word ")));
        QCOMPARE(answer.data(MessageListModel::NoteRole).toString(), QStringLiteral("Stopped."));
        QVERIFY(f.chat->canRegenerate());

        QVERIFY(f.chat->regenerate());
        QCOMPARE(f.chat->messages()->count(), 2); // the old answer was replaced, not kept below
        QTRY_VERIFY(!f.chat->messages()->index(1).data(MessageListModel::TextRole).toString().isEmpty());
        f.chat->stop();
        QVERIFY(finished.wait(5000));
        std::lock_guard lock(f.shared->mutex);
        QCOMPARE(f.shared->requests.size(), size_t(2));
        // The regenerated request asks the same question without the discarded answer.
        QCOMPARE(f.shared->requests[1].turns.size(), size_t(1));
        QCOMPARE(f.shared->requests[1].turns[0].text, std::string("Talk"));
    }

    void aSecondTurnSendsTheHistory() {
        Fixture f(thinkThenAnswer());
        QSignalSpy finished(f.chat.get(), &ChatController::answerFinished);
        QVERIFY(f.chat->send(QStringLiteral("First")));
        QVERIFY(finished.wait(5000));
        QVERIFY(f.chat->send(QStringLiteral("Second")));
        QVERIFY(finished.wait(5000));
        QCOMPARE(f.chat->messages()->count(), 4);
        QCOMPARE(f.chat->currentTitle(), QStringLiteral("First")); // the title comes from the first question
        std::lock_guard lock(f.shared->mutex);
        const auto& turns = f.shared->requests.back().turns;
        QCOMPARE(turns.size(), size_t(3));
        QCOMPARE(turns[1].role, ocelle::app::ChatTurn::Role::Model);
        QCOMPARE(turns[1].text, std::string("Paris is the capital.")); // the answer, not the reasoning
    }

    void newChatReusesAnEmptyConversation() {
        Fixture f(thinkThenAnswer(), 0, false);
        ChatController& chat = *f.chat;
        QAbstractItemModelTester tester(chat.conversations(),
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        QCOMPARE(chat.currentConversationId(), -1);
        const int id = chat.newChat();
        QCOMPARE(chat.currentTitle(), QStringLiteral("New chat"));
        QCOMPARE(chat.newChat(), id);
        QCOMPARE(chat.conversations()->count(), 1);
        chat.messages()->append(MessageListModel::Author::User, QStringLiteral("Hi"));
        const int second = chat.newChat();
        QVERIFY(second != id);
        QCOMPARE(chat.conversations()->count(), 2);
        QCOMPARE(chat.messages()->count(), 0);
        QVERIFY(chat.selectConversation(id));
        QVERIFY(!chat.selectConversation(4242));
        QCOMPARE(chat.currentConversationId(), id);
    }
};

QTEST_GUILESS_MAIN(TestChatController)
#include "test_chat_controller.moc"
