// Weight formats: our dequantizers against ggml's own output on the fixture models (bit for bit),
// our quantizers against the fixture blocks ggml-compatible tools wrote, error bounds, and the
// fp16/bf16 conversions against the compiler's IEEE conversions and exhaustive properties.
#include "gguf/dequant.h"
#include "gguf/gguf.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <set>

using namespace ocelle::gguf;

namespace {

uint32_t bitsOf(float f) {
    return std::bit_cast<uint32_t>(f);
}
float floatOf(uint32_t b) {
    return std::bit_cast<float>(b);
}

// The nearest bf16 by explicit comparison in double: an independent reference for floatToBf16.
uint16_t referenceBf16(float f) {
    const uint32_t x = bitsOf(f);
    const uint16_t down = static_cast<uint16_t>(x >> 16);
    if ((x & 0xffffu) == 0) return down;
    const uint16_t up = static_cast<uint16_t>(down + 1); // next bf16 away from zero (same sign)
    const double distDown = std::fabs(static_cast<double>(f) - bf16ToFloat(down));
    const double distUp = std::fabs(static_cast<double>(bf16ToFloat(up)) - static_cast<double>(f));
    if (distDown < distUp) return down;
    if (distUp < distDown) return up;
    return (down & 1) ? up : down;
}

std::vector<uint8_t> quantized(uint32_t type, const std::vector<float>& values) {
    const auto traits = typeTraits(type);
    std::vector<uint8_t> out(values.size() / traits->blockElements * traits->blockBytes);
    quantizeRow(type, values.data(), out.data(), static_cast<int64_t>(values.size()));
    return out;
}

std::vector<float> dequantized(uint32_t type, const std::vector<uint8_t>& bytes, size_t n) {
    std::vector<float> out(n);
    dequantizeRow(type, bytes.data(), out.data(), static_cast<int64_t>(n));
    return out;
}

} // namespace

class TestDequant : public QObject {
    Q_OBJECT
private slots:
    void matchesGgmlOnFixtureTensors_data();
    void matchesGgmlOnFixtureTensors();
    void requantizingFixtureBlocksReproducesThem();
    void fp16ToFloatMatchesCompiler();
    void floatToFp16MatchesCompiler();
    void fp16EdgeCases();
    void rowConversionsMatchScalarOnEveryValue();
    void bf16EdgeCases();
    void bf16RoundingMatchesReference();
    void quantizeRoundTripErrorBounds_data();
    void quantizeRoundTripErrorBounds();
    void q4_0UsesTheSignedMaximum();
    void q8_0RoundsHalfAwayFromZero();
    void refusesUnsupportedTypesAndPartialBlocks();
};

void TestDequant::matchesGgmlOnFixtureTensors_data() {
    QTest::addColumn<QString>("indexPath");
    QTest::addColumn<int>("entry");
    const QDir dir(OCELLE_FIXTURES_DIR "/models");
    const QStringList indexes = dir.entryList({"*.dequant.json"}, QDir::Files, QDir::Name);
    QVERIFY2(!indexes.isEmpty(), "no *.dequant.json fixtures found");
    for (const QString& name : indexes) {
        QFile f(dir.filePath(name));
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QJsonArray entries = QJsonDocument::fromJson(f.readAll()).object().value("entries").toArray();
        QVERIFY2(!entries.isEmpty(), qPrintable(name + " lists no entries"));
        for (int i = 0; i < entries.size(); ++i) {
            const QJsonObject e = entries[i].toObject();
            const QString tag =
                QString("%1 %2 %3 rows %4+%5")
                    .arg(name.section('.', 0, 0), e["tensor"].toString(), e["type"].toString())
                    .arg(e["row0"].toInteger())
                    .arg(e["n_rows"].toInteger());
            QTest::newRow(qPrintable(tag)) << dir.filePath(name) << i;
        }
    }
}

