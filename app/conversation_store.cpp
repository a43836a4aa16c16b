#include "conversation_store.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QSaveFile>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QStandardPaths>
#include <QThread>
#include <QUuid>
#include <QVariant>
#include <atomic>

namespace {

constexpr int kCheckpointMilliseconds = 1000;
const QString kDatabaseName = QStringLiteral("conversations.db");

// Each entry takes the schema from the version before it to its own number (index + 1); a
// database is brought forward one step at a time, each step in its own transaction.
const QList<QStringList>& migrations() {
    static const QList<QStringList> steps = {
        // 1: conversations and the message tree.
        {QStringLiteral("CREATE TABLE conversations ("
                        " id INTEGER PRIMARY KEY,"
                        " title TEXT NOT NULL,"
                        " created_at INTEGER NOT NULL,"
                        " updated_at INTEGER NOT NULL,"
                        " pinned INTEGER NOT NULL DEFAULT 0,"
                        " current_leaf INTEGER,"
                        " settings TEXT NOT NULL DEFAULT '{}',"
                        " deleted INTEGER NOT NULL DEFAULT 0)"),
         QStringLiteral("CREATE TABLE messages ("
                        " id INTEGER PRIMARY KEY,"
                        " conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
                        " parent_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,"
                        " role TEXT NOT NULL CHECK (role IN ('user', 'model')),"
                        " state TEXT NOT NULL,"
                        " text TEXT NOT NULL DEFAULT '',"
                        " reasoning TEXT NOT NULL DEFAULT '',"
                        " reasoning_seconds REAL,"
                        " note TEXT NOT NULL DEFAULT '',"
                        " created_at INTEGER NOT NULL,"
                        " tokens_per_second REAL,"
                        " tokens INTEGER,"
                        " time_to_first_token REAL)"),
         QStringLiteral("CREATE INDEX messages_by_conversation ON messages(conversation_id, id)")},
        // 2: attachments, kept as files named by content hash.
        {QStringLiteral("CREATE TABLE attachments ("
                        " hash TEXT PRIMARY KEY,"
                        " size INTEGER NOT NULL,"
                        " mime_type TEXT NOT NULL)"),
         QStringLiteral("CREATE TABLE message_attachments ("
                        " message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
                        " position INTEGER NOT NULL,"
                        " hash TEXT NOT NULL REFERENCES attachments(hash),"
                        " file_name TEXT NOT NULL,"
                        " PRIMARY KEY (message_id, position))")},
        // 3: how each attachment was sent (video frames, PDF pages, budget), as JSON.
        {QStringLiteral("ALTER TABLE message_attachments ADD COLUMN options TEXT NOT NULL DEFAULT '{}'")},
    };
    return steps;
}

} // namespace

QString StoredMessage::stateName(State state) {
    switch (state) {
    case StoredMessage::State::Complete:
        return QStringLiteral("complete");
    case StoredMessage::State::Streaming:
        return QStringLiteral("streaming");
    case StoredMessage::State::Interrupted:
        return QStringLiteral("interrupted");
    case StoredMessage::State::Stopped:
        return QStringLiteral("stopped");
    case StoredMessage::State::Failed:
        return QStringLiteral("failed");
    }
    return QStringLiteral("complete");
}

StoredMessage::State StoredMessage::stateFromName(const QString& name) {
    for (auto state : {StoredMessage::State::Streaming, StoredMessage::State::Interrupted,
                       StoredMessage::State::Stopped, StoredMessage::State::Failed}) {
        if (name == stateName(state)) return state;
    }
    return StoredMessage::State::Complete;
}

