// The messages of the open conversation, oldest first, as the chat view shows them.
#pragma once

#include <QAbstractListModel>
#include <QString>
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
    enum Role { AuthorRole = Qt::UserRole + 1, TextRole, IsUserRole };

    explicit MessageListModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;
    int count() const { return static_cast<int>(messages_.size()); }

    // Appends a message and returns its row.
    int append(Author author, const QString& text);
    // Replaces a message's text (an answer growing while it streams). False for a row out of range.
    bool setText(int row, const QString& text);
    void clear();

signals:
    void countChanged();

private:
    struct Message {
        Author author;
        QString text;
    };
    std::vector<Message> messages_;
};
