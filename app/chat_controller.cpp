#include "chat_controller.h"

#include <QQmlEngine>
#include <QtQml/qqml.h>

ChatController::ChatController(ModelController* models, QObject* parent) : QObject(parent), models_(models) {
    // A different model (or a failed attempt) makes an old explanation stale.
    if (models_) connect(models_, &ModelController::changed, this, &ChatController::dismissNotice);
}

ChatController* ChatController::create(QQmlEngine* qmlEngine, QJSEngine*) {
    // Unparented: the engine takes ownership of singletons it gets from a factory.
    return new ChatController(ModelController::instance(qmlEngine));
}

ChatController* ChatController::instance(QQmlEngine* engine) {
    return engine->singletonInstance<ChatController*>(qmlTypeId("Ocelle.App", 1, 0, "ChatController"));
}

QString ChatController::currentTitle() const {
    const int row = conversations_.rowOf(currentId_);
    if (row < 0) return {};
    return conversations_.data(conversations_.index(row), ConversationListModel::TitleRole).toString();
}

QString ChatController::noModelReason() const {
    if (models_ && models_->state() == ModelController::State::Inspected) {
        return tr("Nothing was sent: %1 was read, but running models arrives with the engine.")
            .arg(models_->fileName());
    }
    return tr("Nothing was sent: Ocelle answers only with a Gemma 4 model on this computer. "
              "Choose one with \u201cOpen model\u2026\u201d.");
}

bool ChatController::send(const QString& text) {
    if (text.trimmed().isEmpty()) return false;
    if (!models_ || !models_->modelLoaded()) {
        setNotice(noModelReason());
        return false;
    }
    // Unreachable until the engine reports a loaded model; generation arrives with it.
    setNotice(tr("Nothing was sent: generation arrives with the engine."));
    return false;
}

bool ChatController::requestAttachment() {
    if (!models_ || !models_->modelLoaded()) {
        setNotice(tr("Attachments need a loaded model: open a Gemma 4 model (with its mmproj file for "
                     "images and audio)."));
        return false;
    }
    setNotice(tr("Attachments arrive with image and audio support."));
    return false;
}

int ChatController::newChat() {
    dismissNotice();
    if (currentId_ >= 0 && messages_.count() == 0) return currentId_; // already on an empty chat
    const int id = conversations_.add(tr("New chat"));
    currentId_ = id;
    messages_.clear();
    emit currentConversationChanged();
    return id;
}

bool ChatController::selectConversation(int id) {
    if (conversations_.rowOf(id) < 0) return false;
    if (id == currentId_) return true;
    currentId_ = id;
    // Messages live only in memory for now, and none can be created without a model, so every
    // conversation's message list is empty; storage will load the chosen one here.
    messages_.clear();
    emit currentConversationChanged();
    return true;
}

void ChatController::dismissNotice() {
    setNotice({});
}

void ChatController::setNotice(const QString& notice) {
    if (notice == notice_) return;
    notice_ = notice;
    emit noticeChanged();
}
