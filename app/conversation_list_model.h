// The conversations in the sidebar: pinned first, then the most recently used first, with a
// section per row (Pinned, Today, Previous 7 days, Older). Every change is written to the
// ConversationStore; a search shows only the conversations whose title or messages match.
#pragma once

#include "conversation_store.h"

#include <QAbstractListModel>
#include <QDateTime>
#include <QString>
#include <QtQml/qqmlregistration.h>
#include <optional>
#include <vector>

class ConversationListModel : public QAbstractListModel {
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("The conversations belong to ChatController.conversations")
    Q_PROPERTY(int count READ count NOTIFY countChanged)
    Q_PROPERTY(QString searchText READ searchText WRITE setSearchText NOTIFY searchTextChanged)

public:
    enum Role { IdRole = Qt::UserRole + 1, TitleRole, CreatedRole, UpdatedRole, PinnedRole, SectionRole };

    // `store` must outlive the model. The model starts with the store's conversations.
    explicit ConversationListModel(ConversationStore* store, QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    QHash<int, QByteArray> roleNames() const override;
    int count() const { return static_cast<int>(rows_.size()); }

    // Creates a conversation (stored at once) and returns its id; ids are never reused.
    int add(const QString& title);
    // Renames; an empty or blank title is refused. False when the id is unknown or the title refused.
    bool rename(int id, const QString& title);
    bool setPinned(int id, bool pinned);
    // Marks a conversation as just used (it moves up to the top of its section).
    void touch(int id);
    // Deletes (the store can still undo it until it is next opened). False for an unknown id.
    bool remove(int id);
    // Brings back the conversation deleted last. Returns its id, or -1 when there is none.
    int undoRemove();
    QString lastRemovedTitle() const { return lastRemoved_ ? lastRemoved_->title : QString(); }
    // Adds a conversation the store already has (an import). False when the store does not know it.
    bool addStored(int id);

    Q_INVOKABLE int rowOf(int id) const;
    Q_INVOKABLE int idAt(int row) const;
    QString titleOf(int id) const;
    // Whether the conversation exists (also when a search hides it from the list).
    bool exists(int id) const;

    QString searchText() const { return searchText_; }
    void setSearchText(const QString& text);
    // Reads the store again (after a change made directly in it).
    void reload();

    // The section a conversation last used at `updated` belongs in, as of `now`.
    static QString sectionFor(bool pinned, const QDateTime& updated, const QDateTime& now);

signals:
    void countChanged();
    void searchTextChanged();

private:
    struct Row {
        int id;
        QString title;
        QDateTime created;
        QDateTime updated;
        bool pinned;
    };
    static Row rowFrom(const StoredConversation& c);
    static bool before(const Row& a, const Row& b);
    // Moves a row whose sort key changed to where it now belongs.
    void reposition(int row);
    void insertSorted(const Row& row);

    ConversationStore* store_;
    std::vector<Row> rows_;
    QString searchText_;
    std::optional<Row> lastRemoved_;
};
