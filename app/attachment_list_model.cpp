#include "attachment_list_model.h"

#include "media/audio.h"
#include "media/image.h"
#include "media/image_preprocess.h"
#include "media/pdf_document.h"
#include "media/video.h"

#include <QBuffer>
#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QLocale>
#include <QMetaObject>
#include <QMimeDatabase>
#include <QSaveFile>
#include <QStandardPaths>
#include <QThreadPool>
#include <QtEndian>

#include <algorithm>
#include <cmath>

namespace {

constexpr int kThumbnailHeight = 96;
constexpr int kFrameThumbnailHeight = 72;
constexpr int kMaxVideoFrames = 64;
constexpr int kMaxPdfThumbnails = 24; // pages beyond these are sent but not pictured
// Markers and the blank lines the chat format puts around media (see chat_format.cpp).
constexpr int kImageOverhead = 4;      // "\n\n" <|image> ... <image|> "\n\n"
constexpr int kVideoFrameOverhead = 6; // "mm:ss " <|image> ... <image|>
constexpr int kAudioOverhead = 2;      // <|audio> ... <audio|>

// The worker owns its own copy of the pool; this keeps one decode at a time so a big video does
// not starve the engine thread on small machines.
QThreadPool& inspectionPool() {
    static QThreadPool* pool = [] {
        auto* p = new QThreadPool;
        p->setMaxThreadCount(1);
        return p;
    }();
    return *pool;
}

QImage toQImage(const ocelle::media::RgbImage& image) {
    QImage wrapped(image.rgb.data(), image.width, image.height, image.width * 3, QImage::Format_RGB888);
    return wrapped.copy(); // own the pixels: the RgbImage goes away
}

QString saveThumbnail(const QImage& image, int height, const QString& folder, const QString& name) {
    const QImage small =
        image.height() > height ? image.scaledToHeight(height, Qt::SmoothTransformation) : image;
    const QString path = QDir(folder).filePath(name + QStringLiteral(".png"));
    if (!small.save(path, "PNG")) return {};
    return QUrl::fromLocalFile(path).toString();
}

AttachmentListModel::Kind kindOfFile(const QString& path, bool* known) {
    return AttachmentListModel::kindOfMime(QMimeDatabase().mimeTypeForFile(path).name(), known);
}

// Saves bytes under their content hash so the same paste twice is one file (without a store).
QString storeBytes(const QByteArray& bytes, const QString& extension) {
    const QString folder = AttachmentListModel::attachmentFolder();
    const QString hash =
        QString::fromLatin1(QCryptographicHash::hash(bytes, QCryptographicHash::Sha256).toHex());
    const QString path = QDir(folder).filePath(hash + QLatin1Char('.') + extension);
    if (QFileInfo::exists(path)) return path;
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size() || !file.commit()) return {};
    return path;
}

// 16-bit PCM WAV, 16 kHz mono: what FFmpeg reads back without any conversion loss that matters.
QByteArray wavBytes(const std::vector<float>& samples) {
    const quint32 dataBytes = quint32(samples.size() * 2);
    QByteArray out;
    out.reserve(int(44 + dataBytes));
    auto u32 = [&out](quint32 v) {
        char b[4];
        qToLittleEndian(v, b);
        out.append(b, 4);
    };
    auto u16 = [&out](quint16 v) {
        char b[2];
        qToLittleEndian(v, b);
        out.append(b, 2);
    };
    out.append("RIFF");
    u32(36 + dataBytes);
    out.append("WAVEfmt ");
    u32(16);                                  // fmt chunk size
    u16(1);                                   // PCM
    u16(1);                                   // mono
    u32(ocelle::media::kAudioSampleRate);     // sample rate
    u32(ocelle::media::kAudioSampleRate * 2); // bytes per second
    u16(2);                                   // block align
    u16(16);                                  // bits per sample
    out.append("data");
    u32(dataBytes);
    for (float s : samples) {
        const auto v = qint16(std::lround(std::clamp(s, -1.0f, 1.0f) * 32767.0f));
        char b[2];
        qToLittleEndian(v, b);
        out.append(b, 2);
    }
    return out;
}

