#include "tests/fake_nccl.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>

#include "collectives/reduce.h"
#include "collectives/spec.h"

namespace collbench::fake {

using collectives::CheckResult;
using collectives::CollectiveArgs;
using collectives::CommHandle;
using collectives::CommId;
using collectives::CommOps;
using collectives::CommResult;
using collectives::DeviceOps;
using collectives::DType;
using collectives::ReduceOp;
using collectives::StreamHandle;

namespace {

using Clock = std::chrono::steady_clock;
// A stream item: called (under the state lock) until it says kOk or kError.
using Step = std::function<CommResult()>;
// What makes a fresh item for one execution: at enqueue time, or at each graph launch.
using Work = std::function<Step(bool from_graph)>;

struct Group;
struct Comm;

struct Rendezvous {
  struct Entry {
    Comm* parent = nullptr;  // splits only
    int rank = 0;            // init: the rank; split: the rank in the parent
    int color = 0, key = 0;
    Comm* comm = nullptr;  // the new communicator (nullptr: no color)
  };
  int expected = 0;
  bool done = false;
  std::vector<Entry> entries;
};

struct Comm {
  int serial = -1;
  int world_rank = -1;
  int parent_serial = -1;
  std::shared_ptr<Group> group;           // null until created
  std::shared_ptr<Rendezvous> creating;   // its own creation, while pending
  std::shared_ptr<Rendezvous> splitting;  // a split of it, while pending
  int rank = -1;
  int splits_called = 0;
  bool finalizing = false, destroyed = false, aborted = false;
  int groups = 0;
  int fail_after = -1;
  std::string fail_why;
  std::string async_error;
  int busy_polls = 0;  // kInProgress answers left: a group still "being issued"
};

struct Slot {
  const void* sbuf = nullptr;
  std::size_t sbytes = 0;
  Comm* sender = nullptr;
  void* rbuf = nullptr;
  std::size_t rbytes = 0;
  bool done = false;
};

struct Channel {
  std::uint64_t sends = 0, recvs = 0;
  std::map<std::uint64_t, Slot> slots;
};

struct Group {
  int size = 0;
  int finalized = 0;
  std::map<std::pair<int, int>, Channel> channels;    // (source, destination)
  std::map<int, std::shared_ptr<Rendezvous>> splits;  // by the members' split call number
};

struct PostedOp {
  bool send = false;
  void* buf = nullptr;
  std::size_t bytes = 0;
  int peer = 0;
  Comm* comm = nullptr;
};

Comm* as_comm(CommHandle h) { return static_cast<Comm*>(h); }

}  // namespace

struct FakeNccl::State {
  std::mutex mu;
  std::vector<std::unique_ptr<Comm>> comms;  // never freed: handles stay valid after abort
  std::map<std::uint64_t, std::shared_ptr<Rendezvous>> inits;
  std::uint64_t next_id = 1;
  bool hang = false;
  struct AsyncFault {
    int world_rank, nth, after;
    std::string why;
  };
  std::vector<AsyncFault> async_faults;
  std::map<int, int> created, groups, die_at;
  std::set<int> corrupt;
  std::vector<FakeEvent> events;

  Comm* new_comm(int world_rank, int parent_serial) {
    auto c = std::make_unique<Comm>();
    c->serial = static_cast<int>(comms.size());
    c->world_rank = world_rank;
    c->parent_serial = parent_serial;
    const int nth = created[world_rank]++;
    for (const auto& f : async_faults)
      if (f.world_rank == world_rank && f.nth == nth) {
        c->fail_after = f.after;
        c->fail_why = f.why;
      }
    events.push_back({world_rank, parent_serial < 0 ? "init" : "split", c->serial, parent_serial});
    comms.push_back(std::move(c));
    return comms.back().get();
  }

  void complete_init(Rendezvous& rv) {
    if (hang || rv.done || static_cast<int>(rv.entries.size()) < rv.expected) return;
    auto g = std::make_shared<Group>();
    g->size = rv.expected;
    for (auto& e : rv.entries) {
      e.comm->group = g;
      e.comm->rank = e.rank;
      e.comm->creating.reset();
    }
    rv.done = true;
  }

