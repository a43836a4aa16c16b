#include "conversation_list_model.h"

ConversationListModel::ConversationListModel(QObject* parent) : QAbstractListModel(parent) {}

int ConversationListModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : count();
}

QVariant ConversationListModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
    const Conversation& c = conversations_[static_cast<size_t>(index.row())];
    switch (role) {
    case Qt::DisplayRole:
    case Qt::EditRole:
    case TitleRole:
        return c.title;
    case IdRole:
        return c.id;
    case CreatedRole:
        return c.created;
    default:
        return {};
    }
}

bool ConversationListModel::setData(const QModelIndex& index, const QVariant& value, int role) {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return false;
    if (role != Qt::EditRole && role != TitleRole) return false;
    return rename(conversations_[static_cast<size_t>(index.row())].id, value.toString());
}

Qt::ItemFlags ConversationListModel::flags(const QModelIndex& index) const {
    if (!index.isValid()) return Qt::NoItemFlags;
    return Qt::ItemIsEnabled | Qt::ItemIsSelectable | Qt::ItemIsEditable | Qt::ItemNeverHasChildren;
}

QHash<int, QByteArray> ConversationListModel::roleNames() const {
    return {{IdRole, "conversationId"}, {TitleRole, "title"}, {CreatedRole, "created"}};
}

int ConversationListModel::add(const QString& title) {
    beginInsertRows({}, 0, 0);
    const int id = nextId_++;
    conversations_.insert(conversations_.begin(), {id, title, QDateTime::currentDateTime()});
    endInsertRows();
    emit countChanged();
    return id;
}

bool ConversationListModel::rename(int id, const QString& title) {
    const int row = rowOf(id);
    const QString cleaned = title.simplified();
    if (row < 0 || cleaned.isEmpty()) return false;
    Conversation& c = conversations_[static_cast<size_t>(row)];
    if (c.title == cleaned) return true;
    c.title = cleaned;
    const QModelIndex changed = index(row);
    emit dataChanged(changed, changed, {TitleRole, Qt::DisplayRole, Qt::EditRole});
    return true;
}

bool ConversationListModel::remove(int id) {
    const int row = rowOf(id);
    if (row < 0) return false;
    beginRemoveRows({}, row, row);
    conversations_.erase(conversations_.begin() + row);
    endRemoveRows();
    emit countChanged();
    return true;
}

int ConversationListModel::rowOf(int id) const {
    for (size_t row = 0; row < conversations_.size(); ++row) {
        if (conversations_[row].id == id) return static_cast<int>(row);
    }
    return -1;
}

int ConversationListModel::idAt(int row) const {
    if (row < 0 || row >= count()) return -1;
    return conversations_[static_cast<size_t>(row)].id;
}
