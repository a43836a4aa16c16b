// The composer in the real main window (QT_QPA_PLATFORM=offscreen) with a scripted engine behind
// the QML singletons: an image attached through the controller (the drop and file-dialog path)
// shows its card with the thumbnail and token estimate, is sent with the text and reaches the
// engine, and shows in the sent message; a video shows its frame strip; a PDF (dropped, and pasted
// as a file) shows its pages as thumbnails and reaches the engine page by page; the microphone records
// from a real PulseAudio pipe source with the level meter and timer showing; on a model without
// audio the microphone button is disabled with the reason.
//
// With OCELLE_SCREENSHOT_DIR set (run under Xvfb with QT_QPA_PLATFORM=xcb and
// QT_QUICK_CONTROLS_STYLE=Basic) the states are also saved there: the README's screenshots.
#include "chat_controller.h"
#include "main_qml.h"
#include "media/pdf_test_support.h"
#include "media/pulse_pipe_microphone.h"
#include "model_controller.h"
#include "scripted_chat_engine.h"
#include "settings_controller.h"
#include "ui_test_support.h"

#include <QClipboard>
#include <QGuiApplication>
#include <QMimeData>
#include <QProcess>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtQml/qqmlextensionplugin.h>
#include <QtTest>

Q_IMPORT_QML_PLUGIN(Ocelle_AppPlugin)
Q_IMPORT_QML_PLUGIN(Ocelle_UiPlugin)

using Microphone = ocelle::testing::PulsePipeMicrophone;

class TestComposerUi : public QObject {
    Q_OBJECT

    Microphone mic_;
    QTemporaryDir dir_;
    QString photo_, clip_, pdf_, withProjector_, withoutProjector_;
    std::shared_ptr<ScriptedChatEngine::Shared> shared_ = std::make_shared<ScriptedChatEngine::Shared>();
    QTemporaryDir dataDir_; // the conversations of this run only (the sidebar in screenshots)
    std::unique_ptr<QQmlApplicationEngine> engine_;
    QQuickWindow* window_ = nullptr;
    ModelController* models_ = nullptr;
    ChatController* chat_ = nullptr;

