// ConversationStore on real SQLite files: schema and migrations, the message tree and what a
// reopen brings back, search, deletion with undo, attachments by hash, throttled checkpoints of a
// streaming answer, a writer process killed mid-answer, and damaged or newer databases.
#include "conversation_store.h"

#include <QProcess>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QtTest>

namespace {

// A separate connection to the file, as another program would see it.
struct RawDatabase {
    QString name = QStringLiteral("raw-%1").arg(reinterpret_cast<quintptr>(this));
    explicit RawDatabase(const QString& path) {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
        db.setDatabaseName(path);
        db.open();
    }
    ~RawDatabase() {
        QSqlDatabase::database(name, false).close();
        QSqlDatabase::removeDatabase(name);
    }
    QVariant value(const QString& sql) const {
        QSqlQuery query(QSqlDatabase::database(name));
        if (!query.exec(sql) || !query.next()) return {};
        return query.value(0);
    }
    bool exec(const QString& sql) const {
        QSqlQuery query(QSqlDatabase::database(name));
        return query.exec(sql);
    }
};

StoredMessage message(qint64 conversation, qint64 parent, StoredMessage::Role role, const QString& text) {
    StoredMessage m;
    m.conversationId = conversation;
    m.parentId = parent;
    m.role = role;
    m.text = text;
    return m;
}

QByteArray readAll(const QString& path) {
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

} // namespace

class TestConversationStore : public QObject {
    Q_OBJECT

private slots:
    void aNewStoreHasTheLatestSchemaInWalMode() {
        QTemporaryDir dir;
        {
            ConversationStore store(dir.path());
            QVERIFY2(store.isOpen(), qPrintable(store.openError()));
            QVERIFY(store.recoveryNotice().isEmpty());
            QCOMPARE(store.schemaVersion(), ConversationStore::latestSchemaVersion());
            QVERIFY(ConversationStore::latestSchemaVersion() >= 2);
            QVERIFY(store.conversations().isEmpty());
        }
        RawDatabase raw(dir.filePath(QStringLiteral("conversations.db")));
        QCOMPARE(raw.value(QStringLiteral("PRAGMA journal_mode")).toString(), QStringLiteral("wal"));
        QCOMPARE(raw.value(QStringLiteral("PRAGMA user_version")).toInt(),
                 ConversationStore::latestSchemaVersion());
    }

    void anOlderSchemaIsMigratedKeepingItsData() {
        QTemporaryDir dir;
        {
            ConversationStore store(dir.path());
            store.createConversation(QStringLiteral("From schema 1"));
        }
        {
            // Take the file back to schema 1: no attachment tables yet.
            RawDatabase raw(dir.filePath(QStringLiteral("conversations.db")));
            QVERIFY(raw.exec(QStringLiteral("DROP TABLE message_attachments")));
            QVERIFY(raw.exec(QStringLiteral("DROP TABLE attachments")));
            QVERIFY(raw.exec(QStringLiteral("PRAGMA user_version = 1")));
        }
        ConversationStore store(dir.path());
        QVERIFY2(store.isOpen(), qPrintable(store.openError()));
        QCOMPARE(store.schemaVersion(), ConversationStore::latestSchemaVersion());
        QCOMPARE(store.conversations().size(), 1);
        QCOMPARE(store.conversations().first().title, QStringLiteral("From schema 1"));
        // The migrated schema takes attachments.
        const auto file =
            store.storeAttachmentData("abc", QStringLiteral("a.txt"), QStringLiteral("text/plain"));
        QVERIFY(file);
        StoredMessage m =
            message(store.conversations().first().id, 0, StoredMessage::Role::User, QStringLiteral("x"));
        m.attachments = {*file};
        store.addMessage(m);
        QCOMPARE(store.messages(m.conversationId).size(), 1);
        QCOMPARE(store.messages(m.conversationId).first().attachments, QList<AttachmentRef>{*file});
    }

