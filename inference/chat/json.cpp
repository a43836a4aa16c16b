#include "chat/json.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>

namespace ocelle::chat::json {

namespace {

const char* typeName(Type t) {
    switch (t) {
    case Type::Null:
        return "null";
    case Type::Bool:
        return "a boolean";
    case Type::Number:
        return "a number";
    case Type::String:
        return "a string";
    case Type::Array:
        return "an array";
    case Type::Object:
        return "an object";
    }
    return "?";
}

[[noreturn]] void wrongType(Type actual, const char* wanted) {
    throw Error(std::string("expected ") + wanted + ", found " + typeName(actual));
}

std::string formatNumber(double n) {
    if (!std::isfinite(n)) throw Error("JSON cannot hold NaN or infinity");
    char buffer[64];
    auto result = std::to_chars(buffer, buffer + sizeof buffer, n); // shortest round-trip form
    return std::string(buffer, result.ptr);
}

void appendUtf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

class Parser {
public:
    Parser(std::string_view text, size_t maxDepth) : text_(text), maxDepth_(maxDepth) {}

    Value document() {
        skipSpace();
        Value v = value(0);
        skipSpace();
        if (pos_ < text_.size()) fail("unexpected text after the JSON value");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        size_t line = 1, column = 1;
        for (size_t i = 0; i < pos_ && i < text_.size(); ++i) {
            if (text_[i] == '\n') {
                ++line;
                column = 1;
            } else {
                ++column;
            }
        }
        throw Error("JSON line " + std::to_string(line) + ", column " + std::to_string(column) + ": " + what);
    }

