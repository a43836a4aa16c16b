// The composer's attachments: the list model (checked by QAbstractItemModelTester) with real files
// made here by ImageMagick and ffmpeg (an image, a video, an audio file, a truncated image, a text
// file), thumbnails and the video frame strip with its timestamps, token estimates against hand
// computed numbers, inputs refused with the reason when the loaded model cannot take them (no
// mmproj, an mmproj without an audio tower), and an attached image reaching the engine on send.
// PDFs written here with QPdfWriter (tests/media/pdf_test_support.h, and qpdf for a locked one):
// page thumbnails, the document budget, pages left out when they do not fit (said in words), damaged
// and password-protected files refused with the reason. Attachments are kept in a real SQLite store
// and come back with their message after the store and the controller are made again (a restart):
// shown with their pictures, and sent again by regenerate and by an edit; exported (Markdown with
// the files alongside, JSON) on a worker thread and imported, they are sent again as they were.
#include "attachment_list_model.h"
#include "chat_controller.h"
#include "scripted_chat_engine.h"

#include "gguf/gguf_writer.h"
#include "media/pdf_document.h"
#include "media/pdf_test_support.h"

#include <QAbstractItemModelTester>
#include <QClipboard>
#include <QGuiApplication>
#include <QImage>
#include <QProcess>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

namespace {

const QString kFixtures = QStringLiteral(OCELLE_FIXTURES_DIR);

void run(const QString& program, const QStringList& arguments) {
    QProcess process;
    process.start(program, arguments);
    QVERIFY2(process.waitForStarted(10000), qPrintable(program + " is not installed (scripts/setup)"));
    QVERIFY2(process.waitForFinished(120000) && process.exitCode() == 0,
             qPrintable(program + ": " + QString::fromUtf8(process.readAllStandardError())));
}

// A folder holding the fixture text model and, optionally, a projector next to it.
struct ModelFolder {
    QTemporaryDir dir;
    QString model;
    explicit ModelFolder(const QString& projector = {}, const QString& projectorName = {}) {
        model = dir.filePath(QStringLiteral("tiny-gemma4-e.gguf"));
        QFile::link(kFixtures + QStringLiteral("/models/tiny-gemma4-e.gguf"), model);
        if (!projector.isEmpty()) QFile::link(projector, dir.filePath(projectorName));
    }
};

struct Chat {
    std::shared_ptr<ScriptedChatEngine::Shared> shared = std::make_shared<ScriptedChatEngine::Shared>();
    QTemporaryDir dataDir;
    std::unique_ptr<ModelController> models;
    std::unique_ptr<ConversationStore> store;
    std::unique_ptr<ChatController> chat;
    explicit Chat(const QString& modelPath) {
        models = std::make_unique<ModelController>(std::make_unique<ScriptedChatEngine>(
            std::vector<ocelle::app::StreamDelta>{{"", "A cat."}}, shared));
        store = std::make_unique<ConversationStore>(dataDir.path());
        chat = std::make_unique<ChatController>(models.get(), store.get());
        QSignalSpy loaded(models.get(), &ModelController::loadFinished);
        models->openModelPath(modelPath);
        loaded.wait(5000);
    }
};

} // namespace

class TestAttachments : public QObject {
    Q_OBJECT

    QTemporaryDir media_;
    QString photo_, clip_, tone_, truncated_, text_, visionOnlyProjector_, pdf_, damagedPdf_, lockedPdf_;

private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QVERIFY(media_.isValid());
        photo_ = media_.filePath("photo.png");
        clip_ = media_.filePath("clip.mp4");
        tone_ = media_.filePath("tone.wav");
        truncated_ = media_.filePath("broken.png");
        text_ = media_.filePath("notes.txt");
        run("convert", {"-size", "640x480", "gradient:orange-navy", photo_});
        run("ffmpeg", {"-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-t", "3",
                       "-c:v", "mpeg4", "-pix_fmt", "yuv420p", clip_});
        run("ffmpeg", {"-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-ar",
                       "16000", tone_});
        QFile::copy(photo_, truncated_);
        QFile broken(truncated_);
        QVERIFY(broken.resize(broken.size() / 3));
        QFile text(text_);
        QVERIFY(text.open(QIODevice::WriteOnly));
        text.write("just words\n");
        text.close();

