// The code highlighter: spans cover the code exactly, and keywords, strings, comments and numbers
// are recognised in the languages answers use most.
#include "code_highlighter.h"

#include <QtTest>

using ocelle::app::CodeHighlighter;
using ocelle::app::CodeSpan;
using Kind = CodeSpan::Kind;

namespace {

// The text of every span of one kind, in order.
QStringList textsOf(const QString& language, const QString& code, Kind kind) {
    QStringList out;
    for (const CodeSpan& s : CodeHighlighter(language).spans(code))
        if (s.kind == kind) out << code.mid(s.start, s.length);
    return out;
}

} // namespace

class TestCodeHighlighter : public QObject {
    Q_OBJECT

private slots:
    void spansCoverTheCode() {
        const QString code = QStringLiteral("for (int i = 0; i < 10; ++i) { puts(\"hi\"); } /* done */\n");
        int expected = 0;
        for (const CodeSpan& s : CodeHighlighter(QStringLiteral("c")).spans(code)) {
            QCOMPARE(s.start, expected);
            QVERIFY(s.length > 0);
            expected += s.length;
        }
        QCOMPARE(expected, code.size());
    }

    void cpp() {
        const QString code = QStringLiteral("constexpr int kSize = 0x10; // sixteen\nauto s = \"a\\\"b\";");
        QCOMPARE(textsOf(QStringLiteral("C++"), code, Kind::Keyword),
                 QStringList({"constexpr", "int", "auto"}));
        QCOMPARE(textsOf(QStringLiteral("cpp"), code, Kind::Number), QStringList({"0x10"}));
        QCOMPARE(textsOf(QStringLiteral("cpp"), code, Kind::Comment), QStringList({"// sixteen"}));
        QCOMPARE(textsOf(QStringLiteral("cpp"), code, Kind::String), QStringList({"\"a\\\"b\""}));
    }

    void python() {
        const QString code =
            QStringLiteral("def f(x):\n    \"\"\"Doc \"quoted\".\"\"\"\n    return x * 2.5e-3  # scale\n");
        QCOMPARE(textsOf(QStringLiteral("python"), code, Kind::Keyword), QStringList({"def", "return"}));
        QCOMPARE(textsOf(QStringLiteral("py"), code, Kind::String),
                 QStringList({"\"\"\"Doc \"quoted\".\"\"\""}));
        QCOMPARE(textsOf(QStringLiteral("py"), code, Kind::Number), QStringList({"2.5e-3"}));
        QCOMPARE(textsOf(QStringLiteral("py"), code, Kind::Comment), QStringList({"# scale"}));
    }

    void otherLanguages() {
        QCOMPARE(textsOf(QStringLiteral("js"), QStringLiteral("const s = `x ${y}`;"), Kind::String),
                 QStringList({"`x ${y}`"}));
        QCOMPARE(textsOf(QStringLiteral("sql"), QStringLiteral("SELECT id FROM t -- all"), Kind::Keyword),
                 QStringList({"SELECT", "FROM"}));
        QCOMPARE(textsOf(QStringLiteral("sql"), QStringLiteral("SELECT id FROM t -- all"), Kind::Comment),
                 QStringList({"-- all"}));
        QCOMPARE(textsOf(QStringLiteral("bash"), QStringLiteral("echo a#b # note"), Kind::Comment),
                 QStringList({"# note"}));
        // Rust lifetimes are not strings.
        QCOMPARE(textsOf(QStringLiteral("rust"), QStringLiteral("fn f<'a>(s: &'a str)"), Kind::String),
                 QStringList());
        QVERIFY(CodeHighlighter(QStringLiteral("Rust")).knowsLanguage());
        QVERIFY(!CodeHighlighter(QStringLiteral("brainfuck")).knowsLanguage());
        // An unknown language still gets strings and numbers, and no keywords.
        QCOMPARE(textsOf(QStringLiteral("x"), QStringLiteral("if \"s\" 42"), Kind::Keyword), QStringList());
        QCOMPARE(textsOf(QStringLiteral("x"), QStringLiteral("if \"s\" 42"), Kind::String), QStringList({"\"s\""}));
    }

    void unterminatedPiecesDoNotSwallowEverything() {
        // A string left open ends at its line; a block comment left open runs to the end.
        const QString code = QStringLiteral("x = \"open\ny = 1 /* open");
        QCOMPARE(textsOf(QStringLiteral("c"), code, Kind::String), QStringList({"\"open"}));
        QCOMPARE(textsOf(QStringLiteral("c"), code, Kind::Number), QStringList({"1"}));
        QCOMPARE(textsOf(QStringLiteral("c"), code, Kind::Comment), QStringList({"/* open"}));
    }

    void htmlIsEscapedAndColoured() {
        const auto colors = ocelle::app::CodeColors::light();
        const QString html = CodeHighlighter(QStringLiteral("cpp")).toHtml(QStringLiteral("if (a<b && c) return;"), colors);
        QVERIFY(html.contains(QStringLiteral("a&lt;b &amp;&amp; c")));
        QVERIFY(html.contains(QStringLiteral("<span style=\"color:%1\">if</span>").arg(colors.keyword.name())));
    }
};

QTEST_GUILESS_MAIN(TestCodeHighlighter)
#include "test_code_highlighter.moc"
