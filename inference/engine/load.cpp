// Model::load: a GGUF file on the CPU backend, with its vocabulary, stop ids and text decoder.
#include "engine/engine.h"
#include "engine/text_decoder.h"

#include "audio/audio_encoder.h"
#include "cpu/cpu_model.h"
#include "gguf/gguf.h"
#include "model/layer_plan.h"
#include "tokenizer/vocab.h"
#include "vision/vision_encoder.h"
#include "vulkan/vulkan_model.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <unistd.h>

namespace ocelle::engine {

namespace {

constexpr int kPrefillBatch = SessionOptions::kPassTokens;

// Thrown out of a progress callback to stop an upload; becomes Error{LoadCancelled}.
struct LoadStopped {};

// Reads every page of the mapped weights once (in slices, reporting progress), so the pages are in
// memory before the first prompt instead of being faulted in from disk during it. Skipped when the
// file is larger than RAM: the pages would only evict each other.
void readIntoMemory(const gguf::File& file, const LoadProgress& progress) {
    uint64_t total = 0;
    for (const auto& t : file.tensors()) total += t.nbytes;
    const uint64_t ram = systemMemoryBytes();
    if (ram && total > ram) {
        if (!progress(total, total)) throw LoadStopped{};
        return;
    }
    const long pageSize = sysconf(_SC_PAGESIZE);
    const uint64_t page = pageSize > 0 ? uint64_t(pageSize) : 4096;
    // About every percent, and at least every 32 MiB so that a stop is seen soon on big files.
    const uint64_t reportEvery = std::max<uint64_t>(page, std::min<uint64_t>(32ull << 20, total / 100));
    volatile uint8_t sink = 0;
    if (!progress(0, total)) throw LoadStopped{};
    uint64_t done = 0, reported = 0;
    for (const auto& t : file.tensors()) {
        for (uint64_t offset = 0; offset < t.nbytes; offset += page) {
            sink = sink + t.data[offset];
            const uint64_t now = done + std::min(offset + page, t.nbytes);
            if (now - reported >= reportEvery) {
                reported = now;
                if (!progress(now, total)) throw LoadStopped{};
            }
        }
        done += t.nbytes;
    }
    if (!progress(total, total)) throw LoadStopped{};
}

// What the CPU and Vulkan adapters share: their sessions have the same position and truncation API,
// their models the same hyperparameters. Each backend adds how it evaluates a pass.
template <typename Session> class SessionAdapter : public BackendSession {
public:
    SessionAdapter(std::unique_ptr<Session> session, std::mutex& passLock)
        : session_(std::move(session)), passLock_(passLock) {}

    int contextLength() const override { return int(session_->contextLength()); }
    int position() const override { return int(session_->position()); }

    bool truncate(int newPosition) override {
        if (newPosition == 0) {
            session_->reset();
            return true;
        }
        if (!session_->canTruncateTo(newPosition)) return false;
        session_->truncate(newPosition);
        return true;
    }

    size_t memoryBytes() const override { return session_->memoryBytes(); }

protected:
    std::unique_ptr<Session> session_;
    std::mutex& passLock_; // the model's pipelines (CPU: its thread pool) run one pass at a time
};

template <typename Model> class ModelAdapter : public Backend {
public:
    explicit ModelAdapter(std::unique_ptr<Model> model) : model_(std::move(model)) {}

    int vocabSize() const override { return model_->hparams().nVocab; }
    int embeddingLength() const override { return model_->hparams().nEmbd; }
    int trainedContextLength() const override {
        return int(std::min<int64_t>(model_->hparams().contextLength, 1 << 30));
    }

protected:
    std::unique_ptr<Model> model_;
    std::mutex passLock_;
};

class CpuBackendSession : public SessionAdapter<cpu::CpuSession> {
public:
    using SessionAdapter::SessionAdapter;

    bool evaluate(std::span<const int32_t> ids, std::span<const SoftTokenView> softTokens,
                  const std::atomic<bool>& cancel, std::vector<float>& lastLogits) override {
        std::vector<cpu::SoftTokens> soft;
        for (const SoftTokenView& s : softTokens)
            soft.push_back({s.first, s.count, s.embeddings, s.bidirectional});
        std::lock_guard lock(passLock_); // sessions on other threads wait here
        session_->setCancelFlag(&cancel);
        try {
            if (ids.size() == 1 && soft.empty())
                lastLogits = session_->decode(ids[0]);
            else
                lastLogits = session_->prefill(ids, cpu::LogitsFor::Last, soft);
        } catch (const cpu::Cancelled&) {
            session_->setCancelFlag(nullptr);
            return false; // the CPU session rolled back the interrupted pass
        } catch (const cpu::ContextFull& e) {
            session_->setCancelFlag(nullptr);
            throw Error(ErrorKind::ContextFull, e.what());
        }
        session_->setCancelFlag(nullptr);
        return true;
    }
};

class CpuBackend : public ModelAdapter<cpu::CpuModel> {
public:
    using ModelAdapter::ModelAdapter;

    std::string name() const override { return "cpu"; }
    size_t memoryBytes() const override { return size_t(model_->model().plan().weightBytes); }

