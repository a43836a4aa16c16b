#include "markdown_blocks.h"

#include "code_highlighter.h"

#include <QRegularExpression>
#include <QTextBlock>
#include <QTextCursor>
#include <QTextDocument>
#include <QTextFrame>
#include <QTextTable>

namespace ocelle::app {

namespace {

// A fence line: up to three spaces, then ``` or ~~~ (or longer), then an optional info string.
struct Fence {
    QChar marker;
    int length = 0;
    QString info;
};

bool parseFence(const QString& line, Fence& fence) {
    int i = 0;
    while (i < line.size() && i < 4 && line[i] == QLatin1Char(' ')) ++i;
    if (i > 3 || i >= line.size()) return false;
    const QChar marker = line[i];
    if (marker != QLatin1Char('`') && marker != QLatin1Char('~')) return false;
    int j = i;
    while (j < line.size() && line[j] == marker) ++j;
    if (j - i < 3) return false;
    const QString info = line.mid(j).trimmed();
    if (marker == QLatin1Char('`') && info.contains(QLatin1Char('`'))) return false;
    fence = {marker, j - i, info.section(QLatin1Char(' '), 0, 0)};
    return true;
}

bool closesFence(const QString& line, const Fence& open) {
    Fence f;
    return parseFence(line, f) && f.marker == open.marker && f.length >= open.length && f.info.isEmpty();
}

bool isBlank(const QString& line) {
    return line.trimmed().isEmpty();
}

// A list item ("- x", "* x", "+ x", "1. x", "1) x") or a line indented under one.
bool belongsToList(const QString& line) {
    static const QRegularExpression item(QStringLiteral("^\\s*([-*+]|\\d{1,9}[.)])(\\s|$)"));
    return item.match(line).hasMatch() || line.startsWith(QLatin1String("  ")) ||
           line.startsWith(QLatin1Char('\t'));
}

} // namespace

std::vector<MarkdownBlock> splitMarkdown(const QString& text, int offset) {
    std::vector<MarkdownBlock> blocks;
    bool inText = false, inCode = false, blankPending = false;
    bool lastLineInList = false;
    Fence fence;
    int codeLines = 0;
    int textEnd = 0; // end of the current text block's last non-blank line
    auto closeText = [&] {
        if (!inText) return;
        MarkdownBlock& b = blocks.back();
        b.source = text.mid(b.start - offset, textEnd - (b.start - offset));
        inText = false;
    };

    int pos = 0;
    const int n = static_cast<int>(text.size());
    while (pos < n) {
        int eol = text.indexOf(QLatin1Char('\n'), pos);
        const bool lastLine = eol < 0;
        if (lastLine) eol = n;
        const QString line = text.mid(pos, eol - pos);
        const int next = lastLine ? n : eol + 1;

        if (inCode) {
            MarkdownBlock& b = blocks.back();
            if (closesFence(line, fence)) {
                b.closed = true;
                inCode = false;
            } else {
                if (codeLines++ > 0) b.source += QLatin1Char('\n');
                b.source += line;
            }
            pos = next;
            continue;
        }
        if (parseFence(line, fence)) {
            closeText();
            blocks.push_back({MarkdownBlock::Kind::Code, {}, fence.info, false, offset + pos});
            inCode = true;
            codeLines = 0;
            blankPending = false;
            pos = next;
            continue;
        }
        if (isBlank(line)) {
            if (inText) blankPending = true;
            pos = next;
            continue;
        }
        const bool listLine = belongsToList(line);
        if (inText && blankPending && !(lastLineInList && listLine)) closeText();
        if (!inText) {
            blocks.push_back({MarkdownBlock::Kind::Text, {}, {}, true, offset + pos});
            inText = true;
        }
        blankPending = false;
        lastLineInList = listLine;
        textEnd = eol;
        pos = next;
    }
    closeText();
    return blocks;
}

MarkdownColors MarkdownColors::light() {
    return {QColor(0x2f4ac4), QColor(0xececf1), QColor(0xc9c9d3)};
}

MarkdownColors MarkdownColors::dark() {
    return {QColor(0x9db0ff), QColor(0x2e2e36), QColor(0x4a4a55)};
}

QString markdownToHtml(const QString& markdown, const MarkdownColors& colors) {
    QTextDocument document;
    document.setMarkdown(markdown, QTextDocument::MarkdownDialectGitHub);

    QTextCursor cursor(&document);
    for (QTextBlock block = document.begin(); block.isValid(); block = block.next()) {
        for (auto it = block.begin(); !it.atEnd(); ++it) {
            const QTextFragment fragment = it.fragment();
            QTextCharFormat format = fragment.charFormat();
            QTextCharFormat change;
            if (format.isAnchor()) change.setForeground(colors.link);
            else if (format.fontFixedPitch()) change.setBackground(colors.inlineCodeBackground);
            else continue;
            cursor.setPosition(fragment.position());
            cursor.setPosition(fragment.position() + fragment.length(), QTextCursor::KeepAnchor);
            cursor.mergeCharFormat(change);
        }
    }
    for (QTextFrame* frame : document.rootFrame()->childFrames()) {
        auto* table = qobject_cast<QTextTable*>(frame);
        if (!table) continue;
        QTextTableFormat format = table->format();
        format.setBorder(1);
        format.setBorderBrush(colors.tableBorder);
        format.setBorderStyle(QTextFrameFormat::BorderStyle_Solid);
        format.setBorderCollapse(true);
        format.setCellSpacing(0);
        format.setCellPadding(5);
        // No header shading: Qt Quick's text renderer (unlike QTextDocument's own painting) did
        // not fill shaded cells evenly (part of a cell stayed white); the header stays bold.
        table->setFormat(format);
    }
    QString html = document.toHtml();
    // The document's default font would override the view's font family and size.
    static const QRegularExpression bodyStyle(QStringLiteral("<body style=\"[^\"]*\">"));
    html.replace(bodyStyle, QStringLiteral("<body>"));
    return html;
}

} // namespace ocelle::app

