// What the composer and the sidebar do: sending, streaming the answer, stop and regenerate, editing
// a past question and moving between branches, new chats, choosing a conversation. Generation runs
// on the engine thread (ModelController's EngineHost); its streamed text reaches the message list
// through a StreamBatcher, so the list changes at most once per frame. Everything is kept in the
// ConversationStore (the streaming answer at most a second behind). Without a loaded model nothing
// is sent and nothing pretends to answer: the notice says why.
#pragma once

#include "attachment_list_model.h"
#include "camera_controller.h"
#include "conversation_list_model.h"
#include "conversation_store.h"
#include "message_list_model.h"
#include "message_tree.h"
#include "model_controller.h"
#include "recording_controller.h"
#include "settings_controller.h"
#include "stream_batcher.h"

#include <QHash>
#include <QObject>
#include <QPointer>
#include <QSet>
#include <QString>
#include <QTemporaryDir>
#include <QThreadPool>
#include <QUrl>
#include <QtQml/qqmlregistration.h>

class QQmlEngine;
class QJSEngine;

class ChatController : public QObject {
    Q_OBJECT
    QML_ELEMENT
    QML_SINGLETON

    Q_PROPERTY(ConversationListModel* conversations READ conversations CONSTANT)
    Q_PROPERTY(MessageListModel* messages READ messages CONSTANT)
    // The composer's attachments, microphone and camera.
    Q_PROPERTY(AttachmentListModel* attachments READ attachments CONSTANT)
    Q_PROPERTY(RecordingController* recorder READ recorder CONSTANT)
    Q_PROPERTY(CameraController* camera READ camera CONSTANT)
    // Why the loaded model takes no images (also PDFs, videos, snapshots) or no audio; empty: it does.
    Q_PROPERTY(QString imageInputReason READ imageInputReason NOTIFY inputSupportChanged)
    Q_PROPERTY(QString audioInputReason READ audioInputReason NOTIFY inputSupportChanged)
    Q_PROPERTY(int currentConversationId READ currentConversationId NOTIFY currentConversationChanged)
    Q_PROPERTY(QString currentTitle READ currentTitle NOTIFY currentConversationChanged)
    Q_PROPERTY(QString notice READ notice NOTIFY noticeChanged)
    Q_PROPERTY(bool generating READ generating NOTIFY generatingChanged)
    Q_PROPERTY(bool canRegenerate READ canRegenerate NOTIFY generatingChanged)
    // The title of the conversation deleted last, while its deletion can be undone; else empty.
    // A problem with the conversation database (a damaged file moved aside, a failed write): shown
    // until dismissed, whatever else happens.
    Q_PROPERTY(QString storageNotice READ storageNotice NOTIFY storageNoticeChanged)
    // The context meter: tokens the conversation takes (exact after an answer, counted before
    // one) out of the loaded model's context.
    Q_PROPERTY(int contextUsed READ contextUsed NOTIFY contextChanged)
    Q_PROPERTY(int contextSize READ contextSize NOTIFY contextChanged)
    Q_PROPERTY(QString contextText READ contextText NOTIFY contextChanged)
    Q_PROPERTY(QString undoableDeletion READ undoableDeletion NOTIFY undoableDeletionChanged)

public:
    // `models` tells whether a model can answer and runs it; `store` keeps the conversations. Both
    // must outlive this controller.
    ChatController(ModelController* models, ConversationStore* store, QObject* parent = nullptr);
    ~ChatController() override;
    // Where the system prompt, thinking, sampling and the context policy of every answer come
    // from (defaults without one). It must outlive this controller.
    void setSettings(SettingsController* settings);