  void complete_split(Rendezvous& rv) {
    if (hang || rv.done || static_cast<int>(rv.entries.size()) < rv.expected) return;
    std::map<int, std::vector<Rendezvous::Entry*>> by_color;
    for (auto& e : rv.entries) {
      e.parent->splitting.reset();
      if (e.comm) by_color[e.color].push_back(&e);
    }
    for (auto& [color, members] : by_color) {
      std::sort(members.begin(), members.end(), [](auto* a, auto* b) {
        return std::make_pair(a->key, a->rank) < std::make_pair(b->key, b->rank);
      });
      auto g = std::make_shared<Group>();
      g->size = static_cast<int>(members.size());
      for (int r = 0; r < g->size; ++r) {
        Comm* c = members[static_cast<std::size_t>(r)]->comm;
        c->group = g;
        c->rank = r;
        c->creating.reset();
      }
    }
    rv.done = true;
  }
};

namespace {

using State = FakeNccl::State;

class FakeDevice final : public DeviceOps {
 public:
  FakeDevice(std::shared_ptr<State> s, int world_rank, std::size_t cache)
      : s_(std::move(s)), world_rank_(world_rank), cache_(cache) {}

  StreamHandle stream() const override { return const_cast<FakeDevice*>(this); }
  int device() const override { return world_rank_; }

  // Under the state lock.
  void enqueue_locked(const Work& w) {
    if (capturing_)
      captured_.push_back(w);
    else
      queue_.push_back(w(false));
  }
  Status run(std::function<void()> f) {
    std::lock_guard lock(s_->mu);
    enqueue_locked([f](bool) -> Step {
      return [f]() {
        f();
        return CommResult::Ok();
      };
    });
    return Status::Ok();
  }

  Status copy(void* dst, const void* src, std::size_t bytes) override {
    return run([=] { std::memmove(dst, src, bytes); });
  }
  Status upload(void* dst, const void* host, std::size_t bytes) override {
    return run([=] { std::memcpy(dst, host, bytes); });
  }
  Status download(void* host, const void* src, std::size_t bytes) override {
    return run([=] { std::memcpy(host, src, bytes); });
  }
  Status reduce(void* inout, const void* in, std::size_t count, DType t, ReduceOp op) override {
    return run([=] { collectives::reduce_inplace(inout, in, count, t, op); });
  }
  Status fill_input(void* buf, const CollectiveArgs& a, int rank, int ranks,
                    std::uint64_t seed) override {
    return run([=] { collectives::fill_input(buf, a, rank, ranks, seed); });
  }
  Status fill_sentinel(void* buf, const CollectiveArgs& a, int rank, int ranks) override {
    return run([=] { collectives::fill_sentinel(buf, a, rank, ranks); });
  }
  Status add_to_element(void* buf, std::size_t index, DType t, double delta) override {
    return run([=] {
      collectives::store_from_double(buf, index, t,
                                     collectives::element_as_double(buf, index, t) + delta);
    });
  }
  Status check_output(const void* buf, const CollectiveArgs& a, int rank, int ranks,
                      std::uint64_t seed) override {
    return run([=, this] { last_check_ = collectives::check_output(buf, a, rank, ranks, seed); });
  }
  CheckResult check_result() override {
    std::lock_guard lock(s_->mu);
    return last_check_;
  }
  CommResult query() override {
    std::lock_guard lock(s_->mu);
    progress_locked();
    if (!error_.empty()) return CommResult::Error(error_);
    return queue_.empty() ? CommResult::Ok() : CommResult::InProgress();
  }

