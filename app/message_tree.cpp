#include "message_tree.h"

#include <algorithm>

void MessageTree::clear() {
    messages_.clear();
    children_.clear();
}

void MessageTree::insert(const StoredMessage& message) {
    const bool known = messages_.contains(message.id);
    messages_.insert(message.id, message);
    if (known) return;
    QList<qint64>& siblings = children_[message.parentId];
    siblings.insert(std::upper_bound(siblings.begin(), siblings.end(), message.id), message.id);
}

const StoredMessage* MessageTree::find(qint64 id) const {
    const auto it = messages_.constFind(id);
    return it == messages_.constEnd() ? nullptr : &*it;
}

StoredMessage* MessageTree::find(qint64 id) {
    const auto it = messages_.find(id);
    return it == messages_.end() ? nullptr : &*it;
}

QList<qint64> MessageTree::pathTo(qint64 leaf) const {
    QList<qint64> path;
    for (const StoredMessage* m = find(leaf); m; m = m->parentId > 0 ? find(m->parentId) : nullptr) {
        path.prepend(m->id);
        if (path.size() > size()) return {}; // a cycle: never from the store, refuse rather than loop
    }
    return path;
}

QList<qint64> MessageTree::siblings(qint64 id) const {
    const StoredMessage* m = find(id);
    return m ? children_.value(m->parentId) : QList<qint64>{};
}

qint64 MessageTree::newestLeafUnder(qint64 id) const {
    if (!contains(id)) return 0;
    for (int steps = 0; steps <= size(); ++steps) {
        const QList<qint64> below = children_.value(id);
        if (below.isEmpty()) return id;
        id = below.constLast();
    }
    return 0;
}

qint64 MessageTree::leafForBranch(qint64 id, qint64 currentLeaf) const {
    if (pathTo(currentLeaf).contains(id)) return currentLeaf;
    return newestLeafUnder(id);
}