// A page `height` pixels high at its own aspect ratio.
QImage renderPdfThumbnail(const ocelle::media::PdfDocument& document, int page, int height) {
    const double aspect = document.pageWidthPoints(page) / document.pageHeightPoints(page);
    const int width = std::max(1, int(std::lround(height * aspect)));
    return toQImage(document.renderPage(page, ocelle::media::ImageSize{width, height}));
}

} // namespace

QByteArray AttachmentListModel::wavFileBytes(const std::vector<float>& samples16k) {
    return wavBytes(samples16k);
}

AttachmentListModel::Kind AttachmentListModel::kindOfMime(const QString& name, bool* known) {
    bool dummy = false;
    bool& isKnown = known ? *known : dummy;
    isKnown = true;
    if (name == QLatin1String("application/pdf")) return Kind::Pdf;
    if (name.startsWith(QLatin1String("image/")) && name != QLatin1String("image/svg+xml"))
        return Kind::Image;
    if (name.startsWith(QLatin1String("video/"))) return Kind::Video;
    if (name.startsWith(QLatin1String("audio/")) || name == QLatin1String("application/ogg"))
        return Kind::Audio;
    isKnown = false;
    return Kind::Image;
}

QString AttachmentListModel::kindName(Kind kind) {
    switch (kind) {
    case Kind::Image:
        return QStringLiteral("image");
    case Kind::Video:
        return QStringLiteral("video");
    case Kind::Audio:
        return QStringLiteral("audio");
    case Kind::Pdf:
        return QStringLiteral("pdf");
    }
    return {};
}

struct AttachmentListModel::Inspection {
    QString error;
    std::vector<int> pdfPages;
    int pageCount = 0;
    int pdfTokens = 0;
    QString note;
    AttachmentRef stored;
    QString thumbnail;
    int width = 0;
    int height = 0;
    double seconds = 0;
    qint64 samples = 0;
    std::vector<Frame> frames;
};

bool AttachmentListModel::isAttachableFile(const QString& path) {
    bool known = false;
    kindOfFile(path, &known);
    return known;
}

int AttachmentListModel::imageTokenEstimate(int width, int height, int budget) {
    return ocelle::media::softTokenCount(width, height, budget) + kImageOverhead;
}

int AttachmentListModel::videoTokenEstimate(int width, int height, int frames) {
    const int perFrame = ocelle::media::softTokenCount(width, height, ocelle::media::kVideoFrameBudget);
    return frames * (perFrame + kVideoFrameOverhead) + 2;
}

int AttachmentListModel::audioTokenEstimate(qint64 samples16k) {
    return ocelle::media::audioTokenCountSplit(samples16k) + kAudioOverhead;
}

AttachmentListModel::AttachmentListModel(QObject* parent)
    : QAbstractListModel(parent), imageBudget_(ocelle::media::kDefaultImageBudget),
      documentBudget_(ocelle::media::kDocumentImageBudget) {}

void AttachmentListModel::setBudgets(int imageBudget, int documentBudget) {
    imageBudget_ = imageBudget;
    documentBudget_ = documentBudget;
}

AttachmentListModel::~AttachmentListModel() {
    *alive_ = false;
    // A worker still inspecting posts its result to this object: wait for it to finish.
    inspectionPool().waitForDone();
}

QString AttachmentListModel::attachmentFolder() {
    const QString folder = QDir(QStandardPaths::writableLocation(QStandardPaths::AppDataLocation))
                               .filePath(QStringLiteral("attachments"));
    QDir().mkpath(folder);
    return folder;
}

int AttachmentListModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : count();
}

QHash<int, QByteArray> AttachmentListModel::roleNames() const {
    return {{KindRole, "kind"},
            {KindNameRole, "kindName"},
            {NameRole, "name"},
            {PathRole, "path"},
            {ThumbnailRole, "thumbnail"},
            {TokensRole, "tokens"},
            {DetailRole, "detail"},
            {FramesRole, "frames"},
            {FrameCountRole, "frameCount"},
            {PreparingRole, "preparing"},
            {NoteRole, "note"}};
}

