// GGUF writer: files written with every metadata value type and several tensor types are read
// back by the reader and compared field by field; layout rules (alignment, offsets, version)
// are checked on the bytes; bad requests are refused.
#include "gguf/dequant.h"
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"

#include <QTemporaryDir>
#include <QtTest>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using namespace ocelle::gguf;

namespace {

// Deep equality of two values read from files (floats compared by bit pattern).
bool sameValue(const Value& a, const Value& b, std::string& why) {
    if (a.type() != b.type()) {
        why = std::string("type ") + valueTypeName(a.type()) + " vs " + valueTypeName(b.type());
        return false;
    }
    switch (a.type()) {
    case ValueType::String:
        if (a.toString() != b.toString()) why = "string differs";
        return a.toString() == b.toString();
    case ValueType::Float32:
    case ValueType::Float64:
        if (std::bit_cast<uint64_t>(*a.toFloat()) != std::bit_cast<uint64_t>(*b.toFloat())) {
            why = "float differs";
            return false;
        }
        return true;
    case ValueType::Array: {
        if (a.elementType() != b.elementType() || a.size() != b.size()) {
            why = "array element type or size differs";
            return false;
        }
        for (uint64_t i = 0; i < a.size(); ++i) {
            bool same = true;
            switch (a.elementType()) {
            case ValueType::String:
                same = a.stringAt(i) == b.stringAt(i);
                break;
            case ValueType::Array:
                same = sameValue(a.arrayAt(i), b.arrayAt(i), why);
                break;
            case ValueType::Bool:
                same = a.boolAt(i) == b.boolAt(i);
                break;
            case ValueType::Float32:
            case ValueType::Float64:
                same = std::bit_cast<uint64_t>(*a.floatAt(i)) == std::bit_cast<uint64_t>(*b.floatAt(i));
                break;
            default:
                same = a.intAt(i) == b.intAt(i) && a.uintAt(i) == b.uintAt(i);
                break;
            }
            if (!same) {
                why = "item " + std::to_string(i) + " differs " + why;
                return false;
            }
        }
        return true;
    }
    default:
        if (a.toInt() != b.toInt() || a.toUInt() != b.toUInt() || a.toBool() != b.toBool()) {
            why = "scalar differs";
            return false;
        }
        return true;
    }
}

std::vector<float> randomValues(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = normal(rng);
    return v;
}

std::vector<uint8_t> randomBytes(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<uint8_t> v(n);
    for (auto& x : v) x = static_cast<uint8_t>(rng());
    return v;
}

struct ExpectedTensor {
    std::string name;
    std::vector<int64_t> ne;
    TensorType type;
    std::vector<uint8_t> bytes; // what the data section must hold
};

} // namespace

class TestGgufWriter : public QObject {
    Q_OBJECT
private slots:
    void everyValueTypeRoundTrips();
    void tensorsRoundTripWithAlignment_data();
    void tensorsRoundTripWithAlignment();
    void writesVersion2And3();
    void writesToDiskAndOpens();
    void copiesMetadataOfARealFile();
    void refusesBadRequests();
    void replacingAKeyKeepsItsPlace();
};

