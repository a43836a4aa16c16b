#include "chat/chat_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace ocelle::chat {

namespace {

constexpr std::string_view kQuote = "<|\"|>";

// Appends text and tokens; adjacent text is tokenized as one piece, exactly as the template's
// output string would be, while control tokens go in as ids (so text supplied by a user can
// never turn into a control token).
class Builder {
public:
    explicit Builder(const tokenizer::Vocab& vocab) : vocab_(vocab) {}
    void text(std::string_view s) { pending_ += s; }
    void token(TokenId id) {
        flush();
        tokens_.push_back(id);
    }
    size_t position() {
        flush();
        return tokens_.size();
    }
    std::vector<TokenId> finish() {
        flush();
        return std::move(tokens_);
    }

private:
    void flush() {
        if (pending_.empty()) return;
        vocab_.appendTokens(pending_, tokens_);
        pending_.clear();
    }
    const tokenizer::Vocab& vocab_;
    std::vector<TokenId> tokens_;
    std::string pending_;
};

// Whitespace as Python's str.isspace() sees it, for trim().
size_t spaceLengthAt(std::string_view s, size_t i) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) return 1;
    auto is = [&](std::string_view seq) { return s.substr(i, seq.size()) == seq; };
    if (is("\xC2\x85") || is("\xC2\xA0")) return 2;
    if (is("\xE1\x9A\x80") || is("\xE2\x80\xA8") || is("\xE2\x80\xA9") || is("\xE2\x80\xAF") ||
        is("\xE2\x81\x9F") || is("\xE3\x80\x80"))
        return 3;
    if (s.size() - i >= 3 && c == 0xE2 && static_cast<uint8_t>(s[i + 1]) == 0x80 &&
        static_cast<uint8_t>(s[i + 2]) >= 0x80 && static_cast<uint8_t>(s[i + 2]) <= 0x8A)
        return 3; // U+2000..U+200A
    return 0;
}

bool endsWithSpace(std::string_view s, size_t& length) {
    for (size_t n = 1; n <= 3 && n <= s.size(); ++n) {
        if (spaceLengthAt(s, s.size() - n) == n) {
            length = n;
            return true;
        }
    }
    return false;
}

