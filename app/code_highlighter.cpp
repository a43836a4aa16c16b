#include "code_highlighter.h"

#include <QHash>

namespace ocelle::app {

namespace {

struct LanguageRules {
    QStringList names;
    QString keywords; // space-separated
    QStringList lineComments;
    QString blockOpen, blockClose;
    bool tripleQuotes = false;
    bool backtickStrings = false;
    bool singleQuoteStrings = true;
};

const std::vector<LanguageRules>& languages() {
    static const std::vector<LanguageRules> rules = {
        {{"c", "h", "cpp", "c++", "cxx", "hpp", "cc", "objc", "cuda", "glsl", "hlsl"},
         "auto bool break case catch char class const constexpr consteval continue default delete do double "
         "else enum explicit extern false float for friend goto if inline int long mutable namespace new "
         "noexcept nullptr operator override private protected public return short signed sizeof static "
         "struct switch template this throw true try typedef typename union unsigned using virtual void "
         "volatile while include define ifdef ifndef endif pragma",
         {"//"}, "/*", "*/"},
        {{"python", "py", "python3"},
         "and as assert async await break class continue def del elif else except False finally for from "
         "global if import in is lambda None nonlocal not or pass raise return True try while with yield "
         "self print",
         {"#"}, "", "", true},
        {{"javascript", "js", "jsx", "typescript", "ts", "tsx", "mjs", "node"},
         "async await break case catch class const continue debugger default delete do else export extends "
         "false finally for function if import in instanceof let new null of return static super switch this "
         "throw true try typeof undefined var void while yield interface type enum implements",
         {"//"}, "/*", "*/", false, true},
        {{"rust", "rs"},
         "as async await break const continue crate else enum extern false fn for if impl in let loop match "
         "mod move mut pub ref return self Self static struct super trait true type unsafe use where while "
         "dyn Some None Ok Err",
         {"//"}, "/*", "*/", false, false, false},
        {{"go", "golang"},
         "break case chan const continue default defer else fallthrough for func go goto if import interface "
         "map package range return select struct switch type var nil true false",
         {"//"}, "/*", "*/", false, true},
        {{"java", "kotlin", "kt", "scala", "csharp", "cs", "c#", "swift", "dart"},
         "abstract boolean break byte case catch char class const continue default do double else enum "
         "extends final finally float for if implements import instanceof int interface long native new "
         "null package private protected public return short static super switch synchronized this throw "
         "throws try void volatile while true false var val fun let func using namespace string override",
         {"//"}, "/*", "*/"},
        {{"sh", "bash", "shell", "zsh", "console", "shellscript"},
         "if then else elif fi for while until do done case esac function in return export local echo exit "
         "source alias cd set unset readonly shift",
         {"#"}, "", ""},
        {{"sql", "sqlite", "postgresql", "mysql"},
         "select from where insert into values update set delete create table drop alter index primary key "
         "foreign references not null and or join left right inner outer on group by order having limit as "
         "distinct union all begin commit rollback transaction if exists integer text real blob",
         {"--"}, "/*", "*/"},
        {{"json", "jsonc"}, "true false null", {"//"}, "/*", "*/"},
        {{"yaml", "yml", "toml", "ini", "conf"}, "true false null yes no on off", {"#"}, "", ""},
        {{"lua"},
         "and break do else elseif end false for function goto if in local nil not or repeat return then "
         "true until while",
         {"--"}, "--[[", "]]"},
        {{"ruby", "rb"},
         "alias and begin break case class def defined do else elsif end ensure false for if in module next "
         "nil not or redo rescue retry return self super then true undef unless until when while yield",
         {"#"}, "", ""},
        {{"php"},
         "abstract and array as break case catch class clone const continue declare default do echo else "
         "elseif empty extends final for foreach function global if implements include instanceof interface "
         "isset new null private protected public require return static switch throw trait try unset use "
         "var while true false",
         {"//", "#"}, "/*", "*/"},
    };
    return rules;
}

bool isIdentifierStart(QChar c) {
    return c.isLetter() || c == QLatin1Char('_');
}
bool isIdentifierPart(QChar c) {
    return c.isLetterOrNumber() || c == QLatin1Char('_');
}

} // namespace

CodeColors CodeColors::light() {
    return {QColor(0x1d1d21), QColor(0x8a2bb8), QColor(0x1d7a35), QColor(0x6f7582), QColor(0xb35c00)};
}

CodeColors CodeColors::dark() {
    return {QColor(0xe4e4ea), QColor(0xd29bff), QColor(0x8fd18f), QColor(0x8b919e), QColor(0xf0b070)};
}

CodeHighlighter::CodeHighlighter(const QString& language) {
    const QString name = language.trimmed().toLower();
    for (const LanguageRules& rules : languages()) {
        if (!rules.names.contains(name)) continue;
        known_ = true;
        keywords_ = rules.keywords.split(QLatin1Char(' '), Qt::SkipEmptyParts);
        lineComments_ = rules.lineComments;
        blockOpen_ = rules.blockOpen;
        blockClose_ = rules.blockClose;
        tripleQuotes_ = rules.tripleQuotes;
        backtickStrings_ = rules.backtickStrings;
        singleQuoteStrings_ = rules.singleQuoteStrings;
        return;
    }
    // Unknown or no language: the common comment markers, no keywords.
    lineComments_ = {QStringLiteral("//"), QStringLiteral("#")};
    blockOpen_ = QStringLiteral("/*");
    blockClose_ = QStringLiteral("*/");
}

std::vector<CodeSpan> CodeHighlighter::spans(const QString& code) const {
    std::vector<CodeSpan> out;
    auto add = [&out](CodeSpan::Kind kind, int start, int length) {
        if (length <= 0) return;
        if (!out.empty() && out.back().kind == kind && kind == CodeSpan::Kind::Plain &&
            out.back().start + out.back().length == start) {
            out.back().length += length;
            return;
        }
        out.push_back({kind, start, length});
    };
    const bool sqlLike = keywords_.contains(QStringLiteral("select"));
    const int n = static_cast<int>(code.size());
    int i = 0;
    while (i < n) {
        const QChar c = code[i];
        // Comments.
        if (!blockOpen_.isEmpty() && code.mid(i, blockOpen_.size()) == blockOpen_) {
            int end = code.indexOf(blockClose_, i + static_cast<int>(blockOpen_.size()));
            end = end < 0 ? n : end + static_cast<int>(blockClose_.size());
            add(CodeSpan::Kind::Comment, i, end - i);
            i = end;
            continue;
        }
        bool lineComment = false;
        for (const QString& marker : lineComments_) {
            if (code.mid(i, marker.size()) != marker) continue;
            // "#" starts a comment only at a word boundary (not in "a#b" or C's "#include").
            if (marker == QLatin1String("#") && i > 0 && !code[i - 1].isSpace()) continue;
            lineComment = true;
            break;
        }
        if (lineComment) {
            int end = code.indexOf(QLatin1Char('\n'), i);
            if (end < 0) end = n;
            add(CodeSpan::Kind::Comment, i, end - i);
            i = end;
            continue;
        }
        // Strings.
        const bool quote = c == QLatin1Char('"') || (c == QLatin1Char('\'') && singleQuoteStrings_) ||
                           (c == QLatin1Char('`') && backtickStrings_);
        if (quote) {
            const QString triple(3, c);
            if (tripleQuotes_ && code.mid(i, 3) == triple) {
                int end = code.indexOf(triple, i + 3);
                end = end < 0 ? n : end + 3;
                add(CodeSpan::Kind::String, i, end - i);
                i = end;
                continue;
            }
            int j = i + 1;
            while (j < n && code[j] != c) {
                if (code[j] == QLatin1Char('\\')) ++j;
                else if (code[j] == QLatin1Char('\n') && c != QLatin1Char('`')) break; // unterminated
                ++j;
            }
            const int end = j < n && code[j] == c ? j + 1 : j; // an open string ends at its line
            add(CodeSpan::Kind::String, i, end - i);
            i = end;
            continue;
        }
        // Numbers (decimal, hex, floats with exponents and suffixes).
        if (c.isDigit() || (c == QLatin1Char('.') && i + 1 < n && code[i + 1].isDigit())) {
            int j = i + 1;
            while (j < n && (code[j].isLetterOrNumber() || code[j] == QLatin1Char('.') ||
                             code[j] == QLatin1Char('_') ||
                             ((code[j] == QLatin1Char('+') || code[j] == QLatin1Char('-')) &&
                              (code[j - 1] == QLatin1Char('e') || code[j - 1] == QLatin1Char('E')))))
                ++j;
            add(CodeSpan::Kind::Number, i, j - i);
            i = j;
            continue;
        }
        // Words: keywords or plain identifiers.
        if (isIdentifierStart(c)) {
            int j = i + 1;
            while (j < n && isIdentifierPart(code[j])) ++j;
            const QString word = code.mid(i, j - i);
            const bool keyword = sqlLike ? keywords_.contains(word.toLower()) : keywords_.contains(word);
            add(keyword ? CodeSpan::Kind::Keyword : CodeSpan::Kind::Plain, i, j - i);
            i = j;
            continue;
        }
        add(CodeSpan::Kind::Plain, i, 1);
        ++i;
    }
    return out;
}

QString CodeHighlighter::toHtml(const QString& code, const CodeColors& colors) const {
    QString html;
    html.reserve(code.size() * 2 + 64);
    html += QStringLiteral("<pre style=\"margin:0; color:%1\">").arg(colors.plain.name());
    for (const CodeSpan& span : spans(code)) {
        const QString text = code.mid(span.start, span.length).toHtmlEscaped();
        QColor color = colors.plain;
        switch (span.kind) {
        case CodeSpan::Kind::Plain:
            break;
        case CodeSpan::Kind::Keyword:
            color = colors.keyword;
            break;
        case CodeSpan::Kind::String:
            color = colors.string;
            break;
        case CodeSpan::Kind::Comment:
            color = colors.comment;
            break;
        case CodeSpan::Kind::Number:
            color = colors.number;
            break;
        }
        if (span.kind == CodeSpan::Kind::Plain) {
            html += text;
        } else {
            html += QStringLiteral("<span style=\"color:%1\">%2</span>").arg(color.name(), text);
        }
    }
    html += QStringLiteral("</pre>");
    return html;
}

} // namespace ocelle::app
