// Export and import on real files: JSON keeps every branch, the settings and the attachments, and
// an imported conversation exports to the same document; Markdown holds the branch on screen with
// attachments copied next to it; broken or foreign files are refused without storing anything.
#include "conversation_export.h"

#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QTemporaryDir>
#include <QtTest>

namespace {

QByteArray readAll(const QString& path) {
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

void writeFile(const QString& path, const QByteArray& bytes) {
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write(bytes);
}

struct Sample {
    qint64 conversation = 0;
    QString imagePath;
};

// A question with a picture, two answers to it (the first one current), and an edited question.
Sample makeSample(ConversationStore& store, const QString& workDir) {
    Sample sample;
    sample.imagePath = QDir(workDir).filePath(QStringLiteral("red square.png"));
    QImage image(8, 8, QImage::Format_RGB32);
    image.fill(Qt::red);
    image.save(sample.imagePath);
    sample.conversation = store.createConversation(QStringLiteral("A red square"));
    store.setConversationSettings(sample.conversation,
                                  {{QStringLiteral("systemPrompt"), QStringLiteral("Be brief.")}});
    StoredMessage question;
    question.conversationId = sample.conversation;
    question.text = QStringLiteral("What colour is this?");
    question.attachments = {*store.storeAttachment(sample.imagePath, QStringLiteral("image/png"))};
    question.attachments[0].options = {{QStringLiteral("budget"), 560}}; // how it was sent
    const qint64 q = store.addMessage(question);
    StoredMessage answer;
    answer.conversationId = sample.conversation;
    answer.parentId = q;
    answer.role = StoredMessage::Role::Model;
    answer.text = QStringLiteral("It is **red**.");
    answer.reasoning = QStringLiteral("All pixels are red.");
    answer.reasoningSeconds = 1.5;
    answer.hasStats = true;
    answer.tokensPerSecond = 20;
    answer.tokens = 4;
    answer.timeToFirstTokenSeconds = 0.3;
    const qint64 first = store.addMessage(answer);
    answer.text = QStringLiteral("Crimson, perhaps.");
    answer.state = StoredMessage::State::Stopped;
    answer.note = QStringLiteral("Stopped.");
    answer.hasStats = false;
    answer.reasoning.clear();
    answer.reasoningSeconds = -1;
    store.addMessage(answer);
    StoredMessage edited;
    edited.conversationId = sample.conversation;
    edited.text = QStringLiteral("An edited question in another branch");
    store.addMessage(edited);
    store.setCurrentLeaf(sample.conversation, first);
    store.setPinned(sample.conversation, true);
    return sample;
}

} // namespace

class TestConversationExport : public QObject {
    Q_OBJECT

private slots:
    void jsonRoundTripKeepsEverything() {
        QTemporaryDir work;
        QString error;
        QJsonObject exported;
        {
            ConversationStore store(work.filePath(QStringLiteral("first")));
            const Sample sample = makeSample(store, work.path());
            QVERIFY(conversation_export::writeJson(store, sample.conversation,
                                                   work.filePath(QStringLiteral("a.json")))
                        .isEmpty());
            exported = QJsonDocument::fromJson(readAll(work.filePath(QStringLiteral("a.json")))).object();
        }
        QCOMPARE(exported.value(QStringLiteral("messages")).toArray().size(), 4);
        QCOMPARE(exported.value(QStringLiteral("currentLeaf")).toInt(), 2);

        // Into another store (another machine, say), then out again: the same document.
        ConversationStore other(work.filePath(QStringLiteral("second")));
        other.createConversation(QStringLiteral("Something already there"));
        const qint64 imported =
            conversation_export::importJson(other, work.filePath(QStringLiteral("a.json")), &error);
        QVERIFY2(imported > 0, qPrintable(error));
        const QJsonObject again = conversation_export::toJson(other, imported, &error);
        QCOMPARE(QJsonDocument(again).toJson(), QJsonDocument(exported).toJson());

        const auto stored = other.conversation(imported);
        QCOMPARE(stored->title, QStringLiteral("A red square"));
        QVERIFY(stored->pinned);
        QCOMPARE(stored->settings.value(QStringLiteral("systemPrompt")).toString(),
                 QStringLiteral("Be brief."));
        const QList<StoredMessage> messages = other.messages(imported);
        QCOMPARE(messages.size(), 4);
        QCOMPARE(stored->currentLeaf, messages[1].id);
        QCOMPARE(messages[1].parentId, messages[0].id);
        QCOMPARE(messages[2].parentId, messages[0].id);
        QCOMPARE(messages[3].parentId, 0);
        QCOMPARE(messages[1].reasoning, QStringLiteral("All pixels are red."));
        QCOMPARE(messages[2].state, StoredMessage::State::Stopped);
        QCOMPARE(messages[0].attachments.size(), 1);
        QCOMPARE(messages[0].attachments[0].fileName, QStringLiteral("red square.png"));
        QCOMPARE(messages[0].attachments[0].options.value(QStringLiteral("budget")).toInt(), 560);
        QCOMPARE(readAll(other.attachmentPath(messages[0].attachments[0].hash)),
                 readAll(work.filePath(QStringLiteral("red square.png"))));
    }