std::string lowerAscii(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::string upperAscii(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return out;
}

// Members in Jinja's dictsort order (case-insensitive by key).
std::vector<const std::pair<std::string, json::Value>*> sortedMembers(const json::Value& object) {
    std::vector<const std::pair<std::string, json::Value>*> out;
    for (const auto& member : object.members()) out.push_back(&member);
    std::stable_sort(out.begin(), out.end(),
                     [](auto* a, auto* b) { return lowerAscii(a->first) < lowerAscii(b->first); });
    return out;
}

// A float as Python's repr() writes it.
std::string pythonFloat(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
    char buffer[64];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, d, std::chars_format::scientific);
    std::string_view sci(buffer, static_cast<size_t>(result.ptr - buffer)); // like "-1.25e+03"
    const bool negative = sci.front() == '-';
    if (negative) sci.remove_prefix(1);
    const size_t e = sci.find('e');
    std::string digits;
    for (char c : sci.substr(0, e))
        if (c != '.') digits.push_back(c);
    const int exponent = std::atoi(std::string(sci.substr(e + 1)).c_str());
    std::string out = negative ? "-" : "";
    if (exponent >= -5 && exponent < 16) {
        if (exponent < 0) {
            out += "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
        } else if (static_cast<size_t>(exponent) + 1 >= digits.size()) {
            out += digits + std::string(static_cast<size_t>(exponent) + 1 - digits.size(), '0') + ".0";
        } else {
            out += digits.substr(0, static_cast<size_t>(exponent) + 1) + "." +
                   digits.substr(static_cast<size_t>(exponent) + 1);
        }
        return out;
    }
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char exp[16];
    std::snprintf(exp, sizeof exp, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    return out + exp;
}

// How Jinja prints a value with {{ }} (Python's str()).
std::string printValue(const json::Value* v) {
    if (!v) return ""; // undefined prints as nothing
    switch (v->type()) {
    case json::Type::Null:
        return "None";
    case json::Type::Bool:
        return v->asBool() ? "True" : "False";
    case json::Type::Number:
        return v->isInteger() ? v->numberLiteral() : pythonFloat(v->asNumber());
    case json::Type::String:
        return v->asString();
    default:
        return formatArgument(*v, true);
    }
}

std::string typeUpper(const json::Value* v) {
    return v && v->isString() ? upperAscii(v->asString()) : std::string();
}

bool truthy(const json::Value* v) {
    return v && v->truthy();
}

std::string quotedList(const json::Value* list) {
    std::string out;
    if (!list || !list->isArray()) return out;
    bool first = true;
    for (const auto& item : list->items()) {
        if (!first) out += ",";
        first = false;
        out += std::string(kQuote) + printValue(&item) + std::string(kQuote);
    }
    return out;
}

// The template's format_parameters macro.
std::string formatParameters(const json::Value& properties) {
    static const std::string_view standardKeys[] = {"description", "type", "properties", "required",
                                                    "nullable"};
    std::string out;
    if (!properties.isObject()) return out;
    bool foundFirst = false;
    for (const auto* member : sortedMembers(properties)) {
        const std::string& key = member->first;
        const json::Value& value = member->second;
        if (std::find(std::begin(standardKeys), std::end(standardKeys), key) != std::end(standardKeys))
            continue;
        if (foundFirst) out += ",";
        foundFirst = true;
        bool addComma = false;
        auto comma = [&] {
            if (addComma) {
                out += ",";
            } else {
                addComma = true;
            }
        };
        out += key + ":{";
        if (truthy(value.find("description"))) {
            out += "description:" + std::string(kQuote) + printValue(value.find("description")) +
                   std::string(kQuote);
            addComma = true;
        }
        if (truthy(value.find("nullable"))) {
            comma();
            out += "nullable:true";
        }
        const std::string type = typeUpper(value.find("type"));
        if (type == "STRING") {
            if (truthy(value.find("enum"))) {
                comma();
                out += "enum:" + formatArgument(*value.find("enum"), true);
            }
        } else if (type == "OBJECT") {
            out += ",properties:{";
            const json::Value* nested = value.find("properties");
            if (nested && nested->isObject()) {
                out += formatParameters(*nested);
            } else if (value.isObject()) {
                out += formatParameters(value);
            }
            out += "}";
            if (truthy(value.find("required")))
                out += ",required:[" + quotedList(value.find("required")) + "]";
        } else if (type == "ARRAY") {
            const json::Value* items = value.find("items");
            if (items && items->isObject() && items->truthy()) {
                out += ",items:{";
                bool firstItem = true;
                for (const auto* item : sortedMembers(*items)) {
                    if (item->second.isNull()) continue;
                    if (!firstItem) out += ",";
                    firstItem = false;
                    const std::string& itemKey = item->first;
                    const json::Value& itemValue = item->second;
                    if (itemKey == "properties") {
                        out += "properties:{";
                        if (itemValue.isObject()) out += formatParameters(itemValue);
                        out += "}";
                    } else if (itemKey == "required") {
                        out += "required:[" + quotedList(&itemValue) + "]";
                    } else if (itemKey == "type") {
                        if (itemValue.isString()) {
                            out += "type:" + formatArgument(
                                                 json::Value::string(upperAscii(itemValue.asString())), true);
                        } else if (itemValue.isArray()) {
                            json::Value upper = json::Value::array();
                            for (const auto& t : itemValue.items())
                                upper.push(json::Value::string(upperAscii(printValue(&t))));
                            out += "type:" + formatArgument(upper, true);
                        }
                    } else {
                        out += itemKey + ":" + formatArgument(itemValue, true);
                    }
                }
                out += "}";
            }
        }
        comma();
        out += "type:" + std::string(kQuote) + type + std::string(kQuote) + "}";
    }
    return out;
}

std::string twoDigits(long long n) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%02lld", n);
    return buffer;
}

} // namespace