namespace {

qint64 msecs(const QDateTime& time) {
    return (time.isValid() ? time : QDateTime::currentDateTime()).toMSecsSinceEpoch();
}

// Qt binds a null QString as SQL NULL; the text columns are NOT NULL and hold "" instead.
QString text(const QString& value) {
    return value.isNull() ? QStringLiteral("") : value;
}

// SQLite's own words ("file is not a database"), without Qt's "Unable to execute statement".
QString problemText(const QSqlError& error) {
    return error.databaseText().isEmpty() ? error.text() : error.databaseText();
}

QVariant nullable(double value, bool present) {
    return present ? QVariant(value) : QVariant(QMetaType(QMetaType::Double));
}

} // namespace

// Owns the database connection; lives on the store thread and is only touched there.
class StoreWorker : public QObject {
public:
    explicit StoreWorker(ConversationStore* store) : store_(store) {}

    struct OpenResult {
        bool open = false;
        QString error;
        QString recoveryNotice;
        int schemaVersion = 0;
        qint64 maxConversationId = 0;
        qint64 maxMessageId = 0;
    };

    OpenResult open(const QString& directory) {
        OpenResult result;
        if (!QDir().mkpath(directory)) {
            result.error = ConversationStore::tr("The folder %1 cannot be created.").arg(directory);
            return result;
        }
        path_ = QDir(directory).filePath(kDatabaseName);
        QString problem;
        if (!openConnection(&problem)) {
            // The file exists but is not a usable database: keep it for the user, start afresh.
            closeConnection();
            const QString aside = QDir(directory).filePath(
                QStringLiteral("conversations.damaged-%1.db")
                    .arg(QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss"))));
            if (!QFile::rename(path_, aside)) {
                result.error = ConversationStore::tr("The conversation database %1 is damaged (%2) and "
                                                     "could not be moved aside.")
                                   .arg(path_, problem);
                return result;
            }
            for (const char* suffix : {"-wal", "-shm"}) {
                const QString extra = path_ + QLatin1String(suffix);
                if (QFile::exists(extra)) QFile::rename(extra, aside + QLatin1String(suffix));
            }
            result.recoveryNotice = ConversationStore::tr("The conversation database was damaged (%1). It "
                                                          "was kept as %2 and a new one was started.")
                                        .arg(problem, aside);
            QString again;
            if (!openConnection(&again)) {
                result.error = again;
                return result;
            }
        }
        if (!migrate(&result.schemaVersion, &result.error)) return result;
        // An answer still marked as streaming was cut off when the app ended.
        exec(QStringLiteral("UPDATE messages SET state = 'interrupted' WHERE state = 'streaming'"));
        // Deletions could be undone until now.
        exec(QStringLiteral("DELETE FROM conversations WHERE deleted = 1"));
        removeUnusedAttachments(directory);
        result.maxConversationId = scalar(QStringLiteral("SELECT COALESCE(MAX(id), 0) FROM conversations"));
        result.maxMessageId = scalar(QStringLiteral("SELECT COALESCE(MAX(id), 0) FROM messages"));
        result.open = true;
        return result;
    }

    void close() {
        closeConnection();
        QThread::currentThread()->quit();
    }

    // Runs a write; reports a failure to the user through the store.
    bool exec(const QString& sql, const QVariantList& values = {}) {
        QSqlQuery query(db());
        query.prepare(sql);
        for (const QVariant& value : values) query.addBindValue(value);
        if (query.exec()) return true;
        const QString message =
            ConversationStore::tr("Saving the conversation failed: %1").arg(query.lastError().text());
        qWarning("ConversationStore: %s (%s)", qPrintable(message), qPrintable(sql));
        QMetaObject::invokeMethod(
            store_, [store = store_, message] { emit store->writeFailed(message); }, Qt::QueuedConnection);
        return false;
    }

    QSqlDatabase db() const { return QSqlDatabase::database(connectionName_, false); }

    qint64 scalar(const QString& sql, const QVariantList& values = {}) {
        QSqlQuery query(db());
        query.prepare(sql);
        for (const QVariant& value : values) query.addBindValue(value);
        if (!query.exec() || !query.next()) return 0;
        return query.value(0).toLongLong();
    }

private:
    bool openConnection(QString* problem) {
        connectionName_ =
            QStringLiteral("ocelle-store-") + QUuid::createUuid().toString(QUuid::WithoutBraces);
        QSqlDatabase database = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), connectionName_);
        database.setDatabaseName(path_);
        if (!database.open()) {
            *problem = problemText(database.lastError());
            return false;
        }
        // The first statements read the header: a file that is not SQLite fails here.
        QSqlQuery query(database);
        if (!query.exec(QStringLiteral("PRAGMA journal_mode = WAL")) || !query.next()) {
            *problem = problemText(query.lastError());
            return false;
        }
        if (!query.exec(QStringLiteral("PRAGMA quick_check")) || !query.next()) {
            *problem = problemText(query.lastError());
            return false;
        }
        const QString check = query.value(0).toString();
        if (check != QLatin1String("ok")) {
            *problem = check;
            return false;
        }
        query.exec(QStringLiteral("PRAGMA foreign_keys = ON"));
        // WAL with NORMAL sync keeps every commit across a process crash (only an OS crash may
        // lose the last commits), at a fraction of FULL's cost for streaming checkpoints.
        query.exec(QStringLiteral("PRAGMA synchronous = NORMAL"));
        return true;
    }

