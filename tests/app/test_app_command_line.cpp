// The ocelle executable: its options, and a real start (offscreen) that opens a model given on the
// command line and reaches its first frame.
#include <QImage>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

namespace {

struct Run {
    bool finished = false;
    int exitCode = -1;
    QString out;
    QString err;
};

Run runApp(const QStringList& arguments) {
    static QTemporaryDir dataDir; // conversations of these runs stay out of the user's own
    QProcess process;
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert(QStringLiteral("OCELLE_DATA_DIR"), dataDir.path());
    process.setProcessEnvironment(environment);
    process.start(QStringLiteral(OCELLE_APP_PATH), arguments);
    Run run;
    run.finished = process.waitForFinished(60000) && process.exitStatus() == QProcess::NormalExit;
    if (!run.finished) process.kill();
    run.exitCode = process.exitCode();
    run.out = QString::fromUtf8(process.readAllStandardOutput());
    run.err = QString::fromUtf8(process.readAllStandardError());
    return run;
}

} // namespace

class TestAppCommandLine : public QObject {
    Q_OBJECT

private slots:
    void versionOption() {
        const Run run = runApp({QStringLiteral("--version")});
        QVERIFY2(run.finished, qPrintable(run.err));
        QCOMPARE(run.exitCode, 0);
        QCOMPARE(run.out.trimmed(), QStringLiteral("Ocelle " OCELLE_EXPECTED_VERSION));
    }

    void refusesBadArguments() {
        const Run twoModels = runApp({QStringLiteral("a.gguf"), QStringLiteral("b.gguf")});
        QVERIFY(twoModels.finished);
        QCOMPARE(twoModels.exitCode, 2);
        QVERIFY2(twoModels.err.contains(QStringLiteral("at most one model")), qPrintable(twoModels.err));

        const Run badTheme = runApp({QStringLiteral("--theme"), QStringLiteral("purple")});
        QVERIFY(badTheme.finished);
        QCOMPARE(badTheme.exitCode, 2);
        QVERIFY2(badTheme.err.contains(QStringLiteral("--theme")), qPrintable(badTheme.err));
    }

    void startsAndOpensTheModelGivenOnTheCommandLine() {
        const Run run = runApp({QStringLiteral("--quit-after-first-frame"),
                                QStringLiteral(OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf")});
        QVERIFY2(run.finished, qPrintable(run.err));
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        QVERIFY2(run.out.contains(QStringLiteral("tiny-gemma4-e.gguf is loaded")), qPrintable(run.out));
        QVERIFY2(run.out.contains(QStringLiteral("first frame after")), qPrintable(run.out + run.err));
    }

    // What the desktop entry does when a picture is opened with Ocelle: it goes to the composer,
    // which (with no model that takes images loaded) says why it cannot take it yet.
    void attachesMediaFilesGivenOnTheCommandLine() {
        QTemporaryDir folder;
        QVERIFY(folder.isValid());
        const QString picture = folder.filePath(QStringLiteral("picture.png"));
        QImage image(64, 48, QImage::Format_RGB32);
        image.fill(Qt::darkCyan);
        QVERIFY(image.save(picture));
        const Run run = runApp({QStringLiteral("--quit-after-first-frame"), picture});
        QVERIFY2(run.finished, qPrintable(run.err));
        QCOMPARE(run.exitCode, 0);
        QVERIFY2(run.out.contains(
                     QStringLiteral("attached 0 of 1 file(s) to the message: picture.png was not attached.")),
                 qPrintable(run.out + run.err));
        QVERIFY2(!run.out.contains(QStringLiteral("not a GGUF file")),
                 qPrintable(run.out)); // not taken for a model
    }

    void reportsAnUnusableModelFile() {
        const Run run = runApp({QStringLiteral("--quit-after-first-frame"), QStringLiteral("--theme"),
                                QStringLiteral("dark"), QStringLiteral(OCELLE_FIXTURES_DIR "/README.md")});
        QVERIFY2(run.finished, qPrintable(run.err));
        QCOMPARE(run.exitCode, 0); // the window still opens and shows the problem
        QVERIFY2(run.out.contains(QStringLiteral("not a GGUF file")), qPrintable(run.out));
    }
};

QTEST_APPLESS_MAIN(TestAppCommandLine)
#include "test_app_command_line.moc"
