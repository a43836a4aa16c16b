// The app's settings, persisted with QSettings: the system prompt and its saved presets, thinking,
// sampling (with Gemma 4's shipped defaults and a reset), the context size and what happens when a
// conversation fills it, the image/document token budgets, the device, the theme and the font
// size. ChatController reads generation settings from here for every answer; ModelController
// loads with the device and context size (bound in Main.qml; a change applies at the next load).
// Theme follows themeMode and fontSize (bound in Main.qml, so --theme can override one run).
#pragma once

#include "chat_engine.h"

#include <QObject>
#include <QSettings>
#include <QString>
#include <QStringList>
#include <QVariantList>
#include <QtQml/qqmlregistration.h>

class QQmlEngine;

class SettingsController : public QObject {
    Q_OBJECT
    QML_NAMED_ELEMENT(AppSettings)
    QML_SINGLETON

    Q_PROPERTY(QString systemPrompt READ systemPrompt WRITE setSystemPrompt NOTIFY changed)
    Q_PROPERTY(QStringList presetNames READ presetNames NOTIFY changed)
    Q_PROPERTY(bool thinking READ thinking WRITE setThinking NOTIFY changed)
    Q_PROPERTY(double temperature READ temperature WRITE setTemperature NOTIFY changed)
    Q_PROPERTY(int topK READ topK WRITE setTopK NOTIFY changed)
    Q_PROPERTY(double topP READ topP WRITE setTopP NOTIFY changed)
    Q_PROPERTY(double minP READ minP WRITE setMinP NOTIFY changed)
    Q_PROPERTY(double repetitionPenalty READ repetitionPenalty WRITE setRepetitionPenalty NOTIFY changed)
    Q_PROPERTY(int seed READ seed WRITE setSeed NOTIFY changed)
    Q_PROPERTY(int maxTokens READ maxTokens WRITE setMaxTokens NOTIFY changed)
    Q_PROPERTY(bool samplingIsDefault READ samplingIsDefault NOTIFY changed)
    Q_PROPERTY(int contextSize READ contextSize WRITE setContextSize NOTIFY changed)
    Q_PROPERTY(ContextPolicy contextPolicy READ contextPolicy WRITE setContextPolicy NOTIFY changed)
    Q_PROPERTY(int imageTokenBudget READ imageTokenBudget WRITE setImageTokenBudget NOTIFY changed)
    Q_PROPERTY(int documentTokenBudget READ documentTokenBudget WRITE setDocumentTokenBudget NOTIFY changed)
    Q_PROPERTY(QString device READ device WRITE setDevice NOTIFY changed)
    Q_PROPERTY(int themeMode READ themeMode WRITE setThemeMode NOTIFY changed)
    Q_PROPERTY(int fontSize READ fontSize WRITE setFontSize NOTIFY changed)
    Q_PROPERTY(QString dataLocation READ dataLocation CONSTANT)
    Q_PROPERTY(QString settingsLocation READ settingsLocation CONSTANT)

public:
    // When a conversation no longer fits the context with room for an answer.
    enum class ContextPolicy { StopWhenFull, DropOldestTurns };
    Q_ENUM(ContextPolicy)

    static constexpr int kDefaultContextSize = 4096;
    static constexpr int kMinContextSize = 512;
    static constexpr int kMaxContextSize = 131072;
    static constexpr int kDefaultImageTokens = 280;
    static constexpr int kDefaultDocumentTokens = 1120;

    explicit SettingsController(QObject* parent = nullptr);

    static SettingsController* instance(QQmlEngine* engine);

    QString systemPrompt() const { return systemPrompt_; }
    void setSystemPrompt(const QString& prompt);
    QStringList presetNames() const;
    // Saves the current system prompt under `name` (replacing a preset of that name).
    Q_INVOKABLE bool savePreset(const QString& name);
    Q_INVOKABLE bool applyPreset(const QString& name);
    Q_INVOKABLE bool removePreset(const QString& name);

    bool thinking() const { return thinking_; }
    void setThinking(bool on);

    double temperature() const { return sampling_.temperature; }
    void setTemperature(double value);
    int topK() const { return sampling_.topK; }
    void setTopK(int value);
    double topP() const { return sampling_.topP; }
    void setTopP(double value);
    double minP() const { return sampling_.minP; }
    void setMinP(double value);
    double repetitionPenalty() const { return sampling_.repetitionPenalty; }
    void setRepetitionPenalty(double value);
    // -1: a new random seed for every answer; otherwise answers repeat for the same prompt.
    int seed() const { return seed_; }
    void setSeed(int value);
    int maxTokens() const { return sampling_.maxTokens; }
    void setMaxTokens(int value);
    bool samplingIsDefault() const;
    // Back to Gemma 4's shipped defaults (temperature 1.0, top-k 64, top-p 0.95, no min-p, no
    // repetition penalty), a random seed and the default answer length.
    Q_INVOKABLE void resetSampling();
    // The sampling for one answer (a random seed drawn now when seed() is -1).
    ocelle::app::SamplingSettings samplingForAnswer() const;

    int contextSize() const { return contextSize_; }
    void setContextSize(int tokens);
    ContextPolicy contextPolicy() const { return contextPolicy_; }
    void setContextPolicy(ContextPolicy policy);
    int imageTokenBudget() const { return imageTokens_; }
    void setImageTokenBudget(int tokens);
    int documentTokenBudget() const { return documentTokens_; }
    void setDocumentTokenBudget(int tokens);

    // "auto", "cpu" or "vulkan:<index>" (as ocelle-cli devices numbers them); ModelController
    // loads with it (Main.qml binds it).
    QString device() const { return device_; }
    void setDevice(const QString& device);

    int themeMode() const { return themeMode_; } // Theme::Mode as int
    void setThemeMode(int mode);
    int fontSize() const { return fontSize_; }
    void setFontSize(int pixels);

    QString dataLocation() const;
    QString settingsLocation() const;

signals:
    void changed();

private:
    void load();
    void saveSampling();

    QSettings settings_;
    QString systemPrompt_;
    bool thinking_ = false;
    ocelle::app::SamplingSettings sampling_;
    int seed_ = -1;
    int contextSize_ = kDefaultContextSize;
    ContextPolicy contextPolicy_ = ContextPolicy::StopWhenFull;
    int imageTokens_ = kDefaultImageTokens;
    int documentTokens_ = kDefaultDocumentTokens;
    QString device_ = QStringLiteral("auto");
    int themeMode_ = 0;
    int fontSize_ = 14;
};