    void closeConnection() {
        if (connectionName_.isEmpty()) return;
        {
            QSqlDatabase database = QSqlDatabase::database(connectionName_, false);
            database.close();
        }
        QSqlDatabase::removeDatabase(connectionName_);
        connectionName_.clear();
    }

    bool migrate(int* version, QString* error) {
        QSqlDatabase database = db();
        *version = static_cast<int>(scalar(QStringLiteral("PRAGMA user_version")));
        const int latest = ConversationStore::latestSchemaVersion();
        if (*version > latest) {
            *error =
                ConversationStore::tr("%1 was written by a newer Ocelle (schema %2; this one knows up to "
                                      "%3). It was left untouched.")
                    .arg(path_)
                    .arg(*version)
                    .arg(latest);
            return false;
        }
        while (*version < latest) {
            database.transaction();
            QSqlQuery query(database);
            for (const QString& sql : migrations().at(*version)) {
                if (!query.exec(sql)) {
                    *error =
                        ConversationStore::tr("Updating the conversation database to schema %1 failed: %2")
                            .arg(*version + 1)
                            .arg(query.lastError().text());
                    database.rollback();
                    return false;
                }
            }
            query.exec(QStringLiteral("PRAGMA user_version = %1").arg(*version + 1));
            if (!database.commit()) {
                *error = database.lastError().text();
                return false;
            }
            ++*version;
        }
        return true;
    }

    void removeUnusedAttachments(const QString& directory) {
        exec(QStringLiteral(
            "DELETE FROM attachments WHERE hash NOT IN (SELECT hash FROM message_attachments)"));
        QDir folder(QDir(directory).filePath(QStringLiteral("attachments")));
        if (!folder.exists()) return;
        QSqlQuery query(db());
        query.exec(QStringLiteral("SELECT hash FROM attachments"));
        QSet<QString> used;
        while (query.next()) used.insert(query.value(0).toString());
        for (const QString& name : folder.entryList(QDir::Files)) {
            if (!used.contains(name)) folder.remove(name);
        }
    }

    ConversationStore* store_;
    QString path_;
    QString connectionName_;
};

ConversationStore::ConversationStore(const QString& directory, QObject* parent)
    : QObject(parent), directory_(directory) {
    thread_ = new QThread(this);
    thread_->setObjectName(QStringLiteral("ConversationStore"));
    worker_ = new StoreWorker(this);
    worker_->moveToThread(thread_);
    thread_->start();

    StoreWorker::OpenResult result;
    QMetaObject::invokeMethod(
        worker_, [&] { result = worker_->open(directory); }, Qt::BlockingQueuedConnection);
    open_ = result.open;
    openError_ = result.error;
    recoveryNotice_ = result.recoveryNotice;
    schemaVersion_ = result.schemaVersion;
    nextConversationId_ = result.maxConversationId + 1;
    nextMessageId_ = result.maxMessageId + 1;
    if (!open_) qWarning("ConversationStore: %s", qPrintable(openError_));

    checkpointTimer_.setSingleShot(true);
    connect(&checkpointTimer_, &QTimer::timeout, this, &ConversationStore::flushCheckpoint);
}

