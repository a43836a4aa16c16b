#include "conversation_export.h"

#include "message_list_model.h"
#include "message_tree.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSaveFile>

namespace conversation_export {
namespace {

const QString kFormat = QStringLiteral("ocelle-conversation");
constexpr int kFormatVersion = 1;

QString timeText(const QDateTime& time) {
    return time.toUTC().toString(Qt::ISODateWithMs);
}

QString saveFile(const QString& path, const QByteArray& bytes) {
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size() || !file.commit()) {
        return ConversationStore::tr("%1 could not be written: %2").arg(path, file.errorString());
    }
    return {};
}

} // namespace

QJsonObject toJson(const ConversationStore& store, qint64 conversationId, QString* error) {
    const auto conversation = store.conversation(conversationId);
    if (!conversation) {
        if (error) *error = ConversationStore::tr("There is no such conversation.");
        return {};
    }
    const QList<StoredMessage> messages = store.messages(conversationId);
    QHash<qint64, int> localId;
    QJsonArray list;
    for (const StoredMessage& m : messages) {
        const int id = static_cast<int>(localId.size()) + 1;
        localId.insert(m.id, id);
        QJsonObject message{
            {QStringLiteral("id"), id},
            {QStringLiteral("parent"), localId.value(m.parentId, 0)},
            {QStringLiteral("role"),
             m.role == StoredMessage::Role::User ? QStringLiteral("user") : QStringLiteral("model")},
            {QStringLiteral("state"),
             // an answer still streaming is exported as cut off there
             StoredMessage::stateName(
                 m.state == StoredMessage::State::Streaming ? StoredMessage::State::Interrupted : m.state)},
            {QStringLiteral("text"), m.text},
            {QStringLiteral("created"), timeText(m.created)}};
        if (!m.reasoning.isEmpty()) message.insert(QStringLiteral("reasoning"), m.reasoning);
        if (m.reasoningSeconds >= 0) message.insert(QStringLiteral("reasoningSeconds"), m.reasoningSeconds);
        if (!m.note.isEmpty()) message.insert(QStringLiteral("note"), m.note);
        if (m.hasStats) {
            message.insert(
                QStringLiteral("stats"),
                QJsonObject{{QStringLiteral("tokensPerSecond"), m.tokensPerSecond},
                            {QStringLiteral("tokens"), m.tokens},
                            {QStringLiteral("timeToFirstTokenSeconds"), m.timeToFirstTokenSeconds}});
        }
        QJsonArray files;
        for (const AttachmentRef& file : m.attachments) {
            QFile content(store.attachmentPath(file.hash));
            if (!content.open(QIODevice::ReadOnly)) {
                if (error)
                    *error = ConversationStore::tr("The attachment %1 is missing from %2.")
                                 .arg(file.fileName, content.fileName());
                return {};
            }
            QJsonObject entry{{QStringLiteral("fileName"), file.fileName},
                              {QStringLiteral("mimeType"), file.mimeType},
                              {QStringLiteral("sha256"), file.hash},
                              {QStringLiteral("data"), QString::fromLatin1(content.readAll().toBase64())}};
            if (!file.options.isEmpty()) entry.insert(QStringLiteral("options"), file.options);
            files.append(entry);
        }
        if (!files.isEmpty()) message.insert(QStringLiteral("attachments"), files);
        list.append(message);
    }
    return {{QStringLiteral("format"), kFormat},
            {QStringLiteral("version"), kFormatVersion},
            {QStringLiteral("title"), conversation->title},
            {QStringLiteral("created"), timeText(conversation->created)},
            {QStringLiteral("pinned"), conversation->pinned},
            {QStringLiteral("settings"), conversation->settings},
            {QStringLiteral("currentLeaf"), localId.value(conversation->currentLeaf, 0)},
            {QStringLiteral("messages"), list}};
}

