// Which model file the user chose and what Ocelle could tell about it. Until the engine exists,
// "opening" a model means reading and validating its GGUF header: the architecture, the tensor
// directory and the file type are checked and shown, and no model is ever reported as loaded.
#pragma once

#include <QObject>
#include <QString>
#include <QUrl>
#include <QtQml/qqmlregistration.h>

class QQmlEngine;

class ModelController : public QObject {
    Q_OBJECT
    QML_ELEMENT
    QML_SINGLETON

    Q_PROPERTY(State state READ state NOTIFY changed)
    Q_PROPERTY(QString modelPath READ modelPath NOTIFY changed)
    Q_PROPERTY(QString fileName READ fileName NOTIFY changed)
    Q_PROPERTY(QString architecture READ architecture NOTIFY changed)
    Q_PROPERTY(QString modelName READ modelName NOTIFY changed)
    Q_PROPERTY(int tensorCount READ tensorCount NOTIFY changed)
    Q_PROPERTY(qint64 fileSize READ fileSize NOTIFY changed)
    Q_PROPERTY(QString statusText READ statusText NOTIFY changed)
    Q_PROPERTY(bool modelLoaded READ modelLoaded NOTIFY changed)

public:
    enum class State {
        NoModel,   // nothing chosen yet
        Inspected, // a Gemma 4 text model whose header was read and validated
        Failed     // the chosen file cannot be used; statusText says why
    };
    Q_ENUM(State)

    explicit ModelController(QObject* parent = nullptr);

    static ModelController* instance(QQmlEngine* engine);

    // Chooses a model file (a file: URL from the file dialog, or a plain local path).
    // Returns true when the file is a usable Gemma 4 text model.
    Q_INVOKABLE bool openModelFile(const QUrl& file);
    bool openModelPath(const QString& path);

    State state() const { return state_; }
    QString modelPath() const { return modelPath_; }
    QString fileName() const;
    QString architecture() const { return architecture_; }
    QString modelName() const { return modelName_; }
    int tensorCount() const { return tensorCount_; }
    qint64 fileSize() const { return fileSize_; }
    QString statusText() const { return statusText_; }
    // Whether a model is ready to answer. Always false until the engine can run one.
    bool modelLoaded() const { return false; }

signals:
    void changed();

private:
    void fail(const QString& path, const QString& message);

    State state_ = State::NoModel;
    QString modelPath_;
    QString architecture_;
    QString modelName_;
    int tensorCount_ = 0;
    qint64 fileSize_ = 0;
    QString statusText_;
};