ConversationStore::~ConversationStore() {
    flushCheckpoint();
    // Runs after every write queued before it, then ends the thread's event loop.
    QMetaObject::invokeMethod(
        worker_, [worker = worker_] { worker->close(); }, Qt::QueuedConnection);
    thread_->wait();
    // The thread has ended, so nothing else can touch the worker now.
    delete worker_;
}

QString ConversationStore::defaultDirectory() {
    const QString fromEnvironment = qEnvironmentVariable("OCELLE_DATA_DIR");
    if (!fromEnvironment.isEmpty()) return fromEnvironment;
    return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
}

int ConversationStore::latestSchemaVersion() {
    return static_cast<int>(migrations().size());
}

QString ConversationStore::databasePath() const {
    return QDir(directory_).filePath(kDatabaseName);
}

QString ConversationStore::attachmentsDirectory() const {
    return QDir(directory_).filePath(QStringLiteral("attachments"));
}

template <typename Function> void ConversationStore::queue(Function&& function) {
    if (!open_) return;
    QMetaObject::invokeMethod(
        worker_, [worker = worker_, function = std::forward<Function>(function)] { function(*worker); },
        Qt::QueuedConnection);
}

namespace {
template <typename Result, typename Function>
Result ask(StoreWorker* worker, bool open, Function&& function) {
    Result result{};
    if (!open) return result;
    QMetaObject::invokeMethod(
        worker, [&] { result = function(*worker); }, Qt::BlockingQueuedConnection);
    return result;
}

StoredConversation conversationFrom(const QSqlQuery& query) {
    StoredConversation c;
    c.id = query.value(0).toLongLong();
    c.title = query.value(1).toString();
    c.created = QDateTime::fromMSecsSinceEpoch(query.value(2).toLongLong());
    c.updated = QDateTime::fromMSecsSinceEpoch(query.value(3).toLongLong());
    c.pinned = query.value(4).toBool();
    c.currentLeaf = query.value(5).toLongLong();
    c.settings = QJsonDocument::fromJson(query.value(6).toByteArray()).object();
    return c;
}

const QString kConversationColumns = QStringLiteral(
    "SELECT id, title, created_at, updated_at, pinned, current_leaf, settings FROM conversations ");
} // namespace

QList<StoredConversation> ConversationStore::conversations() const {
    return ask<QList<StoredConversation>>(worker_, open_, [](StoreWorker& w) {
        QList<StoredConversation> list;
        QSqlQuery query(w.db());
        query.exec(kConversationColumns +
                   QStringLiteral("WHERE deleted = 0 ORDER BY pinned DESC, updated_at DESC, id DESC"));
        while (query.next()) list.append(conversationFrom(query));
        return list;
    });
}

std::optional<StoredConversation> ConversationStore::conversation(qint64 id) const {
    return ask<std::optional<StoredConversation>>(
        worker_, open_, [id](StoreWorker& w) -> std::optional<StoredConversation> {
            QSqlQuery query(w.db());
            query.prepare(kConversationColumns + QStringLiteral("WHERE id = ? AND deleted = 0"));
            query.addBindValue(id);
            if (!query.exec() || !query.next()) return std::nullopt;
            return conversationFrom(query);
        });
}

