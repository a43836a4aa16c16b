// ChatController: the composer never pretends to answer without a model, and new chats behave.
#include "chat_controller.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QtTest>

class TestChatController : public QObject {
    Q_OBJECT

private slots:
    void sendingWithoutAModelExplainsAndSendsNothing() {
        ModelController models;
        ChatController chat(&models);
        QAbstractItemModelTester messagesTester(chat.messages(),
                                                QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy noticeSpy(&chat, &ChatController::noticeChanged);

        QVERIFY(!chat.send(QStringLiteral("   \n ")));
        QVERIFY(chat.notice().isEmpty()); // blank input: nothing to explain
        QCOMPARE(noticeSpy.count(), 0);

        QVERIFY(!chat.send(QStringLiteral("Hello")));
        QCOMPARE(noticeSpy.count(), 1);
        QVERIFY2(chat.notice().contains(QStringLiteral("Nothing was sent")), qPrintable(chat.notice()));
        QVERIFY2(chat.notice().contains(QStringLiteral("Open model")), qPrintable(chat.notice()));
        QCOMPARE(chat.messages()->count(), 0);
    }

    void aReadButNotRunningModelIsNamed() {
        ModelController models;
        ChatController chat(&models);
        QVERIFY(models.openModelPath(QStringLiteral(OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf")));
        QVERIFY(!chat.send(QStringLiteral("Hello")));
        QVERIFY2(chat.notice().contains(QStringLiteral("tiny-gemma4-e.gguf")), qPrintable(chat.notice()));
        QVERIFY2(chat.notice().contains(QStringLiteral("engine")), qPrintable(chat.notice()));
        QCOMPARE(chat.messages()->count(), 0);

        // Choosing another file makes the old explanation stale.
        models.openModelPath(QStringLiteral(OCELLE_FIXTURES_DIR "/README.md"));
        QVERIFY(chat.notice().isEmpty());
    }

    void attachingWithoutAModelExplains() {
        ModelController models;
        ChatController chat(&models);
        QVERIFY(!chat.requestAttachment());
        QVERIFY2(chat.notice().contains(QStringLiteral("mmproj")), qPrintable(chat.notice()));
        chat.dismissNotice();
        QVERIFY(chat.notice().isEmpty());
    }

    void newChatReusesAnEmptyConversation() {
        ModelController models;
        ChatController chat(&models);
        QAbstractItemModelTester tester(chat.conversations(),
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy currentSpy(&chat, &ChatController::currentConversationChanged);
        QCOMPARE(chat.currentConversationId(), -1);
        QVERIFY(chat.currentTitle().isEmpty());

        const int id = chat.newChat();
        QCOMPARE(chat.currentConversationId(), id);
        QCOMPARE(chat.currentTitle(), QStringLiteral("New chat"));
        QCOMPARE(chat.conversations()->count(), 1);
        QCOMPARE(currentSpy.count(), 1);

        // Nothing was said in it yet, so a second "New chat" stays on it instead of piling up empties.
        QCOMPARE(chat.newChat(), id);
        QCOMPARE(chat.conversations()->count(), 1);

        // Once the conversation has messages, a new chat is a new conversation.
        chat.messages()->append(MessageListModel::Author::User, QStringLiteral("Hi"));
        const int second = chat.newChat();
        QVERIFY(second != id);
        QCOMPARE(chat.conversations()->count(), 2);
        QCOMPARE(chat.messages()->count(), 0);
        QCOMPARE(chat.conversations()->idAt(0), second);

        QVERIFY(chat.selectConversation(id));
        QCOMPARE(chat.currentConversationId(), id);
        QVERIFY(!chat.selectConversation(4242));
        QCOMPARE(chat.currentConversationId(), id);
    }
};

QTEST_APPLESS_MAIN(TestChatController)
#include "test_chat_controller.moc"
