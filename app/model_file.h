// What Ocelle can tell about a GGUF file without loading it: whether it is a usable Gemma 4 text
// model (and if not, why, in words a user can act on), its variant, quantization and size, the
// mmproj file paired with it and the inputs that gives it, and the memory it would need at a
// context length (model::estimateMemory, the estimate `ocelle-cli info --ctx` prints). Reading
// a file maps it and reads its header and small tensors; the big weights are not touched.
// Safe to call from any thread.
#pragma once

#include <QString>
#include <QStringList>
#include <memory>

namespace ocelle::app {

struct ModelFileFacts {
    QString path;             // absolute
    bool usable = false;      // a Gemma 4 text model the engine can load
    bool isProjector = false; // an mmproj file: paired with a model, never listed as one
    QString problem;          // why it is not usable (names the file), empty when usable
    QString architecture;     // general.architecture
    QString name;             // general.name, may be empty
    QString variant;          // "E2B", "E4B", "26B-A4B", "31B" or "other"
    QString quantization;     // the weight type holding most of the bytes, e.g. "Q4_K"
    int tensorCount = 0;
    qint64 fileSize = 0;
    int trainedContextLength = 0;
    QString projectorPath; // the paired mmproj, empty when none
    QStringList inputs;    // "text", then "image" / "audio" when the projector has them

    struct Sizing; // what the memory estimate needs (hyperparameters, weight bytes)
    std::shared_ptr<const Sizing> sizing;
};

// Reads and checks the file. Never throws: problems are reported in `problem`.
// pairProjector: also look for its mmproj in the same folder.
ModelFileFacts inspectModelFile(const QString& path, bool pairProjector = true);

// Bytes a session needs at this context length (capped at the trained context, as the engine
// does): weights, KV cache and the working buffers of one pass. -1 when `facts` is not usable.
qint64 estimateMemoryBytes(const ModelFileFacts& facts, int contextLength);

// The mmproj file in `modelPath`'s folder that goes with it, or empty. A projector whose output
// width (clip.*.projection_dim) differs from `modelWidth` (the text model's embedding length; 0:
// not checked) never pairs; with several projectors left, only one that shares the model's name
// counts.
QString findProjectorFor(const QString& modelPath, int modelWidth = 0);

// Whether a file name looks like a GGUF file (".gguf", any case).
bool hasGgufSuffix(const QString& fileName);

} // namespace ocelle::app