QVariant AttachmentListModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
    const Item& item = items_[static_cast<size_t>(index.row())];
    switch (role) {
    case Qt::DisplayRole:
    case NameRole:
        return item.name;
    case KindRole:
        return QVariant::fromValue(item.kind);
    case KindNameRole:
        return kindName(item.kind);
    case PathRole:
        return item.path;
    case ThumbnailRole:
        return item.thumbnail;
    case TokensRole:
        return item.tokens;
    case DetailRole:
        return detailOf(item);
    case FramesRole: {
        QVariantList frames;
        for (const Frame& f : item.frames)
            frames.append(QVariantMap{{QStringLiteral("thumbnail"), f.thumbnail},
                                      {QStringLiteral("timestamp"), f.timestamp}});
        return frames;
    }
    case FrameCountRole:
        return item.frameCount;
    case PreparingRole:
        return item.preparing;
    case NoteRole:
        return item.note;
    default:
        return {};
    }
}

QString AttachmentListModel::detailOf(const Item& item) const {
    if (item.preparing) return tr("Preparing\u2026");
    const QLocale locale;
    const QString tokens = tr("about %1 tokens").arg(locale.toString(item.tokens));
    switch (item.kind) {
    case Kind::Image:
        return tr("%1 \u00d7 %2 \u00b7 %3").arg(item.width).arg(item.height).arg(tokens);
    case Kind::Video:
        return tr("%1 frames of %2 s \u00b7 %3")
            .arg(item.frameCount)
            .arg(locale.toString(item.seconds, 'f', 1), tokens);
    case Kind::Audio:
        return tr("%1 s \u00b7 %2").arg(locale.toString(item.seconds, 'f', 1), tokens);
    case Kind::Pdf:
        if (item.pdfPages.size() < size_t(item.pageCount))
            return tr("%1 of %2 pages \u00b7 %3").arg(item.pdfPages.size()).arg(item.pageCount).arg(tokens);
        return (item.pageCount == 1 ? tr("1 page \u00b7 %1") : tr("%1 pages \u00b7 %2").arg(item.pageCount))
            .arg(tokens);
    }
    return tokens;
}

int AttachmentListModel::totalTokens() const {
    int total = 0;
    for (const Item& item : items_) total += item.tokens;
    return total;
}

bool AttachmentListModel::preparing() const {
    return std::any_of(items_.begin(), items_.end(), [](const Item& i) { return i.preparing; });
}

int AttachmentListModel::rowOf(quint64 id) const {
    for (size_t i = 0; i < items_.size(); ++i)
        if (items_[i].id == id) return static_cast<int>(i);
    return -1;
}

void AttachmentListModel::setRefusalReasons(const QString& imageReason, const QString& audioReason) {
    imageRefusal_ = imageReason;
    audioRefusal_ = audioReason;
}

int AttachmentListModel::addUrls(const QList<QUrl>& urls) {
    int taken = 0;
    for (const QUrl& url : urls) {
        if (url.isLocalFile()) {
            taken += addPath(url.toLocalFile()) ? 1 : 0;
        } else if (url.scheme().isEmpty()) {
            taken += addPath(url.toString()) ? 1 : 0;
        } else {
            emit refused(
                tr("Only files on this computer can be attached (got a %1: address).").arg(url.scheme()));
        }
    }
    return taken;
}

bool AttachmentListModel::addPath(const QString& path) {
    const QFileInfo info(path);
    if (!info.isFile() || !info.isReadable()) {
        emit refused(tr("%1 cannot be attached: it is not a readable file.").arg(info.fileName()));
        return false;
    }
    bool known = false;
    const Kind kind = kindOfFile(info.absoluteFilePath(), &known);
    if (!known) {
        emit refused(
            tr("%1 cannot be attached: only images, PDFs, videos and audio files can.").arg(info.fileName()));
        return false;
    }
    return insertFile(info.absoluteFilePath(), kind);
}

bool AttachmentListModel::insertFile(const QString& path, Kind kind, const QString& shownName) {
    const QString name = shownName.isEmpty() ? QFileInfo(path).fileName() : shownName;
    const QString& reason = kind == Kind::Audio ? audioRefusal_ : imageRefusal_;
    if (!reason.isEmpty()) {
        emit refused(tr("%1 was not attached. %2").arg(name, reason));
        return false;
    }
    Item item;
    item.id = nextId_++;
    item.kind = kind;
    item.path = path;
    item.name = name;
    item.frameCount = kind == Kind::Video ? ocelle::media::kDefaultVideoFrames : 0;
    item.budget = kind == Kind::Pdf ? documentBudget_ : imageBudget_;
    item.mimeType = QMimeDatabase().mimeTypeForFile(path).name();
    const bool wasPreparing = preparing();
    beginInsertRows({}, count(), count());
    items_.push_back(item);
    endInsertRows();
    emit countChanged();
    if (!wasPreparing) emit preparingChanged();
    inspect(item);
    return true;
}