void TestDequant::matchesGgmlOnFixtureTensors() {
    QFETCH(QString, indexPath);
    QFETCH(int, entry);
    QFile indexFile(indexPath);
    QVERIFY(indexFile.open(QIODevice::ReadOnly));
    const QJsonObject index = QJsonDocument::fromJson(indexFile.readAll()).object();
    const QJsonObject e = index["entries"].toArray()[entry].toObject();
    const QString dir = QFileInfo(indexPath).absolutePath();

    // The GGUF files are mapped (cheap); keep them open across rows of the data table.
    static std::map<QString, std::unique_ptr<File>> models;
    const QString modelPath = dir + "/" + index["model"].toString();
    auto& model = models[modelPath];
    if (!model) model = File::open(modelPath.toStdString());

    QFile values(dir + "/" + index["file"].toString());
    QVERIFY(values.open(QIODevice::ReadOnly));
    const uchar* expectedBase = values.map(0, values.size());
    QVERIFY(expectedBase);

    const TensorInfo& t = model->requireTensor(e["tensor"].toString().toStdString());
    QCOMPARE(QString::fromStdString(typeName(t.rawType)).toLower(), e["type"].toString().toLower());
    const QJsonArray ne = e["ne"].toArray();
    QCOMPARE(t.ne.size(), static_cast<size_t>(ne.size()));
    for (int i = 0; i < ne.size(); ++i) QCOMPARE(t.ne[i], ne[i].toInteger());
    QVERIFY(canDequantize(t.rawType));

    const int64_t rowLength = e["row_length"].toInteger();
    const int64_t row0 = e["row0"].toInteger();
    const int64_t rows = e["n_rows"].toInteger();
    const int64_t offset = e["offset_bytes"].toInteger();
    QCOMPARE(rowLength, t.ne[0]);
    QVERIFY(row0 >= 0 && rows > 0 && row0 + rows <= t.rows());
    QVERIFY(offset >= 0 && offset + rows * rowLength * 4 <= values.size());
    const auto traits = *typeTraits(t.rawType);
    const uint64_t rowBytes = static_cast<uint64_t>(rowLength) / traits.blockElements * traits.blockBytes;

    std::vector<float> row(static_cast<size_t>(rowLength));
    for (int64_t r = 0; r < rows; ++r) {
        dequantizeRow(t.rawType, t.data + static_cast<uint64_t>(row0 + r) * rowBytes, row.data(), rowLength);
        const uchar* expected = expectedBase + offset + r * rowLength * 4;
        if (std::memcmp(row.data(), expected, row.size() * 4) != 0) {
            for (int64_t i = 0; i < rowLength; ++i) {
                float want;
                std::memcpy(&want, expected + i * 4, 4);
                if (bitsOf(want) != bitsOf(row[i]))
                    QFAIL(qPrintable(QString("row %1 element %2: got %3 (0x%4), ggml has %5 (0x%6)")
                                         .arg(row0 + r)
                                         .arg(i)
                                         .arg(row[i], 0, 'g', 9)
                                         .arg(bitsOf(row[i]), 8, 16, QChar('0'))
                                         .arg(want, 0, 'g', 9)
                                         .arg(bitsOf(want), 8, 16, QChar('0'))));
            }
        }
    }
}

// The fixtures' Q8_0/Q4_0 tensors were written by a quantizer that follows ggml's reference
// rounding. Re-quantizing the dequantized block must give back the same bytes.
void TestDequant::requantizingFixtureBlocksReproducesThem() {
    int checkedTensors = 0;
    for (const char* name : {"tiny-gemma4-e.gguf", "tiny-gemma4-moe.gguf"}) {
        auto model = File::open(std::string(OCELLE_FIXTURES_DIR "/models/") + name);
        for (const TensorInfo& t : model->tensors()) {
            if (t.type() != TensorType::Q8_0 && t.type() != TensorType::Q4_0) continue;
            const auto traits = *typeTraits(t.rawType);
            const int64_t rowLength = t.ne[0];
            const uint64_t rowBytes =
                static_cast<uint64_t>(rowLength) / traits.blockElements * traits.blockBytes;
            const int64_t rowsToCheck = std::min<int64_t>(t.rows(), 64);
            std::vector<float> row(static_cast<size_t>(rowLength));
            std::vector<uint8_t> again(rowBytes);
            for (int64_t r = 0; r < rowsToCheck; ++r) {
                const uint8_t* original = t.data + static_cast<uint64_t>(r) * rowBytes;
                dequantizeRow(t.rawType, original, row.data(), rowLength);
                quantizeRow(t.rawType, row.data(), again.data(), rowLength);
                if (std::memcmp(again.data(), original, rowBytes) != 0)
                    QFAIL(qPrintable(QString("%1 %2 row %3 re-quantizes differently")
                                         .arg(name, QString::fromStdString(t.name))
                                         .arg(r)));
            }
            ++checkedTensors;
        }
    }
    QVERIFY(checkedTensors > 10);
}

