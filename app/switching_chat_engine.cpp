#include "switching_chat_engine.h"

namespace ocelle::app {

SwitchingChatEngine::SwitchingChatEngine(std::unique_ptr<ChatEngine> local)
    : local_(std::move(local)), remote_(std::make_unique<RemoteChatEngine>()), active_(local_.get()) {}

LoadedModelFacts SwitchingChatEngine::load(const LoadRequest& request, const LoadProgress& progress) {
    ChatEngine* next = request.remote ? static_cast<ChatEngine*>(remote_.get()) : local_.get();
    ChatEngine* other = next == local_.get() ? static_cast<ChatEngine*>(remote_.get()) : local_.get();
    if (other->loaded()) other->unload();
    active_.store(next);
    return next->load(request, progress);
}

void SwitchingChatEngine::unload() {
    local_->unload();
    remote_->unload();
}

GenerationOutcome SwitchingChatEngine::generate(const GenerationRequest& request,
                                                const std::function<void(const StreamDelta&)>& onDelta) {
    return active_.load()->generate(request, onDelta);
}

void SwitchingChatEngine::cancel() noexcept {
    local_->cancel();
    remote_->cancel();
}

void SwitchingChatEngine::resetCancel() noexcept {
    local_->resetCancel();
    remote_->resetCancel();
}

} // namespace ocelle::app
