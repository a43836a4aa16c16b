#include "chat_controller.h"

#include "conversation_export.h"
#include "input_support.h"

#include <QClipboard>
#include <QGuiApplication>
#include <QJsonArray>
#include <QJsonObject>
#include <QLocale>
#include <QMimeData>
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

ChatController::ChatController(ModelController* models, ConversationStore* store, QObject* parent)
    : QObject(parent), models_(models), store_(store), conversations_(store) {
    // A different model (or a failed attempt) makes an old explanation stale.
    if (models_) {
        connect(models_, &ModelController::changed, this, &ChatController::dismissNotice);
        connect(models_, &ModelController::changed, this, &ChatController::contextChanged);
        connect(models_, &ModelController::changed, this, &ChatController::updateInputSupport);
        ocelle::app::EngineHost* host = models_->engineHost();
        connect(host, &ocelle::app::EngineHost::delta, this, &ChatController::onDelta);
        connect(host, &ocelle::app::EngineHost::generationFinished, this, &ChatController::onFinished);
        connect(host, &ocelle::app::EngineHost::generationFailed, this, &ChatController::onFailed);
    }
    connect(&attachments_, &AttachmentListModel::refused, this, &ChatController::setNotice);
    attachments_.setStore(store_);
    workers_.setMaxThreadCount(1);
    connect(this, &ChatController::contextChanged, this, &ChatController::updateTokenRoom);
    connect(&attachments_, &AttachmentListModel::tokensChanged, this, &ChatController::updateTokenRoom);
    connect(&recorder_, &RecordingController::recorded, this,
            [this](const std::vector<float>& samples, bool) { attachments_.addRecording(samples); });
    connect(&camera_, &CameraController::snapshotTaken, this,
            [this](const QImage& image) { attachments_.addImage(image, tr("Camera snapshot")); });
    updateInputSupport();
    connect(&batcher_, &StreamBatcher::batch, this, [this](const QString& reasoning, const QString& answer) {
        messages_.appendStreamed(streamingRow_, reasoning, answer);
        if (StoredMessage* m = streamingMessage()) {
            m->text = messages_.textAt(streamingRow_);
            m->reasoning = messages_.reasoningAt(streamingRow_);
            store_->saveStreaming(m->id, m->text, m->reasoning);
        }
    });
    connect(store_, &ConversationStore::writeFailed, this, &ChatController::setStorageNotice);
    if (!store_->recoveryNotice().isEmpty()) setStorageNotice(store_->recoveryNotice());
    if (!store_->isOpen()) setStorageNotice(tr("Conversations cannot be saved: %1").arg(store_->openError()));
}

ChatController* ChatController::create(QQmlEngine* qmlEngine, QJSEngine*) {
    // Unparented: the engine takes ownership of singletons it gets from a factory.
    auto* store = new ConversationStore(ConversationStore::defaultDirectory());
    auto* chat = new ChatController(ModelController::instance(qmlEngine), store);
    store->setParent(chat);
    chat->setSettings(SettingsController::instance(qmlEngine));
    return chat;
}

ChatController* ChatController::instance(QQmlEngine* engine) {
    return engine->singletonInstance<ChatController*>(qmlTypeId("Ocelle.App", 1, 0, "ChatController"));
}

void ChatController::setSettings(SettingsController* settings) {
    settings_ = settings;
    auto useBudgets = [this] {
        if (settings_)
            attachments_.setBudgets(settings_->imageTokenBudget(), settings_->documentTokenBudget());
    };
    useBudgets();
    if (settings_) connect(settings_, &SettingsController::changed, this, useBudgets);
}

// What a PDF attached now may take: the context left after the conversation, the room kept for
// an answer and the other attachments.
void ChatController::updateTokenRoom() {
    const int size = contextSize();
    attachments_.setTokenRoom(
        size <= 0 ? 0 : std::max(1, size - contextUsed_ - size / 4 - attachments_.totalTokens()));
}