void AttachmentListModel::inspect(const Item& item) {
    const QString folder = thumbnails_.path();
    const quint64 id = item.id;
    const Kind kind = item.kind;
    const QString path = item.path;
    const QString mimeType = item.mimeType;
    const QString name = item.name;
    const int frames = item.frameCount;
    const int budget = item.budget;
    const int room = tokenRoom_ > 0 ? tokenRoom_ : std::numeric_limits<int>::max() / 2;
    ConversationStore* store = store_;
    const std::weak_ptr<bool> alive = alive_;
    inspectionPool().start([this, alive, folder, id, kind, path, mimeType, name, frames, budget, room,
                            store] {
        auto result = std::make_shared<Inspection>();
        const std::string file = path.toStdString();
        const QString stem = QStringLiteral("%1-%2").arg(id).arg(frames);
        try {
            if (kind == Kind::Image) {
                const ocelle::media::RgbImage image = ocelle::media::loadImage(file);
                result->width = image.width;
                result->height = image.height;
                result->thumbnail = saveThumbnail(toQImage(image), kThumbnailHeight, folder, stem);
            } else if (kind == Kind::Audio) {
                const ocelle::media::DecodedAudio audio = ocelle::media::decodeAudioFile(file);
                result->samples = static_cast<qint64>(audio.samples.size());
                result->seconds = audio.seconds();
            } else if (kind == Kind::Video) {
                const ocelle::media::VideoReader reader(file);
                result->width = reader.info().width;
                result->height = reader.info().height;
                result->seconds = reader.info().durationSeconds;
                ocelle::media::FrameSampling sampling;
                sampling.frames = frames;
                int n = 0;
                reader.sampleFrames(sampling, [&](ocelle::media::VideoFrame&& frame) {
                    const QString thumb = saveThumbnail(toQImage(frame.image), kFrameThumbnailHeight, folder,
                                                        stem + QStringLiteral("-f%1").arg(n++));
                    result->frames.push_back({thumb, QString::fromStdString(frame.timestamp)});
                });
                if (!result->frames.empty()) result->thumbnail = result->frames.front().thumbnail;
            } else if (kind == Kind::Pdf) {
                // Damaged and password-protected files throw here with a message that says so.
                const ocelle::media::PdfDocument document(file);
                const ocelle::media::PdfPageSelection pick =
                    ocelle::media::selectPdfPages(document, budget, room);
                result->pdfPages = pick.pages;
                result->pageCount = pick.pageCount;
                result->pdfTokens = pick.promptTokens;
                result->note = QString::fromStdString(pick.message);
                for (size_t i = 0; i < pick.pages.size() && i < size_t(kMaxPdfThumbnails); ++i) {
                    const int page = pick.pages[i];
                    const QString thumb =
                        saveThumbnail(renderPdfThumbnail(document, page, kFrameThumbnailHeight),
                                      kFrameThumbnailHeight, folder, stem + QStringLiteral("-p%1").arg(page));
                    result->frames.push_back({thumb, tr("p. %1").arg(page + 1)});
                }
                if (!result->frames.empty()) result->thumbnail = result->frames.front().thumbnail;
            }
            if (store) {
                QString why;
                const auto stored = store->storeAttachment(path, mimeType, &why);
                if (!stored) throw std::runtime_error(why.toStdString());
                result->stored = *stored;
                result->stored.fileName = name;
            }
        } catch (const std::exception& e) {
            result->error = QString::fromUtf8(e.what());
        }
        if (alive.expired() || !*alive.lock()) return;
        QMetaObject::invokeMethod(
            this, [this, id, result] { onInspected(id, result); }, Qt::QueuedConnection);
    });
}