void TestGgufWriter::everyValueTypeRoundTrips() {
    Writer w;
    w.set("u8", MetaValue::uint8(255));
    w.set("i8", MetaValue::int8(-128));
    w.set("u16", MetaValue::uint16(65535));
    w.set("i16", MetaValue::int16(-32768));
    w.set("u32", MetaValue::uint32(4294967295u));
    w.set("i32", MetaValue::int32(std::numeric_limits<int32_t>::min()));
    w.set("u64", MetaValue::uint64(std::numeric_limits<uint64_t>::max()));
    w.set("i64", MetaValue::int64(std::numeric_limits<int64_t>::min()));
    w.set("f32", MetaValue::float32(-0.0f));
    w.set("f32.nan", MetaValue::float32(std::numeric_limits<float>::quiet_NaN()));
    w.set("f64", MetaValue::float64(1e300));
    w.set("bool.true", MetaValue::boolean(true));
    w.set("bool.false", MetaValue::boolean(false));
    w.set("string", MetaValue::string("Grüße ▁ <|turn> 😀"));
    w.set("string.empty", MetaValue::string(""));
    w.set("string.nul", MetaValue::string(std::string("a\0b", 3)));
    w.set("array.strings", MetaValue::stringArray({"<pad>", "", "▁the", std::string(300, 'x')}));
    w.set("array.i32", MetaValue::int32Array({1, -2, 2147483647}));
    w.set("array.u32", MetaValue::uint32Array({0, 4294967295u}));
    w.set("array.f32", MetaValue::float32Array({1.5f, -1e-30f, std::numeric_limits<float>::infinity()}));
    w.set("array.bool", MetaValue::boolArray({true, false, true, true, false}));
    w.set("array.empty", MetaValue::array(ValueType::Int32, {}));
    w.set("array.u8", MetaValue::array(ValueType::UInt8, {MetaValue::uint8(0), MetaValue::uint8(200)}));
    w.set("array.i8", MetaValue::array(ValueType::Int8, {MetaValue::int8(-1)}));
    w.set("array.u16", MetaValue::array(ValueType::UInt16, {MetaValue::uint16(60000)}));
    w.set("array.i16", MetaValue::array(ValueType::Int16, {MetaValue::int16(-300)}));
    w.set("array.u64", MetaValue::array(ValueType::UInt64, {MetaValue::uint64(~0ull), MetaValue::uint64(5)}));
    w.set("array.i64", MetaValue::array(ValueType::Int64, {MetaValue::int64(-5)}));
    w.set("array.f64", MetaValue::array(ValueType::Float64, {MetaValue::float64(-2.25)}));
    w.set("array.nested",
          MetaValue::array(ValueType::Array,
                           {MetaValue::int32Array({1, 2, 3}), MetaValue::stringArray({"a", "bc"}),
                            MetaValue::array(ValueType::Array, {MetaValue::float32Array({0.5f})}),
                            MetaValue::array(ValueType::Bool, {})}));

    const std::vector<uint8_t> bytes = w.toBytes();
    auto f = File::fromMemory(bytes, "every-type.gguf");
    QCOMPARE(f->version(), 3u);
    QCOMPARE(f->metadata().size(), size_t(30));
    QCOMPARE(f->metadata().front().first, std::string("u8")); // order kept
    QCOMPARE(f->metadata().back().first, std::string("array.nested"));

    QCOMPARE(f->find("u8")->type(), ValueType::UInt8);
    QCOMPARE(*f->find("u8")->toUInt(), uint64_t(255));
    QCOMPARE(f->find("i8")->type(), ValueType::Int8);
    QCOMPARE(*f->getInt("i8"), int64_t(-128));
    QCOMPARE(f->find("u16")->type(), ValueType::UInt16);
    QCOMPARE(*f->getInt("u16"), int64_t(65535));
    QCOMPARE(f->find("i16")->type(), ValueType::Int16);
    QCOMPARE(*f->getInt("i16"), int64_t(-32768));
    QCOMPARE(f->find("u32")->type(), ValueType::UInt32);
    QCOMPARE(*f->getInt("u32"), int64_t(4294967295u));
    QCOMPARE(f->find("i32")->type(), ValueType::Int32);
    QCOMPARE(*f->getInt("i32"), int64_t(std::numeric_limits<int32_t>::min()));
    QCOMPARE(f->find("u64")->type(), ValueType::UInt64);
    QCOMPARE(*f->find("u64")->toUInt(), std::numeric_limits<uint64_t>::max());
    QVERIFY(!f->find("u64")->toInt()); // does not fit
    QCOMPARE(f->find("i64")->type(), ValueType::Int64);
    QCOMPARE(*f->getInt("i64"), std::numeric_limits<int64_t>::min());
    QCOMPARE(f->find("f32")->type(), ValueType::Float32);
    QCOMPARE(std::bit_cast<uint64_t>(*f->getFloat("f32")), std::bit_cast<uint64_t>(-0.0));
    QVERIFY(std::isnan(*f->getFloat("f32.nan")));
    QCOMPARE(f->find("f64")->type(), ValueType::Float64);
    QCOMPARE(*f->getFloat("f64"), 1e300);
    QCOMPARE(*f->getBool("bool.true"), true);
    QCOMPARE(*f->getBool("bool.false"), false);
    QCOMPARE(*f->getString("string"), std::string("Grüße ▁ <|turn> 😀"));
    QCOMPARE(*f->getString("string.empty"), std::string());
    QCOMPARE(*f->getString("string.nul"), std::string("a\0b", 3));

    const Value& strings = *f->find("array.strings");
    QCOMPARE(strings.elementType(), ValueType::String);
    QCOMPARE(strings.size(), uint64_t(4));
    QCOMPARE(strings.stringAt(0), std::string_view("<pad>"));
    QCOMPARE(strings.stringAt(1), std::string_view(""));
    QCOMPARE(strings.stringAt(2), std::string_view("▁the"));
    QCOMPARE(strings.stringAt(3), std::string_view(std::string(300, 'x')));
    const Value& i32s = *f->find("array.i32");
    QCOMPARE(i32s.elementType(), ValueType::Int32);
    QCOMPARE(i32s.size(), uint64_t(3));
    QCOMPARE(*i32s.intAt(1), int64_t(-2));
    QCOMPARE(*i32s.intAt(2), int64_t(2147483647));
    QCOMPARE(*f->find("array.u32")->intAt(1), int64_t(4294967295u));
    const Value& f32s = *f->find("array.f32");
    QCOMPARE(*f32s.floatAt(0), 1.5);
    QCOMPARE(static_cast<float>(*f32s.floatAt(1)), -1e-30f);
    QVERIFY(std::isinf(*f32s.floatAt(2)));
    const Value& bools = *f->find("array.bool");
    QCOMPARE(bools.size(), uint64_t(5));
    QCOMPARE(*bools.boolAt(0), true);
    QCOMPARE(*bools.boolAt(4), false);
    QCOMPARE(f->find("array.empty")->size(), uint64_t(0));
    QCOMPARE(f->find("array.empty")->elementType(), ValueType::Int32);
    QCOMPARE(*f->find("array.u8")->intAt(1), int64_t(200));
    QCOMPARE(*f->find("array.i8")->intAt(0), int64_t(-1));
    QCOMPARE(*f->find("array.u16")->intAt(0), int64_t(60000));
    QCOMPARE(*f->find("array.i16")->intAt(0), int64_t(-300));
    QCOMPARE(*f->find("array.u64")->uintAt(0), ~0ull);
    QCOMPARE(*f->find("array.u64")->intAt(1), int64_t(5));
    QCOMPARE(*f->find("array.i64")->intAt(0), int64_t(-5));
    QCOMPARE(*f->find("array.f64")->floatAt(0), -2.25);

    const Value& nested = *f->find("array.nested");
    QCOMPARE(nested.elementType(), ValueType::Array);
    QCOMPARE(nested.size(), uint64_t(4));
    QCOMPARE(nested.arrayAt(0).elementType(), ValueType::Int32);
    QCOMPARE(*nested.arrayAt(0).intAt(2), int64_t(3));
    QCOMPARE(nested.arrayAt(1).stringAt(1), std::string_view("bc"));
    QCOMPARE(nested.arrayAt(2).arrayAt(0).elementType(), ValueType::Float32);
    QCOMPARE(*nested.arrayAt(2).arrayAt(0).floatAt(0), 0.5);
    QCOMPARE(nested.arrayAt(3).size(), uint64_t(0));
    QCOMPARE(nested.arrayAt(3).elementType(), ValueType::Bool);

    // No tensors: the file ends at the padded end of the header.
    QVERIFY(f->tensors().empty());
    QCOMPARE(bytes.size() % 32, size_t(0));
}