ChatController::~ChatController() {
    workers_.waitForDone(); // their results are posted to this object
    // An answer cut off by quitting is kept as it was, marked like one cut off by a crash.
    if (StoredMessage* m = streamingMessage()) {
        batcher_.flush();
        m->state = StoredMessage::State::Interrupted;
        store_->finishMessage(*m);
    }
}

QString ChatController::currentTitle() const {
    return currentId_ < 0 ? QString() : conversations_.titleOf(currentId_);
}

bool ChatController::canRegenerate() const {
    return !generating() && messages_.count() > 0 &&
           messages_.authorAt(messages_.count() - 1) == MessageListModel::Author::Model;
}

int ChatController::contextSize() const {
    return models_ && models_->modelLoaded() ? models_->contextLength() : 0;
}

QString ChatController::contextText() const {
    const QLocale locale;
    if (contextSize() <= 0) return {};
    return tr("%1 / %2 tokens").arg(locale.toString(contextUsed_), locale.toString(contextSize()));
}

void ChatController::setContextUsed(int tokens) {
    if (tokens == contextUsed_) return;
    contextUsed_ = tokens;
    emit contextChanged();
}

int ChatController::countTokens(const QString& text) const {
    return models_ ? models_->engineHost()->countTokens(text) : 0;
}

ChatController::ContextPlan ChatController::planContext(const std::vector<int>& turnTokens, int systemTokens,
                                                        int contextSize, int answerReserve,
                                                        SettingsController::ContextPolicy policy) {
    ContextPlan plan;
    plan.promptTokens = kTokensPerPrompt + systemTokens;
    for (int t : turnTokens) plan.promptTokens += t;
    const int n = static_cast<int>(turnTokens.size());
    if (policy == SettingsController::ContextPolicy::DropOldestTurns) {
        // Drop a question with its answer, oldest first, keeping the new question.
        while (plan.promptTokens + answerReserve > contextSize && plan.firstTurn + 2 < n) {
            plan.promptTokens -= turnTokens[size_t(plan.firstTurn)] + turnTokens[size_t(plan.firstTurn) + 1];
            plan.firstTurn += 2;
        }
    }
    plan.fits = plan.promptTokens + answerReserve <= contextSize;
    return plan;
}

QStringList ChatController::textsTo(qint64 messageId) const {
    QStringList texts;
    if (messageId <= 0) return texts;
    for (qint64 id : tree_.pathTo(messageId)) texts << tree_.find(id)->text;
    return texts;
}

bool ChatController::planTurns(const QStringList& turnTexts, int* firstTurn, int newMediaTokens) {
    if (settings_) {
        request_.systemPrompt = settings_->systemPrompt().toStdString();
        request_.thinking = settings_->thinking();
        request_.sampling = settings_->samplingForAnswer();
    }
    *firstTurn = 0;
    droppedTurns_ = 0;
    const int size = contextSize();
    if (size <= 0) return true;
    std::vector<int> turnTokens;
    for (const QString& text : turnTexts) turnTokens.push_back(countTokens(text) + kTokensPerTurn);
    if (!turnTokens.empty()) turnTokens.back() += newMediaTokens;
    const int systemTokens =
        request_.systemPrompt.empty()
            ? 0
            : countTokens(QString::fromStdString(request_.systemPrompt)) + kTokensPerTurn;
    const int maxTokens = request_.sampling.maxTokens;
    const int answerReserve = std::min(maxTokens > 0 ? maxTokens : size, size / 4);
    const auto policy =
        settings_ ? settings_->contextPolicy() : SettingsController::ContextPolicy::StopWhenFull;
    const ContextPlan plan = planContext(turnTokens, systemTokens, size, answerReserve, policy);
    if (!plan.fits) {
        const QLocale locale;
        setNotice(policy == SettingsController::ContextPolicy::StopWhenFull
                      ? tr("Nothing was sent: this conversation needs %1 of the %2 tokens of context, and an "
                           "answer needs room too. Start a new chat, or let Ocelle leave out the oldest "
                           "messages (Settings \u2192 When a conversation fills the context).")
                            .arg(locale.toString(plan.promptTokens), locale.toString(size))
                      : tr("Nothing was sent: the message alone needs %1 of the %2 tokens of context. "
                           "Shorten it, or choose a larger context in Settings.")
                            .arg(locale.toString(plan.promptTokens), locale.toString(size)));
        return false;
    }
    *firstTurn = plan.firstTurn;
    droppedTurns_ = plan.firstTurn;
    setContextUsed(plan.promptTokens);
    return true;
}

