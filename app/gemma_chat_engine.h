// The real ChatEngine: a Gemma 4 GGUF run by inference/engine, prompts rendered by
// inference/chat's ChatFormat, output split into reasoning and answer by its TokenOutputParser.
#pragma once

#include "chat_engine.h"

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ocelle::engine {
class Model;
class Session;
struct MediaEncoders;
} // namespace ocelle::engine
namespace ocelle::chat {
class ChatFormat;
struct Part;
} // namespace ocelle::chat

namespace ocelle::app {

class GemmaChatEngine final : public ChatEngine {
public:
    GemmaChatEngine();
    ~GemmaChatEngine() override;

    LoadedModelFacts load(const LoadRequest& request, const LoadProgress& progress) override;
    void unload() override;
    bool loaded() const override;
    GenerationOutcome generate(const GenerationRequest& request,
                               const std::function<void(const StreamDelta&)>& onDelta) override;
    int countTokens(const std::string& text) const override;
    void cancel() noexcept override;
    void resetCancel() noexcept override;
    std::shared_ptr<engine::Model> sharedModel() const override;

private:
    // A turn's media through the mmproj's encoders (media/media_encoding.h): chat parts carrying
    // their soft-token rows (a PDF page is its "Page N of M:" label and its image).
    const std::vector<chat::Part>& encode(const TurnMedia& item);
    void loadEncoders();

    std::string modelPath_;
    std::string projectorPath_;
    bool encodersLoaded_ = false;
    std::unique_ptr<engine::MediaEncoders>
        media_; // the mmproj's encoders, or why images/audio cannot be encoded
    // Earlier turns are encoded once: every request re-renders the whole conversation.
    std::map<std::string, std::vector<chat::Part>> encoded_;

    std::shared_ptr<engine::Model> model_;
    std::unique_ptr<chat::ChatFormat> format_;
    // cancel() comes from the GUI thread while load()/unload() may replace the session on the
    // engine thread; this mutex guards only the pointer, never generation itself.
    mutable std::mutex sessionMutex_;
    std::unique_ptr<engine::Session> session_;
    // For countTokens() and sharedModel() on other threads, under sessionMutex_.
    std::shared_ptr<engine::Model> countingModel_;
    std::atomic<bool> cancelled_{false};
};

} // namespace ocelle::app
