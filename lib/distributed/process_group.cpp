#include "distributed/process_group.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>

#include "core/error.h"

namespace sne::distributed {
namespace {

constexpr auto kBeat = std::chrono::seconds(1);

std::string heartbeat_key(int rank) { return "sne/heartbeat/" + std::to_string(rank); }

class GlooCollective : public train::Collective {
 public:
  GlooCollective(const Launch& l, const ConnectOptions& o) : launch_(l), options_(o) {
    const std::string where = l.master_addr + ":" + std::to_string(l.master_port);
    try {
      c10d::TCPStoreOptions so;
      so.port = static_cast<std::uint16_t>(l.master_port);
      so.isServer = l.rank == 0 && !l.agent_store;
      if (!l.agent_store) so.numWorkers = static_cast<std::size_t>(l.world);
      so.waitWorkers = !l.agent_store;  // with torchrun's store, the process group's own rendezvous waits
      so.timeout = o.timeout;
      tcp_ = c10::make_intrusive<c10d::TCPStore>(l.master_addr, so);
      store_ = c10::make_intrusive<c10d::PrefixStore>("/sne/attempt_" + std::to_string(l.restart_attempt), tcp_);
    } catch (const std::exception& e) {
      throw DistributedError(prefix() + "the " + std::to_string(l.world) + " processes did not all meet at the store " +
                             where + " within " + std::to_string(o.timeout.count()) +
                             " s (check MASTER_ADDR/MASTER_PORT and that every rank started): " + first_line(e.what()));
    }
    try {
      auto po = c10d::ProcessGroupGloo::Options::create(o.timeout);
      const char* iface = std::getenv("GLOO_SOCKET_IFNAME");
      if (iface && *iface)
        po->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(iface));
      else if (l.single_node)
        po->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      else
        po->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      po->threads = 2;
      pg_ = c10::make_intrusive<c10d::ProcessGroupGloo>(c10::make_intrusive<c10d::PrefixStore>("gloo", store_),
                                                         l.rank, l.world, po);
    } catch (const std::exception& e) {
      throw DistributedError(prefix() + "the " + std::to_string(l.world) +
                             " processes did not all meet in the Gloo process group within " +
                             std::to_string(o.timeout.count()) + " s (check that every rank started; across hosts, "
                             "set GLOO_SOCKET_IFNAME to the interface the hosts reach each other on): " +
                             first_line(e.what()));
    }
    // Heartbeats on a connection of their own: a failed collective can then tell a dead or hung rank.
    try {
      c10d::TCPStoreOptions so;
      so.port = static_cast<std::uint16_t>(l.master_port);
      so.isServer = false;
      so.waitWorkers = false;
      so.timeout = std::chrono::seconds(5);
      beat_tcp_ = c10::make_intrusive<c10d::TCPStore>(l.master_addr, so);
      beat_store_ = c10::make_intrusive<c10d::PrefixStore>("/sne/attempt_" + std::to_string(l.restart_attempt), beat_tcp_);
      beat_store_->set(heartbeat_key(l.rank), std::vector<uint8_t>{'0'});
    } catch (const std::exception& e) {
      throw DistributedError(prefix() + "cannot open the heartbeat connection to " + where + ": " + first_line(e.what()));
    }
    beat_thread_ = std::thread([this] { beat(); });
  }