void TestGgufWriter::tensorsRoundTripWithAlignment_data() {
    QTest::addColumn<uint32_t>("alignment");
    QTest::newRow("default 32") << 0u;
    QTest::newRow("1") << 1u;
    QTest::newRow("64") << 64u;
    QTest::newRow("4096") << 4096u;
}

void TestGgufWriter::tensorsRoundTripWithAlignment() {
    QFETCH(uint32_t, alignment);
    Writer w;
    if (alignment) w.setAlignment(alignment);
    const uint64_t expectedAlignment = alignment ? alignment : 32;
    QCOMPARE(w.alignment(), expectedAlignment);
    w.set("general.architecture", MetaValue::string("test"));

    std::vector<ExpectedTensor> expected;
    auto addConverted = [&](const std::string& name, std::vector<int64_t> ne, TensorType type,
                            uint32_t seed) {
        int64_t n = 1;
        for (auto d : ne) n *= d;
        const auto values = randomValues(static_cast<size_t>(n), seed);
        w.addTensor(name, ne, uint32_t(type), values);
        const auto traits = *typeTraits(uint32_t(type));
        std::vector<uint8_t> bytes(static_cast<size_t>(n) / traits.blockElements * traits.blockBytes);
        quantizeRow(uint32_t(type), values.data(), bytes.data(), n);
        expected.push_back({name, ne, type, bytes});
    };
    auto addRaw = [&](const std::string& name, std::vector<int64_t> ne, TensorType type, uint32_t seed) {
        int64_t n = 1;
        for (auto d : ne) n *= d;
        const auto traits = *typeTraits(uint32_t(type));
        auto bytes = randomBytes(static_cast<size_t>(n) / traits.blockElements * traits.blockBytes, seed);
        w.addRawTensor(name, ne, uint32_t(type), bytes);
        expected.push_back({name, ne, type, bytes});
    };
    addConverted("f32.vector", {7}, TensorType::F32, 1);
    addConverted("f16.matrix", {5, 3}, TensorType::F16, 2);
    addConverted("bf16.cube", {3, 2, 2}, TensorType::BF16, 3);
    addConverted("q8_0.matrix", {64, 3}, TensorType::Q8_0, 4);
    addConverted("q4_0.4d", {32, 2, 1, 3}, TensorType::Q4_0, 5);
    addRaw("q4_k.raw", {256, 2}, TensorType::Q4_K, 6);
    addRaw("q5_k.raw", {256, 1}, TensorType::Q5_K, 7);
    addRaw("q6_k.raw", {512}, TensorType::Q6_K, 8);
    addRaw("i32.raw", {3}, TensorType::I32, 9);
    addRaw("empty", {0, 4}, TensorType::F32, 10);

    const std::vector<uint8_t> bytes = w.toBytes();
    auto f = File::fromMemory(bytes, "tensors.gguf");
    QCOMPARE(f->alignment(), expectedAlignment);
    QCOMPARE(f->dataOffset() % expectedAlignment, uint64_t(0));
    QCOMPARE(bytes.size() % expectedAlignment, size_t(0));
    QCOMPARE(f->tensors().size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
        const TensorInfo& t = f->tensors()[i];
        const ExpectedTensor& e = expected[i];
        QCOMPARE(t.name, e.name);
        QCOMPARE(t.ne, e.ne);
        QCOMPARE(t.type(), e.type);
        QCOMPARE(t.offset % expectedAlignment, uint64_t(0));
        QCOMPARE(t.nbytes, uint64_t(e.bytes.size()));
        QVERIFY2(e.bytes.empty() || std::memcmp(t.data, e.bytes.data(), e.bytes.size()) == 0, e.name.c_str());
        if (i + 1 < expected.size()) // tightly packed up to the alignment
            QCOMPARE(f->tensors()[i + 1].offset,
                     (t.offset + t.nbytes + expectedAlignment - 1) / expectedAlignment * expectedAlignment);
    }
    // The converted tensors carry the values (within each format's precision).
    const TensorInfo& q8 = f->requireTensor("q8_0.matrix");
    const auto original = randomValues(64 * 3, 4);
    std::vector<float> restored(64 * 3);
    dequantizeRow(q8.rawType, q8.data, restored.data(), 64 * 3);
    for (size_t i = 0; i < restored.size(); ++i) QVERIFY(std::fabs(restored[i] - original[i]) < 0.03f);
    const TensorInfo& f32 = f->requireTensor("f32.vector");
    QVERIFY(std::memcmp(f32.data, randomValues(7, 1).data(), 28) == 0);
}

