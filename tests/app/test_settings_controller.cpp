// Settings: every value survives a restart (a new SettingsController reads what the last one
// wrote), values the engine could not use are clamped, presets save and apply, the sampling reset
// returns to Gemma 4's defaults.
#include "settings_controller.h"
#include "theme.h"

#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QtTest>

class TestSettingsController : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }
    void init() { QSettings().clear(); }
    void cleanupTestCase() { QSettings().clear(); }

    void defaults() {
        SettingsController s;
        QVERIFY(s.samplingIsDefault());
        QCOMPARE(s.temperature(), 1.0);
        QCOMPARE(s.topK(), 64);
        QCOMPARE(float(s.topP()), 0.95f);
        QCOMPARE(s.seed(), -1);
        QCOMPARE(s.contextSize(), 4096);
        QCOMPARE(s.contextPolicy(), SettingsController::ContextPolicy::StopWhenFull);
        QCOMPARE(s.imageTokenBudget(), 280);
        QCOMPARE(s.documentTokenBudget(), 1120);
        QCOMPARE(s.device(), QStringLiteral("auto"));
        QVERIFY(!s.thinking());
        QVERIFY(!s.dataLocation().isEmpty());
        QVERIFY(s.settingsLocation().endsWith(QStringLiteral(".conf")));
    }

    void everyValueSurvivesARestart() {
        {
            SettingsController s;
            QSignalSpy changed(&s, &SettingsController::changed);
            s.setSystemPrompt(QStringLiteral("You are terse."));
            s.setThinking(true);
            s.setTemperature(0.7);
            s.setTopK(20);
            s.setTopP(0.8);
            s.setMinP(0.05);
            s.setRepetitionPenalty(1.1);
            s.setSeed(1234);
            s.setMaxTokens(512);
            s.setContextSize(8192);
            s.setContextPolicy(SettingsController::ContextPolicy::DropOldestTurns);
            s.setImageTokenBudget(560);
            s.setDocumentTokenBudget(1120);
            s.setDevice(QStringLiteral("vulkan:0"));
            s.setThemeMode(2);
            s.setFontSize(17);
            QVERIFY(s.savePreset(QStringLiteral("Terse")));
            QCOMPARE(changed.count(), 16); // one per change (the budget of 1120 was already set)
            QVERIFY(!s.samplingIsDefault());
        }
        SettingsController s;
        QCOMPARE(s.systemPrompt(), QStringLiteral("You are terse."));
        QVERIFY(s.thinking());
        QCOMPARE(float(s.temperature()), 0.7f);
        QCOMPARE(s.topK(), 20);
        QCOMPARE(float(s.topP()), 0.8f);
        QCOMPARE(float(s.minP()), 0.05f);
        QCOMPARE(float(s.repetitionPenalty()), 1.1f);
        QCOMPARE(s.seed(), 1234);
        QCOMPARE(s.maxTokens(), 512);
        QCOMPARE(s.samplingForAnswer().seed, 1234ull);
        QCOMPARE(s.contextSize(), 8192);
        QCOMPARE(s.contextPolicy(), SettingsController::ContextPolicy::DropOldestTurns);
        QCOMPARE(s.imageTokenBudget(), 560);
        QCOMPARE(s.device(), QStringLiteral("vulkan:0"));
        QCOMPARE(s.themeMode(), 2);
        QCOMPARE(s.fontSize(), 17);
        QCOMPARE(s.presetNames(), QStringList{QStringLiteral("Terse")});
    }

    void valuesAreClamped() {
        SettingsController s;
        s.setTemperature(9);
        QCOMPARE(s.temperature(), 2.0);
        s.setTopP(0);
        QVERIFY(s.topP() > 0);
        s.setRepetitionPenalty(0.5);
        QCOMPARE(s.repetitionPenalty(), 1.0);
        s.setContextSize(10);
        QCOMPARE(s.contextSize(), SettingsController::kMinContextSize);
        s.setSeed(-20);
        QCOMPARE(s.seed(), -1);
        s.setDevice(QStringLiteral("gpu please"));
        QCOMPARE(s.device(), QStringLiteral("auto"));
        s.setFontSize(100);
        QCOMPARE(s.fontSize(), int(Theme::kMaxFontSize));
    }

    void presetsAndReset() {
        SettingsController s;
        s.setSystemPrompt(QStringLiteral("Pirate voice."));
        QVERIFY(s.savePreset(QStringLiteral("Pirate")));
        s.setSystemPrompt(QStringLiteral("Formal."));
        QVERIFY(s.savePreset(QStringLiteral("formal")));
        QVERIFY(!s.savePreset(QStringLiteral("  ")));
        QVERIFY(!s.savePreset(QStringLiteral("a/b")));
        QCOMPARE(s.presetNames(), (QStringList{QStringLiteral("formal"), QStringLiteral("Pirate")}));
        QVERIFY(s.applyPreset(QStringLiteral("Pirate")));
        QCOMPARE(s.systemPrompt(), QStringLiteral("Pirate voice."));
        QVERIFY(!s.applyPreset(QStringLiteral("missing")));
        QVERIFY(s.removePreset(QStringLiteral("Pirate")));
        QCOMPARE(s.presetNames(), QStringList{QStringLiteral("formal")});

        s.setTemperature(0.2);
        s.setSeed(5);
        s.resetSampling();
        QVERIFY(s.samplingIsDefault());
        QCOMPARE(s.temperature(), 1.0);
        QCOMPARE(s.seed(), -1);
        QVERIFY(s.samplingForAnswer().seed != s.samplingForAnswer().seed); // random per answer
    }
};

QTEST_MAIN(TestSettingsController)
#include "test_settings_controller.moc"
