// The OpenAI chat-completions wire format as Ocelle's remote engine speaks it (vLLM, llama.cpp's
// server, Ollama, LM Studio and `ocelle-cli serve` all serve it): base URLs, the model list, the
// request body, server-sent events read incrementally, streamed chunks and error bodies. Pure
// functions over bytes and JSON, so the format is tested without a network.
#pragma once

#include "chat_engine.h"

#include <QByteArray>
#include <QJsonArray>
#include <QJsonObject>
#include <QList>
#include <QString>
#include <QUrl>
#include <optional>

namespace ocelle::app::openai {

// A base URL as the user typed it, made usable: "http://" when no scheme is given, no trailing
// slash, and "/v1" when no path is given at all ("http://box:8080" -> "http://box:8080/v1"; a path
// such as ".../v1beta/openai" is kept). Empty (with `problem` set) when it cannot be used.
QUrl normalizeBaseUrl(const QString& typed, QString* problem = nullptr);
// `base` + "/" + `endpoint` ("models", "chat/completions").
QUrl endpointUrl(const QUrl& base, const QString& endpoint);

// One model of GET {base}/models. Whether it takes images or audio is known only when the server
// says so (llama.cpp-style "capabilities" strings, "input_modalities", or "modalities" flags);
// std::nullopt: not said.
struct ModelEntry {
    QString id;
    QString ownedBy;
    std::optional<bool> images;
    std::optional<bool> audio;
};
// Throws EngineError when the body is not a model list.
QList<ModelEntry> parseModelList(const QByteArray& body);

// The server's own words for a failed request: the "error" object's message (OpenAI, vLLM,
// llama.cpp), a plain "error" string (Ollama) or "detail", else the start of the body; prefixed
// with the HTTP status ("HTTP 401: Invalid API key").
QString httpErrorMessage(int status, const QByteArray& body);

// What a media part becomes on the wire, made by remote_media.h.
using ContentParts = QJsonArray;
// The request body of POST {base}/chat/completions. `mediaParts` holds one entry per turn: the
// content parts of the turn's media (placed before its text, as Gemma 4 was tuned), or nothing.
QJsonObject chatRequest(const GenerationRequest& request, const QString& model, bool stream,
                        const QList<ContentParts>& mediaParts);

// Server-sent events, fed with bytes as they arrive (a chunk may end anywhere, even inside a
// UTF-8 sequence or a CR LF pair); returns each complete event's data (multi-line data joined
// with "\n"). Comments and other fields are skipped.
class SseParser {
public:
    QList<QByteArray> feed(const QByteArray& bytes);
    // Bytes held back waiting for the end of their event.
    bool hasPartialEvent() const { return !pending_.isEmpty() || !data_.isEmpty() || hasData_; }

private:
    QByteArray pending_; // an incomplete line
    QByteArray data_;    // the event being assembled
    bool hasData_ = false;
    bool lastWasCr_ = false;
};

// One chunk of a streamed answer (or a whole non-streamed answer).
struct Chunk {
    QString reasoning;
    QString answer;
    QString finishReason;  // "stop", "length", ... when the answer ends
    int promptTokens = -1; // from "usage", when present
    int completionTokens = -1;
    QString error; // an error the server reported inside the stream
};
// `data` of one event (not "[DONE]"). Throws EngineError when it is not JSON.
Chunk parseStreamChunk(const QByteArray& data);
// The body of a non-streamed answer.
Chunk parseCompletion(const QByteArray& body);

} // namespace ocelle::app::openai