    QList<QQuickItem*> visibleItems(const char* name) const {
        return ocelle::testing::visibleItems(window_, QLatin1String(name));
    }
    QQuickItem* item(const char* name) const { return window_->findChild<QQuickItem*>(QLatin1String(name)); }
    void click(QQuickItem* target) { ocelle::testing::clickItem(window_, target); }
    void screenshot(const QString& name) {
        if (qEnvironmentVariableIsEmpty("OCELLE_SCREENSHOT_DIR")) return;
        QTest::qWait(300); // thumbnails load asynchronously
        ocelle::testing::saveScreenshot(window_, name);
    }
    void run(const QString& program, const QStringList& arguments) {
        QProcess process;
        process.start(program, arguments);
        QVERIFY2(process.waitForFinished(120000) && process.exitCode() == 0,
                 qPrintable(program + ": " + QString::fromUtf8(process.readAllStandardError())));
    }
    void load(const QString& model) {
        QSignalSpy loaded(models_, &ModelController::loadFinished);
        QVERIFY(models_->openModelPath(model));
        QVERIFY(loaded.wait(10000));
        QVERIFY(models_->modelLoaded());
    }

private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        qputenv("OCELLE_DATA_DIR", dataDir_.path().toLocal8Bit());
        const QString problem = mic_.start(); // before Qt Multimedia looks for devices
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        photo_ = dir_.filePath("harbour.png");
        clip_ = dir_.filePath("clip.mp4");
        run("convert", {"-size", "640x480", "plasma:steelblue-orange", "-blur", "0x2", photo_});
        run("ffmpeg", {"-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-t", "4",
                       "-c:v", "mpeg4", "-pix_fmt", "yuv420p", clip_});
        pdf_ = dir_.filePath("Harbour report.pdf");
        ocelle::media::testing::writeTestPdf(
            pdf_, {{QColor("steelblue")}, {QColor("orange")}, {QColor("seagreen")}});
        // The fixture model twice: once with its mmproj (images and audio), once alone (text only).
        QDir(dir_.path()).mkdir("full");
        QDir(dir_.path()).mkdir("textonly");
        withProjector_ = dir_.filePath("full/tiny-gemma4-e.gguf");
        withoutProjector_ = dir_.filePath("textonly/tiny-gemma4-e.gguf");
        QVERIFY(QFile::link(OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf", withProjector_));
        QVERIFY(QFile::link(OCELLE_FIXTURES_DIR "/vision/tiny-gemma4-e-mmproj.gguf",
                            dir_.filePath("full/tiny-gemma4-e-mmproj.gguf")));
        QVERIFY(QFile::link(OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf", withoutProjector_));

        ModelController::setEngineFactoryForQml([shared = shared_] {
            return std::make_unique<ScriptedChatEngine>(
                std::vector<ocelle::app::StreamDelta>{{"", "A harbour at "}, {"", "sunset."}}, shared);
        });
        engine_ = std::make_unique<QQmlApplicationEngine>();
        engine_->addImportPath(QStringLiteral("qrc:/qt/qml"));
        engine_->load(QUrl(QString::fromLatin1(ocelle::ui::kMainQmlUrl)));
        QVERIFY(!engine_->rootObjects().isEmpty());
        window_ = qobject_cast<QQuickWindow*>(engine_->rootObjects().constFirst());
        QVERIFY(window_);
        QVERIFY(QTest::qWaitForWindowExposed(window_));
        models_ = ModelController::instance(engine_.get());
        chat_ = ChatController::instance(engine_.get());
    }

    void cleanupTestCase() {
        engine_.reset();
        ModelController::setEngineFactoryForQml({});
        mic_.stop();
    }

    void attachAnImageAndSendIt() {
        load(withProjector_);
        // What the window's DropArea does with a dropped file that is not a model.
        QVERIFY(QMetaObject::invokeMethod(
            window_, "filesDropped", Q_ARG(QVariant, QVariant(QVariantList{QUrl::fromLocalFile(photo_)}))));
        QCOMPARE(chat_->attachments()->count(), 1);
        QTRY_VERIFY_WITH_TIMEOUT(!chat_->attachments()->preparing(), 30000);
        QTRY_COMPARE(visibleItems("attachmentCard").size(), 1);
        QTRY_COMPARE(visibleItems("attachmentThumbnail").size(), 1);
        const QString detail = visibleItems("attachmentDetail").first()->property("text").toString();
        QVERIFY2(detail.contains("640 \u00d7 480") && detail.contains("about 270 tokens"),
                 qPrintable(detail));
        QVERIFY(item("attachmentTokens")->property("text").toString().contains("270"));
        QVERIFY(item("sendButton")->isEnabled());

        QQuickItem* input = item("composerInput");
        input->forceActiveFocus();
        for (const QChar c : QStringLiteral("What harbour is this?")) QTest::keyClick(window_, c.toLatin1());
        screenshot("image-attached.png");
        QSignalSpy finished(chat_, &ChatController::answerFinished);
        QCOMPARE(input->property("text").toString(), QStringLiteral("What harbour is this?"));
        QTest::keyClick(window_, Qt::Key_Return);
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 10000); // the scripted answer may already be there

        {
            std::lock_guard lock(shared_->mutex);
            QCOMPARE(shared_->requests.size(), size_t(1));
            const auto& turn = shared_->requests.back().turns.front();
            QCOMPARE(turn.text, std::string("What harbour is this?"));
            QCOMPARE(turn.media.size(), size_t(1));
            QCOMPARE(turn.media[0].kind, ocelle::app::TurnMedia::Kind::Image);
            // The copy kept with the message (in the store, named by its hash) is what is sent.
            QFile sent(QString::fromStdString(turn.media[0].path)), original(photo_);
            QVERIFY(sent.fileName() != photo_);
            QVERIFY(sent.open(QIODevice::ReadOnly) && original.open(QIODevice::ReadOnly));
            QCOMPARE(sent.readAll(), original.readAll());
        }
        // The strip is empty again; the sent message shows the picture.
        QTRY_COMPARE(visibleItems("attachmentCard").size(), 0);
        QTRY_COMPARE(visibleItems("sentThumbnail").size(), 1);
        screenshot("image-sent.png");
    }

    void videoFrameStrip() {
        QCOMPARE(chat_->attachUrls({QUrl::fromLocalFile(clip_)}), 1);
        QTRY_VERIFY_WITH_TIMEOUT(!chat_->attachments()->preparing(), 60000);
        QVERIFY(chat_->attachments()->setVideoFrames(0, 8));
        QTRY_VERIFY_WITH_TIMEOUT(!chat_->attachments()->preparing(), 60000);
        QTRY_COMPARE(visibleItems("videoFrameStrip").size(), 1);
        QCOMPARE(visibleItems("videoFrameCount").first()->property("value").toInt(), 8);
        QVERIFY(visibleItems("attachmentDetail").first()->property("text").toString().contains("8 frames"));
        screenshot("video-frames.png");
        chat_->attachments()->clear();
    }

    void pdfPagesAsThumbnails() {
        // The fixture model's 2,048-token context holds one page at the default budget of 1120
        // (the card would say the others are left out); at 280 all three fit.
        SettingsController* settings = SettingsController::instance(engine_.get());
        settings->setDocumentTokenBudget(280);
        chat_->newChat();
        QVERIFY(QMetaObject::invokeMethod(
            window_, "filesDropped", Q_ARG(QVariant, QVariant(QVariantList{QUrl::fromLocalFile(pdf_)}))));
        QCOMPARE(chat_->attachments()->count(), 1);
        QTRY_VERIFY_WITH_TIMEOUT(!chat_->attachments()->preparing(), 60000);
        QTRY_COMPARE(visibleItems("pdfPageStrip").size(), 1);
        const QString detail = visibleItems("attachmentDetail").first()->property("text").toString();
        QVERIFY2(detail.startsWith("3 pages \u00b7 about "), qPrintable(detail));
        QCOMPARE(chat_->attachments()->index(0).data(AttachmentListModel::FramesRole).toList().size(), 3);
        QQuickItem* input = item("composerInput");
        input->forceActiveFocus();
        for (const QChar c : QStringLiteral("Summarise the report")) QTest::keyClick(window_, c.toLatin1());
        QTest::mouseMove(window_, QPoint(window_->width() / 2, 80)); // no tooltip
        screenshot("pdf-attached.png");

        // Pasting the same file (a file manager's copy) adds it like a drop does.
        auto* copied = new QMimeData;
        copied->setUrls({QUrl::fromLocalFile(pdf_)});
        QGuiApplication::clipboard()->setMimeData(copied);
        QVERIFY(chat_->pasteAttachment());
        QCOMPARE(chat_->attachments()->count(), 2);
        chat_->attachments()->remove(1);
        QTRY_VERIFY_WITH_TIMEOUT(!chat_->attachments()->preparing(), 60000);

        QSignalSpy finished(chat_, &ChatController::answerFinished);
        QTest::keyClick(window_, Qt::Key_Return);
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 10000);
        {
            std::lock_guard lock(shared_->mutex);
            const auto& turn = shared_->requests.back().turns.back();
            QCOMPARE(turn.text, std::string("Summarise the report"));
            QCOMPARE(turn.media.size(), size_t(3));
            for (int page = 0; page < 3; ++page) {
                QCOMPARE(turn.media[size_t(page)].kind, ocelle::app::TurnMedia::Kind::PdfPage);
                QCOMPARE(turn.media[size_t(page)].pdfPage, page);
                QCOMPARE(turn.media[size_t(page)].imageBudget, 280); // the document budget setting
            }
        }
        QTRY_COMPARE(visibleItems("attachmentCard").size(), 0);
        settings->setDocumentTokenBudget(1120);
    }

    void recordWithTheMicrophone() {
        RecordingController* recorder = chat_->recorder();
        recorder->setDeviceId(Microphone::kSourceName);
        QQuickItem* mic = item("micButton");
        QVERIFY(mic->isEnabled());
        QVERIFY(!item("recordingBar")->isVisible());
        click(mic);
        QTRY_VERIFY(recorder->recording());
        mic_.feed(Microphone::sine(330.0, 6.0, 0.4));
        QTRY_VERIFY(item("recordingBar")->isVisible());
        QTRY_VERIFY_WITH_TIMEOUT(recorder->seconds() > 2.5, 15000);
        QVERIFY2(item("levelFill")->width() > 0.5 * item("levelMeter")->width(),
                 qPrintable(QString("level %1, fill %2 of %3")
                                .arg(recorder->level())
                                .arg(item("levelFill")->width())
                                .arg(item("levelMeter")->width())));
        QVERIFY(item("recordingTime")->property("text").toString().endsWith("/ 0:30"));
        QTest::mouseMove(window_, QPoint(window_->width() / 2, 80)); // no tooltip over the meter
        screenshot("recording.png");
        click(item("stopRecording"));
        QTRY_VERIFY(!recorder->recording());
        mic_.waitForWriter();
        QTRY_COMPARE(chat_->attachments()->count(), 1);
        QTRY_VERIFY_WITH_TIMEOUT(!chat_->attachments()->preparing(), 10000);
        QCOMPARE(chat_->attachments()->index(0).data(AttachmentListModel::KindNameRole).toString(),
                 QString("audio"));
        chat_->attachments()->clear();
    }

    void microphoneDisabledWithoutAudio() {
        load(withoutProjector_);
        QQuickItem* mic = item("micButton");
        QTRY_VERIFY(!mic->isEnabled());
        const QString reason = mic->property("disabledReason").toString();
        QVERIFY2(reason.contains("no mmproj"), qPrintable(reason));
        QCOMPARE(reason, chat_->audioInputReason());
        // Nothing records, and attaching an audio file is refused with the same reason.
        QVERIFY(!chat_->recorder()->start());
        QVERIFY(!chat_->recorder()->recording());
        QCOMPARE(chat_->attachUrls({QUrl::fromLocalFile(photo_)}), 0);
        QVERIFY(item("composerNotice")->isVisible());
        QVERIFY(item("composerNotice")->property("text").toString().contains("no mmproj"));
    }
};

QTEST_MAIN(TestComposerUi)
#include "test_composer_ui.moc"
