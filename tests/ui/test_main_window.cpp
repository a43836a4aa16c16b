// The real main window, loaded from the same QML module as the app, under QT_QPA_PLATFORM=offscreen:
// the empty state is there and visible, the window renders something (not a blank grab), and the
// composer and the model chooser behave.
#include "chat_controller.h"
#include "main_qml.h"
#include "model_controller.h"
#include "settings_controller.h"
#include "theme.h"
#include "ui_test_support.h"

#include <QGuiApplication>
#include <QMimeData>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QRegularExpression>
#include <QSet>
#include <QSignalSpy>
#include <QSettings>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtQml/qqmlextensionplugin.h>
#include <QtTest>
#include <memory>

Q_IMPORT_QML_PLUGIN(Ocelle_AppPlugin)
Q_IMPORT_QML_PLUGIN(Ocelle_UiPlugin)

namespace {

const QString kFixtures = QStringLiteral(OCELLE_FIXTURES_DIR);

struct ColorStats {
    int distinct = 0;
    double mostCommonShare = 1.0;
};

ColorStats colorStats(const QImage& image) {
    QHash<QRgb, int> histogram;
    for (int y = 0; y < image.height(); ++y) {
        const auto* line = reinterpret_cast<const QRgb*>(image.constScanLine(y));
        for (int x = 0; x < image.width(); ++x) ++histogram[line[x]];
    }
    int top = 0;
    for (int n : std::as_const(histogram)) top = std::max(top, n);
    return {static_cast<int>(histogram.size()), double(top) / double(image.width() * image.height())};
}

} // namespace

class TestMainWindow : public QObject {
    Q_OBJECT

private:
    // List delegates are not QObject children of the window, so walk the visual item tree.
    int visibleItemsNamed(const char* name) const { return int(visibleItems(name).size()); }
    QQuickItem* item(const char* name) const { return window_->findChild<QQuickItem*>(QLatin1String(name)); }
    QString textOf(const char* name) const {
        QQuickItem* i = item(name);
        return i ? i->property("text").toString() : QString();
    }
    QImage grab(const QString& fileName) const {
        QImage image = window_->grabWindow().convertToFormat(QImage::Format_ARGB32);
        image.save(QStringLiteral(OCELLE_TEST_OUTPUT_DIR "/") + fileName);
        return image;
    }
    // QTest::keyClicks exists only for widgets; a window gets its characters one by one.
    void typeText(const QString& text) {
        for (const QChar c : text) QTest::keyClick(window_, c.toLatin1());
    }
    // Text readable on its background leaves many shades (glyphs, antialiasing) in its area; text
    // in the background's color (a palette mismatch) leaves the area nearly uniform.
    void expectTextDrawnIn(QQuickItem* target, const char* what) {
        QVERIFY2(target && target->isVisible(), what);
        const QImage image = window_->grabWindow().convertToFormat(QImage::Format_ARGB32);
        const QRect area = target->mapRectToScene(QRectF(0, 0, target->width(), target->height())).toRect();
        const ColorStats stats = colorStats(image.copy(area));
        QVERIFY2(stats.distinct >= 8 && stats.mostCommonShare < 0.97, what);
    }
    // Delegates have no QObject parent, so they are reached through their view.
    QQuickItem* firstConversation() const {
        QQuickItem* delegate = nullptr;
        QMetaObject::invokeMethod(item("conversationList"), "itemAtIndex",
                                  Q_RETURN_ARG(QQuickItem*, delegate), Q_ARG(int, 0));
        return delegate;
    }
    static QQuickItem* findNamed(QQuickItem* root, const QString& name) {
        if (root->objectName() == name) return root;
        for (QQuickItem* child : root->childItems())
            if (QQuickItem* found = findNamed(child, name)) return found;
        return nullptr;
    }
    void click(QQuickItem* target) { ocelle::testing::clickItem(window_, target); }
    QList<QQuickItem*> visibleItems(const char* name) const {
        return ocelle::testing::visibleItems(window_, QLatin1String(name));
    }
    // The n-th "< i/n >" label from the top, or "" while there is none.
    QString branchLabelText(int n) const {
        QQuickItem* label = visibleItems("branchLabel").value(n);
        return label ? label->property("text").toString() : QString();
    }
    QStringList messageTexts() const {
        QStringList texts;
        MessageListModel* messages = ChatController::instance(engine_.get())->messages();
        for (int row = 0; row < messages->count(); ++row) texts << messages->textAt(row);
        return texts;
    }
    void loadMainWindow() {
        engine_ = std::make_unique<QQmlApplicationEngine>();
        engine_->addImportPath(QStringLiteral("qrc:/qt/qml"));
        engine_->load(QUrl(QString::fromLatin1(ocelle::ui::kMainQmlUrl)));
        QVERIFY(!engine_->rootObjects().isEmpty());
        window_ = qobject_cast<QQuickWindow*>(engine_->rootObjects().constFirst());
        QVERIFY(window_);
        QVERIFY(QTest::qWaitForWindowExposed(window_));
    }

