// The CPU's way of training a batch of CNN runs: one run per thread at a time, each thread computing with one
// thread of its own (OpenMP, OpenBLAS and oneDNN see one thread), so that a run's result depends on nothing but
// its own data: the zoo is the same bit for bit whatever the thread count and whatever the batch-mates, dropout
// included (each run draws its masks from its own generator).
//
// Why not at::parallel_for over the runs: oneDNN's convolution backward called inside an OpenMP parallel region
// measured more than 10x slower than outside one. These are plain threads, outside any OpenMP region, whose
// OpenMP thread count is set to 1.
#include <omp.h>

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include <ATen/Parallel.h>

#include "generators/cnn_runs.h"
#include "generators/cnn_training_parts.h"

namespace sne::generators::detail {
namespace {

// Runs f(0..count-1) on `threads` persistent worker threads, each with an OpenMP thread count of 1; run() returns
// when all are done and rethrows the first exception one of them threw.
class NetworkPool {
 public:
  explicit NetworkPool(int threads) {
    for (int t = 0; t < threads; ++t) workers_.emplace_back([this] { work(); });
  }
  ~NetworkPool() {
    {
      std::lock_guard<std::mutex> l(m_);
      quit_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }
  NetworkPool(const NetworkPool&) = delete;
  NetworkPool& operator=(const NetworkPool&) = delete;

  void run(int64_t count, const std::function<void(int64_t)>& f) {
    if (count <= 0) return;
    std::unique_lock<std::mutex> l(m_);
    f_ = &f;
    count_ = count;
    next_ = 0;
    done_ = 0;
    error_ = nullptr;
    ++generation_;
    wake_.notify_all();
    finished_.wait(l, [&] { return done_ == count_; });
    f_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void work() {
    (void)at::get_num_threads();  // LibTorch's per-thread initialisation first: it would set the count back
    omp_set_num_threads(1);
    uint64_t seen = 0;
    std::unique_lock<std::mutex> l(m_);
    for (;;) {
      wake_.wait(l, [&] { return quit_ || generation_ != seen; });
      if (quit_) return;
      seen = generation_;
      while (next_ < count_) {
        const int64_t i = next_++;
        const auto* f = f_;
        l.unlock();
        std::exception_ptr e;
        try {
          (*f)(i);
        } catch (...) {
          e = std::current_exception();
        }
        l.lock();
        if (e && !error_) error_ = e;
        if (++done_ == count_) finished_.notify_one();
      }
    }
  }

  std::vector<std::thread> workers_;
  std::mutex m_;
  std::condition_variable wake_, finished_;
  const std::function<void(int64_t)>* f_ = nullptr;
  int64_t count_ = 0, next_ = 0, done_ = 0;
  uint64_t generation_ = 0;
  bool quit_ = false;
  std::exception_ptr error_;
};

// Images per slice of a network's evaluation: fixed, so that its sums are the same in any batch.
constexpr int64_t kEvalSlice = 1024;

}  // namespace

std::vector<CnnResult> train_threaded(const zoo::ArchitectureSpec& spec, const CnnRecipe& r, const CnnChoices& c,
                                      const std::vector<CnnRun>& runs, const CnnData& data, const Context&,
                                      const std::atomic<bool>* stop, const std::function<void(int64_t)>& on_epoch,
                                      const std::function<void()>& on_step) {
  const auto n = static_cast<int64_t>(runs.size());
  const int64_t P = spec.num_params(), B = r.batch_size, n_train = data.train_x.size(0), n_test = data.test_x.size(0);
  const auto fopt = torch::TensorOptions().dtype(torch::kFloat);
  const auto lopt = torch::TensorOptions().dtype(torch::kLong);
  const auto mask = l2_mask(spec, fopt);
  const auto image = [&](const torch::Tensor& x, const torch::Tensor& idx) {
    return x.index_select(0, idx).view({1, idx.size(0), x.size(1), x.size(2), x.size(3)});
  };

  // Each run's own state: weights (1, P), optimiser, data, dropout generator.
  struct Net {
    RunState st;
    torch::Tensor params, drop, train_eval;
    std::unique_ptr<Optimisers> opt;
    torch::Generator gen;
    std::vector<int64_t> order;
    bool alive = true;
  };
  std::vector<Net> nets(static_cast<std::size_t>(n));
  std::vector<CnnResult> results(static_cast<std::size_t>(n));
  int64_t steps = 1;
  for (int64_t k = 0; k < n; ++k) {
    const CnnRun& run = runs[static_cast<std::size_t>(k)];
    Net& net = nets[static_cast<std::size_t>(k)];
    net.st = run_state(run, n_train, B);
    steps = std::max(steps, net.st.steps_per_epoch);
    auto init = init_cnn_params(spec, run);
    net.params = torch::from_blob(init.data(), {1, P}, torch::kFloat).clone();
    net.drop = torch::full({1}, static_cast<float>(run.dropout), fopt);
    net.opt = std::make_unique<Optimisers>(std::vector<CnnRun>{run}, P, fopt);
    net.gen = at::detail::createCPUGenerator(mix_seed(run.seed ^ 0x64726f70ull));
    // Training accuracy and loss on the first min(train_eval_examples, subset) of its own images.
    const int64_t e = std::min<int64_t>(r.train_eval_examples, static_cast<int64_t>(net.st.subset.size()));
    net.train_eval = torch::from_blob(net.st.subset.data(), {1, e}, torch::kLong).clone();
    results[static_cast<std::size_t>(k)].run = run;
  }
  const auto test_idx = torch::arange(n_test, lopt).unsqueeze(0);
  NetworkPool pool(std::max(1, std::min<int>(at::get_num_threads(), static_cast<int>(n))));

  const auto checkpoint = [&](int64_t epoch) {
    pool.run(n, [&](int64_t k) {
      const Net& net = nets[static_cast<std::size_t>(k)];
      const std::vector<int> act{runs[static_cast<std::size_t>(k)].activation};
      const auto [te_loss, te_acc] =
          evaluate(spec, net.params, act, data.test_x, data.test_y, test_idx, kEvalSlice, "per_network");
      const auto [tr_loss, tr_acc] =
          evaluate(spec, net.params, act, data.train_x, data.train_y, net.train_eval, kEvalSlice, "per_network");
      CnnCheckpoint cp;
      cp.epoch = epoch;
      cp.test_accuracy = te_acc.to(torch::kDouble).item<double>();
      cp.test_loss = te_loss.to(torch::kDouble).item<double>();
      cp.train_accuracy = tr_acc.to(torch::kDouble).item<double>();
      cp.train_loss = tr_loss.to(torch::kDouble).item<double>();
      const auto row = net.params.contiguous();
      cp.params.assign(row.data_ptr<float>(), row.data_ptr<float>() + P);
      results[static_cast<std::size_t>(k)].checkpoints.push_back(std::move(cp));
    });
  };
  const auto& stored = c.checkpoint_epochs;
  if (std::binary_search(stored.begin(), stored.end(), int64_t{0})) checkpoint(0);

  const auto one = torch::ones({1, 1}, fopt);
  for (int64_t epoch = 1; epoch <= r.epochs; ++epoch) {
    for (int64_t k = 0; k < n; ++k) {
      Net& net = nets[static_cast<std::size_t>(k)];
      net.order = epoch_order(runs[static_cast<std::size_t>(k)], net.st, epoch);
    }
    for (int64_t s = 0; s < steps; ++s) {
      if (stop && stop->load()) return {};
      // The runs that train in this step; a run whose subset is done for this epoch, or that diverged, waits.
      std::vector<int64_t> live;
      for (int64_t k = 0; k < n; ++k)
        if (s < nets[static_cast<std::size_t>(k)].st.steps_per_epoch && nets[static_cast<std::size_t>(k)].alive)
          live.push_back(k);
      pool.run(static_cast<int64_t>(live.size()), [&](int64_t i) {
        const int64_t k = live[static_cast<std::size_t>(i)];
        Net& net = nets[static_cast<std::size_t>(k)];
        const auto m = static_cast<int64_t>(net.order.size());
        std::vector<int64_t> batch(static_cast<std::size_t>(B));
        for (int64_t j = 0; j < B; ++j) batch[static_cast<std::size_t>(j)] = net.order[static_cast<std::size_t>((s * B + j) % m)];
        const auto idx = torch::from_blob(batch.data(), {B}, torch::kLong);
        auto w = net.params.detach().requires_grad_(true);
        const BatchedNets one_net{&spec, w, {runs[static_cast<std::size_t>(k)].activation}, net.drop, true, net.gen,
                                  "per_network"};
        const auto loss = training_loss(one_net, image(data.train_x, idx), data.train_y.index_select(0, idx).view({1, B}),
                                        mask, net.opt->l2());
        const auto g = torch::autograd::grad({loss}, {w})[0];
        if (!net.opt->step(net.params, g, one).empty()) {
          results[static_cast<std::size_t>(k)].diverged_epoch = epoch;
          net.alive = false;
        }
      });
      if (on_step) on_step();
    }
    if (std::binary_search(stored.begin(), stored.end(), epoch)) checkpoint(epoch);
    if (on_epoch) on_epoch(epoch);
  }
  return results;
}

}  // namespace sne::generators::detail