    void aNewerSchemaIsLeftUntouched() {
        QTemporaryDir dir;
        { ConversationStore store(dir.path()); }
        const QString path = dir.filePath(QStringLiteral("conversations.db"));
        { RawDatabase(path).exec(QStringLiteral("PRAGMA user_version = 99")); }
        ConversationStore store(dir.path());
        QVERIFY(!store.isOpen());
        QVERIFY2(store.openError().contains(QStringLiteral("newer")), qPrintable(store.openError()));
        store.createConversation(QStringLiteral("dropped, not written"));
        QCOMPARE(RawDatabase(path).value(QStringLiteral("PRAGMA user_version")).toInt(), 99);
    }

    void conversationsMessagesAndSettingsSurviveAReopen() {
        QTemporaryDir dir;
        qint64 chat = 0, older = 0, question = 0, firstAnswer = 0, secondAnswer = 0;
        const QJsonObject settings{{QStringLiteral("systemPrompt"), QStringLiteral("Be brief.")},
                                   {QStringLiteral("temperature"), 0.5}};
        {
            ConversationStore store(dir.path());
            older =
                store.createConversation(QStringLiteral("Older"), QDateTime::currentDateTime().addDays(-30));
            chat = store.createConversation(QStringLiteral("Untitled"));
            store.renameConversation(chat, QStringLiteral("Capitals"));
            store.setConversationSettings(chat, settings);
            question = store.addMessage(
                message(chat, 0, StoredMessage::Role::User, QStringLiteral("Capital of France?")));
            StoredMessage answer =
                message(chat, question, StoredMessage::Role::Model, QStringLiteral("Paris."));
            answer.reasoning = QStringLiteral("Easy.");
            answer.reasoningSeconds = 0.25;
            answer.hasStats = true;
            answer.tokensPerSecond = 12.5;
            answer.tokens = 3;
            answer.timeToFirstTokenSeconds = 0.1;
            firstAnswer = store.addMessage(answer);
            secondAnswer = store.addMessage(
                message(chat, question, StoredMessage::Role::Model, QStringLiteral("Lyon?")));
            store.setCurrentLeaf(chat, firstAnswer); // the user went back to the first answer
            store.setPinned(older, true);
        }
        ConversationStore store(dir.path());
        const QList<StoredConversation> list = store.conversations();
        QCOMPARE(list.size(), 2);
        QCOMPARE(list[0].id, older); // pinned first
        QVERIFY(list[0].pinned);
        QCOMPARE(list[1].title, QStringLiteral("Capitals"));
        QCOMPARE(list[1].currentLeaf, firstAnswer);
        QCOMPARE(list[1].settings, settings);
        const QList<StoredMessage> messages = store.messages(chat);
        QCOMPARE(messages.size(), 3);
        QCOMPARE(messages[0].id, question);
        QCOMPARE(messages[0].parentId, 0);
        QCOMPARE(messages[0].role, StoredMessage::Role::User);
        QCOMPARE(messages[1].parentId, question);
        QCOMPARE(messages[1].reasoning, QStringLiteral("Easy."));
        QCOMPARE(messages[1].reasoningSeconds, 0.25);
        QVERIFY(messages[1].hasStats);
        QCOMPARE(messages[1].tokensPerSecond, 12.5);
        QCOMPARE(messages[1].tokens, 3);
        QCOMPARE(messages[2].id, secondAnswer);
        QCOMPARE(messages[2].parentId, question); // a sibling of the first answer
        QVERIFY(!messages[2].hasStats);
        QCOMPARE(messages[2].reasoningSeconds, -1.0);
        // New ids continue after the stored ones.
        QVERIFY(store.createConversation(QStringLiteral("Next")) > chat);
    }