qint64 fromJson(ConversationStore& store, const QJsonObject& document, QString* error) {
    auto fail = [error](const QString& why) -> qint64 {
        if (error) *error = why;
        return 0;
    };
    if (document.value(QStringLiteral("format")).toString() != kFormat)
        return fail(ConversationStore::tr("This is not a conversation exported by Ocelle."));
    if (document.value(QStringLiteral("version")).toInt() > kFormatVersion)
        return fail(ConversationStore::tr("This conversation was exported by a newer Ocelle."));
    const QJsonArray messages = document.value(QStringLiteral("messages")).toArray();

    // Check everything before storing anything, so a bad file leaves no half conversation behind.
    QSet<int> seen;
    QList<QList<AttachmentRef>> files;
    for (const QJsonValue& value : messages) {
        const QJsonObject m = value.toObject();
        const int id = m.value(QStringLiteral("id")).toInt();
        const int parent = m.value(QStringLiteral("parent")).toInt();
        const QString role = m.value(QStringLiteral("role")).toString();
        if (id <= 0 || seen.contains(id) || (parent != 0 && !seen.contains(parent)))
            return fail(ConversationStore::tr("Message %1 has a missing or out-of-order parent.").arg(id));
        if (role != QLatin1String("user") && role != QLatin1String("model"))
            return fail(
                ConversationStore::tr("Message %1 has an unknown role \u201c%2\u201d.").arg(id).arg(role));
        seen.insert(id);
        QList<AttachmentRef> stored;
        for (const QJsonValue& fileValue : m.value(QStringLiteral("attachments")).toArray()) {
            const QJsonObject file = fileValue.toObject();
            const QByteArray data =
                QByteArray::fromBase64(file.value(QStringLiteral("data")).toString().toLatin1());
            QString why;
            const auto ref =
                store.storeAttachmentData(data, file.value(QStringLiteral("fileName")).toString(),
                                          file.value(QStringLiteral("mimeType")).toString(), &why);
            if (!ref) return fail(why);
            if (ref->hash != file.value(QStringLiteral("sha256")).toString())
                return fail(
                    ConversationStore::tr("The attachment %1 is damaged (its checksum does not match).")
                        .arg(ref->fileName));
            AttachmentRef kept = *ref;
            kept.options = file.value(QStringLiteral("options")).toObject();
            stored.append(kept);
        }
        files.append(stored);
    }

    const qint64 conversationId = store.createConversation(
        document.value(QStringLiteral("title")).toString(ConversationStore::tr("Imported chat")),
        QDateTime::fromString(document.value(QStringLiteral("created")).toString(), Qt::ISODateWithMs));
    QHash<int, qint64> storeId;
    for (qsizetype i = 0; i < messages.size(); ++i) {
        const QJsonObject m = messages[i].toObject();
        StoredMessage message;
        message.conversationId = conversationId;
        message.parentId = storeId.value(m.value(QStringLiteral("parent")).toInt(), 0);
        message.role = m.value(QStringLiteral("role")).toString() == QLatin1String("user")
                           ? StoredMessage::Role::User
                           : StoredMessage::Role::Model;
        message.state = StoredMessage::stateFromName(m.value(QStringLiteral("state")).toString());
        if (message.state == StoredMessage::State::Streaming)
            message.state = StoredMessage::State::Interrupted;
        message.text = m.value(QStringLiteral("text")).toString();
        message.reasoning = m.value(QStringLiteral("reasoning")).toString();
        message.reasoningSeconds = m.value(QStringLiteral("reasoningSeconds")).toDouble(-1);
        message.note = m.value(QStringLiteral("note")).toString();
        message.created =
            QDateTime::fromString(m.value(QStringLiteral("created")).toString(), Qt::ISODateWithMs);
        const QJsonObject stats = m.value(QStringLiteral("stats")).toObject();
        message.hasStats = !stats.isEmpty();
        message.tokensPerSecond = stats.value(QStringLiteral("tokensPerSecond")).toDouble();
        message.tokens = stats.value(QStringLiteral("tokens")).toInt();
        message.timeToFirstTokenSeconds = stats.value(QStringLiteral("timeToFirstTokenSeconds")).toDouble(-1);
        message.attachments = files[i];
        storeId.insert(m.value(QStringLiteral("id")).toInt(), store.addMessage(message));
    }
    store.setCurrentLeaf(conversationId,
                         storeId.value(document.value(QStringLiteral("currentLeaf")).toInt(), 0));
    store.setPinned(conversationId, document.value(QStringLiteral("pinned")).toBool());
    store.setConversationSettings(conversationId, document.value(QStringLiteral("settings")).toObject());
    return conversationId;
}

