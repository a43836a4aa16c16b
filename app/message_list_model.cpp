#include "message_list_model.h"

#include <QLocale>
#include <QQmlEngine>

MessageListModel::MessageListModel(QObject* parent) : QAbstractListModel(parent) {}

void MessageListModel::dropBlocks(size_t from) {
    // A view may still hold a removed message's blocks until its delegate goes: delete later.
    for (size_t i = from; i < messages_.size(); ++i) {
        if (messages_[i].blocks) messages_[i].blocks->deleteLater();
        messages_[i].blocks = nullptr;
    }
}

int MessageListModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : count(); // a flat list: items have no children
}

QString MessageListModel::formatStats(const Stats& stats) {
    const QLocale locale;
    QStringList parts;
    // One token is sampled from the prompt's logits, so a rate needs at least two.
    if (stats.tokensPerSecond > 0)
        parts << tr("%1 tokens/s").arg(locale.toString(stats.tokensPerSecond, 'f', 1));
    parts << (stats.tokens == 1 ? tr("1 token") : tr("%1 tokens").arg(stats.tokens));
    if (stats.timeToFirstTokenSeconds >= 0) {
        parts << tr("%1 s to first token").arg(locale.toString(stats.timeToFirstTokenSeconds, 'f', 2));
    }
    return parts.join(QStringLiteral(" \u00b7 "));
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
    case ReasoningRole:
        return m.reasoning;
    case ReasoningSecondsRole:
        return m.reasoningSeconds;
    case StreamingRole:
        return m.streaming;
    case StatsTextRole:
        return m.hasStats ? formatStats(m.stats) : QString();
    case NoteRole:
        return m.note;
    case MessageIdRole:
        return m.id;
    case BranchIndexRole:
        return m.branchIndex;
    case BranchCountRole:
        return m.branchCount;
    case BlocksRole:
        return QVariant::fromValue(static_cast<QObject*>(m.blocks));
    case AttachmentsRole:
        return m.shownMedia;
    default:
        return {};
    }
}

QHash<int, QByteArray> MessageListModel::roleNames() const {
    return {{AuthorRole, "author"},
            {TextRole, "text"},
            {IsUserRole, "isUser"},
            {ReasoningRole, "reasoning"},
            {ReasoningSecondsRole, "reasoningSeconds"},
            {StreamingRole, "streaming"},
            {StatsTextRole, "statsText"},
            {NoteRole, "note"},
            {MessageIdRole, "messageId"},
            {BranchIndexRole, "branchIndex"},
            {BranchCountRole, "branchCount"},
            {BlocksRole, "blocks"},
            {AttachmentsRole, "attachments"}};
}

void MessageListModel::changed(int row, const QList<int>& roles) {
    const QModelIndex i = index(row);
    emit dataChanged(i, i, roles);
}

int MessageListModel::append(Author author, const QString& text) {
    const int row = count();
    beginInsertRows({}, row, row);
    Message message;
    message.author = author;
    message.text = text;
    if (author == Author::Model) {
        message.blocks = new MarkdownBlockModel(this);
        QQmlEngine::setObjectOwnership(message.blocks, QQmlEngine::CppOwnership);
        message.blocks->setText(text);
    }
    messages_.push_back(message);
    endInsertRows();
    emit countChanged();
    return row;
}

bool MessageListModel::setText(int row, const QString& text) {
    if (!valid(row)) return false;
    Message& m = messages_[static_cast<size_t>(row)];
    if (m.text == text) return true;
    m.text = text;
    if (m.blocks) m.blocks->setText(m.text);
    changed(row, {TextRole, Qt::DisplayRole});
    return true;
}

bool MessageListModel::appendStreamed(int row, const QString& reasoning, const QString& answer) {
    if (!valid(row)) return false;
    if (reasoning.isEmpty() && answer.isEmpty()) return true;
    Message& m = messages_[static_cast<size_t>(row)];
    QList<int> roles;
    if (!reasoning.isEmpty()) {
        m.reasoning += reasoning;
        roles << ReasoningRole;
    }
    if (!answer.isEmpty()) {
        m.text += answer;
        if (m.blocks) m.blocks->setText(m.text);
        roles << TextRole << Qt::DisplayRole;
    }
    changed(row, roles);
    return true;
}

bool MessageListModel::setStreaming(int row, bool streaming) {
    if (!valid(row)) return false;
    Message& m = messages_[static_cast<size_t>(row)];
    if (m.streaming == streaming) return true;
    m.streaming = streaming;
    changed(row, {StreamingRole});
    return true;
}

bool MessageListModel::setReasoningSeconds(int row, double seconds) {
    if (!valid(row)) return false;
    messages_[static_cast<size_t>(row)].reasoningSeconds = seconds;
    changed(row, {ReasoningSecondsRole});
    return true;
}

bool MessageListModel::setStats(int row, const Stats& stats) {
    if (!valid(row)) return false;
    Message& m = messages_[static_cast<size_t>(row)];
    m.stats = stats;
    m.hasStats = true;
    changed(row, {StatsTextRole});
    return true;
}

bool MessageListModel::setNote(int row, const QString& note) {
    if (!valid(row)) return false;
    messages_[static_cast<size_t>(row)].note = note;
    changed(row, {NoteRole});
    return true;
}

bool MessageListModel::setMessageId(int row, qint64 id) {
    if (!valid(row)) return false;
    messages_[static_cast<size_t>(row)].id = id;
    changed(row, {MessageIdRole});
    return true;
}

bool MessageListModel::setBranch(int row, int index, int count) {
    if (!valid(row)) return false;
    Message& m = messages_[static_cast<size_t>(row)];
    if (m.branchIndex == index && m.branchCount == count) return true;
    m.branchIndex = index;
    m.branchCount = count;
    changed(row, {BranchIndexRole, BranchCountRole});
    return true;
}

bool MessageListModel::setMedia(int row, std::vector<ocelle::app::TurnMedia> media,
                                const QVariantList& shown) {
    if (!valid(row)) return false;
    Message& m = messages_[static_cast<size_t>(row)];
    m.media = std::move(media);
    m.shownMedia = shown;
    changed(row, {AttachmentsRole});
    return true;
}

void MessageListModel::truncate(int row) {
    if (row < 0) row = 0;
    if (row >= count()) return;
    beginRemoveRows({}, row, count() - 1);
    dropBlocks(static_cast<size_t>(row));
    messages_.erase(messages_.begin() + row, messages_.end());
    endRemoveRows();
    emit countChanged();
}

void MessageListModel::clear() {
    if (messages_.empty()) return;
    beginResetModel();
    dropBlocks(0);
    messages_.clear();
    endResetModel();
    emit countChanged();
}
