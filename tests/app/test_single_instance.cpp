// One Ocelle per user, across processes: this test holds the instance (as a running Ocelle would),
// then launches the real ocelle executable with a file; it must hand the file over (as an absolute
// path: the running one has another working directory) and exit at once without opening a window.
#include "single_instance.h"

#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

class TestSingleInstance : public QObject {
    Q_OBJECT

    static QString uniqueName() {
        return QStringLiteral("ocelle-test-single-%1").arg(QCoreApplication::applicationPid());
    }

private slots:
    void aSecondLaunchHandsItsFilesToTheFirst() {
        SingleInstance first(uniqueName());
        QVERIFY(first.claimOrHandOver({}));
        QSignalSpy activated(&first, &SingleInstance::activated);

        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        QProcess second;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("OCELLE_INSTANCE"), uniqueName());
        second.setProcessEnvironment(env);
        second.setWorkingDirectory(dir.path());
        second.start(QStringLiteral(OCELLE_APP_PATH), {QStringLiteral("photo.png")});
        QVERIFY(second.waitForStarted(10000));
        // The first instance's event loop must run to take the connection.
        QTRY_COMPARE_WITH_TIMEOUT(activated.count(), 1, 20000);
        QCOMPARE(activated.first().at(0).toStringList(), QStringList{dir.filePath(QStringLiteral("photo.png"))});
        // The event loop above may already have seen it exit (waitForFinished is then false).
        QVERIFY(second.state() == QProcess::NotRunning || second.waitForFinished(20000));
        QCOMPARE(second.exitStatus(), QProcess::NormalExit);
        QCOMPARE(second.exitCode(), 0);
        QVERIFY(QString::fromUtf8(second.readAllStandardOutput()).contains(QStringLiteral("already running")));
    }

    void aLaunchWithoutFilesStillBringsTheFirstForward() {
        const QString name = uniqueName() + QStringLiteral("-b");
        SingleInstance first(name);
        QVERIFY(first.claimOrHandOver({}));
        QSignalSpy activated(&first, &SingleInstance::activated);
        QProcess second;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("OCELLE_INSTANCE"), name);
        second.setProcessEnvironment(env);
        second.start(QStringLiteral(OCELLE_APP_PATH), {});
        QTRY_COMPARE_WITH_TIMEOUT(activated.count(), 1, 20000);
        QCOMPARE(activated.first().at(0).toStringList(), QStringList());
        // The event loop above may already have seen it exit (waitForFinished is then false).
        QVERIFY(second.state() == QProcess::NotRunning || second.waitForFinished(20000));
        QCOMPARE(second.exitCode(), 0);
    }

    void aStaleSocketDoesNotBlockTheNextStart() {
        const QString name = uniqueName() + QStringLiteral("-stale");
        {
            SingleInstance crashed(name);
            QVERIFY(crashed.claimOrHandOver({}));
        } // the server closes; on a crash its socket file would stay behind
        SingleInstance next(name);
        QVERIFY(next.claimOrHandOver({}));
    }
};

QTEST_GUILESS_MAIN(TestSingleInstance)
#include "test_single_instance.moc"
