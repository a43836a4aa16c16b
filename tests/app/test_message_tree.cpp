// The message tree behind branching: paths from the first message to a leaf, siblings in order,
// and which leaf a branch switch lands on.
#include "message_tree.h"

#include <QtTest>

namespace {
StoredMessage node(qint64 id, qint64 parent) {
    StoredMessage m;
    m.id = id;
    m.parentId = parent;
    return m;
}
} // namespace

class TestMessageTree : public QObject {
    Q_OBJECT

private slots:
    void pathsSiblingsAndBranchLeaves() {
        // 1 -> 2 -> 3 -> 4        (first question, answer, second question, answer)
        //        -> 5             (a regenerated answer to 1)
        // 6 -> 7                  (an edit of the first question, and its answer)
        //   -> 8 -> 9             (a second edit, answered)
        MessageTree tree;
        for (auto [id, parent] :
             {std::pair{1, 0}, {2, 1}, {3, 2}, {4, 3}, {5, 1}, {6, 0}, {7, 6}, {8, 6}, {9, 8}})
            tree.insert(node(id, parent));
        QCOMPARE(tree.size(), 9);
        QCOMPARE(tree.pathTo(4), (QList<qint64>{1, 2, 3, 4}));
        QCOMPARE(tree.pathTo(9), (QList<qint64>{6, 8, 9}));
        QVERIFY(tree.pathTo(42).isEmpty());
        QCOMPARE(tree.siblings(1), (QList<qint64>{1, 6}));
        QCOMPARE(tree.siblings(5), (QList<qint64>{2, 5}));
        QCOMPARE(tree.siblings(4), (QList<qint64>{4}));
        QCOMPARE(tree.children(0), (QList<qint64>{1, 6}));
        QCOMPARE(tree.newestLeafUnder(6), 9); // the newest child at each step
        QCOMPARE(tree.newestLeafUnder(1), 5);
        // Switching to a message on the current path keeps what is below it...
        QCOMPARE(tree.leafForBranch(2, 4), 4);
        // ...otherwise lands on that branch's newest leaf.
        QCOMPARE(tree.leafForBranch(6, 4), 9);
        QCOMPARE(tree.leafForBranch(2, 9), 4);
        // Inserting a known id updates it without making a second sibling.
        StoredMessage changed = node(2, 1);
        changed.text = QStringLiteral("updated");
        tree.insert(changed);
        QCOMPARE(tree.siblings(2), (QList<qint64>{2, 5}));
        QCOMPARE(tree.find(2)->text, QStringLiteral("updated"));
        // Children arriving out of id order are still kept oldest first.
        tree.insert(node(11, 3));
        tree.insert(node(10, 3));
        QCOMPARE(tree.siblings(11), (QList<qint64>{4, 10, 11}));
        tree.clear();
        QCOMPARE(tree.size(), 0);
        QCOMPARE(tree.newestLeafUnder(1), 0);
    }
};

QTEST_APPLESS_MAIN(TestMessageTree)
#include "test_message_tree.moc"