    // Which turns of a conversation go to the model. Turns alternate user/model and end with the
    // user's new question; `turnTokens` are their sizes in the prompt. The plan keeps room for an
    // answer (`answerReserve`); under DropOldestTurns it leaves out the oldest question/answer
    // pairs until the rest fits, never the new question itself.
    struct ContextPlan {
        bool fits = true;
        int firstTurn = 0;    // the turns sent are [firstTurn, end)
        int promptTokens = 0; // what the sent turns take, with the system prompt
    };
    static ContextPlan planContext(const std::vector<int>& turnTokens, int systemTokens, int contextSize,
                                   int answerReserve, SettingsController::ContextPolicy policy);
    // Prompt tokens a turn takes besides its text (turn markers), and the whole prompt's fixed part.
    static constexpr int kTokensPerTurn = 5;
    static constexpr int kTokensPerPrompt = 4;
    int contextUsed() const { return contextUsed_; }
    int contextSize() const;
    QString contextText() const;

    // QML's singleton factory: wires the engine's ModelController singleton in, and a store in
    // ConversationStore::defaultDirectory() owned by the controller.
    static ChatController* create(QQmlEngine* qmlEngine, QJSEngine* jsEngine);
    static ChatController* instance(QQmlEngine* engine);

    ConversationListModel* conversations() { return &conversations_; }
    ConversationStore* store() { return store_; }
    MessageListModel* messages() { return &messages_; }
    AttachmentListModel* attachments() { return &attachments_; }
    RecordingController* recorder() { return &recorder_; }
    CameraController* camera() { return &camera_; }
    QString imageInputReason() const { return attachments_.imageRefusal(); }
    QString audioInputReason() const { return attachments_.audioRefusal(); }
    int currentConversationId() const { return currentId_; }
    QString currentTitle() const;
    QString notice() const { return notice_; }
    bool generating() const { return requestId_ != 0; }
    bool canRegenerate() const;
    StreamBatcher* batcher() { return &batcher_; }