QString ChatController::noModelReason() const {
    if (models_ && models_->state() == ModelController::State::Loading) {
        return tr("Nothing was sent: %1 is still loading.").arg(models_->fileName());
    }
    return tr("Nothing was sent: Ocelle answers only with a Gemma 4 model on this computer. "
              "Choose one with \u201cOpen model\u2026\u201d.");
}

void ChatController::updateInputSupport() {
    const InputSupport support = models_ ? inputSupportOf(*models_) : InputSupport{};
    if (support.imageRefusal == attachments_.imageRefusal() &&
        support.audioRefusal == attachments_.audioRefusal())
        return;
    attachments_.setRefusalReasons(support.imageRefusal, support.audioRefusal);
    recorder_.setModelRefusal(support.audioRefusal);
    emit inputSupportChanged();
}

bool ChatController::canAnswer(const char* busyWhat) {
    if (!models_ || !models_->modelLoaded()) {
        setNotice(noModelReason());
        return false;
    }
    if (generating()) {
        setNotice(tr("%1: an answer is still being written. Stop it first.").arg(tr(busyWhat)));
        return false;
    }
    return true;
}

bool ChatController::send(const QString& text) {
    if (text.trimmed().isEmpty() && attachments_.count() == 0) return false;
    if (!canAnswer(QT_TR_NOOP("Nothing was sent"))) return false;
    if (attachments_.preparing()) {
        setNotice(tr("Nothing was sent yet: the attachments are still being prepared."));
        return false;
    }
    // Attachments of a kind the model cannot take (it changed since they were added) stay unsent.
    for (const auto& m : attachments_.media()) {
        const bool audio = m.kind == ocelle::app::TurnMedia::Kind::Audio;
        const QString reason = audio ? attachments_.audioRefusal() : attachments_.imageRefusal();
        if (!reason.isEmpty()) {
            setNotice(tr("Nothing was sent: %1 Remove that attachment first.").arg(reason));
            return false;
        }
    }
    int firstTurn = 0;
    if (!planTurns(textsTo(leafId_) << text, &firstTurn, attachments_.totalTokens()))
        return false; // the text and the attachments stay in the composer
    dismissNotice();
    if (currentId_ < 0) newChat();
    if (messages_.count() == 0) {
        const QString title =
            !text.trimmed().isEmpty()
                ? text
                : attachments_.summary().constFirst().toMap().value(QStringLiteral("name")).toString();
        conversations_.rename(currentId_, titleFrom(title));
        emit currentConversationChanged();
    }
    StoredMessage question;
    question.role = StoredMessage::Role::User;
    question.parentId = leafId_;
    question.text = text;
    // The files were copied into the store while they were prepared; the composer's pictures of
    // them serve the message too.
    const QList<AttachmentRef> files = attachments_.storedFiles();
    const QVariantList cards = attachments_.summary();
    for (qsizetype i = 0; i < files.size(); ++i) {
        if (files[i].hash.isEmpty()) continue;
        question.attachments.append(files[i]);
        const QString thumbnail = cards.value(i).toMap().value(QStringLiteral("thumbnail")).toString();
        if (!thumbnail.isEmpty()) thumbnails_.insert(files[i].hash, thumbnail);
    }
    const qint64 id = addMessage(question);
    attachments_.clear();
    showBranch(id);
    startGeneration(id, firstTurn);
    return true;
}

std::vector<ocelle::app::TurnMedia> ChatController::mediaOf(qint64 messageId) const {
    std::vector<ocelle::app::TurnMedia> media;
    const StoredMessage* m = tree_.find(messageId);
    if (!m) return media;
    for (const AttachmentRef& file : m->attachments) {
        const auto entries = AttachmentListModel::mediaFor(AttachmentListModel::kindOfMime(file.mimeType),
                                                           store_->attachmentPath(file.hash), file.options);
        media.insert(media.end(), entries.begin(), entries.end());
    }
    return media;
}

