// Image loading and Gemma 4 preprocessing: files made here with ImageMagick, the llama.cpp pixel
// tensors of ../shared/fixtures/vision, and token counts from the reference rule written out again
// independently below.
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

#include "media/image.h"
#include "media/image_preprocess.h"
#include "media_test_support.h"

using namespace ocelle::media;
using namespace ocelle::media::testing;

namespace {

// gemma4.md section 7, straight from the text: f = sqrt(9*B*256/(H*W)); sides floor(f*side/48)*48;
// a vanished side becomes 48 and the other min(floor(ratio)*48, B*48).
int referenceHfTokens(int width, int height, int budget) {
    const double f = std::sqrt(9.0 * budget * 256.0 / (double(height) * double(width)));
    long h = long(std::floor(f * height / 48.0)) * 48;
    long w = long(std::floor(f * width / 48.0)) * 48;
    if (h == 0) {
        h = 48;
        w = std::min(long(std::floor(double(width) / height)) * 48, long(budget) * 48);
    } else if (w == 0) {
        w = 48;
        h = std::min(long(std::floor(double(height) / width)) * 48, long(budget) * 48);
    }
    return int((h / 48) * (w / 48));
}

// A big-endian TIFF structure with one IFD entry: the orientation tag.
QByteArray tiffWithOrientation(int orientation) {
    QByteArray tiff("MM\x00\x2A\x00\x00\x00\x08", 8);
    tiff += QByteArray("\x00\x01", 2);                                    // one entry
    tiff += QByteArray("\x01\x12\x00\x03\x00\x00\x00\x01", 8);            // 0x0112 SHORT x1
    tiff += char(0), tiff += char(orientation), tiff += QByteArray(2, 0); // value
    tiff += QByteArray(4, 0);                                             // no next IFD
    return tiff;
}

// An APP1 EXIF segment for JPEG.
QByteArray exifSegment(int orientation) {
    const QByteArray payload = QByteArray("Exif\0\0", 6) + tiffWithOrientation(orientation);
    QByteArray segment("\xFF\xE1", 2);
    const int length = int(payload.size()) + 2;
    segment += char(length >> 8), segment += char(length & 0xFF);
    return segment + payload;
}

std::uint32_t crc32(const QByteArray& bytes) {
    std::uint32_t crc = 0xFFFFFFFFu;
    for (char byte : bytes) {
        crc ^= std::uint8_t(byte);
        for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

// A PNG eXIf chunk (valid CRC) for insertion after IHDR.
QByteArray exifChunk(int orientation) {
    const QByteArray body = QByteArray("eXIf") + tiffWithOrientation(orientation);
    auto bigEndian = [](std::uint32_t v) {
        return QByteArray(1, char(v >> 24)) + char(v >> 16 & 0xFF) + char(v >> 8 & 0xFF) + char(v & 0xFF);
    };
    return bigEndian(std::uint32_t(body.size() - 4)) + body + bigEndian(crc32(body));
}

void expectColor(const RgbImage& image, int x, int y, int r, int g, int b, int tolerance) {
    const int got[3] = {image.at(x, y, 0), image.at(x, y, 1), image.at(x, y, 2)};
    const int want[3] = {r, g, b};
    for (int c = 0; c < 3; ++c) {
        if (std::abs(got[c] - want[c]) > tolerance) {
            QFAIL(qPrintable(QString("pixel (%1,%2) is (%3,%4,%5), expected (%6,%7,%8)")
                                 .arg(x)
                                 .arg(y)
                                 .arg(got[0])
                                 .arg(got[1])
                                 .arg(got[2])
                                 .arg(r)
                                 .arg(g)
                                 .arg(b)));
        }
    }
}

} // namespace

class TestMediaImage : public QObject {
    Q_OBJECT

private:
    QTemporaryDir dir_;
    QString path(const QString& name) const { return dir_.filePath(name); }
    // A 64x32 image: left half red, right half blue (orientation is visible in the result).
    QString makeRedBlue(const QString& name, const QStringList& extra = {}) const {
        QStringList args{"-size", "32x32", "xc:red", "-size", "32x32", "xc:blue", "+append"};
        args += extra;
        args << path(name);
        runTool("convert", args);
        return path(name);
    }

private slots:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void literalTokenExamples() {
        QCOMPARE(huggingFaceTargetSize(896, 896, 280), (ImageSize{768, 768}));
        QCOMPARE(softTokenCount(896, 896, 280), 256);
        QCOMPARE(huggingFaceTargetSize(640, 480, 280), (ImageSize{912, 672}));
        QCOMPARE(softTokenCount(640, 480, 280), 266);
        QCOMPARE(huggingFaceTargetSize(1920, 1080, 280), (ImageSize{1056, 576}));
        QCOMPARE(softTokenCount(1920, 1080, 280), 264);
        QCOMPARE(softTokenCount(1280, 720, 70), 66);
        // llama.cpp (fixture vision.ref.json): canvas and content sizes, tokens.
        QCOMPARE(llamaCppCanvasSize(640, 480, 70, 1120), (ImageSize{624, 480}));
        QCOMPARE(llamaCppContentSize(640, 480, {624, 480}), (ImageSize{624, 468}));
        QCOMPARE(softTokenCount(640, 480, 1120, ImageSizePolicy::LlamaCpp), 130);
        QCOMPARE(llamaCppCanvasSize(300, 900, 70, 1120), (ImageSize{288, 912}));
        QCOMPARE(llamaCppContentSize(300, 900, {288, 912}), (ImageSize{288, 864}));
        QCOMPARE(softTokenCount(300, 900, 1120, ImageSizePolicy::LlamaCpp), 114);
    }

    void tokenCountsFollowTheReferenceRule_data() {
        QTest::addColumn<int>("width");
        QTest::addColumn<int>("height");
        const int sizes[][2] = {{896, 896}, {640, 480},   {1920, 1080}, {1280, 720},
                                {300, 900}, {1, 5000},    {5000, 1},    {48, 48},
                                {10, 10},   {4032, 3024}, {3024, 4032}, {1000, 30},
                                {333, 777}, {7000, 7000}, {2, 3},       {1600, 200}};
        for (const auto& size : sizes)
            QTest::newRow(qPrintable(QString("%1x%2").arg(size[0]).arg(size[1]))) << size[0] << size[1];
    }
    void tokenCountsFollowTheReferenceRule() {
        QFETCH(int, width);
        QFETCH(int, height);
        for (int budget : {70, 140, 280, 560, 1120}) {
            const int tokens = softTokenCount(width, height, budget);
            QCOMPARE(tokens, referenceHfTokens(width, height, budget));
            QVERIFY2(tokens <= budget,
                     qPrintable(QString("%1 tokens over budget %2").arg(tokens).arg(budget)));
            const ImageSize target = huggingFaceTargetSize(width, height, budget);
            QCOMPARE(target.width % 48, 0);
            QCOMPARE(target.height % 48, 0);
            const ImageSize canvas = llamaCppCanvasSize(width, height, 70, budget);
            QVERIFY(canvas.width % 48 == 0 && canvas.height % 48 == 0 && canvas.width > 0 &&
                    canvas.height > 0);
            QCOMPARE(softTokenCount(width, height, budget, ImageSizePolicy::LlamaCpp), softTokensFor(canvas));
        }
    }

    void rejectsUnknownBudget() {
        QVERIFY(errorOf([] { softTokenCount(640, 480, 100); }).contains("budget"));
    }

    // The llama.cpp policy reproduces llama.cpp's pixel tensor (its Pillow-identical bicubic).
    void llamaCppPixelsMatchFixture_data() {
        QTest::addColumn<QString>("image");
        QTest::addColumn<QString>("pixels");
        QTest::addColumn<int>("width");
        QTest::addColumn<int>("height");
        QTest::newRow("photo") << "test_photo.png"
                               << "photo.pixels.f32" << 624 << 480;
        QTest::newRow("document") << "test_document.png"
                                  << "document.pixels.f32" << 288 << 912;
    }
    void llamaCppPixelsMatchFixture() {
        QFETCH(QString, image);
        QFETCH(QString, pixels);
        QFETCH(int, width);
        QFETCH(int, height);
        const QString vision = QString(OCELLE_FIXTURES_DIR) + "/vision/";
        const RgbImage decoded = loadImage((vision + image).toStdString());
        const PreprocessedImage pre = preprocessImage(decoded, {1120, ImageSizePolicy::LlamaCpp});
        QCOMPARE(pre.resized.width, width);
        QCOMPARE(pre.resized.height, height);
        const std::vector<float> ours = planarPixels(pre.resized);
        const std::vector<float> reference = readFloats(vision + pixels);
        QCOMPARE(ours.size(), reference.size());
        std::size_t differing = 0;
        float maxDifference = 0;
        for (std::size_t i = 0; i < ours.size(); ++i) {
            const float difference = std::abs(ours[i] - reference[i]);
            differing += difference != 0.0f;
            maxDifference = std::max(maxDifference, difference);
        }
        qInfo("%s: %zu of %zu values differ, max |difference| %g", qPrintable(image), differing, ours.size(),
              maxDifference);
        QCOMPARE(differing, std::size_t(0)); // bit-exact
    }

    void huggingFacePreprocessing() {
        const RgbImage image = loadImage(QString(OCELLE_FIXTURES_DIR "/vision/test_photo.png").toStdString());
        const PreprocessedImage pre = preprocessImage(image); // HF, budget 280
        QCOMPARE(pre.resized.width, 912);
        QCOMPARE(pre.resized.height, 672);
        QCOMPARE(pre.patchesX, 57);
        QCOMPARE(pre.patchesY, 42);
        QCOMPARE(pre.softTokens, 266);
        QCOMPARE(pre.patches.size(), std::size_t(57 * 42 * 768));
        // Patch vector order: (row, column, channel), channel fastest; patches row-major.
        const int px = 5, py = 7, row = 3, column = 11, channel = 2;
        const float value =
            pre.patches[(std::size_t(py) * 57 + px) * 768 + (row * 16 + column) * 3 + channel];
        QCOMPARE(value, pre.resized.at(px * 16 + column, py * 16 + row, channel) / 255.0f);
        for (float v : pre.patches) QVERIFY(v >= 0.0f && v <= 1.0f);
    }

    void resizeKeepsFlatColourAndAverages() {
        RgbImage flat{37, 23, std::vector<std::uint8_t>(37 * 23 * 3)};
        for (std::size_t i = 0; i < flat.rgb.size(); ++i)
            flat.rgb[i] = std::uint8_t(i % 3 == 0 ? 200 : i % 3 == 1 ? 17 : 99);
        for (auto [w, h] : {std::pair{96, 48}, std::pair{5, 3}, std::pair{37, 96}}) {
            const RgbImage out = resizeBicubicPillow(flat, w, h);
            for (int y = 0; y < h; ++y)
                for (int x = 0; x < w; ++x) expectColor(out, x, y, 200, 17, 99, 0);
        }
        // A fine checkerboard shrunk 8x must average out (antialiasing), not alias to black/white.
        RgbImage checker{128, 128, std::vector<std::uint8_t>(128 * 128 * 3)};
        for (int y = 0; y < 128; ++y)
            for (int x = 0; x < 128; ++x)
                for (int c = 0; c < 3; ++c) checker.rgb[(y * 128 + x) * 3 + c] = ((x + y) & 1) ? 255 : 0;
        const RgbImage small = resizeBicubicPillow(checker, 16, 16);
        for (int y = 2; y < 14; ++y)
            for (int x = 2; x < 14; ++x) expectColor(small, x, y, 128, 128, 128, 2);
    }

    void decodesEveryFormat_data() {
        QTest::addColumn<QString>("file");
        for (const char* name : {"rb.png", "rb.jpg", "rb.webp", "rb.bmp", "rb.tif", "rb.gif"})
            QTest::newRow(name) << name;
    }
    void decodesEveryFormat() {
        QFETCH(QString, file);
        const RgbImage image = loadImage(makeRedBlue(file).toStdString());
        QCOMPARE(image.width, 64);
        QCOMPARE(image.height, 32);
        const int tolerance = file.endsWith(".jpg") || file.endsWith(".webp") ? 12 : 0;
        expectColor(image, 8, 16, 255, 0, 0, tolerance);
        expectColor(image, 56, 16, 0, 0, 255, tolerance);
    }

    void gifTakesTheFirstFrame() {
        runTool("convert", {"-delay", "10", "-size", "20x10", "xc:lime", "xc:blue", path("anim.gif")});
        const RgbImage image = loadImage(path("anim.gif").toStdString());
        QCOMPARE(image.width, 20);
        QCOMPARE(image.height, 10);
        expectColor(image, 10, 5, 0, 255, 0, 0);
        // A transparent GIF pixel lands on white like PNG alpha does.
        runTool("convert",
                {"-size", "10x10", "xc:none", "-size", "10x10", "xc:red", "+append", path("clear.gif")});
        const RgbImage clear = loadImage(path("clear.gif").toStdString());
        expectColor(clear, 5, 5, 255, 255, 255, 0);
        expectColor(clear, 15, 5, 255, 0, 0, 0);
    }

    void exifOrientationInJpeg_data() {
        QTest::addColumn<int>("orientation");
        QTest::addColumn<int>("width");
        QTest::addColumn<int>("height");
        QTest::addColumn<int>("redX"); // where the red half lands, sampled at the centre of a quarter
        QTest::addColumn<int>("redY");
        QTest::newRow("1 upright") << 1 << 64 << 32 << 16 << 16;
        QTest::newRow("3 rotate 180") << 3 << 64 << 32 << 48 << 16;
        QTest::newRow("6 rotate 90 cw") << 6 << 32 << 64 << 16 << 16;  // left (red) goes to the top
        QTest::newRow("8 rotate 90 ccw") << 8 << 32 << 64 << 16 << 48; // left goes to the bottom
        QTest::newRow("2 mirror") << 2 << 64 << 32 << 48 << 16;
    }
    void exifOrientationInJpeg() {
        QFETCH(int, orientation);
        QFETCH(int, width);
        QFETCH(int, height);
        QFETCH(int, redX);
        QFETCH(int, redY);
        const QByteArray plain = readBytes(makeRedBlue("plain.jpg"));
        const QString oriented = path(QString("exif%1.jpg").arg(orientation));
        writeBytes(oriented, plain.left(2) + exifSegment(orientation) + plain.mid(2));
        QCOMPARE(
            readImageHeader(std::span(reinterpret_cast<const std::uint8_t*>(readBytes(oriented).constData()),
                                      std::size_t(readBytes(oriented).size())),
                            "x")
                .exifOrientation,
            orientation);
        const RgbImage image = loadImage(oriented.toStdString());
        QCOMPARE(image.width, width);
        QCOMPARE(image.height, height);
        expectColor(image, redX, redY, 255, 0, 0, 12);
        expectColor(image, width - 1 - redX, height - 1 - redY, 0, 0, 255, 12);
    }

    void exifOrientationInPng() {
        const QByteArray plain = readBytes(makeRedBlue("plain.png"));
        writeBytes(path("exif6.png"),
                   plain.left(33) + exifChunk(6) + plain.mid(33)); // after the signature and IHDR
        const RgbImage image = loadImage(path("exif6.png").toStdString());
        QCOMPARE(image.width, 32);
        QCOMPARE(image.height, 64);
        expectColor(image, 16, 16, 255, 0, 0, 0);
        expectColor(image, 16, 48, 0, 0, 255, 0);
    }

    void exifOrientationInTiff() {
        const RgbImage image = loadImage(makeRedBlue("oriented.tif", {"-orient", "RightTop"}).toStdString());
        QCOMPARE(image.width, 32);
        QCOMPARE(image.height, 64);
        expectColor(image, 16, 16, 255, 0, 0, 0);
        expectColor(image, 16, 48, 0, 0, 255, 0);
    }

    void transparencyGoesOntoWhite() {
        runTool("convert", {"-size", "10x10", "xc:rgba(0,0,255,0)", "-size", "10x10", "xc:rgba(255,0,0,0.5)",
                            "+append", "PNG32:" + path("alpha.png")});
        const RgbImage image = loadImage(path("alpha.png").toStdString());
        expectColor(image, 5, 5, 255, 255, 255, 0);  // fully transparent -> white
        expectColor(image, 15, 5, 255, 127, 127, 1); // half red over white
    }

    void sixteenBitAndGrey() {
        runTool("convert",
                {"-size", "8x8", "xc:rgb(50%,25%,75%)", "-depth", "16", "PNG48:" + path("deep.png")});
        const RgbImage deep = loadImage(path("deep.png").toStdString());
        expectColor(deep, 3, 3, 128, 64, 191, 1);
        runTool("convert", {"-size", "8x8", "xc:gray(30%)", "-colorspace", "Gray", "-depth", "8",
                            "PNG8:" + path("grey.png")});
        const RgbImage grey = loadImage(path("grey.png").toStdString());
        expectColor(grey, 3, 3, 77, 77, 77, 1);
        runTool("convert",
                {"-size", "8x8", "xc:gray(30%)", "-colorspace", "Gray", "-depth", "16", path("grey16.png")});
        expectColor(loadImage(path("grey16.png").toStdString()), 3, 3, 77, 77, 77, 1);
    }

    void veryThinImage() {
        runTool("convert", {"-size", "1x5000", "gradient:white-black", path("thin.png")});
        const RgbImage thin = loadImage(path("thin.png").toStdString());
        QCOMPARE(thin.width, 1);
        QCOMPARE(thin.height, 5000);
        const PreprocessedImage pre = preprocessImage(thin, {280});
        QCOMPARE(pre.resized.width, 48);
        QCOMPARE(pre.resized.height, 280 * 48);
        QCOMPARE(pre.softTokens, 280);
        QCOMPARE(pre.softTokens, referenceHfTokens(1, 5000, 280));
        QVERIFY(pre.resized.at(20, 10, 0) > 200 &&
                pre.resized.at(20, 13400, 0) < 50); // the gradient survives
        const PreprocessedImage llama = preprocessImage(thin, {1120, ImageSizePolicy::LlamaCpp});
        QVERIFY(llama.softTokens >= 70 && llama.softTokens <= 1120);
    }

    void truncatedJpegIsAnError() {
        runTool("convert", {"-size", "200x100", "plasma:", path("cut.jpg")});
        truncateFile(path("cut.jpg"), 0.5);
        const QString error = errorOf([&] { loadImage(path("cut.jpg").toStdString()); });
        QVERIFY2(error.contains("truncated JPEG"), qPrintable(error));
        QVERIFY(error.contains("cut.jpg"));
    }

    void truncatedPngIsAnError() {
        runTool("convert", {"-size", "200x100", "plasma:", path("cut.png")});
        truncateFile(path("cut.png"), 0.6);
        const QString error = errorOf([&] { loadImage(path("cut.png").toStdString()); });
        QVERIFY2(error.contains("truncated PNG"), qPrintable(error));
    }

    void giantImageRejectedBeforeDecoding() {
        // A real 10x10 PNG whose header claims 60000x60000: refused from the header alone.
        runTool("convert", {"-size", "10x10", "xc:white", path("giant.png")});
        QByteArray bytes = readBytes(path("giant.png"));
        const char size[8] = {0, 0, char(0xEA), 0x60, 0, 0, char(0xEA), 0x60};
        bytes.replace(16, 8, QByteArray(size, 8));
        writeBytes(path("giant.png"), bytes);
        const QString error = errorOf([&] { loadImage(path("giant.png").toStdString()); });
        QVERIFY2(error.contains("too large") && error.contains("60000x60000"), qPrintable(error));
        // The cap is configurable: a 10x10 image over a 50-pixel cap is refused too.
        runTool("convert", {"-size", "10x10", "xc:white", path("small.png")});
        ImageLimits tight;
        tight.maxPixels = 50;
        QVERIFY(errorOf([&] { loadImage(path("small.png").toStdString(), tight); }).contains("too large"));
    }

    // Cut and bit-flipped files of every format: a cut file always throws MediaError; a bit-flipped
    // one decodes or throws MediaError, never crashes or throws anything else (run under ASan to
    // check the header parsers' bounds).
    void damagedFilesNeverCrash() {
        int refused = 0, decoded = 0;
        for (const char* name : {"d.png", "d.jpg", "d.webp", "d.bmp", "d.tif", "d.gif"}) {
            const QByteArray original = readBytes(makeRedBlue(name));
            std::uint32_t seed = 12345;
            auto next = [&seed] { return seed = seed * 1664525u + 1013904223u; };
            for (int trial = 0; trial < 40; ++trial) {
                QByteArray damaged = trial < 20 ? original.left(original.size() * trial / 20) : original;
                if (trial >= 20) {
                    for (int flips = 0; flips < 4; ++flips)
                        damaged[qsizetype(next() % std::uint32_t(damaged.size()))] = char(next() >> 24);
                }
                const auto* data = reinterpret_cast<const std::uint8_t*>(damaged.constData());
                try {
                    const RgbImage image = decodeImage(std::span(data, std::size_t(damaged.size())), name);
                    QVERIFY(image.width > 0 && image.height > 0 &&
                            image.rgb.size() == std::size_t(image.width) * std::size_t(image.height) * 3);
                    ++decoded;
                    QVERIFY2(
                        trial >= 20,
                        qPrintable(QString("%1 cut to %2/20 decodes without an error").arg(name).arg(trial)));
                } catch (const MediaError&) {
                    ++refused;
                }
            }
        }
        qInfo("damaged files: %d refused with a message, %d still decodable", refused, decoded);
    }

    void corruptAndUnknownFiles() {
        writeBytes(path("noise.png"), QByteArray("this is not an image at all"));
        QVERIFY(errorOf([&] { loadImage(path("noise.png").toStdString()); }).contains("not an image"));
        QVERIFY(errorOf([&] { loadImage(path("missing.png").toStdString()); }).contains("cannot open"));
        writeBytes(path("empty.jpg"), QByteArray());
        QVERIFY(errorOf([&] { loadImage(path("empty.jpg").toStdString()); }).contains("empty"));
        // A PNG whose compressed data is overwritten with garbage: the decoder's refusal is reported.
        runTool("convert", {"-size", "64x64", "plasma:", path("garbage.png")});
        QByteArray bytes = readBytes(path("garbage.png"));
        const qsizetype idat = bytes.indexOf("IDAT");
        QVERIFY(idat > 0);
        for (qsizetype i = idat + 4; i < idat + 200 && i < bytes.size() - 20; ++i) bytes[i] = char(0x5A);
        writeBytes(path("garbage.png"), bytes);
        const QString error = errorOf([&] { loadImage(path("garbage.png").toStdString()); });
        QVERIFY2(error.contains("corrupt"), qPrintable(error));
    }
};

QTEST_APPLESS_MAIN(TestMediaImage)
#include "test_media_image.moc"
