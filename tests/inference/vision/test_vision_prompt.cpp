// Images inside a conversation (fixtures README section 5): the chat format places `<|image>` + N
// soft tokens + `<image|>` as llama.cpp's mtmd does, the soft tokens enter the tiny E text model
// unscaled, and the last-position logits of the vision.ref.json prompt match the float64 reference
// under both attention policies: causal (HF for E models) and llama.cpp's non-causal image chunk
// (bidirectional on sliding layers). Also with soft tokens from our own encoder.
#include "chat/chat_format.h"
#include "cpu/cpu_model.h"
#include "engine/engine.h"
#include "gguf/gguf.h"
#include "inference/encoder_test_support.h"
#include "tokenizer/vocab.h"
#include "vision/vision_encoder.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <algorithm>
#include <cmath>

using namespace ocelle;

namespace {

using test::readFloats;
using test::readJson;

const QString kVisionDir = QStringLiteral(OCELLE_FIXTURES_DIR "/vision/");
const std::string kTextModel = OCELLE_FIXTURES_DIR "/models/tiny-gemma4-e.gguf";
const std::string kMmproj = OCELLE_FIXTURES_DIR "/vision/tiny-gemma4-e-mmproj.gguf";

} // namespace

class TestVisionPrompt : public QObject {
    Q_OBJECT

private:
    QJsonObject ref_ = readJson(kVisionDir + "vision.ref.json");
    std::unique_ptr<cpu::CpuModel> model_ = cpu::CpuModel::load(kTextModel, 2);
    std::unique_ptr<tokenizer::Vocab> vocab_ = tokenizer::Vocab::load(kTextModel);

    // The fixture's prompt rendered by our chat format: the user turn holds the image, then the text.
    chat::Prompt render(int softTokens) {
        chat::Conversation conversation;
        conversation.messages.push_back(
            {"user", {chat::Part::image(softTokens), chat::Part::makeText("Describe.")}, {}, {}});
        return chat::ChatFormat(*vocab_).render(conversation);
    }

    // The fixture's prompt as llama.cpp's mtmd laid it out: its text chunks' ids around the image
    // chunk, whose positions hold `placeholder` (replaced by the soft tokens).
    std::vector<int32_t> fixtureIds(const QJsonObject& image, int32_t placeholder, int64_t& imageFirst,
                                    int64_t& imageCount) {
        std::vector<int32_t> ids;
        for (const auto& chunk : image["chunks"].toArray()) {
            const auto c = chunk.toObject();
            if (c["type"].toString() == "image") {
                imageFirst = int64_t(ids.size());
                imageCount = c["n_tokens"].toInt();
                ids.insert(ids.end(), size_t(imageCount), placeholder);
            } else {
                for (const auto& id : c["ids"].toArray()) ids.push_back(id.toInt());
            }
        }
        return ids;
    }

    // Last-position logits of the fixture prompt with `soft` at the image span.
    std::vector<float> promptLogits(const QJsonObject& image, const std::vector<float>& soft,
                                    bool bidirectional, int maxBatch = 256) {
        cpu::SoftTokens span;
        const auto ids =
            fixtureIds(image, chat::ChatFormat(*vocab_).tokens().imageSoft, span.first, span.count);
        if (size_t(span.count) * size_t(model_->hparams().nEmbd) != soft.size())
            qFatal("soft token size mismatch");
        span.embeddings = soft;
        span.bidirectional = bidirectional;
        auto session = model_->createSession({.contextLength = 512, .maxBatch = maxBatch});
        return session->prefill(ids, cpu::LogitsFor::Last, std::span(&span, 1));
    }

    static double worstTop10(const std::vector<float>& logits, const QJsonObject& reference) {
        const auto top10 = reference["top10"].toArray();
        if (top10.size() != 10) qFatal("float64 reference top10 missing");
        double worst = 0;
        for (const auto& pair : top10)
            worst = std::max(
                worst, std::abs(logits[size_t(pair.toArray()[0].toInt())] - pair.toArray()[1].toDouble()));
        return worst;
    }

    void rows() {
        QTest::addColumn<int>("index");
        QTest::addColumn<bool>("bidirectional");
        const auto images = ref_["images"].toArray();
        for (int i = 0; i < images.size(); ++i) {
            const QString name = images[i].toObject()["image"].toString();
            QTest::newRow(qPrintable(name + " causal")) << i << false;
            QTest::newRow(qPrintable(name + " llama.cpp non-causal")) << i << true;
        }
    }

