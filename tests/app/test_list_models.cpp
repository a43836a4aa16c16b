// The list models behind the chat view and the sidebar, checked by QAbstractItemModelTester
// (which asserts the model's signals and data stay consistent through every change).
#include "conversation_list_model.h"
#include "message_list_model.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

class TestListModels : public QObject {
    Q_OBJECT

private slots:
    void messagesAppendUpdateAndClear() {
        MessageListModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy countSpy(&model, &MessageListModel::countChanged);
        QCOMPARE(model.rowCount(), 0);

        QCOMPARE(model.append(MessageListModel::Author::User, QStringLiteral("What is a GGUF file?")), 0);
        QCOMPARE(model.append(MessageListModel::Author::Model, QString()), 1);
        QCOMPARE(model.count(), 2);
        QCOMPARE(countSpy.count(), 2);

        const QModelIndex first = model.index(0);
        QCOMPARE(model.data(first, MessageListModel::TextRole).toString(),
                 QStringLiteral("What is a GGUF file?"));
        QCOMPARE(model.data(first, MessageListModel::IsUserRole).toBool(), true);
        QCOMPARE(model.data(model.index(1), MessageListModel::IsUserRole).toBool(), false);
        QCOMPARE(model.data(first, MessageListModel::AuthorRole).value<MessageListModel::Author>(),
                 MessageListModel::Author::User);

        // An answer grows while it streams: only its row changes.
        QSignalSpy changedSpy(&model, &QAbstractItemModel::dataChanged);
        QVERIFY(model.setText(1, QStringLiteral("A file")));
        QVERIFY(model.setText(1, QStringLiteral("A file format")));
        QCOMPARE(changedSpy.count(), 2);
        QCOMPARE(changedSpy.last().at(0).toModelIndex().row(), 1);
        QVERIFY(model.setText(1, QStringLiteral("A file format"))); // unchanged text: no signal
        QCOMPARE(changedSpy.count(), 2);
        QVERIFY(!model.setText(2, QStringLiteral("out of range")));
        QVERIFY(!model.setText(-1, QStringLiteral("out of range")));

        model.clear();
        QCOMPARE(model.rowCount(), 0);
        QCOMPARE(countSpy.count(), 3);
        model.clear(); // already empty: nothing to announce
        QCOMPARE(countSpy.count(), 3);
    }

    void messageRolesAreNamedForQml() {
        MessageListModel model;
        const auto roles = model.roleNames();
        QCOMPARE(roles.value(MessageListModel::TextRole), QByteArray("text"));
        QCOMPARE(roles.value(MessageListModel::AuthorRole), QByteArray("author"));
        QCOMPARE(roles.value(MessageListModel::IsUserRole), QByteArray("isUser"));
        QVERIFY(!model.data(model.index(0), MessageListModel::TextRole).isValid()); // no such row
    }

    void conversationsNewestFirstWithStableIds() {
        QTemporaryDir dir;
        ConversationStore store(dir.path());
        ConversationListModel model(&store);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);

        const int first = model.add(QStringLiteral("Recipes"));
        const int second = model.add(QStringLiteral("Travel"));
        QVERIFY(first != second);
        QCOMPARE(model.count(), 2);
        QCOMPARE(model.data(model.index(0), ConversationListModel::TitleRole).toString(),
                 QStringLiteral("Travel"));
        QCOMPARE(model.rowOf(first), 1);
        QCOMPARE(model.rowOf(second), 0);
        QCOMPARE(model.idAt(1), first);
        QCOMPARE(model.idAt(2), -1);
        QCOMPARE(model.rowOf(12345), -1);

        QVERIFY(model.rename(first, QStringLiteral("  Weeknight   recipes ")));
        QCOMPARE(model.data(model.index(1), Qt::DisplayRole).toString(), QStringLiteral("Weeknight recipes"));
        QVERIFY(!model.rename(first, QStringLiteral("   "))); // a blank title is refused
        QVERIFY(!model.rename(999, QStringLiteral("Nobody")));
        QVERIFY(model.setData(model.index(0), QStringLiteral("Trips"), Qt::EditRole));
        QCOMPARE(model.data(model.index(0), ConversationListModel::TitleRole).toString(),
                 QStringLiteral("Trips"));
        QVERIFY(model.flags(model.index(0)).testFlag(Qt::ItemIsEditable));

        QVERIFY(model.remove(second));
        QVERIFY(!model.remove(second));
        QCOMPARE(model.count(), 1);
        QCOMPARE(model.idAt(0), first);

        // Ids are never reused, so a stale id cannot point at a newer conversation.
        const int third = model.add(QStringLiteral("Later"));
        QVERIFY(third != first && third != second);
        QVERIFY(model.data(model.index(0), ConversationListModel::CreatedRole).toDateTime().isValid());

