// The sampler's steps checked on small distributions with fixed seeds. Expected values come from
// the definitions (softmax, nucleus, thresholds), computed here independently of the sampler.
#include "engine/sampler.h"

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>

using namespace ocelle::engine;

namespace {

std::vector<float> randomLogits(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 3.0f);
    std::vector<float> logits(n);
    for (float& l : logits) l = normal(rng);
    return logits;
}

int32_t argmax(const std::vector<float>& logits) {
    return int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

std::vector<float> logitsFromProbabilities(const std::vector<double>& p) {
    std::vector<float> logits;
    for (double v : p) logits.push_back(float(std::log(v)));
    return logits;
}

SamplerParams plain(uint64_t seed = 1) {
    SamplerParams p;
    p.temperature = 1.0f;
    p.topK = 0;
    p.topP = 1.0f;
    p.minP = 0.0f;
    p.seed = seed;
    return p;
}

std::map<int32_t, int> histogram(Sampler& sampler, const std::vector<float>& logits, int draws) {
    std::map<int32_t, int> counts;
    for (int i = 0; i < draws; ++i) counts[sampler.sample(logits)]++;
    return counts;
}

} // namespace

class TestSampler : public QObject {
    Q_OBJECT
private slots:
    void temperatureZeroIsGreedy() {
        for (uint32_t seed = 0; seed < 20; ++seed) {
            auto logits = randomLogits(1000, seed);
            SamplerParams p = plain(seed);
            p.temperature = 0.0f;
            Sampler sampler(p);
            QCOMPARE(sampler.sample(logits), argmax(logits));
        }
    }

    void greedyTiesGoToLowestId() {
        SamplerParams p = plain();
        p.temperature = 0.0f;
        Sampler sampler(p);
        QCOMPARE(sampler.sample(std::vector<float>{1.0f, 3.0f, 0.0f, 3.0f}), 1);
        // Long rows (the fast path works in blocks): ties, the very last id, all -inf.
        std::vector<float> row(1003, -5.0f);
        row[900] = 7.0f;
        row[517] = 7.0f;
        QCOMPARE(sampler.sample(row), 517);
        row[1002] = 8.0f;
        QCOMPARE(sampler.sample(row), 1002);
        std::fill(row.begin(), row.end(), -std::numeric_limits<float>::infinity());
        QCOMPARE(sampler.sample(row), 0);
    }

    void topKOneIsGreedy() {
        for (uint32_t seed = 0; seed < 20; ++seed) {
            auto logits = randomLogits(5000, seed + 100);
            SamplerParams p = plain(seed);
            p.topK = 1;
            p.temperature = 1.5f;
            Sampler sampler(p);
            for (int i = 0; i < 5; ++i) QCOMPARE(sampler.sample(logits), argmax(logits));
        }
    }

