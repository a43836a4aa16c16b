// "Add a server…" through the real main window and model list (offscreen; under Xvfb with
// OCELLE_SCREENSHOT_DIR set it saves docs/screenshots/remote-server.png): a wrong key is refused in
// the dialog with the server's message, the right one adds the server, whose models appear under
// its name beside the local files; "Use" on one makes it the model and an answer streams from the
// server into the chat; the server is kept in the settings and can be removed. The server is a
// real HTTP peer on loopback (tests/app/openai_test_peer.h); the local engine is scripted, as in
// the other UI tests (no local model is loaded here).
#include "chat_controller.h"
#include "main_qml.h"
#include "message_list_model.h"
#include "model_controller.h"
#include "openai_test_peer.h"
#include "scripted_chat_engine.h"
#include "ui_test_support.h"

#include <QGuiApplication>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QSettings>
#include <QStandardPaths>
#include <QtQml/qqmlextensionplugin.h>
#include <QtTest>
#include <memory>

Q_IMPORT_QML_PLUGIN(Ocelle_AppPlugin)
Q_IMPORT_QML_PLUGIN(Ocelle_UiPlugin)

class TestRemoteServerUi : public QObject {
    Q_OBJECT

    std::unique_ptr<QQmlApplicationEngine> engine_;
    QQuickWindow* window_ = nullptr;
    std::unique_ptr<OpenAiTestPeer> peer_;
    QTemporaryDir dataDir_;