  ~GlooCollective() override {
    {
      std::lock_guard<std::mutex> g(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (beat_thread_.joinable()) beat_thread_.join();
  }

  int rank() const override { return launch_.rank; }
  int size() const override { return launch_.world; }

  void allreduce_sum(std::vector<at::Tensor>& tensors) override {
    guarded("all-reduce", [&] {
      std::vector<c10::intrusive_ptr<c10d::Work>> works;
      std::vector<std::vector<at::Tensor>> lists;
      lists.reserve(tensors.size());
      for (auto& t : tensors) {
        lists.push_back({t});
        works.push_back(pg_->allreduce(lists.back()));  // Gloo has no average: sum, and the caller divides
      }
      for (auto& w : works) w->wait();
    });
  }

  std::unique_ptr<Pending> start_allreduce_sum(at::Tensor tensor) override {
    struct Work : Pending {
      GlooCollective* self;
      std::vector<at::Tensor> list;
      c10::intrusive_ptr<c10d::Work> work;
      void wait() override {
        self->guarded("all-reduce", [&] { work->wait(); });
      }
    };
    auto w = std::make_unique<Work>();
    w->self = this;
    w->list = {std::move(tensor)};
    guarded("all-reduce", [&] { w->work = pg_->allreduce(w->list); });
    return w;
  }

  void broadcast(std::vector<at::Tensor>& tensors, int root) override {
    guarded("broadcast", [&] {
      c10d::BroadcastOptions bo;
      bo.rootRank = root;
      std::vector<c10::intrusive_ptr<c10d::Work>> works;
      std::vector<std::vector<at::Tensor>> lists;
      lists.reserve(tensors.size());
      for (auto& t : tensors) {
        lists.push_back({t});
        works.push_back(pg_->broadcast(lists.back(), bo));
      }
      for (auto& w : works) w->wait();
    });
  }

  void barrier() override {
    guarded("barrier", [&] { pg_->barrier()->wait(); });
  }

 private:
  std::string prefix() const {
    return "rank " + std::to_string(launch_.rank) + " of " + std::to_string(launch_.world) + ": ";
  }
  static std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

  template <class F>
  void guarded(const char* what, F&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      throw DistributedError(prefix() + "the " + what + " failed: " + diagnose() + " [" + first_line(e.what()) + "]");
    }
  }

  void beat() {
    std::unique_lock<std::mutex> g(mu_);
    int failures = 0;
    for (long n = 1; !stopping_; ++n) {
      if (cv_.wait_for(g, kBeat, [this] { return stopping_; })) break;
      try {
        const std::string v = std::to_string(n);
        std::lock_guard<std::mutex> s(store_mu_);
        beat_store_->set(heartbeat_key(launch_.rank), std::vector<uint8_t>(v.begin(), v.end()));
        failures = 0;
      } catch (const std::exception&) {
        // A busy store can time out once; three failures in a row mean the store (rank 0, or torchrun's agent) is
        // gone, which diagnose() then says. Nothing escapes this thread.
        if (++failures >= 3) {
          store_lost_ = true;
          return;
        }
      }
    }
  }

  // Which ranks stopped beating: read every heartbeat, wait three beats, read again.
  std::string diagnose() {
    const auto read_all = [&](std::map<int, std::string>& out) {
      std::lock_guard<std::mutex> s(store_mu_);  // one user of beat_store_ at a time; our own beats go on
      for (int r = 0; r < launch_.world; ++r) {
        if (r == launch_.rank) continue;
        const auto v = beat_store_->get(heartbeat_key(r));
        out[r] = std::string(v.begin(), v.end());
      }
    };
    std::map<int, std::string> before, after;
    try {
      if (store_lost_) throw std::runtime_error("store lost");
      read_all(before);
      std::this_thread::sleep_for(3 * kBeat + std::chrono::milliseconds(500));
      read_all(after);
    } catch (const std::exception&) {
      const std::string where = launch_.master_addr + ":" + std::to_string(launch_.master_port);
      return launch_.agent_store ? "the store at " + where + " (torchrun's agent) is gone"
                                 : "rank 0 (which serves the store at " + where + ") is gone: killed, crashed or unreachable";
    }
    std::string stale;
    for (const auto& [r, v] : before)
      if (after[r] == v) stale += (stale.empty() ? "" : ", ") + std::to_string(r);
    if (!stale.empty()) return "rank " + stale + " stopped answering (killed, crashed or hung)";
    return "every rank is alive, so one is stuck or failed on its own (see its error)";
  }

  Launch launch_;
  ConnectOptions options_;
  c10::intrusive_ptr<c10d::TCPStore> tcp_, beat_tcp_;
  c10::intrusive_ptr<c10d::Store> store_, beat_store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg_;
  std::thread beat_thread_;
  std::mutex mu_, store_mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::atomic<bool> store_lost_{false};
};

}  // namespace

bool available() { return true; }

std::unique_ptr<train::Collective> connect(const Launch& launch, const ConnectOptions& options) {
  if (options.backend != "gloo")
    throw UsageError("--dist-backend '" + options.backend +
                     "': this build has the gloo backend only (NCCL needs a CUDA build with NCCL)");
  return std::make_unique<GlooCollective>(launch, options);
}

}  // namespace sne::distributed
