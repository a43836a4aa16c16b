#include "openai_api.h"

#include <cmath>
#include <limits>
#include <random>

namespace ocelle::server {

namespace json = chat::json;

namespace {

[[noreturn]] void badRequest(const std::string& message, const std::string& param = {},
                             const std::string& code = {}) {
    ApiError error;
    error.message = message;
    error.param = param;
    error.code = code;
    throw ApiException(error);
}

double numberIn(const json::Value& request, const char* name, double low, double high, double fallback) {
    const json::Value* value = request.find(name);
    if (!value || value->isNull()) return fallback;
    if (!value->isNumber() || !(value->asNumber() >= low && value->asNumber() <= high)) {
        badRequest("\"" + std::string(name) + "\" must be a number from " +
                       json::serialize(json::Value::number(low)) + " to " +
                       json::serialize(json::Value::number(high)),
                   name);
    }
    return value->asNumber();
}

long long integerIn(const json::Value& request, const char* name, long long low, long long high,
                    long long fallback) {
    const json::Value* value = request.find(name);
    if (!value || value->isNull()) return fallback;
    if (!value->isNumber() || !value->isInteger() || value->asNumber() < double(low) ||
        value->asNumber() > double(high))
        badRequest("\"" + std::string(name) + "\" must be a whole number from " + std::to_string(low) +
                       " to " + std::to_string(high),
                   name);
    return static_cast<long long>(value->asNumber());
}

std::vector<std::uint8_t> base64Bytes(const std::string& text, const std::string& where) {
    const auto decoded =
        QByteArray::fromBase64Encoding(QByteArray::fromRawData(text.data(), qsizetype(text.size())),
                                       QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded || decoded.decoded.isEmpty()) badRequest(where + " is not valid base64 data", where);
    return {decoded.decoded.begin(), decoded.decoded.end()};
}

// {"type":"image_url","image_url":{"url":"data:image/png;base64,...","detail":"auto"}}
MediaInput imageInput(const json::Value& part, const std::string& where) {
    const json::Value* image = part.find("image_url");
    const json::Value* url = image && image->isObject() ? image->find("url") : image;
    if (!url || !url->isString()) badRequest(where + ".image_url.url must be a string", where);
    const std::string& text = url->asString();
    if (!text.starts_with("data:")) {
        badRequest(where + ": the server does not fetch images from the network; send the image inline as a "
                           "data: URL (data:image/png;base64,...)",
                   where);
    }
    const size_t comma = text.find(',');
    if (comma == std::string::npos || text.substr(0, comma).find(";base64") == std::string::npos)
        badRequest(where + ": the data: URL must be base64 (data:image/png;base64,...)", where);
    MediaInput input;
    input.kind = MediaInput::Kind::Image;
    input.where = where;
    input.bytes = base64Bytes(text.substr(comma + 1), where);
    // OpenAI's detail levels as Gemma 4's image budgets (soft tokens per image).
    if (const json::Value* detail = image->isObject() ? image->find("detail") : nullptr;
        detail && !detail->isNull()) {
        const std::string level = detail->isString() ? detail->asString() : std::string();
        if (level == "low")
            input.imageBudget = 70;
        else if (level == "high")
            input.imageBudget = 1120;
        else if (level != "auto")
            badRequest(where + ".image_url.detail must be \"low\", \"high\" or \"auto\"", where);
    }
    return input;
}

// {"type":"input_audio","input_audio":{"data":"<base64>","format":"wav"}}
MediaInput audioInput(const json::Value& part, const std::string& where) {
    const json::Value* audio = part.find("input_audio");
    const json::Value* data = audio ? audio->find("data") : nullptr;
    const json::Value* format = audio ? audio->find("format") : nullptr;
    if (!data || !data->isString()) badRequest(where + ".input_audio.data must be a base64 string", where);
    if (!format || !format->isString())
        badRequest(where + ".input_audio.format must be \"wav\" or \"mp3\"", where);
    MediaInput input;
    input.kind = MediaInput::Kind::Audio;
    input.where = where;
    input.format = format->asString();
    input.bytes = base64Bytes(data->asString(), where);
    return input;
}

// Takes the media out of the messages (in order) and leaves placeholder parts that
// conversationFromJson reads as an image or audio clip of one soft token.
std::vector<MediaInput> takeMedia(json::Value& messages) {
    std::vector<MediaInput> media;
    if (!messages.isArray()) return media;
    for (size_t m = 0; m < messages.items().size(); ++m) {
        json::Value& message = messages.items()[m];
        const json::Value* content = message.find("content");
        if (!content || !content->isArray()) continue;
        const json::Value* role = message.find("role");
        json::Value parts = json::Value::array();
        bool changed = false;
        for (size_t p = 0; p < content->items().size(); ++p) {
            const json::Value& part = content->items()[p];
            const std::string where =
                "messages[" + std::to_string(m) + "].content[" + std::to_string(p) + "]";
            const json::Value* type = part.find("type");
            const std::string kind = type && type->isString() ? type->asString() : std::string();
            const bool image = kind == "image_url", audio = kind == "input_audio";
            if (kind == "image" || kind == "audio" || kind == "video")
                badRequest(where + ": type \"" + kind +
                               "\" is not part of the API; send images as \"image_url\" "
                               "with a data: URL and audio as \"input_audio\"",
                           where);
            if ((image || audio) && role && role->isString() && role->asString() == "tool")
                badRequest(where + ": tool results carry text only", where);
            if (!image && !audio) {
                parts.push(part);
                continue;
            }
            media.push_back(image ? imageInput(part, where) : audioInput(part, where));
            parts.push(json::Value::object({{"type", json::Value::string(image ? "image" : "audio")},
                                            {"soft_tokens", json::Value::number(1)}}));
            changed = true;
        }
        if (changed) message.set("content", std::move(parts));
    }
    return media;
}

} // namespace

ChatRequest parseChatRequest(const QByteArray& body, const std::string& modelId) {
    json::Value request;
    try {
        request = json::parse(std::string_view(body.constData(), size_t(body.size())));
    } catch (const json::Error& e) {
        badRequest(std::string("The body of the request is not valid JSON: ") + e.what());
    }
    if (!request.isObject()) badRequest("The body of the request must be a JSON object");

    const json::Value* model = request.find("model");
    if (!model || !model->isString())
        badRequest("You must provide a model parameter (\"" + modelId + "\").", "model");
    if (model->asString() != modelId) {
        ApiError error;
        error.status = 404;
        error.message =
            "The model '" + model->asString() + "' does not exist here; this server runs '" + modelId + "'.";
        error.param = "model";
        error.code = "model_not_found";
        throw ApiException(error);
    }
    const json::Value* messages = request.find("messages");
    if (!messages || !messages->isArray() || messages->items().empty())
        badRequest("\"messages\" must be a non-empty list of messages", "messages");

    ChatRequest out;
    if (const json::Value* stream = request.find("stream"); stream && !stream->isNull()) {
        if (!stream->isBool()) badRequest("\"stream\" must be true or false", "stream");
        out.stream = stream->asBool();
    }
    if (const json::Value* options = request.find("stream_options"); options && options->isObject()) {
        if (const json::Value* usage = options->find("include_usage"); usage && usage->isBool())
            out.includeUsage = usage->asBool();
    }
    if (integerIn(request, "n", 1, 1, 1) != 1) badRequest("only n = 1 is supported", "n");
    if (const json::Value* logprobs = request.find("logprobs"); logprobs && logprobs->truthy())
        badRequest("logprobs are not supported by this server", "logprobs");
    if (const json::Value* format = request.find("response_format"); format && format->isObject()) {
        const json::Value* type = format->find("type");
        if (!type || !type->isString() || type->asString() != "text")
            badRequest("only response_format {\"type\": \"text\"} is supported", "response_format");
    }

    // Gemma 4's defaults where the request says nothing.
    engine::SamplerParams& sampling = out.options.sampling;
    sampling.temperature = float(numberIn(request, "temperature", 0, 2, 1.0));
    sampling.topP = float(numberIn(request, "top_p", 0, 1, 0.95));
    if (sampling.topP <= 0) badRequest("\"top_p\" must be above 0", "top_p");
    sampling.topK = int(integerIn(request, "top_k", 0, 1000000, 64));
    sampling.minP = float(numberIn(request, "min_p", 0, 1, 0.0));
    sampling.presencePenalty = float(numberIn(request, "presence_penalty", -2, 2, 0.0));
    const long long seed = integerIn(request, "seed", std::numeric_limits<long long>::min(),
                                     std::numeric_limits<long long>::max(), -1);
    if (request.find("seed") && !request.find("seed")->isNull()) {
        sampling.seed = static_cast<uint64_t>(seed);
    } else {
        std::random_device random;
        sampling.seed = uint64_t(random()) << 32 | random();
    }
    const long long maxTokens = integerIn(request, "max_completion_tokens", 1, 1 << 30,
                                          integerIn(request, "max_tokens", 1, 1 << 30, 0));
    out.options.maxTokens = int(maxTokens);
    if (const json::Value* stop = request.find("stop"); stop && !stop->isNull()) {
        if (stop->isString()) {
            out.options.stop.push_back(stop->asString());
        } else if (stop->isArray() && stop->items().size() <= 4) {
            for (const json::Value& item : stop->items()) {
                if (!item.isString())
                    badRequest("\"stop\" must be a string or a list of up to 4 strings", "stop");
                out.options.stop.push_back(item.asString());
            }
        } else {
            badRequest("\"stop\" must be a string or a list of up to 4 strings", "stop");
        }
        for (const std::string& text : out.options.stop)
            if (text.empty()) badRequest("\"stop\" strings must not be empty", "stop");
    }

    // The messages, tools and tool results are read by the chat format's own reader.
    json::Value conversationRequest = json::Value::object();
    json::Value mutableMessages = *messages;
    out.media = takeMedia(mutableMessages);
    conversationRequest.set("messages", std::move(mutableMessages));
    if (const json::Value* tools = request.find("tools"); tools && !tools->isNull()) {
        const json::Value* choice = request.find("tool_choice");
        const std::string mode = choice && choice->isString() ? choice->asString() : "auto";
        if (choice && !choice->isNull() && !choice->isString())
            badRequest("only tool_choice \"auto\" and \"none\" are supported", "tool_choice");
        if (mode != "auto" && mode != "none")
            badRequest("only tool_choice \"auto\" and \"none\" are supported", "tool_choice");
        if (mode == "auto") conversationRequest.set("tools", *tools);
    }
    bool thinking = false;
    if (const json::Value* value = request.find("thinking"); value && !value->isNull()) {
        if (!value->isBool()) badRequest("\"thinking\" must be true or false", "thinking");
        thinking = value->asBool();
    }
    // llama.cpp's and vLLM's way of asking for it.
    if (const json::Value* kwargs = request.find("chat_template_kwargs"); kwargs && kwargs->isObject()) {
        if (const json::Value* enable = kwargs->find("enable_thinking"); enable && !enable->isNull()) {
            if (!enable->isBool())
                badRequest("\"chat_template_kwargs.enable_thinking\" must be true or false",
                           "chat_template_kwargs");
            thinking = enable->asBool();
        }
    }
    if (const json::Value* effort = request.find("reasoning_effort"); effort && !effort->isNull()) {
        if (!effort->isString()) badRequest("\"reasoning_effort\" must be a string", "reasoning_effort");
        thinking = effort->asString() != "none" && effort->asString() != "minimal";
    }
    try {
        out.conversation = chat::conversationFromJson(conversationRequest);
    } catch (const chat::Error& e) {
        badRequest(e.what(), "messages");
    }
    out.conversation.thinking = thinking;
    if (out.conversation.messages.empty()) badRequest("\"messages\" holds no message to answer", "messages");
    return out;
}

void placeMedia(chat::Conversation& conversation, std::vector<chat::Part> encoded) {
    size_t next = 0;
    for (chat::Message& message : conversation.messages) {
        for (chat::Part& part : message.content) {
            if (part.kind != chat::Part::Kind::Image && part.kind != chat::Part::Kind::Audio) continue;
            if (next >= encoded.size() || encoded[next].kind != part.kind)
                throw std::logic_error("the encoded media do not match the conversation's media parts");
            part = std::move(encoded[next++]);
        }
    }
    if (next != encoded.size()) throw std::logic_error("more encoded media than media parts");
}

std::string errorJson(const ApiError& error) {
    auto orNull = [](const std::string& text) {
        return text.empty() ? json::Value() : json::Value::string(text);
    };
    return json::serialize(json::Value::object({{"error", json::Value::object({
                                                              {"message", json::Value::string(error.message)},
                                                              {"type", json::Value::string(error.type)},
                                                              {"param", orNull(error.param)},
                                                              {"code", orNull(error.code)},
                                                          })}}));
}

std::string modelJson(const std::string& modelId, long long created,
                      const std::vector<std::string>& capabilities) {
    json::Value list = json::Value::array();
    for (const std::string& capability : capabilities) list.push(json::Value::string(capability));
    return json::serialize(json::Value::object({{"id", json::Value::string(modelId)},
                                                {"object", json::Value::string("model")},
                                                {"created", json::Value::number(double(created))},
                                                {"owned_by", json::Value::string("ocelle")},
                                                {"capabilities", std::move(list)}}));
}

std::string modelListJson(const std::string& modelId, long long created,
                          const std::vector<std::string>& capabilities) {
    json::Value list = json::Value::array();
    list.push(json::parse(modelJson(modelId, created, capabilities)));
    return json::serialize(
        json::Value::object({{"object", json::Value::string("list")}, {"data", std::move(list)}}));
}

const char* finishReasonName(CompletionResult::Finish finish) {
    switch (finish) {
    case CompletionResult::Finish::Stop:
    case CompletionResult::Finish::Cancelled:
        return "stop";
    case CompletionResult::Finish::Length:
        return "length";
    case CompletionResult::Finish::ToolCalls:
        return "tool_calls";
    }
    return "stop";
}

json::Value toolCallsJson(const std::vector<chat::ParsedToolCall>& calls, const std::string& completionId,
                          int firstIndex, bool streaming) {
    json::Value list = json::Value::array();
    for (size_t i = 0; i < calls.size(); ++i) {
        const chat::ParsedToolCall& call = calls[i];
        const int index = firstIndex + int(i);
        // OpenAI sends the arguments as JSON text; a call that did not parse keeps its raw text.
        const std::string arguments = call.valid ? json::serialize(call.arguments) : call.raw;
        json::Value entry = json::Value::object();
        if (streaming) entry.set("index", json::Value::number(index));
        entry.set("id", json::Value::string("call_" + completionId.substr(completionId.find('-') + 1) + "_" +
                                            std::to_string(index)));
        entry.set("type", json::Value::string("function"));
        entry.set("function", json::Value::object({{"name", json::Value::string(call.name)},
                                                   {"arguments", json::Value::string(arguments)}}));
        list.push(std::move(entry));
    }
    return list;
}

json::Value usageJson(const CompletionResult& result) {
    return json::Value::object(
        {{"prompt_tokens", json::Value::number(result.promptTokens)},
         {"completion_tokens", json::Value::number(result.completionTokens)},
         {"total_tokens", json::Value::number(result.promptTokens + result.completionTokens)}});
}

std::string completionJson(const std::string& completionId, long long created, const std::string& modelId,
                           const CompletionDelta& message, const CompletionResult& result) {
    json::Value out = json::Value::object();
    out.set("role", json::Value::string("assistant"));
    const bool calls = !message.toolCalls.empty();
    out.set("content", calls && message.answer.empty() ? json::Value() : json::Value::string(message.answer));
    if (!message.reasoning.empty()) out.set("reasoning_content", json::Value::string(message.reasoning));
    if (calls) out.set("tool_calls", toolCallsJson(message.toolCalls, completionId, 0, false));
    json::Value choice =
        json::Value::object({{"index", json::Value::number(0)},
                             {"message", std::move(out)},
                             {"logprobs", json::Value()},
                             {"finish_reason", json::Value::string(finishReasonName(result.finish))}});
    json::Value choices = json::Value::array();
    choices.push(std::move(choice));
    return json::serialize(json::Value::object({{"id", json::Value::string(completionId)},
                                                {"object", json::Value::string("chat.completion")},
                                                {"created", json::Value::number(double(created))},
                                                {"model", json::Value::string(modelId)},
                                                {"choices", std::move(choices)},
                                                {"usage", usageJson(result)}}));
}

std::string chunkJson(const std::string& completionId, long long created, const std::string& modelId,
                      const json::Value& delta, const char* finishReason) {
    json::Value choice = json::Value::object(
        {{"index", json::Value::number(0)},
         {"delta", delta},
         {"logprobs", json::Value()},
         {"finish_reason", finishReason ? json::Value::string(finishReason) : json::Value()}});
    json::Value choices = json::Value::array();
    choices.push(std::move(choice));
    return json::serialize(json::Value::object({{"id", json::Value::string(completionId)},
                                                {"object", json::Value::string("chat.completion.chunk")},
                                                {"created", json::Value::number(double(created))},
                                                {"model", json::Value::string(modelId)},
                                                {"choices", std::move(choices)}}));
}

std::string usageChunkJson(const std::string& completionId, long long created, const std::string& modelId,
                           const CompletionResult& result) {
    return json::serialize(json::Value::object({{"id", json::Value::string(completionId)},
                                                {"object", json::Value::string("chat.completion.chunk")},
                                                {"created", json::Value::number(double(created))},
                                                {"model", json::Value::string(modelId)},
                                                {"choices", json::Value::array()},
                                                {"usage", usageJson(result)}}));
}

} // namespace ocelle::server
