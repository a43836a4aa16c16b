// The composer's attachments before they are sent: images, PDFs, videos and audio files added with
// the attach button, dropped on the window or pasted, plus camera snapshots and microphone
// recordings. Each row shows a thumbnail (a video: a strip of its sampled frames with their
// timestamps; a PDF: its pages) and how many prompt tokens it will take. Files are inspected on a
// worker thread (a row is "preparing" meanwhile); a file that cannot be used is dropped again with
// a message saying why.
//
// With a ConversationStore set, every file is copied into the store's attachments folder (named by
// its content hash) while it is inspected, and the row then points at that copy: what is sent is
// what is kept with the message. Pasted images, snapshots and recordings go there directly.
#pragma once

#include "chat_engine.h"
#include "conversation_store.h"

#include <QAbstractListModel>
#include <QImage>
#include <QJsonObject>
#include <QList>
#include <QTemporaryDir>
#include <QUrl>
#include <QVariantList>
#include <QtQml/qqmlregistration.h>
#include <memory>
#include <vector>

class AttachmentListModel : public QAbstractListModel {
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("The attachments belong to ChatController.attachments")
    Q_PROPERTY(int count READ count NOTIFY countChanged)
    Q_PROPERTY(int totalTokens READ totalTokens NOTIFY tokensChanged)
    Q_PROPERTY(bool preparing READ preparing NOTIFY preparingChanged)

public:
    enum class Kind { Image, Video, Audio, Pdf };
    Q_ENUM(Kind)
    enum Role {
        KindRole = Qt::UserRole + 1,
        KindNameRole,   // "image", "video", "audio", "pdf" (for QML)
        NameRole,       // the file name shown
        PathRole,       // the file on disk
        ThumbnailRole,  // file: URL of a small picture, empty for audio
        TokensRole,     // estimated prompt tokens, 0 while preparing
        DetailRole,     // "640 × 480 · about 268 tokens"
        FramesRole,     // video: [{thumbnail, timestamp}], sampled frames in order; PDF: the pages
                        // sent, timestamp "p. N"
        FrameCountRole, // video: how many frames are sampled
        PreparingRole,  // still being inspected
        NoteRole,       // PDF: which pages are left out because they do not fit; else empty
    };

    // Prompt-token estimates (soft tokens plus the markers around them), as the chat format lays
    // them out: images at the image budget, video frames at 70 each with an "mm:ss" timestamp,
    // audio at 25 tokens per second; PDF pages at the document budget after "Page N of M:".
    // Whether a file is of a kind the composer takes (image, video, audio, PDF), by its MIME type.
    static bool isAttachableFile(const QString& path);
    static int imageTokenEstimate(int width, int height, int budget);
    static int videoTokenEstimate(int width, int height, int frames);
    static int audioTokenEstimate(qint64 samples16k);
    // 16-bit PCM WAV bytes of 16 kHz mono samples (recordings; audio sent to a remote server).
    static QByteArray wavFileBytes(const std::vector<float>& samples16k);

    explicit AttachmentListModel(QObject* parent = nullptr);
    ~AttachmentListModel() override;

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    int count() const { return static_cast<int>(items_.size()); }
    int totalTokens() const;
    bool preparing() const;

    // Where attachments are kept (see above); null: files stay where they are, pastes go to
    // attachmentFolder(). The store must outlive this model.
    void setStore(ConversationStore* store) { store_ = store; }
    // Soft-token budgets of images and PDF pages (the settings); used by rows added afterwards.
    void setBudgets(int imageBudget, int documentBudget);
    // Prompt tokens still free in the context: a PDF's pages are taken while they fit (the row's
    // note names those left out). 0: no model, no limit known.
    void setTokenRoom(int tokens) { tokenRoom_ = tokens; }

    // Why images (also videos, PDFs, snapshots) or audio cannot be attached now; empty = allowed.
    void setRefusalReasons(const QString& imageReason, const QString& audioReason);
    QString imageRefusal() const { return imageRefusal_; }
    QString audioRefusal() const { return audioRefusal_; }