    QList<QQuickItem*> visibleItems(const char* name) const {
        return ocelle::testing::visibleItems(window_, QLatin1String(name));
    }
    QQuickItem* visibleItem(const char* name) const { return visibleItems(name).value(0); }
    void click(QQuickItem* target) { ocelle::testing::clickItem(window_, target); }
    void type(const char* field, const QString& text) {
        QQuickItem* input = visibleItem(field);
        QVERIFY(input);
        input->setProperty("text", QString());
        click(input);
        QTRY_VERIFY(input->hasActiveFocus());
        for (const QChar c : text) QTest::keyClick(window_, c.toLatin1());
        QCOMPARE(input->property("text").toString(), text);
    }
    void screenshot(const char* name) { ocelle::testing::saveScreenshot(window_, QLatin1String(name)); }

private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QSettings().clear();
        QVERIFY(dataDir_.isValid());
        qputenv("OCELLE_DATA_DIR", dataDir_.path().toLocal8Bit()); // no conversations of other runs
        if (qEnvironmentVariableIsEmpty("OCELLE_SCREENSHOT_DIR"))
            QQuickWindow::setGraphicsApi(QSGRendererInterface::Software);
        peer_ = std::make_unique<OpenAiTestPeer>("secret-key",
                                                 QStringList{"gemma-4-31b-it", "gemma-4-26b-a4b-it"});
        auto shared = std::make_shared<ScriptedChatEngine::Shared>();
        ModelController::setEngineFactoryForQml([shared] {
            return std::make_unique<ScriptedChatEngine>(std::vector<ocelle::app::StreamDelta>{}, shared);
        });
        engine_ = std::make_unique<QQmlApplicationEngine>();
        engine_->addImportPath(QStringLiteral("qrc:/qt/qml"));
        engine_->load(QUrl(QString::fromLatin1(ocelle::ui::kMainQmlUrl)));
        QVERIFY(!engine_->rootObjects().isEmpty());
        window_ = qobject_cast<QQuickWindow*>(engine_->rootObjects().constFirst());
        QVERIFY(window_);
        window_->resize(1180, 860);
        QVERIFY(QTest::qWaitForWindowExposed(window_));
        window_->requestActivate(); // key presses (Ctrl+M, typing) go to the active window
        QVERIFY(QTest::qWaitForWindowActive(window_));
    }

    void cleanupTestCase() {
        engine_.reset();
        ModelController::setEngineFactoryForQml({});
    }

    void addUseAndRemoveAServer() {
        ModelController* models = ModelController::instance(engine_.get());
        ChatController* chat = ChatController::instance(engine_.get());
        ModelListModel* list = models->library();
        // A local file beside the server's models.
        QTemporaryDir folder;
        QVERIFY(QFile::link(QStringLiteral(OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf"),
                            folder.filePath(QStringLiteral("tiny-gemma4-e.gguf"))));
        list->setFolder(folder.path());
        list->setDeviceForTesting(QStringLiteral("CPU"), 16ll << 30);

        QObject* library = window_->findChild<QObject*>(QStringLiteral("modelLibrary"));
        QTest::keyClick(window_, Qt::Key_M, Qt::ControlModifier);
        QTRY_VERIFY(library->property("opened").toBool());
        QTRY_COMPARE(list->rowCount(), 1);

        click(visibleItem("libraryAddServerButton"));
        QObject* dialog = window_->findChild<QObject*>(QStringLiteral("addServerPopup"));
        QVERIFY(dialog);
        QTRY_VERIFY(dialog->property("opened").toBool());
        QVERIFY(
            visibleItem("serverKeyNote")->property("text").toString().contains(QLatin1String("plain text")));

        // A wrong key: the server's own message, and nothing is added.
        type("serverUrlField", QStringLiteral("127.0.0.1:%1").arg(peer_->port()));
        type("serverNameField", QStringLiteral("Workstation"));
        type("serverKeyField", QStringLiteral("wrong-key"));
        click(visibleItem("addServerButton"));
        QTRY_VERIFY_WITH_TIMEOUT(visibleItem("addServerProblem"), 15000);
        const QString problem = visibleItem("addServerProblem")->property("text").toString();
        QVERIFY2(problem.contains(QLatin1String("HTTP 401: Invalid API key")), qPrintable(problem));
        QCOMPARE(list->servers()->count(), 0);
        QVERIFY(dialog->property("opened").toBool());

        type("serverKeyField", QStringLiteral("secret-key"));
        click(visibleItem("addServerButton"));
        QTRY_VERIFY_WITH_TIMEOUT(!dialog->property("visible").toBool(), 15000);
        QCOMPARE(list->servers()->count(), 1);
        QTRY_COMPARE(list->rowCount(), 3);
        const QString baseUrl = QStringLiteral("http://127.0.0.1:%1/v1").arg(peer_->port());
        const int row = list->rowOf(ModelListModel::remoteKey(baseUrl, QStringLiteral("gemma-4-31b-it")));
        QVERIFY(row >= 1); // after the file
        const QModelIndex index = list->index(row);
        QVERIFY(list->data(index, ModelListModel::RemoteRole).toBool());
        QCOMPARE(list->data(index, ModelListModel::ServerNameRole).toString(), QStringLiteral("Workstation"));
        QTRY_VERIFY(!visibleItems("serverHeaderName").isEmpty());
        QCOMPARE(visibleItem("serverHeaderName")->property("text").toString(), QStringLiteral("Workstation"));
        // Kept for the next start (the key in plain text, as the dialog says).
        {
            QSettings settings;
            QCOMPARE(settings.beginReadArray(QStringLiteral("remoteServers")), 1);
            settings.setArrayIndex(0);
            QCOMPARE(settings.value(QStringLiteral("baseUrl")).toString(), baseUrl);
            QCOMPARE(settings.value(QStringLiteral("apiKey")).toString(), QStringLiteral("secret-key"));
            settings.endArray();
        }
        QTest::qWait(100); // the rows are laid out
        screenshot("remote-server.png");

        // "Use" on the 31B row: the server's model answers in the chat.
        QQuickItem* view = visibleItem("modelListView");
        QQuickItem* rowItem = nullptr;
        QMetaObject::invokeMethod(view, "itemAtIndex", Q_RETURN_ARG(QQuickItem*, rowItem), Q_ARG(int, row));
        QVERIFY(rowItem);
        const QList<QQuickItem*> useButtons =
            ocelle::testing::visibleItemsUnder(rowItem, QStringLiteral("modelRowLoadButton"));
        QCOMPARE(useButtons.size(), 1);
        QCOMPARE(useButtons[0]->property("text").toString(), QStringLiteral("Use"));
        click(useButtons[0]);
        QTRY_VERIFY_WITH_TIMEOUT(models->modelLoaded(), 15000);
        QVERIFY(models->remote());
        QCOMPARE(models->fileName(), QStringLiteral("gemma-4-31b-it"));
        QCOMPARE(models->device(), QStringLiteral("Workstation"));
        QVERIFY(models->summary().contains(QLatin1String("remote, on Workstation")));
        QTest::keyClick(window_, Qt::Key_Escape);
        QTRY_VERIFY(!library->property("visible").toBool());

        QSignalSpy finished(chat, &ChatController::answerFinished);
        QVERIFY(chat->send(QStringLiteral("Hello, server")));
        QVERIFY(finished.wait(15000));
        MessageListModel* messages = chat->messages();
        QCOMPARE(messages->textAt(messages->count() - 1), QStringLiteral("Hello, world!"));
        QCOMPARE(messages->reasoningAt(messages->count() - 1), QStringLiteral("Thinking."));
        QCOMPARE(peer_->requests().last().authorization, QByteArray("Bearer secret-key"));
        QCOMPARE(peer_->requests().last().body["model"].toString(), QStringLiteral("gemma-4-31b-it"));

        // Remove: the rows go, and so does the saved server.
        QTest::keyClick(window_, Qt::Key_M, Qt::ControlModifier);
        QTRY_VERIFY(library->property("opened").toBool());
        QTRY_VERIFY(visibleItem("serverRemoveButton"));
        click(visibleItem("serverRemoveButton"));
        QTRY_COMPARE(list->rowCount(), 1);
        QCOMPARE(list->servers()->count(), 0);
        QCOMPARE(QSettings().beginReadArray(QStringLiteral("remoteServers")), 0);
        QTest::keyClick(window_, Qt::Key_Escape);
        list->setFolder(ModelListModel::defaultFolder());
    }
};

QTEST_MAIN(TestRemoteServerUi)
#include "test_remote_server_ui.moc"
