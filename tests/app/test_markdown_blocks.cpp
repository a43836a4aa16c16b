// Markdown in answers: how text is split into blocks, that a streaming answer only ever changes its
// last block (finished blocks keep their rows and are never re-rendered), and what the rich text
// of a text block contains (tables, links, inline code styled for the scheme).
#include "markdown_blocks.h"
#include "message_list_model.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QtTest>

using ocelle::app::MarkdownBlock;
using ocelle::app::splitMarkdown;

namespace {

const QString kAnswer = QStringLiteral(
    "# Sorting\n"
    "\n"
    "Here is **quick sort** in `Python`:\n"
    "\n"
    "```python\n"
    "def sort(xs):\n"
    "    return sorted(xs)  # built in\n"
    "```\n"
    "\n"
    "| size | time |\n"
    "|---|---:|\n"
    "| 10 | 1 ms |\n"
    "\n"
    "- first\n"
    "\n"
    "- second\n"
    "  continued\n"
    "\n"
    "See [the docs](https://docs.python.org/).\n");

} // namespace

class TestMarkdownBlocks : public QObject {
    Q_OBJECT

private slots:
    void splitsTextAndCode() {
        const auto blocks = splitMarkdown(kAnswer);
        QCOMPARE(blocks.size(), size_t(6));
        QCOMPARE(blocks[0].source, QStringLiteral("# Sorting"));
        QCOMPARE(blocks[1].source, QStringLiteral("Here is **quick sort** in `Python`:"));
        QCOMPARE(blocks[2].kind, MarkdownBlock::Kind::Code);
        QCOMPARE(blocks[2].language, QStringLiteral("python"));
        QCOMPARE(blocks[2].source, QStringLiteral("def sort(xs):\n    return sorted(xs)  # built in"));
        QVERIFY(blocks[2].closed);
        QCOMPARE(blocks[3].source, QStringLiteral("| size | time |\n|---|---:|\n| 10 | 1 ms |"));
        // List items separated by blank lines stay one list.
        QCOMPARE(blocks[4].source, QStringLiteral("- first\n\n- second\n  continued"));
        QCOMPARE(blocks[5].source, QStringLiteral("See [the docs](https://docs.python.org/)."));
        // Each block starts where its first line is in the text.
        for (const MarkdownBlock& b : blocks) {
            if (b.kind == MarkdownBlock::Kind::Text) QVERIFY(kAnswer.mid(b.start).startsWith(b.source));
            else QVERIFY(kAnswer.mid(b.start).startsWith(QStringLiteral("```python")));
        }
    }

    void unclosedFenceIsOpenCode() {
        const auto blocks = splitMarkdown(QStringLiteral("Look:\n~~~~ rust\nfn main() {\n```\n"));
        QCOMPARE(blocks.size(), size_t(2));
        QCOMPARE(blocks[1].kind, MarkdownBlock::Kind::Code);
        QCOMPARE(blocks[1].language, QStringLiteral("rust"));
        QVERIFY(!blocks[1].closed); // ``` does not close a ~~~~ fence
        QCOMPARE(blocks[1].source, QStringLiteral("fn main() {\n```"));
        QVERIFY(splitMarkdown(QString()).empty());
        QVERIFY(splitMarkdown(QStringLiteral("\n\n  \n")).empty());
    }

    // The answer arrives a few characters at a time, as from the stream batcher: every change is
    // to the last row or appends rows; earlier rows never change. The end result equals a split
    // of the whole text.
    void streamingTouchesOnlyTheLastBlock() {
        MarkdownBlockModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
        QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);

