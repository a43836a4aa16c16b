// `ocelle-cli run` with --pdf and --video end to end on the fixture model and mmproj: the rendered
// prompt (--print-prompt) has one "Page N of M:" and one image per page with the budget's soft
// tokens, each video frame after its mm:ss time with 63 <|video|> tokens, pages left out of a short
// context are named on stderr, and bad files fail with clear messages. The tiny model's answer is
// random by design and not checked.
#include "cli/cli_run.h"
#include "media/media_test_support.h"
#include "media/pdf_test_support.h"

#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

using namespace ocelle::media::testing;

namespace {

const QString kFixtures = QStringLiteral(OCELLE_FIXTURES_DIR);
const QString kModel = kFixtures + "/models/tiny-gemma4-e.gguf";
const QString kMmproj = kFixtures + "/vision/tiny-gemma4-e-mmproj.gguf";

using Run = ocelle::test::CliRun<QString>;

Run runCli(const QStringList& arguments) {
    return ocelle::test::runCli<QString>(arguments, 240000);
}

QStringList runArgs(const QStringList& media) {
    return QStringList{"run",
                       "--model",
                       kModel,
                       "--mmproj",
                       kMmproj,
                       "--prompt",
                       "What is in these?",
                       "--max-tokens",
                       "3",
                       "--temp",
                       "0",
                       "--threads",
                       "2",
                       "--backend",
                       "cpu",
                       "--print-prompt"} +
           media;
}

} // namespace

