#include "model_file.h"

#include "engine/backend.h"
#include "gguf/gguf.h"
#include "gguf/tensor_types.h"
#include "model/hparams.h"
#include "model/layer_plan.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QRegularExpression>
#include <map>

namespace ocelle::app {

struct ModelFileFacts::Sizing {
    model::HyperParams hp;
    uint64_t weightBytes = 0;
};

namespace {

// The architecture name Gemma 4 text models carry in general.architecture.
constexpr const char* kGemma4Architecture = "gemma4";
// llama.cpp's projector files (mmproj: vision and audio towers) use this architecture name.
constexpr const char* kProjectorArchitecture = "clip";

QString tr(const char* text) {
    return QCoreApplication::translate("ModelFile", text);
}

// The weight type holding most of the file's bytes: what people call the quantization.
QString dominantWeightType(const gguf::File& file) {
    std::map<uint32_t, uint64_t> bytesByType;
    for (const auto& tensor : file.tensors()) bytesByType[tensor.rawType] += tensor.nbytes;
    uint32_t best = 0;
    uint64_t bestBytes = 0;
    for (const auto& [type, bytes] : bytesByType) {
        if (bytes > bestBytes) {
            best = type;
            bestBytes = bytes;
        }
    }
    return bestBytes == 0 ? QString() : QString::fromStdString(gguf::typeName(best));
}

// Lower case, without "mmproj" and separators: "mmproj-gemma-4-E2B-f16" -> "gemma4e2bf16".
QString comparableName(QString name) {
    name = name.toLower();
    name.remove(QStringLiteral("mmproj"));
    name.remove(QRegularExpression(QStringLiteral("[^a-z0-9]")));
    return name;
}

int commonPrefixLength(const QString& a, const QString& b) {
    int n = 0;
    while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
    return n;
}

} // namespace

bool hasGgufSuffix(const QString& fileName) {
    return fileName.endsWith(QLatin1String(".gguf"), Qt::CaseInsensitive);
}

QString findProjectorFor(const QString& modelPath, int modelWidth) {
    const QFileInfo model(modelPath);
    const QString modelKey = comparableName(model.completeBaseName());
    QString best;
    int bestScore = -1;
    int candidates = 0;
    const QFileInfoList files =
        model.dir().entryInfoList({QStringLiteral("*.gguf"), QStringLiteral("*.GGUF")}, QDir::Files);
    for (const QFileInfo& file : files) {
        if (file.absoluteFilePath() == model.absoluteFilePath()) continue;
        if (!file.fileName().contains(QLatin1String("mmproj"), Qt::CaseInsensitive)) continue;
        try {
            const auto gguf = gguf::File::open(file.absoluteFilePath().toStdString());
            if (gguf->getString("general.architecture").value_or("") != kProjectorArchitecture) continue;
            // Soft tokens must be as wide as the text model's embeddings: a projector for
            // another model in the same folder is not this one's.
            bool widthMatches = true;
            for (const char* key : {"clip.vision.projection_dim", "clip.audio.projection_dim"}) {
                if (const auto width = gguf->getInt(key);
                    width && modelWidth > 0 && *width != int64_t(modelWidth))
                    widthMatches = false;
            }
            if (!widthMatches) continue;
        } catch (const std::exception&) {
            continue; // an unreadable neighbour is not ours to complain about
        }
        ++candidates;
        const int score = commonPrefixLength(comparableName(file.completeBaseName()), modelKey);
        if (score > bestScore) {
            bestScore = score;
            best = file.absoluteFilePath();
        }
    }
    if (candidates > 1 && bestScore < 4) return {};
    return best;
}

ModelFileFacts inspectModelFile(const QString& path, bool pairProjector) {
    ModelFileFacts facts;
    facts.path = path.isEmpty() ? QString() : QFileInfo(path).absoluteFilePath();
    if (path.isEmpty()) {
        facts.problem = tr("No file was chosen.");
        return facts;
    }
    const QString shownName = QFileInfo(facts.path).fileName();
    std::unique_ptr<gguf::File> gguf;
    try {
        gguf = gguf::File::open(facts.path.toStdString());
        facts.architecture = QString::fromStdString(gguf->getString("general.architecture").value_or(""));
        facts.name = QString::fromStdString(gguf->getString("general.name").value_or(""));
        facts.fileSize = static_cast<qint64>(gguf->fileSize());
        facts.tensorCount = static_cast<int>(gguf->tensors().size());
    } catch (const std::exception& e) {
        // The reader's message already names the file and the problem.
        facts.problem = tr("Could not read the model: %1").arg(QString::fromUtf8(e.what()));
        facts.fileSize = QFileInfo(facts.path).size();
        return facts;
    }
    if (facts.architecture.isEmpty()) {
        facts.problem =
            tr("%1 has no general.architecture entry, so it is not a model Ocelle can run.").arg(shownName);
        return facts;
    }
    if (facts.architecture == QLatin1String(kProjectorArchitecture)) {
        facts.isProjector = true;
        facts.problem = tr("%1 is a projector (mmproj) file for images and audio. Open the Gemma 4 text "
                           "model first; its mmproj file goes with it.")
                            .arg(shownName);
        return facts;
    }
    if (facts.architecture != QLatin1String(kGemma4Architecture)) {
        facts.problem = tr("%1 is a \"%2\" model. Ocelle runs Gemma 4 (gemma4) models.")
                            .arg(shownName, facts.architecture);
        return facts;
    }
    if (gguf->tensors().empty()) {
        facts.problem =
            tr("%1 holds no weights (a vocabulary-only file). Open a full Gemma 4 model.").arg(shownName);
        return facts;
    }
    facts.quantization = dominantWeightType(*gguf);
    try {
        // Builds the layer plan too, so a missing or mis-shaped tensor is found now, not on load.
        const auto model = model::Model::fromFile(std::move(gguf));
        auto sizing = std::make_shared<ModelFileFacts::Sizing>();
        sizing->hp = model->hparams();
        sizing->weightBytes = model->plan().weightBytes;
        facts.variant = QString::fromLatin1(model::variantName(sizing->hp.variant));
        facts.trainedContextLength =
            static_cast<int>(std::min<int64_t>(sizing->hp.contextLength, int64_t(1) << 30));
        facts.sizing = std::move(sizing);
    } catch (const std::exception& e) {
        facts.problem =
            tr("%1 is not a complete Gemma 4 model: %2").arg(shownName, QString::fromUtf8(e.what()));
        return facts;
    }
    facts.usable = true;
    facts.inputs = {tr("text")};
    if (pairProjector) facts.projectorPath = findProjectorFor(facts.path, facts.sizing->hp.nEmbd);
    if (!facts.projectorPath.isEmpty()) {
        try {
            const auto projector = gguf::File::open(facts.projectorPath.toStdString());
            if (projector->getBool("clip.has_vision_encoder").value_or(false)) facts.inputs << tr("image");
            if (projector->getBool("clip.has_audio_encoder").value_or(false)) facts.inputs << tr("audio");
        } catch (const std::exception&) {
            facts.projectorPath.clear();
        }
    }
    return facts;
}

qint64 estimateMemoryBytes(const ModelFileFacts& facts, int contextLength) {
    if (!facts.usable || !facts.sizing) return -1;
    const auto& hp = facts.sizing->hp;
    int64_t context = std::max(1, contextLength);
    if (hp.contextLength > 0) context = std::min<int64_t>(context, hp.contextLength);
    const model::MemoryEstimate m = model::estimateMemory(
        hp, facts.sizing->weightBytes, context, model::KvType::F32, engine::SessionOptions::kPassTokens);
    return static_cast<qint64>(m.total());
}

} // namespace ocelle::app