Part Part::makeText(std::string text) {
    Part p;
    p.kind = Kind::Text;
    p.text = std::move(text);
    return p;
}

Part Part::image(int softTokens, Embeddings embeddings) {
    Part p;
    p.kind = Kind::Image;
    p.softTokens = softTokens;
    p.embeddings = std::move(embeddings);
    return p;
}

Part Part::audio(int softTokens, Embeddings embeddings) {
    Part p;
    p.kind = Kind::Audio;
    p.softTokens = softTokens;
    p.embeddings = std::move(embeddings);
    return p;
}

Part Part::video(std::vector<VideoFrame> frames) {
    Part p;
    p.kind = Kind::Video;
    p.frames = std::move(frames);
    return p;
}

std::string trim(std::string_view text) {
    size_t begin = 0;
    while (begin < text.size()) {
        const size_t n = spaceLengthAt(text, begin);
        if (!n) break;
        begin += n;
    }
    std::string_view rest = text.substr(begin);
    size_t n = 0;
    while (!rest.empty() && endsWithSpace(rest, n)) rest.remove_suffix(n);
    return std::string(rest);
}

std::string stripThinking(std::string_view text) {
    std::string result;
    size_t from = 0;
    while (true) {
        const size_t close = text.find("<channel|>", from);
        const std::string_view part =
            text.substr(from, close == std::string_view::npos ? text.npos : close - from);
        const size_t open = part.find("<|channel>");
        result += part.substr(0, open);
        if (close == std::string_view::npos) break;
        from = close + std::string_view("<channel|>").size();
    }
    return trim(result);
}

std::string formatArgument(const json::Value& value, bool quoteKeys) {
    switch (value.type()) {
    case json::Type::String:
        return std::string(kQuote) + value.asString() + std::string(kQuote);
    case json::Type::Bool:
        return value.asBool() ? "true" : "false";
    case json::Type::Object: {
        std::string out = "{";
        bool first = true;
        for (const auto* member : sortedMembers(value)) {
            if (!first) out += ",";
            first = false;
            out += quoteKeys ? std::string(kQuote) + member->first + std::string(kQuote) : member->first;
            out += ":" + formatArgument(member->second, quoteKeys);
        }
        return out + "}";
    }
    case json::Type::Array: {
        std::string out = "[";
        bool first = true;
        for (const auto& item : value.items()) {
            if (!first) out += ",";
            first = false;
            out += formatArgument(item, quoteKeys);
        }
        return out + "]";
    }
    default:
        return printValue(&value);
    }
}

std::string formatToolDeclaration(const json::Value& tool) {
    // OpenAI wraps the function in {"type":"function","function":{...}}; a bare function is accepted.
    const json::Value* fn = tool.find("function");
    if (!fn) fn = &tool;
    std::string out = "declaration:" + printValue(fn->find("name")) + "{description:" + std::string(kQuote) +
                      printValue(fn->find("description")) + std::string(kQuote);
    const json::Value* params = fn->find("parameters");
    if (truthy(params)) {
        out += ",parameters:{";
        if (truthy(params->find("properties")))
            out += "properties:{" + formatParameters(*params->find("properties")) + "},";
        if (truthy(params->find("required")))
            out += "required:[" + quotedList(params->find("required")) + "],";
        if (truthy(params->find("type")))
            out +=
                "type:" + std::string(kQuote) + typeUpper(params->find("type")) + std::string(kQuote) + "}";
    }
    if (const json::Value* response = fn->find("response")) {
        out += ",response:{";
        if (truthy(response->find("description")))
            out += "description:" + std::string(kQuote) + printValue(response->find("description")) +
                   std::string(kQuote) + ",";
        if (typeUpper(response->find("type")) == "OBJECT")
            out +=
                "type:" + std::string(kQuote) + typeUpper(response->find("type")) + std::string(kQuote) + "}";
    }
    out += "}";
    return trim(out);
}