void TestDequant::fp16ToFloatMatchesCompiler() {
#if defined(__FLT16_MAX__)
    for (uint32_t h = 0; h < 0x10000; ++h) {
        _Float16 half;
        const uint16_t bits = static_cast<uint16_t>(h);
        std::memcpy(&half, &bits, 2);
        const float ours = fp16ToFloat(bits);
        const float theirs = static_cast<float>(half);
        if (std::isnan(theirs)) {
            QVERIFY2(std::isnan(ours), qPrintable(QString::number(h, 16)));
            QCOMPARE(bitsOf(ours) & 0x80000000u, bitsOf(theirs) & 0x80000000u);
            QVERIFY(bitsOf(ours) & 0x00400000u); // quiet
        } else if (bitsOf(ours) != bitsOf(theirs)) {
            QFAIL(qPrintable(QString("half 0x%1: %2 vs %3").arg(h, 4, 16, QChar('0')).arg(ours).arg(theirs)));
        }
    }
#else
    QSKIP("the compiler has no _Float16");
#endif
}

void TestDequant::floatToFp16MatchesCompiler() {
#if defined(__FLT16_MAX__)
    auto check = [](float f) {
        if (std::isnan(f)) return true;
        const _Float16 half = static_cast<_Float16>(f);
        uint16_t want;
        std::memcpy(&want, &half, 2);
        return floatToFp16(f) == want;
    };
    // Every half, the midpoints between neighbours and one float ulp either side of them: that
    // covers every rounding decision (ties to even, carries into the exponent, overflow to inf).
    for (uint32_t h = 0; h < 0x7c00; ++h) {
        const double lo = fp16ToFloat(static_cast<uint16_t>(h));
        const double hi = h + 1 == 0x7c00 ? 65536.0 : fp16ToFloat(static_cast<uint16_t>(h + 1));
        const float mid = static_cast<float>((lo + hi) / 2); // exact: 12 significant bits
        for (float f : {static_cast<float>(lo), mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e9f)}) {
            QVERIFY2(check(f), qPrintable(QString("%1").arg(f, 0, 'g', 10)));
            QVERIFY2(check(-f), qPrintable(QString("%1").arg(-f, 0, 'g', 10)));
        }
    }
    std::mt19937 rng(1234);
    for (int i = 0; i < 2000000; ++i) {
        const float f = floatOf(static_cast<uint32_t>(rng()));
        QVERIFY2(check(f), qPrintable(QString("0x%1").arg(bitsOf(f), 8, 16, QChar('0'))));
    }
#else
    QSKIP("the compiler has no _Float16");
#endif
}

