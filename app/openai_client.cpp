#include "openai_client.h"

#include <QCoreApplication>
#include <QJsonDocument>
#include <QJsonValue>

namespace ocelle::app::openai {

namespace {
QString tr(const char* text) {
    return QCoreApplication::translate("RemoteServer", text);
}

QJsonObject parseObject(const QByteArray& bytes, QJsonParseError* error) {
    const QJsonDocument document = QJsonDocument::fromJson(bytes, error);
    return document.isObject() ? document.object() : QJsonObject();
}

// The start of a body that is not what was expected, on one line, for a message.
QString excerpt(const QByteArray& bytes) {
    QString text = QString::fromUtf8(bytes.left(300)).simplified();
    if (bytes.size() > 300) text += QStringLiteral("\u2026");
    return text;
}

// Which inputs a list of modality or capability words names; nullopt when there is no list.
void readModalities(const QJsonValue& value, ModelEntry* entry) {
    if (!value.isArray()) return;
    bool images = false, audio = false, multimodal = false;
    for (const QJsonValue& word : value.toArray()) {
        const QString w = word.toString().toLower();
        images = images || w == QLatin1String("vision") || w == QLatin1String("image");
        audio = audio || w == QLatin1String("audio");
        multimodal = multimodal || w == QLatin1String("multimodal");
    }
    entry->images = images || multimodal;
    // "multimodal" (llama.cpp) does not say which media: audio stays unknown then.
    if (audio || !multimodal) entry->audio = audio;
}

QString errorText(const QJsonValue& error) {
    if (error.isString()) return error.toString();
    if (error.isObject()) {
        const QJsonObject object = error.toObject();
        const QString message = object.value(QStringLiteral("message")).toString();
        if (!message.isEmpty()) return message;
        return QString::fromUtf8(QJsonDocument(object).toJson(QJsonDocument::Compact));
    }
    return {};
}

void readUsage(const QJsonObject& object, Chunk* chunk) {
    const QJsonValue usage = object.value(QStringLiteral("usage"));
    if (!usage.isObject()) return;
    chunk->promptTokens = usage[QStringLiteral("prompt_tokens")].toInt(-1);
    chunk->completionTokens = usage[QStringLiteral("completion_tokens")].toInt(-1);
}

// Reasoning under the name DeepSeek, vLLM and llama.cpp use, or Ollama's shorter one.
QString reasoningOf(const QJsonObject& message) {
    const QString text = message.value(QStringLiteral("reasoning_content")).toString();
    return text.isEmpty() ? message.value(QStringLiteral("reasoning")).toString() : text;
}

Chunk parseChoiceObject(const QByteArray& bytes, const QString& what, const QString& messageKey) {
    QJsonParseError parseError;
    const QJsonObject object = parseObject(bytes, &parseError);
    if (object.isEmpty() && parseError.error != QJsonParseError::NoError)
        throw EngineError(
            tr("The server sent %1 that is not JSON: %2").arg(what, excerpt(bytes)).toStdString());
    Chunk chunk;
    chunk.error = errorText(object.value(QStringLiteral("error")));
    readUsage(object, &chunk);
    const QJsonArray choices = object.value(QStringLiteral("choices")).toArray();
    if (!choices.isEmpty()) {
        const QJsonObject choice = choices.first().toObject();
        const QJsonObject message = choice.value(messageKey).toObject();
        chunk.answer = message.value(QStringLiteral("content")).toString();
        chunk.reasoning = reasoningOf(message);
        chunk.finishReason = choice.value(QStringLiteral("finish_reason")).toString();
    }
    return chunk;
}
} // namespace

QUrl normalizeBaseUrl(const QString& typed, QString* problem) {
    auto refuse = [problem](const QString& why) {
        if (problem) *problem = why;
        return QUrl();
    };
    QString text = typed.trimmed();
    if (text.isEmpty())
        return refuse(tr("Enter the server's address, for example http://localhost:8080/v1."));
    if (!text.contains(QLatin1String("://"))) text.prepend(QStringLiteral("http://"));
    QUrl url(text, QUrl::StrictMode);
    if (!url.isValid() || url.host().isEmpty())
        return refuse(tr("\u201c%1\u201d is not a web address.").arg(typed.trimmed()));
    const QString scheme = url.scheme().toLower();
    if (scheme != QLatin1String("http") && scheme != QLatin1String("https"))
        return refuse(tr("Only http:// and https:// servers can be added (got %1://).").arg(url.scheme()));
    QString path = url.path();
    while (path.endsWith(QLatin1Char('/'))) path.chop(1);
    url.setPath(path.isEmpty() ? QStringLiteral("/v1") : path);
    url.setQuery(QString());
    url.setFragment(QString());
    if (problem) problem->clear();
    return url;
}

QUrl endpointUrl(const QUrl& base, const QString& endpoint) {
    QUrl url = base;
    url.setPath(base.path() + QLatin1Char('/') + endpoint);
    return url;
}

QList<ModelEntry> parseModelList(const QByteArray& body) {
    QJsonParseError parseError;
    const QJsonObject object = parseObject(body, &parseError);
    const QJsonValue data = object.value(QStringLiteral("data"));
    if (!data.isArray())
        throw EngineError(tr("The server's model list is not in the OpenAI format (no \"data\" list): %1")
                              .arg(excerpt(body))
                              .toStdString());
    // llama.cpp lists capabilities in a second list, "models", by model name.
    QHash<QString, QJsonValue> capabilitiesByName;
    for (const QJsonValue& model : object.value(QStringLiteral("models")).toArray()) {
        const QJsonObject m = model.toObject();
        const QJsonValue capabilities = m.value(QStringLiteral("capabilities"));
        for (const char* key : {"model", "name"})
            if (m.contains(QLatin1String(key)))
                capabilitiesByName.insert(m.value(QLatin1String(key)).toString(), capabilities);
    }
    QList<ModelEntry> models;
    for (const QJsonValue& value : data.toArray()) {
        const QJsonObject m = value.toObject();
        ModelEntry entry;
        entry.id = m.value(QStringLiteral("id")).toString();
        if (entry.id.isEmpty()) continue;
        entry.ownedBy = m.value(QStringLiteral("owned_by")).toString();
        readModalities(capabilitiesByName.value(entry.id), &entry);
        readModalities(m.value(QStringLiteral("capabilities")), &entry);
        readModalities(m.value(QStringLiteral("input_modalities")), &entry);
        readModalities(m.value(QStringLiteral("architecture"))[QStringLiteral("input_modalities")], &entry);
        models << entry;
    }
    return models;
}

QString httpErrorMessage(int status, const QByteArray& body) {
    QJsonParseError parseError;
    const QJsonObject object = parseObject(body, &parseError);
    QString said = errorText(object.value(QStringLiteral("error")));
    if (said.isEmpty()) said = object.value(QStringLiteral("detail")).toString();
    if (said.isEmpty()) said = object.value(QStringLiteral("message")).toString();
    if (said.isEmpty()) said = excerpt(body);
    return said.isEmpty() ? tr("HTTP %1").arg(status) : tr("HTTP %1: %2").arg(status).arg(said);
}

QJsonObject chatRequest(const GenerationRequest& request, const QString& model, bool stream,
                        const QList<ContentParts>& mediaParts) {
    QJsonArray messages;
    if (!request.systemPrompt.empty())
        messages.append(
            QJsonObject{{QStringLiteral("role"), QStringLiteral("system")},
                        {QStringLiteral("content"), QString::fromStdString(request.systemPrompt)}});
    for (qsizetype i = 0; i < qsizetype(request.turns.size()); ++i) {
        const ChatTurn& turn = request.turns[size_t(i)];
        const QString text = QString::fromStdString(turn.text);
        const bool user = turn.role == ChatTurn::Role::User;
        QJsonObject message{
            {QStringLiteral("role"), user ? QStringLiteral("user") : QStringLiteral("assistant")}};
        const ContentParts media = i < mediaParts.size() ? mediaParts[i] : ContentParts();
        if (media.isEmpty()) {
            message.insert(QStringLiteral("content"), text);
        } else {
            ContentParts parts = media;
            if (!text.isEmpty())
                parts.append(QJsonObject{{QStringLiteral("type"), QStringLiteral("text")},
                                         {QStringLiteral("text"), text}});
            message.insert(QStringLiteral("content"), parts);
        }
        messages.append(message);
    }
    QJsonObject body{{QStringLiteral("model"), model},
                     {QStringLiteral("messages"), messages},
                     {QStringLiteral("stream"), stream},
                     {QStringLiteral("temperature"), double(request.sampling.temperature)},
                     {QStringLiteral("top_p"), double(request.sampling.topP)}};
    if (stream)
        body.insert(QStringLiteral("stream_options"), QJsonObject{{QStringLiteral("include_usage"), true}});
    if (request.sampling.maxTokens > 0) body.insert(QStringLiteral("max_tokens"), request.sampling.maxTokens);
    // JSON numbers are doubles: a seed above 2^53 would arrive changed, so it is folded into range.
    if (request.sampling.seed != 0)
        body.insert(QStringLiteral("seed"), double(request.sampling.seed % (1ull << 53)));
    // Only when asked for: servers that do not know this field may refuse it.
    if (request.thinking)
        body.insert(QStringLiteral("chat_template_kwargs"),
                    QJsonObject{{QStringLiteral("enable_thinking"), true}});
    return body;
}

QList<QByteArray> SseParser::feed(const QByteArray& bytes) {
    QList<QByteArray> events;
    auto endLine = [&] {
        const QByteArray line = pending_;
        pending_.clear();
        if (line.isEmpty()) { // a blank line ends the event
            if (hasData_) events << data_;
            data_.clear();
            hasData_ = false;
            return;
        }
        if (line.startsWith(':')) return; // a comment (keep-alive)
        const qsizetype colon = line.indexOf(':');
        const QByteArray field = colon < 0 ? line : line.left(colon);
        if (field != "data") return;
        QByteArray value = colon < 0 ? QByteArray() : line.mid(colon + 1);
        if (value.startsWith(' ')) value.remove(0, 1);
        if (hasData_) data_ += '\n';
        data_ += value;
        hasData_ = true;
    };
    for (const char c : bytes) {
        if (lastWasCr_ && c == '\n') { // the second half of a CR LF split across two reads
            lastWasCr_ = false;
            continue;
        }
        lastWasCr_ = c == '\r';
        if (c == '\r' || c == '\n')
            endLine();
        else
            pending_ += c;
    }
    return events;
}

Chunk parseStreamChunk(const QByteArray& data) {
    return parseChoiceObject(data, tr("a piece of the answer"), QStringLiteral("delta"));
}

Chunk parseCompletion(const QByteArray& body) {
    return parseChoiceObject(body, tr("an answer"), QStringLiteral("message"));
}

} // namespace ocelle::app::openai