    void skipSpace() {
        while (pos_ < text_.size() &&
               (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
            ++pos_;
    }

    bool consume(std::string_view word) {
        if (text_.substr(pos_, word.size()) != word) return false;
        pos_ += word.size();
        return true;
    }

    Value value(size_t depth) {
        if (pos_ >= text_.size()) fail("unexpected end of text, expected a value");
        const char c = text_[pos_];
        if (c == '{' || c == '[') {
            if (depth >= maxDepth_) fail("nested deeper than " + std::to_string(maxDepth_) + " levels");
            return c == '{' ? object(depth + 1) : array(depth + 1);
        }
        if (c == '"') return Value::string(string());
        if (c == '-' || (c >= '0' && c <= '9')) return number();
        if (consume("true")) return Value::boolean(true);
        if (consume("false")) return Value::boolean(false);
        if (consume("null")) return Value();
        fail(std::string("unexpected character '") + c + "', expected a value");
    }

    Value object(size_t depth) {
        ++pos_; // {
        Value result = Value::object();
        skipSpace();
        if (pos_ < text_.size() && text_[pos_] == '}') {
            ++pos_;
            return result;
        }
        while (true) {
            skipSpace();
            if (pos_ >= text_.size() || text_[pos_] != '"') fail("expected a member name in double quotes");
            std::string key = string();
            skipSpace();
            if (pos_ >= text_.size() || text_[pos_] != ':') fail("expected ':' after a member name");
            ++pos_;
            skipSpace();
            result.set(std::move(key), value(depth));
            skipSpace();
            if (pos_ < text_.size() && text_[pos_] == ',') {
                ++pos_;
                continue;
            }
            if (pos_ < text_.size() && text_[pos_] == '}') {
                ++pos_;
                return result;
            }
            fail("expected ',' or '}' in an object");
        }
    }

    Value array(size_t depth) {
        ++pos_; // [
        Value result = Value::array();
        skipSpace();
        if (pos_ < text_.size() && text_[pos_] == ']') {
            ++pos_;
            return result;
        }
        while (true) {
            skipSpace();
            result.push(value(depth));
            skipSpace();
            if (pos_ < text_.size() && text_[pos_] == ',') {
                ++pos_;
                continue;
            }
            if (pos_ < text_.size() && text_[pos_] == ']') {
                ++pos_;
                return result;
            }
            fail("expected ',' or ']' in an array");
        }
    }

    Value number() {
        const size_t start = pos_;
        auto digits = [&] {
            const size_t from = pos_;
            while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
            return pos_ - from;
        };
        if (text_[pos_] == '-') ++pos_;
        if (pos_ < text_.size() && text_[pos_] == '0') {
            ++pos_;
            if (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9')
                fail("numbers cannot have leading zeros");
        } else if (digits() == 0) {
            fail("expected digits in a number");
        }
        if (pos_ < text_.size() && text_[pos_] == '.') {
            ++pos_;
            if (digits() == 0) fail("expected digits after the decimal point");
        }
        if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
            ++pos_;
            if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
            if (digits() == 0) fail("expected digits in the exponent");
        }
        std::string literal(text_.substr(start, pos_ - start));
        const double n = std::strtod(literal.c_str(), nullptr);
        if (!std::isfinite(n)) fail("number out of range: " + literal);
        return Value::number(n, std::move(literal));
    }

    uint32_t hex4() {
        if (pos_ + 4 > text_.size()) fail("incomplete \\u escape");
        uint32_t v = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = text_[pos_++];
            v <<= 4;
            if (c >= '0' && c <= '9') {
                v |= static_cast<uint32_t>(c - '0');
            } else if (c >= 'a' && c <= 'f') {
                v |= static_cast<uint32_t>(c - 'a' + 10);
            } else if (c >= 'A' && c <= 'F') {
                v |= static_cast<uint32_t>(c - 'A' + 10);
            } else {
                fail("invalid hex digit in a \\u escape");
            }
        }
        return v;
    }

    std::string string() {
        ++pos_; // opening quote
        std::string out;
        while (true) {
            if (pos_ >= text_.size()) fail("unterminated string");
            const auto c = static_cast<uint8_t>(text_[pos_]);
            if (c == '"') {
                ++pos_;
                return out;
            }
            if (c < 0x20) fail("control character in a string (must be escaped)");
            if (c == '\\') {
                ++pos_;
                if (pos_ >= text_.size()) fail("unterminated escape");
                const char e = text_[pos_++];
                switch (e) {
                case '"':
                    out.push_back('"');
                    break;
                case '\\':
                    out.push_back('\\');
                    break;
                case '/':
                    out.push_back('/');
                    break;
                case 'b':
                    out.push_back('\b');
                    break;
                case 'f':
                    out.push_back('\f');
                    break;
                case 'n':
                    out.push_back('\n');
                    break;
                case 'r':
                    out.push_back('\r');
                    break;
                case 't':
                    out.push_back('\t');
                    break;
                case 'u': {
                    uint32_t cp = hex4();
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        if (!consume("\\u")) fail("high surrogate without a low surrogate");
                        const uint32_t low = hex4();
                        if (low < 0xDC00 || low > 0xDFFF) fail("high surrogate without a low surrogate");
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        fail("low surrogate without a high surrogate");
                    }
                    appendUtf8(out, cp);
                    break;
                }
                default:
                    fail(std::string("invalid escape \\") + e);
                }
                continue;
            }
            // Raw bytes must be well-formed UTF-8.
            size_t length = 1;
            uint32_t cp = c;
            if (c >= 0x80) {
                if (c >= 0xC2 && c <= 0xDF) {
                    length = 2;
                    cp = c & 0x1F;
                } else if (c >= 0xE0 && c <= 0xEF) {
                    length = 3;
                    cp = c & 0x0F;
                } else if (c >= 0xF0 && c <= 0xF4) {
                    length = 4;
                    cp = c & 0x07;
                } else {
                    fail("invalid UTF-8 in a string");
                }
                if (pos_ + length > text_.size()) fail("invalid UTF-8 in a string");
                for (size_t k = 1; k < length; ++k) {
                    const auto b = static_cast<uint8_t>(text_[pos_ + k]);
                    if ((b & 0xC0) != 0x80) fail("invalid UTF-8 in a string");
                    cp = (cp << 6) | (b & 0x3F);
                }
                const bool overlong = (length == 3 && cp < 0x800) || (length == 4 && cp < 0x10000);
                if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                    fail("invalid UTF-8 in a string");
            }
            out.append(text_.substr(pos_, length));
            pos_ += length;
        }
    }