ChatFormat::ChatFormat(const tokenizer::Vocab& vocab) : vocab_(vocab) {
    auto t = [&](std::string_view text) { return vocab.require(text); };
    tokens_ = FormatTokens{vocab.bos(),           t("<|turn>"),          t("<turn|>"),      t("<|think|>"),
                           t("<|channel>"),       t("<channel|>"),       t("<|tool_call>"), t("<tool_call|>"),
                           t("<|tool_response>"), t("<tool_response|>"), t("<|\"|>"),       t("<|tool>"),
                           t("<tool|>"),          t("<|image>"),         t("<image|>"),     t("<|image|>"),
                           t("<|audio>"),         t("<audio|>"),         t("<|audio|>"),    t("<|video|>")};
}

Prompt ChatFormat::render(const Conversation& conversation) const {
    const FormatTokens& k = tokens_;
    Builder b(vocab_);
    Prompt prompt;
    const auto& messages = conversation.messages;

    b.token(k.bos);
    size_t first = 0;
    const bool systemFirst =
        !messages.empty() && (messages[0].role == "system" || messages[0].role == "developer");
    if (conversation.thinking || !conversation.tools.empty() || systemFirst) {
        b.token(k.turnStart);
        b.text("system\n");
        if (conversation.thinking) b.token(k.think);
        if (systemFirst) {
            std::string system;
            for (const Part& p : messages[0].content)
                if (p.kind == Part::Kind::Text) system += p.text;
            b.text(trim(system));
            first = 1;
        }
        for (const json::Value& tool : conversation.tools) {
            b.token(k.toolStart);
            b.text(formatToolDeclaration(tool));
            b.token(k.toolEnd);
        }
        b.token(k.turnEnd);
        b.text("\n");
    }

    bool lastWasToolResponse = false;
    bool turnOpen = false; // a model turn left open after tool responses, continued by the next model message
    for (size_t m = first; m < messages.size(); ++m) {
        const Message& message = messages[m];
        const bool model = message.role == "assistant" || message.role == "model";
        lastWasToolResponse = false;
        if (!(turnOpen && model)) {
            b.token(k.turnStart);
            b.text(model ? "model" : message.role);
            b.text("\n");
        }
        turnOpen = false;
        for (const ToolCall& call : message.toolCalls) {
            b.token(k.toolCallStart);
            b.text("call:" + call.name + "{");
            if (call.arguments.isObject()) {
                bool firstArg = true;
                for (const auto* member : sortedMembers(call.arguments)) {
                    if (!firstArg) b.text(",");
                    firstArg = false;
                    b.text(member->first + ":" + formatArgument(member->second, false));
                }
            } else if (call.arguments.isString()) {
                b.text(call.arguments.asString());
            }
            b.text("}");
            b.token(k.toolCallEnd);
        }
        for (const ToolResponse& response : message.toolResponses) {
            b.token(k.toolResponseStart);
            const std::string name = response.name.empty() ? "unknown" : response.name;
            if (response.response.isObject()) {
                b.text("response:" + name + "{");
                bool firstKey = true;
                for (const auto* member : sortedMembers(response.response)) {
                    if (!firstKey) b.text(",");
                    firstKey = false;
                    b.text(member->first + ":" + formatArgument(member->second, false));
                }
                b.text("}");
            } else {
                b.text("response:" + name + "{value:" + formatArgument(response.response, false) + "}");
            }
            b.token(k.toolResponseEnd);
            lastWasToolResponse = true;
        }
        const bool hasContent = !message.content.empty();
        for (size_t p = 0; p < message.content.size(); ++p) {
            const Part& part = message.content[p];
            switch (part.kind) {
            case Part::Kind::Text:
                b.text(model ? stripThinking(part.text) : trim(part.text));
                break;
            case Part::Kind::Image: {
                if (part.softTokens <= 0) throw Error("an image needs a positive soft-token count");
                b.text("\n\n");
                b.token(k.imageStart);
                const size_t begin = b.position();
                for (int i = 0; i < part.softTokens; ++i) b.token(k.imageSoft);
                prompt.spans.push_back(
                    {MediaKind::Image, m, p, 0, begin, static_cast<size_t>(part.softTokens)});
                b.token(k.imageEnd);
                b.text("\n\n");
                lastWasToolResponse = false;
                break;
            }
            case Part::Kind::Audio: {
                if (part.softTokens <= 0) throw Error("an audio clip needs a positive soft-token count");
                b.token(k.audioStart);
                const size_t begin = b.position();
                for (int i = 0; i < part.softTokens; ++i) b.token(k.audioSoft);
                prompt.spans.push_back(
                    {MediaKind::Audio, m, p, 0, begin, static_cast<size_t>(part.softTokens)});
                b.token(k.audioEnd);
                lastWasToolResponse = false;
                break;
            }
            case Part::Kind::Video: {
                if (part.frames.empty()) throw Error("a video needs at least one frame");
                b.text("\n\n");
                for (size_t f = 0; f < part.frames.size(); ++f) {
                    const VideoFrame& frame = part.frames[f];
                    if (frame.softTokens <= 0) throw Error("a video frame needs a positive soft-token count");
                    if (!(frame.seconds >= 0) || frame.seconds > 1e9)
                        throw Error("a video frame time must be >= 0 s");
                    const auto whole = static_cast<long long>(std::floor(frame.seconds));
                    if (f > 0) b.text(" ");
                    b.text(twoDigits(whole / 60) + ":" + twoDigits(whole % 60) + " ");
                    b.token(k.imageStart);
                    const size_t begin = b.position();
                    for (int i = 0; i < frame.softTokens; ++i) b.token(k.videoSoft);
                    prompt.spans.push_back(
                        {MediaKind::VideoFrame, m, p, f, begin, static_cast<size_t>(frame.softTokens)});
                    b.token(k.imageEnd);
                }
                b.text("\n\n");
                lastWasToolResponse = false;
                break;
            }
            }
        }
        // The template closes the turn unless it ended with tool responses and nothing else: the
        // model then continues the same turn after reading the responses.
        if (!message.toolResponses.empty() && !hasContent) {
            turnOpen = model;
        } else {
            b.token(k.turnEnd);
            b.text("\n");
        }
    }

    if (conversation.addGenerationPrompt) {
        if (!lastWasToolResponse) {
            b.token(k.turnStart);
            b.text("model\n");
        }
        if (!conversation.thinking) {
            b.token(k.channelStart);
            b.text("thought\n");
            b.token(k.channelEnd);
        }
    }
    prompt.tokens = b.finish();
    return prompt;
}