void TestGgufWriter::writesVersion2And3() {
    for (uint32_t version : {2u, 3u}) {
        Writer w(version);
        w.set("k", MetaValue::uint32(1));
        w.addTensor("t", {32}, uint32_t(TensorType::Q8_0), randomValues(32, 1));
        const auto bytes = w.toBytes();
        QCOMPARE(std::memcmp(bytes.data(), "GGUF", 4), 0);
        uint32_t fileVersion = 0;
        std::memcpy(&fileVersion, bytes.data() + 4, 4);
        QCOMPARE(fileVersion, version);
        auto f = File::fromMemory(bytes, "v.gguf");
        QCOMPARE(f->version(), version);
        QCOMPARE(*f->getInt("k"), int64_t(1));
        QCOMPARE(f->tensors().size(), size_t(1));
    }
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, Writer(1));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, Writer(4));
}

void TestGgufWriter::writesToDiskAndOpens() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::string path = dir.filePath("model.gguf").toStdString();
    Writer w;
    w.set("general.name", MetaValue::string("on disk"));
    w.addTensor("w", {64, 2}, uint32_t(TensorType::Q4_0), randomValues(128, 3));
    w.write(path);
    auto f = File::open(path);
    QCOMPARE(*f->getString("general.name"), std::string("on disk"));
    QCOMPARE(f->requireTensor("w").nbytes, uint64_t(4 * 18));
    const auto inMemory = w.toBytes();
    QCOMPARE(f->fileSize(), uint64_t(inMemory.size()));

    try {
        w.write(dir.filePath("no-such-dir/x.gguf").toStdString());
        QFAIL("writing into a missing directory succeeded");
    } catch (const Error& e) {
        QVERIFY(std::string(e.what()).find("x.gguf") != std::string::npos);
    }
}