        pdf_ = media_.filePath("letter.pdf");
        ocelle::media::testing::writeTestPdf(pdf_, {{Qt::red}, {Qt::green}, {Qt::blue}});
        damagedPdf_ = media_.filePath("damaged.pdf");
        QFile::copy(pdf_, damagedPdf_);
        QFile damaged(damagedPdf_);
        QVERIFY(damaged.resize(200)); // the header survives, the rest is gone
        lockedPdf_ = media_.filePath("locked.pdf");
        run("qpdf", {"--encrypt", "secret", "owner", "256", "--", pdf_, lockedPdf_});

        // A projector with an image tower and no audio tower (what ModelController pairs on).
        visionOnlyProjector_ = media_.filePath("vision-only.gguf");
        ocelle::gguf::Writer writer;
        writer.set("general.architecture", ocelle::gguf::MetaValue::string("clip"));
        writer.set("clip.has_vision_encoder", ocelle::gguf::MetaValue::boolean(true));
        writer.set("clip.has_audio_encoder", ocelle::gguf::MetaValue::boolean(false));
        writer.write(visionOnlyProjector_.toStdString());
    }

    void cleanupTestCase() {
        QSettings().clear(); // the document budget set here is not for the tests that follow
    }

    void tokenEstimates() {
        // HF sizing: 640x480 at 280 -> 912x672 = 19 x 14 = 266 soft tokens, plus the markers.
        QCOMPARE(AttachmentListModel::imageTokenEstimate(640, 480, 280), 266 + 4);
        // 320x240 at 70: f = sqrt(9*70*256 / 76800) = 1.449 -> 432x336 = 9 x 7 = 63 per frame.
        QCOMPARE(AttachmentListModel::videoTokenEstimate(320, 240, 4), 4 * (63 + 6) + 2);
        // 25 tokens a second (HF's golden counts), 30 s pieces for longer audio.
        QCOMPARE(AttachmentListModel::audioTokenEstimate(38560), 60 + 2);
        QCOMPARE(AttachmentListModel::audioTokenEstimate(48000), 75 + 2);
        QCOMPARE(AttachmentListModel::audioTokenEstimate(480000), 750 + 2);
        // 40 s: a 30 s piece and a 10 s piece in one span (HF would truncate to 750).
        QCOMPARE(AttachmentListModel::audioTokenEstimate(640000), 750 + 250 + 2);
    }

    void modelWithRealFiles() {
        AttachmentListModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy refused(&model, &AttachmentListModel::refused);

        QCOMPARE(model.addUrls(
                     {QUrl::fromLocalFile(photo_), QUrl::fromLocalFile(clip_), QUrl::fromLocalFile(tone_)}),
                 3);
        QVERIFY(model.preparing());
        QTRY_VERIFY_WITH_TIMEOUT(!model.preparing(), 60000);
        QCOMPARE(model.count(), 3);
        QVERIFY2(refused.isEmpty(), refused.isEmpty() ? "" : qPrintable(refused.first().first().toString()));

        const QModelIndex image = model.index(0);
        QCOMPARE(image.data(AttachmentListModel::KindNameRole).toString(), QStringLiteral("image"));
        QCOMPARE(image.data(AttachmentListModel::TokensRole).toInt(), 270);
        QVERIFY(image.data(AttachmentListModel::DetailRole)
                    .toString()
                    .contains(QStringLiteral("640 \u00d7 480")));
        const QImage thumbnail(QUrl(image.data(AttachmentListModel::ThumbnailRole).toString()).toLocalFile());
        QCOMPARE(thumbnail.height(), 96);
        QCOMPARE(thumbnail.width(), 128);

        const QModelIndex video = model.index(1);
        // 3 s at 10 fps: 30 frames, fewer than the default 32, so all of them.
        QCOMPARE(video.data(AttachmentListModel::FrameCountRole).toInt(), 30);
        QVariantList frames = video.data(AttachmentListModel::FramesRole).toList();
        QCOMPARE(frames.size(), 30);
        QCOMPARE(frames.first().toMap().value("timestamp").toString(), QStringLiteral("00:00"));
        QCOMPARE(frames.last().toMap().value("timestamp").toString(), QStringLiteral("00:02"));
        QCOMPARE(video.data(AttachmentListModel::TokensRole).toInt(), 30 * 69 + 2);
        QVERIFY(QFile::exists(QUrl(frames.first().toMap().value("thumbnail").toString()).toLocalFile()));

        // Fewer frames: the strip and the estimate follow.
        QVERIFY(model.setVideoFrames(1, 4));
        QTRY_VERIFY_WITH_TIMEOUT(!model.preparing(), 60000);
        frames = model.index(1).data(AttachmentListModel::FramesRole).toList();
        QCOMPARE(frames.size(), 4);
        // Frames at floor(i * 30 / 4) = 0, 7, 15, 22 -> 0.0, 0.7, 1.5, 2.2 s.
        QStringList times;
        for (const QVariant& f : frames) times << f.toMap().value("timestamp").toString();
        QCOMPARE(times, QStringList({"00:00", "00:00", "00:01", "00:02"}));
        QCOMPARE(model.index(1).data(AttachmentListModel::TokensRole).toInt(), 4 * 69 + 2);
        QVERIFY(!model.setVideoFrames(0, 4)); // not a video

        const QModelIndex audio = model.index(2);
        QCOMPARE(audio.data(AttachmentListModel::KindNameRole).toString(), QStringLiteral("audio"));
        QCOMPARE(audio.data(AttachmentListModel::TokensRole).toInt(), 77);
        QCOMPARE(model.totalTokens(), 270 + 278 + 77);

        const auto media = model.media();
        QCOMPARE(media.size(), size_t(3));
        QCOMPARE(media[0].kind, ocelle::app::TurnMedia::Kind::Image);
        QCOMPARE(QString::fromStdString(media[0].path), QFileInfo(photo_).absoluteFilePath());
        QCOMPARE(media[1].kind, ocelle::app::TurnMedia::Kind::Video);
        QCOMPARE(media[1].videoFrames, 4);
        QCOMPARE(media[1].imageBudget, 70);
        QCOMPARE(media[2].kind, ocelle::app::TurnMedia::Kind::Audio);

        // Files that cannot be used are refused with their name and the reason.
        QCOMPARE(model.addUrls({QUrl::fromLocalFile(text_)}), 0);
        QCOMPARE(refused.size(), 1);
        QVERIFY(refused.last().first().toString().contains(QStringLiteral("notes.txt")));
        QCOMPARE(model.addUrls({QUrl::fromLocalFile(truncated_)}), 1); // looks like a PNG at first
        QTRY_COMPARE_WITH_TIMEOUT(refused.size(), 2, 30000);
        QVERIFY(refused.last().first().toString().contains(QStringLiteral("broken.png")));
        QCOMPARE(model.count(), 3);
        QCOMPARE(model.addUrls({QUrl(QStringLiteral("https://example.com/cat.png"))}), 0);
        QCOMPARE(refused.size(), 3);

        model.remove(1);
        QCOMPARE(model.count(), 2);
        QCOMPARE(model.totalTokens(), 270 + 77);
        model.clear();
        QCOMPARE(model.count(), 0);
        QCOMPARE(model.totalTokens(), 0);
    }

    void pastedImageAndRecordingBecomeFiles() {
        AttachmentListModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QImage image(300, 200, QImage::Format_RGB32);
        image.fill(Qt::darkGreen);
        QVERIFY(model.addImage(image, QStringLiteral("Pasted image")));
        std::vector<float> tone(16000 * 2);
        for (size_t i = 0; i < tone.size(); ++i)
            tone[i] = 0.5f * float(std::sin(2 * M_PI * 440 * double(i) / 16000));
        QVERIFY(model.addRecording(tone));
        QTRY_VERIFY_WITH_TIMEOUT(!model.preparing(), 30000);
        QCOMPARE(model.count(), 2);
        QCOMPARE(model.index(0).data(AttachmentListModel::NameRole).toString(),
                 QStringLiteral("Pasted image"));
        const QString saved = model.index(0).data(AttachmentListModel::PathRole).toString();
        QVERIFY(saved.startsWith(AttachmentListModel::attachmentFolder()));
        QCOMPARE(QImage(saved).size(), QSize(300, 200));
        QCOMPARE(model.index(0).data(AttachmentListModel::TokensRole).toInt(),
                 AttachmentListModel::imageTokenEstimate(300, 200, 280));
        // The WAV reads back through FFmpeg as 2 s of 16 kHz audio: 50 tokens.
        QCOMPARE(model.index(1).data(AttachmentListModel::TokensRole).toInt(), 50 + 2);
        QVERIFY(
            model.index(1).data(AttachmentListModel::PathRole).toString().endsWith(QStringLiteral(".wav")));
    }

    void pdfPagesAsThumbnails() {
        const ocelle::media::PdfDocument document(pdf_.toStdString());
        const int pageTokens = document.pageSoftTokens(0, 1120) + ocelle::media::kPdfPageOverheadTokens;
        AttachmentListModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy refused(&model, &AttachmentListModel::refused);
        QCOMPARE(model.addUrls({QUrl::fromLocalFile(pdf_)}), 1);
        QTRY_VERIFY_WITH_TIMEOUT(!model.preparing(), 60000);
        QVERIFY2(refused.isEmpty(), refused.isEmpty() ? "" : qPrintable(refused.first().first().toString()));
        const QModelIndex pdf = model.index(0);
        QCOMPARE(pdf.data(AttachmentListModel::KindNameRole).toString(), QStringLiteral("pdf"));
        QCOMPARE(pdf.data(AttachmentListModel::TokensRole).toInt(), 3 * pageTokens);
        QCOMPARE(pdf.data(AttachmentListModel::NoteRole).toString(), QString());
        QVERIFY2(pdf.data(AttachmentListModel::DetailRole).toString().startsWith(QStringLiteral("3 pages")),
                 qPrintable(pdf.data(AttachmentListModel::DetailRole).toString()));
        const QVariantList pages = pdf.data(AttachmentListModel::FramesRole).toList();
        QCOMPARE(pages.size(), 3);
        QStringList labels;
        for (const QVariant& p : pages) labels << p.toMap().value("timestamp").toString();
        QCOMPARE(labels, QStringList({"p. 1", "p. 2", "p. 3"}));
        // Each thumbnail is its own page: A4 at 72 px high, the top-left quarter in the page's colour.
        const QList<QColor> colours{Qt::red, Qt::green, Qt::blue};
        for (int i = 0; i < 3; ++i) {
            const QImage page(QUrl(pages[i].toMap().value("thumbnail").toString()).toLocalFile());
            QCOMPARE(page.height(), 72);
            QVERIFY2(std::abs(page.width() - 51) <= 1, qPrintable(QString::number(page.width())));
            const QColor corner = page.pixelColor(page.width() / 8, page.height() / 8);
            QVERIFY2(std::abs(corner.red() - colours[i].red()) < 40 &&
                         std::abs(corner.green() - colours[i].green()) < 40 &&
                         std::abs(corner.blue() - colours[i].blue()) < 40,
                     qPrintable(corner.name()));
        }
        const auto media = model.media();
        QCOMPARE(media.size(), size_t(3)); // one entry per page
        for (int i = 0; i < 3; ++i) {
            QCOMPARE(media[size_t(i)].kind, ocelle::app::TurnMedia::Kind::PdfPage);
            QCOMPARE(media[size_t(i)].pdfPage, i);
            QCOMPARE(media[size_t(i)].imageBudget, 1120);
        }

        // The document budget setting: pages at 280 cost fewer tokens.
        model.clear();
        model.setBudgets(280, 280);
        QCOMPARE(model.addUrls({QUrl::fromLocalFile(pdf_)}), 1);
        QTRY_VERIFY_WITH_TIMEOUT(!model.preparing(), 60000);
        const int smallPage = document.pageSoftTokens(0, 280) + ocelle::media::kPdfPageOverheadTokens;
        QVERIFY(smallPage < pageTokens);
        QCOMPARE(model.totalTokens(), 3 * smallPage);
        QCOMPARE(model.media().front().imageBudget, 280);

        // Room for two pages only: the third is left out, and the card says so.
        model.clear();
        model.setBudgets(280, 1120);
        model.setTokenRoom(2 * pageTokens + 10);
        QCOMPARE(model.addUrls({QUrl::fromLocalFile(pdf_)}), 1);
        QTRY_VERIFY_WITH_TIMEOUT(!model.preparing(), 60000);
        QCOMPARE(model.totalTokens(), 2 * pageTokens);
        QCOMPARE(model.media().size(), size_t(2));
        const QString note = model.index(0).data(AttachmentListModel::NoteRole).toString();
        QVERIFY2(note.contains(QStringLiteral("2")) && note.contains(QStringLiteral("3")), qPrintable(note));
        QVERIFY(model.index(0)
                    .data(AttachmentListModel::DetailRole)
                    .toString()
                    .startsWith(QStringLiteral("2 of 3")));

        // Not even one page fits: refused, saying how much a page needs.
        model.clear();
        model.setTokenRoom(20);
        QCOMPARE(model.addUrls({QUrl::fromLocalFile(pdf_)}), 1);
        QTRY_COMPARE_WITH_TIMEOUT(refused.size(), 1, 30000);
        QVERIFY2(refused.last().first().toString().contains(QStringLiteral("letter.pdf")),
                 qPrintable(refused.last().first().toString()));
        QCOMPARE(model.count(), 0);
    }

    void brokenPdfsRefused() {
        AttachmentListModel model;
        QSignalSpy refused(&model, &AttachmentListModel::refused);
        QCOMPARE(model.addUrls({QUrl::fromLocalFile(damagedPdf_)}), 1);
        QTRY_COMPARE_WITH_TIMEOUT(refused.size(), 1, 30000);
        QString message = refused.last().first().toString();
        QVERIFY2(message.contains(QStringLiteral("damaged.pdf")) &&
                     message.contains(QStringLiteral("damaged")),
                 qPrintable(message));
        QCOMPARE(model.addUrls({QUrl::fromLocalFile(lockedPdf_)}), 1);
        QTRY_COMPARE_WITH_TIMEOUT(refused.size(), 2, 30000);
        message = refused.last().first().toString();
        QVERIFY2(message.contains(QStringLiteral("locked.pdf")) &&
                     message.contains(QStringLiteral("password")),
                 qPrintable(message));
        QCOMPARE(model.count(), 0);
    }

    // Sent with a message, attachments are files in the store next to the database; after a
    // restart (store and controller made again on the same folder) the message shows them again
    // with their pictures, and regenerate and an edit send the same files and pages.
    void attachmentsSurviveARestart() {
        ModelFolder folder(kFixtures + QStringLiteral("/vision/tiny-gemma4-e-mmproj.gguf"),
                           QStringLiteral("tiny-gemma4-e-mmproj.gguf"));
        Chat c(folder.model);
        SettingsController settings;
        settings.setDocumentTokenBudget(280); // three pages fit the scripted engine's context
        c.chat->setSettings(&settings);
        QCOMPARE(c.chat->attachUrls({QUrl::fromLocalFile(photo_), QUrl::fromLocalFile(pdf_)}), 2);
        QTRY_VERIFY_WITH_TIMEOUT(!c.chat->attachments()->preparing(), 60000);
        QSignalSpy finished(c.chat.get(), &ChatController::answerFinished);
        QVERIFY(c.chat->send(QStringLiteral("Compare these.")));
        QVERIFY(finished.wait(10000));
        const int conversation = c.chat->currentConversationId();
        std::vector<ocelle::app::TurnMedia> sent;
        {
            std::lock_guard lock(c.shared->mutex);
            sent = c.shared->requests.back().turns.front().media;
        }
        QCOMPARE(sent.size(), size_t(4)); // the image, then three pages
        QFile original(photo_), kept(QString::fromStdString(sent[0].path));
        QVERIFY(original.open(QIODevice::ReadOnly) && kept.open(QIODevice::ReadOnly));
        QVERIFY(kept.fileName().startsWith(c.store->attachmentsDirectory()));
        QCOMPARE(kept.readAll(), original.readAll());
        QCOMPARE(sent[3].kind, ocelle::app::TurnMedia::Kind::PdfPage);
        QCOMPARE(sent[3].pdfPage, 2);

        // The restart: a new store and controller on the same database file.
        c.chat.reset();
        c.store.reset();
        c.store = std::make_unique<ConversationStore>(c.dataDir.path());
        c.chat = std::make_unique<ChatController>(c.models.get(), c.store.get());
        c.chat->setSettings(&settings);
        QVERIFY(c.chat->selectConversation(conversation));
        QCOMPARE(c.chat->messages()->count(), 2);
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                const QVariantList cards =
                    c.chat->messages()->index(0).data(MessageListModel::AttachmentsRole).toList();
                return cards.size() == 2 && !cards[0].toMap().value("thumbnail").toString().isEmpty() &&
                       !cards[1].toMap().value("thumbnail").toString().isEmpty();
            }(),
            30000);
        const QVariantList cards =
            c.chat->messages()->index(0).data(MessageListModel::AttachmentsRole).toList();
        QCOMPARE(cards[0].toMap().value("name").toString(), QStringLiteral("photo.png"));
        QCOMPARE(cards[1].toMap().value("name").toString(), QStringLiteral("letter.pdf"));
        QCOMPARE(cards[1].toMap().value("kind").toString(), QStringLiteral("pdf"));
        QCOMPARE(QImage(QUrl(cards[0].toMap().value("thumbnail").toString()).toLocalFile()).size(),
                 QSize(128, 96));

        QSignalSpy again(c.chat.get(), &ChatController::answerFinished);
        QVERIFY(c.chat->regenerate());
        QVERIFY(again.wait(10000));
        {
            std::lock_guard lock(c.shared->mutex);
            QVERIFY(c.shared->requests.back().turns.front().media == sent);
        }
        QVERIFY(c.chat->editMessage(0, QStringLiteral("Compare them again.")));
        QVERIFY(again.wait(10000));
        std::lock_guard lock(c.shared->mutex);
        QCOMPARE(c.shared->requests.back().turns.front().text, std::string("Compare them again."));
        QVERIFY(c.shared->requests.back().turns.front().media == sent);
    }

    // Export runs on a worker thread: Markdown puts the files next to it, JSON carries them, and
    // importing that JSON gives a conversation whose message sends the same pages again.
    void exportAndImportCarryTheAttachments() {
        ModelFolder folder(kFixtures + QStringLiteral("/vision/tiny-gemma4-e-mmproj.gguf"),
                           QStringLiteral("tiny-gemma4-e-mmproj.gguf"));
        Chat c(folder.model);
        SettingsController settings;
        settings.setDocumentTokenBudget(280);
        c.chat->setSettings(&settings);
        QCOMPARE(c.chat->attachUrls({QUrl::fromLocalFile(pdf_)}), 1);
        QTRY_VERIFY_WITH_TIMEOUT(!c.chat->attachments()->preparing(), 60000);
        QSignalSpy finished(c.chat.get(), &ChatController::answerFinished);
        QVERIFY(c.chat->send(QStringLiteral("Read this.")));
        QVERIFY(finished.wait(10000));
        const int conversation = c.chat->currentConversationId();

        QTemporaryDir out;
        QSignalSpy exported(c.chat.get(), &ChatController::exportFinished);
        QVERIFY(c.chat->exportConversation(conversation, QUrl::fromLocalFile(out.filePath("chat.md"))));
        QVERIFY(exported.wait(10000));
        QCOMPARE(exported.last().at(1).toString(), QString());
        QFile copied(out.filePath("chat_files/letter.pdf")), original(pdf_);
        QVERIFY(copied.open(QIODevice::ReadOnly) && original.open(QIODevice::ReadOnly));
        QCOMPARE(copied.readAll(), original.readAll());
        QVERIFY(c.chat->exportConversation(conversation, QUrl::fromLocalFile(out.filePath("chat.json"))));
        QVERIFY(exported.wait(10000));
        QCOMPARE(exported.last().at(1).toString(), QString());

        QVERIFY(c.chat->importConversation(QUrl::fromLocalFile(out.filePath("chat.json"))));
        QVERIFY(c.chat->currentConversationId() != conversation);
        QCOMPARE(c.chat->messages()->index(0).data(MessageListModel::AttachmentsRole).toList().size(), 1);
        QSignalSpy again(c.chat.get(), &ChatController::answerFinished);
        QVERIFY(c.chat->regenerate());
        QVERIFY(again.wait(10000));
        std::lock_guard lock(c.shared->mutex);
        const auto& media = c.shared->requests.back().turns.front().media;
        QCOMPARE(media.size(), size_t(3)); // the three pages, as they were sent
        QCOMPARE(media[2].pdfPage, 2);
        QCOMPARE(media[2].imageBudget, 280);
    }

    void refusedWithoutProjector() {
        ModelFolder folder;
        Chat c(folder.model);
        QVERIFY(c.models->modelLoaded());
        QVERIFY(c.chat->imageInputReason().contains(QStringLiteral("no mmproj")));
        QVERIFY(!c.chat->audioInputReason().isEmpty());
        QCOMPARE(c.chat->attachUrls({QUrl::fromLocalFile(photo_)}), 0);
        QVERIFY2(c.chat->notice().contains(c.chat->imageInputReason()), qPrintable(c.chat->notice()));
        QCOMPARE(c.chat->attachments()->count(), 0);
        // The microphone says why before anything is opened.
        QVERIFY(!c.chat->recorder()->start());
        QVERIFY(!c.chat->recorder()->recording());
        QCOMPARE(c.chat->recorder()->blockedReason(), c.chat->audioInputReason());
        QCOMPARE(c.chat->recorder()->message(), c.chat->audioInputReason());
    }

    void audioRefusedWithVisionOnlyProjector() {
        ModelFolder folder(visionOnlyProjector_, QStringLiteral("tiny-gemma4-e-mmproj.gguf"));
        Chat c(folder.model);
        QVERIFY(c.models->modelLoaded());
        QVERIFY(!c.models->projectorPath().isEmpty());
        QCOMPARE(c.chat->imageInputReason(), QString());
        QVERIFY2(c.chat->audioInputReason().contains(QStringLiteral("no audio encoder")),
                 qPrintable(c.chat->audioInputReason()));
        QCOMPARE(c.chat->attachUrls({QUrl::fromLocalFile(tone_)}), 0);
        QVERIFY(c.chat->notice().contains(QStringLiteral("no audio encoder")));
        QVERIFY(!c.chat->recorder()->start());
        QCOMPARE(c.chat->recorder()->blockedReason(), c.chat->audioInputReason());
        QCOMPARE(c.chat->attachUrls({QUrl::fromLocalFile(photo_)}), 1);
    }

    void attachedImageReachesTheEngine() {
        ModelFolder folder(kFixtures + QStringLiteral("/vision/tiny-gemma4-e-mmproj.gguf"),
                           QStringLiteral("tiny-gemma4-e-mmproj.gguf"));
        Chat c(folder.model);
        QCOMPARE(c.chat->imageInputReason(), QString());
        QCOMPARE(c.chat->audioInputReason(), QString());
        QCOMPARE(c.shared->requests.size(), size_t(0));
        QCOMPARE(c.chat->attachUrls({QUrl::fromLocalFile(photo_)}), 1);
        QVERIFY(!c.chat->send(QStringLiteral("What is this?"))); // still preparing: not sent
        QTRY_VERIFY_WITH_TIMEOUT(!c.chat->attachments()->preparing(), 30000);
        QSignalSpy finished(c.chat.get(), &ChatController::answerFinished);
        QVERIFY(c.chat->send(QStringLiteral("What is this?")));
        QVERIFY(finished.wait(10000));
        QCOMPARE(c.chat->attachments()->count(), 0); // sent with the message

        std::lock_guard lock(c.shared->mutex);
        QCOMPARE(c.shared->requests.size(), size_t(1));
        const auto& turn = c.shared->requests.back().turns.front();
        QCOMPARE(turn.text, std::string("What is this?"));
        QCOMPARE(turn.media.size(), size_t(1));
        QCOMPARE(turn.media[0].kind, ocelle::app::TurnMedia::Kind::Image);
        // The store's copy, named by the content's hash, is what the engine reads.
        QFile sent(QString::fromStdString(turn.media[0].path)), original(photo_);
        QVERIFY(sent.fileName().startsWith(c.store->attachmentsDirectory()));
        QVERIFY(sent.open(QIODevice::ReadOnly) && original.open(QIODevice::ReadOnly));
        QCOMPARE(sent.readAll(), original.readAll());
        const QVariantList shown =
            c.chat->messages()->index(0).data(MessageListModel::AttachmentsRole).toList();
        QCOMPARE(shown.size(), 1);
        QCOMPARE(shown.first().toMap().value("name").toString(), QStringLiteral("photo.png"));
    }

    void pasteFromClipboard() {
        ModelFolder folder(kFixtures + QStringLiteral("/vision/tiny-gemma4-e-mmproj.gguf"),
                           QStringLiteral("tiny-gemma4-e-mmproj.gguf"));
        Chat c(folder.model);
        QImage image(200, 100, QImage::Format_RGB32);
        image.fill(Qt::red);
        QGuiApplication::clipboard()->setImage(image);
        QVERIFY(c.chat->pasteAttachment());
        QCOMPARE(c.chat->attachments()->count(), 1);
        QGuiApplication::clipboard()->setText(QStringLiteral("only text"));
        QVERIFY(!c.chat->pasteAttachment()); // the text field pastes text itself
        QCOMPARE(c.chat->attachments()->count(), 1);
    }
};

QTEST_MAIN(TestAttachments)
#include "test_attachments.moc"