using ocelle::app::MarkdownBlock;

MarkdownBlockModel::MarkdownBlockModel(QObject* parent) : QAbstractListModel(parent) {}

int MarkdownBlockModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : count();
}

QVariant MarkdownBlockModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
    const MarkdownBlock& b = blocks_[static_cast<size_t>(index.row())];
    const bool code = b.kind == MarkdownBlock::Kind::Code;
    switch (role) {
    case KindRole:
        return code ? QStringLiteral("code") : QStringLiteral("text");
    case Qt::DisplayRole:
    case SourceRole:
        return b.source;
    case LanguageRole:
        return b.language;
    case ClosedRole:
        return b.closed;
    case LightHtmlRole:
    case DarkHtmlRole: {
        const bool dark = role == DarkHtmlRole;
        if (code) {
            using ocelle::app::CodeColors;
            return ocelle::app::CodeHighlighter(b.language).toHtml(b.source, dark ? CodeColors::dark()
                                                                                   : CodeColors::light());
        }
        using ocelle::app::MarkdownColors;
        return ocelle::app::markdownToHtml(b.source, dark ? MarkdownColors::dark() : MarkdownColors::light());
    }
    default:
        return {};
    }
}

QHash<int, QByteArray> MarkdownBlockModel::roleNames() const {
    return {{KindRole, "kind"},         {SourceRole, "source"},       {LanguageRole, "language"},
            {ClosedRole, "closed"},     {LightHtmlRole, "lightHtml"}, {DarkHtmlRole, "darkHtml"}};
}

void MarkdownBlockModel::setText(const QString& text) {
    if (text == text_) return;
    if (blocks_.empty() || !text.startsWith(text_)) {
        beginResetModel();
        text_ = text;
        blocks_ = ocelle::app::splitMarkdown(text);
        endResetModel();
        emit countChanged();
        return;
    }
    text_ = text;
    // Blocks before the last one are finished: the text only grew after them.
    const int from = blocks_.back().start;
    std::vector<MarkdownBlock> tail = ocelle::app::splitMarkdown(text.mid(from), from);
    if (tail.empty()) return; // cannot happen: the last block's first line is still there
    const int last = count() - 1;
    if (!(tail.front() == blocks_.back())) {
        blocks_.back() = tail.front();
        emit dataChanged(index(last), index(last));
    }
    if (tail.size() > 1) {
        beginInsertRows({}, count(), count() + static_cast<int>(tail.size()) - 2);
        blocks_.insert(blocks_.end(), tail.begin() + 1, tail.end());
        endInsertRows();
        emit countChanged();
    }
}
