// ChatController with a scripted engine on the real engine thread: sending streams the answer
// into the last message, reasoning kept apart with its duration, stats per answer, stop keeps
// what arrived, regenerate replaces the last answer; and without a model nothing pretends to answer.
#include "chat_controller.h"
#include "scripted_chat_engine.h"

#include <QAbstractItemModelTester>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
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
    QTemporaryDir dataDir;
    std::unique_ptr<SettingsController> settings = std::make_unique<SettingsController>();
    std::unique_ptr<ModelController> models;
    std::unique_ptr<ConversationStore> store;
    std::unique_ptr<ChatController> chat;

    explicit Fixture(std::vector<ocelle::app::StreamDelta> script, int pauseMs = 0, bool load = true) {
        models =
            std::make_unique<ModelController>(std::make_unique<ScriptedChatEngine>(script, shared, pauseMs));
        store = std::make_unique<ConversationStore>(dataDir.path());
        chat = std::make_unique<ChatController>(models.get(), store.get());
        chat->setSettings(settings.get());
        if (load) {
            QSignalSpy loaded(models.get(), &ModelController::loadFinished);
            models->openModelPath(kModel);
            loaded.wait(5000);
        }
    }

    // A new controller and store on the same folder, as after a restart.
    void restart() {
        chat.reset();
        store.reset();
        store = std::make_unique<ConversationStore>(dataDir.path());
        chat = std::make_unique<ChatController>(models.get(), store.get());
        chat->setSettings(settings.get());
    }

    QStringList texts() const {
        QStringList list;
        for (int row = 0; row < chat->messages()->count(); ++row) list << chat->messages()->textAt(row);
        return list;
    }
    QString branchOf(int row) const {
        const QModelIndex i = chat->messages()->index(row);
        return QStringLiteral("%1/%2")
            .arg(i.data(MessageListModel::BranchIndexRole).toInt())
            .arg(i.data(MessageListModel::BranchCountRole).toInt());
    }
};

} // namespace