void TestDequant::fp16EdgeCases() {
    const float inf = std::numeric_limits<float>::infinity();
    QCOMPARE(floatToFp16(inf), uint16_t(0x7c00));
    QCOMPARE(floatToFp16(-inf), uint16_t(0xfc00));
    QCOMPARE(fp16ToFloat(0x7c00), inf);
    QCOMPARE(fp16ToFloat(0xfc00), -inf);
    QCOMPARE(floatToFp16(65504.0f), uint16_t(0x7bff));
    QCOMPARE(floatToFp16(65519.99f), uint16_t(0x7bff));
    QCOMPARE(floatToFp16(65520.0f), uint16_t(0x7c00)); // the tie above the largest half goes to inf
    QCOMPARE(floatToFp16(1e9f), uint16_t(0x7c00));
    QCOMPARE(floatToFp16(0.0f), uint16_t(0x0000));
    QCOMPARE(floatToFp16(-0.0f), uint16_t(0x8000));
    QCOMPARE(bitsOf(fp16ToFloat(0x8000)), 0x80000000u);
    // NaN: ggml writes the canonical quiet NaN with the sign kept; reading keeps it a NaN.
    QCOMPARE(floatToFp16(std::numeric_limits<float>::quiet_NaN()), uint16_t(0x7e00));
    QCOMPARE(floatToFp16(-std::numeric_limits<float>::quiet_NaN()), uint16_t(0xfe00));
    QVERIFY(std::isnan(fp16ToFloat(0x7e00)));
    QVERIFY(std::isnan(fp16ToFloat(0x7c01)));
    // Subnormals: 2^-24 is the smallest; 2^-25 ties to even (0); just above it rounds up.
    QCOMPARE(fp16ToFloat(0x0001), 0x1p-24f);
    QCOMPARE(fp16ToFloat(0x03ff), 1023 * 0x1p-24f);
    QCOMPARE(fp16ToFloat(0x0400), 0x1p-14f);
    QCOMPARE(floatToFp16(0x1p-24f), uint16_t(0x0001));
    QCOMPARE(floatToFp16(0x1p-25f), uint16_t(0x0000));
    QCOMPARE(floatToFp16(std::nextafter(0x1p-25f, 1.0f)), uint16_t(0x0001));
    QCOMPARE(floatToFp16(3 * 0x1p-25f), uint16_t(0x0002)); // 1.5 units ties to even 2
    QCOMPARE(floatToFp16(5 * 0x1p-25f), uint16_t(0x0002)); // 2.5 units ties to even 2
    QCOMPARE(floatToFp16(1e-30f), uint16_t(0x0000));
    QCOMPARE(floatToFp16(-1e-30f), uint16_t(0x8000));
    QCOMPARE(floatToFp16(1023.5f * 0x1p-24f), uint16_t(0x0400)); // rounds up into the normals
    // Ties between normals: 1 + 2^-11 lies between 1 and 1 + 2^-10.
    QCOMPARE(floatToFp16(1.0f + 0x1p-11f), uint16_t(0x3c00));
    QCOMPARE(floatToFp16(1.0f + 3 * 0x1p-11f), uint16_t(0x3c02));
    QCOMPARE(floatToFp16(std::nextafter(1.0f + 0x1p-11f, 2.0f)), uint16_t(0x3c01));
    QCOMPARE(floatToFp16(2.0f - 0x1p-12f), uint16_t(0x4000)); // tie that carries into the exponent
    // Every finite half survives the round trip.
    for (uint32_t h = 0; h < 0x10000; ++h) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue; // NaN
        QCOMPARE(floatToFp16(fp16ToFloat(static_cast<uint16_t>(h))), static_cast<uint16_t>(h));
    }
}

// dequantizeRow's F16/BF16 paths (vectorised or hardware-converted) agree with the scalar
// conversions on every one of the 65536 values, NaNs included, at every offset in a row.
void TestDequant::rowConversionsMatchScalarOnEveryValue() {
    std::vector<uint16_t> all(0x10000 + 7);
    for (uint32_t h = 0; h < all.size(); ++h)
        all[h] = static_cast<uint16_t>(h * 40503u); // odd multiplier: a permutation
    for (TensorType type : {TensorType::F16, TensorType::BF16}) {
        for (size_t start : {size_t(0), size_t(3)}) { // also from an odd element (unaligned source)
            const int64_t n = 0x10000;
            std::vector<float> row(n);
            dequantizeRow(uint32_t(type), all.data() + start, row.data(), n);
            for (int64_t i = 0; i < n; ++i) {
                const uint16_t h = all[start + static_cast<size_t>(i)];
                const float want = type == TensorType::F16 ? fp16ToFloat(h) : bf16ToFloat(h);
                if (bitsOf(row[i]) != bitsOf(want))
                    QFAIL(qPrintable(QString("%1 0x%2: row gives 0x%3, scalar 0x%4")
                                         .arg(QString::fromStdString(typeName(type)))
                                         .arg(h, 4, 16, QChar('0'))
                                         .arg(bitsOf(row[i]), 8, 16, QChar('0'))
                                         .arg(bitsOf(want), 8, 16, QChar('0'))));
            }
        }
    }
}

