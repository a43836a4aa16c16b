// StreamBatcher: the first piece is delivered at once, later ones merged into frame-rate batches,
// and nothing is lost or reordered.
#include "stream_batcher.h"

#include <QElapsedTimer>
#include <QSignalSpy>
#include <QtTest>

class TestStreamBatcher : public QObject {
    Q_OBJECT

private slots:
    void firstPieceIsDeliveredImmediately() {
        StreamBatcher batcher(16);
        QSignalSpy spy(&batcher, &StreamBatcher::batch);
        batcher.start();
        batcher.push({}, QStringLiteral("Hel"));
        QCOMPARE(spy.count(), 1); // synchronously, without waiting for the timer
        QCOMPARE(spy.at(0).at(1).toString(), QStringLiteral("Hel"));
        batcher.push({}, QStringLiteral("lo"));
        QCOMPARE(spy.count(), 1); // the second one waits for the frame
        QTRY_COMPARE(spy.count(), 2);
        QCOMPARE(spy.at(1).at(1).toString(), QStringLiteral("lo"));
    }

    void manyTinyTokensMakeFewUpdates() {
        StreamBatcher batcher(16);
        QString reasoning, answer;
        int batches = 0;
        connect(&batcher, &StreamBatcher::batch, this, [&](const QString& r, const QString& a) {
            reasoning += r;
            answer += a;
            ++batches;
        });
        batcher.start();
        QString expectedReasoning, expectedAnswer;
        QElapsedTimer clock;
        clock.start();
        // 2000 single-character tokens over about 100 ms, the events loop running in between as
        // it does while queued deltas arrive from the engine thread.
        for (int i = 0; i < 2000; ++i) {
            const QString piece(QChar(u'a' + i % 26));
            if (i < 500) {
                batcher.push(piece, {});
                expectedReasoning += piece;
            } else {
                batcher.push({}, piece);
                expectedAnswer += piece;
            }
            if (i % 20 == 0) QTest::qWait(1);
        }
        const qint64 elapsedMs = clock.elapsed();
        batcher.flush();
        QCOMPARE(reasoning, expectedReasoning);
        QCOMPARE(answer, expectedAnswer);
        QVERIFY(!batcher.pending());
        // At most one batch per 16 ms interval, plus the immediate first one and the final flush.
        const qint64 bound = elapsedMs / 16 + 3;
        QVERIFY2(batches <= bound,
                 qPrintable(QStringLiteral("%1 batches in %2 ms").arg(batches).arg(elapsedMs)));
        QVERIFY2(batches < 2000 / 10, qPrintable(QString::number(batches)));
    }

    void startMakesTheNextPieceImmediateAgain() {
        StreamBatcher batcher(1000);
        QSignalSpy spy(&batcher, &StreamBatcher::batch);
        batcher.start();
        batcher.push({}, QStringLiteral("a"));
        batcher.push({}, QStringLiteral("b")); // held for the (long) interval
        QCOMPARE(spy.count(), 1);
        batcher.start(); // a new stream: what was pending goes out first, then the new first piece
        QCOMPARE(spy.count(), 2);
        QCOMPARE(spy.at(1).at(1).toString(), QStringLiteral("b"));
        batcher.push({}, QStringLiteral("c"));
        QCOMPARE(spy.count(), 3);
        batcher.push({}, {}); // empty pieces are not updates
        batcher.flush();
        QCOMPARE(spy.count(), 3);
    }
};

QTEST_GUILESS_MAIN(TestStreamBatcher)
#include "test_stream_batcher.moc"