    // Adds files (file: URLs or local paths). Each one that is refused emits refused(message).
    // Returns how many were taken.
    Q_INVOKABLE int addUrls(const QList<QUrl>& urls);
    bool addPath(const QString& path);
    // A pasted image or camera snapshot: saved as PNG into attachmentFolder() and added.
    bool addImage(const QImage& image, const QString& name);
    // A microphone recording (16 kHz mono): saved as 16-bit WAV into attachmentFolder() and added.
    bool addRecording(const std::vector<float>& samples);
    Q_INVOKABLE void remove(int row);
    Q_INVOKABLE void clear();
    // Video: samples `frames` frames instead (1..64); the strip and the estimate follow.
    Q_INVOKABLE bool setVideoFrames(int row, int frames);

    // What the engine gets for the rows, in order (a PDF: one entry per page sent).
    std::vector<ocelle::app::TurnMedia> media() const;
    // The rows as the message view shows them after sending: [{kind, name, thumbnail, detail}].
    QVariantList summary() const;
    // The rows as kept in the store, in order (empty refs for rows not stored: no store set).
    QList<AttachmentRef> storedFiles() const;

    // What kind of attachment a MIME type is; `known` false for one that cannot be attached.
    static Kind kindOfMime(const QString& mimeType, bool* known = nullptr);
    static QString kindName(Kind kind);
    // What the engine gets for a file of `kind` at `path` sent with `options` (AttachmentRef):
    // the one way both fresh rows and stored attachments (reopened, exported, imported) are sent.
    static std::vector<ocelle::app::TurnMedia> mediaFor(Kind kind, const QString& path,
                                                        const QJsonObject& options);
    // A small picture of the file as a PNG in `folder` (an image scaled down, a video's first
    // frame, a PDF's first page); its file: URL, empty for audio. Throws std::exception (MediaError)
    // for a file that cannot be read. Any thread.
    static QString makeThumbnail(Kind kind, const QString& path, const QString& folder, const QString& stem);

    // Where pasted images, snapshots and recordings are written (created when needed).
    static QString attachmentFolder();

signals:
    void countChanged();
    void tokensChanged();
    void preparingChanged();
    // A file was not taken; the message says which and why.
    void refused(const QString& message);
    // Every row finished preparing (tests and the send path wait for it).
    void prepared();

private:
    struct Frame {
        QString thumbnail;
        QString timestamp;
    };
    struct Item {
        quint64 id = 0;
        Kind kind = Kind::Image;
        QString path;
        QString name;
        bool preparing = true;
        QString thumbnail;
        int width = 0;
        int height = 0;
        double seconds = 0;
        qint64 samples = 0;
        int frameCount = 0;
        std::vector<Frame> frames;
        int tokens = 0;
        int budget = 0;            // image or PDF page soft tokens, from the settings when added
        std::vector<int> pdfPages; // PDF: the pages sent (0-based)
        int pageCount = 0;         // PDF: pages in the document
        QString note;
        QString mimeType;
        AttachmentRef stored; // the store's copy, once inspected (with a store set)
    };
    struct Inspection; // what the worker found out

    int rowOf(quint64 id) const;
    QJsonObject optionsOf(const Item& item) const;
    QString detailOf(const Item& item) const;
    void inspect(const Item& item);
    void onInspected(quint64 id, const std::shared_ptr<Inspection>& result);
    bool insertFile(const QString& path, Kind kind, const QString& shownName = {});
    // Writes a paste, snapshot or recording into the store (or attachmentFolder()); its path.
    QString keepBytes(const QByteArray& bytes, const QString& fileName, const QString& mimeType) const;

    std::vector<Item> items_;
    quint64 nextId_ = 1;
    ConversationStore* store_ = nullptr;
    int imageBudget_;
    int documentBudget_;
    int tokenRoom_ = 0;
    QString imageRefusal_;
    QString audioRefusal_;
    QTemporaryDir thumbnails_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true); // worker results check it
};