void TestDequant::bf16EdgeCases() {
    const float inf = std::numeric_limits<float>::infinity();
    QCOMPARE(floatToBf16(inf), uint16_t(0x7f80));
    QCOMPARE(floatToBf16(-inf), uint16_t(0xff80));
    QCOMPARE(bf16ToFloat(0x7f80), inf);
    QCOMPARE(floatToBf16(1.0f), uint16_t(0x3f80));
    QCOMPARE(floatToBf16(-0.0f), uint16_t(0x8000));
    // Ties: 1 + 2^-8 is half way between 1 and 1 + 2^-7 -> even (1); 1 + 3*2^-8 -> 1 + 2^-6.
    QCOMPARE(floatToBf16(1.0f + 0x1p-8f), uint16_t(0x3f80));
    QCOMPARE(floatToBf16(1.0f + 3 * 0x1p-8f), uint16_t(0x3f82));
    QCOMPARE(floatToBf16(std::nextafter(1.0f + 0x1p-8f, 2.0f)), uint16_t(0x3f81));
    // The largest finite float rounds to infinity; subnormals are rounded, not flushed (ggml).
    QCOMPARE(floatToBf16(std::numeric_limits<float>::max()), uint16_t(0x7f80));
    QCOMPARE(floatToBf16(floatOf(0x00018000u)), uint16_t(0x0002));
    QCOMPARE(floatToBf16(floatOf(0x00008000u)), uint16_t(0x0000)); // tie to even zero
    QCOMPARE(floatToBf16(floatOf(0x00008001u)), uint16_t(0x0001));
    QCOMPARE(bitsOf(bf16ToFloat(0x0001)), 0x00010000u);
    // NaN: top bits kept, quiet bit forced (a signalling NaN whose payload sits in the low half
    // would otherwise turn into infinity).
    QCOMPARE(floatToBf16(floatOf(0x7f800001u)), uint16_t(0x7fc0));
    QCOMPARE(floatToBf16(floatOf(0xffc00000u)), uint16_t(0xffc0));
    QVERIFY(std::isnan(bf16ToFloat(floatToBf16(std::numeric_limits<float>::quiet_NaN()))));
    for (uint32_t b = 0; b < 0x10000; ++b) {
        const float f = bf16ToFloat(static_cast<uint16_t>(b));
        QCOMPARE(bitsOf(f), b << 16);
        if (!std::isnan(f)) QCOMPARE(floatToBf16(f), static_cast<uint16_t>(b));
    }
}

void TestDequant::bf16RoundingMatchesReference() {
    std::mt19937 rng(99);
    for (int i = 0; i < 2000000; ++i) {
        const uint32_t bits = static_cast<uint32_t>(rng());
        const float f = floatOf(bits);
        if (std::isnan(f) || std::isinf(f) || (bits & 0x7fffffffu) >= 0x7f7f8000u)
            continue; // overflow region
        if (floatToBf16(f) != referenceBf16(f))
            QFAIL(qPrintable(QString("0x%1").arg(bits, 8, 16, QChar('0'))));
    }
}

void TestDequant::quantizeRoundTripErrorBounds_data() {
    QTest::addColumn<uint32_t>("type");
    QTest::addColumn<double>("scaleUnits"); // error bound in units of the block's amax
    QTest::addColumn<bool>("relative");
    // Below 2^-14 fp16 is subnormal with a fixed step of 2^-24: rounding a value (or a block's
    // scale) there costs up to 2^-25 absolutely, times the largest code the scale multiplies.
    QTest::addColumn<double>("absoluteSlack");
    // F32 is exact; F16 and BF16 are within half an ulp (relative 2^-11, 2^-8).
    QTest::newRow("F32") << uint32_t(TensorType::F32) << 0.0 << true << 0.0;
    QTest::newRow("F16") << uint32_t(TensorType::F16) << std::ldexp(1.0, -11) << true << std::ldexp(1.0, -25);
    QTest::newRow("BF16") << uint32_t(TensorType::BF16) << std::ldexp(1.0, -8) << true << 0.0;
    // Q8_0: half a step of amax/127, plus the fp16 rounding of the scale times the largest code.
    QTest::newRow("Q8_0") << uint32_t(TensorType::Q8_0) << (0.5 + 127 * std::ldexp(1.0, -11)) / 127 << false
                          << 127 * std::ldexp(1.0, -25);
    // Q4_0: steps of amax/8; the largest magnitude opposite to the signed maximum clamps to 7
    // steps (one full step of error), plus the fp16 rounding of the scale times 8.
    QTest::newRow("Q4_0") << uint32_t(TensorType::Q4_0) << (1.0 + 8 * std::ldexp(1.0, -11)) / 8 << false
                          << 8 * std::ldexp(1.0, -25);
}