    std::unique_ptr<BackendSession> createSession(const SessionOptions& options) override {
        cpu::SessionOptions cpuOptions;
        cpuOptions.contextLength = options.contextLength;
        cpuOptions.kvType = options.kvCacheType == KvCacheType::F16 ? model::KvType::F16 : model::KvType::F32;
        cpuOptions.slidingSlack = std::max(0, options.rollbackSlack);
        cpuOptions.maxBatch = kPrefillBatch;
        return std::make_unique<CpuBackendSession>(model_->createSession(cpuOptions), passLock_);
    }
};

class VulkanBackendSession : public SessionAdapter<vulkan::VulkanSession> {
public:
    using SessionAdapter::SessionAdapter;

    bool evaluate(std::span<const int32_t> ids, std::span<const SoftTokenView> softTokens,
                  const std::atomic<bool>& cancel, std::vector<float>& lastLogits) override {
        std::vector<vulkan::VulkanSoftTokens> soft;
        for (const SoftTokenView& s : softTokens)
            soft.push_back({s.first, s.count, s.embeddings, s.bidirectional});
        std::lock_guard lock(passLock_);
        session_->setCancelFlag(&cancel);
        try {
            lastLogits = session_->prefill(ids, vulkan::VulkanLogits::Last, soft);
        } catch (const vulkan::Cancelled&) {
            session_->setCancelFlag(nullptr);
            return false; // finished passes stay committed; position() says how far
        } catch (const vulkan::ContextFull& e) {
            session_->setCancelFlag(nullptr);
            throw Error(ErrorKind::ContextFull, e.what());
        } catch (const std::invalid_argument& e) {
            session_->setCancelFlag(nullptr);
            throw Error(ErrorKind::InvalidArgument, e.what());
        }
        session_->setCancelFlag(nullptr);
        return true;
    }
};

class VulkanBackend : public ModelAdapter<vulkan::VulkanModel> {
public:
    using ModelAdapter::ModelAdapter;

    std::string name() const override { return "vulkan"; }
    size_t memoryBytes() const override { return size_t(model_->deviceWeightBytes()); }

    std::unique_ptr<BackendSession> createSession(const SessionOptions& options) override {
        vulkan::VulkanSessionOptions vkOptions;
        vkOptions.kvF16 = options.kvCacheType == KvCacheType::F16;
        vkOptions.contextLength = options.contextLength;
        vkOptions.slidingSlack = std::max(0, options.rollbackSlack);
        vkOptions.maxBatch = kPrefillBatch;
        return std::make_unique<VulkanBackendSession>(model_->createSession(vkOptions), passLock_);
    }
};

} // namespace

uint64_t systemMemoryBytes() {
    const long pages = sysconf(_SC_PHYS_PAGES);
    const long pageSize = sysconf(_SC_PAGESIZE);
    return pages > 0 && pageSize > 0 ? uint64_t(pages) * uint64_t(pageSize) : 0;
}

BackendChoice chooseBackend(const LoadOptions& options) {
    BackendChoice choice;
    choice.memoryBytes = systemMemoryBytes();
    if (options.backend == BackendKind::Cpu) {
        choice.reason = "the CPU backend was requested";
        return choice;
    }
    std::vector<vulkan::DeviceInfo> devices;
    try {
        vulkan::Instance probe(false);
        devices = probe.devices();
    } catch (const std::exception& e) {
        if (options.backend == BackendKind::Vulkan) throw Error(ErrorKind::ModelLoad, e.what());
        choice.reason = std::string("no Vulkan (") + e.what() + "), using the CPU";
        return choice;
    }
    if (options.backend == BackendKind::Vulkan) {
        const vulkan::DeviceChoice d = vulkan::chooseDevice(devices, options.device);
        std::optional<uint32_t> index = d.index;
        std::string reason = d.reason;
        // Asked for Vulkan explicitly: a CPU-type device is acceptable when it is the only usable one.
        if (!index && !d.forced)
            for (const auto& info : devices)
                if (info.usable()) {
                    index = info.index;
                    reason =
                        "the Vulkan backend was requested and " + info.name + " is the only usable device";
                    break;
                }
        if (!index) throw Error(ErrorKind::ModelLoad, "no usable Vulkan device: " + d.reason);
        choice.backend = BackendKind::Vulkan;
        choice.device = devices[*index].name;
        choice.deviceIndex = int(*index);
        choice.reason = reason;
        choice.memoryBytes = devices[*index].deviceLocalBytes;
        return choice;
    }
    const vulkan::DeviceChoice d = options.device.empty() && !std::getenv("OCELLE_VULKAN_DEVICE")
                                       ? vulkan::autoSelectDevice(devices)
                                       : vulkan::chooseDevice(devices, options.device);
    if (d.index && (d.forced || devices[*d.index].type != vulkan::DeviceType::Cpu)) {
        choice.backend = BackendKind::Vulkan;
        choice.device = devices[*d.index].name;
        choice.deviceIndex = int(*d.index);
        choice.reason = d.reason;
        choice.memoryBytes = devices[*d.index].deviceLocalBytes;
    } else {
        choice.reason = "no usable GPU (" + d.reason + "), using the CPU";
    }
    return choice;
}

std::shared_ptr<Model> Model::load(const std::string& path, const LoadOptions& options) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        throw Error(ErrorKind::ModelLoad, path + ": no such model file");
    const BackendChoice choice = chooseBackend(options);
    std::unique_ptr<Backend> backend;
    std::shared_ptr<const tokenizer::Vocab> vocab;
    int nVocab = 0;
    try {
        if (choice.backend == BackendKind::Vulkan) {
            vulkan::DeviceOptions deviceOptions;
            deviceOptions.forced = std::to_string(choice.deviceIndex);
            vulkan::ProgressCallback uploaded;
            if (options.progress)
                uploaded = [&options](uint64_t done, uint64_t total) {
                    if (!options.progress(done, total)) throw LoadStopped{};
                };
            auto vkModel = vulkan::VulkanModel::load(path, deviceOptions, uploaded);
            vocab = tokenizer::Vocab::fromGguf(vkModel->model().file());
            nVocab = vkModel->hparams().nVocab;
            backend = std::make_unique<VulkanBackend>(std::move(vkModel));
        } else {
            auto cpuModel = cpu::CpuModel::load(path, options.threads);
            if (options.progress) readIntoMemory(cpuModel->model().file(), options.progress);
            vocab = tokenizer::Vocab::fromGguf(cpuModel->model().file());
            nVocab = cpuModel->hparams().nVocab;
            backend = std::make_unique<CpuBackend>(std::move(cpuModel));
        }
    } catch (const LoadStopped&) {
        throw Error(ErrorKind::LoadCancelled, path + ": loading was cancelled");
    } catch (const std::exception& e) {
        const std::string what = e.what();
        // The readers usually name the file already; make sure the message always does.
        throw Error(ErrorKind::ModelLoad, what.find(path) != std::string::npos ? what : path + ": " + what);
    }
    if (int(vocab->size()) != nVocab)
        throw Error(ErrorKind::ModelLoad, path + ": the vocabulary has " + std::to_string(vocab->size()) +
                                              " tokens but the embedding table " + std::to_string(nVocab) +
                                              " rows");