  Status record(std::size_t event, bool /*capturing*/) override {
    std::lock_guard lock(s_->mu);
    if (events_.size() <= event) events_.resize(event + 1);
    enqueue_locked([this, event](bool) -> Step {
      events_[event].done = false;  // pending from the moment it is enqueued or launched
      return [this, event]() {
        events_[event] = {true, Clock::now()};
        return CommResult::Ok();
      };
    });
    return Status::Ok();
  }
  CommResult event_state(std::size_t event) override {
    std::lock_guard lock(s_->mu);
    progress_locked();
    if (!error_.empty()) return CommResult::Error(error_);
    if (event >= events_.size()) return CommResult::Error("event never recorded");
    return events_[event].done ? CommResult::Ok() : CommResult::InProgress();
  }
  Status elapsed_s(std::size_t start, std::size_t stop, double* seconds) override {
    std::lock_guard lock(s_->mu);
    if (start >= events_.size() || stop >= events_.size() || !events_[start].done ||
        !events_[stop].done)
      return Status::Failure("elapsed time of an event not completed");
    *seconds = std::chrono::duration<double>(events_[stop].at - events_[start].at).count();
    return Status::Ok();
  }

  Status begin_capture() override {
    std::lock_guard lock(s_->mu);
    capturing_ = true;
    captured_.clear();
    return Status::Ok();
  }
  Status end_capture(void** graph) override {
    std::lock_guard lock(s_->mu);
    capturing_ = false;
    *graph = new std::vector<Work>(std::move(captured_));
    captured_.clear();
    return Status::Ok();
  }
  Status launch(void* graph) override {
    std::lock_guard lock(s_->mu);
    for (const Work& w : *static_cast<std::vector<Work>*>(graph)) queue_.push_back(w(true));
    return Status::Ok();
  }
  void destroy_graph(void* graph) override { delete static_cast<std::vector<Work>*>(graph); }
  bool capturing() const override {
    std::lock_guard lock(s_->mu);
    return capturing_;
  }

  collectives::Buffer allocate(std::size_t bytes) override {
    return collectives::allocate_host(bytes);  // zeroed
  }
  std::size_t cache_bytes() const override { return cache_; }

 private:
  struct Event {
    bool done = false;
    Clock::time_point at;
  };

  void progress_locked() {
    while (!queue_.empty() && error_.empty()) {
      const CommResult r = queue_.front()();
      if (r.in_progress()) return;
      if (r.failed()) {
        error_ = r.text;
        return;
      }
      queue_.pop_front();
    }
  }

  std::shared_ptr<State> s_;
  int world_rank_;
  std::size_t cache_;
  std::deque<Step> queue_;
  bool capturing_ = false;
  std::vector<Work> captured_;
  std::vector<Event> events_;
  CheckResult last_check_;
  std::string error_;
};

// The item of one group: posts its operations when it starts running, then completes when every
// receive has copied its data and every send has been copied by its receiver.
Work p2p_work(State* s, std::vector<PostedOp> ops, int world_rank) {
  return [s, ops, world_rank](bool from_graph) -> Step {
    auto refs = std::make_shared<std::vector<Slot*>>();
    return [s, ops, world_rank, from_graph, refs]() -> CommResult {
      if (refs->empty()) {
        for (const PostedOp& op : ops) {
          const int me = op.comm->rank;
          Channel& ch =
              op.comm->group
                  ->channels[op.send ? std::make_pair(me, op.peer) : std::make_pair(op.peer, me)];
          Slot& slot = ch.slots[op.send ? ch.sends++ : ch.recvs++];
          if (op.send) {
            slot.sbuf = op.buf;
            slot.sbytes = op.bytes;
            slot.sender = op.comm;
          } else {
            slot.rbuf = op.buf;
            slot.rbytes = op.bytes;
          }
          refs->push_back(&slot);
        }
      }
      bool all = true;
      for (std::size_t i = 0; i < ops.size(); ++i) {
        const PostedOp& op = ops[i];
        if (op.comm->aborted) return CommResult::Error("the communicator was aborted");
        if (!op.comm->async_error.empty()) return CommResult::Error(op.comm->async_error);
        Slot& slot = *(*refs)[i];
        if (slot.done) continue;
        if (!op.send && slot.sender && !slot.sender->aborted) {
          if (slot.sbytes != slot.rbytes) {
            const std::string why = "fake NCCL: rank " + std::to_string(op.comm->rank) +
                                    " received " + std::to_string(slot.rbytes) +
                                    " bytes from rank " + std::to_string(op.peer) +
                                    ", which sent " + std::to_string(slot.sbytes);
            op.comm->async_error = slot.sender->async_error = why;
            return CommResult::Error(why);
          }
          std::memcpy(slot.rbuf, slot.sbuf, slot.rbytes);
          if (from_graph && s->corrupt.count(world_rank))
            static_cast<unsigned char*>(slot.rbuf)[0] ^= 0x5a;
          slot.done = true;
          continue;
        }
        all = false;
      }
      return all ? CommResult::Ok() : CommResult::InProgress();
    };
  };
}

class FakeCommOps final : public CommOps {
 public:
  FakeCommOps(std::shared_ptr<State> s, int world_rank)
      : s_(std::move(s)), world_rank_(world_rank) {}