void AttachmentListModel::onInspected(quint64 id, const std::shared_ptr<Inspection>& result) {
    const int row = rowOf(id);
    if (row < 0) return; // removed meanwhile
    Item& item = items_[static_cast<size_t>(row)];
    if (!result->error.isEmpty()) {
        const QString name = item.name;
        beginRemoveRows({}, row, row);
        items_.erase(items_.begin() + row);
        endRemoveRows();
        emit countChanged();
        emit refused(tr("%1 was not attached: %2").arg(name, result->error));
    } else {
        item.preparing = false;
        item.width = result->width;
        item.height = result->height;
        item.seconds = result->seconds;
        item.samples = result->samples;
        item.thumbnail = result->thumbnail;
        item.frames = result->frames;
        item.pdfPages = result->pdfPages;
        item.pageCount = result->pageCount;
        item.note = result->note;
        if (!result->stored.hash.isEmpty()) {
            item.stored = result->stored;
            item.path = store_->attachmentPath(item.stored.hash); // what is sent is what is kept
        }
        switch (item.kind) {
        case Kind::Image:
            item.tokens = imageTokenEstimate(item.width, item.height, item.budget);
            break;
        case Kind::Video:
            item.frameCount = static_cast<int>(item.frames.size());
            item.tokens = videoTokenEstimate(item.width, item.height, item.frameCount);
            break;
        case Kind::Audio:
            item.tokens = audioTokenEstimate(item.samples);
            break;
        case Kind::Pdf:
            item.tokens = result->pdfTokens;
            break;
        }
        const QModelIndex at = index(row);
        emit dataChanged(at, at);
    }
    emit tokensChanged();
    if (!preparing()) {
        emit preparingChanged();
        emit prepared();
    }
}

QString AttachmentListModel::keepBytes(const QByteArray& bytes, const QString& fileName,
                                       const QString& mimeType) const {
    if (!store_) return storeBytes(bytes, QFileInfo(fileName).suffix());
    const auto stored = store_->storeAttachmentData(bytes, fileName, mimeType);
    return stored ? store_->attachmentPath(stored->hash) : QString();
}

bool AttachmentListModel::addImage(const QImage& image, const QString& name) {
    if (!imageRefusal_.isEmpty()) {
        emit refused(tr("The image was not attached. %1").arg(imageRefusal_));
        return false;
    }
    if (image.isNull()) {
        emit refused(tr("The clipboard image is empty."));
        return false;
    }
    QByteArray png;
    {
        QBuffer buffer(&png);
        buffer.open(QIODevice::WriteOnly);
        image.convertToFormat(QImage::Format_RGB888).save(&buffer, "PNG");
    }
    const QString path = keepBytes(png, name + QStringLiteral(".png"), QStringLiteral("image/png"));
    if (path.isEmpty()) {
        emit refused(tr("The image could not be saved in %1.")
                         .arg(store_ ? store_->attachmentsDirectory() : attachmentFolder()));
        return false;
    }
    return insertFile(path, Kind::Image, name);
}

bool AttachmentListModel::addRecording(const std::vector<float>& samples) {
    if (!audioRefusal_.isEmpty()) {
        emit refused(tr("The recording was not attached. %1").arg(audioRefusal_));
        return false;
    }
    const QString name =
        tr("Recording (%1 s)")
            .arg(QLocale().toString(double(samples.size()) / ocelle::media::kAudioSampleRate, 'f', 1));
    const QString path =
        keepBytes(wavBytes(samples), name + QStringLiteral(".wav"), QStringLiteral("audio/wav"));
    if (path.isEmpty()) {
        emit refused(tr("The recording could not be saved in %1.").arg(attachmentFolder()));
        return false;
    }
    return insertFile(path, Kind::Audio, name);
}

void AttachmentListModel::remove(int row) {
    if (row < 0 || row >= count()) return;
    const bool wasPreparing = preparing();
    beginRemoveRows({}, row, row);
    items_.erase(items_.begin() + row);
    endRemoveRows();
    emit countChanged();
    emit tokensChanged();
    if (wasPreparing && !preparing()) {
        emit preparingChanged();
        emit prepared();
    }
}

void AttachmentListModel::clear() {
    if (items_.empty()) return;
    const bool wasPreparing = preparing();
    beginResetModel();
    items_.clear();
    endResetModel();
    emit countChanged();
    emit tokensChanged();
    if (wasPreparing) emit preparingChanged();
}