QVariantList ChatController::cardsOf(const StoredMessage& message) {
    QVariantList cards;
    for (const AttachmentRef& file : message.attachments) {
        const auto kind = AttachmentListModel::kindOfMime(file.mimeType);
        QString detail;
        if (kind == AttachmentListModel::Kind::Pdf) {
            const auto pages = file.options.value(QStringLiteral("pages")).toArray().size();
            detail = pages == 1 ? tr("1 page sent") : tr("%1 pages sent").arg(pages);
        }
        const auto thumbnail = thumbnails_.constFind(file.hash);
        if (thumbnail == thumbnails_.constEnd() && kind != AttachmentListModel::Kind::Audio)
            makeThumbnail(file);
        cards.append(QVariantMap{
            {QStringLiteral("kind"), AttachmentListModel::kindName(kind)},
            {QStringLiteral("name"), file.fileName},
            {QStringLiteral("thumbnail"), thumbnail == thumbnails_.constEnd() ? QString() : *thumbnail},
            {QStringLiteral("detail"), detail}});
    }
    return cards;
}

void ChatController::makeThumbnail(const AttachmentRef& file) {
    if (thumbnailsPending_.contains(file.hash)) return;
    thumbnailsPending_.insert(file.hash);
    const auto kind = AttachmentListModel::kindOfMime(file.mimeType);
    const QString path = store_->attachmentPath(file.hash);
    const QString folder = thumbnailFolder_.path();
    const QString hash = file.hash;
    workers_.start([this, kind, path, folder, hash] {
        QString thumbnail;
        try {
            thumbnail = AttachmentListModel::makeThumbnail(kind, path, folder, hash);
        } catch (const std::exception& e) {
            qWarning("No picture of the attachment %s: %s", qPrintable(path), e.what());
        }
        QMetaObject::invokeMethod(
            this,
            [this, hash, thumbnail] {
                thumbnailsPending_.remove(hash);
                thumbnails_.insert(hash, thumbnail); // empty: none can be made, do not try again
                for (int row = 0; row < messages_.count(); ++row) {
                    const StoredMessage* m = tree_.find(messages_.idAt(row));
                    if (!m) continue;
                    for (const AttachmentRef& file : m->attachments) {
                        if (file.hash != hash) continue;
                        messages_.setMedia(row, mediaOf(m->id), cardsOf(*m));
                        break;
                    }
                }
            },
            Qt::QueuedConnection);
    });
}

qint64 ChatController::addMessage(StoredMessage message) {
    message.conversationId = currentId_;
    message.created = QDateTime::currentDateTime();
    message.id = store_->addMessage(message);
    tree_.insert(message);
    conversations_.touch(currentId_);
    return message.id;
}

StoredMessage* ChatController::streamingMessage() {
    return streamingId_ > 0 ? tree_.find(streamingId_) : nullptr;
}

void ChatController::startGeneration(qint64 userMessageId, int firstTurn) {
    request_.turns.clear();
    const QList<qint64> path = tree_.pathTo(userMessageId);
    for (qint64 id : path.mid(firstTurn)) {
        const StoredMessage* m = tree_.find(id);
        const bool user = m->role == StoredMessage::Role::User;
        request_.turns.push_back(
            {user ? ocelle::app::ChatTurn::Role::User : ocelle::app::ChatTurn::Role::Model,
             m->text.toStdString(), mediaOf(id)});
    }
    // What this conversation was last answered with, kept with it (and in its JSON export).
    const auto& sampling = request_.sampling;
    store_->setConversationSettings(
        currentId_, {{QStringLiteral("systemPrompt"), QString::fromStdString(request_.systemPrompt)},
                     {QStringLiteral("thinking"), request_.thinking},
                     {QStringLiteral("temperature"), sampling.temperature},
                     {QStringLiteral("topK"), sampling.topK},
                     {QStringLiteral("topP"), sampling.topP},
                     {QStringLiteral("minP"), sampling.minP},
                     {QStringLiteral("repetitionPenalty"), sampling.repetitionPenalty},
                     {QStringLiteral("seed"), QString::number(sampling.seed)},
                     {QStringLiteral("maxTokens"), sampling.maxTokens}});
    StoredMessage answer;
    answer.role = StoredMessage::Role::Model;
    answer.state = StoredMessage::State::Streaming;
    answer.parentId = userMessageId;
    streamingId_ = addMessage(answer);
    showBranch(streamingId_);
    streamingRow_ = messages_.count() - 1;
    messages_.setStreaming(streamingRow_, true);
    batcher_.start();
    requestId_ = models_->engineHost()->requestGenerate(request_);
    emit generatingChanged();
}

