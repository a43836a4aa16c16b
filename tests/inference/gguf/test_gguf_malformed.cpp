// Hostile and broken GGUF files: each class of damage is built here (a valid file from the
// writer, then bytes patched) and must end in a gguf::Error that names the file and the problem,
// never a crash, a hang or a large allocation.
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"

#include <QTemporaryDir>
#include <QtTest>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>

using namespace ocelle::gguf;

// Largest single allocation since the last reset: hostile counts must not turn into allocations.
static std::atomic<size_t> g_largestAllocation{0};

void* operator new(size_t size) {
    size_t seen = g_largestAllocation.load(std::memory_order_relaxed);
    while (size > seen && !g_largestAllocation.compare_exchange_weak(seen, size)) {
    }
    if (void* p = std::malloc(size ? size : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, size_t) noexcept {
    std::free(p);
}

namespace {

constexpr size_t kTensorCountAt = 8;
constexpr size_t kKvCountAt = 16;

std::vector<float> ramp(size_t n) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i) * 0.25f - 3.0f;
    return v;
}

// Position of the first occurrence of `needle` in the file image (which must exist).
size_t find(const std::vector<uint8_t>& bytes, std::string_view needle) {
    auto it = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
    if (it == bytes.end()) throw std::logic_error("test file lacks " + std::string(needle));
    return static_cast<size_t>(it - bytes.begin());
}

template <typename T> void poke(std::vector<uint8_t>& bytes, size_t at, T v) {
    std::memcpy(bytes.data() + at, &v, sizeof v);
}

// The value that follows key `key` (its type tag is at the returned position).
size_t afterKey(const std::vector<uint8_t>& bytes, std::string_view key) {
    return find(bytes, key) + key.size();
}

// Fields of a tensor's directory entry.
struct TensorFields {
    size_t rank, dims, type, offset;
};
TensorFields tensorFields(const std::vector<uint8_t>& bytes, std::string_view name) {
    const size_t rankAt = find(bytes, name) + name.size();
    uint32_t rank = 0;
    std::memcpy(&rank, bytes.data() + rankAt, 4);
    const size_t dimsAt = rankAt + 4;
    const size_t typeAt = dimsAt + 8 * rank;
    return {rankAt, dimsAt, typeAt, typeAt + 4};
}

// A small valid file: a few keys of different kinds, two tensors; the last tensor's data ends
// exactly at the end of the file (no trailing padding), so any truncation damages something.
std::vector<uint8_t> smallValidFile() {
    Writer w;
    w.set("general.architecture", MetaValue::string("gemma4"));
    w.set("key.a", MetaValue::uint32(7));
    w.set("key.b", MetaValue::float32(0.5f));
    w.set("tokens", MetaValue::stringArray({"<pad>", "<eos>", "▁hi"}));
    w.set("scores", MetaValue::float32Array({0.0f, -1.0f, -2.5f}));
    w.set("nested",
          MetaValue::array(ValueType::Array, {MetaValue::int32Array({1, 2}), MetaValue::boolArray({true})}));
    w.addTensor("tensor.ta", {32, 2}, uint32_t(TensorType::Q8_0), ramp(64));
    w.addTensor("tensor.tb", {8, 4}, uint32_t(TensorType::F32), ramp(32)); // 128 bytes: a multiple of 32
    return w.toBytes();
}

} // namespace

class TestGgufMalformed : public QObject {
    Q_OBJECT

    // Parses `bytes` (copied into an exactly-sized buffer, so an over-read is caught by
    // sanitizers) and requires a gguf::Error naming the file and containing every `expected`.
    void expectError(const std::vector<uint8_t>& bytes, const std::string& name,
                     std::initializer_list<std::string_view> expected) {
        auto exact = std::make_unique<uint8_t[]>(bytes.size() ? bytes.size() : 1);
        if (!bytes.empty()) std::memcpy(exact.get(), bytes.data(), bytes.size());
        g_largestAllocation = 0;
        try {
            auto f = File::fromMemory(std::span<const uint8_t>(exact.get(), bytes.size()), name);
            QFAIL(qPrintable(QString::fromStdString(name + ": was accepted")));
        } catch (const Error& e) {
            const std::string message = e.what();
            QVERIFY2(message.find(name) != std::string::npos, message.c_str());
            for (std::string_view part : expected)
                QVERIFY2(
                    message.find(part) != std::string::npos,
                    qPrintable(QString::fromStdString(message + "  (expected '" + std::string(part) + "')")));
        }
        // Nothing the file claims may make the reader allocate more than a few times its size.
        QVERIFY2(g_largestAllocation <= 4096 + 4 * bytes.size(),
                 qPrintable(QString("%1: largest allocation %2 bytes")
                                .arg(QString::fromStdString(name))
                                .arg(g_largestAllocation.load())));
    }

private slots:
    void validFileIsAccepted();
    void badMagic();
    void truncatedHeader();
    void truncatedAtEveryByte();
    void randomByteDamageNeverCrashes();
    void stringLengthPastEndOfFile();
    void tensorDataPastEndOfFile();
    void absurdDimensions();
    void overflowingElementCounts();
    void badRank();
    void duplicateTensorNames();
    void duplicateKeys();
    void misalignedOffsets();
    void badAlignmentKey();
    void unknownTensorType();
    void widthNotAMultipleOfTheBlock();
    void unknownValueType();
    void unsupportedVersions();
    void hugeCountsFailFast();
    void arraysNestedTooDeeply();
    void openNamesThePath();
};