void TestGgufWriter::copiesMetadataOfARealFile() {
    // Every key of the real Gemma 4 vocabulary (262144-string arrays, scores, token types, merges)
    // survives copyOf -> write -> read.
    auto source = File::open(OCELLE_FIXTURES_DIR "/tokenizer/ggml-vocab-gemma-4.gguf");
    Writer w;
    for (const auto& [key, value] : source->metadata()) w.set(key, MetaValue::copyOf(value));
    const auto bytes = w.toBytes();
    auto copy = File::fromMemory(bytes, "copy.gguf");
    QCOMPARE(copy->metadata().size(), source->metadata().size());
    for (size_t i = 0; i < source->metadata().size(); ++i) {
        const auto& [key, value] = source->metadata()[i];
        QCOMPARE(copy->metadata()[i].first, key);
        std::string why;
        QVERIFY2(sameValue(value, copy->metadata()[i].second, why), (key + ": " + why).c_str());
    }
}

void TestGgufWriter::refusesBadRequests() {
    Writer w;
    w.addTensor("a", {32}, uint32_t(TensorType::F32), randomValues(32, 1));
    const auto values = randomValues(64, 2);
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, w.addTensor("a", {32}, uint32_t(TensorType::F32),
                                                                std::span(values).first(32))); // duplicate
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, w.addTensor("b", {}, uint32_t(TensorType::F32), values));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                             w.addTensor("b", {1, 1, 1, 1, 64}, uint32_t(TensorType::F32), values));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                             w.addTensor("b", {-64}, uint32_t(TensorType::F32), values));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                             w.addTensor("b", {63}, uint32_t(TensorType::F32), values));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                             w.addTensor("b", {48}, uint32_t(TensorType::Q8_0),
                                         std::span(values).first(48))); // partial block
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, w.addTensor("b", {256}, uint32_t(TensorType::Q4_K),
                                                                randomValues(256, 1))); // no quantizer
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, w.addTensor("b", {64}, 99, values));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, w.addTensor("b", {int64_t(1) << 40, int64_t(1) << 40},
                                                                uint32_t(TensorType::F32), values));
    const std::vector<uint8_t> raw(143);
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                             w.addRawTensor("b", {256}, uint32_t(TensorType::Q4_K), raw));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, w.set("", MetaValue::uint8(1)));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, w.setAlignment(0));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, w.setAlignment(48));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, w.set("general.alignment", MetaValue::int32(64)));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                             MetaValue::array(ValueType::Int32, {MetaValue::int32(1), MetaValue::uint8(2)}));
    // Nothing refused was added.
    const auto bytes = w.toBytes();
    auto f = File::fromMemory(bytes, "refused.gguf");
    QCOMPARE(f->tensors().size(), size_t(1));
    QCOMPARE(f->alignment(), uint64_t(32));
}

void TestGgufWriter::replacingAKeyKeepsItsPlace() {
    Writer w;
    w.set("a", MetaValue::uint32(1));
    w.set("b", MetaValue::uint32(2));
    w.set("a", MetaValue::string("again"));
    const auto bytes = w.toBytes();
    auto f = File::fromMemory(bytes, "replace.gguf");
    QCOMPARE(f->metadata().size(), size_t(2));
    QCOMPARE(f->metadata()[0].first, std::string("a"));
    QCOMPARE(*f->getString("a"), std::string("again"));
}

QTEST_APPLESS_MAIN(TestGgufWriter)
#include "test_gguf_writer.moc"