namespace {
QString noteFor(const StoredMessage& m) {
    if (m.state == StoredMessage::State::Interrupted && m.note.isEmpty()) {
        return ChatController::tr("Interrupted: Ocelle ended before this answer was finished.");
    }
    return m.note;
}
} // namespace

void ChatController::showBranch(qint64 leaf) {
    const QList<qint64> path = tree_.pathTo(leaf);
    int keep = 0;
    while (keep < path.size() && keep < messages_.count() && messages_.idAt(keep) == path[keep]) ++keep;
    messages_.truncate(keep);
    for (int row = 0; row < path.size(); ++row) {
        const StoredMessage& m = *tree_.find(path[row]);
        if (row >= keep) {
            const bool user = m.role == StoredMessage::Role::User;
            messages_.append(user ? MessageListModel::Author::User : MessageListModel::Author::Model, m.text);
            messages_.setMessageId(row, m.id);
            if (!m.attachments.isEmpty()) messages_.setMedia(row, mediaOf(m.id), cardsOf(m));
            if (!m.reasoning.isEmpty()) messages_.appendStreamed(row, m.reasoning, {});
            if (m.reasoningSeconds >= 0) messages_.setReasoningSeconds(row, m.reasoningSeconds);
            if (m.hasStats) messages_.setStats(row, {m.tokensPerSecond, m.tokens, m.timeToFirstTokenSeconds});
            messages_.setNote(row, noteFor(m));
        }
        const QList<qint64> siblings = tree_.siblings(m.id);
        messages_.setBranch(row, static_cast<int>(siblings.indexOf(m.id)) + 1,
                            static_cast<int>(siblings.size()));
    }
    if (leafId_ != leaf) {
        leafId_ = leaf;
        store_->setCurrentLeaf(currentId_, leaf);
    }
}

void ChatController::stop() {
    if (generating() && models_) models_->engineHost()->cancel();
}

bool ChatController::regenerate() {
    if (!canRegenerate()) return false;
    if (!canAnswer(QT_TR_NOOP("Nothing was regenerated"))) return false;
    const StoredMessage* answer = tree_.find(messages_.idAt(messages_.count() - 1));
    if (!answer || answer->parentId <= 0) return false;
    int firstTurn = 0;
    if (!planTurns(textsTo(answer->parentId), &firstTurn)) return false;
    startGeneration(answer->parentId, firstTurn);
    return true;
}

bool ChatController::editMessage(int row, const QString& text) {
    if (row < 0 || row >= messages_.count() || messages_.authorAt(row) != MessageListModel::Author::User)
        return false;
    if (text.trimmed().isEmpty()) return false;
    if (!canAnswer(QT_TR_NOOP("The edit was not sent"))) return false;
    const StoredMessage* original = tree_.find(messages_.idAt(row));
    if (!original) return false;
    int firstTurn = 0;
    if (!planTurns(textsTo(original->parentId) << text, &firstTurn)) return false;
    dismissNotice();
    StoredMessage edited;
    edited.role = StoredMessage::Role::User;
    edited.parentId = original->parentId;
    edited.text = text;
    edited.attachments = original->attachments; // the edit is sent with the same files
    const qint64 id = addMessage(edited);
    showBranch(id);
    startGeneration(id, firstTurn);
    return true;
}