    // Sends the composer's text. Returns true when the text was taken (the composer then clears);
    // false when there is nothing to send or no model can answer (the notice explains).
    Q_INVOKABLE bool send(const QString& text);
    // Stops the answer being generated; what arrived so far stays, marked as stopped.
    Q_INVOKABLE void stop();
    // A new answer to the last question, kept as a sibling of the old one (both stay navigable).
    Q_INVOKABLE bool regenerate();
    // Edits the question at `row`: the edit becomes a sibling branch and is answered; the original
    // question and everything after it stay in their own branch.
    Q_INVOKABLE bool editMessage(int row, const QString& text);
    // Shows the previous (step -1) or next (+1) sibling of the message at `row`, and its branch.
    Q_INVOKABLE bool switchBranch(int row, int step);
    // The attach button: returns true when a file may be picked; otherwise the notice explains.
    Q_INVOKABLE bool requestAttachment();
    // Files chosen in the file dialog or dropped on the window.
    Q_INVOKABLE int attachUrls(const QList<QUrl>& urls);
    // Ctrl+V in the composer: takes an image or files from the clipboard. False when the clipboard
    // holds neither (the text field then pastes text as usual).
    Q_INVOKABLE bool pasteAttachment();
    // Starts a conversation, reusing the current one if it has no messages yet. Returns its id.
    Q_INVOKABLE int newChat();
    Q_INVOKABLE bool selectConversation(int id);
    Q_INVOKABLE bool renameConversation(int id, const QString& title);
    Q_INVOKABLE bool setPinned(int id, bool pinned);
    // Deletes a conversation; undoDelete() brings it back (until Ocelle is next started).
    Q_INVOKABLE bool deleteConversation(int id);
    Q_INVOKABLE bool undoDelete();
    QString undoableDeletion() const { return conversations_.lastRemovedTitle(); }
    QString storageNotice() const { return storageNotice_; }
    Q_INVOKABLE void dismissStorageNotice();
    // Writes the conversation's current branch as Markdown (attachments copied into a folder next
    // to it) or, for a .json file, the whole conversation with every branch, on a worker thread
    // (attachments make exports large). exportFinished says how it went; a failure also sets the
    // notice. False when the conversation does not exist.
    Q_INVOKABLE bool exportConversation(int id, const QUrl& file);
    // Reads a conversation exported as JSON, stores it as a new conversation and opens it.
    Q_INVOKABLE bool importConversation(const QUrl& file);
    Q_INVOKABLE void dismissNotice();
    // Puts text on the clipboard (a message, a code block).
    Q_INVOKABLE void copyText(const QString& text);

signals:
    void currentConversationChanged();
    void noticeChanged();
    void generatingChanged();
    void undoableDeletionChanged();
    void storageNoticeChanged();
    void contextChanged();
    void inputSupportChanged();
    // An answer is complete (or was stopped): screen readers announce it once, tests wait on it.
    void answerFinished(const QString& text);
    // An export started by exportConversation ended; `error` is empty when the file was written.
    void exportFinished(const QString& path, const QString& error);

private:
    void setNotice(const QString& notice);
    void setStorageNotice(const QString& notice);
    void updateInputSupport();
    std::vector<ocelle::app::TurnMedia> mediaOf(qint64 messageId) const;
    // A message's attachments as cards for the view; pictures not made yet are made on a worker
    // (a reopened conversation) and the message is shown again when they are ready.
    QVariantList cardsOf(const StoredMessage& message);
    void makeThumbnail(const AttachmentRef& file);
    void updateTokenRoom();
    QString noModelReason() const;
    // True when a model is loaded and idle; otherwise the notice starts with `refused` and says why.
    bool canAnswer(const char* refused);
    // Answers the question `userMessageId` with a new model message below it.
    // Takes the generation settings, then checks that `turnTexts` (ending with the new question)
    // fit the context under its policy: false with the notice saying why, otherwise the first
    // turn to send. Nothing is stored before this says yes.
    // `newMediaTokens`: the composer's attachments, sent with the last turn. (Media of earlier
    // turns are not counted here; the engine's exact count after each answer includes them.)
    bool planTurns(const QStringList& turnTexts, int* firstTurn, int newMediaTokens = 0);
    QStringList textsTo(qint64 messageId) const;
    // Answers the question `userMessageId` with a new model message below it, sending the turns
    // of its path from `firstTurn` on.
    void startGeneration(qint64 userMessageId, int firstTurn);
    int countTokens(const QString& text) const;
    void setContextUsed(int tokens);
    // Adds a message to the store and the tree; returns its id.
    qint64 addMessage(StoredMessage message);
    // Shows the branch ending at `leaf`: rows that stay are not touched.
    void showBranch(qint64 leaf);
    void abandonGeneration();
    StoredMessage* streamingMessage();
    void onDelta(quint64 requestId, const QString& reasoning, const QString& answer);
    void onFinished(quint64 requestId, const ocelle::app::GenerationReport& report);
    void onFailed(quint64 requestId, const QString& message);
    void endGeneration();

    QPointer<ModelController> models_;
    ConversationStore* store_;
    QPointer<SettingsController> settings_;
    int contextUsed_ = 0;
    int droppedTurns_ = 0; // left out of the answer being generated to fit the context
    ConversationListModel conversations_;
    MessageTree tree_;
    qint64 leafId_ = 0;      // the last message of the branch on screen
    qint64 streamingId_ = 0; // the answer being generated
    MessageListModel messages_;
    AttachmentListModel attachments_;
    QHash<QString, QString> thumbnails_; // attachment hash -> file: URL of its small picture
    QSet<QString> thumbnailsPending_;
    QTemporaryDir thumbnailFolder_;
    QThreadPool workers_; // thumbnails of reopened attachments, exports; waited for at the end
    RecordingController recorder_;
    CameraController camera_;
    StreamBatcher batcher_;
    ocelle::app::GenerationRequest request_; // settings; turns filled per request
    quint64 requestId_ = 0;                  // the generation in progress, 0 when idle
    int streamingRow_ = -1;
    int currentId_ = -1;
    QString notice_;
    QString storageNotice_;
};