    void searchLooksAtTitlesAndMessageText() {
        QTemporaryDir dir;
        ConversationStore store(dir.path());
        const qint64 byTitle = store.createConversation(QStringLiteral("Sourdough starter"));
        const qint64 byText = store.createConversation(QStringLiteral("Chat"));
        store.addMessage(
            message(byText, 0, StoredMessage::Role::User, QStringLiteral("How do I feed a SOURDOUGH?")));
        const qint64 percent = store.createConversation(QStringLiteral("Rates"));
        store.addMessage(message(percent, 0, StoredMessage::Role::User, QStringLiteral("What is 5% of 80?")));
        QCOMPARE(store.search(QStringLiteral("sourdough")).size(), 2);
        QCOMPARE(store.search(QStringLiteral("starter")), QList<qint64>{byTitle});
        QCOMPARE(store.search(QStringLiteral("5%")), QList<qint64>{percent});
        QVERIFY(store.search(QStringLiteral("%")).contains(percent));
        QCOMPARE(store.search(QStringLiteral("%")).size(), 1); // a literal percent sign, not a wildcard
        QVERIFY(store.search(QStringLiteral("nothing like this")).isEmpty());
        QVERIFY(store.search(QStringLiteral("  ")).isEmpty());

        // Case is folded beyond ASCII (SQLite's LIKE would not): German, Greek (final sigma too),
        // Cyrillic.
        const qint64 umlaut = store.createConversation(QStringLiteral("Über den Wolken"));
        const qint64 greek = store.createConversation(QStringLiteral("Chat"));
        store.addMessage(message(greek, 0, StoredMessage::Role::User, QStringLiteral("ΣΩΚΡΑΤΗΣ und Москва")));
        QCOMPARE(store.search(QStringLiteral("über")), QList<qint64>{umlaut});
        QCOMPARE(store.search(QStringLiteral("ÜBER")), QList<qint64>{umlaut});
        QCOMPARE(store.search(QStringLiteral("σωκράτης")), QList<qint64>{}); // accents are kept apart
        QCOMPARE(store.search(QStringLiteral("σωκρατησ")), QList<qint64>{greek});
        QCOMPARE(store.search(QStringLiteral("МОСКВА")), QList<qint64>{greek});
    }

    void aDeletionCanBeUndoneUntilTheStoreIsReopened() {
        QTemporaryDir dir;
        qint64 kept = 0, gone = 0;
        {
            ConversationStore store(dir.path());
            kept = store.createConversation(QStringLiteral("Kept"));
            gone = store.createConversation(QStringLiteral("Gone"));
            store.addMessage(message(gone, 0, StoredMessage::Role::User, QStringLiteral("bye")));
            store.setDeleted(kept, true);
            QCOMPARE(store.conversations().size(), 1);
            QVERIFY(!store.conversation(kept));
            store.setDeleted(kept, false); // undo
            QVERIFY(store.conversation(kept));
            store.setDeleted(gone, true);
        }
        ConversationStore store(dir.path());
        QCOMPARE(store.conversations().size(), 1);
        QCOMPARE(store.conversations().first().id, kept);
        RawDatabase raw(dir.filePath(QStringLiteral("conversations.db")));
        QCOMPARE(raw.value(QStringLiteral("SELECT COUNT(*) FROM messages")).toInt(), 0); // removed with it
    }