QString writeJson(const ConversationStore& store, qint64 conversationId, const QString& path) {
    QString error;
    const QJsonObject document = toJson(store, conversationId, &error);
    if (document.isEmpty()) return error;
    return saveFile(path, QJsonDocument(document).toJson(QJsonDocument::Indented));
}

qint64 importJson(ConversationStore& store, const QString& path, QString* error) {
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        if (error) *error = ConversationStore::tr("%1 cannot be read: %2").arg(path, file.errorString());
        return 0;
    }
    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(file.readAll(), &parseError);
    if (!document.isObject()) {
        if (error)
            *error = ConversationStore::tr("%1 is not a JSON conversation (%2 at byte %3).")
                         .arg(path, parseError.errorString())
                         .arg(parseError.offset);
        return 0;
    }
    return fromJson(store, document.object(), error);
}

QString writeMarkdown(const ConversationStore& store, qint64 conversationId, const QString& path) {
    const auto conversation = store.conversation(conversationId);
    if (!conversation) return ConversationStore::tr("There is no such conversation.");
    MessageTree tree;
    for (const StoredMessage& m : store.messages(conversationId)) tree.insert(m);

    // Attachments go into "<name>_files" next to the Markdown file, linked relatively.
    const QFileInfo target(path);
    const QString filesFolderName = target.completeBaseName() + QStringLiteral("_files");
    const QDir filesFolder(target.dir().filePath(filesFolderName));
    QSet<QString> usedNames;

    QString out = QStringLiteral("# %1\n\n").arg(conversation->title);
    for (qint64 id : tree.pathTo(conversation->currentLeaf)) {
        const StoredMessage& m = *tree.find(id);
        const bool user = m.role == StoredMessage::Role::User;
        out += QStringLiteral("## %1\n\n")
                   .arg(user ? ConversationStore::tr("You") : ConversationStore::tr("Gemma"));
        if (!m.reasoning.isEmpty()) {
            out += QStringLiteral("<details><summary>%1</summary>\n\n%2\n\n</details>\n\n")
                       .arg(ConversationStore::tr("Reasoning"), m.reasoning.trimmed());
        }
        out += m.text.trimmed() + QStringLiteral("\n\n");
        for (const AttachmentRef& file : m.attachments) {
            QString name = QFileInfo(file.fileName).fileName();
            if (name.isEmpty() || usedNames.contains(name))
                name = file.hash.left(12) + QLatin1Char('-') + name;
            usedNames.insert(name);
            if (!QDir().mkpath(filesFolder.path()))
                return ConversationStore::tr("The folder %1 cannot be created.").arg(filesFolder.path());
            QFile::remove(filesFolder.filePath(name));
            if (!QFile::copy(store.attachmentPath(file.hash), filesFolder.filePath(name)))
                return ConversationStore::tr("The attachment %1 could not be copied to %2.")
                    .arg(file.fileName, filesFolder.path());
            const QString link =
                filesFolderName + QLatin1Char('/') + QString::fromUtf8(QUrl::toPercentEncoding(name));
            const bool image = file.mimeType.startsWith(QLatin1String("image/"));
            out += QStringLiteral("%1[%2](%3)\n\n").arg(image ? QStringLiteral("!") : QString(), name, link);
        }
        if (!m.note.isEmpty()) out += QStringLiteral("*%1*\n\n").arg(m.note);
        if (m.hasStats) {
            out += QStringLiteral("*%1*\n\n")
                       .arg(MessageListModel::formatStats(
                           {m.tokensPerSecond, m.tokens, m.timeToFirstTokenSeconds}));
        }
    }
    return saveFile(path, out.toUtf8());
}

} // namespace conversation_export