  CommResult unique_id(CommId* id) override {
    std::lock_guard lock(s_->mu);
    const std::uint64_t key = s_->next_id++;
    id->bytes.fill(0);
    std::memcpy(id->bytes.data(), &key, sizeof key);
    return CommResult::Ok();
  }
  CommResult init_rank(CommHandle* comm, int nranks, const CommId& id, int rank) override {
    std::lock_guard lock(s_->mu);
    std::uint64_t key = 0;
    std::memcpy(&key, id.bytes.data(), sizeof key);
    auto& rv = s_->inits[key];
    if (!rv) {
      rv = std::make_shared<Rendezvous>();
      rv->expected = nranks;
    }
    Comm* c = s_->new_comm(world_rank_, -1);
    c->creating = rv;
    rv->entries.push_back({nullptr, rank, 0, 0, c});
    s_->complete_init(*rv);
    *comm = c;
    return CommResult::InProgress();
  }
  CommResult split(CommHandle parent, int color, int key, CommHandle* sub) override {
    std::lock_guard lock(s_->mu);
    Comm* p = as_comm(parent);
    if (!p->group) return CommResult::Error("split of a communicator not yet created");
    auto& rv = p->group->splits[p->splits_called++];
    if (!rv) {
      rv = std::make_shared<Rendezvous>();
      rv->expected = p->group->size;
    }
    Comm* c = color >= 0 ? s_->new_comm(world_rank_, p->serial) : nullptr;
    if (c) c->creating = rv;
    p->splitting = rv;
    rv->entries.push_back({p, p->rank, color, key, c});
    s_->complete_split(*rv);
    *sub = c;
    return CommResult::InProgress();
  }
  CommResult group_start() override {
    ++depth_;
    return CommResult::Ok();
  }
  CommResult send(const void* buf, std::size_t bytes, int peer, CommHandle comm,
                  StreamHandle stream) override {
    return post({true, const_cast<void*>(buf), bytes, peer, as_comm(comm)}, stream);
  }
  CommResult recv(void* buf, std::size_t bytes, int peer, CommHandle comm,
                  StreamHandle stream) override {
    return post({false, buf, bytes, peer, as_comm(comm)}, stream);
  }
  CommResult group_end() override {
    if (--depth_ > 0) return CommResult::Ok();
    std::vector<PostedOp> ops;
    ops.swap(pending_);
    std::unique_lock lock(s_->mu);
    const int nth = s_->groups[world_rank_]++;
    if (auto it = s_->die_at.find(world_rank_); it != s_->die_at.end() && it->second == nth) {
      lock.unlock();
      throw RankDied();
    }
    if (ops.empty()) return CommResult::Ok();
    std::set<Comm*> comms;
    for (const PostedOp& op : ops) comms.insert(op.comm);
    for (Comm* c : comms) {
      ++c->groups;
      c->busy_polls = 1;
    }
    auto* device = static_cast<FakeDevice*>(stream_);
    stream_ = nullptr;
    device->enqueue_locked(p2p_work(s_.get(), std::move(ops), world_rank_));
    return CommResult::InProgress();
  }
  CommResult async_state(CommHandle comm) override {
    std::lock_guard lock(s_->mu);
    Comm* c = as_comm(comm);
    if (c->aborted || c->destroyed)
      return CommResult::Error("fake NCCL: communicator used after abort/destroy");
    if (c->fail_after >= 0 && c->groups >= c->fail_after && c->async_error.empty())
      c->async_error = c->fail_why;
    if (!c->async_error.empty()) return CommResult::Error(c->async_error);
    if (!c->group || c->splitting) return CommResult::InProgress();
    if (c->finalizing)
      return c->group->finalized == c->group->size ? CommResult::Ok() : CommResult::InProgress();
    if (c->busy_polls > 0) {
      --c->busy_polls;
      return CommResult::InProgress();
    }
    return CommResult::Ok();
  }
  CommResult finalize(CommHandle comm) override {
    std::lock_guard lock(s_->mu);
    Comm* c = as_comm(comm);
    s_->events.push_back({world_rank_, "finalize", c->serial, c->parent_serial});
    if (!c->group) return CommResult::Error("fake NCCL: finalize of a communicator not created");
    c->finalizing = true;
    ++c->group->finalized;
    return CommResult::InProgress();
  }
  CommResult destroy(CommHandle comm) override {
    std::lock_guard lock(s_->mu);
    Comm* c = as_comm(comm);
    s_->events.push_back({world_rank_, "destroy", c->serial, c->parent_serial});
    if (!c->finalizing || c->group->finalized < c->group->size)
      return CommResult::Error("fake NCCL: destroy before the finalize completed");
    c->destroyed = true;
    return CommResult::Ok();
  }
  CommResult abort(CommHandle comm) override {
    std::lock_guard lock(s_->mu);
    Comm* c = as_comm(comm);
    s_->events.push_back({world_rank_, "abort", c->serial, c->parent_serial});
    c->aborted = true;
    return CommResult::Ok();
  }
  CommResult rank_and_size(CommHandle comm, int* rank, int* size) override {
    std::lock_guard lock(s_->mu);
    Comm* c = as_comm(comm);
    if (!c->group) return CommResult::Error("fake NCCL: communicator not created yet");
    *rank = c->rank;
    *size = c->group->size;
    return CommResult::Ok();
  }

