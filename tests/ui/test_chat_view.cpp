// The real main window (same QML module as the app) with a scripted engine behind the real
// ModelController and ChatController: a Markdown answer streams in with a code block and a table,
// the code block's copy button copies its code, reasoning is folded, auto-scroll stops when the
// user scrolls up, the settings page opens from its shortcut, and a finished answer is announced
// to screen readers once. With OCELLE_SCREENSHOT_DIR set, the window is saved there at each step
// (docs/screenshots are made this way under Xvfb).
#include "chat_controller.h"
#include "main_qml.h"
#include "model_controller.h"
#include "scripted_chat_engine.h"
#include "settings_controller.h"
#include "theme.h"
#include "ui_test_support.h"
#include "message_list_model.h"

#include "desktop.h"
#include <QClipboard>
#include <QGuiApplication>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QRegularExpression>
#include <QSettings>
#include <QStandardPaths>
#include <QtQml/qqmlextensionplugin.h>
#include <QTemporaryDir>
#include <QtTest>
#include <memory>

Q_IMPORT_QML_PLUGIN(Ocelle_AppPlugin)
Q_IMPORT_QML_PLUGIN(Ocelle_UiPlugin)

namespace {

const QString kModel = QStringLiteral(OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf");

const char* const kReasoning = "The user wants a sorting example. A short Python function and a table "
                               "of timings will do.";
const char* const kAnswer = "## Sorting a list\n"
                            "\n"
                            "Python's built-in `sorted()` returns a **new** list; see the "
                            "[documentation](https://docs.python.org/3/howto/sorting.html).\n"
                            "\n"
                            "```python\n"
                            "def sort_scores(scores):\n"
                            "    # highest first\n"
                            "    return sorted(scores, reverse=True)\n"
                            "\n"
                            "print(sort_scores([3, 41, 7]))  # [41, 7, 3]\n"
                            "```\n"
                            "\n"
                            "| method | stable | in place |\n"
                            "|---|:---:|:---:|\n"
                            "| `sorted(xs)` | yes | no |\n"
                            "| `xs.sort()` | yes | yes |\n"
                            "\n"
                            "1. Use `sorted()` to keep the original.\n"
                            "2. Use `list.sort()` to save memory.\n";

// The answer in pieces of a few characters, as a model streams it.
std::vector<ocelle::app::StreamDelta> script() {
    std::vector<ocelle::app::StreamDelta> pieces;
    const std::string reasoning = kReasoning;
    for (size_t i = 0; i < reasoning.size(); i += 12) pieces.push_back({reasoning.substr(i, 12), ""});
    const std::string answer = kAnswer;
    for (size_t i = 0; i < answer.size(); i += 5) pieces.push_back({"", answer.substr(i, 5)});
    return pieces;
}

} // namespace

class TestChatView : public QObject {
    Q_OBJECT

    QTemporaryDir dataDir_; // the conversations of this run only (the sidebar in screenshots)
    std::unique_ptr<QQmlApplicationEngine> engine_;
    std::shared_ptr<ScriptedChatEngine::Shared> shared_ = std::make_shared<ScriptedChatEngine::Shared>();
    QQuickWindow* window_ = nullptr;
    ChatController* chat_ = nullptr;

    QList<QQuickItem*> visibleItems(const char* name) const {
        return ocelle::testing::visibleItems(window_, QLatin1String(name));
    }
    QQuickItem* item(const char* name) const { return window_->findChild<QQuickItem*>(QLatin1String(name)); }
    void click(QQuickItem* target) { ocelle::testing::clickItem(window_, target); }
    void screenshot(const char* name) { ocelle::testing::saveScreenshot(window_, QLatin1String(name)); }
    void sendAndWait(const QString& text) {
        QSignalSpy finished(chat_, &ChatController::answerFinished);
        QVERIFY(chat_->send(text));
        QVERIFY(finished.wait(20000));
        QTest::qWait(50); // the last frame of the stream is laid out
    }

private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        qputenv("OCELLE_DATA_DIR", dataDir_.path().toLocal8Bit());
        QSettings().clear();
        if (qEnvironmentVariableIsEmpty("OCELLE_SCREENSHOT_DIR"))
            QQuickWindow::setGraphicsApi(QSGRendererInterface::Software);
        ModelController::setEngineFactoryForQml(
            [shared = shared_] { return std::make_unique<ScriptedChatEngine>(script(), shared, 4); });
        engine_ = std::make_unique<QQmlApplicationEngine>();
        engine_->addImportPath(QStringLiteral("qrc:/qt/qml"));
        engine_->load(QUrl(QString::fromLatin1(ocelle::ui::kMainQmlUrl)));
        QVERIFY(!engine_->rootObjects().isEmpty());
        window_ = qobject_cast<QQuickWindow*>(engine_->rootObjects().constFirst());
        QVERIFY(window_);
        window_->resize(1180, 860);
        QVERIFY(QTest::qWaitForWindowExposed(window_));
        // Shortcuts go to the active window only. Offscreen the window is active at once; under
        // Xvfb (screenshots) there is no window manager to activate it, so the test asks.
        window_->requestActivate();
        QVERIFY(QTest::qWaitForWindowActive(window_));
        chat_ = ChatController::instance(engine_.get());
        ModelController* models = ModelController::instance(engine_.get());
        QSignalSpy loaded(models, &ModelController::loadFinished);
        QVERIFY(models->openModelPath(kModel));
        QVERIFY(loaded.wait(10000));
        QVERIFY(models->modelLoaded());
    }

