// A conversation's messages as a tree, and which branch is on screen. Editing a question adds a
// sibling question under the same parent; regenerating adds a sibling answer; nothing is lost, and
// the branch shown is the path from the first message to the current leaf.
#pragma once

#include "conversation_store.h"

#include <QHash>
#include <QList>

class MessageTree {
public:
    void clear();
    // Messages must arrive parents first (ids grow with time, so oldest-first order does it).
    void insert(const StoredMessage& message);
    bool contains(qint64 id) const { return messages_.contains(id); }
    const StoredMessage* find(qint64 id) const;
    StoredMessage* find(qint64 id);
    int size() const { return static_cast<int>(messages_.size()); }

    // The ids from the first message down to `leaf` (empty for an unknown leaf).
    QList<qint64> pathTo(qint64 leaf) const;
    // The message and its siblings (children of the same parent), oldest first.
    QList<qint64> siblings(qint64 id) const;
    QList<qint64> children(qint64 id) const { return children_.value(id); } // 0: first messages
    // Following the newest child from `id` down to a message without children.
    qint64 newestLeafUnder(qint64 id) const;
    // The leaf to show when switching to `id`'s branch: keeps what was below it if it was on the
    // current path, otherwise its newest descendant.
    qint64 leafForBranch(qint64 id, qint64 currentLeaf) const;

private:
    QHash<qint64, StoredMessage> messages_;
    QHash<qint64, QList<qint64>> children_; // parent id (0 for roots) -> children, oldest first
};
