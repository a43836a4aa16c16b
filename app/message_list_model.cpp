#include "message_list_model.h"

MessageListModel::MessageListModel(QObject* parent) : QAbstractListModel(parent) {}

int MessageListModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : count(); // a flat list: items have no children
}

QVariant MessageListModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
    const Message& m = messages_[static_cast<size_t>(index.row())];
    switch (role) {
    case Qt::DisplayRole:
    case TextRole:
        return m.text;
    case AuthorRole:
        return QVariant::fromValue(m.author);
    case IsUserRole:
        return m.author == Author::User;
    default:
        return {};
    }
}

QHash<int, QByteArray> MessageListModel::roleNames() const {
    return {{AuthorRole, "author"}, {TextRole, "text"}, {IsUserRole, "isUser"}};
}

int MessageListModel::append(Author author, const QString& text) {
    const int row = count();
    beginInsertRows({}, row, row);
    messages_.push_back({author, text});
    endInsertRows();
    emit countChanged();
    return row;
}

bool MessageListModel::setText(int row, const QString& text) {
    if (row < 0 || row >= count()) return false;
    Message& m = messages_[static_cast<size_t>(row)];
    if (m.text == text) return true;
    m.text = text;
    const QModelIndex changed = index(row);
    emit dataChanged(changed, changed, {TextRole, Qt::DisplayRole});
    return true;
}

void MessageListModel::clear() {
    if (messages_.empty()) return;
    beginResetModel();
    messages_.clear();
    endResetModel();
    emit countChanged();
}