    void init() {
        QTest::failOnWarning(QRegularExpression(QStringLiteral("qml|QML|\\.qml")));
        window_->resize(1180, 860);
    }

    void cleanupTestCase() {
        engine_.reset();
        ModelController::setEngineFactoryForQml({});
        QSettings().clear();
    }

    void markdownAnswerStreamsIntoBlocks() {
        SettingsController::instance(engine_.get())->setThinking(true);
        // Screen readers hear the finished answer once, not each streamed piece.
        QSignalSpy announced(engine_->singletonInstance<Desktop*>(qmlTypeId("Ocelle.App", 1, 0, "Desktop")),
                             &Desktop::announced);
        sendAndWait(QStringLiteral("How do I sort a list in Python? Show timings in a table."));
        QCOMPARE(chat_->messages()->textAt(1), QString::fromUtf8(kAnswer));
        // heading, paragraph, code, table, list
        auto* blocks = chat_->messages()->blocksAt(1);
        QCOMPARE(blocks->count(), 5);
        QTRY_COMPARE(visibleItems("codeBlock").size(), 1);
        QTRY_COMPARE(visibleItems("markdownText").size(), 4);
        bool table = false;
        for (QQuickItem* text : visibleItems("markdownText"))
            table = table || text->property("text").toString().contains(QStringLiteral("<table"));
        QVERIFY(table);
        // Reasoning stays folded: its toggle shows, its text does not.
        QTRY_COMPARE(visibleItems("reasoningToggle").size(), 1);
        QCOMPARE(visibleItems("reasoningText").size(), 0);
        QVERIFY(visibleItems("reasoningToggle").constFirst()->property("text").toString().contains(
            QStringLiteral("Thought for")));
        QTest::qWait(100);
        QCOMPARE(announced.count(), 1);
        QVERIFY2(announced.first().at(0).toString().contains(QStringLiteral("Sorting a list")),
                 qPrintable(announced.first().at(0).toString()));
        // The context meter shows the conversation's share of the context.
        QTRY_VERIFY(item("contextText")->isVisible());
        QVERIFY(chat_->contextUsed() > 0);
        QVERIFY(item("contextText")->property("text").toString().contains(
            QStringLiteral("/ %1 tokens").arg(QLocale().toString(chat_->contextSize()))));
        screenshot("markdown-answer.png");
    }

    void copyButtonsCopy() {
        QList<QQuickItem*> copyCode = visibleItems("copyCodeButton");
        QCOMPARE(copyCode.size(), 1);
        click(copyCode.constFirst());
        QTRY_COMPARE(QGuiApplication::clipboard()->text(),
                     QStringLiteral("def sort_scores(scores):\n    # highest first\n    return sorted(scores, "
                                    "reverse=True)\n\nprint(sort_scores([3, 41, 7]))  # [41, 7, 3]"));
        QList<QQuickItem*> copyMessage = visibleItems("copyMessageButton");
        QCOMPARE(copyMessage.size(), 1);
        click(copyMessage.constFirst());
        QTRY_COMPARE(QGuiApplication::clipboard()->text(), QString::fromUtf8(kAnswer));
    }

    void reasoningOpensWhenAsked() {
        QQuickItem* toggle = visibleItems("reasoningToggle").constFirst();
        click(toggle);
        QTRY_COMPARE(visibleItems("reasoningText").size(), 1);
        click(toggle);
        QTRY_COMPARE(visibleItems("reasoningText").size(), 0);
    }