    void topKKeepsOnlyTheKLargest() {
        auto logits = randomLogits(200, 7);
        std::vector<int32_t> order(logits.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = int32_t(i);
        std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
        const std::set<int32_t> allowed(order.begin(), order.begin() + 5);
        SamplerParams p = plain(3);
        p.topK = 5;
        p.temperature = 5.0f; // flat enough that all five show up
        Sampler sampler(p);
        auto counts = histogram(sampler, logits, 3000);
        for (auto [id, n] : counts)
            QVERIFY2(allowed.count(id), qPrintable(QString("id %1 outside top-5").arg(id)));
        QCOMPARE(counts.size(), size_t(5));
    }

    void samplingFollowsTheSoftmax() {
        // p = softmax(l / T) for T = 1 and T = 0.5 (sharper) and T = 2 (flatter).
        const std::vector<float> logits{0.0f, 1.0f, 2.0f, -1.0f};
        for (float temperature : {1.0f, 0.5f, 2.0f}) {
            SamplerParams p = plain(42);
            p.temperature = temperature;
            Sampler sampler(p);
            const int draws = 40000;
            auto counts = histogram(sampler, logits, draws);
            double total = 0;
            for (float l : logits) total += std::exp(l / temperature);
            for (size_t id = 0; id < logits.size(); ++id) {
                const double expected = std::exp(logits[id] / temperature) / total;
                const double observed = double(counts[int32_t(id)]) / draws;
                // 5 standard deviations of a binomial proportion: fails only when the law is wrong.
                const double tolerance = 5 * std::sqrt(expected * (1 - expected) / draws);
                QVERIFY2(std::abs(observed - expected) < tolerance, qPrintable(QString("T=%1 id %2: %3 vs %4")
                                                                                   .arg(temperature)
                                                                                   .arg(id)
                                                                                   .arg(observed)
                                                                                   .arg(expected)));
            }
        }
    }

    void topPKeepsTheMinimalNucleus() {
        // 0.5 + 0.3 = 0.8 >= 0.75 and 0.5 < 0.75: the nucleus is {0, 1}, renormalised to 5/8, 3/8.
        auto logits = logitsFromProbabilities({0.5, 0.3, 0.15, 0.05});
        SamplerParams p = plain(9);
        p.topP = 0.75f;
        Sampler sampler(p);
        const int draws = 20000;
        auto counts = histogram(sampler, logits, draws);
        QCOMPARE(counts.size(), size_t(2));
        QVERIFY(counts.count(0) && counts.count(1));
        const double share = double(counts[0]) / draws;
        QVERIFY2(std::abs(share - 0.625) < 0.02, qPrintable(QString::number(share)));

        // A nucleus that needs exactly the top id.
        p.topP = 0.5f;
        Sampler narrow(p);
        auto only = histogram(narrow, logits, 500);
        QCOMPARE(only.size(), size_t(1));
        QCOMPARE(only.begin()->first, 0);
    }

    void topPOnAFullVocabularyWithoutTopK() {
        // 1000 equally likely ids scattered over a 262144 vocabulary, the rest negligible: a 0.5
        // nucleus is 500 of them (ties by lower id), far more than the first partial sort takes.
        std::vector<float> logits(262144, -200.0f);
        std::vector<int32_t> likely;
        for (int32_t i = 0; i < 1000; ++i) likely.push_back(i * 211 + 17);
        for (int32_t id : likely) logits[size_t(id)] = 0.0f;
        SamplerParams p = plain(5);
        p.topP = 0.5f;
        Sampler sampler(p);
        auto counts = histogram(sampler, logits, 300);
        const std::set<int32_t> firstHalf(likely.begin(), likely.begin() + 501); // 500, +1 for rounding
        int32_t highestIndex = 0;
        for (auto [id, n] : counts) {
            QVERIFY2(firstHalf.count(id), qPrintable(QString("id %1 outside the nucleus").arg(id)));
            highestIndex = std::max(highestIndex, int32_t((id - 17) / 211));
        }
        QVERIFY2(highestIndex > 450, "the nucleus was cut short"); // draws reach the nucleus' end
    }

    void minPDropsUnlikelyIds() {
        // min-p 0.1 with p_max 0.5: ids below probability 0.05 go.
        auto logits = logitsFromProbabilities({0.5, 0.2, 0.1, 0.04, 0.16});
        SamplerParams p = plain(11);
        p.minP = 0.1f;
        Sampler sampler(p);
        auto counts = histogram(sampler, logits, 20000);
        QVERIFY(!counts.count(3));
        for (int32_t id : {0, 1, 2, 4}) QVERIFY(counts.count(id));
        // Renormalised over 0.96: id 0 has 0.5/0.96.
        QVERIFY(std::abs(counts[0] / 20000.0 - 0.5 / 0.96) < 0.02);
    }

    void minPAppliesBeforeTemperature() {
        // With a high temperature the tail would be likely, but min-p judged it at T = 1.
        auto logits = logitsFromProbabilities({0.9, 0.05, 0.05});
        SamplerParams p = plain(2);
        p.minP = 0.1f; // threshold 0.09: only id 0 survives
        p.temperature = 10.0f;
        Sampler sampler(p);
        auto counts = histogram(sampler, logits, 500);
        QCOMPARE(counts.size(), size_t(1));
    }

    void repetitionPenaltyChangesTheRanking() {
        SamplerParams p = plain();
        p.temperature = 0.0f;
        p.repetitionPenalty = 1.2f; // 2.0 / 1.2 = 1.67 < 1.9
        Sampler sampler(p);
        const std::vector<float> positive{2.0f, 1.9f, 0.5f};
        QCOMPARE(sampler.sample(positive), 0);
        sampler.accept(0);
        QCOMPARE(sampler.sample(positive), 1);
        // Negative logits are multiplied: -1.0 * 1.2 = -1.2 < -1.1.
        Sampler negative(p);
        negative.accept(0);
        QCOMPARE(negative.sample(std::vector<float>{-1.0f, -1.1f}), 1);
    }

    void presencePenaltyChangesTheRanking() {
        SamplerParams p = plain();
        p.temperature = 0.0f;
        p.presencePenalty = 0.5f; // 2.0 - 0.5 < 1.9, once however often 0 occurred
        Sampler sampler(p);
        const std::vector<float> logits{2.0f, 1.9f, 1.55f};
        sampler.accept(0);
        sampler.accept(0);
        sampler.accept(0);
        QCOMPARE(sampler.sample(logits), 1);
        sampler.accept(1); // 1.5, 1.4, 1.55
        QCOMPARE(sampler.sample(logits), 2);
    }

    void penaltiesLookOnlyAtTheWindow() {
        SamplerParams p = plain();
        p.temperature = 0.0f;
        p.presencePenalty = 1.0f;
        p.penaltyWindow = 2;
        Sampler sampler(p);
        const std::vector<float> logits{2.0f, 1.5f, 0.0f, 0.0f};
        sampler.accept(0);
        QCOMPARE(sampler.sample(logits), 1);
        sampler.accept(2);
        sampler.accept(3); // 0 has left the two-token window
        QCOMPARE(sampler.sample(logits), 0);
        sampler.reset();
        QCOMPARE(sampler.sample(logits), 0);
    }

    void sameSeedSameSequenceDifferentSeedDifferent() {
        auto logits = randomLogits(300, 21);
        SamplerParams p = plain(1234);
        p.topK = 40;
        p.topP = 0.95f;
        p.temperature = 1.5f;
        auto run = [&](uint64_t seed) {
            SamplerParams q = p;
            q.seed = seed;
            Sampler sampler(q);
            std::vector<int32_t> ids;
            for (int i = 0; i < 300; ++i) ids.push_back(sampler.sample(logits));
            return ids;
        };
        const auto a = run(1234);
        QCOMPARE(run(1234), a);
        const auto b = run(1235);
        QVERIFY(b != a);
        int same = 0;
        for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
        QVERIFY2(same < 200, qPrintable(QString::number(same))); // not merely shifted copies

        SamplerParams q = p;
        Sampler restarted(q);
        for (int i = 0; i < 10; ++i) restarted.sample(logits);
        restarted.reset();
        std::vector<int32_t> again;
        for (int i = 0; i < 300; ++i) again.push_back(restarted.sample(logits));
        QCOMPARE(again, a);
    }

    void rejectsBadInput() {
        SamplerParams p = plain();
        p.topP = 0.0f;
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, Sampler{p});
        p = plain();
        p.repetitionPenalty = 0.0f;
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, Sampler{p});
        p = plain();
        p.penaltyWindow = -1;
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, Sampler{p});
        Sampler sampler(plain());
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, sampler.sample(std::vector<float>{}));
        QVERIFY_THROWS_EXCEPTION(std::runtime_error, sampler.sample(std::vector<float>{0.0f, std::nanf("")}));
    }

    void stopConditions() {
        StopConditions stop{{1, 106, 50}, 10};
        QVERIFY(stop.isStop(106));
        QVERIFY(!stop.isStop(105));
    }
};

QTEST_APPLESS_MAIN(TestSampler)
#include "test_sampler.moc"
