#include "zoo/zoo_stream.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <numeric>
#include <random>
#include <stdexcept>
#include <thread>

#include "core/error.h"
#include "core/strings.h"

namespace sne::zoo {
namespace {
constexpr int64_t kQueueWindows = 2;     // prefetched windows waiting for the consumer
constexpr int64_t kShufflePool = 4;      // loaded windows networks are drawn from when shuffling
}  // namespace

void NetworkBatch::clear() {
  index.clear();
  arch.clear();
  offset.assign(1, 0);
  params.clear();
  properties.clear();
}

struct ZooStream::Impl {
  struct Loaded {
    int64_t window = 0;
    std::unique_ptr<float[]> data;   // a recycled buffer of window_floats; only the window's rows are written
    std::vector<int64_t> remaining;  // selection positions still to deliver; delivered from the back
  };

  const ZooStream& s;
  std::vector<int64_t> order;  // window indices in epoch order
  std::size_t window_floats = 0;                 // the largest window, in floats
  std::vector<std::unique_ptr<float[]>> spare;   // buffers handed back by the consumer (guarded by m)
  std::mt19937_64 rng;

  // Producer side (background thread or synchronous).
  std::thread io;
  std::mutex m;
  std::condition_variable cv;
  std::deque<Loaded> queue;
  std::size_t next_load = 0;
  bool stop = false;
  std::exception_ptr error;

  // Consumer side.
  std::vector<Loaded> pool;
  std::size_t windows_received = 0;
  std::vector<NetworkBatch> partial;  // one per architecture when grouping, else one
  std::size_t flush_cursor = 0;

  explicit Impl(const ZooStream& owner) : s(owner) {}
  ~Impl() { halt(); }

  void halt() {
    {
      std::lock_guard<std::mutex> lock(m);
      stop = true;
    }
    cv.notify_all();
    if (io.joinable()) io.join();
  }

  // Buffers are allocated once and recycled: a fixed set of window buffers keeps the resident memory at the
  // budget (freshly allocated and freed windows would linger in the allocator's per-thread heaps).
  std::unique_ptr<float[]> take_buffer() {
    {
      std::lock_guard<std::mutex> lock(m);
      if (!spare.empty()) {
        auto b = std::move(spare.back());
        spare.pop_back();
        return b;
      }
    }
    return std::unique_ptr<float[]>(new float[window_floats]);  // uninitialised: HDF5 overwrites it
  }
  void give_back(std::unique_ptr<float[]> b) {
    std::lock_guard<std::mutex> lock(m);
    spare.push_back(std::move(b));
  }

  Loaded load(int64_t w) {
    const Window& win = s.windows_[static_cast<std::size_t>(w)];
    Loaded l;
    l.window = w;
    l.data = take_buffer();
    s.file_->read_rows(win.arch, win.row_begin, win.row_end - win.row_begin, l.data.get());
    return l;
  }