        // What the model changed is what a new model on the same store reads.
        ConversationListModel reread(&store);
        QCOMPARE(reread.count(), 2);
        QCOMPARE(reread.data(reread.index(1), ConversationListModel::TitleRole).toString(),
                 QStringLiteral("Weeknight recipes"));
    }

    void conversationsArePinnedMovedAndGroupedByDate() {
        QTemporaryDir dir;
        ConversationStore store(dir.path());
        const QDateTime now = QDateTime::currentDateTime();
        store.createConversation(QStringLiteral("Last month"), now.addDays(-40));
        store.createConversation(QStringLiteral("Three days ago"), now.addDays(-3));
        ConversationListModel model(&store);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        const int today = model.add(QStringLiteral("Today"));
        auto titles = [&] {
            QStringList list;
            for (int row = 0; row < model.count(); ++row)
                list << model.data(model.index(row), ConversationListModel::TitleRole).toString();
            return list;
        };
        auto sections = [&] {
            QStringList list;
            for (int row = 0; row < model.count(); ++row)
                list << model.data(model.index(row), ConversationListModel::SectionRole).toString();
            return list;
        };
        QCOMPARE(titles(), (QStringList{"Today", "Three days ago", "Last month"}));
        QCOMPARE(sections(), (QStringList{"Today", "Previous 7 days", "Older"}));

        const int old = model.idAt(2);
        QVERIFY(model.setPinned(old, true));
        QCOMPARE(titles(), (QStringList{"Last month", "Today", "Three days ago"}));
        QCOMPARE(sections(), (QStringList{"Pinned", "Today", "Previous 7 days"}));
        QVERIFY(model.data(model.index(0), ConversationListModel::PinnedRole).toBool());

        // Using a conversation moves it to the top of its section.
        const int threeDays = model.idAt(2);
        QTest::qWait(5); // a later millisecond than "Today"'s creation
        model.touch(threeDays);
        QCOMPARE(titles(), (QStringList{"Last month", "Three days ago", "Today"}));
        QCOMPARE(sections(), (QStringList{"Pinned", "Today", "Today"}));
        QVERIFY(model.setPinned(old, false));
        QCOMPARE(titles(), (QStringList{"Three days ago", "Today", "Last month"}));
        QVERIFY(!model.setPinned(4242, true));

        // Deleting can be undone; only the last deletion is remembered.
        QVERIFY(model.remove(today));
        QCOMPARE(model.lastRemovedTitle(), QStringLiteral("Today"));
        QCOMPARE(model.undoRemove(), today);
        QCOMPARE(model.undoRemove(), -1);
        QCOMPARE(titles(), (QStringList{"Three days ago", "Today", "Last month"}));

        QCOMPARE(ConversationListModel::sectionFor(false, now.addDays(-7), now),
                 QStringLiteral("Previous 7 days"));
        QCOMPARE(ConversationListModel::sectionFor(false, now.addDays(-8), now), QStringLiteral("Older"));
        QCOMPARE(ConversationListModel::sectionFor(true, now.addDays(-800), now), QStringLiteral("Pinned"));
    }

    void searchShowsOnlyMatchingConversations() {
        QTemporaryDir dir;
        ConversationStore store(dir.path());
        ConversationListModel model(&store);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        const int bread = model.add(QStringLiteral("Bread"));
        const int other = model.add(QStringLiteral("Other"));
        StoredMessage m;
        m.conversationId = other;
        m.text = QStringLiteral("Is rye bread healthy?");
        store.addMessage(m);
        model.add(QStringLiteral("Unrelated"));
        QSignalSpy searchSpy(&model, &ConversationListModel::searchTextChanged);
        model.setSearchText(QStringLiteral("BREAD"));
        QCOMPARE(searchSpy.count(), 1);
        QCOMPARE(model.count(), 2);
        QVERIFY(model.rowOf(bread) >= 0 && model.rowOf(other) >= 0);
        model.setSearchText(QStringLiteral("rye"));
        QCOMPARE(model.count(), 1);
        QCOMPARE(model.idAt(0), other);
        QVERIFY(model.exists(bread)); // hidden by the search, still there
        model.setSearchText({});
        QCOMPARE(model.count(), 3);
        // A new chat ends a search so it is visible.
        model.setSearchText(QStringLiteral("rye"));
        const int fresh = model.add(QStringLiteral("Fresh"));
        QVERIFY(model.searchText().isEmpty());
        QCOMPARE(model.idAt(0), fresh);
    }

    void messageBranchRoles() {
        MessageListModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.append(MessageListModel::Author::User, QStringLiteral("Hi"));
        QCOMPARE(model.data(model.index(0), MessageListModel::BranchCountRole).toInt(), 1);
        QVERIFY(model.setMessageId(0, 42));
        QVERIFY(model.setBranch(0, 2, 3));
        QCOMPARE(model.idAt(0), 42);
        QCOMPARE(model.data(model.index(0), MessageListModel::BranchIndexRole).toInt(), 2);
        QCOMPARE(model.data(model.index(0), MessageListModel::BranchCountRole).toInt(), 3);
        QCOMPARE(model.roleNames().value(MessageListModel::BranchIndexRole), QByteArray("branchIndex"));
        QVERIFY(!model.setBranch(1, 1, 1));
    }
};

QTEST_GUILESS_MAIN(TestListModels)
#include "test_list_models.moc"