QList<StoredMessage> ConversationStore::messages(qint64 conversationId) const {
    return ask<QList<StoredMessage>>(worker_, open_, [conversationId](StoreWorker& w) {
        QList<StoredMessage> list;
        QSqlQuery query(w.db());
        query.prepare(QStringLiteral(
            "SELECT id, parent_id, role, state, text, reasoning, reasoning_seconds, note, created_at,"
            " tokens_per_second, tokens, time_to_first_token FROM messages WHERE conversation_id = ? ORDER "
            "BY id"));
        query.addBindValue(conversationId);
        query.exec();
        QHash<qint64, qsizetype> rowOfId;
        while (query.next()) {
            StoredMessage m;
            m.id = query.value(0).toLongLong();
            m.conversationId = conversationId;
            m.parentId = query.value(1).toLongLong();
            m.role = query.value(2).toString() == QLatin1String("user") ? StoredMessage::Role::User
                                                                        : StoredMessage::Role::Model;
            m.state = StoredMessage::stateFromName(query.value(3).toString());
            m.text = query.value(4).toString();
            m.reasoning = query.value(5).toString();
            m.reasoningSeconds = query.value(6).isNull() ? -1 : query.value(6).toDouble();
            m.note = query.value(7).toString();
            m.created = QDateTime::fromMSecsSinceEpoch(query.value(8).toLongLong());
            m.hasStats = !query.value(10).isNull();
            m.tokensPerSecond = query.value(9).toDouble();
            m.tokens = query.value(10).toInt();
            m.timeToFirstTokenSeconds = query.value(11).isNull() ? -1 : query.value(11).toDouble();
            rowOfId.insert(m.id, list.size());
            list.append(m);
        }
        QSqlQuery files(w.db());
        files.prepare(
            QStringLiteral("SELECT ma.message_id, ma.hash, ma.file_name, a.mime_type, a.size, ma.options "
                           "FROM message_attachments ma"
                           " JOIN attachments a ON a.hash = ma.hash JOIN messages m ON m.id = ma.message_id"
                           " WHERE m.conversation_id = ? ORDER BY ma.message_id, ma.position"));
        files.addBindValue(conversationId);
        files.exec();
        while (files.next()) {
            const auto row = rowOfId.value(files.value(0).toLongLong(), -1);
            if (row < 0) continue;
            list[row].attachments.append({files.value(1).toString(), files.value(2).toString(),
                                          files.value(3).toString(), files.value(4).toLongLong(),
                                          QJsonDocument::fromJson(files.value(5).toByteArray()).object()});
        }
        return list;
    });
}

QList<qint64> ConversationStore::search(const QString& text) const {
    const QString needle = text.trimmed();
    if (needle.isEmpty()) return {};
    // SQLite's LIKE folds only ASCII letters ("Über" would miss "über"), so the text is compared
    // here with Unicode case folding, conversation by conversation, in the sidebar's order.
    const QString folded = needle.toCaseFolded();
    return ask<QList<qint64>>(worker_, open_, [folded](StoreWorker& w) {
        QSqlQuery query(w.db());
        query.setForwardOnly(true);
        query.exec(QStringLiteral("SELECT c.id, c.title, m.text FROM conversations c"
                                  " LEFT JOIN messages m ON m.conversation_id = c.id WHERE c.deleted = 0"
                                  " ORDER BY c.pinned DESC, c.updated_at DESC, c.id DESC"));
        QList<qint64> ids;
        qint64 checkedTitleOf = 0;
        while (query.next()) {
            const qint64 id = query.value(0).toLongLong();
            if (!ids.isEmpty() && ids.constLast() == id) continue; // already found
            if (id != checkedTitleOf) {
                checkedTitleOf = id;
                if (query.value(1).toString().toCaseFolded().contains(folded)) {
                    ids.append(id);
                    continue;
                }
            }
            if (query.value(2).toString().toCaseFolded().contains(folded)) ids.append(id);
        }
        return ids;
    });
}

void ConversationStore::sync() const {
    ask<bool>(worker_, open_, [](StoreWorker&) { return true; });
}

