#include "settings_controller.h"

#include "theme.h"

#include <QDir>
#include <QGuiApplication>
#include <QQmlEngine>
#include <QRandomGenerator>
#include <QStandardPaths>
#include <QtQml/qqml.h>
#include <algorithm>

namespace {
const QString kPresetsGroup = QStringLiteral("systemPromptPresets");
} // namespace

SettingsController::SettingsController(QObject* parent) : QObject(parent) {
    load();
}

SettingsController* SettingsController::instance(QQmlEngine* engine) {
    return engine->singletonInstance<SettingsController*>(qmlTypeId("Ocelle.App", 1, 0, "AppSettings"));
}

void SettingsController::load() {
    QSettings& s = settings_;
    systemPrompt_ = s.value(QStringLiteral("generation/systemPrompt")).toString();
    thinking_ = s.value(QStringLiteral("generation/thinking"), false).toBool();
    const ocelle::app::SamplingSettings defaults;
    sampling_.temperature = s.value(QStringLiteral("sampling/temperature"), defaults.temperature).toFloat();
    sampling_.topK = s.value(QStringLiteral("sampling/topK"), defaults.topK).toInt();
    sampling_.topP = s.value(QStringLiteral("sampling/topP"), defaults.topP).toFloat();
    sampling_.minP = s.value(QStringLiteral("sampling/minP"), defaults.minP).toFloat();
    sampling_.repetitionPenalty =
        s.value(QStringLiteral("sampling/repetitionPenalty"), defaults.repetitionPenalty).toFloat();
    sampling_.maxTokens = s.value(QStringLiteral("sampling/maxTokens"), defaults.maxTokens).toInt();
    seed_ = s.value(QStringLiteral("sampling/seed"), -1).toInt();
    contextSize_ = std::clamp(s.value(QStringLiteral("context/size"), kDefaultContextSize).toInt(),
                              kMinContextSize, kMaxContextSize);
    contextPolicy_ = s.value(QStringLiteral("context/policy")).toString() == QLatin1String("dropOldest")
                         ? ContextPolicy::DropOldestTurns
                         : ContextPolicy::StopWhenFull;
    imageTokens_ = s.value(QStringLiteral("media/imageTokens"), kDefaultImageTokens).toInt();
    documentTokens_ = s.value(QStringLiteral("media/documentTokens"), kDefaultDocumentTokens).toInt();
    device_ = s.value(QStringLiteral("device/choice"), QStringLiteral("auto")).toString();
    themeMode_ = std::clamp(s.value(QStringLiteral("appearance/theme"), 0).toInt(), 0, 2);
    fontSize_ =
        std::clamp(s.value(QStringLiteral("appearance/fontSize"), int(Theme::kDefaultFontSize)).toInt(),
                   int(Theme::kMinFontSize), int(Theme::kMaxFontSize));
}

void SettingsController::setSystemPrompt(const QString& prompt) {
    if (prompt == systemPrompt_) return;
    systemPrompt_ = prompt;
    settings_.setValue(QStringLiteral("generation/systemPrompt"), prompt);
    emit changed();
}

QStringList SettingsController::presetNames() const {
    QSettings& s = const_cast<QSettings&>(settings_);
    s.beginGroup(kPresetsGroup);
    QStringList names = s.childKeys();
    s.endGroup();
    names.sort(Qt::CaseInsensitive);
    return names;
}

bool SettingsController::savePreset(const QString& name) {
    const QString key = name.trimmed();
    // QSettings keys cannot hold slashes or backslashes (they mean groups).
    if (key.isEmpty() || key.contains(QLatin1Char('/')) || key.contains(QLatin1Char('\\'))) return false;
    settings_.setValue(kPresetsGroup + QLatin1Char('/') + key, systemPrompt_);
    emit changed();
    return true;
}

bool SettingsController::applyPreset(const QString& name) {
    const QString key = kPresetsGroup + QLatin1Char('/') + name;
    if (!settings_.contains(key)) return false;
    setSystemPrompt(settings_.value(key).toString());
    return true;
}

bool SettingsController::removePreset(const QString& name) {
    const QString key = kPresetsGroup + QLatin1Char('/') + name;
    if (!settings_.contains(key)) return false;
    settings_.remove(key);
    emit changed();
    return true;
}

void SettingsController::setThinking(bool on) {
    if (on == thinking_) return;
    thinking_ = on;
    settings_.setValue(QStringLiteral("generation/thinking"), on);
    emit changed();
}

void SettingsController::saveSampling() {
    QSettings& s = settings_;
    s.setValue(QStringLiteral("sampling/temperature"), double(sampling_.temperature));
    s.setValue(QStringLiteral("sampling/topK"), sampling_.topK);
    s.setValue(QStringLiteral("sampling/topP"), double(sampling_.topP));
    s.setValue(QStringLiteral("sampling/minP"), double(sampling_.minP));
    s.setValue(QStringLiteral("sampling/repetitionPenalty"), double(sampling_.repetitionPenalty));
    s.setValue(QStringLiteral("sampling/maxTokens"), sampling_.maxTokens);
    s.setValue(QStringLiteral("sampling/seed"), seed_);
    emit changed();
}

