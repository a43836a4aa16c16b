#include "stream_batcher.h"

StreamBatcher::StreamBatcher(int intervalMs, QObject* parent) : QObject(parent), intervalMs_(intervalMs) {
    timer_.setSingleShot(true);
    timer_.setTimerType(Qt::PreciseTimer);
    connect(&timer_, &QTimer::timeout, this, &StreamBatcher::flush);
}

void StreamBatcher::start() {
    flush();
    firstDelivered_ = false;
}

void StreamBatcher::push(const QString& reasoning, const QString& answer) {
    if (reasoning.isEmpty() && answer.isEmpty()) return;
    reasoning_ += reasoning;
    answer_ += answer;
    if (!firstDelivered_) {
        firstDelivered_ = true;
        flush();
        return;
    }
    if (!timer_.isActive()) timer_.start(intervalMs_);
}

void StreamBatcher::flush() {
    timer_.stop();
    if (!pending()) return;
    const QString reasoning = std::exchange(reasoning_, {});
    const QString answer = std::exchange(answer_, {});
    emit batch(reasoning, answer);
}