qint64 ConversationStore::createConversation(const QString& title, const QDateTime& created) {
    const qint64 id = nextConversationId_++;
    const qint64 at = msecs(created);
    queue([id, title, at](StoreWorker& w) {
        w.exec(QStringLiteral(
                   "INSERT INTO conversations (id, title, created_at, updated_at) VALUES (?, ?, ?, ?)"),
               {id, text(title), at, at});
    });
    return id;
}

void ConversationStore::renameConversation(qint64 id, const QString& title) {
    queue([id, title](StoreWorker& w) {
        w.exec(QStringLiteral("UPDATE conversations SET title = ? WHERE id = ?"), {text(title), id});
    });
}

void ConversationStore::setPinned(qint64 id, bool pinned) {
    queue([id, pinned](StoreWorker& w) {
        w.exec(QStringLiteral("UPDATE conversations SET pinned = ? WHERE id = ?"), {pinned ? 1 : 0, id});
    });
}

void ConversationStore::setCurrentLeaf(qint64 conversationId, qint64 messageId) {
    queue([conversationId, messageId](StoreWorker& w) {
        w.exec(
            QStringLiteral("UPDATE conversations SET current_leaf = ? WHERE id = ?"),
            {messageId > 0 ? QVariant(messageId) : QVariant(QMetaType(QMetaType::LongLong)), conversationId});
    });
}

void ConversationStore::setConversationSettings(qint64 id, const QJsonObject& settings) {
    const QString json = QString::fromUtf8(QJsonDocument(settings).toJson(QJsonDocument::Compact));
    queue([id, json](StoreWorker& w) {
        w.exec(QStringLiteral("UPDATE conversations SET settings = ? WHERE id = ?"), {json, id});
    });
}

void ConversationStore::setDeleted(qint64 id, bool deleted) {
    queue([id, deleted](StoreWorker& w) {
        w.exec(QStringLiteral("UPDATE conversations SET deleted = ? WHERE id = ?"), {deleted ? 1 : 0, id});
    });
}

