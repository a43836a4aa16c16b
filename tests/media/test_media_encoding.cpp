// Media files into chat parts with their soft tokens (media/media_encoding.h) and those parts into
// the engine's prompt (engine/media_prompt.h), with the fixture mmproj and the fixture vocabulary:
// frame counts and times, tokens per frame at budget 70, progress while frames are encoded, one
// frame at a chosen time, errors for audio-only and broken files, and where each span's rows land.
#include "engine/media_prompt.h"
#include "media/media_encoding.h"
#include "media/media_error.h"
#include "media_test_support.h"
#include "tokenizer/vocab.h"

#include <QTemporaryDir>
#include <QtTest>

using namespace ocelle;
using namespace ocelle::media::testing;

namespace {
const std::string kMmproj = OCELLE_FIXTURES_DIR "/vision/tiny-gemma4-e-mmproj.gguf";
const std::string kModel = OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf";
} // namespace

class TestMediaEncoding : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    std::unique_ptr<vision::VisionEncoder> encoder_;
    QString ffmpeg(const QString& name, const QStringList& args) const {
        runTool("ffmpeg", QStringList{"-hide_banner", "-loglevel", "error", "-y"} + args +
                              QStringList{dir_.filePath(name)});
        return dir_.filePath(name);
    }

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        encoder_ = vision::VisionEncoder::load(kMmproj, 2);
    }

    // 80 s at 10 fps (800 frames, 64x48): 4 frames at floor(i * 800 / 4) = 0, 200, 400, 600, i.e.
    // 0, 20, 40 and 60 s; each 64x48 frame at budget 70 is 432x336 = 9 x 7 = 63 soft tokens.
    void videoFramesEncodedWithProgress() {
        const std::string video =
            ffmpeg("long.mp4", {"-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=80", "-c:v",
                                "libx264", "-pix_fmt", "yuv420p"})
                .toStdString();
        std::vector<std::pair<int, int>> progress;
        const chat::Part part =
            media::encodeVideoPart(*encoder_, video, {.frames = 4}, [&](int done, int total) {
                progress.push_back({done, total});
                return true;
            });
        QCOMPARE(part.kind, chat::Part::Kind::Video);
        QCOMPARE(part.frames.size(), std::size_t(4));
        const double expected[] = {0, 20, 40, 60};
        for (int i = 0; i < 4; ++i) {
            QVERIFY2(std::abs(part.frames[i].seconds - expected[i]) < 1e-6,
                     qPrintable(QString::number(part.frames[i].seconds)));
            QCOMPARE(part.frames[i].softTokens, 63);
            QVERIFY(part.frames[i].embeddings);
            QCOMPARE(part.frames[i].embeddings->size(), std::size_t(63) * encoder_->params().projectionDim);
        }
        QCOMPARE(progress, (std::vector<std::pair<int, int>>{{1, 4}, {2, 4}, {3, 4}, {4, 4}}));
        QVERIFY_THROWS_EXCEPTION(media::MediaError, media::encodeVideoPart(*encoder_, video, {.frames = 4},
                                                                           [](int, int) { return false; }));

        // By rate: one frame every 20 s, the progress total known in advance.
        progress.clear();
        const chat::Part byRate =
            media::encodeVideoPart(*encoder_, video, {.framesPerSecond = 0.05}, [&](int done, int total) {
                progress.push_back({done, total});
                return true;
            });
        QCOMPARE(byRate.frames.size(), std::size_t(4));
        for (int i = 0; i < 4; ++i) QVERIFY(std::abs(byRate.frames[i].seconds - expected[i]) < 1e-6);
        QCOMPARE(progress, (std::vector<std::pair<int, int>>{{1, 4}, {2, 4}, {3, 4}, {4, 4}}));

        // One frame at a chosen time: the frame on screen at 33.35 s is the one starting at 33.3 s.
        const chat::Part one = media::encodeVideoFramePart(*encoder_, video, 33.35);
        QCOMPARE(one.frames.size(), std::size_t(1));
        QVERIFY2(std::abs(one.frames[0].seconds - 33.3) < 1e-6,
                 qPrintable(QString::number(one.frames[0].seconds)));
        QCOMPARE(one.frames[0].softTokens, 63);
        QVERIFY_THROWS_EXCEPTION(media::MediaError, media::encodeVideoFramePart(*encoder_, video, 81));
        QVERIFY_THROWS_EXCEPTION(media::MediaError, media::encodeVideoPart(*encoder_, video, {}, {}, 100));
    }

    void audioOnlyAndBrokenVideos() {
        const std::string audioOnly =
            ffmpeg("tone.m4a", {"-f", "lavfi", "-i", "sine=frequency=440:duration=2"}).toStdString();
        try {
            media::encodeVideoPart(*encoder_, audioOnly);
            QFAIL("an audio-only file was accepted as a video");
        } catch (const media::MediaError& e) {
            QVERIFY2(QString(e.what()).contains(QStringLiteral("no video stream")), e.what());
        }
        const QString cut =
            ffmpeg("cut.mp4", {"-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=20", "-c:v",
                               "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart"});
        truncateFile(cut, 0.5);
        try {
            media::encodeVideoPart(*encoder_, cut.toStdString());
            QFAIL("a truncated video was accepted");
        } catch (const media::MediaError& e) {
            QVERIFY2(QString(e.what()).contains(QStringLiteral("truncated")), e.what());
        }
    }

    // The rendered prompt carries each part's rows at its placeholders: an image, a two-frame video
    // and an audio clip (rows made up here, of the fixture model's width).
    void promptFromConversationPlacesEveryRun() {
        const auto vocab = tokenizer::Vocab::load(kModel);
        const chat::ChatFormat format(*vocab);
        const int width = 8;
        auto rows = [&](int tokens, float value) {
            return std::make_shared<const std::vector<float>>(std::size_t(tokens) * width, value);
        };
        chat::Conversation conversation;
        conversation.messages.push_back(
            {"user",
             {chat::Part::image(5, rows(5, 1.0f)),
              chat::Part::video({{0.0, 3, rows(3, 2.0f)}, {61.5, 3, rows(3, 3.0f)}}),
              chat::Part::audio(4, rows(4, 4.0f)), chat::Part::makeText("What is this?")},
             {},
             {}});
        const engine::Prompt prompt = engine::promptFromConversation(format, conversation, width, true);
        QCOMPARE(prompt.softTokens.size(), std::size_t(4));
        const int counts[] = {5, 3, 3, 4};
        const float values[] = {1, 2, 3, 4};
        const tokenizer::TokenId placeholders[] = {format.tokens().imageSoft, format.tokens().videoSoft,
                                                   format.tokens().videoSoft, format.tokens().audioSoft};
        for (int i = 0; i < 4; ++i) {
            const engine::SoftTokenSpan& span = prompt.softTokens[i];
            QCOMPARE(span.count, counts[i]);
            QCOMPARE(span.embeddings, std::vector<float>(std::size_t(counts[i]) * width, values[i]));
            QCOMPARE(span.bidirectional, i < 3); // images and frames under the policy, audio never
            for (int p = span.first; p < span.first + span.count; ++p)
                QCOMPARE(prompt.ids[p], placeholders[i]);
            QVERIFY(prompt.ids[span.first - 1] != placeholders[i]);
            QVERIFY(prompt.ids[span.first + span.count] != placeholders[i]);
        }
        // The frames' times are written mm:ss before each frame.
        const std::string text = format.renderText(conversation);
        QVERIFY2(text.find("00:00 <|image>") != std::string::npos, text.c_str());
        QVERIFY2(text.find("<image|> 01:01 <|image>") != std::string::npos, text.c_str());

        // Missing rows and rows of another width are refused with the part named.
        conversation.messages[0].content[2].embeddings.reset();
        try {
            engine::promptFromConversation(format, conversation, width, false);
            QFAIL("an audio part without rows was accepted");
        } catch (const engine::Error& e) {
            QVERIFY2(QString(e.what()).contains(QStringLiteral("audio clip in message 1, part 3")), e.what());
        }
        conversation.messages[0].content[2].embeddings = rows(4, 4.0f);
        try {
            engine::promptFromConversation(format, conversation, width + 1, false);
            QFAIL("rows of another width were accepted");
        } catch (const engine::Error& e) {
            QVERIFY2(QString(e.what()).contains(QStringLiteral("another model")), e.what());
        }
    }
};

QTEST_MAIN(TestMediaEncoding)
#include "test_media_encoding.moc"
