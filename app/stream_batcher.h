// Merges streamed text into frame-rate updates. The first piece after start() goes out at once
// (the user sees the answer begin without delay); later pieces are collected and go out together
// at most once per interval (16 ms, one frame at 60 Hz), so a fast model causes a few model
// updates per frame instead of one per token. GUI thread only.
#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QString>
#include <QTimer>

class StreamBatcher : public QObject {
    Q_OBJECT
public:
    explicit StreamBatcher(int intervalMs = 16, QObject* parent = nullptr);

    // Begins a new stream: the next push() is delivered immediately.
    void start();
    void push(const QString& reasoning, const QString& answer);
    // Delivers whatever is pending now (end of the stream).
    void flush();
    int intervalMs() const { return intervalMs_; }
    bool pending() const { return !reasoning_.isEmpty() || !answer_.isEmpty(); }

signals:
    void batch(const QString& reasoning, const QString& answer);

private:
    int intervalMs_;
    QTimer timer_;
    QString reasoning_;
    QString answer_;
    bool firstDelivered_ = false;
};