class TestCliMedia : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    QString pdf_, video_;

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        pdf_ = dir_.filePath(QStringLiteral("three.pdf"));
        writeTestPdf(pdf_, {{Qt::black, false}, {Qt::red, false}, {Qt::blue, true}});
        // 80 s at 10 fps, 64x48: 4 frames at 0, 20, 40, 60 s; 63 soft tokens each at budget 70.
        video_ = dir_.filePath(QStringLiteral("clip.mp4"));
        runTool("ffmpeg",
                {"-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                 "testsrc=size=64x48:rate=10:duration=80", "-c:v", "libx264", "-pix_fmt", "yuv420p", video_});
    }

    // A4 pages at budget 70 are 63 soft tokens each (336x432).
    void pdfAndVideoPromptStructure() {
        const Run r = runCli(runArgs({"--pdf", pdf_, "--budget", "70", "--video", video_, "--frames", "4"}));
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QString& prompt = r.err;
        QCOMPARE(prompt.count(QStringLiteral("<|image|>")), 3 * 63);
        QCOMPARE(prompt.count(QStringLiteral("<|video|>")), 4 * 63);
        QCOMPARE(prompt.count(QStringLiteral("<|image>")), 3 + 4);
        QCOMPARE(prompt.count(QStringLiteral("<image|>")), 3 + 4);
        // Pages in order, each label right before its image.
        const qsizetype page1 = prompt.indexOf(QStringLiteral("Page 1 of 3:\n\n<|image><|image|>"));
        const qsizetype page2 = prompt.indexOf(QStringLiteral("Page 2 of 3:\n\n<|image><|image|>"));
        const qsizetype page3 = prompt.indexOf(QStringLiteral("Page 3 of 3:\n\n<|image><|image|>"));
        QVERIFY2(page1 > 0 && page1 < page2 && page2 < page3, qPrintable(prompt.left(400)));
        // Then the frames, "mm:ss <|image>" + 63 x <|video|> + "<image|>", separated by a space.
        const QRegularExpression frame(
            QStringLiteral("(\\d\\d:\\d\\d) <\\|image>((?:<\\|video\\|>)+)<image\\|>"));
        QStringList times;
        for (auto it = frame.globalMatch(prompt); it.hasNext();) {
            const QRegularExpressionMatch m = it.next();
            times << m.captured(1);
            QCOMPARE(m.captured(2).count(QStringLiteral("<|video|>")), 63);
        }
        QCOMPARE(times, (QStringList{"00:00", "00:20", "00:40", "01:00"}));
        QVERIFY(prompt.contains(QStringLiteral("<image|> 00:20 <|image>")));
        const qsizetype firstFrame = prompt.indexOf(QStringLiteral("00:00 <|image>"));
        const qsizetype question = prompt.indexOf(QStringLiteral("What is in these?"));
        QVERIFY(page3 < firstFrame && firstFrame < question);
        QVERIFY2(prompt.contains(QStringLiteral("4/4 frames encoded")), qPrintable(r.err.right(600)));
        QVERIFY2(prompt.contains(QStringLiteral("3/3 pages encoded")), qPrintable(r.err.right(600)));
        // Every soft token is a prompt token.
        const QRegularExpression stats(QStringLiteral("prompt (\\d+) tokens"));
        const QRegularExpressionMatch s = stats.match(r.err);
        QVERIFY2(s.hasMatch(), qPrintable(r.err.right(600)));
        QVERIFY(s.captured(1).toInt() > 7 * 63);

        // By rate: one frame every 20 s.
        const Run rate = runCli(runArgs({"--video", video_, "--fps", "0.05"}));
        QVERIFY2(rate.exitCode == 0, qPrintable(rate.err));
        QCOMPARE(rate.err.count(QStringLiteral("<|video|>")), 4 * 63);
        QVERIFY2(rate.err.contains(QStringLiteral("<image|> 01:00 <|image>")),
                 qPrintable(rate.err.left(300)));
        QVERIFY2(rate.err.contains(QStringLiteral("4/4 frames encoded\n")), qPrintable(rate.err.left(300)));

        // One frame at a chosen time.
        const Run one = runCli(runArgs({"--video", video_, "--frame-at", "61.5"}));
        QVERIFY2(one.exitCode == 0, qPrintable(one.err));
        QCOMPARE(one.err.count(QStringLiteral("<|video|>")), 63);
        QVERIFY2(one.err.contains(QStringLiteral("01:01 <|image>")), qPrintable(one.err.left(300)));
    }

    // At the default document budget (1120) an A4 page is 1092 soft tokens; a 1400-token context
    // holds one page and the rest is named on stderr, not dropped silently.
    void pdfPagesBeyondTheContextAreExplained() {
        const Run r = runCli(runArgs({"--pdf", pdf_, "--ctx", "1400"}));
        QVERIFY2(r.exitCode == 0, qPrintable(r.err.right(800)));
        QCOMPARE(r.err.count(QStringLiteral("<|image|>")), 1092);
        QVERIFY(r.err.contains(QStringLiteral("Page 1 of 3:")));
        QVERIFY(!r.err.contains(QStringLiteral("Page 2 of 3:")));
        QVERIFY2(r.err.contains(QStringLiteral("only 1 page fits")), qPrintable(r.err.right(800)));
        QVERIFY2(r.err.contains(QStringLiteral("using page 1, leaving out pages 2-3")),
                 qPrintable(r.err.right(800)));

        // A chosen page.
        const Run page = runCli(runArgs({"--pdf", pdf_, "--pages", "3", "--budget", "70"}));
        QVERIFY2(page.exitCode == 0, qPrintable(page.err.right(800)));
        QVERIFY(page.err.contains(QStringLiteral("Page 3 of 3:")));
        QVERIFY(!page.err.contains(QStringLiteral("Page 1 of 3:")));
        QCOMPARE(page.err.count(QStringLiteral("<|image|>")), 63);
    }

    void badInputsFailClearly() {
        const QString notPdf = dir_.filePath(QStringLiteral("notes.pdf"));
        writeBytes(notPdf, "plain text\n");
        Run r = runCli(runArgs({"--pdf", notPdf}));
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains(QStringLiteral("notes.pdf: not a PDF file")), qPrintable(r.err));

        const QString tone = dir_.filePath(QStringLiteral("tone.m4a"));
        runTool("ffmpeg", {"-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                           "sine=frequency=440:duration=1", tone});
        r = runCli(runArgs({"--video", tone}));
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains(QStringLiteral("no video stream")), qPrintable(r.err));

        r = runCli(runArgs({"--pdf", pdf_, "--pages", "4-5"}));
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains(
                     QStringLiteral("the pages asked for (4 to 5) are not in the PDF, which has 3 pages")),
                 qPrintable(r.err));

        r = runCli({"run", "--model", kModel, "--prompt", "x", "--pdf", pdf_});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(QStringLiteral("--pdf needs --mmproj")), qPrintable(r.err));
        r = runCli(runArgs({"--video", video_, "--frames", "0"}));
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(QStringLiteral("--frames must be between 1 and 1024")), qPrintable(r.err));
        r = runCli(runArgs({"--frames", "8"}));
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(QStringLiteral("need --video")), qPrintable(r.err));
    }
};

QTEST_MAIN(TestCliMedia)
#include "test_cli_media.moc"
