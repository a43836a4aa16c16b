// Syntax colouring for code blocks in answers: a small lexer that knows the keywords, string
// quotes, comment markers and numbers of common languages (C family, Python, JavaScript/TypeScript,
// Rust, Go, Java, Kotlin, C#, shell, SQL, JSON, YAML, Lua, Ruby, PHP). It splits code into spans of
// a few kinds, never fails (unknown languages get strings, numbers and common comments only), and
// turns the spans into HTML for Qt's rich text.
#pragma once

#include <QColor>
#include <QString>
#include <vector>

namespace ocelle::app {

struct CodeSpan {
    enum class Kind { Plain, Keyword, String, Comment, Number };
    Kind kind = Kind::Plain;
    int start = 0;
    int length = 0;
};

struct CodeColors {
    QColor plain, keyword, string, comment, number;
    static CodeColors light();
    static CodeColors dark();
};

class CodeHighlighter {
public:
    // `language` is the fence's info string ("cpp", "Python", "sh", ...), case-insensitive.
    explicit CodeHighlighter(const QString& language);

    // Spans covering all of `code` in order, adjacent plain text merged.
    std::vector<CodeSpan> spans(const QString& code) const;
    // Escaped HTML (inside <pre>) with each span coloured.
    QString toHtml(const QString& code, const CodeColors& colors) const;
    bool knowsLanguage() const { return known_; }

private:
    bool known_ = false;
    QStringList keywords_;
    QStringList lineComments_; // e.g. "//", "#", "--"
    QString blockOpen_, blockClose_;
    bool tripleQuotes_ = false;  // Python's """ and '''
    bool backtickStrings_ = false;
    bool singleQuoteStrings_ = true;
};

} // namespace ocelle::app