bool ChatController::switchBranch(int row, int step) {
    if (generating() || row < 0 || row >= messages_.count()) return false;
    const QList<qint64> siblings = tree_.siblings(messages_.idAt(row));
    const auto target = siblings.indexOf(messages_.idAt(row)) + step;
    if (target < 0 || target >= siblings.size()) return false;
    showBranch(tree_.leafForBranch(siblings[target], leafId_));
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
    StoredMessage* m = streamingMessage();
    if (!m) return;
    m->reasoningSeconds = report.reasoningSeconds;
    m->hasStats = true;
    m->tokensPerSecond = outcome.tokensPerSecond;
    m->tokens = outcome.generatedTokens;
    m->timeToFirstTokenSeconds = outcome.timeToFirstTokenSeconds;
    m->state =
        outcome.ending == Ending::Finished ? StoredMessage::State::Complete : StoredMessage::State::Stopped;
    QStringList notes;
    if (droppedTurns_ > 0)
        notes << tr("The %n oldest message(s) were left out to fit the context.", nullptr, droppedTurns_);
    if (outcome.ending != Ending::Finished) notes << QString::fromStdString(outcome.message);
    if (!notes.isEmpty()) m->note = notes.join(QLatin1Char(' '));
    // The engine's count is exact: the prompt it saw and the answer it wrote.
    if (outcome.promptTokens > 0) setContextUsed(outcome.promptTokens + outcome.generatedTokens);
    if (report.reasoningSeconds >= 0) messages_.setReasoningSeconds(streamingRow_, report.reasoningSeconds);
    messages_.setStats(streamingRow_, {m->tokensPerSecond, m->tokens, m->timeToFirstTokenSeconds});
    messages_.setNote(streamingRow_, m->note);
    endGeneration();
}

void ChatController::onFailed(quint64 requestId, const QString& message) {
    if (requestId != requestId_) return;
    batcher_.flush();
    if (StoredMessage* m = streamingMessage()) {
        m->state = StoredMessage::State::Failed;
        m->note = tr("The answer failed: %1").arg(message);
        messages_.setNote(streamingRow_, m->note);
    }
    endGeneration();
}

void ChatController::endGeneration() {
    const int row = streamingRow_;
    if (StoredMessage* m = streamingMessage()) {
        m->text = messages_.textAt(row);
        m->reasoning = messages_.reasoningAt(row);
        store_->finishMessage(*m);
    }
    messages_.setStreaming(row, false);
    requestId_ = 0;
    streamingRow_ = -1;
    streamingId_ = 0;
    emit generatingChanged();
    emit answerFinished(row >= 0 && row < messages_.count() ? messages_.textAt(row) : QString());
}

// Leaving a conversation while it is answered: the answer stops and is kept as far as it got.
void ChatController::abandonGeneration() {
    if (!generating()) return;
    stop();
    batcher_.flush();
    if (StoredMessage* m = streamingMessage()) {
        m->text = messages_.textAt(streamingRow_);
        m->reasoning = messages_.reasoningAt(streamingRow_);
        m->state = StoredMessage::State::Stopped;
        m->note = tr("Stopped.");
        store_->finishMessage(*m);
    }
    requestId_ = 0; // its remaining stream belongs to the conversation left behind
    streamingRow_ = -1;
    streamingId_ = 0;
    emit generatingChanged();
}

bool ChatController::requestAttachment() {
    if (!models_ || !models_->modelLoaded()) {
        setNotice(tr("Attachments need a loaded model: open a Gemma 4 model (with its mmproj file for "
                     "images and audio)."));
        return false;
    }
    if (!attachments_.imageRefusal().isEmpty() && !attachments_.audioRefusal().isEmpty()) {
        setNotice(attachments_.imageRefusal());
        return false;
    }
    dismissNotice();
    return true;
}

int ChatController::attachUrls(const QList<QUrl>& urls) {
    dismissNotice();
    return attachments_.addUrls(urls);
}