// Values are clamped to what the sampler accepts, so a setting can never make answers fail.
void SettingsController::setTemperature(double value) {
    const float v = float(std::clamp(value, 0.0, 2.0));
    if (v == sampling_.temperature) return;
    sampling_.temperature = v;
    saveSampling();
}

void SettingsController::setTopK(int value) {
    value = std::clamp(value, 0, 1000);
    if (value == sampling_.topK) return;
    sampling_.topK = value;
    saveSampling();
}

void SettingsController::setTopP(double value) {
    const float v = float(std::clamp(value, 0.01, 1.0));
    if (v == sampling_.topP) return;
    sampling_.topP = v;
    saveSampling();
}

void SettingsController::setMinP(double value) {
    const float v = float(std::clamp(value, 0.0, 1.0));
    if (v == sampling_.minP) return;
    sampling_.minP = v;
    saveSampling();
}

void SettingsController::setRepetitionPenalty(double value) {
    const float v = float(std::clamp(value, 1.0, 2.0));
    if (v == sampling_.repetitionPenalty) return;
    sampling_.repetitionPenalty = v;
    saveSampling();
}

void SettingsController::setSeed(int value) {
    value = std::max(value, -1);
    if (value == seed_) return;
    seed_ = value;
    saveSampling();
}

void SettingsController::setMaxTokens(int value) {
    value = std::clamp(value, 0, kMaxContextSize); // 0: until the context is full
    if (value == sampling_.maxTokens) return;
    sampling_.maxTokens = value;
    saveSampling();
}

bool SettingsController::samplingIsDefault() const {
    const ocelle::app::SamplingSettings d;
    return sampling_.temperature == d.temperature && sampling_.topK == d.topK && sampling_.topP == d.topP &&
           sampling_.minP == d.minP && sampling_.repetitionPenalty == d.repetitionPenalty &&
           sampling_.maxTokens == d.maxTokens && seed_ == -1;
}

void SettingsController::resetSampling() {
    sampling_ = ocelle::app::SamplingSettings{};
    seed_ = -1;
    saveSampling();
}

ocelle::app::SamplingSettings SettingsController::samplingForAnswer() const {
    ocelle::app::SamplingSettings s = sampling_;
    s.seed = seed_ < 0 ? QRandomGenerator::global()->generate64() : static_cast<unsigned long long>(seed_);
    return s;
}

void SettingsController::setContextSize(int tokens) {
    tokens = std::clamp(tokens, kMinContextSize, kMaxContextSize);
    if (tokens == contextSize_) return;
    contextSize_ = tokens;
    settings_.setValue(QStringLiteral("context/size"), tokens);
    emit changed();
}

void SettingsController::setContextPolicy(ContextPolicy policy) {
    if (policy == contextPolicy_) return;
    contextPolicy_ = policy;
    settings_.setValue(QStringLiteral("context/policy"), policy == ContextPolicy::DropOldestTurns
                                                             ? QStringLiteral("dropOldest")
                                                             : QStringLiteral("stop"));
    emit changed();
}

void SettingsController::setImageTokenBudget(int tokens) {
    tokens = std::clamp(tokens, 70, 1120); // Gemma 4's vision budgets run from 70 to 1120
    if (tokens == imageTokens_) return;
    imageTokens_ = tokens;
    settings_.setValue(QStringLiteral("media/imageTokens"), tokens);
    emit changed();
}

void SettingsController::setDocumentTokenBudget(int tokens) {
    tokens = std::clamp(tokens, 70, 1120);
    if (tokens == documentTokens_) return;
    documentTokens_ = tokens;
    settings_.setValue(QStringLiteral("media/documentTokens"), tokens);
    emit changed();
}

void SettingsController::setDevice(const QString& device) {
    const bool valid = device == QLatin1String("auto") || device == QLatin1String("cpu") ||
                       device.startsWith(QLatin1String("vulkan:"));
    if (!valid || device == device_) return;
    device_ = device;
    settings_.setValue(QStringLiteral("device/choice"), device);
    emit changed();
}

void SettingsController::setThemeMode(int mode) {
    mode = std::clamp(mode, 0, 2);
    if (mode == themeMode_) return;
    themeMode_ = mode;
    settings_.setValue(QStringLiteral("appearance/theme"), mode);
    emit changed();
}

void SettingsController::setFontSize(int pixels) {
    pixels = std::clamp(pixels, int(Theme::kMinFontSize), int(Theme::kMaxFontSize));
    if (pixels == fontSize_) return;
    fontSize_ = pixels;
    settings_.setValue(QStringLiteral("appearance/fontSize"), pixels);
    emit changed();
}

QString SettingsController::dataLocation() const {
    return QDir::toNativeSeparators(QStandardPaths::writableLocation(QStandardPaths::AppDataLocation));
}

QString SettingsController::settingsLocation() const {
    return QDir::toNativeSeparators(settings_.fileName());
}
