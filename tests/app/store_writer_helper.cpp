// A process that writes a conversation the way the app does while an answer streams, so
// test_conversation_store can kill it (SIGKILL) mid-answer and check what the database kept.
// Usage: store_writer_helper DIRECTORY. Prints "saved <answer so far>" each time a streaming
// checkpoint is in the database, and streams until it is killed.
#include "conversation_store.h"

#include <QCoreApplication>
#include <QTimer>
#include <cstdio>

int main(int argc, char** argv) {
    QCoreApplication app(argc, argv);
    if (app.arguments().size() != 2) {
        std::fprintf(stderr, "usage: store_writer_helper DIRECTORY\n");
        return 2;
    }
    ConversationStore store(app.arguments().at(1));
    if (!store.isOpen()) {
        std::fprintf(stderr, "%s\n", qPrintable(store.openError()));
        return 1;
    }
    const qint64 conversation = store.createConversation(QStringLiteral("Killed mid-answer"));
    StoredMessage question;
    question.conversationId = conversation;
    question.text = QStringLiteral("A question that must survive");
    const qint64 questionId = store.addMessage(question);
    StoredMessage answer;
    answer.conversationId = conversation;
    answer.parentId = questionId;
    answer.role = StoredMessage::Role::Model;
    answer.state = StoredMessage::State::Streaming;
    const qint64 answerId = store.addMessage(answer);
    std::printf("started\n");
    std::fflush(stdout);

    QString text;
    int word = 0;
    int writesSeen = 0;
    QTimer tick;
    QObject::connect(&tick, &QTimer::timeout, [&] {
        text += QStringLiteral("word%1 ").arg(++word);
        store.saveStreaming(answerId, text, QString());
        if (store.streamingWrites() == writesSeen) return;
        writesSeen = store.streamingWrites();
        // Read back through the store: this is what the database holds now.
        for (const StoredMessage& m : store.messages(conversation)) {
            if (m.id == answerId) std::printf("saved %s\n", qPrintable(m.text));
        }
        std::fflush(stdout);
    });
    tick.start(20);
    return app.exec();
}