    // Reading further up is not disturbed by the stream; back at the bottom, it follows again.
    void autoScrollOnlyAtTheBottom() {
        // A short window, so the conversation is taller than the view.
        window_->resize(1180, 520);
        QQuickItem* list = item("messageList");
        QSignalSpy finished(chat_, &ChatController::answerFinished);
        QVERIFY(chat_->send(QStringLiteral("And in C++?")));
        QTRY_VERIFY(chat_->messages()->textAt(3).size() > 20);
        QMetaObject::invokeMethod(list, "positionViewAtBeginning");
        QTRY_VERIFY(!list->property("following").toBool());
        const double top = list->property("contentY").toDouble();
        QVERIFY(finished.wait(20000));
        QTest::qWait(50);
        QCOMPARE(list->property("contentY").toDouble(), top);
        QVERIFY(!list->property("atYEnd").toBool());
        QMetaObject::invokeMethod(list, "positionViewAtEnd");
        QTRY_VERIFY(list->property("following").toBool());
        QVERIFY(chat_->regenerate());
        QVERIFY(finished.wait(20000));
        QTRY_VERIFY(list->property("following").toBool());
    }

    void settingsPageAndDarkTheme() {
        SettingsController* settings = SettingsController::instance(engine_.get());
        QTest::keyClick(window_, Qt::Key_Comma, Qt::ControlModifier);
        QTRY_VERIFY(item("settingsPage")->isVisible());
        settings->setSystemPrompt(QStringLiteral("You answer in plain English, briefly."));
        QVERIFY(settings->savePreset(QStringLiteral("Brief")));
        settings->setTemperature(0.7);
        QTRY_VERIFY(item("resetSamplingButton")->isEnabled());
        QTRY_VERIFY(item("deviceInUse")->property("text").toString().contains(QStringLiteral("In use: CPU")));
        QTest::qWait(300); // the device list arrives from its probe thread
        screenshot("settings.png");
        QMetaObject::invokeMethod(item("resetSamplingButton"), "clicked");
        QTRY_VERIFY(settings->samplingIsDefault());

        Theme* theme = Theme::instance(engine_.get());
        settings->setThemeMode(int(Theme::Mode::Dark));
        QTRY_VERIFY(theme->dark());
        screenshot("settings-dark.png");
        click(item("settingsDoneButton"));
        QTRY_VERIFY(!item("settingsPage")->isVisible());
        QMetaObject::invokeMethod(item("messageList"), "positionViewAtBeginning");
        QTest::qWait(100);
        screenshot("markdown-answer-dark.png");
        settings->setThemeMode(int(Theme::Mode::System));
        settings->setSystemPrompt({});
    }
    void shortcutsDoWhatTheMenuSays() {
        // Ctrl+, opens settings, Esc closes them, Ctrl+L puts the cursor in the composer.
        QTest::keyClick(window_, Qt::Key_Comma, Qt::ControlModifier);
        QTRY_VERIFY(item("settingsPage")->isVisible());
        QTest::keyClick(window_, Qt::Key_Escape);
        QTRY_VERIFY(!item("settingsPage")->isVisible());
        item("messageList")->forceActiveFocus();
        QTest::keyClick(window_, Qt::Key_L, Qt::ControlModifier);
        QTRY_VERIFY(item("composerInput")->hasActiveFocus());
        // Esc stops an answer being written.
        QSignalSpy finished(chat_, &ChatController::answerFinished);
        QVERIFY(chat_->regenerate());
        QTRY_VERIFY(chat_->generating());
        QTest::keyClick(window_, Qt::Key_Escape);
        QVERIFY(!finished.isEmpty() || finished.wait(20000)); // stopping may finish at once
        QVERIFY(chat_->messages()->index(3).data(MessageListModel::NoteRole).toString().startsWith(
            QStringLiteral("Stopped")));
        // Ctrl+N starts a new chat.
        const int before = chat_->currentConversationId();
        QTest::keyClick(window_, Qt::Key_N, Qt::ControlModifier);
        QTRY_VERIFY(chat_->currentConversationId() != before);
        QCOMPARE(chat_->messages()->count(), 0);
        QVERIFY(chat_->selectConversation(before)); // back (the messages are in memory only)
    }
};

QTEST_MAIN(TestChatView)
#include "test_chat_view.moc"
