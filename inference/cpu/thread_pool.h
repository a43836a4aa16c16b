// A small persistent thread pool: workers are created once and reused for every operation of every
// pass, so a matrix product costs a wake-up, not a thread spawn. Between jobs the workers and the
// caller spin for a few microseconds before sleeping: a decode step issues hundreds of short jobs
// back to back, and a futex wake-up per job would cost as much as the smaller jobs themselves.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ocelle::cpu {

class ThreadPool {
public:
    // threads <= 0: one per hardware thread.
    explicit ThreadPool(int threads = 0);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return static_cast<int>(workers_.size()) + 1; } // the caller works too

    // Calls fn(begin, end) on disjoint ranges covering [0, n), in parallel, and returns when all
    // are done. Ranges hold at least `grain` items (except the last). Not re-entrant: fn must not
    // call parallelFor on the same pool.
    void parallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain = 1);

private:
    void workerLoop();
    void runChunks();

    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable done_;
    std::atomic<uint64_t> generation_{0};
    std::atomic<bool> stopping_{false};

    // The current job.
    const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
    int64_t n_ = 0;
    int64_t chunk_ = 1;
    int64_t chunks_ = 0;
    std::atomic<int64_t> nextChunk_{0};
    std::atomic<int64_t> finishedChunks_{0};
    // Workers inside runChunks(); the next job is published only when it is 0, so the job fields
    // never change under a running worker.
    std::atomic<int> busyWorkers_{0};
};

} // namespace ocelle::cpu
