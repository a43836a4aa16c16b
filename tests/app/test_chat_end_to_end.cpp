// The whole path with the REAL engine and the tiny fixture model: load on the engine thread,
// send, see the answer stream into the message list, stop it, and find the messages kept, also
// after the controller and its store are made again on the same database (a restart).
// The tiny model has random weights, so its answers are random tokens: only the mechanics are
// checked, never the words.
#include "chat_controller.h"
#include "model_controller.h"

#include <QAbstractItemModelTester>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

class TestChatEndToEnd : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QSettings().clear(); // settings left by an earlier run
    }

    void loadSendStreamStop() {
        QTemporaryDir dataDir;
        SettingsController settings;
        ModelController models;
        auto store = std::make_unique<ConversationStore>(dataDir.path());
        auto controller = std::make_unique<ChatController>(&models, store.get());
        ChatController& chat = *controller;
        chat.setSettings(&settings);
        QAbstractItemModelTester tester(chat.messages(),
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy loaded(&models, &ModelController::loadFinished);
        QVERIFY(models.openModelPath(QStringLiteral(OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf")));
        QVERIFY(loaded.wait(30000));
        QVERIFY2(models.modelLoaded(), qPrintable(models.statusText()));

        // A short answer that runs to its end.
        settings.setSeed(7);
        settings.setMaxTokens(24);
        QSignalSpy finished(&chat, &ChatController::answerFinished);
        QSignalSpy changes(chat.messages(), &QAbstractItemModel::dataChanged);
        QVERIFY(chat.send(QStringLiteral("Hello there")));
        QVERIFY(finished.wait(30000));
        QCOMPARE(chat.messages()->count(), 2);
        const QModelIndex first = chat.messages()->index(1);
        const QString firstText = first.data(MessageListModel::TextRole).toString() +
                                  first.data(MessageListModel::ReasoningRole).toString();
        QVERIFY2(!firstText.isEmpty(), "the model produced no text at all");
        QVERIFY(changes.count() >= 2); // streamed pieces, then the end of the stream
        const QString stats = first.data(MessageListModel::StatsTextRole).toString();
        QVERIFY2(stats.contains(QStringLiteral("tokens/s")), qPrintable(stats)); // 24 tokens: a rate is known
        QVERIFY2(!stats.contains(QStringLiteral(" 0 tokens")), qPrintable(stats));

        // A long answer, stopped once it has begun to stream.
        settings.setMaxTokens(3000);
        QVERIFY(chat.send(QStringLiteral("Tell me a long story")));
        const QModelIndex second = chat.messages()->index(3);
        QTRY_VERIFY_WITH_TIMEOUT(!second.data(MessageListModel::TextRole).toString().isEmpty() ||
                                     !second.data(MessageListModel::ReasoningRole).toString().isEmpty(),
                                 30000);
        QVERIFY(chat.generating());
        chat.stop();
        QVERIFY(finished.wait(30000));
        QVERIFY(!chat.generating());
        QCOMPARE(second.data(MessageListModel::NoteRole).toString(), QStringLiteral("Stopped."));
        QVERIFY(!second.data(MessageListModel::StreamingRole).toBool());

        // Everything said is still in the conversation, in order.
        QCOMPARE(chat.messages()->count(), 4);
        QCOMPARE(chat.messages()->textAt(0), QStringLiteral("Hello there"));
        QCOMPARE(chat.messages()->textAt(2), QStringLiteral("Tell me a long story"));
        QCOMPARE(chat.currentTitle(), QStringLiteral("Hello there"));

        // And the session still answers after a stop.
        settings.setMaxTokens(8);
        QVERIFY(chat.regenerate());
        QVERIFY(finished.wait(30000));
        QVERIFY(chat.messages()->index(3).data(MessageListModel::NoteRole).toString() !=
                QStringLiteral("Stopped."));

        // A restart: the history is read back from the database as it was on screen.
        QStringList texts;
        for (int row = 0; row < chat.messages()->count(); ++row) texts << chat.messages()->textAt(row);
        const int id = chat.currentConversationId();
        const QString statsBefore =
            chat.messages()->index(1).data(MessageListModel::StatsTextRole).toString();
        controller.reset();
        store.reset();
        store = std::make_unique<ConversationStore>(dataDir.path());
        ChatController again(&models, store.get());
        QCOMPARE(again.conversations()->count(), 1);
        QVERIFY(again.selectConversation(id));
        QStringList reread;
        for (int row = 0; row < again.messages()->count(); ++row) reread << again.messages()->textAt(row);
        QCOMPARE(reread, texts);
        QCOMPARE(again.messages()->index(1).data(MessageListModel::StatsTextRole).toString(), statsBefore);
        QCOMPARE(again.messages()->index(3).data(MessageListModel::BranchCountRole).toInt(),
                 2); // the stopped one kept
    }
};

QTEST_GUILESS_MAIN(TestChatEndToEnd)
#include "test_chat_end_to_end.moc"
