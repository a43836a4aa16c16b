#include "conversation_list_model.h"

#include <algorithm>

ConversationListModel::ConversationListModel(ConversationStore* store, QObject* parent)
    : QAbstractListModel(parent), store_(store) {
    reload();
}

int ConversationListModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : count();
}

QString ConversationListModel::sectionFor(bool pinned, const QDateTime& updated, const QDateTime& now) {
    if (pinned) return tr("Pinned");
    const qint64 days = updated.date().daysTo(now.date());
    if (days <= 0) return tr("Today");
    if (days <= 7) return tr("Previous 7 days");
    return tr("Older");
}

QVariant ConversationListModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
    const Row& c = rows_[static_cast<size_t>(index.row())];
    switch (role) {
    case Qt::DisplayRole:
    case Qt::EditRole:
    case TitleRole:
        return c.title;
    case IdRole:
        return c.id;
    case CreatedRole:
        return c.created;
    case UpdatedRole:
        return c.updated;
    case PinnedRole:
        return c.pinned;
    case SectionRole:
        return sectionFor(c.pinned, c.updated, QDateTime::currentDateTime());
    default:
        return {};
    }
}

bool ConversationListModel::setData(const QModelIndex& index, const QVariant& value, int role) {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return false;
    if (role != Qt::EditRole && role != TitleRole) return false;
    return rename(rows_[static_cast<size_t>(index.row())].id, value.toString());
}

Qt::ItemFlags ConversationListModel::flags(const QModelIndex& index) const {
    if (!index.isValid()) return Qt::NoItemFlags;
    return Qt::ItemIsEnabled | Qt::ItemIsSelectable | Qt::ItemIsEditable | Qt::ItemNeverHasChildren;
}

QHash<int, QByteArray> ConversationListModel::roleNames() const {
    return {{IdRole, "conversationId"}, {TitleRole, "title"},   {CreatedRole, "created"},
            {UpdatedRole, "updated"},   {PinnedRole, "pinned"}, {SectionRole, "section"}};
}

ConversationListModel::Row ConversationListModel::rowFrom(const StoredConversation& c) {
    return {static_cast<int>(c.id), c.title, c.created, c.updated, c.pinned};
}

bool ConversationListModel::before(const Row& a, const Row& b) {
    if (a.pinned != b.pinned) return a.pinned;
    if (a.updated != b.updated) return a.updated > b.updated;
    return a.id > b.id;
}

void ConversationListModel::insertSorted(const Row& row) {
    const auto at = std::lower_bound(rows_.begin(), rows_.end(), row, before);
    const int position = static_cast<int>(at - rows_.begin());
    beginInsertRows({}, position, position);
    rows_.insert(at, row);
    endInsertRows();
    emit countChanged();
}

void ConversationListModel::reposition(int row) {
    const Row moving = rows_[static_cast<size_t>(row)];
    int target = 0; // where it goes among the other rows
    for (int other = 0; other < count(); ++other) {
        if (other != row && before(rows_[static_cast<size_t>(other)], moving)) ++target;
    }
    if (target != row) {
        // beginMoveRows names the destination as a position in the list before the move.
        beginMoveRows({}, row, row, {}, target > row ? target + 1 : target);
        rows_.erase(rows_.begin() + row);
        rows_.insert(rows_.begin() + target, moving);
        endMoveRows();
    }
    const QModelIndex changed = index(target);
    emit dataChanged(changed, changed);
}

int ConversationListModel::add(const QString& title) {
    const QDateTime now = QDateTime::currentDateTime();
    const int id = static_cast<int>(store_->createConversation(title, now));
    if (!searchText_.isEmpty()) setSearchText({}); // a new chat is always visible
    insertSorted({id, title, now, now, false});
    return id;
}

bool ConversationListModel::addStored(int id) {
    const auto stored = store_->conversation(id);
    if (!stored) return false;
    if (!searchText_.isEmpty()) setSearchText({});
    if (rowOf(id) < 0) insertSorted(rowFrom(*stored));
    return true;
}

bool ConversationListModel::rename(int id, const QString& title) {
    const int row = rowOf(id);
    const QString cleaned = title.simplified();
    if (row < 0 || cleaned.isEmpty()) return false;
    Row& c = rows_[static_cast<size_t>(row)];
    if (c.title == cleaned) return true;
    c.title = cleaned;
    store_->renameConversation(id, cleaned);
    const QModelIndex changed = index(row);
    emit dataChanged(changed, changed, {TitleRole, Qt::DisplayRole, Qt::EditRole});
    return true;
}

bool ConversationListModel::setPinned(int id, bool pinned) {
    const int row = rowOf(id);
    if (row < 0) return false;
    if (rows_[static_cast<size_t>(row)].pinned == pinned) return true;
    rows_[static_cast<size_t>(row)].pinned = pinned;
    store_->setPinned(id, pinned);
    reposition(row);
    return true;
}

void ConversationListModel::touch(int id) {
    const int row = rowOf(id);
    if (row < 0) return;
    rows_[static_cast<size_t>(row)].updated = QDateTime::currentDateTime();
    reposition(row);
}

bool ConversationListModel::remove(int id) {
    const int row = rowOf(id);
    if (row < 0) return false;
    lastRemoved_ = rows_[static_cast<size_t>(row)];
    store_->setDeleted(id, true);
    beginRemoveRows({}, row, row);
    rows_.erase(rows_.begin() + row);
    endRemoveRows();
    emit countChanged();
    return true;
}

int ConversationListModel::undoRemove() {
    if (!lastRemoved_) return -1;
    const Row row = *lastRemoved_;
    lastRemoved_.reset();
    store_->setDeleted(row.id, false);
    if (!searchText_.isEmpty()) setSearchText({});
    if (rowOf(row.id) < 0) insertSorted(row);
    return row.id;
}

int ConversationListModel::rowOf(int id) const {
    for (size_t row = 0; row < rows_.size(); ++row) {
        if (rows_[row].id == id) return static_cast<int>(row);
    }
    return -1;
}

int ConversationListModel::idAt(int row) const {
    if (row < 0 || row >= count()) return -1;
    return rows_[static_cast<size_t>(row)].id;
}

QString ConversationListModel::titleOf(int id) const {
    const int row = rowOf(id);
    if (row >= 0) return rows_[static_cast<size_t>(row)].title;
    const auto stored = store_->conversation(id);
    return stored ? stored->title : QString();
}

bool ConversationListModel::exists(int id) const {
    return rowOf(id) >= 0 || store_->conversation(id).has_value();
}

void ConversationListModel::setSearchText(const QString& text) {
    if (text == searchText_) return;
    searchText_ = text;
    reload();
    emit searchTextChanged();
}

void ConversationListModel::reload() {
    QList<StoredConversation> all = store_->conversations();
    if (!searchText_.trimmed().isEmpty()) {
        const QList<qint64> matching = store_->search(searchText_);
        all.removeIf([&](const StoredConversation& c) { return !matching.contains(c.id); });
    }
    beginResetModel();
    rows_.clear();
    for (const StoredConversation& c : all) rows_.push_back(rowFrom(c));
    endResetModel();
    emit countChanged();
}