qint64 ConversationStore::addMessage(StoredMessage message) {
    message.id = nextMessageId_++;
    if (!message.created.isValid()) message.created = QDateTime::currentDateTime();
    queue([message](StoreWorker& w) {
        QSqlDatabase database = w.db();
        database.transaction();
        const qint64 at = message.created.toMSecsSinceEpoch();
        w.exec(QStringLiteral(
                   "INSERT INTO messages (id, conversation_id, parent_id, role, state, text, reasoning,"
                   " reasoning_seconds, note, created_at, tokens_per_second, tokens, time_to_first_token)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
               {message.id, message.conversationId,
                message.parentId > 0 ? QVariant(message.parentId) : QVariant(QMetaType(QMetaType::LongLong)),
                message.role == StoredMessage::Role::User ? QStringLiteral("user") : QStringLiteral("model"),
                StoredMessage::stateName(message.state), text(message.text), text(message.reasoning),
                nullable(message.reasoningSeconds, message.reasoningSeconds >= 0), text(message.note), at,
                nullable(message.tokensPerSecond, message.hasStats),
                message.hasStats ? QVariant(message.tokens) : QVariant(QMetaType(QMetaType::Int)),
                nullable(message.timeToFirstTokenSeconds,
                         message.hasStats && message.timeToFirstTokenSeconds >= 0)});
        int position = 0;
        for (const AttachmentRef& file : message.attachments) {
            w.exec(
                QStringLiteral("INSERT OR IGNORE INTO attachments (hash, size, mime_type) VALUES (?, ?, ?)"),
                {file.hash, file.size, text(file.mimeType)});
            w.exec(QStringLiteral(
                       "INSERT INTO message_attachments (message_id, position, hash, file_name, options)"
                       " VALUES (?, ?, ?, ?, ?)"),
                   {message.id, position++, file.hash, text(file.fileName),
                    QString::fromUtf8(QJsonDocument(file.options).toJson(QJsonDocument::Compact))});
        }
        w.exec(QStringLiteral("UPDATE conversations SET current_leaf = ?, updated_at = ? WHERE id = ?"),
               {message.id, at, message.conversationId});
        database.commit();
    });
    return message.id;
}

void ConversationStore::saveStreaming(qint64 messageId, const QString& text, const QString& reasoning) {
    pendingCheckpoint_ = Checkpoint{messageId, text, reasoning};
    if (!sinceCheckpoint_.isValid() || sinceCheckpoint_.elapsed() >= kCheckpointMilliseconds) {
        flushCheckpoint();
    } else if (!checkpointTimer_.isActive()) {
        checkpointTimer_.start(static_cast<int>(kCheckpointMilliseconds - sinceCheckpoint_.elapsed()));
    }
}

void ConversationStore::flushCheckpoint() {
    checkpointTimer_.stop();
    if (!pendingCheckpoint_) return;
    const Checkpoint checkpoint = *pendingCheckpoint_;
    pendingCheckpoint_.reset();
    sinceCheckpoint_.start();
    ++streamingWrites_;
    queue([checkpoint](StoreWorker& w) {
        w.exec(QStringLiteral("UPDATE messages SET text = ?, reasoning = ? WHERE id = ?"),
               {text(checkpoint.text), text(checkpoint.reasoning), checkpoint.messageId});
    });
}

void ConversationStore::finishMessage(const StoredMessage& message) {
    if (pendingCheckpoint_ && pendingCheckpoint_->messageId == message.id) {
        pendingCheckpoint_.reset();
        checkpointTimer_.stop();
    }
    queue([message](StoreWorker& w) {
        w.exec(QStringLiteral(
                   "UPDATE messages SET state = ?, text = ?, reasoning = ?, reasoning_seconds = ?,"
                   " note = ?, tokens_per_second = ?, tokens = ?, time_to_first_token = ? WHERE id = ?"),
               {StoredMessage::stateName(message.state), text(message.text), text(message.reasoning),
                nullable(message.reasoningSeconds, message.reasoningSeconds >= 0), text(message.note),
                nullable(message.tokensPerSecond, message.hasStats),
                message.hasStats ? QVariant(message.tokens) : QVariant(QMetaType(QMetaType::Int)),
                nullable(message.timeToFirstTokenSeconds,
                         message.hasStats && message.timeToFirstTokenSeconds >= 0),
                message.id});
    });
}

QString ConversationStore::attachmentPath(const QString& hash) const {
    return QDir(attachmentsDirectory()).filePath(hash);
}

std::optional<AttachmentRef>
ConversationStore::storeAttachment(const QString& sourcePath, const QString& mimeType, QString* error) const {
    QFile source(sourcePath);
    if (!source.open(QIODevice::ReadOnly)) {
        if (error) *error = tr("%1 cannot be read: %2").arg(sourcePath, source.errorString());
        return std::nullopt;
    }
    return storeAttachmentData(source.readAll(), QFileInfo(sourcePath).fileName(), mimeType, error);
}

std::optional<AttachmentRef> ConversationStore::storeAttachmentData(const QByteArray& data,
                                                                    const QString& fileName,
                                                                    const QString& mimeType,
                                                                    QString* error) const {
    const QString hash =
        QString::fromLatin1(QCryptographicHash::hash(data, QCryptographicHash::Sha256).toHex());
    const QString target = attachmentPath(hash);
    if (!QFileInfo::exists(target) || QFileInfo(target).size() != data.size()) {
        QDir().mkpath(attachmentsDirectory());
        QSaveFile file(target); // written whole or not at all
        if (!file.open(QIODevice::WriteOnly) || file.write(data) != data.size() || !file.commit()) {
            if (error)
                *error = tr("The attachment could not be saved in %1: %2").arg(target, file.errorString());
            return std::nullopt;
        }
    }
    return AttachmentRef{hash, fileName, mimeType, data.size(), {}};
}
