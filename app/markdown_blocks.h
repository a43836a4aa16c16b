// An answer's Markdown, split into blocks the chat view shows one by one: runs of text (paragraphs,
// headings, lists, tables; rendered by Qt's Markdown reader, md4c) and fenced code blocks (coloured
// by CodeHighlighter, each with its own copy button). While an answer streams, text only grows at
// its end, so only the last block changes: MarkdownBlockModel re-splits from the start of its last
// block, updates that one row and appends new rows; finished blocks are never touched again.
#pragma once

#include <QAbstractListModel>
#include <QColor>
#include <QString>
#include <QtQml/qqmlregistration.h>
#include <vector>

namespace ocelle::app {

struct MarkdownBlock {
    enum class Kind { Text, Code };
    Kind kind = Kind::Text;
    QString source;   // Markdown for text blocks, the code itself for code blocks
    QString language; // a code fence's info string, e.g. "python"
    bool closed = true; // false for a code block whose closing fence has not arrived
    int start = 0;    // offset in the whole text where the block's first line begins
    bool operator==(const MarkdownBlock&) const = default;
};

// Splits Markdown into blocks. Blank lines separate text blocks, except inside a list (items
// separated by blank lines stay one list). `offset` is added to every block's start.
std::vector<MarkdownBlock> splitMarkdown(const QString& text, int offset = 0);

struct MarkdownColors {
    QColor link, inlineCodeBackground, tableBorder;
    static MarkdownColors light();
    static MarkdownColors dark();
};

// Rich text (Qt's HTML subset) for one text block: links, inline code and tables styled with
// `colors`; no font family or size, so the view's font applies.
QString markdownToHtml(const QString& markdown, const MarkdownColors& colors);

} // namespace ocelle::app

class MarkdownBlockModel : public QAbstractListModel {
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("Blocks belong to a message")
    Q_PROPERTY(int count READ count NOTIFY countChanged)

public:
    enum Role {
        KindRole = Qt::UserRole + 1, // "text" or "code"
        SourceRole,                  // Markdown, or the code
        LanguageRole,
        ClosedRole,
        LightHtmlRole, // rendered for the light scheme
        DarkHtmlRole,  // rendered for the dark scheme
    };

    explicit MarkdownBlockModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;
    int count() const { return static_cast<int>(blocks_.size()); }

    // The message's whole text. When it extends the previous text, only the last block and new
    // ones change; anything else resets the model.
    void setText(const QString& text);
    const std::vector<ocelle::app::MarkdownBlock>& blocks() const { return blocks_; }

signals:
    void countChanged();

private:
    QString text_;
    std::vector<ocelle::app::MarkdownBlock> blocks_;
};