    QJsonObject reference(const QJsonObject& image, bool bidirectional) {
        return image["float64_reference_last_logits"]
            .toObject()[bidirectional ? "llama_cpp_default" : "causal"]
            .toObject();
    }

private slots:
    void chatFormatMatchesMtmdChunks_data() {
        QTest::addColumn<int>("index");
        const auto images = ref_["images"].toArray();
        for (int i = 0; i < images.size(); ++i)
            QTest::newRow(qPrintable(images[i].toObject()["image"].toString())) << i;
    }
    void chatFormatMatchesMtmdChunks() {
        // mtmd's chunks: text ids, the image's n_tokens positions, text ids; <|image> and <image|> are
        // the text tokens next to the image (mtmd adds them). Our chat format renders the same
        // markers around the span; like HF's chat template it also puts "\n\n" before <|image> and
        // after <image|>, which the fixture's raw `<__media__>` prompt does not have.
        QFETCH(int, index);
        const auto image = ref_["images"].toArray()[index].toObject();
        int64_t imageFirst = -1, imageCount = 0;
        const auto expected = fixtureIds(image, -1, imageFirst, imageCount);
        const chat::Prompt prompt = render(int(imageCount));
        QCOMPARE(prompt.spans.size(), size_t(1));
        const size_t begin = prompt.spans[0].begin;
        QCOMPARE(int64_t(prompt.spans[0].count), imageCount);
        QVERIFY(begin >= 1 && begin + size_t(imageCount) < prompt.tokens.size());
        QCOMPARE(prompt.tokens[begin - 1], expected[size_t(imageFirst - 1)]); // <|image>
        QCOMPARE(prompt.tokens[begin + size_t(imageCount)],
                 expected[size_t(imageFirst + imageCount)]); // <image|>
        for (int64_t i = 0; i < imageCount; ++i)
            QCOMPARE(prompt.tokens[begin + size_t(i)], chat::ChatFormat(*vocab_).tokens().imageSoft);
        QCOMPARE(vocab_->text(prompt.tokens[begin - 1]), std::string("<|image>"));
        QCOMPARE(vocab_->text(prompt.tokens[begin + size_t(imageCount)]), std::string("<image|>"));
        // Same conversation start and end as the fixture prompt.
        for (size_t i = 0; i < 3; ++i) QCOMPARE(prompt.tokens[i], expected[i]); // <bos><|turn>user
        // ... and the same end of the user turn and start of the model turn (<turn|>\n<|turn>model\n;
        // the generation prompt may go on with an empty thought channel).
        const std::vector<int32_t> turnEnd(expected.end() - 5, expected.end());
        QVERIFY(std::search(prompt.tokens.begin() + long(begin), prompt.tokens.end(), turnEnd.begin(),
                            turnEnd.end()) != prompt.tokens.end());
    }

    void fixtureSoftTokens_data() { rows(); }
    void fixtureSoftTokens() {
        QFETCH(int, index);
        QFETCH(bool, bidirectional);
        const auto image = ref_["images"].toArray()[index].toObject();
        const auto soft = readFloats(kVisionDir + image["embeddings"].toObject()["file"].toString());
        const auto logits = promptLogits(image, soft, bidirectional);
        const double worst = worstTop10(logits, reference(image, bidirectional));
        // The other policy's reference is far away: the switch really changes the attention.
        const double other = worstTop10(logits, reference(image, !bidirectional));
        qInfo("max |ours - float64| over the top 10: %.3g (other policy's reference: %.3g)", worst, other);
        QVERIFY2(worst < 2e-3, qPrintable(QString::number(worst)));
        QVERIFY(other > 0.05);
    }

    void bidirectionalSpanIsNeverSplit() {
        // Passes of 16 tokens: the image must still be evaluated in one pass (same logits).
        const auto image = ref_["images"].toArray()[0].toObject();
        const auto soft = readFloats(kVisionDir + image["embeddings"].toObject()["file"].toString());
        const auto whole = promptLogits(image, soft, true, 512);
        const auto split = promptLogits(image, soft, true, 16);
        double worst = 0;
        for (size_t i = 0; i < whole.size(); ++i)
            worst = std::max(worst, double(std::abs(whole[i] - split[i])));
        QVERIFY2(worst < 1e-4, qPrintable(QString::number(worst)));
    }

    void throughTheEngine_data() { rows(); }
    void throughTheEngine() {
        // engine::SoftTokenSpan::bidirectional reaches the CPU session (the path `run --image` takes).
        QFETCH(int, index);
        QFETCH(bool, bidirectional);
        const auto image = ref_["images"].toArray()[index].toObject();
        const auto soft = readFloats(kVisionDir + image["embeddings"].toObject()["file"].toString());
        engine::LoadOptions options;
        options.threads = 2;
        auto model = engine::Model::load(kTextModel, options);
        engine::Prompt prompt;
        int64_t first = 0, count = 0;
        prompt.ids = fixtureIds(image, chat::ChatFormat(*vocab_).tokens().imageSoft, first, count);
        prompt.softTokens.push_back({int(first), int(count), soft, bidirectional});
        auto session = model->createSession({.contextLength = 512});
        QVERIFY(!session->feed(prompt).cancelled);
        const auto last = session->lastLogits();
        const double worst =
            worstTop10(std::vector<float>(last.begin(), last.end()), reference(image, bidirectional));
        QVERIFY2(worst < 2e-3, qPrintable(QString::number(worst)));
    }

    void ownEncoderSoftTokens_data() { rows(); }
    void ownEncoderSoftTokens() {
        QFETCH(int, index);
        QFETCH(bool, bidirectional);
        const auto image = ref_["images"].toArray()[index].toObject();
        auto encoder = vision::VisionEncoder::load(kMmproj, 2);
        encoder->checkCompatible(model_->hparams(), kTextModel);
        const auto pre = image["preprocessed"].toObject();
        const auto soft = encoder->encodePixels(readFloats(kVisionDir + pre["file"].toString()),
                                                pre["width"].toInt(), pre["height"].toInt());
        const double worst =
            worstTop10(promptLogits(image, soft, bidirectional), reference(image, bidirectional));
        qInfo("max |ours - float64| over the top 10: %.3g", worst);
        QVERIFY2(worst < 0.1, qPrintable(QString::number(worst)));
    }
};

QTEST_APPLESS_MAIN(TestVisionPrompt)
#include "test_vision_prompt.moc"
