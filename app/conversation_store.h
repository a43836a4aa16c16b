// Where conversations live between sessions: one SQLite file (Qt SQL, WAL journal) in the app-data
// folder, with attachments as files next to it, named by their content hash.
//
// Threads: the database belongs to a store thread. Writes are queued to it and return at once
// (ids are handed out here, so callers never wait for an insert). Reads are queued behind every
// earlier write and wait for their answer, so they always see what was written before them.
//
// Messages form a tree: each message has a parent (0 for the first question), editing a question
// or regenerating an answer adds a sibling, and each conversation remembers its current leaf.
// An answer being generated is saved as it streams, at most once per second; an answer that was
// still streaming when the process died is marked interrupted at the next open.
#pragma once

#include <QDateTime>
#include <QElapsedTimer>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QString>
#include <QTimer>
#include <optional>

class QThread;
class StoreWorker;

// A file kept in the store's attachments folder, found by the SHA-256 of its content.
struct AttachmentRef {
    QString hash;     // hex SHA-256 of the content
    QString fileName; // the name it had when attached (shown, and used by exports)
    QString mimeType;
    qint64 size = 0;
    // How it was sent, so that a regenerate or an edit after a restart sends the same: a video's
    // {"frames": n}; a PDF's {"pages": [0-based], "budget": b}; an image's {"budget": b}.
    QJsonObject options;
    friend bool operator==(const AttachmentRef&, const AttachmentRef&) = default;
};

struct StoredMessage {
    enum class Role { User, Model };
    // Complete: finished normally (or a question). Streaming: being generated now. Interrupted:
    // was streaming when the app ended. Stopped/Failed: ended early, the note says why.
    enum class State { Complete, Streaming, Interrupted, Stopped, Failed };
    // "complete", "streaming", ...: as kept in the database and in JSON exports.
    static QString stateName(State state);
    static State stateFromName(const QString& name); // Complete for an unknown name

    qint64 id = 0;
    qint64 conversationId = 0;
    qint64 parentId = 0; // 0: the conversation's first message
    Role role = Role::User;
    State state = State::Complete;
    QString text;
    QString reasoning;
    double reasoningSeconds = -1;
    QString note;
    QDateTime created;
    bool hasStats = false;
    double tokensPerSecond = 0;
    int tokens = 0;
    double timeToFirstTokenSeconds = -1;
    QList<AttachmentRef> attachments;
};

struct StoredConversation {
    qint64 id = 0;
    QString title;
    QDateTime created;
    QDateTime updated; // last message or change; orders the sidebar
    bool pinned = false;
    qint64 currentLeaf = 0; // the last message of the branch on screen; 0 when empty
    QJsonObject settings;   // per-conversation generation settings (system prompt, sampling, ...)
};

class ConversationStore : public QObject {
    Q_OBJECT

public:
    // Opens (or creates) `directory`/conversations.db. A file that is not a readable database is
    // renamed aside (recoveryNotice() says where) and a new one is started.
    explicit ConversationStore(const QString& directory, QObject* parent = nullptr);
    ~ConversationStore() override; // waits for every queued write

    // $OCELLE_DATA_DIR when set (tests, demos), otherwise QStandardPaths::AppDataLocation.
    static QString defaultDirectory();
    static int latestSchemaVersion();

    QString directory() const { return directory_; }
    QString databasePath() const;
    QString attachmentsDirectory() const;
    // False when no database could be opened at all; openError() says why. Writes are dropped then.
    bool isOpen() const { return open_; }
    QString openError() const { return openError_; }
    // Non-empty after a damaged database was moved aside at open: for the user.
    QString recoveryNotice() const { return recoveryNotice_; }
    int schemaVersion() const { return schemaVersion_; }

    // --- reads (wait for the store thread) ---
    // Not deleted, pinned first, then the most recently updated first.
    QList<StoredConversation> conversations() const;
    std::optional<StoredConversation> conversation(qint64 id) const;
    QList<StoredMessage> messages(qint64 conversationId) const; // every branch, oldest first
    // Conversations whose title or any message's text contains `text` (case-insensitive).
    QList<qint64> search(const QString& text) const;
    // Waits until every write queued so far is in the database.
    void sync() const;

    // --- writes (queued; return at once) ---
    qint64 createConversation(const QString& title, const QDateTime& created = QDateTime::currentDateTime());
    void renameConversation(qint64 id, const QString& title);
    void setPinned(qint64 id, bool pinned);
    void setCurrentLeaf(qint64 conversationId, qint64 messageId);
    void setConversationSettings(qint64 id, const QJsonObject& settings);
    // Deleting hides a conversation and can be undone (deleted=false) until the store is next
    // opened, which removes it for good with its messages.
    void setDeleted(qint64 id, bool deleted);
    // Adds a message (its id is assigned here and returned) and makes it the current leaf.
    qint64 addMessage(StoredMessage message);
    // The streaming answer so far; written at most once per second (the rest waits on a timer).
    void saveStreaming(qint64 messageId, const QString& text, const QString& reasoning);
    // The answer's final state, text and stats; replaces any checkpoint still waiting.
    void finishMessage(const StoredMessage& message);

    // --- attachments ---
    // Copies `sourcePath` into the attachments folder under its content hash (a file with the same
    // content is stored once). Safe to call from any thread (it touches no database); returns
    // nullopt with `error` set when the file cannot be read or written.
    std::optional<AttachmentRef> storeAttachment(const QString& sourcePath, const QString& mimeType,
                                                 QString* error = nullptr) const;
    std::optional<AttachmentRef> storeAttachmentData(const QByteArray& data, const QString& fileName,
                                                     const QString& mimeType, QString* error = nullptr) const;
    QString attachmentPath(const QString& hash) const;

    // How many checkpoint writes of streaming answers reached the store thread (tests).
    int streamingWrites() const { return streamingWrites_; }

signals:
    // A write failed on the store thread (disk full, read-only folder): for the user.
    void writeFailed(const QString& message);

private:
    template <typename Function> void queue(Function&& function);
    void flushCheckpoint();

    QString directory_;
    QThread* thread_ = nullptr;
    StoreWorker* worker_ = nullptr;
    bool open_ = false;
    QString openError_;
    QString recoveryNotice_;
    int schemaVersion_ = 0;
    qint64 nextConversationId_ = 1;
    qint64 nextMessageId_ = 1;

    struct Checkpoint {
        qint64 messageId = 0;
        QString text;
        QString reasoning;
    };
    std::optional<Checkpoint> pendingCheckpoint_;
    QElapsedTimer sinceCheckpoint_;
    QTimer checkpointTimer_;
    int streamingWrites_ = 0;
};
