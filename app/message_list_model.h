// The messages of the open conversation, oldest first, as the chat view shows them. A model
// message carries its answer, its reasoning (shown folded, with how long it took), whether it is
// still streaming, and its generation statistics.
#pragma once

#include "chat_engine.h"
#include "markdown_blocks.h"

#include <QAbstractListModel>
#include <QString>
#include <QVariantList>
#include <QtQml/qqmlregistration.h>
#include <vector>

class MessageListModel : public QAbstractListModel {
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("The messages belong to ChatController.messages")
    Q_PROPERTY(int count READ count NOTIFY countChanged)

public:
    enum class Author { User, Model };
    Q_ENUM(Author)
    enum Role {
        AuthorRole = Qt::UserRole + 1,
        TextRole,
        IsUserRole,
        ReasoningRole,        // the model's thinking, empty when there was none
        ReasoningSecondsRole, // how long it thought; < 0 while unknown
        StreamingRole,        // the answer is still arriving
        StatsTextRole,        // "12.3 tokens/s · 87 tokens · 0.21 s to first token", empty until done
        NoteRole,             // why the answer ended early ("Stopped."), or an error
        MessageIdRole,        // the stored message's id
        BranchIndexRole,      // 1-based position among its siblings (edits, regenerations)
        BranchCountRole,      // how many siblings it has, itself included
        BlocksRole,           // a model message's Markdown blocks (MarkdownBlockModel); null for users
        AttachmentsRole,      // a user message's media: [{kind, name, thumbnail, detail}]
    };

    struct Stats {
        double tokensPerSecond = 0;
        int tokens = 0;
        double timeToFirstTokenSeconds = -1;
    };

    explicit MessageListModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;
    int count() const { return static_cast<int>(messages_.size()); }

    // Appends a message and returns its row.
    int append(Author author, const QString& text);
    // Replaces a message's text (an answer growing while it streams). False for a row out of range.
    bool setText(int row, const QString& text);
    // Appends streamed pieces to a message: one dataChanged for both.
    bool appendStreamed(int row, const QString& reasoning, const QString& answer);
    bool setStreaming(int row, bool streaming);
    bool setReasoningSeconds(int row, double seconds);
    bool setStats(int row, const Stats& stats);
    bool setNote(int row, const QString& note);
    bool setMessageId(int row, qint64 id);
    // Where the message sits among its siblings: "< index/count >" in the view.
    bool setBranch(int row, int index, int count);
    // A user message's media as the engine gets it, and as the view shows it.
    bool setMedia(int row, std::vector<ocelle::app::TurnMedia> media, const QVariantList& shown);
    // Removes the rows from `row` to the end (regenerate drops the old answer).
    void truncate(int row);
    void clear();

    Author authorAt(int row) const { return messages_.at(static_cast<size_t>(row)).author; }
    QString textAt(int row) const { return messages_.at(static_cast<size_t>(row)).text; }
    QString reasoningAt(int row) const { return messages_.at(static_cast<size_t>(row)).reasoning; }
    qint64 idAt(int row) const { return valid(row) ? messages_.at(static_cast<size_t>(row)).id : 0; }
    MarkdownBlockModel* blocksAt(int row) const { return messages_.at(static_cast<size_t>(row)).blocks; }
    std::vector<ocelle::app::TurnMedia> mediaAt(int row) const {
        return messages_.at(static_cast<size_t>(row)).media;
    }
    static QString formatStats(const Stats& stats);

signals:
    void countChanged();

private:
    struct Message {
        Author author = Author::User;
        QString text;
        QString reasoning;
        double reasoningSeconds = -1;
        bool streaming = false;
        bool hasStats = false;
        Stats stats;
        QString note;
        qint64 id = 0;
        int branchIndex = 1;
        int branchCount = 1;
        MarkdownBlockModel* blocks = nullptr; // owned by this model; model messages only
        std::vector<ocelle::app::TurnMedia> media;
        QVariantList shownMedia;
    };
    void dropBlocks(size_t from);
    bool valid(int row) const { return row >= 0 && row < count(); }
    void changed(int row, const QList<int>& roles);
    std::vector<Message> messages_;
};
