// The whole path with the REAL engine and the tiny fixture model: load on the engine thread,
// send, see the answer stream into the message list, stop it, and find the messages kept, also
// after the controller and its store are made again on the same database (a restart).
// With the fixture mmproj: an image, a recording and a PDF page reach the model, and a conversation
// with an attachment, reopened after a restart, sends the same prompt again.
// The tiny model has random weights, so its answers are random tokens: only the mechanics are
// checked, never the words.
#include "chat_controller.h"
#include "gemma_chat_engine.h"
#include "model_controller.h"

#include "media/pdf_document.h"
#include "media/pdf_test_support.h"

#include <QAbstractItemModelTester>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

class TestChatEndToEnd : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QSettings().clear(); // settings left by an earlier run
    }

    void cleanupTestCase() {
        QSettings().clear(); // the document budget set here is not for the tests that follow
    }

    void loadSendStreamStop() {
        QTemporaryDir dataDir;
        SettingsController settings;
        ModelController models(std::make_unique<ocelle::app::GemmaChatEngine>());
        auto store = std::make_unique<ConversationStore>(dataDir.path());
        auto controller = std::make_unique<ChatController>(&models, store.get());
        ChatController& chat = *controller;
        chat.setSettings(&settings);
        QAbstractItemModelTester tester(chat.messages(),
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy loaded(&models, &ModelController::loadFinished);
        QVERIFY(models.openModelPath(QStringLiteral(OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf")));
        QVERIFY(loaded.wait(30000));
        QVERIFY2(models.modelLoaded(), qPrintable(models.statusText()));

        // A short answer that runs to its end.
        settings.setSeed(7);
        settings.setMaxTokens(24);
        QSignalSpy finished(&chat, &ChatController::answerFinished);
        QSignalSpy changes(chat.messages(), &QAbstractItemModel::dataChanged);
        QVERIFY(chat.send(QStringLiteral("Hello there")));
        QVERIFY(finished.wait(30000));
        QCOMPARE(chat.messages()->count(), 2);
        const QModelIndex first = chat.messages()->index(1);
        const QString firstText = first.data(MessageListModel::TextRole).toString() +
                                  first.data(MessageListModel::ReasoningRole).toString();
        QVERIFY2(!firstText.isEmpty(), "the model produced no text at all");
        QVERIFY(changes.count() >= 2); // streamed pieces, then the end of the stream
        const QString stats = first.data(MessageListModel::StatsTextRole).toString();
        QVERIFY2(stats.contains(QStringLiteral("tokens/s")), qPrintable(stats)); // 24 tokens: a rate is known
        QVERIFY2(!stats.contains(QStringLiteral(" 0 tokens")), qPrintable(stats));

        // A long answer, stopped once it has begun to stream.
        settings.setMaxTokens(3000);
        QVERIFY(chat.send(QStringLiteral("Tell me a long story")));
        const QModelIndex second = chat.messages()->index(3);
        QTRY_VERIFY_WITH_TIMEOUT(!second.data(MessageListModel::TextRole).toString().isEmpty() ||
                                     !second.data(MessageListModel::ReasoningRole).toString().isEmpty(),
                                 30000);
        QVERIFY(chat.generating());
        chat.stop();
        QVERIFY(finished.wait(30000));
        QVERIFY(!chat.generating());
        QCOMPARE(second.data(MessageListModel::NoteRole).toString(), QStringLiteral("Stopped."));
        QVERIFY(!second.data(MessageListModel::StreamingRole).toBool());

        // Everything said is still in the conversation, in order.
        QCOMPARE(chat.messages()->count(), 4);
        QCOMPARE(chat.messages()->textAt(0), QStringLiteral("Hello there"));
        QCOMPARE(chat.messages()->textAt(2), QStringLiteral("Tell me a long story"));
        QCOMPARE(chat.currentTitle(), QStringLiteral("Hello there"));

        // And the session still answers after a stop.
        settings.setMaxTokens(8);
        QVERIFY(chat.regenerate());
        QVERIFY(finished.wait(30000));
        QVERIFY(chat.messages()->index(3).data(MessageListModel::NoteRole).toString() !=
                QStringLiteral("Stopped."));

        // A restart: the history is read back from the database as it was on screen.
        QStringList texts;
        for (int row = 0; row < chat.messages()->count(); ++row) texts << chat.messages()->textAt(row);
        const int id = chat.currentConversationId();
        const QString statsBefore =
            chat.messages()->index(1).data(MessageListModel::StatsTextRole).toString();
        controller.reset();
        store.reset();
        store = std::make_unique<ConversationStore>(dataDir.path());
        ChatController again(&models, store.get());
        QCOMPARE(again.conversations()->count(), 1);
        QVERIFY(again.selectConversation(id));
        QStringList reread;
        for (int row = 0; row < again.messages()->count(); ++row) reread << again.messages()->textAt(row);
        QCOMPARE(reread, texts);
        QCOMPARE(again.messages()->index(1).data(MessageListModel::StatsTextRole).toString(), statsBefore);
        QCOMPARE(again.messages()->index(3).data(MessageListModel::BranchCountRole).toInt(),
                 2); // the stopped one kept
    }

    // An attached image, a recording and a one-page PDF reach the real engine through the fixture
    // mmproj: the prompt grows by the encoders' soft tokens (640x480 at budget 280: 266; 2.5 s of
    // speech at the fixture's audio.ref.json: 63; the page at the document budget, set to 280 to
    // keep the test quick) plus their markers, compared with the same question alone. Then a
    // restart: the conversation with the image, reopened, is regenerated with the same prompt.
    void attachedMediaReachTheModel() {
        QTemporaryDir folder;
        const QString pdf = folder.filePath("page.pdf");
        ocelle::media::testing::writeTestPdf(pdf, {{Qt::darkCyan}});
        const int pageTokens = ocelle::media::PdfDocument(pdf.toStdString()).pageSoftTokens(0, 280);
        const QString model = folder.filePath("tiny-gemma4-e.gguf");
        QVERIFY(QFile::link(OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf", model));
        QVERIFY(QFile::link(OCELLE_FIXTURES_DIR "/vision/tiny-gemma4-e-mmproj.gguf",
                            folder.filePath("tiny-gemma4-e-mmproj.gguf")));
        ModelController models(std::make_unique<ocelle::app::GemmaChatEngine>());
        QTemporaryDir dataDir;
        auto store = std::make_unique<ConversationStore>(dataDir.path());
        auto controller = std::make_unique<ChatController>(&models, store.get());
        ChatController& chat = *controller;
        SettingsController settings;
        settings.setDocumentTokenBudget(280);
        chat.setSettings(&settings);
        QSignalSpy loaded(&models, &ModelController::loadFinished);
        QVERIFY(models.openModelPath(model));
        QVERIFY(loaded.wait(30000));
        QVERIFY2(models.modelLoaded(), qPrintable(models.statusText()));
        QCOMPARE(chat.imageInputReason(), QString());
        QCOMPARE(chat.audioInputReason(), QString());
        settings.setSeed(3);
        settings.setMaxTokens(4);

        QSignalSpy reports(models.engineHost(), &ocelle::app::EngineHost::generationFinished);
        QSignalSpy failures(models.engineHost(), &ocelle::app::EngineHost::generationFailed);
        auto promptTokensFor = [&](const QList<QUrl>& attachments) -> int {
            chat.newChat();
            if (!attachments.isEmpty()) {
                if (chat.attachUrls(attachments) != attachments.size()) return -1;
                if (!QTest::qWaitFor([&] { return !chat.attachments()->preparing(); }, 30000)) return -4;
            }
            const qsizetype before = reports.size();
            if (!chat.send(QStringLiteral("What is in there?"))) return -2;
            if (!QTest::qWaitFor([&] { return reports.size() > before || !failures.isEmpty(); }, 120000))
                return -5;
            if (!failures.isEmpty()) {
                qWarning("%s", qPrintable(failures.first().at(1).toString()));
                return -3;
            }
            return reports.last().at(1).value<ocelle::app::GenerationReport>().outcome.promptTokens;
        };
        const int textOnly = promptTokensFor({});
        const int withImage =
            promptTokensFor({QUrl::fromLocalFile(OCELLE_FIXTURES_DIR "/vision/test_photo.png")});
        const int imageConversation = chat.currentConversationId();
        const int withAudio =
            promptTokensFor({QUrl::fromLocalFile(OCELLE_FIXTURES_DIR "/audio/test_speech.wav")});
        const int withPdf = promptTokensFor({QUrl::fromLocalFile(pdf)});
        qInfo("prompt tokens: text %d, with image %d, with audio %d, with a PDF page of %d soft tokens %d",
              textOnly, withImage, withAudio, pageTokens, withPdf);
        QVERIFY(textOnly > 0);
        // <|image> 266 soft tokens <image|>, and the blank lines around them.
        QVERIFY2(withImage - textOnly >= 266 + 2 && withImage - textOnly <= 266 + 6,
                 qPrintable(QString::number(withImage - textOnly)));
        // <|audio> 63 soft tokens <audio|>.
        QCOMPARE(withAudio - textOnly, 63 + 2);
        // "Page 1 of 1:", then the page as an image with its markers.
        QVERIFY2(withPdf - textOnly >= pageTokens + 2 + 4 &&
                     withPdf - textOnly <= pageTokens + ocelle::media::kPdfPageOverheadTokens,
                 qPrintable(QString::number(withPdf - textOnly)));
        QVERIFY(!chat.messages()->textAt(1).isNull());

        // The restart: the image is read from the store's copy and sent again.
        controller.reset();
        store.reset();
        store = std::make_unique<ConversationStore>(dataDir.path());
        ChatController again(&models, store.get());
        again.setSettings(&settings);
        QVERIFY(again.selectConversation(imageConversation));
        QCOMPARE(again.messages()->index(0).data(MessageListModel::AttachmentsRole).toList().size(), 1);
        const qsizetype before = reports.size();
        QVERIFY(again.regenerate());
        QVERIFY(QTest::qWaitFor([&] { return reports.size() > before || !failures.isEmpty(); }, 120000));
        QVERIFY2(failures.isEmpty(), failures.isEmpty() ? "" : qPrintable(failures.first().at(1).toString()));
        QCOMPARE(reports.last().at(1).value<ocelle::app::GenerationReport>().outcome.promptTokens, withImage);
    }
};

QTEST_MAIN(TestChatEndToEnd) // QPdfWriter needs fonts, so a QGuiApplication
#include "test_chat_end_to_end.moc"
