// The composer's microphone through a real PulseAudio pipe source (tests/media/
// pulse_pipe_microphone.h): RecordingController, driven as the mic button does, records a tone
// played into the pipe; the level meter rises, the timer runs, recording stops cleanly at the
// limit, and the recording becomes an audio attachment with its token estimate. The chosen device
// is remembered; a microphone that disappears gives a clear message.
#include "chat_controller.h"
#include "media/pulse_pipe_microphone.h"
#include "scripted_chat_engine.h"

#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

using Microphone = ocelle::testing::PulsePipeMicrophone;

class TestRecording : public QObject {
    Q_OBJECT

    Microphone mic_;
    QTemporaryDir folder_;
    std::shared_ptr<ScriptedChatEngine::Shared> shared_ = std::make_shared<ScriptedChatEngine::Shared>();
    QTemporaryDir dataDir_;
    std::unique_ptr<ModelController> models_;
    std::unique_ptr<ConversationStore> store_;
    std::unique_ptr<ChatController> chat_;

private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QSettings().clear();
        const QString problem = mic_.start(); // before any Qt Multimedia object exists
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        // The fixture model with its mmproj (both towers) next to it: audio is accepted.
        const QString model = folder_.filePath("tiny-gemma4-e.gguf");
        QVERIFY(QFile::link(OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf", model));
        QVERIFY(QFile::link(OCELLE_FIXTURES_DIR "/vision/tiny-gemma4-e-mmproj.gguf",
                            folder_.filePath("tiny-gemma4-e-mmproj.gguf")));
        models_ = std::make_unique<ModelController>(std::make_unique<ScriptedChatEngine>(
            std::vector<ocelle::app::StreamDelta>{{"", "Heard."}}, shared_));
        store_ = std::make_unique<ConversationStore>(dataDir_.path());
        chat_ = std::make_unique<ChatController>(models_.get(), store_.get());
        QSignalSpy loaded(models_.get(), &ModelController::loadFinished);
        QVERIFY(models_->openModelPath(model));
        QVERIFY(loaded.wait(5000));
        QCOMPARE(chat_->audioInputReason(), QString());
    }

    void cleanupTestCase() {
        chat_.reset();
        store_.reset();
        models_.reset();
        mic_.stop();
    }

    void choosesAndRemembersTheDevice() {
        RecordingController* recorder = chat_->recorder();
        QTRY_VERIFY_WITH_TIMEOUT(recorder->hasDevice(), 5000);
        QCOMPARE(recorder->blockedReason(), QString());
        const QVariantList devices = recorder->devices();
        QVERIFY(std::any_of(devices.begin(), devices.end(),
                            [](const QVariant& d) { return d.toMap().value("id").toString() == "fakemic"; }));
        recorder->setDeviceId("fakemic");
        QCOMPARE(recorder->deviceId(), QString("fakemic"));
        QCOMPARE(QSettings().value("audio/inputDevice").toString(), QString("fakemic"));
        // A new controller (the next start of the app) picks it up again.
        RecordingController again;
        QCOMPARE(again.deviceId(), QString("fakemic"));
    }

    void levelRisesTimerRunsStopsAtTheLimit() {
        RecordingController* recorder = chat_->recorder();
        recorder->setMaxSeconds(2.0);
        QList<double> levels, times;
        QObject listening; // disconnects the lambdas below when this test ends
        connect(recorder, &RecordingController::levelChanged, &listening,
                [&] { levels << recorder->level(); });
        connect(recorder, &RecordingController::secondsChanged, &listening,
                [&] { times << recorder->seconds(); });
        QSignalSpy recorded(recorder, &RecordingController::recorded);
        QCOMPARE(recorder->level(), 0.0);

        recorder->toggle(); // the mic button
        QVERIFY(recorder->recording());
        mic_.feed(Microphone::sine(440.0, 3.0, 0.5));
        QTRY_VERIFY_WITH_TIMEOUT(!recorder->recording(), 20000);
        mic_.waitForWriter();

        // A 0.5 sine: RMS 0.354 = -9 dBFS, 0.85 on the meter's 60 dB scale; the peak is -6 dBFS.
        QVERIFY(!levels.isEmpty());
        const double loudest = *std::max_element(levels.begin(), levels.end());
        QVERIFY2(loudest > 0.8 && loudest < 0.9, qPrintable(QString::number(loudest)));
        QCOMPARE(recorder->level(), 0.0); // back to rest once stopped
        // The timer ran up to the limit and stopped there.
        qInfo("timer updates: %lld, level updates: %lld", qlonglong(times.size()), qlonglong(levels.size()));
        QVERIFY(times.size() >= 2);
        QVERIFY(times.first() < 1.0); // it moved while recording, not only at the end
        QVERIFY(std::is_sorted(times.begin(), times.end()));
        QCOMPARE(recorder->seconds(), 2.0);
        QCOMPARE(recorded.size(), 1);
        QCOMPARE(recorded.first().at(1).toBool(), true);
        QVERIFY2(recorder->message().contains("limit"), qPrintable(recorder->message()));

        // The recording is an audio attachment: 2 s at 25 tokens per second.
        AttachmentListModel* attachments = chat_->attachments();
        QCOMPARE(attachments->count(), 1);
        QTRY_VERIFY_WITH_TIMEOUT(!attachments->preparing(), 10000);
        const QModelIndex audio = attachments->index(0);
        QCOMPARE(audio.data(AttachmentListModel::KindNameRole).toString(), QString("audio"));
        QCOMPARE(audio.data(AttachmentListModel::TokensRole).toInt(), 50 + 2);

        // Sent, it reaches the engine as audio.
        QSignalSpy finished(chat_.get(), &ChatController::answerFinished);
        QVERIFY(chat_->send(QStringLiteral("What did I say?")));
        QVERIFY(finished.wait(10000));
        std::lock_guard lock(shared_->mutex);
        QCOMPARE(shared_->requests.back().turns.front().media.size(), size_t(1));
        QCOMPARE(shared_->requests.back().turns.front().media[0].kind, ocelle::app::TurnMedia::Kind::Audio);
    }

    void stopKeepsWhatWasSaid() {
        RecordingController* recorder = chat_->recorder();
        recorder->setMaxSeconds(30.0);
        chat_->attachments()->clear();
        QVERIFY(recorder->start());
        mic_.feed(Microphone::sine(440.0, 1.0, 0.3));
        QTRY_VERIFY_WITH_TIMEOUT(recorder->seconds() >= 0.95, 10000);
        recorder->stop();
        mic_.waitForWriter();
        QVERIFY(!recorder->recording());
        QCOMPARE(chat_->attachments()->count(), 1);
        QCOMPARE(recorder->message(), QString()); // no limit, no problem
    }

    void microphoneDisappears() {
        RecordingController* recorder = chat_->recorder();
        chat_->attachments()->clear();
        QVERIFY(recorder->start());
        mic_.feed(Microphone::sine(440.0, 0.5, 0.3));
        QTRY_VERIFY_WITH_TIMEOUT(recorder->seconds() > 0.2, 10000);
        mic_.unloadPipeSource();
        QTRY_VERIFY_WITH_TIMEOUT(!recorder->recording(), 10000);
        QVERIFY2(recorder->message().contains("disconnected"), qPrintable(recorder->message()));
        QCOMPARE(chat_->attachments()->count(), 0);
        // With no microphone left, the button is disabled and says why.
        QTRY_VERIFY_WITH_TIMEOUT(!recorder->hasDevice(), 10000);
        QVERIFY2(recorder->blockedReason().contains("No microphone"), qPrintable(recorder->blockedReason()));
        QVERIFY(!recorder->start());
    }
};

QTEST_MAIN(TestRecording)
#include "test_recording.moc"