    void markdownHoldsTheBranchOnScreenWithItsFiles() {
        QTemporaryDir work;
        ConversationStore store(work.filePath(QStringLiteral("data")));
        const Sample sample = makeSample(store, work.path());
        const QString path = work.filePath(QStringLiteral("out/red.md"));
        QDir().mkpath(work.filePath(QStringLiteral("out")));
        const QString error = conversation_export::writeMarkdown(store, sample.conversation, path);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        const QString markdown = QString::fromUtf8(readAll(path));
        QVERIFY2(markdown.startsWith(QStringLiteral("# A red square\n")), qPrintable(markdown));
        QVERIFY(markdown.contains(QStringLiteral("## You\n\nWhat colour is this?")));
        QVERIFY(markdown.contains(QStringLiteral("It is **red**.")));
        QVERIFY(markdown.contains(
            QStringLiteral("<details><summary>Reasoning</summary>\n\nAll pixels are red.")));
        QVERIFY(markdown.contains(QStringLiteral("20.0 tokens/s")));
        // Only the branch on screen.
        QVERIFY(!markdown.contains(QStringLiteral("Crimson")));
        QVERIFY(!markdown.contains(QStringLiteral("edited question")));
        // The picture next to it, linked relatively.
        QVERIFY2(markdown.contains(QStringLiteral("![red square.png](red_files/red%20square.png)")),
                 qPrintable(markdown));
        QCOMPARE(readAll(work.filePath(QStringLiteral("out/red_files/red square.png"))),
                 readAll(sample.imagePath));
    }

    void brokenOrForeignFilesAreRefused() {
        QTemporaryDir work;
        ConversationStore store(work.filePath(QStringLiteral("data")));
        const Sample sample = makeSample(store, work.path());
        QString error;
        const QJsonObject good = conversation_export::toJson(store, sample.conversation, &error);
        const int before = static_cast<int>(store.conversations().size());

        writeFile(work.filePath(QStringLiteral("text.json")), "this is not JSON");
        QCOMPARE(conversation_export::importJson(store, work.filePath(QStringLiteral("text.json")), &error),
                 0);
        QVERIFY2(error.contains(QStringLiteral("not a JSON conversation")), qPrintable(error));

        QCOMPARE(
            conversation_export::importJson(store, work.filePath(QStringLiteral("missing.json")), &error), 0);
        QVERIFY2(error.contains(QStringLiteral("missing.json")), qPrintable(error));

        QCOMPARE(conversation_export::fromJson(store, {{QStringLiteral("messages"), QJsonArray()}}, &error),
                 0);
        QVERIFY2(error.contains(QStringLiteral("not a conversation exported by Ocelle")), qPrintable(error));

        QJsonObject orphan = good;
        QJsonArray messages = orphan.value(QStringLiteral("messages")).toArray();
        QJsonObject first = messages[0].toObject();
        first.insert(QStringLiteral("parent"), 7); // a parent that comes later or not at all
        messages[0] = first;
        orphan.insert(QStringLiteral("messages"), messages);
        QCOMPARE(conversation_export::fromJson(store, orphan, &error), 0);
        QVERIFY2(error.contains(QStringLiteral("parent")), qPrintable(error));

        QJsonObject tampered = good;
        messages = tampered.value(QStringLiteral("messages")).toArray();
        first = messages[0].toObject();
        QJsonArray files = first.value(QStringLiteral("attachments")).toArray();
        QJsonObject file = files[0].toObject();
        file.insert(QStringLiteral("data"), QString::fromLatin1(QByteArray("other bytes").toBase64()));
        files[0] = file;
        first.insert(QStringLiteral("attachments"), files);
        messages[0] = first;
        tampered.insert(QStringLiteral("messages"), messages);
        QCOMPARE(conversation_export::fromJson(store, tampered, &error), 0);
        QVERIFY2(error.contains(QStringLiteral("damaged")), qPrintable(error));

        QCOMPARE(static_cast<int>(store.conversations().size()), before); // nothing half-imported

        QVERIFY(!conversation_export::writeMarkdown(store, 4242, work.filePath(QStringLiteral("x.md")))
                     .isEmpty());
        QVERIFY(!conversation_export::writeJson(store, sample.conversation,
                                                work.filePath(QStringLiteral("no/such/dir/x.json")))
                     .isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestConversationExport)
#include "test_conversation_export.moc"
