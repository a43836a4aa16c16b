// The list models behind the chat view and the sidebar, checked by QAbstractItemModelTester
// (which asserts the model's signals and data stay consistent through every change).
#include "conversation_list_model.h"
#include "message_list_model.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
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
        ConversationListModel model;
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
    }
};

QTEST_APPLESS_MAIN(TestListModels)
#include "test_list_models.moc"
