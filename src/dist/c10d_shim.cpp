// The C ABI over PyTorch's c10d that fastnet's `dist` module calls: a
// TCPStore for rendezvous and a ProcessGroupGloo (CPU tensors) or, when
// compiled with USE_C10D_NCCL, a ProcessGroupNCCL (CUDA tensors) on it, with
// all-reduce (sum), broadcast and barrier. Every function catches C++
// exceptions and returns them as a malloc'd message (NULL on success), so
// no exception crosses into Rust. Tensors are tch's handles, which are
// `at::Tensor*` (torch-sys's C_tensor).
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

namespace {

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> pg;
  std::chrono::milliseconds timeout;
};

char *message(const std::string &s) {
  char *m = static_cast<char *>(std::malloc(s.size() + 1));
  if (m != nullptr) {
    std::memcpy(m, s.c_str(), s.size() + 1);
  }
  return m;
}

template <typename F> char *guard(F &&f) {
  try {
    f();
    return nullptr;
  } catch (const std::exception &e) {
    return message(e.what());
  } catch (...) {
    return message("unknown C++ exception in c10d");
  }
}

void wait(Group *g, c10::intrusive_ptr<c10d::Work> work) {
  if (!work->wait(g->timeout)) {
    throw std::runtime_error("c10d operation timed out");
  }
}

} // namespace

extern "C" {

// Frees a message returned by any function below.
void fastnet_c10d_free_message(char *m) { std::free(m); }

// Whether this build has NCCL.
int fastnet_c10d_has_nccl() {
#ifdef USE_C10D_NCCL
  return 1;
#else
  return 0;
#endif
}

}

namespace {
c10::intrusive_ptr<c10d::Store> make_store(const char *host, int port, int serve,
                                           int listen_fd, int rank, int world,
                                           std::chrono::milliseconds timeout) {
    c10d::TCPStoreOptions opts;
    opts.port = static_cast<std::uint16_t>(port);
    opts.isServer = serve != 0 && rank == 0;
    opts.numWorkers = world;
    opts.waitWorkers = true;
    opts.timeout = timeout;
    if (rank == 0 && listen_fd >= 0) {
      opts.masterListenFd = listen_fd;
    }
    c10::intrusive_ptr<c10d::Store> tcp =
        c10::make_intrusive<c10d::TCPStore>(std::string(host), opts);
    return c10::make_intrusive<c10d::PrefixStore>("fastnet", tcp);
}
} // namespace

extern "C" {

// Creates the store (when `serve`, rank 0 serves it on `listen_fd`, a socket
// already bound to the master address and listening; otherwise every rank
// connects to host:port, e.g. torchrun's agent store) and a Gloo process
// group on it, under the key prefix "fastnet/", whose transport binds to
// `local_addr`.
char *fastnet_c10d_gloo_new(const char *host, int port, int serve, int listen_fd,
                            int rank, int world, long timeout_ms,
                            const char *local_addr, void **out) {
  return guard([&] {
    auto timeout = std::chrono::milliseconds(timeout_ms);
    auto store = make_store(host, port, serve, listen_fd, rank, world, timeout);
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    options->devices.push_back(
        c10d::ProcessGroupGloo::createDeviceForHostname(std::string(local_addr)));
    options->threads = 2;
    c10::intrusive_ptr<c10d::Backend> pg =
        c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, options);
    *out = new Group{store, pg, timeout};
  });
}

// The same with NCCL for CUDA tensors (an error in a build without NCCL).
char *fastnet_c10d_nccl_new(const char *host, int port, int serve, int listen_fd,
                            int rank, int world, long timeout_ms, void **out) {
  return guard([&] {
#ifdef USE_C10D_NCCL
    auto timeout = std::chrono::milliseconds(timeout_ms);
    auto store = make_store(host, port, serve, listen_fd, rank, world, timeout);
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout;
    c10::intrusive_ptr<c10d::Backend> pg =
        c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, world, options);
    *out = new Group{store, pg, timeout};
#else
    (void)host; (void)port; (void)serve; (void)listen_fd; (void)rank;
    (void)world; (void)timeout_ms; (void)out;
    throw std::runtime_error(
        "this fastnet was built without NCCL (the CUDA headers were not found at "
        "build time: scripts/setup.sh installs them); it reduces through Gloo");
#endif
  });
}

void fastnet_c10d_free(void *g) { delete static_cast<Group *>(g); }

// A second client of the rendezvous store (under the same key prefix), for
// the heartbeat thread: the group's own connection stays the training
// loop's.
char *fastnet_c10d_store_connect(const char *host, int port, long timeout_ms,
                                 void **out) {
  return guard([&] {
    c10d::TCPStoreOptions opts;
    opts.port = static_cast<std::uint16_t>(port);
    opts.isServer = false;
    opts.waitWorkers = false;
    opts.timeout = std::chrono::milliseconds(timeout_ms);
    c10::intrusive_ptr<c10d::Store> tcp =
        c10::make_intrusive<c10d::TCPStore>(std::string(host), opts);
    *out = new c10::intrusive_ptr<c10d::Store>(
        c10::make_intrusive<c10d::PrefixStore>("fastnet", tcp));
  });
}

void fastnet_c10d_store_free(void *s) {
  delete static_cast<c10::intrusive_ptr<c10d::Store> *>(s);
}

char *fastnet_c10d_store_set(void *s, const char *key, long long value) {
  return guard([&] {
    auto &store = *static_cast<c10::intrusive_ptr<c10d::Store> *>(s);
    store->set(std::string(key), std::to_string(value));
  });
}

// `*found` = 0 when the key is not there (no wait).
char *fastnet_c10d_store_get(void *s, const char *key, long long *value,
                             int *found) {
  return guard([&] {
    auto &store = *static_cast<c10::intrusive_ptr<c10d::Store> *>(s);
    *found = 0;
    if (store->check({std::string(key)})) {
      auto bytes = store->get(std::string(key));
      *value = std::stoll(std::string(bytes.begin(), bytes.end()));
      *found = 1;
    }
  });
}

// Sums `tensor` over all ranks in place.
char *fastnet_c10d_allreduce_sum(void *g, void *tensor) {
  return guard([&] {
    auto *group = static_cast<Group *>(g);
    std::vector<at::Tensor> ts{*static_cast<at::Tensor *>(tensor)};
    c10d::AllreduceOptions opts;
    opts.reduceOp = c10d::ReduceOp::SUM;
    opts.timeout = group->timeout;
    wait(group, group->pg->allreduce(ts, opts));
  });
}

// Copies rank `root`'s `tensor` to every rank in place.
char *fastnet_c10d_broadcast(void *g, void *tensor, int root) {
  return guard([&] {
    auto *group = static_cast<Group *>(g);
    std::vector<at::Tensor> ts{*static_cast<at::Tensor *>(tensor)};
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    opts.timeout = group->timeout;
    wait(group, group->pg->broadcast(ts, opts));
  });
}

char *fastnet_c10d_barrier(void *g) {
  return guard([&] {
    auto *group = static_cast<Group *>(g);
    c10d::BarrierOptions opts;
    opts.timeout = group->timeout;
    wait(group, group->pg->barrier(opts));
  });
}

} // extern "C"
