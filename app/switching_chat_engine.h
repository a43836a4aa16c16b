// The engine the app runs: its own engine for model files, RemoteChatEngine for models on an
// OpenAI-compatible server, chosen by each LoadRequest. Loading one unloads the other, so a local
// model's memory is given back when the user switches to a server.
#pragma once

#include "chat_engine.h"
#include "remote_chat_engine.h"

#include <atomic>
#include <memory>

namespace ocelle::app {

class SwitchingChatEngine : public ChatEngine {
public:
    // `local` runs model files (GemmaChatEngine in the app, a scripted engine in UI tests).
    explicit SwitchingChatEngine(std::unique_ptr<ChatEngine> local);

    RemoteChatEngine& remote() { return *remote_; }

    LoadedModelFacts load(const LoadRequest& request, const LoadProgress& progress) override;
    void unload() override;
    bool loaded() const override { return active_.load()->loaded(); }
    GenerationOutcome generate(const GenerationRequest& request,
                               const std::function<void(const StreamDelta&)>& onDelta) override;
    int countTokens(const std::string& text) const override { return active_.load()->countTokens(text); }
    void cancel() noexcept override;
    void resetCancel() noexcept override;
    // The local engine's model (the local server answers with it); null for a remote model.
    std::shared_ptr<engine::Model> sharedModel() const override { return active_.load()->sharedModel(); }

private:
    std::unique_ptr<ChatEngine> local_;
    std::unique_ptr<RemoteChatEngine> remote_;
    std::atomic<ChatEngine*> active_; // read from any thread by countTokens
};

} // namespace ocelle::app