void TestGgufMalformed::validFileIsAccepted() {
    const auto bytes = smallValidFile();
    auto f = File::fromMemory(bytes, "valid.gguf");
    QCOMPARE(f->tensors().size(), size_t(2));
    const TensorInfo& last = f->tensors().back();
    QCOMPARE(f->dataOffset() + last.offset + last.nbytes, uint64_t(bytes.size())); // no slack at the end
}

void TestGgufMalformed::badMagic() {
    auto bytes = smallValidFile();
    bytes[0] = 'X';
    expectError(bytes, "bad-magic.gguf", {"bad magic"});
    bytes = smallValidFile();
    std::memcpy(bytes.data(), "GGML", 4);
    expectError(bytes, "ggml-magic.gguf", {"not a GGUF file"});
}

void TestGgufMalformed::truncatedHeader() {
    const auto bytes = smallValidFile();
    expectError({}, "empty.gguf", {"not a GGUF file"});
    for (size_t size = 1; size < 24; ++size)
        expectError(std::vector<uint8_t>(bytes.begin(), bytes.begin() + size),
                    "short-" + std::to_string(size) + ".gguf", {});
    expectError(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 10), "short-count.gguf",
                {"truncated", "tensor count"});
}

void TestGgufMalformed::truncatedAtEveryByte() {
    const auto bytes = smallValidFile();
    for (size_t size = 0; size < bytes.size(); ++size)
        expectError(std::vector<uint8_t>(bytes.begin(), bytes.begin() + size),
                    "cut-" + std::to_string(size) + ".gguf", {});
}

void TestGgufMalformed::randomByteDamageNeverCrashes() {
    // Damage that may or may not leave a valid file: either outcome is fine, only an Error may escape.
    const auto original = smallValidFile();
    std::mt19937 rng(2024);
    int rejected = 0;
    for (int round = 0; round < 3000; ++round) {
        auto bytes = original;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int i = 0; i < flips; ++i) bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
        try {
            auto f = File::fromMemory(bytes, "damaged.gguf");
            for (const auto& t : f->tensors()) QVERIFY(t.data + t.nbytes <= bytes.data() + bytes.size());
        } catch (const Error& e) {
            QVERIFY(std::string(e.what()).find("damaged.gguf") != std::string::npos);
            ++rejected;
        }
    }
    QVERIFY(rejected > 100);
}

void TestGgufMalformed::stringLengthPastEndOfFile() {
    const auto original = smallValidFile();
    // The length of the value of general.architecture: after the key come the type (u32) and the length.
    const size_t lengthAt = afterKey(original, "general.architecture") + 4;
    for (uint64_t length :
         {uint64_t(original.size()), uint64_t(original.size() - lengthAt), ~uint64_t(0), uint64_t(1) << 63}) {
        auto bytes = original;
        poke<uint64_t>(bytes, lengthAt, length);
        expectError(bytes, "long-string.gguf", {"general.architecture", "past the end"});
    }
    // A key's own length.
    auto bytes = original;
    poke<uint64_t>(bytes, find(bytes, "key.a") - 8, uint64_t(1) << 40);
    expectError(bytes, "long-key.gguf", {"past the end"});
    // An item of a string array.
    bytes = original;
    poke<uint64_t>(bytes, find(bytes, "<eos>") - 8, uint64_t(1) << 40);
    expectError(bytes, "long-item.gguf", {"item 1", "tokens", "past the end"});
    // A tensor name.
    bytes = original;
    poke<uint64_t>(bytes, find(bytes, "tensor.tb") - 8, uint64_t(1) << 40);
    expectError(bytes, "long-name.gguf", {"past the end"});
}

