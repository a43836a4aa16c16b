// OpenAI's chat-completions format on the wire: requests read into a chat::Conversation (through
// chat::conversationFromJson, so messages, tools and tool results are read one way only) plus the
// sampling options and the media to encode; answers, stream chunks and errors written as OpenAI
// writes them. No sockets here: OpenAiServer does the HTTP.
#pragma once

#include "chat/json.h"
#include "served_model.h"

#include <QByteArray>

#include <stdexcept>
#include <string>
#include <vector>

namespace ocelle::server {

// An error answer: the HTTP status and OpenAI's {"error": {...}} fields.
struct ApiError {
    int status = 400;
    std::string type = "invalid_request_error";
    std::string message;
    std::string param; // the request field at fault, if any
    std::string code;  // e.g. "invalid_api_key", "model_not_found"
};

class ApiException : public std::runtime_error {
public:
    explicit ApiException(ApiError error) : std::runtime_error(error.message), error_(std::move(error)) {}
    const ApiError& error() const { return error_; }

private:
    ApiError error_;
};

struct ChatRequest {
    // Image and audio parts are placeholders until placeMedia() puts the encoded ones in.
    chat::Conversation conversation;
    std::vector<MediaInput> media; // in the order the conversation's media parts appear
    CompletionOptions options;
    bool stream = false;
    bool includeUsage = false; // stream_options.include_usage
};

// Reads a POST /v1/chat/completions body. Throws ApiException (400, or 404 for another model).
ChatRequest parseChatRequest(const QByteArray& body, const std::string& modelId);
// Puts the encoded media parts into the conversation's placeholders, in order.
void placeMedia(chat::Conversation& conversation, std::vector<chat::Part> encoded);

std::string errorJson(const ApiError& error);
// `capabilities`: ServedModel::capabilities() ("completion", "vision", "audio").
std::string modelListJson(const std::string& modelId, long long created,
                          const std::vector<std::string>& capabilities);
std::string modelJson(const std::string& modelId, long long created,
                      const std::vector<std::string>& capabilities);

const char* finishReasonName(CompletionResult::Finish finish);
// OpenAI's tool_calls entries; `firstIndex` numbers them in a stream.
chat::json::Value toolCallsJson(const std::vector<chat::ParsedToolCall>& calls,
                                const std::string& completionId, int firstIndex, bool streaming);
chat::json::Value usageJson(const CompletionResult& result);

// A whole answer (stream false).
std::string completionJson(const std::string& completionId, long long created, const std::string& modelId,
                           const CompletionDelta& message, const CompletionResult& result);
// One server-sent event's data: a chunk with `delta` (an object) and, at the end, the finish
// reason; with usage, the extra last chunk of stream_options.include_usage (no choices).
std::string chunkJson(const std::string& completionId, long long created, const std::string& modelId,
                      const chat::json::Value& delta, const char* finishReason);
std::string usageChunkJson(const std::string& completionId, long long created, const std::string& modelId,
                           const CompletionResult& result);

} // namespace ocelle::server
