// PDF pages for Gemma 4 (media/pdf_document.h): page count, render size and soft tokens per
// budget, what is rendered (white paper, colours, orientation), which pages fit in the context and
// what the user is told, page parts with the fixture encoder, and clear errors for bad files.
#include "media/media_error.h"
#include "media/pdf_document.h"
#include "media_test_support.h"
#include "pdf_test_support.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

using namespace ocelle;
using namespace ocelle::media::testing;

class TestPdfDocument : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    QString threePages_; // black portrait, red portrait, blue landscape

    std::string path(const QString& name) const { return dir_.filePath(name).toStdString(); }

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        threePages_ = dir_.filePath(QStringLiteral("three.pdf"));
        writeTestPdf(threePages_, {{Qt::black, false}, {Qt::red, false}, {Qt::blue, true}});
    }

    void pageCountAndSizes() {
        const media::PdfDocument doc(threePages_.toStdString());
        QCOMPARE(doc.pageCount(), 3);
        QCOMPARE(std::lround(doc.pageWidthPoints(0)), 595L);
        QCOMPARE(std::lround(doc.pageHeightPoints(0)), 842L);
        QCOMPARE(std::lround(doc.pageWidthPoints(2)), 842L); // landscape
        QCOMPARE(std::lround(doc.pageHeightPoints(2)), 595L);
    }

    // The raster has the page's shape at the budget's pixel area (budget x 48 x 48); Hugging Face's
    // rule then trims it to multiples of 48. A4 at 1120: 1350x1911 -> 1344x1872 = 28 x 39 = 1092
    // soft tokens; at 280: 675x955 -> 672x912 = 266; at 70: 338x478 -> 336x432 = 63.
    void renderSizeAndTokensPerBudget_data() {
        QTest::addColumn<int>("budget");
        QTest::addColumn<int>("tokens");
        QTest::newRow("1120") << 1120 << 1092;
        QTest::newRow("280") << 280 << 266;
        QTest::newRow("70") << 70 << 63;
    }
    void renderSizeAndTokensPerBudget() {
        QFETCH(int, budget);
        QFETCH(int, tokens);
        const media::PdfDocument doc(threePages_.toStdString());
        for (int page : {0, 2}) {
            const media::ImageSize size = doc.renderSize(page, budget);
            const double area = double(size.width) * size.height;
            QVERIFY2(std::abs(area / (budget * 48.0 * 48.0) - 1.0) < 0.005,
                     qPrintable(QString::number(area)));
            QCOMPARE(size.width > size.height, page == 2);
            QCOMPARE(doc.pageSoftTokens(page, budget), tokens);
            const media::RgbImage image = doc.renderPage(page, budget);
            QCOMPARE(image.width, size.width);
            QCOMPARE(image.height, size.height);
            QCOMPARE(image.rgb.size(), std::size_t(size.width) * size.height * 3);
        }
        QVERIFY_THROWS_EXCEPTION(media::MediaError, doc.renderSize(0, 300));
    }

    // Paper is white (PDFium leaves it transparent), the top-left quarter has the page's colour and
    // the text "PAGE n" darkens some pixels of the lower half.
    void renderedContent() {
        const media::PdfDocument doc(threePages_.toStdString());
        const struct {
            int page;
            int r, g, b;
        } expected[] = {{0, 0, 0, 0}, {1, 255, 0, 0}, {2, 0, 0, 255}};
        for (const auto& e : expected) {
            const media::RgbImage image = doc.renderPage(e.page, 280);
            const int x = image.width / 4, y = image.height / 4;
            QVERIFY2(std::abs(image.at(x, y, 0) - e.r) <= 2 && std::abs(image.at(x, y, 1) - e.g) <= 2 &&
                         std::abs(image.at(x, y, 2) - e.b) <= 2,
                     qPrintable(QStringLiteral("page %1: %2 %3 %4")
                                    .arg(e.page + 1)
                                    .arg(image.at(x, y, 0))
                                    .arg(image.at(x, y, 1))
                                    .arg(image.at(x, y, 2))));
            for (int c = 0; c < 3; ++c)
                QCOMPARE(int(image.at(image.width * 3 / 4, image.height / 8, c)), 255);
            int dark = 0;
            for (int yy = image.height / 2 + 2; yy < image.height; ++yy)
                for (int xx = 0; xx < image.width; ++xx)
                    dark +=
                        image.at(xx, yy, 0) < 128 && image.at(xx, yy, 1) < 128 && image.at(xx, yy, 2) < 128;
            QVERIFY2(dark > 100, "the page's text was not rendered");
        }
        // Any size can be asked for (thumbnails).
        const media::RgbImage thumb = doc.renderPage(1, media::ImageSize{60, 85});
        QCOMPARE(thumb.width, 60);
        QCOMPARE(int(thumb.at(15, 20, 0)), 255);
        QVERIFY(thumb.at(15, 20, 1) < 5);
        QVERIFY_THROWS_EXCEPTION(media::MediaError, doc.renderPage(3, 280));
        QVERIFY_THROWS_EXCEPTION(media::MediaError, doc.renderPage(-1, 280));
    }

    // A page turned by its /Rotate entry (qpdf --rotate) is rendered upright as displayed: A4 turned
    // clockwise is 842 x 595 and its black top-left quarter is now at the top right.
    void rotatedPageRendersAsDisplayed() {
        const QString rotated = dir_.filePath(QStringLiteral("rotated.pdf"));
        runTool(QStringLiteral("qpdf"), {"--rotate=+90:1", threePages_, rotated});
        const media::PdfDocument doc(rotated.toStdString());
        QCOMPARE(std::lround(doc.pageWidthPoints(0)), 842L);
        QCOMPARE(std::lround(doc.pageHeightPoints(0)), 595L);
        const media::RgbImage image = doc.renderPage(0, 280);
        QVERIFY(image.width > image.height);
        QCOMPARE(doc.pageSoftTokens(0, 280), 266);
        for (int c = 0; c < 3; ++c) {
            QVERIFY(image.at(image.width * 3 / 4, image.height / 4, c) < 5);
            QCOMPARE(int(image.at(image.width / 8, image.height / 8, c)), 255);
        }
    }

    void everyPageFits() {
        const media::PdfDocument doc(threePages_.toStdString());
        const media::PdfPageSelection s = media::selectPdfPages(doc, 1120, 8000);
        QCOMPARE(s.pages, (std::vector<int>{0, 1, 2}));
        QCOMPARE(s.pageCount, 3);
        QCOMPARE(s.softTokens, 3 * 1092);
        QCOMPARE(s.promptTokens, 3 * (1092 + media::kPdfPageOverheadTokens));
        QVERIFY(s.message.empty());
        // A chosen range that fits says nothing either.
        const media::PdfPageSelection range = media::selectPdfPages(doc, 280, 8000, 1, 2);
        QCOMPARE(range.pages, (std::vector<int>{1, 2}));
        QVERIFY(range.message.empty());
    }

    // Pages that do not fit are left out in order and the user is told how many fit and which.
    void pagesThatDoNotFitAreExplained() {
        const media::PdfDocument doc(threePages_.toStdString());
        const int perPage = 1092 + media::kPdfPageOverheadTokens;
        const media::PdfPageSelection s = media::selectPdfPages(doc, 1120, 2 * perPage + 10);
        QCOMPARE(s.pages, (std::vector<int>{0, 1}));
        const QString message = QString::fromStdString(s.message);
        QVERIFY2(message.contains(QStringLiteral("3 pages were asked for")), qPrintable(message));
        QVERIFY2(message.contains(QStringLiteral("only 2 pages fit")), qPrintable(message));
        QVERIFY2(message.contains(QStringLiteral("using pages 1-2, leaving out page 3")),
                 qPrintable(message));
        QVERIFY2(message.contains(QString::number(perPage) + QStringLiteral(" tokens")), qPrintable(message));

        const media::PdfPageSelection one = media::selectPdfPages(doc, 1120, perPage, 1, 2);
        QCOMPARE(one.pages, (std::vector<int>{1}));
        QVERIFY2(
            QString::fromStdString(one.message).contains(QStringLiteral("using page 2, leaving out page 3")),
            one.message.c_str());

        try {
            media::selectPdfPages(doc, 1120, 500);
            QFAIL("a page that cannot fit was accepted");
        } catch (const media::MediaError& e) {
            QVERIFY2(QString(e.what()).contains(QStringLiteral("needs about %1 tokens").arg(perPage)),
                     e.what());
            QVERIFY2(QString(e.what()).contains(QStringLiteral("only 500 are left")), e.what());
        }
        QVERIFY_THROWS_EXCEPTION(media::MediaError, media::selectPdfPages(doc, 1120, 8000, 3, 4));
        QVERIFY_THROWS_EXCEPTION(media::MediaError, media::selectPdfPages(doc, 1120, 8000, 2, 1));
    }

    // Each selected page becomes "Page N of M:" and its image, encoded by the fixture vision tower.
    void pagePartsWithTheEncoder() {
        const auto encoder =
            vision::VisionEncoder::load(OCELLE_FIXTURES_DIR "/vision/tiny-gemma4-e-mmproj.gguf", 2);
        const media::PdfDocument doc(threePages_.toStdString());
        media::PdfPageSelection selection = media::selectPdfPages(doc, 70, 8000, 1, 2);
        std::vector<std::pair<int, int>> progress;
        const std::vector<chat::Part> parts =
            media::encodePdfPages(*encoder, doc, selection, 70, [&](int done, int total) {
                progress.push_back({done, total});
                return true;
            });
        QCOMPARE(parts.size(), std::size_t(4));
        QCOMPARE(parts[0].kind, chat::Part::Kind::Text);
        QCOMPARE(parts[0].text, std::string("Page 2 of 3:"));
        QCOMPARE(parts[2].text, std::string("Page 3 of 3:"));
        for (int i : {1, 3}) {
            QCOMPARE(parts[i].kind, chat::Part::Kind::Image);
            QCOMPARE(parts[i].softTokens, 63);
            QVERIFY(parts[i].embeddings);
            QCOMPARE(parts[i].embeddings->size(), std::size_t(63) * encoder->params().projectionDim);
        }
        QVERIFY(*parts[1].embeddings != *parts[3].embeddings); // different pages, different tokens
        QCOMPARE(progress, (std::vector<std::pair<int, int>>{{1, 2}, {2, 2}}));
        QVERIFY_THROWS_EXCEPTION(media::MediaError, media::encodePdfPages(*encoder, doc, selection, 70,
                                                                          [](int, int) { return false; }));
    }

    void badFilesGiveClearErrors() {
        auto messageFor = [](const std::string& file) -> QString {
            try {
                media::PdfDocument doc(file);
            } catch (const media::MediaError& e) {
                return QString::fromUtf8(e.what());
            }
            return {};
        };
        QString m = messageFor(path(QStringLiteral("missing.pdf")));
        QVERIFY2(m.contains(QStringLiteral("missing.pdf")) && m.contains(QStringLiteral("does not exist")),
                 qPrintable(m));

        writeBytes(dir_.filePath(QStringLiteral("text.pdf")), "just some text, not a PDF\n");
        m = messageFor(path(QStringLiteral("text.pdf")));
        QVERIFY2(m.contains(QStringLiteral("not a PDF file")), qPrintable(m));

        writeBytes(dir_.filePath(QStringLiteral("empty.pdf")), QByteArray());
        m = messageFor(path(QStringLiteral("empty.pdf")));
        QVERIFY2(m.contains(QStringLiteral("not a PDF file")), qPrintable(m));

        // Encrypted with qpdf: a user password is needed to open it; an owner password alone (only
        // permissions restricted) opens as usual.
        const QString locked = dir_.filePath(QStringLiteral("locked.pdf"));
        runTool(QStringLiteral("qpdf"), {"--encrypt", "secret", "owner", "256", "--", threePages_, locked});
        m = messageFor(locked.toStdString());
        QVERIFY2(m.contains(QStringLiteral("password-protected")), qPrintable(m));
        const QString restricted = dir_.filePath(QStringLiteral("restricted.pdf"));
        runTool(QStringLiteral("qpdf"), {"--encrypt", "", "owner", "256", "--", threePages_, restricted});
        QCOMPARE(media::PdfDocument(restricted.toStdString()).pageCount(), 3);

        // Cut inside the first page's content: PDFium cannot even find the page tree.
        const QByteArray whole = readBytes(threePages_);
        writeBytes(dir_.filePath(QStringLiteral("cut.pdf")), whole.left(whole.indexOf("stream") + 20));
        m = messageFor(path(QStringLiteral("cut.pdf")));
        QVERIFY2(m.contains(QStringLiteral("damaged")) || m.contains(QStringLiteral("no pages")),
                 qPrintable(m));
    }
};

QTEST_MAIN(TestPdfDocument)
#include "test_pdf_document.moc"
