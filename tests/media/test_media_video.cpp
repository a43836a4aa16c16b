// Video frame sampling on files made here with ffmpeg: h264, vp9, mpeg4; short and long; variable
// frame rate; truncated, audio-only and broken files.
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

#include "media/image.h"
#include "media/video.h"
#include "media_test_support.h"

using namespace ocelle::media;
using namespace ocelle::media::testing;

class TestMediaVideo : public QObject {
    Q_OBJECT

private:
    QTemporaryDir dir_;
    QString path(const QString& name) const { return dir_.filePath(name); }
    QString ffmpeg(const QString& name, const QStringList& args) const {
        runTool("ffmpeg",
                QStringList{"-hide_banner", "-loglevel", "error", "-y"} + args + QStringList{path(name)});
        return path(name);
    }
    QString testPattern(const QString& name, const QString& source, const QStringList& codec) const {
        return ffmpeg(name, QStringList{"-f", "lavfi", "-i", source} + codec);
    }

private slots:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void timestamps() {
        QCOMPARE(formatVideoTimestamp(0), std::string("00:00"));
        QCOMPARE(formatVideoTimestamp(59.99), std::string("00:59"));
        QCOMPARE(formatVideoTimestamp(61), std::string("01:01"));
        QCOMPARE(formatVideoTimestamp(3 * 3600 + 5), std::string("180:05"));
    }