bool ChatController::pasteAttachment() {
    const QMimeData* data = QGuiApplication::clipboard()->mimeData();
    if (!data) return false;
    if (data->hasImage()) {
        dismissNotice();
        attachments_.addImage(qvariant_cast<QImage>(data->imageData()), tr("Pasted image"));
        return true;
    }
    if (data->hasUrls()) {
        QList<QUrl> files;
        for (const QUrl& url : data->urls())
            if (url.isLocalFile()) files << url;
        if (!files.isEmpty()) {
            attachUrls(files);
            return true;
        }
    }
    return false;
}

int ChatController::newChat() {
    dismissNotice();
    if (currentId_ >= 0 && messages_.count() == 0 && conversations_.rowOf(currentId_) >= 0)
        return currentId_; // already on an empty chat
    abandonGeneration();
    const int id = conversations_.add(tr("New chat"));
    currentId_ = id;
    tree_.clear();
    leafId_ = 0;
    messages_.clear();
    setContextUsed(0);
    emit currentConversationChanged();
    return id;
}

bool ChatController::selectConversation(int id) {
    if (!conversations_.exists(id)) return false;
    if (id == currentId_) return true;
    abandonGeneration();
    const auto stored = store_->conversation(id);
    if (!stored) return false;
    currentId_ = id;
    tree_.clear();
    for (const StoredMessage& m : store_->messages(id)) tree_.insert(m);
    leafId_ = stored->currentLeaf;
    messages_.clear();
    const qint64 leaf = tree_.contains(stored->currentLeaf)
                            ? stored->currentLeaf
                            : tree_.newestLeafUnder(tree_.children(0).value(0));
    showBranch(leaf);
    setContextUsed(0); // known again after the next answer
    emit currentConversationChanged();
    return true;
}

bool ChatController::renameConversation(int id, const QString& title) {
    if (!conversations_.rename(id, title)) return false;
    if (id == currentId_) emit currentConversationChanged();
    return true;
}

bool ChatController::setPinned(int id, bool pinned) {
    return conversations_.setPinned(id, pinned);
}

bool ChatController::deleteConversation(int id) {
    if (id == currentId_) {
        abandonGeneration();
        currentId_ = -1;
        tree_.clear();
        leafId_ = 0;
        messages_.clear();
        emit currentConversationChanged();
    }
    if (!conversations_.remove(id)) return false;
    emit undoableDeletionChanged();
    return true;
}

bool ChatController::undoDelete() {
    const int id = conversations_.undoRemove();
    if (id < 0) return false;
    emit undoableDeletionChanged();
    return selectConversation(id);
}

bool ChatController::exportConversation(int id, const QUrl& file) {
    if (!conversations_.exists(id)) return false;
    const QString path = file.toLocalFile();
    ConversationStore* store = store_; // outlives workers_ (waited for in the destructor)
    workers_.start([this, store, id, path] {
        const QString error = path.endsWith(QLatin1String(".json"), Qt::CaseInsensitive)
                                  ? conversation_export::writeJson(*store, id, path)
                                  : conversation_export::writeMarkdown(*store, id, path);
        QMetaObject::invokeMethod(
            this,
            [this, path, error] {
                if (!error.isEmpty()) setNotice(tr("The conversation was not exported: %1").arg(error));
                emit exportFinished(path, error);
            },
            Qt::QueuedConnection);
    });
    return true;
}

bool ChatController::importConversation(const QUrl& file) {
    QString error;
    const qint64 id = conversation_export::importJson(*store_, file.toLocalFile(), &error);
    if (id <= 0) {
        setNotice(tr("Nothing was imported: %1").arg(error));
        return false;
    }
    conversations_.addStored(static_cast<int>(id));
    return selectConversation(static_cast<int>(id));
}

void ChatController::copyText(const QString& text) {
    QGuiApplication::clipboard()->setText(text);
}

void ChatController::dismissNotice() {
    setNotice({});
}

void ChatController::setStorageNotice(const QString& notice) {
    if (notice == storageNotice_) return;
    storageNotice_ = notice;
    emit storageNoticeChanged();
}

void ChatController::dismissStorageNotice() {
    setStorageNotice({});
}

void ChatController::setNotice(const QString& notice) {
    if (notice == notice_) return;
    notice_ = notice;
    emit noticeChanged();
}
