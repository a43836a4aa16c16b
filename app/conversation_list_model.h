// The conversations in the sidebar, most recent first. Held in memory for now; persistence
// (SQLite) replaces the storage behind this model without changing its roles.
#pragma once

#include <QAbstractListModel>
#include <QDateTime>
#include <QString>
#include <QtQml/qqmlregistration.h>
#include <vector>

class ConversationListModel : public QAbstractListModel {
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("The conversations belong to ChatController.conversations")
    Q_PROPERTY(int count READ count NOTIFY countChanged)

public:
    enum Role { IdRole = Qt::UserRole + 1, TitleRole, CreatedRole };

    explicit ConversationListModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    QHash<int, QByteArray> roleNames() const override;
    int count() const { return static_cast<int>(conversations_.size()); }

    // Adds a conversation at the top and returns its id (ids are never reused).
    int add(const QString& title);
    // Renames; an empty or blank title is refused. False when the id is unknown or the title refused.
    bool rename(int id, const QString& title);
    bool remove(int id);
    // Row of a conversation id, or -1.
    Q_INVOKABLE int rowOf(int id) const;
    Q_INVOKABLE int idAt(int row) const;

signals:
    void countChanged();

private:
    struct Conversation {
        int id;
        QString title;
        QDateTime created;
    };
    std::vector<Conversation> conversations_;
    int nextId_ = 1;
};