void TestGgufMalformed::tensorDataPastEndOfFile() {
    const auto original = smallValidFile();
    auto bytes = original;
    poke<uint64_t>(bytes, tensorFields(bytes, "tensor.tb").offset, uint64_t(1) << 20);
    expectError(bytes, "data-past-end.gguf", {"tensor.tb", "past the end"});
    // Offset + size overflowing 64 bits.
    bytes = original;
    poke<uint64_t>(bytes, tensorFields(bytes, "tensor.tb").offset, ~uint64_t(31));
    expectError(bytes, "data-wraps.gguf", {"tensor.tb", "past the end"});
    // The last tensor's bytes partly missing.
    bytes = std::vector<uint8_t>(original.begin(), original.end() - 4);
    expectError(bytes, "data-short.gguf", {"tensor.tb", "past the end"});
}

void TestGgufMalformed::absurdDimensions() {
    const auto original = smallValidFile();
    auto bytes = original;
    poke<uint64_t>(bytes, tensorFields(bytes, "tensor.tb").dims, uint64_t(1) << 40);
    expectError(bytes, "huge-dim.gguf", {"tensor.tb", "more than the whole file"});
    bytes = original;
    poke<uint64_t>(bytes, tensorFields(bytes, "tensor.tb").dims + 8, uint64_t(1) << 62); // ne[1]
    expectError(bytes, "huge-rows.gguf", {"tensor.tb"});
    bytes = original;
    poke<uint64_t>(bytes, tensorFields(bytes, "tensor.tb").dims, ~uint64_t(0)); // -1 as int64
    expectError(bytes, "negative-dim.gguf", {"tensor.tb"});
}

void TestGgufMalformed::overflowingElementCounts() {
    const auto original = smallValidFile();
    auto bytes = original;
    const auto fields = tensorFields(bytes, "tensor.tb");
    poke<uint64_t>(bytes, fields.dims, uint64_t(1) << 32);
    poke<uint64_t>(bytes, fields.dims + 8, uint64_t(1) << 32);
    expectError(bytes, "overflow-elements.gguf", {"tensor.tb", "overflows"});
    // Elements fit in int64 but the byte size does not (Q8_0: 34 bytes per 32 elements... F32: x4).
    bytes = original;
    poke<uint64_t>(bytes, fields.dims, uint64_t(1) << 31);
    poke<uint64_t>(bytes, fields.dims + 8, uint64_t(1) << 31);
    expectError(bytes, "overflow-bytes.gguf", {"tensor.tb"});
    bytes = original;
    poke<uint64_t>(bytes, fields.dims, uint64_t(1) << 61);
    poke<uint64_t>(bytes, fields.dims + 8, 4);
    expectError(bytes, "overflow-nbytes.gguf", {"tensor.tb", "overflows"});
}

void TestGgufMalformed::badRank() {
    for (uint32_t rank : {0u, 5u, 0xffffffffu}) {
        auto bytes = smallValidFile();
        poke<uint32_t>(bytes, tensorFields(bytes, "tensor.ta").rank, rank);
        expectError(bytes, "rank.gguf", {"tensor.ta", "dimensions"});
    }
}

void TestGgufMalformed::duplicateTensorNames() {
    auto bytes = smallValidFile();
    bytes[find(bytes, "tensor.tb") + 8] = 'a'; // "tensor.tb" -> "tensor.ta"
    expectError(bytes, "duplicate-tensor.gguf", {"duplicate tensor name", "tensor.ta"});
}

void TestGgufMalformed::duplicateKeys() {
    auto bytes = smallValidFile();
    bytes[find(bytes, "key.b") + 4] = 'a'; // "key.b" -> "key.a"
    expectError(bytes, "duplicate-key.gguf", {"duplicate metadata key", "key.a"});
}

void TestGgufMalformed::misalignedOffsets() {
    auto bytes = smallValidFile();
    const size_t offsetAt = tensorFields(bytes, "tensor.tb").offset;
    uint64_t offset = 0;
    std::memcpy(&offset, bytes.data() + offsetAt, 8);
    poke<uint64_t>(bytes, offsetAt, offset - 4);
    expectError(bytes, "misaligned.gguf", {"tensor.tb", "alignment 32"});
}

void TestGgufMalformed::badAlignmentKey() {
    for (uint32_t alignment : {0u, 48u, 1u << 30}) {
        Writer w;
        w.setAlignment(64);
        w.addTensor("t", {8}, uint32_t(TensorType::F32), ramp(8));
        auto bytes = w.toBytes();
        poke<uint32_t>(bytes, afterKey(bytes, "general.alignment") + 4, alignment);
        expectError(bytes, "alignment.gguf", {"general.alignment"});
    }
    // A signed or string alignment is refused too.
    Writer w;
    w.set("general.alignment", MetaValue::uint32(64));
    auto bytes = w.toBytes();
    poke<uint32_t>(bytes, afterKey(bytes, "general.alignment"), uint32_t(ValueType::Int32));
    expectError(bytes, "alignment-type.gguf", {"general.alignment"});
}