    // Stop on eos, <turn|> and <|tool_response> (gemma4.md section 6), found by text.
    std::unordered_set<int32_t> stopIds;
    if (vocab->eos() >= 0) stopIds.insert(vocab->eos());
    for (const char* text : {"<turn|>", "<|tool_response>"})
        if (auto id = vocab->find(text)) stopIds.insert(*id);

    // Control tokens give no text; user-defined ones (<|channel>, <|tool_call>, ...) do, so the
    // output parser can see them.
    auto textDecoders = [vocab]() -> std::unique_ptr<TextDecoder> {
        return std::make_unique<PieceTextDecoder>([vocab](int32_t id) { return vocab->piece(id, false); });
    };
    auto model = std::make_shared<Model>(std::move(backend), textDecoders, std::move(stopIds));
    model->setVocab(std::move(vocab));
    LoadOptions resolved = options;
    resolved.backend = choice.backend;
    resolved.device = choice.backend == BackendKind::Vulkan ? std::to_string(choice.deviceIndex) : "";
    resolved.progress = {}; // this load's callback only
    model->setBackendOptions(std::move(resolved));
    return model;
}

std::unique_ptr<audio::AudioEncoder> loadAudioEncoder(const std::string& mmproj, const LoadOptions& options) {
    audio::AudioEncoderOptions encoder;
    encoder.threads = options.threads;
    const BackendChoice choice = chooseBackend(options);
    if (choice.backend == BackendKind::Vulkan) {
        encoder.backend = audio::AudioBackend::Vulkan;
        encoder.device = std::to_string(choice.deviceIndex);
    }
    try {
        return audio::loadAudioEncoder(mmproj, encoder);
    } catch (const vulkan::VulkanError& e) {
        throw Error(ErrorKind::ModelLoad, mmproj + ": " + e.what());
    }
}

std::unique_ptr<audio::AudioEncoder> loadAudioEncoder(const std::string& mmproj, const Model& model) {
    return loadAudioEncoder(mmproj, model.backendOptions());
}

std::unique_ptr<vision::VisionEncoder> loadVisionEncoder(const std::string& mmproj,
                                                         const LoadOptions& options) {
    vision::VisionBackendOptions encoder;
    encoder.threads = options.threads;
    const BackendChoice choice = chooseBackend(options);
    if (choice.backend == BackendKind::Vulkan) {
        encoder.vulkan = true;
        encoder.device = std::to_string(choice.deviceIndex);
    }
    try {
        return vision::loadVisionEncoder(mmproj, encoder);
    } catch (const vulkan::VulkanError& e) {
        throw Error(ErrorKind::ModelLoad, mmproj + ": " + e.what());
    }
}

std::unique_ptr<vision::VisionEncoder> loadVisionEncoder(const std::string& mmproj, const Model& model) {
    return loadVisionEncoder(mmproj, model.backendOptions());
}

} // namespace ocelle::engine
