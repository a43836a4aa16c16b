#include "chat_controller.h"

#include <QQmlEngine>
#include <QtQml/qqml.h>

namespace {
constexpr int kTitleLength = 48;

// The first question, on one line and cut at a word, as the conversation's title.
QString titleFrom(const QString& question) {
    QString title = question.simplified();
    if (title.size() <= kTitleLength) return title;
    title.truncate(kTitleLength);
    const int space = title.lastIndexOf(QLatin1Char(' '));
    if (space > kTitleLength / 2) title.truncate(space);
    return title + QStringLiteral("\u2026");
}
} // namespace

ChatController::ChatController(ModelController* models, QObject* parent) : QObject(parent), models_(models) {
    // A different model (or a failed attempt) makes an old explanation stale.
    if (models_) {
        connect(models_, &ModelController::changed, this, &ChatController::dismissNotice);
        ocelle::app::EngineHost* host = models_->engineHost();
        connect(host, &ocelle::app::EngineHost::delta, this, &ChatController::onDelta);
        connect(host, &ocelle::app::EngineHost::generationFinished, this, &ChatController::onFinished);
        connect(host, &ocelle::app::EngineHost::generationFailed, this, &ChatController::onFailed);
    }
    connect(&batcher_, &StreamBatcher::batch, this, [this](const QString& reasoning, const QString& answer) {
        messages_.appendStreamed(streamingRow_, reasoning, answer);
    });
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

bool ChatController::canRegenerate() const {
    return !generating() && messages_.count() > 0 &&
           messages_.authorAt(messages_.count() - 1) == MessageListModel::Author::Model;
}

void ChatController::setThinking(bool on) {
    if (request_.thinking == on) return;
    request_.thinking = on;
    emit generationSettingsChanged();
}

void ChatController::setSystemPrompt(const QString& prompt) {
    const std::string text = prompt.toStdString();
    if (request_.systemPrompt == text) return;
    request_.systemPrompt = text;
    emit generationSettingsChanged();
}

QString ChatController::noModelReason() const {
    if (models_ && models_->state() == ModelController::State::Loading) {
        return tr("Nothing was sent: %1 is still loading.").arg(models_->fileName());
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
    if (generating()) {
        setNotice(tr("Nothing was sent: an answer is still being written. Stop it first."));
        return false;
    }
    dismissNotice();
    if (currentId_ < 0) newChat();
    if (messages_.count() == 0) {
        conversations_.rename(currentId_, titleFrom(text));
        emit currentConversationChanged();
    }
    messages_.append(MessageListModel::Author::User, text);
    startGeneration();
    return true;
}

void ChatController::startGeneration() {
    request_.turns.clear();
    for (int row = 0; row < messages_.count(); ++row) {
        const bool user = messages_.authorAt(row) == MessageListModel::Author::User;
        request_.turns.push_back(
            {user ? ocelle::app::ChatTurn::Role::User : ocelle::app::ChatTurn::Role::Model,
             messages_.textAt(row).toStdString()});
    }
    streamingRow_ = messages_.append(MessageListModel::Author::Model, QString());
    messages_.setStreaming(streamingRow_, true);
    batcher_.start();
    requestId_ = models_->engineHost()->requestGenerate(request_);
    emit generatingChanged();
}

void ChatController::stop() {
    if (generating() && models_) models_->engineHost()->cancel();
}

bool ChatController::regenerate() {
    if (!canRegenerate()) return false;
    if (!models_ || !models_->modelLoaded()) {
        setNotice(noModelReason());
        return false;
    }
    messages_.truncate(messages_.count() - 1);
    startGeneration();
    return true;
}

void ChatController::onDelta(quint64 requestId, const QString& reasoning, const QString& answer) {
    if (requestId != requestId_) return; // a stream from a conversation left behind
    batcher_.push(reasoning, answer);
}

void ChatController::onFinished(quint64 requestId, const ocelle::app::GenerationReport& report) {
    if (requestId != requestId_) return;
    batcher_.flush();
    using Ending = ocelle::app::GenerationOutcome::Ending;
    const auto& outcome = report.outcome;
    if (report.reasoningSeconds >= 0) messages_.setReasoningSeconds(streamingRow_, report.reasoningSeconds);
    messages_.setStats(streamingRow_,
                       {outcome.tokensPerSecond, outcome.generatedTokens, outcome.timeToFirstTokenSeconds});
    if (outcome.ending != Ending::Finished) {
        messages_.setNote(streamingRow_, QString::fromStdString(outcome.message));
    }
    endGeneration();
}

void ChatController::onFailed(quint64 requestId, const QString& message) {
    if (requestId != requestId_) return;
    batcher_.flush();
    messages_.setNote(streamingRow_, tr("The answer failed: %1").arg(message));
    endGeneration();
}

void ChatController::endGeneration() {
    const int row = streamingRow_;
    messages_.setStreaming(row, false);
    requestId_ = 0;
    streamingRow_ = -1;
    emit generatingChanged();
    emit answerFinished(row >= 0 && row < messages_.count() ? messages_.textAt(row) : QString());
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
    if (generating()) {
        stop();
        requestId_ = 0; // its remaining stream belongs to the conversation left behind
        streamingRow_ = -1;
        emit generatingChanged();
    }
    const int id = conversations_.add(tr("New chat"));
    currentId_ = id;
    messages_.clear();
    emit currentConversationChanged();
    return id;
}

bool ChatController::selectConversation(int id) {
    if (conversations_.rowOf(id) < 0) return false;
    if (id == currentId_) return true;
    if (generating()) {
        stop();
        requestId_ = 0;
        streamingRow_ = -1;
        emit generatingChanged();
    }
    currentId_ = id;
    // Messages are kept in memory only for the open conversation until storage arrives.
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