    QTemporaryDir dataDir_; // the conversation database of this test's app
    std::unique_ptr<QQmlApplicationEngine> engine_;
    QQuickWindow* window_ = nullptr;

private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true); // the remembered model goes to a test location
        QVERIFY(dataDir_.isValid());
        qputenv("OCELLE_DATA_DIR", dataDir_.path().toLocal8Bit());
        QSettings().clear();                      // and settings left by an earlier run go
        // The software renderer grabs the same pixels on every machine, GPU or not.
        QQuickWindow::setGraphicsApi(QSGRendererInterface::Software);
        QElapsedTimer timer;
        timer.start();
        loadMainWindow();
        qInfo("main window exposed %lld ms after loading started", static_cast<long long>(timer.elapsed()));
    }

    void init() {
        // A QML warning (a binding error, a missing module) is a failure, not noise in the log.
        QTest::failOnWarning(QRegularExpression(QStringLiteral("qml|QML|\\.qml")));
    }

    void cleanupTestCase() { engine_.reset(); }

    void emptyStateIsShown() {
        const QRectF windowRect(0, 0, window_->width(), window_->height());
        for (const char* name :
             {"sidebar", "newChatButton", "conversationList", "noConversationsLabel", "diagnosticsLabel",
              "emptyState", "emptyStateTitle", "emptyStateBody", "openModelButton", "showModelsButton",
              "headerOpenModelButton", "composer", "composerInput", "attachButton", "sendButton"}) {
            QQuickItem* i = item(name);
            QVERIFY2(i, name);
            QVERIFY2(i->isVisible(), name);
            QVERIFY2(i->width() > 0 && i->height() > 0, name);
            const QRectF inScene = i->mapRectToScene(QRectF(0, 0, i->width(), i->height()));
            QVERIFY2(windowRect.contains(inScene), name); // laid out inside the window, not clipped away
        }
        QVERIFY(textOf("emptyStateTitle").contains(QStringLiteral("Gemma 4")));
        QVERIFY(textOf("emptyStateBody").contains(QStringLiteral("GGUF")));
        QVERIFY(textOf("emptyStateBody").contains(QStringLiteral("mmproj")));
        QVERIFY(textOf("openModelButton").startsWith(QStringLiteral("Open model")));
        // Nothing to show yet: no message list, no status for a model never chosen, no notice.
        QVERIFY(item("messageList"));
        QVERIFY(!item("messageList")->isVisible());
        QVERIFY(item("modelStatusText"));
        QVERIFY(!item("modelStatusText")->isVisible());
        QVERIFY(!item("composerNotice")->isVisible());
        QVERIFY(!item("sendButton")->isEnabled()); // nothing typed
    }

    void helpAboutShowsTheVersion() {
        // Help > About Ocelle: the menu bar carries it, and it opens the dialog with the version.
        auto* helpMenu = window_->findChild<QObject*>(QStringLiteral("helpMenu"));
        QVERIFY(helpMenu);
        QCOMPARE(helpMenu->property("title").toString(), QStringLiteral("&Help"));
        auto* about = window_->findChild<QObject*>(QStringLiteral("aboutDialog")); // a Popup, not an item
        QVERIFY(about);
        QVERIFY(!about->property("opened").toBool());
        auto* aboutAction = window_->findChild<QObject*>(QStringLiteral("aboutAction"));
        QVERIFY(aboutAction);
        QVERIFY(QMetaObject::invokeMethod(aboutAction, "trigger"));
        QTRY_VERIFY(about->property("opened").toBool());
        QCOMPARE(textOf("aboutVersionLabel"), QStringLiteral("Version " OCELLE_EXPECTED_VERSION));
        QVERIFY2(textOf("aboutBackendsLabel").contains(QStringLiteral("OpenCV")),
                 qPrintable(textOf("aboutBackendsLabel")));
        expectTextDrawnIn(item("aboutVersionLabel"), "the version is drawn in the About dialog");
        grab(QStringLiteral("about-dialog.png"));
        click(item("aboutCloseButton"));
        QTRY_VERIFY(!about->property("opened").toBool());
    }

    void openModelOffersGgufFiles() {
        QObject* dialog =
            engine_->rootObjects().constFirst()->findChild<QObject*>(QStringLiteral("modelDialog"));
        QVERIFY(dialog);
        const QStringList filters = dialog->property("nameFilters").toStringList();
        QVERIFY2(filters.size() == 1 && filters.constFirst().endsWith(QStringLiteral("(*.gguf)")),
                 qPrintable(filters.join(QLatin1Char(';'))));
        QVERIFY(!dialog->property("visible").toBool());
        click(item("openModelButton"));
        QTRY_VERIFY(dialog->property("visible").toBool());
        QTest::qWait(50); // let the dialog's folder listing arrive before the grab
        grab(QStringLiteral("open-model-dialog.png"));
        QVERIFY(QMetaObject::invokeMethod(dialog, "reject"));
        QTRY_VERIFY(!dialog->property("visible").toBool());
        // Cancelling chooses nothing.
        QCOMPARE(ModelController::instance(engine_.get())->state(), ModelController::State::NoModel);
    }

    void windowRendersTheEmptyState() {
        const QImage image = grab(QStringLiteral("empty-state.png"));
        QVERIFY(!image.isNull());
        QCOMPARE(image.size(), (window_->size() * window_->devicePixelRatio()));
        const ColorStats stats = colorStats(image);
        // Text, buttons and panels: a real frame has many colors and no single color covers it all.
        QVERIFY2(stats.distinct >= 32, qPrintable(QString::number(stats.distinct)));
        QVERIFY2(stats.mostCommonShare < 0.9, qPrintable(QString::number(stats.mostCommonShare)));

        // The title is drawn where it is laid out: its area is not plain background.
        expectTextDrawnIn(item("emptyStateTitle"), "the empty state's title");
        expectTextDrawnIn(item("openModelButton"), "the Open model button");
    }

    void choosingAGemma4ModelLoadsIt() {
        ModelController* models = ModelController::instance(engine_.get());
        QVERIFY(models);
        const QString path = kFixtures + QStringLiteral("/models/tiny-gemma4-e.gguf");
        bool accepted = false;
        QVERIFY(QMetaObject::invokeMethod(models, "openModelFile", Q_RETURN_ARG(bool, accepted),
                                          Q_ARG(QUrl, QUrl::fromLocalFile(path))));
        QVERIFY(accepted);
        // Loading happens on the engine thread; the window shows it, then the loaded model.
        QTRY_VERIFY_WITH_TIMEOUT(models->modelLoaded(), 30000);
        QTRY_VERIFY(item("modelStatusText")->isVisible());
        const QString status = textOf("modelStatusText");
        QVERIFY2(status.contains(QStringLiteral("tiny-gemma4-e.gguf is loaded")), qPrintable(status));
        const QString header = textOf("headerModelLabel");
        QVERIFY2(header.contains(QStringLiteral("tiny-gemma4-e.gguf")) &&
                     header.contains(QStringLiteral("CPU")),
                 qPrintable(header));
        QCOMPARE(textOf("emptyStateTitle"), QStringLiteral("Ask Gemma anything"));
        QVERIFY(item("headerUnloadButton")->isVisible());
        grab(QStringLiteral("model-loaded.png"));
    }

    void choosingANonGgufFileShowsTheReadersError() {
        ModelController* models = ModelController::instance(engine_.get());
        bool accepted = true;
        QVERIFY(QMetaObject::invokeMethod(
            models, "openModelFile", Q_RETURN_ARG(bool, accepted),
            Q_ARG(QUrl, QUrl::fromLocalFile(kFixtures + QStringLiteral("/README.md")))));
        QVERIFY(!accepted);
        QTRY_VERIFY(textOf("modelStatusText").contains(QStringLiteral("not a GGUF file")));
        QVERIFY(item("modelStatusText")->isVisible());
        QCOMPARE(item("modelStatusText")->property("color").value<QColor>(),
                 Theme::instance(engine_.get())->error());
        QCOMPARE(textOf("headerModelLabel"), QStringLiteral("No model loaded"));
        grab(QStringLiteral("model-failed.png"));
    }

    void enterWithoutAModelExplainsInsteadOfAnswering() {
        QQuickItem* input = item("composerInput");
        input->forceActiveFocus();
        QTRY_VERIFY(input->hasActiveFocus());
        typeText(QStringLiteral("Hello"));
        QCOMPARE(input->property("text").toString(), QStringLiteral("Hello"));
        QVERIFY(item("sendButton")->isEnabled());

        QTest::keyClick(window_, Qt::Key_Return, Qt::ShiftModifier); // a new line, not a send
        typeText(QStringLiteral("there"));
        QCOMPARE(input->property("text").toString(), QStringLiteral("Hello\nthere"));
        QVERIFY(!item("composerNotice")->isVisible());

        QTest::keyClick(window_, Qt::Key_Return); // send: refused, explained, text kept
        QTRY_VERIFY(item("composerNotice")->isVisible());
        QVERIFY(textOf("composerNotice").contains(QStringLiteral("Nothing was sent")));
        QCOMPARE(input->property("text").toString(), QStringLiteral("Hello\nthere"));
        QCOMPARE(ChatController::instance(engine_.get())->messages()->count(), 0);
        QVERIFY(!item("messageList")->isVisible());

        ChatController::instance(engine_.get())->dismissNotice();
        QTRY_VERIFY(!item("composerNotice")->isVisible());
        click(item("sendButton"));
        QTRY_VERIFY(item("composerNotice")->isVisible());
        grab(QStringLiteral("send-without-model.png"));
    }

    void newChatAppearsInTheSidebar() {
        QVERIFY(item("noConversationsLabel")->isVisible());
        click(item("newChatButton"));
        QTRY_COMPARE(item("conversationList")->property("count").toInt(), 1);
        QVERIFY(!item("noConversationsLabel")->isVisible());
        QCOMPARE(window_->title(), QStringLiteral("New chat \u2014 Ocelle"));
        expectTextDrawnIn(firstConversation(), "the current conversation's title");
    }

    void followsADarkSystemPalette() {
        const QColor lightWindow = window_->color();
        QPalette dark;
        dark.setColor(QPalette::Window, QColor(0x20, 0x20, 0x22));
        dark.setColor(QPalette::WindowText, QColor(0xee, 0xee, 0xee));
        const QPalette original = QGuiApplication::palette();
        QGuiApplication::setPalette(dark);
        QTRY_VERIFY(window_->color().lightnessF() < 0.5);
        QVERIFY(window_->color() != lightWindow);
        QVERIFY(item("emptyStateTitle")->property("color").value<QColor>().lightnessF() > 0.5);
        const ColorStats stats = colorStats(grab(QStringLiteral("dark.png")));
        QVERIFY(stats.distinct >= 32);
        expectTextDrawnIn(firstConversation(), "the current conversation's title (dark)");
        expectTextDrawnIn(item("emptyStateTitle"), "the empty state's title (dark)");
        QGuiApplication::setPalette(original);
        QTRY_VERIFY(window_->color().lightnessF() > 0.5);
    }

    void aMessageIsAnsweredWithTheRealEngine() {
        ModelController* models = ModelController::instance(engine_.get());
        ChatController* chat = ChatController::instance(engine_.get());
        models->openModelPath(kFixtures + QStringLiteral("/models/tiny-gemma4-e.gguf"));
        QTRY_VERIFY_WITH_TIMEOUT(models->modelLoaded(), 30000);
        SettingsController::instance(engine_.get())->setMaxTokens(2000);
        QQuickItem* input = item("composerInput");
        input->forceActiveFocus();
        QTRY_VERIFY(input->hasActiveFocus());
        input->setProperty("text", QString());
        typeText(QStringLiteral("Hello"));
        QTest::keyClick(window_, Qt::Key_Return);
        QTRY_VERIFY(item("messageList")->isVisible());
        QCOMPARE(input->property("text").toString(), QString()); // taken
        QTRY_VERIFY_WITH_TIMEOUT(chat->messages()->count() == 2 && !chat->messages()->textAt(1).isEmpty(),
                                 30000);
        QVERIFY(chat->generating());
        QVERIFY(item("stopButton")->isVisible());
        QVERIFY(!item("sendButton")->isVisible());
        click(item("stopButton"));
        QTRY_VERIFY_WITH_TIMEOUT(!chat->generating(), 30000);
        QTRY_VERIFY(item("sendButton")->isVisible());
        QCOMPARE(chat->messages()->index(1).data(MessageListModel::NoteRole).toString(),
                 QStringLiteral("Stopped."));
        // Exactly one Regenerate button is shown: under the last answer.
        QTRY_COMPARE(visibleItemsNamed("regenerateButton"), 1);
        QTRY_COMPARE(visibleItemsNamed("messageNote"), 1);
        grab(QStringLiteral("answer-stopped.png"));
    }

    // The model list (Ctrl+M) shows the models folder; Load on a row loads it with the real engine.
    void theModelListLoadsAModel() {
        ModelController* models = ModelController::instance(engine_.get());
        QTemporaryDir folder;
        QVERIFY(QFile::link(kFixtures + QStringLiteral("/models/tiny-gemma4-e.gguf"),
                            folder.filePath(QStringLiteral("tiny-gemma4-e.gguf"))));
        QVERIFY(QFile::link(kFixtures + QStringLiteral("/models/tiny-gemma4-moe.gguf"),
                            folder.filePath(QStringLiteral("tiny-gemma4-moe.gguf"))));
        QVERIFY(QFile::link(kFixtures + QStringLiteral("/vision/tiny-gemma4-e-mmproj.gguf"),
                            folder.filePath(QStringLiteral("tiny-gemma4-e-mmproj.gguf"))));
        models->library()->setFolder(folder.path());

        // A Popup is a QObject, not an item.
        QObject* library = window_->findChild<QObject*>(QStringLiteral("modelLibrary"));
        QVERIFY(library);
        QVERIFY(!library->property("visible").toBool());
        QTest::keyClick(window_, Qt::Key_M, Qt::ControlModifier);
        QTRY_VERIFY(library->property("opened").toBool());
        QQuickItem* list = item("modelListView");
        // The two folder models, and the fixture model opened earlier from elsewhere.
        QTRY_COMPARE_WITH_TIMEOUT(list->property("count").toInt(), 3, 20000);
        QVERIFY(textOf("libraryFolderLabel").contains(QDir::cleanPath(folder.path())));
        QTRY_VERIFY(textOf("libraryDeviceLabel").contains(QStringLiteral("Estimates at")));

        const int moeRow = models->library()->rowOf(folder.filePath(QStringLiteral("tiny-gemma4-moe.gguf")));
        QVERIFY(moeRow >= 0);
        QQuickItem* row = nullptr;
        QMetaObject::invokeMethod(list, "itemAtIndex", Q_RETURN_ARG(QQuickItem*, row), Q_ARG(int, moeRow));
        QVERIFY(row);
        QQuickItem* load = findNamed(row, QStringLiteral("modelRowLoadButton"));
        QVERIFY(load && load->isVisible());
        QQuickItem* memory = findNamed(row, QStringLiteral("modelRowMemory"));
        QVERIFY(memory && memory->property("text").toString().contains(QStringLiteral("needs about")));
        grab(QStringLiteral("model-list.png"));
        click(load);
        QTRY_VERIFY_WITH_TIMEOUT(
            models->modelLoaded() && models->fileName() == QStringLiteral("tiny-gemma4-moe.gguf"), 30000);
        QTRY_VERIFY(!load->isVisible()); // the loaded row shows "Loaded" instead
        QVERIFY(textOf("libraryStatusLabel").contains(QStringLiteral("runs on")));
        QVERIFY(textOf("headerModelLabel").contains(QStringLiteral("tiny-gemma4-moe.gguf")));
        QTest::keyClick(window_, Qt::Key_Escape);
        QTRY_VERIFY(!library->property("visible").toBool());
        models->library()->setFolder(ModelListModel::defaultFolder()); // the temporary folder goes away
    }

    // A .gguf dropped onto the window opens as the model; other files go to filesDropped.
    void aDroppedModelFileOpens() {
        ModelController* models = ModelController::instance(engine_.get());
        QSignalSpy others(engine_->rootObjects().constFirst(), SIGNAL(filesDropped(QVariant)));
        QVERIFY(others.isValid());
        QMimeData mime;
        mime.setUrls({QUrl::fromLocalFile(kFixtures + QStringLiteral("/models/tiny-gemma4-e.gguf")),
                      QUrl::fromLocalFile(kFixtures + QStringLiteral("/vision/test_photo.png"))});
        const QPoint centre(window_->width() / 2, window_->height() / 2);
        QDragEnterEvent enter(centre, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(window_, &enter);
        QDragMoveEvent move(centre, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(window_, &move);
        QDropEvent drop(centre, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(window_, &drop);
        QTRY_COMPARE(models->fileName(), QStringLiteral("tiny-gemma4-e.gguf"));
        QTRY_VERIFY_WITH_TIMEOUT(models->modelLoaded(), 30000);
        QCOMPARE(others.count(), 1);
        const QVariantList urls = others.at(0).at(0).toList();
        QCOMPARE(urls.size(), 1);
        QVERIFY(urls.at(0).toUrl().toLocalFile().endsWith(QStringLiteral("test_photo.png")));
    }

    void regenerateEditAndSwitchBranches() {
        ChatController* chat = ChatController::instance(engine_.get());
        SettingsController::instance(engine_.get())->setMaxTokens(6); // short answers that end on their own
        QCOMPARE(chat->messages()->count(), 2);
        const QString stoppedAnswer = chat->messages()->textAt(1);

        // Regenerate: a second answer, the first kept as its sibling.
        click(visibleItems("regenerateButton").value(0));
        auto answerNote = [chat] {
            return chat->messages()->index(1).data(MessageListModel::NoteRole).toString();
        };
        QTRY_VERIFY_WITH_TIMEOUT(!chat->generating() && answerNote() != QStringLiteral("Stopped."), 30000);
        QTRY_COMPARE(visibleItems("branchLabel").size(), 1);
        QTRY_COMPARE(branchLabelText(0), QStringLiteral("2/2"));
        const QString secondAnswer = chat->messages()->textAt(1);
        click(visibleItems("previousBranchButton").value(0));
        QTRY_COMPARE(answerNote(), QStringLiteral("Stopped."));
        QCOMPARE(chat->messages()->textAt(1), stoppedAnswer);
        QTRY_COMPARE(branchLabelText(0), QStringLiteral("1/2"));
        click(visibleItems("nextBranchButton").value(0));
        QTRY_VERIFY(answerNote() != QStringLiteral("Stopped."));
        QCOMPARE(chat->messages()->textAt(1), secondAnswer);

        // Edit the question: a new branch, answered; then back to the original one.
        click(visibleItems("editButton").value(0));
        QTRY_COMPARE(visibleItems("editInput").size(), 1);
        QQuickItem* editor = visibleItems("editInput").first();
        QTRY_VERIFY(editor->hasActiveFocus());
        QCOMPARE(editor->property("text").toString(), QStringLiteral("Hello"));
        editor->setProperty("text", QString());
        typeText(QStringLiteral("Hello again"));
        click(visibleItems("saveEditButton").value(0));
        QTRY_VERIFY_WITH_TIMEOUT(chat->messages()->count() == 2 && !chat->generating() &&
                                     !chat->messages()->textAt(1).isEmpty(),
                                 30000);
        QCOMPARE(chat->messages()->textAt(0), QStringLiteral("Hello again"));
        QTRY_COMPARE(visibleItems("branchLabel").size(), 1); // the question's; the new answer has no sibling
        QTRY_COMPARE(branchLabelText(0), QStringLiteral("2/2"));
        click(visibleItems("previousBranchButton").value(0));
        QTRY_COMPARE(messageTexts(), (QStringList{QStringLiteral("Hello"), secondAnswer}));
        QTRY_COMPARE(visibleItems("branchLabel").size(), 2); // the question's 1/2 and the answer's 2/2
        QTRY_COMPARE(branchLabelText(0), QStringLiteral("1/2"));
        QTRY_COMPARE(branchLabelText(1), QStringLiteral("2/2"));
        grab(QStringLiteral("branches.png"));
    }

    void sidebarRenamesDeletesWithUndoAndSearches() {
        ChatController* chat = ChatController::instance(engine_.get());
        const int answered = chat->currentConversationId();
        // Another conversation, pinned.
        QVERIFY(chat->selectConversation(chat->newChat()));
        const int empty = chat->currentConversationId();
        QVERIFY(chat->renameConversation(empty, QStringLiteral("Pinned notes")));
        QVERIFY(chat->setPinned(empty, true));
        QVERIFY(chat->selectConversation(answered));
        QTRY_COMPARE(item("conversationList")->property("count").toInt(), 2);
        auto sections = [this] {
            QStringList texts;
            for (QQuickItem* header : visibleItems("conversationSection"))
                texts << header->property("text").toString();
            return texts;
        };
        QTRY_COMPARE(sections(), (QStringList{QStringLiteral("Pinned"), QStringLiteral("Today")}));

        // Rename through the conversation's menu.
        ConversationListModel* list = chat->conversations();
        const int row = list->rowOf(answered);
        QQuickItem* delegate = nullptr;
        QMetaObject::invokeMethod(item("conversationList"), "itemAtIndex",
                                  Q_RETURN_ARG(QQuickItem*, delegate), Q_ARG(int, row));
        QVERIFY(delegate);
        QQuickItem* menuButton = nullptr;
        for (QQuickItem* button : visibleItems("conversationMenuButton")) {
            if (delegate->isAncestorOf(button)) menuButton = button;
        }
        QVERIFY(menuButton);
        click(menuButton);
        QQuickItem* rename = nullptr;
        QTRY_VERIFY((rename = visibleItems("renameAction").value(0)) != nullptr);
        click(rename);
        QQuickItem* field = nullptr;
        QTRY_VERIFY((field = visibleItems("renameField").value(0)) != nullptr);
        QTRY_VERIFY(field->hasActiveFocus());
        QTest::keyClick(window_, Qt::Key_A, Qt::ControlModifier);
        typeText(QStringLiteral("Greetings"));
        QTest::keyClick(window_, Qt::Key_Return);
        QTRY_COMPARE(list->titleOf(answered), QStringLiteral("Greetings"));
        QCOMPARE(window_->title(), QStringLiteral("Greetings \u2014 Ocelle"));

        // Search by message text.
        QQuickItem* search = item("conversationSearch");
        search->forceActiveFocus();
        QTRY_VERIFY(search->hasActiveFocus());
        typeText(QStringLiteral("hello again"));
        QTRY_COMPARE(item("conversationList")->property("count").toInt(), 1);
        QCOMPARE(list->idAt(0), answered);
        QTest::keyClick(window_, Qt::Key_Escape);
        QTRY_COMPARE(item("conversationList")->property("count").toInt(), 2);

        // Delete, then undo from the bar that appears.
        QVERIFY(!item("undoBar")->isVisible());
        QVERIFY(chat->deleteConversation(empty));
        QTRY_VERIFY(item("undoBar")->isVisible());
        QTRY_COMPARE(item("conversationList")->property("count").toInt(), 1);
        grab(QStringLiteral("undo-delete.png"));
        click(item("undoDeleteButton"));
        QTRY_COMPARE(item("conversationList")->property("count").toInt(), 2);
        QTRY_VERIFY(!item("undoBar")->isVisible());
        QCOMPARE(chat->currentConversationId(), empty);
        QVERIFY(chat->selectConversation(answered));
    }

    void theConversationIsThereAfterRecreatingTheApp() {
        ChatController* chat = ChatController::instance(engine_.get());
        const int id = chat->currentConversationId();
        const QStringList texts = messageTexts();
        const int conversations = chat->conversations()->count();
        const QString note = chat->messages()->index(1).data(MessageListModel::NoteRole).toString();
        QCOMPARE(texts.size(), 2);

        engine_.reset(); // the window, the controllers and the store go; the database stays
        window_ = nullptr;
        loadMainWindow();
        chat = ChatController::instance(engine_.get());
        QTRY_COMPARE(item("conversationList")->property("count").toInt(), conversations);
        QVERIFY(chat->selectConversation(id));
        QCOMPARE(messageTexts(), texts);
        QCOMPARE(window_->title(), QStringLiteral("Greetings \u2014 Ocelle"));
        QTRY_VERIFY(item("messageList")->isVisible());
        QTRY_COMPARE(visibleItems("branchLabel").size(), 2);
        QCOMPARE(branchLabelText(0), QStringLiteral("1/2"));
        QCOMPARE(chat->messages()->index(1).data(MessageListModel::NoteRole).toString(), note);
        click(visibleItems("nextBranchButton").value(0));
        QTRY_COMPARE(chat->messages()->textAt(0), QStringLiteral("Hello again"));
        grab(QStringLiteral("after-restart.png"));
    }
};

QTEST_MAIN(TestMainWindow)
#include "test_main_window.moc"
