#include "cpu/thread_pool.h"

#include <algorithm>

namespace ocelle::cpu {

namespace {

// About 20-50 microseconds of polling (a pause is 40-140 cycles depending on the core).
constexpr int kSpinIterations = 2000;

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

template <typename Ready> bool spinUntil(Ready ready) {
    for (int i = 0; i < kSpinIterations; ++i) {
        if (ready()) return true;
        cpuRelax();
    }
    return ready();
}

} // namespace

ThreadPool::ThreadPool(int threads) {
    if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { workerLoop(); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
}

void ThreadPool::runChunks() {
    for (;;) {
        const int64_t c = nextChunk_.fetch_add(1, std::memory_order_relaxed);
        if (c >= chunks_) return;
        const int64_t begin = c * chunk_;
        (*fn_)(begin, std::min(n_, begin + chunk_));
        finishedChunks_.fetch_add(1, std::memory_order_acq_rel);
    }
}

void ThreadPool::workerLoop() {
    uint64_t seen = 0;
    for (;;) {
        spinUntil([&] {
            return stopping_.load(std::memory_order_relaxed) ||
                   generation_.load(std::memory_order_acquire) != seen;
        });
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
            if (stopping_) return;
            seen = generation_;
            busyWorkers_.fetch_add(1, std::memory_order_relaxed);
        }
        runChunks();
        {
            std::lock_guard lock(mutex_);
            busyWorkers_.fetch_sub(1, std::memory_order_release);
        }
        done_.notify_all();
    }
}

void ThreadPool::parallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain) {
    if (n <= 0) return;
    grain = std::max<int64_t>(1, grain);
    const int64_t threads = size();
    if (threads == 1 || n <= grain) {
        fn(0, n);
        return;
    }
    // A few chunks per thread so uneven work still balances.
    const int64_t wanted = std::min<int64_t>(threads * 4, (n + grain - 1) / grain);
    const auto idle = [&] { return busyWorkers_.load(std::memory_order_acquire) == 0; };
    spinUntil(idle); // workers still leaving the previous job
    {
        std::unique_lock lock(mutex_);
        done_.wait(lock, idle);
        fn_ = &fn;
        n_ = n;
        chunk_ = (n + wanted - 1) / wanted;
        chunks_ = (n + chunk_ - 1) / chunk_;
        nextChunk_.store(0, std::memory_order_relaxed);
        finishedChunks_.store(0, std::memory_order_relaxed);
        generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    runChunks();
    // Every chunk finished means every call of fn returned; workers may still be on their way out
    // of runChunks (the next job waits for them).
    const auto finished = [&] { return finishedChunks_.load(std::memory_order_acquire) == chunks_; };
    if (!spinUntil(finished)) {
        std::unique_lock lock(mutex_);
        done_.wait(lock, finished);
    }
}

} // namespace ocelle::cpu
