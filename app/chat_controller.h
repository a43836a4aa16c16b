// What the composer and the sidebar do: sending, new chats, choosing a conversation.
// Without a loaded model nothing is sent and nothing pretends to answer: the notice says why.
#pragma once

#include "conversation_list_model.h"
#include "message_list_model.h"
#include "model_controller.h"

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

public:
    // `models` tells whether a model can answer; it must outlive this controller.
    explicit ChatController(ModelController* models, QObject* parent = nullptr);

    // QML's singleton factory: wires the engine's ModelController singleton in.
    static ChatController* create(QQmlEngine* qmlEngine, QJSEngine* jsEngine);
    static ChatController* instance(QQmlEngine* engine);

    ConversationListModel* conversations() { return &conversations_; }
    MessageListModel* messages() { return &messages_; }
    int currentConversationId() const { return currentId_; }
    QString currentTitle() const;
    QString notice() const { return notice_; }

    // Sends the composer's text. Returns true when the text was taken (the composer then clears);
    // false when there is nothing to send or no model can answer (the notice explains).
    Q_INVOKABLE bool send(const QString& text);
    // The attach button: returns true when a file may be picked; otherwise the notice explains.
    Q_INVOKABLE bool requestAttachment();
    // Starts a conversation, reusing the current one if it has no messages yet. Returns its id.
    Q_INVOKABLE int newChat();
    Q_INVOKABLE bool selectConversation(int id);
    Q_INVOKABLE void dismissNotice();

signals:
    void currentConversationChanged();
    void noticeChanged();

private:
    void setNotice(const QString& notice);
    QString noModelReason() const;

    QPointer<ModelController> models_;
    ConversationListModel conversations_;
    MessageListModel messages_;
    int currentId_ = -1;
    QString notice_;
};