    // 4 s at 25 fps = 100 frames; 32 sampled at floor(i * 100 / 32).
    void uniformSampling_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QStringList>("codec");
        QTest::addColumn<QString>("codecName");
        QTest::newRow("h264") << "short.mp4" << QStringList{"-c:v", "libx264", "-pix_fmt", "yuv420p"}
                              << "h264";
        QTest::newRow("vp9") << "short.webm"
                             << QStringList{"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"}
                             << "vp9";
        QTest::newRow("mpeg4") << "short.avi" << QStringList{"-c:v", "mpeg4"} << "mpeg4";
    }
    void uniformSampling() {
        QFETCH(QString, file);
        QFETCH(QStringList, codec);
        QFETCH(QString, codecName);
        const VideoReader reader(
            testPattern(file, "testsrc=size=160x120:rate=25:duration=4", codec).toStdString());
        QCOMPARE(reader.info().width, 160);
        QCOMPARE(reader.info().height, 120);
        QCOMPARE(reader.info().frameCount, std::int64_t(100));
        QCOMPARE(QString::fromStdString(reader.info().codec), codecName);
        QVERIFY(std::abs(reader.info().durationSeconds - 4.0) < 0.05);
        std::vector<std::pair<int, int>> progress;
        const std::vector<VideoFrame> frames = reader.sampleFrames({}, [&](int done, int total) {
            progress.emplace_back(done, total);
            return true;
        });
        QCOMPARE(frames.size(), std::size_t(32));
        QCOMPARE(progress.size(), std::size_t(32));
        QCOMPARE(progress.back(), std::make_pair(32, 32));
        for (int i = 0; i < 32; ++i) {
            const std::int64_t index = std::int64_t(i) * 100 / 32;
            QCOMPARE(frames[std::size_t(i)].index, index);
            QVERIFY2(std::abs(frames[std::size_t(i)].seconds - double(index) / 25.0) < 1e-3,
                     qPrintable(QString("frame %1 at %2 s").arg(i).arg(frames[std::size_t(i)].seconds)));
            QCOMPARE(frames[std::size_t(i)].timestamp, formatVideoTimestamp(double(index) / 25.0));
            QCOMPARE(frames[std::size_t(i)].image.width, 160);
        }
        QCOMPARE(frames.back().timestamp, std::string("00:03"));
    }

    void fewerFramesThanAsked() {
        const VideoReader reader(testPattern("tiny.webm", "testsrc=size=64x48:rate=10:duration=2",
                                             {"-c:v", "libvpx-vp9", "-deadline", "realtime"})
                                     .toStdString());
        QCOMPARE(reader.info().frameCount, std::int64_t(20)); // WebM has no frame count: counted
        const auto frames = reader.sampleFrames({});
        QCOMPARE(frames.size(), std::size_t(20));
        for (std::size_t i = 0; i < frames.size(); ++i) QCOMPARE(frames[i].index, std::int64_t(i));
    }

    void longVideoAndRate() {
        // 70 s at 5 fps (mpeg4 in MP4).
        const VideoReader reader(
            testPattern("long.mp4", "testsrc=size=64x48:rate=5:duration=70", {"-c:v", "mpeg4"})
                .toStdString());
        QCOMPARE(reader.info().frameCount, std::int64_t(350));
        const auto uniform = reader.sampleFrames({});
        QCOMPARE(uniform.size(), std::size_t(32));
        QCOMPARE(uniform[31].index, std::int64_t(31 * 350 / 32));
        QCOMPARE(uniform[31].timestamp, formatVideoTimestamp(double(31 * 350 / 32) / 5.0));
        QCOMPARE(uniform[31].timestamp, std::string("01:07"));
        FrameSampling everyTwoSeconds;
        everyTwoSeconds.framesPerSecond = 0.5;
        const auto byRate = reader.sampleFrames(everyTwoSeconds);
        QCOMPARE(byRate.size(), std::size_t(35));
        for (std::size_t k = 0; k < byRate.size(); ++k)
            QVERIFY(std::abs(byRate[k].seconds - 2.0 * double(k)) < 1e-3);
        FrameSampling capped = everyTwoSeconds;
        capped.maxFrames = 5;
        QCOMPARE(reader.sampleFrames(capped).size(), std::size_t(5));
        FrameSampling eight;
        eight.frames = 8;
        QCOMPARE(reader.sampleFrames(eight).size(), std::size_t(8));
    }

    void variableFrameRate() {
        // 10 frames 0.1 s apart, then 10 frames 0.5 s apart: 0.0 ... 0.9, 1.0, 1.5, ... 5.5.
        const VideoReader reader(
            ffmpeg("vfr.mkv", {"-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=20", "-vf",
                               "settb=1/1000,setpts='if(lt(N,10),N*100,1000+(N-10)*500)'", "-fps_mode",
                               "passthrough", "-c:v", "libx264", "-frames:v", "20"})
                .toStdString());
        QCOMPARE(reader.info().frameCount, std::int64_t(20));
        auto timeOfIndex = [](std::int64_t n) {
            return n < 10 ? double(n) * 0.1 : 1.0 + double(n - 10) * 0.5;
        };
        FrameSampling four;
        four.frames = 4;
        const auto byIndex = reader.sampleFrames(four);
        QCOMPARE(byIndex.size(), std::size_t(4));
        for (int i = 0; i < 4; ++i) {
            QCOMPARE(byIndex[std::size_t(i)].index, std::int64_t(i * 5));
            QVERIFY(std::abs(byIndex[std::size_t(i)].seconds - timeOfIndex(i * 5)) < 1e-3);
        }
        FrameSampling perSecond;
        perSecond.framesPerSecond = 1.0;
        const auto byTime = reader.sampleFrames(perSecond);
        QCOMPARE(byTime.size(), std::size_t(6)); // 0, 1, 2, 3, 4, 5 s
        for (std::size_t k = 0; k < byTime.size(); ++k) {
            QVERIFY2(std::abs(byTime[k].seconds - double(k)) < 1e-3,
                     qPrintable(QString::number(byTime[k].seconds)));
            QCOMPARE(byTime[k].timestamp, formatVideoTimestamp(double(k)));
        }
        // Twice a second: in the slow part every frame is taken once, none twice.
        perSecond.framesPerSecond = 4.0;
        const auto dense = reader.sampleFrames(perSecond);
        QCOMPARE(dense.size(),
                 std::size_t(4 + 10)); // 0, .3 (first at/after .25), .5, .8; then every slow frame
    }

    void singleFrameAndColours() {
        const QString file = testPattern("seek.mp4", "testsrc=size=160x120:rate=25:duration=4",
                                         {"-c:v", "libx264", "-g", "25"});
        const VideoReader reader(file.toStdString());
        const VideoFrame frame = reader.frameAt(2.5); // frames at 2.48 and 2.52: 2.48 is on screen
        QVERIFY2(std::abs(frame.seconds - 2.48) < 1e-3, qPrintable(QString::number(frame.seconds)));
        QCOMPARE(frame.timestamp, std::string("00:02"));
        FrameSampling all;
        all.frames = 100;
        const auto every = reader.sampleFrames(all);
        QCOMPARE(every[62].index, std::int64_t(62));
        QCOMPARE(frame.image.rgb, every[62].image.rgb); // the seek lands on the same decoded picture
        QVERIFY(std::abs(reader.frameAt(0).seconds) < 1e-3);
        QVERIFY(errorOf([&] { reader.frameAt(9.0); }).contains("outside the video"));
        QVERIFY(errorOf([&] { reader.frameAt(-1.0); }).contains("outside the video"));

        const VideoReader red(
            testPattern("red.mp4", "color=c=red:size=64x48:rate=5:duration=1", {"-c:v", "libx264"})
                .toStdString());
        const VideoFrame redFrame = red.frameAt(0.5);
        QVERIFY(redFrame.image.at(30, 20, 0) > 235 && redFrame.image.at(30, 20, 1) < 20 &&
                redFrame.image.at(30, 20, 2) < 20);
    }

    // Portrait phone videos: a display matrix asks for rotation. The ffmpeg command line turns the
    // frames upright; our frames must look like the frame it extracts.
    void displayRotation_data() {
        QTest::addColumn<int>("rotate");
        QTest::newRow("90") << 90;
        QTest::newRow("180") << 180;
        QTest::newRow("270") << 270;
    }
    void displayRotation() {
        QFETCH(int, rotate);
        const QString plain =
            testPattern("upright.mp4", "testsrc=size=160x96:rate=10:duration=1", {"-c:v", "libx264"});
        const QString turned =
            ffmpeg(QString("turned%1.mp4").arg(rotate),
                   {"-i", plain, "-c", "copy", "-metadata:s:v:0", QString("rotate=%1").arg(rotate)});
        const QString reference =
            ffmpeg(QString("turned%1.png").arg(rotate), {"-i", turned, "-frames:v", "1"});
        const RgbImage expected = loadImage(reference.toStdString());
        const VideoReader reader(turned.toStdString());
        qInfo("rotate=%d tag: we turn frames %d degrees clockwise", rotate, reader.info().clockwiseRotation);
        QCOMPARE(reader.info().width, expected.width);
        QCOMPARE(reader.info().height, expected.height);
        const RgbImage ours = reader.frameAt(0).image;
        QCOMPARE(ours.width, expected.width);
        QCOMPARE(ours.height, expected.height);
        double difference = 0;
        for (std::size_t i = 0; i < ours.rgb.size(); ++i)
            difference += std::abs(int(ours.rgb[i]) - int(expected.rgb[i]));
        difference /= double(ours.rgb.size());
        qInfo("rotation %d: mean |difference| from ffmpeg's upright frame %.2f", rotate, difference);
        QVERIFY(difference < 4.0); // same decode, only the RGB conversion may round differently
    }

    void progressCanCancel() {
        const VideoReader reader(
            testPattern("cancel.mp4", "testsrc=size=64x48:rate=10:duration=5", {"-c:v", "mpeg4"})
                .toStdString());
        int calls = 0;
        const QString error =
            errorOf([&] { reader.sampleFrames({}, [&](int done, int) { return ++calls, done < 3; }); });
        QVERIFY2(error.contains("cancelled"), qPrintable(error));
        QCOMPARE(calls, 3);
    }

    void truncatedFiles() {
        // MP4 with the index at the end: the cut file cannot be opened at all.
        const QString plain =
            testPattern("cut.mp4", "testsrc=size=160x120:rate=25:duration=4", {"-c:v", "libx264"});
        truncateFile(plain, 0.5);
        QString error = errorOf([&] { VideoReader reader(plain.toStdString()); });
        qInfo("%s", qPrintable(error));
        QVERIFY2(error.contains("cut.mp4") && error.contains("truncated"), qPrintable(error));
        // Index first (faststart): opens, but the frames stop early.
        const QString fast = testPattern("cutfast.mp4", "testsrc=size=160x120:rate=25:duration=4",
                                         {"-c:v", "libx264", "-movflags", "+faststart"});
        truncateFile(fast, 0.5);
        error = errorOf([&] { VideoReader(fast.toStdString()).sampleFrames({}); });
        qInfo("%s", qPrintable(error));
        QVERIFY2(error.contains("truncated"), qPrintable(error));
        // WebM: the header gives the duration, the packets stop halfway.
        const QString webm = testPattern("cut.webm", "testsrc=size=160x120:rate=25:duration=4",
                                         {"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"});
        truncateFile(webm, 0.5);
        error = errorOf([&] { VideoReader(webm.toStdString()).sampleFrames({}); });
        qInfo("%s", qPrintable(error));
        QVERIFY2(error.contains("truncated"), qPrintable(error));
    }

    void audioOnlyAndBroken() {
        const QString audio = ffmpeg("sound.m4a", {"-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac"});
        QString error = errorOf([&] { VideoReader reader(audio.toStdString()); });
        QVERIFY2(error.contains("no video stream"), qPrintable(error));
        writeBytes(path("junk.mp4"), QByteArray(20000, '\x42'));
        error = errorOf([&] { VideoReader reader(path("junk.mp4").toStdString()); });
        QVERIFY2(error.contains("junk.mp4"), qPrintable(error));
        QVERIFY(
            errorOf([&] { VideoReader reader(path("absent.mp4").toStdString()); }).contains("cannot open"));
    }
};

QTEST_APPLESS_MAIN(TestMediaVideo)
#include "test_media_video.moc"
