// Facts about this build for the diagnostics line: version and the media backends compiled in.
#pragma once

#include <QObject>
#include <QString>
#include <QtQml/qqmlregistration.h>

class AppInfo : public QObject {
    Q_OBJECT
    QML_ELEMENT
    QML_SINGLETON
    Q_PROPERTY(QString version READ version CONSTANT)
    Q_PROPERTY(QString mediaBackends READ mediaBackends CONSTANT)
    Q_PROPERTY(QString diagnostics READ diagnostics CONSTANT)

public:
    explicit AppInfo(QObject* parent = nullptr);

    static QString version();
    QString mediaBackends() const { return mediaBackends_; }
    // "Ocelle 0.1.0 · OpenCV 4.6.0 (png, jpg, ...) · libavformat 59.27.100 (... demuxers)"
    QString diagnostics() const;

private:
    QString mediaBackends_;
};