std::string ChatFormat::renderText(const Conversation& conversation) const {
    const Prompt prompt = render(conversation);
    tokenizer::DetokenizeOptions options;
    options.unparseSpecial = true;
    options.cleanSpaces = false;
    return vocab_.detokenize(prompt.tokens, options);
}

namespace {

std::string where(size_t m, const char* field = nullptr) {
    std::string s = "messages[" + std::to_string(m) + "]";
    if (field) s += std::string(".") + field;
    return s;
}

int softTokensOf(const json::Value& part, int fallback, const std::string& path) {
    const json::Value* n = part.find("soft_tokens");
    if (!n) return fallback;
    if (!n->isNumber() || !n->isInteger() || n->asNumber() < 1 || n->asNumber() > 1e6)
        throw Error(path + ".soft_tokens must be a whole number from 1 to 1000000");
    return static_cast<int>(n->asNumber());
}

std::string textOf(const json::Value& content, const std::string& path) {
    if (content.isNull()) return {};
    if (content.isString()) return content.asString();
    if (content.isArray()) {
        std::string out;
        for (const auto& part : content.items()) {
            const json::Value* text = part.find("text");
            if (part.isString()) {
                out += part.asString();
            } else if (text && text->isString()) {
                out += text->asString();
            }
        }
        return out;
    }
    throw Error(path + " must be a string, a list of parts or null");
}

std::vector<Part> partsOf(const json::Value& content, const MediaDefaults& defaults,
                          const std::string& path) {
    std::vector<Part> parts;
    if (content.isNull()) return parts;
    if (content.isString()) {
        if (!content.asString().empty()) parts.push_back(Part::makeText(content.asString()));
        return parts;
    }
    if (!content.isArray()) throw Error(path + " must be a string, a list of parts or null");
    for (size_t i = 0; i < content.items().size(); ++i) {
        const json::Value& item = content.items()[i];
        const std::string itemPath = path + "[" + std::to_string(i) + "]";
        if (item.isString()) {
            parts.push_back(Part::makeText(item.asString()));
            continue;
        }
        const json::Value* type = item.find("type");
        if (!type || !type->isString()) throw Error(itemPath + " has no \"type\"");
        const std::string& t = type->asString();
        if (t == "text") {
            const json::Value* text = item.find("text");
            if (!text || !text->isString()) throw Error(itemPath + ".text must be a string");
            parts.push_back(Part::makeText(text->asString()));
        } else if (t == "image" || t == "image_url") {
            parts.push_back(Part::image(softTokensOf(item, defaults.imageSoftTokens, itemPath)));
        } else if (t == "audio" || t == "input_audio") {
            parts.push_back(Part::audio(softTokensOf(item, defaults.audioSoftTokens, itemPath)));
        } else if (t == "video") {
            const int perFrame = softTokensOf(item, defaults.videoFrameSoftTokens, itemPath);
            std::vector<VideoFrame> frames;
            if (const json::Value* list = item.find("frames")) {
                if (!list->isArray()) throw Error(itemPath + ".frames must be a list");
                for (size_t f = 0; f < list->items().size(); ++f) {
                    const json::Value& frame = list->items()[f];
                    const std::string framePath = itemPath + ".frames[" + std::to_string(f) + "]";
                    const json::Value* time = frame.find("time");
                    if (!time || !time->isNumber() || time->asNumber() < 0)
                        throw Error(framePath + ".time must be a number of seconds >= 0");
                    frames.push_back({time->asNumber(), softTokensOf(frame, perFrame, framePath), {}});
                }
            } else if (const json::Value* times = item.find("timestamps")) {
                if (!times->isArray()) throw Error(itemPath + ".timestamps must be a list");
                for (const auto& time : times->items()) {
                    if (!time.isNumber() || time.asNumber() < 0)
                        throw Error(itemPath + ".timestamps must hold numbers of seconds >= 0");
                    frames.push_back({time.asNumber(), perFrame, {}});
                }
            }
            if (frames.empty()) throw Error(itemPath + " needs \"frames\" or \"timestamps\"");
            parts.push_back(Part::video(std::move(frames)));
        } else {
            throw Error(itemPath + " has unknown type '" + t + "'");
        }
    }
    return parts;
}

} // namespace