        QString text;
        int lastChanges = 0;
        for (int i = 0; i < kAnswer.size(); i += 3) {
            const int rowsBefore = model.rowCount();
            changed.clear();
            inserted.clear();
            text = kAnswer.left(i + 3);
            model.setText(text);
            for (const auto& args : changed) {
                const int first = args.at(0).toModelIndex().row();
                const int last = args.at(1).toModelIndex().row();
                QCOMPARE(first, rowsBefore - 1);
                QCOMPARE(last, rowsBefore - 1);
                ++lastChanges;
            }
            for (const auto& args : inserted) QCOMPARE(args.at(1).toInt(), rowsBefore);
        }
        QCOMPARE(reset.count(), 1); // only the very first text, when there were no blocks
        QCOMPARE(removed.count(), 0);
        QVERIFY(lastChanges > 10);
        QCOMPARE(model.blocks(), splitMarkdown(kAnswer));
    }

    void replacedTextResets() {
        MarkdownBlockModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setText(QStringLiteral("one\n\ntwo"));
        QCOMPARE(model.count(), 2);
        QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
        model.setText(QStringLiteral("other"));
        QCOMPARE(reset.count(), 1);
        QCOMPARE(model.count(), 1);
        QCOMPARE(model.data(model.index(0), MarkdownBlockModel::KindRole).toString(), QStringLiteral("text"));
    }

    void textBlockHtmlIsStyled() {
        using ocelle::app::MarkdownColors;
        const MarkdownColors light = MarkdownColors::light();
        const QString table = ocelle::app::markdownToHtml(QStringLiteral("| a | b |\n|---|---|\n| 1 | 2 |"), light);
        QVERIFY2(table.contains(QStringLiteral("<table")), qPrintable(table));
        QVERIFY(table.contains(light.tableBorder.name(), Qt::CaseInsensitive));
        QVERIFY2(table.contains(QStringLiteral("font-weight:700;\">a<")), qPrintable(table)); // bold header
        QVERIFY(!table.contains(QStringLiteral("bgcolor"))); // not shaded
        const QString link =
            ocelle::app::markdownToHtml(QStringLiteral("[docs](https://example.org) and `x`"), light);
        QVERIFY(link.contains(QStringLiteral("href=\"https://example.org\"")));
        QVERIFY(link.contains(light.link.name(), Qt::CaseInsensitive));
        QVERIFY(link.contains(light.inlineCodeBackground.name(), Qt::CaseInsensitive));
        const QString darkLink =
            ocelle::app::markdownToHtml(QStringLiteral("[docs](https://example.org)"), MarkdownColors::dark());
        QVERIFY(darkLink.contains(MarkdownColors::dark().link.name(), Qt::CaseInsensitive));
        // No document font: the view's font family and size apply.
        QVERIFY(!link.contains(QStringLiteral("<body style")));
        const QString heading = ocelle::app::markdownToHtml(QStringLiteral("## Title"), light);
        QVERIFY(heading.contains(QStringLiteral("<h2")));
    }

    void codeBlockRolesAreHighlighted() {
        MarkdownBlockModel model;
        model.setText(QStringLiteral("```cpp\nint x = 42; // answer\n```"));
        QCOMPARE(model.count(), 1);
        const QModelIndex i = model.index(0);
        QCOMPARE(model.data(i, MarkdownBlockModel::KindRole).toString(), QStringLiteral("code"));
        QCOMPARE(model.data(i, MarkdownBlockModel::LanguageRole).toString(), QStringLiteral("cpp"));
        const QString light = model.data(i, MarkdownBlockModel::LightHtmlRole).toString();
        const QString dark = model.data(i, MarkdownBlockModel::DarkHtmlRole).toString();
        QVERIFY(light.contains(QStringLiteral("<pre")));
        QVERIFY(light != dark);
    }

    // Messages: a model message's blocks follow its streamed text; user messages have none.
    void messagesCarryBlocks() {
        MessageListModel messages;
        QAbstractItemModelTester tester(&messages, QAbstractItemModelTester::FailureReportingMode::QtTest);
        messages.append(MessageListModel::Author::User, QStringLiteral("```not rendered```"));
        const int row = messages.append(MessageListModel::Author::Model, QString());
        QVERIFY(!messages.data(messages.index(0), MessageListModel::BlocksRole).value<QObject*>());
        auto* blocks = qobject_cast<MarkdownBlockModel*>(
            messages.data(messages.index(row), MessageListModel::BlocksRole).value<QObject*>());
        QVERIFY(blocks);
        QCOMPARE(blocks->count(), 0);
        messages.appendStreamed(row, {}, QStringLiteral("Hi\n\n```sh\nls"));
        QCOMPARE(blocks->count(), 2);
        messages.appendStreamed(row, {}, QStringLiteral("\n```\nDone."));
        QCOMPARE(blocks->count(), 3);
        QVERIFY(blocks->blocks()[1].closed);
    }
};

QTEST_MAIN(TestMarkdownBlocks)
#include "test_markdown_blocks.moc"
