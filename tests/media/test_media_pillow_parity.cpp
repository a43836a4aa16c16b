// Our bicubic resize against Pillow itself (Debian's python3-pil 9.4, the resize HF's Gemma 4 image
// processor runs), byte for byte, at the HF target sizes: upscaling, downscaling, both at once and
// extreme aspect ratios. The source image is made here and handed to Pillow as a PPM file.
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include "media/image.h"
#include "media/image_preprocess.h"
#include "media_test_support.h"

using namespace ocelle::media;
using namespace ocelle::media::testing;

namespace {

// Debian's interpreter: python3-pil is installed for it (a pyenv or venv python3 may lack it).
QString python() {
    return QFile::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

const char* kPillowResize = R"(
import sys
from PIL import Image
source, width, height, target = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
image = Image.open(source).convert("RGB")
open(target, "wb").write(image.resize((width, height), Image.BICUBIC).tobytes())
)";

// Smooth gradients, hard edges and hashed noise: every part of the kernel and of the clamping matters.
RgbImage testPattern(int width, int height) {
    RgbImage image{width, height, std::vector<std::uint8_t>(std::size_t(width) * std::size_t(height) * 3)};
    for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
            std::uint32_t hash = std::uint32_t(x) * 73856093u ^ std::uint32_t(y) * 19349663u;
            hash = (hash ^ (hash >> 13)) * 0x5bd1e995u;
            const int edge = ((x / 37) + (y / 23)) % 2 ? 255 : 0;
            const std::uint8_t values[3] = {std::uint8_t(x * 255 / std::max(1, width - 1)),
                                            std::uint8_t(edge), std::uint8_t(hash >> 24)};
            for (int c = 0; c < 3; ++c)
                image.rgb[(std::size_t(y) * std::size_t(width) + std::size_t(x)) * 3 + std::size_t(c)] =
                    values[c];
        }
    }
    return image;
}

} // namespace

class TestMediaPillowParity : public QObject {
    Q_OBJECT

private:
    QTemporaryDir dir_;

private slots:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void matchesPillow_data() {
        QTest::addColumn<int>("width");
        QTest::addColumn<int>("height");
        QTest::addColumn<int>("budget");
        QTest::newRow("640x480 up to 912x672") << 640 << 480 << 280;
        QTest::newRow("1920x1080 down to 1056x576") << 1920 << 1080 << 280;
        QTest::newRow("300x900 at 1120") << 300 << 900 << 1120;
        QTest::newRow("1280x720 at 70") << 1280 << 720 << 70;
        QTest::newRow("333x777 at 560") << 333 << 777 << 560;
        QTest::newRow("2000x60 at 140") << 2000 << 60 << 140;
        QTest::newRow("7x5000 at 280") << 7 << 5000 << 280;
    }
    void matchesPillow() {
        QFETCH(int, width);
        QFETCH(int, height);
        QFETCH(int, budget);
        const RgbImage source = testPattern(width, height);
        const QString sourcePath = dir_.filePath("source.ppm");
        QByteArray ppm = QString("P6\n%1 %2\n255\n").arg(width).arg(height).toLatin1();
        ppm.append(reinterpret_cast<const char*>(source.rgb.data()), qsizetype(source.rgb.size()));
        writeBytes(sourcePath, ppm);
        const ImageSize target = huggingFaceTargetSize(width, height, budget);
        const QString pillowOut = dir_.filePath("pillow.rgb");
        runTool(python(), {"-c", kPillowResize, sourcePath, QString::number(target.width),
                           QString::number(target.height), pillowOut});
        const QByteArray pillow = readBytes(pillowOut);

        const RgbImage ours = preprocessImage(source, {budget}).resized;
        QCOMPARE(ours.width, target.width);
        QCOMPARE(ours.height, target.height);
        QCOMPARE(std::size_t(pillow.size()), ours.rgb.size());
        std::size_t differing = 0;
        for (std::size_t i = 0; i < ours.rgb.size(); ++i)
            differing += std::uint8_t(pillow[qsizetype(i)]) != ours.rgb[i];
        QCOMPARE(differing, std::size_t(0));
    }
};

QTEST_APPLESS_MAIN(TestMediaPillowParity)
#include "test_media_pillow_parity.moc"
