#include "remote_media.h"

#include "attachment_list_model.h"
#include "media/audio.h"
#include "media/image.h"
#include "media/pdf_document.h"
#include "media/video.h"

#include <QBuffer>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QJsonObject>
#include <span>

namespace ocelle::app {

namespace {
// Frames larger than this (longer side, pixels) are scaled down: a video's 32 frames at full size
// would make a request of tens of megabytes, and the server scales them down anyway.
constexpr int kMaxFrameSide = 768;

QJsonObject textPart(const QString& text) {
    return {{QStringLiteral("type"), QStringLiteral("text")}, {QStringLiteral("text"), text}};
}

QJsonObject imagePart(const QByteArray& bytes, const QString& mimeType) {
    const QString url =
        QStringLiteral("data:%1;base64,%2").arg(mimeType, QString::fromLatin1(bytes.toBase64()));
    return {{QStringLiteral("type"), QStringLiteral("image_url")},
            {QStringLiteral("image_url"), QJsonObject{{QStringLiteral("url"), url}}}};
}

QByteArray encodeImage(const media::RgbImage& image, const char* format, int maxSide) {
    QImage picture(image.rgb.data(), image.width, image.height, image.width * 3, QImage::Format_RGB888);
    if (maxSide > 0 && std::max(image.width, image.height) > maxSide)
        picture = picture.scaled(maxSide, maxSide, Qt::KeepAspectRatio, Qt::SmoothTransformation);
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    picture.save(&buffer, format, format == QByteArrayLiteral("JPEG") ? 90 : -1);
    return bytes;
}

QByteArray readFile(const std::string& path) {
    QFile file(QString::fromStdString(path));
    if (!file.open(QIODevice::ReadOnly))
        throw EngineError(path + ": cannot be read: " + file.errorString().toStdString());
    return file.readAll();
}

QJsonObject imageFilePart(const std::string& path) {
    const QByteArray bytes = readFile(path);
    const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.constData());
    const media::ImageHeader header = media::readImageHeader(std::span(data, size_t(bytes.size())), path);
    switch (header.format) {
    case media::ImageFormat::Png:
        return imagePart(bytes, QStringLiteral("image/png"));
    case media::ImageFormat::Jpeg:
        return imagePart(bytes, QStringLiteral("image/jpeg"));
    case media::ImageFormat::WebP:
        return imagePart(bytes, QStringLiteral("image/webp"));
    case media::ImageFormat::Gif:
        return imagePart(bytes, QStringLiteral("image/gif"));
    default: // servers take the web's formats; BMP and TIFF go as PNG
        return imagePart(encodeImage(media::loadImage(path), "PNG", 0), QStringLiteral("image/png"));
    }
}

QJsonObject audioFilePart(const std::string& path) {
    const QString suffix = QFileInfo(QString::fromStdString(path)).suffix().toLower();
    QByteArray bytes;
    QString format;
    if (suffix == QLatin1String("wav") || suffix == QLatin1String("mp3")) {
        bytes = readFile(path);
        format = suffix;
    } else { // the two formats OpenAI's input_audio names
        bytes = AttachmentListModel::wavFileBytes(media::decodeAudioFile(path).samples);
        format = QStringLiteral("wav");
    }
    return {{QStringLiteral("type"), QStringLiteral("input_audio")},
            {QStringLiteral("input_audio"),
             QJsonObject{{QStringLiteral("data"), QString::fromLatin1(bytes.toBase64())},
                         {QStringLiteral("format"), format}}}};
}
} // namespace

QJsonArray remoteContentParts(const TurnMedia& item) {
    QJsonArray parts;
    try {
        switch (item.kind) {
        case TurnMedia::Kind::Image:
            parts.append(imageFilePart(item.path));
            break;
        case TurnMedia::Kind::Audio:
            parts.append(audioFilePart(item.path));
            break;
        case TurnMedia::Kind::Video: {
            media::FrameSampling sampling;
            sampling.frames = item.videoFrames;
            media::VideoReader(item.path).sampleFrames(sampling, [&](media::VideoFrame&& frame) {
                parts.append(textPart(QString::fromStdString(frame.timestamp)));
                parts.append(
                    imagePart(encodeImage(frame.image, "JPEG", kMaxFrameSide), QStringLiteral("image/jpeg")));
            });
            break;
        }
        case TurnMedia::Kind::PdfPage: {
            const media::PdfDocument document(item.path);
            parts.append(
                textPart(QString::fromStdString(media::pdfPageLabel(item.pdfPage, document.pageCount()))));
            parts.append(imagePart(encodeImage(document.renderPage(item.pdfPage, item.imageBudget), "PNG", 0),
                                   QStringLiteral("image/png")));
            break;
        }
        }
    } catch (const EngineError&) {
        throw;
    } catch (const std::exception& e) {
        throw EngineError(e.what()); // media errors name the file and the problem
    }
    return parts;
}

} // namespace ocelle::app
