// A conversation out of the store and back in: Markdown for reading (the branch on screen, with
// attachments copied into a folder next to the file) and JSON for keeping (every branch, settings
// and attachments, which import reads back as a new conversation).
#pragma once

#include "conversation_store.h"

#include <QJsonObject>
#include <QString>

namespace conversation_export {

// The JSON document of a conversation (empty when the store does not know it). Ids in it are local
// to the document (1, 2, ...), so exporting an imported conversation gives the same document.
QJsonObject toJson(const ConversationStore& store, qint64 conversationId, QString* error);
// Stores the conversation in `document` as a new one; returns its id, or 0 with `error` set.
qint64 fromJson(ConversationStore& store, const QJsonObject& document, QString* error);

// Each returns an empty string on success, otherwise what went wrong, for the user.
QString writeJson(const ConversationStore& store, qint64 conversationId, const QString& path);
QString writeMarkdown(const ConversationStore& store, qint64 conversationId, const QString& path);
qint64 importJson(ConversationStore& store, const QString& path, QString* error);

} // namespace conversation_export