    void attachmentsAreFilesNamedByContentHash() {
        QTemporaryDir dir;
        const QString source = dir.filePath(QStringLiteral("photo.png"));
        {
            QFile file(source);
            QVERIFY(file.open(QIODevice::WriteOnly));
            file.write("not really a png, but bytes all the same");
        }
        QString unused;
        {
            ConversationStore store(dir.filePath(QStringLiteral("data")));
            QString error;
            const auto ref = store.storeAttachment(source, QStringLiteral("image/png"), &error);
            QVERIFY2(ref, qPrintable(error));
            QCOMPARE(ref->hash,
                     QString::fromLatin1(
                         QCryptographicHash::hash(readAll(source), QCryptographicHash::Sha256).toHex()));
            QCOMPARE(ref->fileName, QStringLiteral("photo.png"));
            QCOMPARE(ref->size, QFileInfo(source).size());
            QCOMPARE(readAll(store.attachmentPath(ref->hash)), readAll(source));
            QVERIFY(store.attachmentPath(ref->hash).startsWith(store.attachmentsDirectory()));
            // The same content again is the same file.
            const auto again = store.storeAttachmentData(readAll(source), QStringLiteral("copy.png"),
                                                         QStringLiteral("image/png"));
            QCOMPARE(again->hash, ref->hash);
            QCOMPARE(QDir(store.attachmentsDirectory()).entryList(QDir::Files).size(), 1);
            const qint64 chat = store.createConversation(QStringLiteral("Photo"));
            StoredMessage m = message(chat, 0, StoredMessage::Role::User, QStringLiteral("What is this?"));
            m.attachments = {*ref, *again};
            store.addMessage(m);
            // Stored but never sent: removed at the next open.
            const auto orphan =
                store.storeAttachmentData("orphan", QStringLiteral("o.txt"), QStringLiteral("text/plain"));
            unused = store.attachmentPath(orphan->hash);
            QVERIFY(QFileInfo::exists(unused));
            QVERIFY(!store.storeAttachment(dir.filePath(QStringLiteral("missing.png")),
                                           QStringLiteral("image/png"), &error));
            QVERIFY2(error.contains(QStringLiteral("missing.png")), qPrintable(error));
        }
        ConversationStore store(dir.filePath(QStringLiteral("data")));
        const QList<StoredMessage> messages = store.messages(store.conversations().first().id);
        QCOMPARE(messages.first().attachments.size(), 2);
        QCOMPARE(messages.first().attachments[1].fileName, QStringLiteral("copy.png"));
        QVERIFY(QFileInfo::exists(store.attachmentPath(messages.first().attachments[0].hash)));
        QVERIFY(!QFileInfo::exists(unused));
    }

    void aStreamingAnswerIsCheckpointedAtMostOncePerSecond() {
        QTemporaryDir dir;
        ConversationStore store(dir.path());
        const qint64 chat = store.createConversation(QStringLiteral("Stream"));
        const qint64 q =
            store.addMessage(message(chat, 0, StoredMessage::Role::User, QStringLiteral("Talk")));
        StoredMessage answer = message(chat, q, StoredMessage::Role::Model, QString());
        answer.state = StoredMessage::State::Streaming;
        answer.id = store.addMessage(answer);
        QString text;
        for (int i = 0; i < 50; ++i) {
            text += QStringLiteral("w%1 ").arg(i);
            store.saveStreaming(answer.id, text, QStringLiteral("thinking"));
        }
        QCOMPARE(store.streamingWrites(), 1); // the first piece at once, the rest waits
        QCOMPARE(store.messages(chat).last().text, QStringLiteral("w0 "));
        // The waiting text is written when its second is up, without another call.
        QTRY_COMPARE_WITH_TIMEOUT(store.streamingWrites(), 2, 3000);
        QCOMPARE(store.messages(chat).last().text, text);
        QCOMPARE(store.messages(chat).last().reasoning, QStringLiteral("thinking"));
        QCOMPARE(store.messages(chat).last().state, StoredMessage::State::Streaming);
        // Finishing replaces anything still waiting.
        store.saveStreaming(answer.id, text + QStringLiteral("late"), {});
        answer.text = text + QStringLiteral("final");
        answer.state = StoredMessage::State::Stopped;
        answer.note = QStringLiteral("Stopped.");
        store.finishMessage(answer);
        QTest::qWait(1200);
        QCOMPARE(store.messages(chat).last().text, answer.text);
        QCOMPARE(store.messages(chat).last().state, StoredMessage::State::Stopped);
        QCOMPARE(store.messages(chat).last().note, QStringLiteral("Stopped."));
    }