Conversation conversationFromJson(const json::Value& request, const MediaDefaults& defaults) {
    Conversation conversation;
    const json::Value* messages = &request;
    if (request.isObject()) {
        messages = request.find("messages");
        if (!messages) throw Error("the request has no \"messages\"");
        if (const json::Value* tools = request.find("tools")) {
            if (!tools->isArray()) throw Error("\"tools\" must be a list");
            for (size_t i = 0; i < tools->items().size(); ++i) {
                const json::Value& tool = tools->items()[i];
                const json::Value* fn = tool.find("function");
                if (!fn) fn = &tool;
                const json::Value* name = fn->find("name");
                if (!name || !name->isString())
                    throw Error("tools[" + std::to_string(i) + "] has no function name");
                conversation.tools.push_back(tool);
            }
        }
        if (const json::Value* thinking = request.find("thinking")) {
            if (!thinking->isBool()) throw Error("\"thinking\" must be true or false");
            conversation.thinking = thinking->asBool();
        }
        if (const json::Value* gen = request.find("add_generation_prompt")) {
            if (!gen->isBool()) throw Error("\"add_generation_prompt\" must be true or false");
            conversation.addGenerationPrompt = gen->asBool();
        }
    }
    if (!messages->isArray()) throw Error("\"messages\" must be a list");

    for (size_t m = 0; m < messages->items().size(); ++m) {
        const json::Value& in = messages->items()[m];
        if (!in.isObject()) throw Error(where(m) + " must be an object");
        const json::Value* role = in.find("role");
        if (!role || !role->isString() || role->asString().empty())
            throw Error(where(m, "role") + " must be a string");
        const json::Value* content = in.find("content");
        static const json::Value null;
        if (!content) content = &null;

        if (role->asString() == "tool") {
            // A tool result belongs to the model turn that asked for it.
            Message* caller = conversation.messages.empty() ? nullptr : &conversation.messages.back();
            if (caller && (caller->role == "assistant" || caller->role == "model") &&
                !caller->toolCalls.empty()) {
                ToolResponse response;
                if (const json::Value* name = in.find("name"); name && name->isString())
                    response.name = name->asString();
                if (response.name.empty()) {
                    const json::Value* id = in.find("tool_call_id");
                    for (const ToolCall& call : caller->toolCalls)
                        if (id && id->isString() && call.id == id->asString()) response.name = call.name;
                }
                if (response.name.empty() && caller->toolResponses.size() < caller->toolCalls.size())
                    response.name = caller->toolCalls[caller->toolResponses.size()].name;
                const std::string text = textOf(*content, where(m, "content"));
                try {
                    json::Value parsed = json::parse(text);
                    response.response = parsed.isObject() ? parsed : json::Value::string(text);
                } catch (const json::Error&) {
                    response.response = json::Value::string(text);
                }
                caller->toolResponses.push_back(std::move(response));
                continue;
            }
        }

        Message out;
        out.role = role->asString();
        out.content = partsOf(*content, defaults, where(m, "content"));
        if (const json::Value* calls = in.find("tool_calls"); calls && !calls->isNull()) {
            if (!calls->isArray()) throw Error(where(m, "tool_calls") + " must be a list");
            for (size_t c = 0; c < calls->items().size(); ++c) {
                const json::Value& call = calls->items()[c];
                const std::string path = where(m, "tool_calls") + "[" + std::to_string(c) + "]";
                const json::Value* fn = call.find("function");
                if (!fn) fn = &call;
                const json::Value* name = fn->find("name");
                if (!name || !name->isString()) throw Error(path + " has no function name");
                ToolCall tc;
                tc.name = name->asString();
                if (const json::Value* id = call.find("id"); id && id->isString()) tc.id = id->asString();
                const json::Value* args = fn->find("arguments");
                if (!args || args->isNull()) {
                    tc.arguments = json::Value::object();
                } else if (args->isString()) {
                    // OpenAI sends arguments as JSON text; the template wants the object.
                    try {
                        json::Value parsed = json::parse(args->asString());
                        tc.arguments = parsed.isObject() ? parsed : *args;
                    } catch (const json::Error&) {
                        tc.arguments = *args;
                    }
                } else if (args->isObject()) {
                    tc.arguments = *args;
                } else {
                    throw Error(path + ".arguments must be an object or a JSON string");
                }
                out.toolCalls.push_back(std::move(tc));
            }
        }
        if (const json::Value* responses = in.find("tool_responses"); responses && !responses->isNull()) {
            if (!responses->isArray()) throw Error(where(m, "tool_responses") + " must be a list");
            for (const auto& r : responses->items()) {
                ToolResponse tr;
                if (const json::Value* name = r.find("name"); name && name->isString())
                    tr.name = name->asString();
                if (const json::Value* value = r.find("response")) tr.response = *value;
                out.toolResponses.push_back(std::move(tr));
            }
        }
        conversation.messages.push_back(std::move(out));
    }
    return conversation;
}

} // namespace ocelle::chat