    std::string_view text_;
    size_t maxDepth_;
    size_t pos_ = 0;
};

void write(const Value& v, std::string& out) {
    switch (v.type()) {
    case Type::Null:
        out += "null";
        break;
    case Type::Bool:
        out += v.asBool() ? "true" : "false";
        break;
    case Type::Number:
        out += v.numberLiteral();
        break;
    case Type::String:
        out += quote(v.asString());
        break;
    case Type::Array: {
        out.push_back('[');
        bool first = true;
        for (const Value& item : v.items()) {
            if (!first) out.push_back(',');
            first = false;
            write(item, out);
        }
        out.push_back(']');
        break;
    }
    case Type::Object: {
        out.push_back('{');
        bool first = true;
        for (const auto& [key, item] : v.members()) {
            if (!first) out.push_back(',');
            first = false;
            out += quote(key);
            out.push_back(':');
            write(item, out);
        }
        out.push_back('}');
        break;
    }
    }
}

} // namespace

Value Value::boolean(bool b) {
    Value v;
    v.type_ = Type::Bool;
    v.bool_ = b;
    return v;
}

Value Value::number(double n) {
    return number(n, formatNumber(n));
}

Value Value::number(double n, std::string literal) {
    Value v;
    v.type_ = Type::Number;
    v.number_ = n;
    v.text_ = std::move(literal);
    return v;
}

Value Value::string(std::string s) {
    Value v;
    v.type_ = Type::String;
    v.text_ = std::move(s);
    return v;
}

Value Value::array(std::vector<Value> items) {
    Value v;
    v.type_ = Type::Array;
    v.items_ = std::move(items);
    return v;
}

Value Value::object(std::vector<std::pair<std::string, Value>> members) {
    Value v;
    v.type_ = Type::Object;
    for (auto& [key, value] : members) v.set(std::move(key), std::move(value));
    return v;
}

bool Value::asBool() const {
    if (type_ != Type::Bool) wrongType(type_, "a boolean");
    return bool_;
}

double Value::asNumber() const {
    if (type_ != Type::Number) wrongType(type_, "a number");
    return number_;
}

const std::string& Value::numberLiteral() const {
    if (type_ != Type::Number) wrongType(type_, "a number");
    return text_;
}

bool Value::isInteger() const {
    return type_ == Type::Number && text_.find_first_of(".eE") == std::string::npos;
}

const std::string& Value::asString() const {
    if (type_ != Type::String) wrongType(type_, "a string");
    return text_;
}

const std::vector<Value>& Value::items() const {
    if (type_ != Type::Array) wrongType(type_, "an array");
    return items_;
}

std::vector<Value>& Value::items() {
    if (type_ != Type::Array) wrongType(type_, "an array");
    return items_;
}

const std::vector<std::pair<std::string, Value>>& Value::members() const {
    if (type_ != Type::Object) wrongType(type_, "an object");
    return members_;
}

const Value* Value::find(std::string_view key) const {
    if (type_ != Type::Object) return nullptr;
    for (auto it = members_.rbegin(); it != members_.rend(); ++it) {
        if (it->first == key) return &it->second;
    }
    return nullptr;
}

void Value::set(std::string key, Value value) {
    if (type_ != Type::Object) wrongType(type_, "an object");
    for (auto& member : members_) {
        if (member.first == key) {
            member.second = std::move(value);
            return;
        }
    }
    members_.emplace_back(std::move(key), std::move(value));
}

void Value::push(Value value) {
    if (type_ != Type::Array) wrongType(type_, "an array");
    items_.push_back(std::move(value));
}

bool Value::truthy() const {
    switch (type_) {
    case Type::Null:
        return false;
    case Type::Bool:
        return bool_;
    case Type::Number:
        return number_ != 0;
    case Type::String:
        return !text_.empty();
    case Type::Array:
        return !items_.empty();
    case Type::Object:
        return !members_.empty();
    }
    return false;
}

bool Value::operator==(const Value& other) const {
    if (type_ != other.type_) return false;
    switch (type_) {
    case Type::Null:
        return true;
    case Type::Bool:
        return bool_ == other.bool_;
    case Type::Number:
        return number_ == other.number_;
    case Type::String:
        return text_ == other.text_;
    case Type::Array:
        return items_ == other.items_;
    case Type::Object:
        return members_ == other.members_;
    }
    return false;
}

Value parse(std::string_view text, size_t maxDepth) {
    return Parser(text, maxDepth).document();
}

std::string serialize(const Value& value) {
    std::string out;
    write(value, out);
    return out;
}

std::string quote(std::string_view text) {
    static const char* hex = "0123456789abcdef";
    std::string out;
    out.reserve(text.size() + 2);
    out.push_back('"');
    for (char ch : text) {
        const auto c = static_cast<uint8_t>(ch);
        switch (ch) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        case '\b':
            out += "\\b";
            break;
        case '\f':
            out += "\\f";
            break;
        default:
            if (c < 0x20) {
                out += "\\u00";
                out.push_back(hex[c >> 4]);
                out.push_back(hex[c & 15]);
            } else {
                out.push_back(ch);
            }
        }
    }
    out.push_back('"');
    return out;
}

} // namespace ocelle::chat::json
