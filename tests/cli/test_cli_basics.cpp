// ocelle-cli's own options: --version, --help, and how it refuses what it does not know.
#include "cli/cli_run.h"
#include <QProcess>
#include <QtTest>

namespace {

using Run = ocelle::test::CliRun<QString>;

Run runCli(const QStringList& arguments) {
    return ocelle::test::runCli<QString>(arguments, 30000);
}

} // namespace

class TestCliBasics : public QObject {
    Q_OBJECT

private slots:
    void versionPrintsTheProjectVersion() {
        const Run run = runCli({QStringLiteral("--version")});
        QCOMPARE(run.exitCode, 0);
        QCOMPARE(run.out, QStringLiteral("ocelle-cli " OCELLE_EXPECTED_VERSION "\n"));
    }

    void helpListsUsageAndOptions() {
        const Run run = runCli({QStringLiteral("--help")});
        QCOMPARE(run.exitCode, 0);
        QVERIFY2(run.out.contains(QStringLiteral("Usage: ocelle-cli COMMAND")), qPrintable(run.out));
        QVERIFY2(run.out.contains(QStringLiteral("--version")), qPrintable(run.out));
        QVERIFY2(run.out.contains(QStringLiteral("Commands:")), qPrintable(run.out));
    }

    void noArgumentsShowsHelpAndFails() {
        const Run run = runCli({});
        QCOMPARE(run.exitCode, 2);
        QVERIFY2(run.out.contains(QStringLiteral("Usage: ocelle-cli")), qPrintable(run.out));
    }

    void unknownCommandExitsWithUsageError() {
        const Run run = runCli({QStringLiteral("no-such-command")});
        QCOMPARE(run.exitCode, 2);
        QVERIFY2(run.err.contains(QStringLiteral("unknown command 'no-such-command'")), qPrintable(run.err));
        QVERIFY(run.out.isEmpty());
    }
};

QTEST_APPLESS_MAIN(TestCliBasics)
#include "test_cli_basics.moc"