bool AttachmentListModel::setVideoFrames(int row, int frames) {
    if (row < 0 || row >= count()) return false;
    Item& item = items_[static_cast<size_t>(row)];
    if (item.kind != Kind::Video || frames < 1 || frames > kMaxVideoFrames) return false;
    if (frames == item.frameCount && !item.preparing) return true;
    const bool wasPreparing = preparing();
    item.frameCount = frames;
    item.preparing = true;
    item.tokens = 0;
    item.id = nextId_++; // results of an earlier sampling no longer match
    const QModelIndex at = index(row);
    emit dataChanged(at, at);
    emit tokensChanged();
    if (!wasPreparing) emit preparingChanged();
    inspect(item);
    return true;
}

QJsonObject AttachmentListModel::optionsOf(const Item& item) const {
    switch (item.kind) {
    case Kind::Image:
        return {{QStringLiteral("budget"), item.budget}};
    case Kind::Video:
        return {{QStringLiteral("frames"), item.frameCount}};
    case Kind::Pdf: {
        QJsonArray pages;
        for (int page : item.pdfPages) pages.append(page);
        return {{QStringLiteral("budget"), item.budget}, {QStringLiteral("pages"), pages}};
    }
    case Kind::Audio:
        break;
    }
    return {};
}

std::vector<ocelle::app::TurnMedia> AttachmentListModel::mediaFor(Kind kind, const QString& path,
                                                                  const QJsonObject& options) {
    using ocelle::app::TurnMedia;
    TurnMedia m;
    m.path = path.toStdString();
    switch (kind) {
    case Kind::Image:
        m.kind = TurnMedia::Kind::Image;
        m.imageBudget = options.value(QStringLiteral("budget")).toInt(ocelle::media::kDefaultImageBudget);
        return {m};
    case Kind::Video:
        m.kind = TurnMedia::Kind::Video;
        m.imageBudget = ocelle::media::kVideoFrameBudget;
        m.videoFrames = options.value(QStringLiteral("frames")).toInt(ocelle::media::kDefaultVideoFrames);
        return {m};
    case Kind::Audio:
        m.kind = TurnMedia::Kind::Audio;
        return {m};
    case Kind::Pdf: {
        m.kind = TurnMedia::Kind::PdfPage;
        m.imageBudget = options.value(QStringLiteral("budget")).toInt(ocelle::media::kDocumentImageBudget);
        std::vector<TurnMedia> pages;
        for (const QJsonValue& page : options.value(QStringLiteral("pages")).toArray()) {
            m.pdfPage = page.toInt();
            pages.push_back(m);
        }
        return pages;
    }
    }
    return {};
}

QString AttachmentListModel::makeThumbnail(Kind kind, const QString& path, const QString& folder,
                                           const QString& stem) {
    const std::string file = path.toStdString();
    switch (kind) {
    case Kind::Image:
        return saveThumbnail(toQImage(ocelle::media::loadImage(file)), kThumbnailHeight, folder, stem);
    case Kind::Video: {
        ocelle::media::FrameSampling first;
        first.frames = 1;
        QString thumbnail;
        ocelle::media::VideoReader(file).sampleFrames(first, [&](ocelle::media::VideoFrame&& frame) {
            thumbnail = saveThumbnail(toQImage(frame.image), kThumbnailHeight, folder, stem);
        });
        return thumbnail;
    }
    case Kind::Pdf: {
        const ocelle::media::PdfDocument document(file);
        return saveThumbnail(renderPdfThumbnail(document, 0, kThumbnailHeight), kThumbnailHeight, folder,
                             stem);
    }
    case Kind::Audio:
        break;
    }
    return {};
}

std::vector<ocelle::app::TurnMedia> AttachmentListModel::media() const {
    std::vector<ocelle::app::TurnMedia> out;
    for (const Item& item : items_) {
        const auto entries = mediaFor(item.kind, item.path, optionsOf(item));
        out.insert(out.end(), entries.begin(), entries.end());
    }
    return out;
}

QList<AttachmentRef> AttachmentListModel::storedFiles() const {
    QList<AttachmentRef> files;
    for (const Item& item : items_) {
        AttachmentRef ref = item.stored;
        ref.options = optionsOf(item);
        files.append(ref);
    }
    return files;
}

QVariantList AttachmentListModel::summary() const {
    QVariantList out;
    for (const Item& item : items_)
        out.append(QVariantMap{{QStringLiteral("kind"), kindName(item.kind)},
                               {QStringLiteral("name"), item.name},
                               {QStringLiteral("thumbnail"), item.thumbnail},
                               {QStringLiteral("detail"), detailOf(item)}});
    return out;
}
