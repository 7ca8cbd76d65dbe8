// daemon/cluster.hpp (private): the heartbeat thread of a daemon in a hot/cold cluster.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace rillflow::detail {

/// Calls `beat` every `every` on a thread of its own while it lives. A scope guard: the
/// destructor stops and joins the thread, so whatever way its scope is left (an exception of
/// any type included), no thread is left running and none is destroyed unjoined (which would
/// call std::terminate). Neither copyable nor movable.
class HeartbeatThread {
  public:
    HeartbeatThread(std::chrono::milliseconds every, std::function<void()> beat);
    ~HeartbeatThread();
    HeartbeatThread(const HeartbeatThread&) = delete;
    HeartbeatThread& operator=(const HeartbeatThread&) = delete;

  private:
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stop_ = false;  // guarded by mutex_
    std::thread thread_;
};

}  // namespace rillflow::detail