void TestGgufMalformed::unknownTensorType() {
    for (uint32_t type : {4u, 77u, 0xdeadu}) {
        auto bytes = smallValidFile();
        poke<uint32_t>(bytes, tensorFields(bytes, "tensor.ta").type, type);
        expectError(bytes, "unknown-type.gguf", {"tensor.ta", "unknown tensor type " + std::to_string(type)});
    }
}

void TestGgufMalformed::widthNotAMultipleOfTheBlock() {
    auto bytes = smallValidFile();
    poke<uint64_t>(bytes, tensorFields(bytes, "tensor.ta").dims, 33); // Q8_0 needs multiples of 32
    expectError(bytes, "width.gguf", {"tensor.ta", "Q8_0", "33"});
}

void TestGgufMalformed::unknownValueType() {
    auto bytes = smallValidFile();
    poke<uint32_t>(bytes, afterKey(bytes, "key.a"), 13);
    expectError(bytes, "unknown-value.gguf", {"key.a", "unknown value type 13"});
    bytes = smallValidFile();
    poke<uint32_t>(bytes, afterKey(bytes, "scores") + 4, 1000); // the element type of an array
    expectError(bytes, "unknown-element.gguf", {"scores", "1000"});
}

void TestGgufMalformed::unsupportedVersions() {
    auto bytes = smallValidFile();
    poke<uint32_t>(bytes, 4, 1);
    expectError(bytes, "v1.gguf", {"version 1"});
    poke<uint32_t>(bytes, 4, 99);
    expectError(bytes, "v99.gguf", {"version 99"});
    poke<uint32_t>(bytes, 4, 0x03000000); // a big-endian file's version
    expectError(bytes, "big-endian.gguf", {"version"});
}

void TestGgufMalformed::hugeCountsFailFast() {
    const auto original = smallValidFile();
    struct Case {
        const char* name;
        size_t at;
        const char* expected;
    };
    const Case cases[] = {
        {"kv-count.gguf", kKvCountAt, "metadata count"},
        {"tensor-count.gguf", kTensorCountAt, "tensor count"},
        {"scalar-array.gguf", afterKey(original, "scores") + 8, "scores"},
        {"string-array.gguf", afterKey(original, "tokens") + 8, "tokens"},
        {"nested-array.gguf", afterKey(original, "nested") + 8, "nested"},
        {"inner-array.gguf", afterKey(original, "nested") + 16 + 4, "nested"},
    };
    for (const Case& c : cases) {
        // Absurd counts are refused by name; counts small enough to pass a first plausibility
        // check fail later (on whatever the bytes then hold), but equally fast and without allocating.
        for (uint64_t count :
             {uint64_t(1) << 62, ~uint64_t(0), uint64_t(original.size()), uint64_t(original.size() / 13)}) {
            auto bytes = original;
            poke<uint64_t>(bytes, c.at, count);
            QElapsedTimer timer;
            timer.start();
            if (count > original.size() / 13)
                expectError(bytes, c.name, {c.expected});
            else
                expectError(bytes, c.name, {});
            QVERIFY2(timer.elapsed() < 500, c.name);
        }
    }
}

void TestGgufMalformed::arraysNestedTooDeeply() {
    MetaValue v = MetaValue::int32Array({1});
    for (int depth = 0; depth < 8; ++depth) v = MetaValue::array(ValueType::Array, {v});
    Writer w;
    w.set("deep", v);
    expectError(w.toBytes(), "deep.gguf", {"deep", "nests arrays too deeply"});
}

void TestGgufMalformed::openNamesThePath() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::string path = dir.filePath("broken-model.gguf").toStdString();
    auto bytes = smallValidFile();
    bytes.resize(bytes.size() / 2);
    QFile out(QString::fromStdString(path));
    QVERIFY(out.open(QIODevice::WriteOnly));
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<qint64>(bytes.size()));
    out.close();
    for (const std::string& p :
         {path, dir.filePath("missing.gguf").toStdString(), dir.path().toStdString()}) {
        try {
            File::open(p);
            QFAIL("accepted");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find(p) != std::string::npos, e.what());
        }
    }
}

QTEST_APPLESS_MAIN(TestGgufMalformed)
#include "test_gguf_malformed.moc"