class TestChatController : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }
    // Every test starts from the default settings.
    void init() { QSettings().clear(); }

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
        f.settings->setSystemPrompt(QStringLiteral("Be brief."));
        f.settings->setThinking(true);

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
        // The settings it was answered with are kept with the conversation.
        const QJsonObject settings = f.store->conversation(f.chat->currentConversationId())->settings;
        QCOMPARE(settings.value(QStringLiteral("systemPrompt")).toString(), QStringLiteral("Be brief."));
        QVERIFY(settings.value(QStringLiteral("thinking")).toBool());
        QCOMPARE(settings.value(QStringLiteral("topK")).toInt(), 64);

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
        QCOMPARE(f.chat->messages()->count(), 2);       // the new answer takes the old one's place...
        QCOMPARE(f.branchOf(1), QStringLiteral("2/2")); // ...as its sibling, which is kept
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

    void editingAPastQuestionForksAndBothBranchesStay() {
        Fixture f(thinkThenAnswer());
        QAbstractItemModelTester tester(f.chat->messages(),
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy finished(f.chat.get(), &ChatController::answerFinished);
        const QString answer = QStringLiteral("Paris is the capital.");
        QVERIFY(f.chat->send(QStringLiteral("First")));
        QVERIFY(finished.wait(5000));
        QVERIFY(f.chat->send(QStringLiteral("Second")));
        QVERIFY(finished.wait(5000));
        QCOMPARE(f.texts(), (QStringList{"First", answer, "Second", answer}));

        QVERIFY(!f.chat->editMessage(1, QStringLiteral("an answer is not a question")));
        QVERIFY(!f.chat->editMessage(0, QStringLiteral("   ")));
        QVERIFY(f.chat->editMessage(0, QStringLiteral("First, edited")));
        QVERIFY(finished.wait(5000));
        QCOMPARE(f.texts(), (QStringList{"First, edited", answer}));
        QCOMPARE(f.branchOf(0), QStringLiteral("2/2"));
        {
            std::lock_guard lock(f.shared->mutex);
            const auto& turns = f.shared->requests.back().turns;
            QCOMPARE(turns.size(), size_t(1)); // the edit is answered without the other branch
            QCOMPARE(turns[0].text, std::string("First, edited"));
        }

        // Back to the first branch: the whole of it, as it was.
        QVERIFY(!f.chat->switchBranch(0, +1)); // already the last
        QVERIFY(f.chat->switchBranch(0, -1));
        QCOMPARE(f.texts(), (QStringList{"First", answer, "Second", answer}));
        QCOMPARE(f.branchOf(0), QStringLiteral("1/2"));
        QVERIFY(!f.chat->switchBranch(0, -1));

        // Regenerating in that branch adds a third answer level sibling; switching keeps the rest.
        QVERIFY(f.chat->regenerate());
        QVERIFY(finished.wait(5000));
        QCOMPARE(f.branchOf(3), QStringLiteral("2/2"));
        QVERIFY(f.chat->switchBranch(3, -1));
        QCOMPARE(f.branchOf(3), QStringLiteral("1/2"));
        QCOMPARE(f.chat->messages()->count(), 4);

        // After a restart the same branch is on screen and the other is still there.
        const int id = f.chat->currentConversationId();
        f.restart();
        QVERIFY(f.chat->selectConversation(id));
        QCOMPARE(f.texts(), (QStringList{"First", answer, "Second", answer}));
        QCOMPARE(f.branchOf(0), QStringLiteral("1/2"));
        QCOMPARE(f.branchOf(3), QStringLiteral("1/2"));
        QVERIFY(f.chat->switchBranch(0, +1));
        QCOMPARE(f.texts(), (QStringList{"First, edited", answer}));
    }

    void conversationsAndAnswersSurviveARestart() {
        Fixture f(thinkThenAnswer());
        QSignalSpy finished(f.chat.get(), &ChatController::answerFinished);
        QVERIFY(f.chat->send(QStringLiteral("What is the capital of France?")));
        QVERIFY(finished.wait(5000));
        const int first = f.chat->currentConversationId();
        f.chat->newChat();
        QVERIFY(f.chat->send(QStringLiteral("Another question")));
        QVERIFY(finished.wait(5000));
        QVERIFY(f.chat->renameConversation(f.chat->currentConversationId(), QStringLiteral("Renamed")));
        QVERIFY(f.chat->setPinned(first, true));

        f.restart();
        QAbstractItemModelTester tester(f.chat->conversations(),
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        QCOMPARE(f.chat->currentConversationId(), -1); // nothing open until one is chosen
        QCOMPARE(f.chat->conversations()->count(), 2);
        QCOMPARE(f.chat->conversations()->idAt(0), first); // pinned
        QCOMPARE(f.chat->conversations()->index(1).data(ConversationListModel::TitleRole).toString(),
                 QStringLiteral("Renamed"));
        QVERIFY(f.chat->selectConversation(first));
        QCOMPARE(f.chat->currentTitle(), QStringLiteral("What is the capital of France?"));
        QCOMPARE(f.texts(), (QStringList{"What is the capital of France?", "Paris is the capital."}));
        const QModelIndex answer = f.chat->messages()->index(1);
        QCOMPARE(answer.data(MessageListModel::ReasoningRole).toString(), QStringLiteral("Let me think."));
        QVERIFY(answer.data(MessageListModel::StatsTextRole).toString().contains(QStringLiteral("7 tokens")));
        QVERIFY(answer.data(MessageListModel::ReasoningSecondsRole).toDouble() >= 0);
        QVERIFY(!answer.data(MessageListModel::StreamingRole).toBool());

        // Deleting, undoing, deleting again: gone after the next restart.
        QVERIFY(f.chat->deleteConversation(first));
        QCOMPARE(f.chat->currentConversationId(), -1);
        QCOMPARE(f.chat->messages()->count(), 0);
        QCOMPARE(f.chat->undoableDeletion(), QStringLiteral("What is the capital of France?"));
        QVERIFY(f.chat->undoDelete());
        QCOMPARE(f.chat->currentConversationId(), first);
        QCOMPARE(f.chat->messages()->count(), 2);
        QVERIFY(f.chat->undoableDeletion().isEmpty());
        QVERIFY(f.chat->deleteConversation(first));
        f.restart();
        QCOMPARE(f.chat->conversations()->count(), 1);
        QVERIFY(!f.chat->selectConversation(first));
    }

    void anAnswerCutOffByQuittingIsShownInterrupted() {
        std::vector<ocelle::app::StreamDelta> slow;
        for (int i = 0; i < 400; ++i) slow.push_back({"", "word "});
        Fixture f(slow, 5);
        QVERIFY(f.chat->send(QStringLiteral("Talk")));
        QTRY_VERIFY(f.chat->messages()->textAt(1).size() > 20);
        const int id = f.chat->currentConversationId();
        f.restart(); // while the answer is still streaming
        QVERIFY(f.chat->selectConversation(id));
        QCOMPARE(f.chat->messages()->count(), 2);
        QVERIFY(f.chat->messages()->textAt(1).startsWith(QStringLiteral("word word word word ")));
        QVERIFY2(f.chat->messages()
                     ->index(1)
                     .data(MessageListModel::NoteRole)
                     .toString()
                     .startsWith(QStringLiteral("Interrupted")),
                 qPrintable(f.chat->messages()->index(1).data(MessageListModel::NoteRole).toString()));
        QVERIFY(f.chat->canRegenerate());
        f.models->engineHost()->cancel();
    }

    // What the settings say is what the engine gets, for every answer.
    void samplingSettingsReachTheEngine() {
        Fixture f(thinkThenAnswer());
        QSignalSpy finished(f.chat.get(), &ChatController::answerFinished);
        f.settings->setTemperature(0.3);
        f.settings->setTopK(5);
        f.settings->setTopP(0.5);
        f.settings->setMinP(0.1);
        f.settings->setRepetitionPenalty(1.2);
        f.settings->setSeed(42);
        f.settings->setMaxTokens(77);
        f.settings->setThinking(true);
        f.settings->setSystemPrompt(QStringLiteral("Answer in French."));
        QVERIFY(f.chat->send(QStringLiteral("Hello")));
        QVERIFY(finished.wait(5000));
        f.settings->setSeed(-1); // a new random seed for each answer
        QVERIFY(f.chat->regenerate());
        QVERIFY(finished.wait(5000));
        QVERIFY(f.chat->regenerate());
        QVERIFY(finished.wait(5000));

        std::lock_guard lock(f.shared->mutex);
        QCOMPARE(f.shared->requests.size(), size_t(3));
        const auto& s = f.shared->requests[0].sampling;
        QCOMPARE(s.temperature, 0.3f);
        QCOMPARE(s.topK, 5);
        QCOMPARE(s.topP, 0.5f);
        QCOMPARE(s.minP, 0.1f);
        QCOMPARE(s.repetitionPenalty, 1.2f);
        QCOMPARE(s.seed, 42ull);
        QCOMPARE(s.maxTokens, 77);
        QVERIFY(f.shared->requests[0].thinking);
        QCOMPARE(f.shared->requests[0].systemPrompt, std::string("Answer in French."));
        QVERIFY(f.shared->requests[1].sampling.seed != f.shared->requests[2].sampling.seed);
    }

    void contextPlanKeepsRoomForAnAnswer() {
        using Policy = SettingsController::ContextPolicy;
        const int fixed = ChatController::kTokensPerPrompt;
        // Fits: everything is sent.
        auto plan = ChatController::planContext({10, 20, 10}, 6, 100, 30, Policy::StopWhenFull);
        QVERIFY(plan.fits);
        QCOMPARE(plan.firstTurn, 0);
        QCOMPARE(plan.promptTokens, fixed + 6 + 40);
        // Too long by the answer's room: stop, or drop the oldest question with its answer.
        plan = ChatController::planContext({30, 20, 10, 20, 10}, 0, 100, 30, Policy::StopWhenFull);
        QVERIFY(!plan.fits);
        plan = ChatController::planContext({30, 20, 10, 20, 10}, 0, 100, 30, Policy::DropOldestTurns);
        QVERIFY(plan.fits);
        QCOMPARE(plan.firstTurn, 2);
        QCOMPARE(plan.promptTokens, fixed + 40);
        // Pairs go until it fits, never the new question.
        plan = ChatController::planContext({40, 40, 10, 5, 20}, 0, 60, 30, Policy::DropOldestTurns);
        QVERIFY(plan.fits);
        QCOMPARE(plan.firstTurn, 4);
        plan = ChatController::planContext({40, 40, 90}, 0, 100, 30, Policy::DropOldestTurns);
        QVERIFY(!plan.fits); // the question alone is too long
        QCOMPARE(plan.firstTurn, 2);
    }

    // The scripted engine counts one token per word and has a 2048-token context.
    void aFullContextStopsOrDropsTheOldestTurns() {
        Fixture f(thinkThenAnswer());
        QSignalSpy finished(f.chat.get(), &ChatController::answerFinished);
        QSignalSpy contextChanged(f.chat.get(), &ChatController::contextChanged);
        f.settings->setMaxTokens(100); // the room kept for an answer
        QCOMPARE(f.chat->contextSize(), 2048);
        const QString longQuestion = QStringLiteral("word ").repeated(1000);
        QVERIFY(f.chat->send(longQuestion));
        QVERIFY(finished.wait(5000));
        // The meter shows the engine's count: the question and the 7 pieces it generated.
        QCOMPARE(f.chat->contextUsed(), 1000 + 7);
        QVERIFY(f.chat->contextText().contains(QStringLiteral("2,048")));
        QVERIFY(contextChanged.count() > 0);

        // Stop (the default): nothing is sent, the notice says why, the conversation is unchanged.
        QVERIFY(!f.chat->send(longQuestion));
        QVERIFY2(f.chat->notice().contains(QStringLiteral("context")), qPrintable(f.chat->notice()));
        QCOMPARE(f.chat->messages()->count(), 2);
        QVERIFY(!f.chat->generating());

        // Drop oldest turns: the first question and its answer are left out of the prompt, not
        // out of the conversation, and the answer says so.
        f.settings->setContextPolicy(SettingsController::ContextPolicy::DropOldestTurns);
        QVERIFY(f.chat->send(longQuestion));
        QVERIFY(finished.wait(5000));
        QCOMPARE(f.chat->messages()->count(), 4);
        QVERIFY(f.chat->messages()->index(3).data(MessageListModel::NoteRole).toString().contains(
            QStringLiteral("left out")));
        std::lock_guard lock(f.shared->mutex);
        QCOMPARE(f.shared->requests.size(), size_t(2));
        QCOMPARE(f.shared->requests[1].turns.size(), size_t(1));
        QCOMPARE(f.chat->contextUsed(), 1000 + 7);
    }

    void aDamagedDatabaseIsReportedUntilDismissed() {
        QTemporaryDir dir;
        {
            QFile file(dir.filePath(QStringLiteral("conversations.db")));
            QVERIFY(file.open(QIODevice::WriteOnly));
            file.write(QByteArray(8192, 'x'));
        }
        ModelController models(std::make_unique<ScriptedChatEngine>(
            thinkThenAnswer(), std::make_shared<ScriptedChatEngine::Shared>()));
        ConversationStore store(dir.path());
        ChatController chat(&models, &store);
        QVERIFY2(chat.storageNotice().contains(QStringLiteral("damaged")), qPrintable(chat.storageNotice()));
        QVERIFY(chat.storageNotice().contains(QStringLiteral("conversations.damaged-")));
        chat.dismissNotice(); // the composer's notice is another thing
        QVERIFY(!chat.storageNotice().isEmpty());
        QSignalSpy changed(&chat, &ChatController::storageNoticeChanged);
        chat.dismissStorageNotice();
        QVERIFY(chat.storageNotice().isEmpty());
        QCOMPARE(changed.count(), 1);
    }
};

QTEST_GUILESS_MAIN(TestChatController)
#include "test_chat_controller.moc"