  void producer() {
    try {
      while (true) {
        std::size_t w;
        {
          std::unique_lock<std::mutex> lock(m);
          cv.wait(lock, [&] { return stop || static_cast<int64_t>(queue.size()) < kQueueWindows; });
          if (stop || next_load >= order.size()) return;
          w = next_load++;
        }
        Loaded l = load(order[w]);
        {
          std::lock_guard<std::mutex> lock(m);
          queue.push_back(std::move(l));
        }
        cv.notify_all();
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(m);
      error = std::current_exception();
      cv.notify_all();
    }
  }

  void start(int64_t epoch) {
    halt();
    stop = false;
    for (auto& l : queue) spare.push_back(std::move(l.data));
    for (auto& l : pool) spare.push_back(std::move(l.data));
    queue.clear();
    pool.clear();
    if (window_floats == 0)
      for (const auto& w : s.windows_) {
        const int64_t p = s.file_->architectures()[static_cast<std::size_t>(w.arch)].num_params();
        window_floats = std::max(window_floats, static_cast<std::size_t>((w.row_end - w.row_begin) * p));
      }
    error = nullptr;
    next_load = windows_received = flush_cursor = 0;
    const std::size_t groups = s.options_.group_by_architecture ? s.file_->architectures().size() : 1;
    partial.assign(groups, NetworkBatch{});
    for (auto& b : partial) b.clear();
    order.resize(s.windows_.size());
    std::iota(order.begin(), order.end(), 0);
    std::seed_seq seq{static_cast<uint64_t>(s.options_.seed), static_cast<uint64_t>(epoch), uint64_t{0x5eed}};
    rng.seed(seq);
    if (s.options_.shuffle) std::shuffle(order.begin(), order.end(), rng);
    if (s.options_.prefetch) io = std::thread([this] { producer(); });
  }

  // The next window in epoch order, or false when none is left.
  bool receive(Loaded& out) {
    if (windows_received >= order.size()) return false;
    if (!s.options_.prefetch) {
      out = load(order[windows_received++]);
    } else {
      std::unique_lock<std::mutex> lock(m);
      cv.wait(lock, [&] { return !queue.empty() || error; });
      if (error) std::rethrow_exception(error);
      out = std::move(queue.front());
      queue.pop_front();
      ++windows_received;
      lock.unlock();
      cv.notify_all();
    }
    const auto& members = s.windows_[static_cast<std::size_t>(out.window)].members;
    out.remaining.assign(members.rbegin(), members.rend());
    if (s.options_.shuffle) std::shuffle(out.remaining.begin(), out.remaining.end(), rng);
    return true;
  }

  void add(NetworkBatch& b, const Loaded& l, int64_t pos) const {
    const Window& win = s.windows_[static_cast<std::size_t>(l.window)];
    const auto up = static_cast<std::size_t>(pos);
    const int64_t index = s.selection_[up];
    const int64_t row = s.file_->network_row()[static_cast<std::size_t>(index)];
    const int64_t p = s.file_->architectures()[static_cast<std::size_t>(win.arch)].num_params();
    const float* src = l.data.get() + (row - win.row_begin) * p;
    b.index.push_back(index);
    b.arch.push_back(win.arch);
    b.params.insert(b.params.end(), src, src + p);
    b.offset.push_back(static_cast<int64_t>(b.params.size()));
    const std::size_t np = s.options_.properties.size();
    b.properties.insert(b.properties.end(), s.selected_props_.begin() + static_cast<std::ptrdiff_t>(up * np),
                        s.selected_props_.begin() + static_cast<std::ptrdiff_t>((up + 1) * np));
  }

  bool next(NetworkBatch& out) {
    const std::size_t pool_size = s.options_.shuffle ? kShufflePool : 1;
    while (true) {
      while (pool.size() < pool_size) {
        Loaded l;
        if (!receive(l)) break;
        pool.push_back(std::move(l));
      }
      if (pool.empty()) break;
      std::size_t slot = 0;
      if (s.options_.shuffle) {  // a uniformly random remaining network of the pool
        std::size_t total = 0;
        for (const auto& l : pool) total += l.remaining.size();
        std::size_t pick = std::uniform_int_distribution<std::size_t>(0, total - 1)(rng);
        while (pick >= pool[slot].remaining.size()) pick -= pool[slot++].remaining.size();
      }
      Loaded& l = pool[slot];
      const int64_t pos = l.remaining.back();
      l.remaining.pop_back();
      const int arch = s.windows_[static_cast<std::size_t>(l.window)].arch;
      NetworkBatch& b = partial[s.options_.group_by_architecture ? static_cast<std::size_t>(arch) : 0];
      add(b, l, pos);
      if (l.remaining.empty()) {
        give_back(std::move(l.data));
        pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(slot));
      }
      if (b.size() == s.options_.batch_size) {
        std::swap(out, b);
        b.clear();
        return true;
      }
    }
    // End of epoch: hand out what is left, one partial batch per call.
    while (flush_cursor < partial.size()) {
      NetworkBatch& b = partial[flush_cursor++];
      if (b.size() == 0 || s.options_.drop_last) continue;
      std::swap(out, b);
      b.clear();
      return true;
    }
    return false;
  }
};

ZooStream::ZooStream(std::shared_ptr<const ZooFile> file, StreamOptions options)
    : file_(std::move(file)), options_(std::move(options)) {
  const std::string& path = file_->path();
  if (options_.batch_size < 1) throw std::invalid_argument("batch_size must be >= 1");
  if (!(options_.subset_fraction > 0 && options_.subset_fraction <= 1))
    throw std::invalid_argument("subset_fraction must be in (0, 1]");
  if (options_.memory_budget_bytes < 1) throw std::invalid_argument("memory_budget_bytes must be > 0");
  if (options_.num_shards < 1 || options_.shard_index < 0 || options_.shard_index >= options_.num_shards)
    throw std::invalid_argument("shard_index must be in [0, num_shards)");
  const int64_t n = file_->num_networks();
  if (n == 0) throw DataError(path + ": the zoo holds no networks");

  // Which networks: a split, filtered by architecture, then this shard's contiguous share.
  std::vector<int64_t> chosen;
  if (options_.split.empty()) {
    chosen.resize(static_cast<std::size_t>(n));
    std::iota(chosen.begin(), chosen.end(), 0);
  } else {
    chosen = file_->split(options_.split);
    for (std::size_t i = 0; i < chosen.size(); ++i) {
      if (chosen[i] < 0 || chosen[i] >= n)
        throw DataError(path + ": split '" + options_.split + "' names network " + std::to_string(chosen[i]) +
                        ", but the zoo has networks 0.." + std::to_string(n - 1));
      if (i > 0 && chosen[i] <= chosen[i - 1])
        throw DataError(path + ": split '" + options_.split + "' is not strictly increasing at entry " +
                        std::to_string(i) + " (network " + std::to_string(chosen[i]) + ")");
    }
  }
  if (!options_.architectures.empty()) {
    std::vector<bool> keep(file_->architectures().size(), false);
    for (const auto& name : options_.architectures) keep[static_cast<std::size_t>(file_->architecture_index(name))] = true;
    const auto& net_arch = file_->network_architecture();
    chosen.erase(std::remove_if(chosen.begin(), chosen.end(),
                                [&](int64_t i) { return !keep[static_cast<std::size_t>(net_arch[static_cast<std::size_t>(i)])]; }),
                 chosen.end());
  }
  if (options_.subset_fraction < 1.0) chosen = subset_of(chosen, options_.subset_fraction, options_.subset_seed);
  if (options_.skip_unknown) {  // NaN means unknown (docs/zoo-format.md): nothing to learn or score
    const std::size_t before = chosen.size();
    for (const auto& p : options_.properties) chosen = with_known(*file_, chosen, p);
    if (chosen.empty() && before > 0)
      throw DataError(path + ": split '" + (options_.split.empty() ? "all" : options_.split) + "': none of its " +
                      std::to_string(before) + " networks has a known " +
                      (options_.properties.size() == 1 ? "'" + options_.properties[0] + "'" : "value of every property") +
                      " (all are NaN)");
  }
  const auto total = static_cast<int64_t>(chosen.size());
  int64_t align = std::max<int64_t>(1, options_.shard_align);
  if ((total + align - 1) / align < options_.num_shards) align = 1;  // too few blocks for one per shard
  const int64_t blocks = (total + align - 1) / align;  // shards get whole blocks of `align` networks
  const int64_t lo = std::min(total, blocks * options_.shard_index / options_.num_shards * align);
  const int64_t hi = std::min(total, blocks * (options_.shard_index + 1) / options_.num_shards * align);
  selection_.assign(chosen.begin() + lo, chosen.begin() + hi);
  if (selection_.empty())
    throw DataError(path + ": no networks selected (split '" + (options_.split.empty() ? "all" : options_.split) +
                    "', architectures '" + (options_.architectures.empty() ? "all" : join(options_.architectures)) +
                    "', shard " + std::to_string(options_.shard_index) + "/" + std::to_string(options_.num_shards) + ")");

  // Requested properties of the selected networks.
  const std::size_t np = options_.properties.size();
  selected_props_.resize(selection_.size() * np);
  for (std::size_t k = 0; k < np; ++k) {
    const std::vector<double> column = file_->property(options_.properties[k]);
    for (std::size_t i = 0; i < selection_.size(); ++i)
      selected_props_[i * np + k] = column[static_cast<std::size_t>(selection_[i])];
  }

  // Window height per architecture: the budget covers the shuffle pool plus the prefetch queue.
  const int64_t buffered = max_buffered_windows();
  const auto& archs = file_->architectures();
  for (std::size_t a = 0; a < archs.size(); ++a) {
    const int64_t row_bytes = archs[a].num_params() * static_cast<int64_t>(sizeof(float));
    int64_t w = std::max<int64_t>(1, options_.memory_budget_bytes / (buffered * row_bytes));
    const int64_t chunk = file_->chunk_rows()[a];
    if (w >= chunk) w = w / chunk * chunk;
    window_rows_.push_back(w);
  }

  // Cut the selection, ordered by (architecture, row), into windows of aligned row ranges.
  std::vector<int64_t> by_row(selection_.size());
  std::iota(by_row.begin(), by_row.end(), 0);
  const auto& net_arch = file_->network_architecture();
  const auto& net_row = file_->network_row();
  const auto key = [&](int64_t pos) {
    const auto i = static_cast<std::size_t>(selection_[static_cast<std::size_t>(pos)]);
    return std::make_pair(net_arch[i], net_row[i]);
  };
  std::sort(by_row.begin(), by_row.end(), [&](int64_t a, int64_t b) {
    return delivered_before(*file_, selection_[static_cast<std::size_t>(a)], selection_[static_cast<std::size_t>(b)]);
  });
  for (int64_t pos : by_row) {
    const auto [arch, row] = key(pos);
    const auto ua = static_cast<std::size_t>(arch);
    if (row < 0 || row >= file_->rows_per_architecture()[ua])
      throw DataError(path + ": network " + std::to_string(selection_[static_cast<std::size_t>(pos)]) +
                      " points at row " + std::to_string(row) + " of architecture '" + archs[ua].name +
                      "', which has " + std::to_string(file_->rows_per_architecture()[ua]) + " rows");
    const int64_t block = row / window_rows_[ua];
    if (windows_.empty() || windows_.back().arch != arch || windows_.back().row_begin / window_rows_[ua] != block) {
      windows_.push_back(Window{arch, row, row + 1, {}});
    }
    Window& w = windows_.back();
    w.row_end = row + 1;
    w.members.push_back(pos);
  }
  impl_ = std::make_unique<Impl>(*this);
}

ZooStream::~ZooStream() = default;

int64_t ZooStream::max_buffered_windows() const {
  // The queue is counted even without prefetching so that the window layout, and with it the shuffled
  // order, does not depend on whether reads happen in the background.
  return (options_.shuffle ? kShufflePool : 1) + kQueueWindows;
}

void ZooStream::start_epoch(int64_t epoch) { impl_->start(epoch); }

bool ZooStream::next(NetworkBatch& batch) {
  if (impl_->order.empty()) impl_->start(0);  // first use: epoch 0
  return impl_->next(batch);
}

std::vector<int64_t> with_known(const ZooFile& file, const std::vector<int64_t>& ids, const std::string& property) {
  const std::vector<double> column = file.property(property);
  std::vector<int64_t> out;
  out.reserve(ids.size());
  for (const int64_t i : ids) {
    if (i < 0 || i >= static_cast<int64_t>(column.size()))
      throw DataError(file.path() + ": a split names network " + std::to_string(i) + ", but the zoo has networks 0.." +
                      std::to_string(static_cast<int64_t>(column.size()) - 1));
    if (!std::isnan(column[static_cast<std::size_t>(i)])) out.push_back(i);
  }
  return out;
}

bool delivered_before(const ZooFile& file, int64_t a, int64_t b) {
  const auto& arch = file.network_architecture();
  const auto& row = file.network_row();
  const auto ua = static_cast<std::size_t>(a), ub = static_cast<std::size_t>(b);
  return std::make_pair(arch[ua], row[ua]) < std::make_pair(arch[ub], row[ub]);
}

std::vector<int64_t> subset_of(const std::vector<int64_t>& ids, double fraction, uint64_t seed) {
  if (ids.empty() || fraction >= 1.0) return ids;
  const auto n = static_cast<int64_t>(ids.size());
  const int64_t k = std::clamp<int64_t>(static_cast<int64_t>(std::llround(fraction * static_cast<double>(n))), 1, n);
  // Each network gets a key from (seed, id) alone, so the subsets of growing fractions are nested.
  const auto key = [seed](int64_t id) {
    uint64_t z = seed + 0x9e3779b97f4a7c15ull * (static_cast<uint64_t>(id) + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  std::vector<int64_t> order(ids);
  std::nth_element(order.begin(), order.begin() + (k - 1), order.end(),
                   [&](int64_t a, int64_t b) { return key(a) < key(b); });
  order.resize(static_cast<std::size_t>(k));
  std::sort(order.begin(), order.end());
  return order;
}

}  // namespace sne::zoo
