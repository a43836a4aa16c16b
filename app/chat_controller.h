// What the composer and the sidebar do: sending, streaming the answer, stop and regenerate, new
// chats, choosing a conversation. Generation runs on the engine thread (ModelController's
// EngineHost); its streamed text reaches the message list through a StreamBatcher, so the list
// changes at most once per frame. Without a loaded model nothing is sent and nothing pretends to
// answer: the notice says why.
#pragma once

#include "conversation_list_model.h"
#include "message_list_model.h"
#include "model_controller.h"
#include "stream_batcher.h"

#include <QObject>
#include <QPointer>
#include <QString>
#include <QtQml/qqmlregistration.h>

class QQmlEngine;
class QJSEngine;

class ChatController : public QObject {
    Q_OBJECT
    QML_ELEMENT
    QML_SINGLETON

    Q_PROPERTY(ConversationListModel* conversations READ conversations CONSTANT)
    Q_PROPERTY(MessageListModel* messages READ messages CONSTANT)
    Q_PROPERTY(int currentConversationId READ currentConversationId NOTIFY currentConversationChanged)
    Q_PROPERTY(QString currentTitle READ currentTitle NOTIFY currentConversationChanged)
    Q_PROPERTY(QString notice READ notice NOTIFY noticeChanged)
    Q_PROPERTY(bool generating READ generating NOTIFY generatingChanged)
    Q_PROPERTY(bool canRegenerate READ canRegenerate NOTIFY generatingChanged)
    Q_PROPERTY(bool thinking READ thinking WRITE setThinking NOTIFY generationSettingsChanged)
    Q_PROPERTY(QString systemPrompt READ systemPrompt WRITE setSystemPrompt NOTIFY generationSettingsChanged)

public:
    // `models` tells whether a model can answer and runs it; it must outlive this controller.
    explicit ChatController(ModelController* models, QObject* parent = nullptr);

    // QML's singleton factory: wires the engine's ModelController singleton in.
    static ChatController* create(QQmlEngine* qmlEngine, QJSEngine* jsEngine);
    static ChatController* instance(QQmlEngine* engine);

    ConversationListModel* conversations() { return &conversations_; }
    MessageListModel* messages() { return &messages_; }
    int currentConversationId() const { return currentId_; }
    QString currentTitle() const;
    QString notice() const { return notice_; }
    bool generating() const { return requestId_ != 0; }
    bool canRegenerate() const;
    bool thinking() const { return request_.thinking; }
    void setThinking(bool on);
    QString systemPrompt() const { return QString::fromStdString(request_.systemPrompt); }
    void setSystemPrompt(const QString& prompt);
    void setSampling(const ocelle::app::SamplingSettings& sampling) { request_.sampling = sampling; }
    StreamBatcher* batcher() { return &batcher_; }

    // Sends the composer's text. Returns true when the text was taken (the composer then clears);
    // false when there is nothing to send or no model can answer (the notice explains).
    Q_INVOKABLE bool send(const QString& text);
    // Stops the answer being generated; what arrived so far stays, marked as stopped.
    Q_INVOKABLE void stop();
    // Replaces the last answer with a new one for the same question.
    Q_INVOKABLE bool regenerate();
    // The attach button: returns true when a file may be picked; otherwise the notice explains.
    Q_INVOKABLE bool requestAttachment();
    // Starts a conversation, reusing the current one if it has no messages yet. Returns its id.
    Q_INVOKABLE int newChat();
    Q_INVOKABLE bool selectConversation(int id);
    Q_INVOKABLE void dismissNotice();

signals:
    void currentConversationChanged();
    void noticeChanged();
    void generatingChanged();
    void generationSettingsChanged();
    // An answer is complete (or was stopped): screen readers announce it once, tests wait on it.
    void answerFinished(const QString& text);

private:
    void setNotice(const QString& notice);
    QString noModelReason() const;
    void startGeneration();
    void onDelta(quint64 requestId, const QString& reasoning, const QString& answer);
    void onFinished(quint64 requestId, const ocelle::app::GenerationReport& report);
    void onFailed(quint64 requestId, const QString& message);
    void endGeneration();

    QPointer<ModelController> models_;
    ConversationListModel conversations_;
    MessageListModel messages_;
    StreamBatcher batcher_;
    ocelle::app::GenerationRequest request_; // settings; turns filled per request
    quint64 requestId_ = 0;                  // the generation in progress, 0 when idle
    int streamingRow_ = -1;
    int currentId_ = -1;
    QString notice_;
};
