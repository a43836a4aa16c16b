#include "cpu/thread_pool.h"

#include <algorithm>

namespace ocelle::cpu {

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
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
            if (stopping_) return;
            seen = generation_;
            ++busyWorkers_;
        }
        runChunks();
        {
            std::lock_guard lock(mutex_);
            --busyWorkers_;
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
    {
        std::lock_guard lock(mutex_);
        fn_ = &fn;
        n_ = n;
        chunk_ = (n + wanted - 1) / wanted;
        chunks_ = (n + chunk_ - 1) / chunk_;
        nextChunk_.store(0, std::memory_order_relaxed);
        finishedChunks_.store(0, std::memory_order_relaxed);
        ++generation_;
    }
    wake_.notify_all();
    runChunks();
    std::unique_lock lock(mutex_);
    // Wait until every chunk ran and no worker is still inside this job (so the next job cannot
    // be confused with this one).
    done_.wait(lock, [&] {
        return finishedChunks_.load(std::memory_order_acquire) == chunks_ && busyWorkers_ == 0;
    });
    fn_ = nullptr;
}

} // namespace ocelle::cpu
