#include "camera_controller.h"

#include <QCamera>
#include <QImageCapture>
#include <QMediaCaptureSession>

CameraController::CameraController(QObject* parent) : QObject(parent) {
    connect(&devices_, &QMediaDevices::videoInputsChanged, this, [this] {
        if (!available() && active()) {
            stop();
            setMessage(tr("The camera was disconnected."));
        }
        emit availableChanged();
    });
}

CameraController::~CameraController() {
    stop();
}

bool CameraController::available() const {
    return !QMediaDevices::videoInputs().isEmpty();
}

QString CameraController::unavailableReason() const {
    return available() ? QString() : tr("No camera was found on this computer.");
}

bool CameraController::start(QObject* videoOutput) {
    if (active()) return true;
    if (!available()) {
        setMessage(unavailableReason());
        return false;
    }
    setMessage({});
    session_ = std::make_unique<QMediaCaptureSession>();
    camera_ = new QCamera(QMediaDevices::defaultVideoInput(), session_.get());
    imageCapture_ = new QImageCapture(session_.get());
    session_->setCamera(camera_);
    session_->setImageCapture(imageCapture_);
    if (videoOutput) session_->setVideoOutput(videoOutput);
    connect(camera_, &QCamera::errorOccurred, this, [this](QCamera::Error, const QString& text) {
        setMessage(tr("The camera failed: %1").arg(text));
        // Not from inside the camera's own signal: stop() deletes it.
        QMetaObject::invokeMethod(this, &CameraController::stop, Qt::QueuedConnection);
    });
    connect(imageCapture_, &QImageCapture::imageCaptured, this,
            [this](int, const QImage& image) { emit snapshotTaken(image); });
    connect(imageCapture_, &QImageCapture::errorOccurred, this,
            [this](int, QImageCapture::Error, const QString& text) {
                setMessage(tr("The snapshot failed: %1").arg(text));
            });
    camera_->start();
    emit activeChanged();
    return true;
}

bool CameraController::snap() {
    if (!imageCapture_ || !imageCapture_->isReadyForCapture()) {
        setMessage(tr("The camera is not ready yet."));
        return false;
    }
    return imageCapture_->capture() >= 0;
}

void CameraController::stop() {
    if (!session_) return;
    if (camera_) camera_->stop();
    camera_ = nullptr;
    imageCapture_ = nullptr;
    session_.reset(); // deletes the camera and the image capture (its children)
    emit activeChanged();
}

void CameraController::setMessage(const QString& message) {
    if (message == message_) return;
    message_ = message;
    emit messageChanged();
}