void TestDequant::quantizeRoundTripErrorBounds() {
    QFETCH(uint32_t, type);
    QFETCH(double, scaleUnits);
    QFETCH(bool, relative);
    QFETCH(double, absoluteSlack);
    QVERIFY(canQuantize(type));
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const int64_t n = 32 * 64;
    std::vector<float> values(n);
    for (float scale : {1e-3f, 1.0f, 300.0f}) {
        for (auto& v : values) v = normal(rng) * scale;
        for (int j = 0; j < 32; ++j) values[32 + j] = 0.0f; // an all-zero block
        values[64] = 4.0f * scale;                          // a lone spike
        const auto restored = dequantized(type, quantized(type, values), values.size());
        for (int64_t b = 0; b < n / 32; ++b) {
            double amax = 0;
            for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(double(values[b * 32 + j])));
            for (int j = 0; j < 32; ++j) {
                const double x = values[b * 32 + j];
                const double err = std::fabs(x - restored[b * 32 + j]);
                const double bound =
                    (relative ? std::fabs(x) : amax) * scaleUnits * (1 + 1e-6) + absoluteSlack;
                if (err > bound)
                    QFAIL(qPrintable(QString("value %1 came back as %2 (error %3 > %4)")
                                         .arg(x)
                                         .arg(restored[b * 32 + j])
                                         .arg(err)
                                         .arg(bound)));
            }
        }
        for (int j = 0; j < 32; ++j) QCOMPARE(restored[32 + j], 0.0f);
    }
}

void TestDequant::q4_0UsesTheSignedMaximum() {
    // The largest magnitude maps exactly to code 0 (-8 steps); values of the opposite sign clamp at +7.
    std::vector<float> v(32, 0.0f);
    v[3] = -2.0f; // signed maximum
    v[5] = 2.0f;  // same magnitude, opposite sign, found later: clamps
    v[7] = 0.25f;
    const auto bytes = quantized(uint32_t(TensorType::Q4_0), v);
    QCOMPARE(fp16ToFloat(static_cast<uint16_t>(bytes[0] | (bytes[1] << 8))), 0.25f); // d = -2 / -8
    const auto back = dequantized(uint32_t(TensorType::Q4_0), bytes, 32);
    QCOMPARE(back[3], -2.0f);
    QCOMPARE(back[5], 1.75f);
    QCOMPARE(back[7], 0.25f);
    QCOMPARE(back[0], 0.0f);
    QCOMPARE(bytes[2 + 3] & 0xF, 0);
}

void TestDequant::q8_0RoundsHalfAwayFromZero() {
    std::vector<float> v(32, 0.0f);
    v[0] = 127.0f; // scale 1
    v[1] = 2.5f;
    v[2] = -2.5f;
    v[3] = 0.49f;
    const auto bytes = quantized(uint32_t(TensorType::Q8_0), v);
    QCOMPARE(fp16ToFloat(static_cast<uint16_t>(bytes[0] | (bytes[1] << 8))), 1.0f);
    QCOMPARE(static_cast<int8_t>(bytes[2 + 0]), int8_t(127));
    QCOMPARE(static_cast<int8_t>(bytes[2 + 1]), int8_t(3));
    QCOMPARE(static_cast<int8_t>(bytes[2 + 2]), int8_t(-3));
    QCOMPARE(static_cast<int8_t>(bytes[2 + 3]), int8_t(0));
}

void TestDequant::refusesUnsupportedTypesAndPartialBlocks() {
    float out[256];
    uint8_t raw[512] = {};
    QVERIFY(!canDequantize(uint32_t(TensorType::Q2_K)));
    QVERIFY(!canQuantize(uint32_t(TensorType::Q4_K)));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, dequantizeRow(uint32_t(TensorType::Q2_K), raw, out, 256));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, dequantizeRow(777, raw, out, 256));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, dequantizeRow(uint32_t(TensorType::Q8_0), raw, out, 31));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, quantizeRow(uint32_t(TensorType::Q4_K), out, raw, 256));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, quantizeRow(uint32_t(TensorType::Q4_0), out, raw, 48));
}

QTEST_APPLESS_MAIN(TestDequant)
#include "test_dequant.moc"