    void aWriterKilledMidAnswerLosesOnlyTheLastSecond() {
        QTemporaryDir dir;
        QProcess writer;
        writer.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        writer.start(QStringLiteral(OCELLE_STORE_WRITER_HELPER), {dir.path()});
        QVERIFY(writer.waitForStarted());
        // Wait for the second checkpoint that is in the database, then kill it while it streams on.
        QString lastSaved;
        int saves = 0;
        QElapsedTimer waited;
        waited.start();
        while (saves < 2 && waited.elapsed() < 30000) {
            if (!writer.canReadLine() && !writer.waitForReadyRead(1000)) continue;
            while (writer.canReadLine()) {
                const QString line = QString::fromUtf8(writer.readLine()).chopped(1);
                if (line.startsWith(QStringLiteral("saved "))) {
                    lastSaved = line.mid(6);
                    ++saves;
                }
            }
        }
        QCOMPARE(saves, 2);
        writer.kill(); // SIGKILL: no destructor, no flush
        QVERIFY(writer.waitForFinished());
        QCOMPARE(writer.exitStatus(), QProcess::CrashExit);

        ConversationStore store(dir.path());
        QVERIFY2(store.isOpen(), qPrintable(store.openError()));
        QVERIFY(store.recoveryNotice().isEmpty());
        const QList<StoredConversation> list = store.conversations();
        QCOMPARE(list.size(), 1);
        QCOMPARE(list.first().title, QStringLiteral("Killed mid-answer"));
        const QList<StoredMessage> messages = store.messages(list.first().id);
        QCOMPARE(messages.size(), 2);
        QCOMPARE(messages[0].text, QStringLiteral("A question that must survive"));
        QCOMPARE(messages[0].state, StoredMessage::State::Complete);
        QCOMPARE(messages[1].state, StoredMessage::State::Interrupted);
        QCOMPARE(list.first().currentLeaf, messages[1].id);
        // Everything that was reported saved is there (a later checkpoint may have landed too).
        QVERIFY2(messages[1].text.startsWith(lastSaved) && !lastSaved.isEmpty(),
                 qPrintable(messages[1].text + QStringLiteral(" | ") + lastSaved));
    }

    void aDamagedDatabaseIsMovedAsideNotDropped() {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("conversations.db"));
        QByteArray garbage;
        for (int i = 0; i < 500; ++i) garbage += "this is not an SQLite database ";
        {
            QFile file(path);
            QVERIFY(file.open(QIODevice::WriteOnly));
            file.write(garbage);
        }
        ConversationStore store(dir.path());
        QVERIFY2(store.isOpen(), qPrintable(store.openError()));
        const QString notice = store.recoveryNotice();
        QVERIFY2(notice.contains(QStringLiteral("damaged")), qPrintable(notice));
        const QStringList aside = QDir(dir.path()).entryList({QStringLiteral("conversations.damaged-*.db")});
        QCOMPARE(aside.size(), 1);
        QVERIFY2(notice.contains(aside.first()), qPrintable(notice));
        QCOMPARE(readAll(dir.filePath(aside.first())), garbage); // kept byte for byte
        // The new database works.
        store.createConversation(QStringLiteral("After the damage"));
        QCOMPARE(store.conversations().size(), 1);
    }

    void aDatabaseWithDamagedPagesIsMovedAside() {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("conversations.db"));
        {
            ConversationStore store(dir.path());
            const qint64 chat = store.createConversation(QStringLiteral("Long"));
            for (int i = 0; i < 200; ++i)
                store.addMessage(
                    message(chat, 0, StoredMessage::Role::User, QString(200, QLatin1Char('a' + i % 26))));
        }
        { RawDatabase(path).exec(QStringLiteral("PRAGMA wal_checkpoint(TRUNCATE)")); }
        QFile file(path);
        QVERIFY(file.open(QIODevice::ReadWrite));
        QVERIFY(file.size() > 8 * 4096);
        // Keep the header page, scribble over the b-tree pages after it.
        file.seek(4096);
        file.write(QByteArray(4 * 4096, '\x5a'));
        file.close();
        ConversationStore store(dir.path());
        QVERIFY2(store.isOpen(), qPrintable(store.openError()));
        QVERIFY2(store.recoveryNotice().contains(QStringLiteral("damaged")),
                 qPrintable(store.recoveryNotice()));
        QVERIFY(store.conversations().isEmpty());
        QCOMPARE(QDir(dir.path()).entryList({QStringLiteral("conversations.damaged-*.db")}).size(), 1);
    }
};

QTEST_GUILESS_MAIN(TestConversationStore)
#include "test_conversation_store.moc"
