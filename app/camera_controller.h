// The composer's camera: a live preview (a QML VideoOutput handed to setPreview) and a snapshot
// that becomes an image attachment. Without a camera, `available` is false and `unavailableReason`
// says so (the button is hidden, its place keeps a tooltip).
#pragma once

#include <QImage>
#include <QMediaDevices>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QtQml/qqmlregistration.h>
#include <memory>

class QCamera;
class QImageCapture;
class QMediaCaptureSession;

class CameraController : public QObject {
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("The camera belongs to ChatController.camera")
    Q_PROPERTY(bool available READ available NOTIFY availableChanged)
    Q_PROPERTY(QString unavailableReason READ unavailableReason NOTIFY availableChanged)
    Q_PROPERTY(bool active READ active NOTIFY activeChanged)
    Q_PROPERTY(QString message READ message NOTIFY messageChanged)

public:
    explicit CameraController(QObject* parent = nullptr);
    ~CameraController() override;

    bool available() const;
    QString unavailableReason() const;
    bool active() const { return camera_ != nullptr; }
    QString message() const { return message_; }

    // Starts the default camera, showing its picture in `videoOutput` (a QML VideoOutput).
    Q_INVOKABLE bool start(QObject* videoOutput);
    // Takes a picture; snapshotTaken follows.
    Q_INVOKABLE bool snap();
    Q_INVOKABLE void stop();

signals:
    void availableChanged();
    void activeChanged();
    void messageChanged();
    void snapshotTaken(const QImage& image);

private:
    void setMessage(const QString& message);

    QMediaDevices devices_;
    std::unique_ptr<QMediaCaptureSession> session_;
    QCamera* camera_ = nullptr; // owned by session_'s lifetime below
    QImageCapture* imageCapture_ = nullptr;
    QString message_;
};