 private:
  CommResult post(PostedOp op, StreamHandle stream) {
    if (depth_ == 0) return CommResult::Error("fake NCCL: send/recv outside a group");
    if (stream_ && stream_ != stream)
      return CommResult::Error("fake NCCL: one group on two streams");
    stream_ = stream;
    pending_.push_back(op);
    return CommResult::Ok();
  }

  std::shared_ptr<State> s_;
  int world_rank_;
  int depth_ = 0;
  std::vector<PostedOp> pending_;
  StreamHandle stream_ = nullptr;
};

}  // namespace

FakeNccl::FakeNccl() : state_(std::make_shared<State>()) {}
FakeNccl::~FakeNccl() = default;

std::unique_ptr<CommOps> FakeNccl::comm_ops(int world_rank) {
  return std::make_unique<FakeCommOps>(state_, world_rank);
}

std::shared_ptr<DeviceOps> FakeNccl::device(int world_rank, std::size_t cache_bytes) {
  return std::make_shared<FakeDevice>(state_, world_rank, cache_bytes);
}

void FakeNccl::hang_creation() {
  std::lock_guard lock(state_->mu);
  state_->hang = true;
}

void FakeNccl::fail_async(int world_rank, int nth, int after_groups, const std::string& why) {
  std::lock_guard lock(state_->mu);
  state_->async_faults.push_back({world_rank, nth, after_groups, why});
}

void FakeNccl::die_in_group(int world_rank, int nth) {
  std::lock_guard lock(state_->mu);
  state_->die_at[world_rank] = nth;
}

void FakeNccl::corrupt_graph_receives(int world_rank) {
  std::lock_guard lock(state_->mu);
  state_->corrupt.insert(world_rank);
}

std::vector<FakeEvent> FakeNccl::events() const {
  std::lock_guard lock(state_->mu);
  return state_->events;
}

int FakeNccl::open_comms() const {
  std::lock_guard lock(state_->mu);
  int n = 0;
  for (const auto& c : state_->comms) n += c->aborted || c->destroyed ? 0 : 1;
  return n;
}

}  // namespace collbench::fake
