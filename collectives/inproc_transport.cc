#include "collectives/inproc_transport.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <map>
#include <set>
#include <thread>
#include <utility>

#include "collectives/reduce.h"

namespace collbench::collectives {
namespace inproc_detail {

// One lock for the whole world keeps matching, cancellation, split and abort simple; the data
// itself is copied outside the lock.
struct WorldState {
  WorldState(int n, std::vector<int> node_of_rank)
      : cv(static_cast<std::size_t>(n)), nodes(std::move(node_of_rank)) {}
  std::mutex mu;
  std::vector<std::condition_variable> cv;  // one per world rank: only that thread waits on it
  const std::vector<int> nodes;             // node of every world rank
  bool aborted = false;
  std::string reason;

  void notify(int world_rank) { cv[static_cast<std::size_t>(world_rank)].notify_all(); }
};

enum class OpState { kIdle, kQueued, kCopying, kDone };

struct Op {
  Op* next = nullptr;
  bool is_send = false;
  const void* sbuf = nullptr;
  void* rbuf = nullptr;
  std::size_t bytes = 0;
  int src = 0, dst = 0, tag = 0;  // ranks within the group
  int owner = 0;                  // world rank of the posting thread
  OpState state = OpState::kIdle;
  bool mismatch = false;
  std::size_t peer_bytes = 0;
};

struct OpList {
  Op* head = nullptr;
  Op* tail = nullptr;

  void push(Op* op) {
    op->next = nullptr;
    if (tail)
      tail->next = op;
    else
      head = op;
    tail = op;
  }
  // First op (in posting order) that pred accepts, unlinked; nullptr if none.
  template <typename Pred>
  Op* take_first(Pred pred) {
    Op* prev = nullptr;
    for (Op* o = head; o; prev = o, o = o->next) {
      if (!pred(o)) continue;
      unlink(prev, o);
      return o;
    }
    return nullptr;
  }
  bool remove(Op* op) {
    Op* prev = nullptr;
    for (Op* o = head; o; prev = o, o = o->next) {
      if (o != op) continue;
      unlink(prev, o);
      return true;
    }
    return false;
  }

 private:
  void unlink(Op* prev, Op* o) {
    if (prev)
      prev->next = o->next;
    else
      head = o->next;
    if (tail == o) tail = prev;
    o->next = nullptr;
  }
};

struct Inbox {
  OpList sends;  // sends to this rank that no receive has matched yet
  OpList recvs;  // receives posted by this rank that no send has matched yet
};

struct SplitRound {
  int arrived = 0;
  int collected = 0;
  bool done = false;
  std::vector<int> color, key, newrank;
  std::vector<std::shared_ptr<Group>> result;
};

struct Group {
  std::shared_ptr<WorldState> world;
  int size = 0;
  std::vector<int> world_rank;
  std::vector<int> node_of_rank;
  std::vector<Inbox> inbox;
  std::map<int, SplitRound> splits;
};

}  // namespace inproc_detail

using inproc_detail::Group;
using inproc_detail::Op;
using inproc_detail::OpState;

namespace {

constexpr std::size_t kChunkOps = 256;

std::shared_ptr<Group> make_group(std::shared_ptr<inproc_detail::WorldState> world,
                                  std::vector<int> world_rank) {
  auto g = std::make_shared<Group>();
  g->world = std::move(world);
  g->size = static_cast<int>(world_rank.size());
  g->world_rank = std::move(world_rank);
  for (int w : g->world_rank)
    g->node_of_rank.push_back(g->world->nodes[static_cast<std::size_t>(w)]);
  g->inbox.resize(static_cast<std::size_t>(g->size));
  return g;
}

// Moves the data of a matched pair (outside the lock) and completes both.
void complete_pair(inproc_detail::WorldState& w, std::unique_lock<std::mutex>& lock, Op* send,
                   Op* recv) {
  if (send->bytes != recv->bytes) {
    send->mismatch = recv->mismatch = true;
    send->peer_bytes = recv->bytes;
    recv->peer_bytes = send->bytes;
  } else if (send->bytes) {
    send->state = recv->state = OpState::kCopying;
    lock.unlock();
    std::memcpy(recv->rbuf, send->sbuf, send->bytes);
    lock.lock();
  }
  send->state = recv->state = OpState::kDone;
  w.notify(send->owner);
  w.notify(recv->owner);
}

}  // namespace

// --- InProcTransport --------------------------------------------------------------------------

InProcTransport::InProcTransport(std::shared_ptr<Group> group, int rank)
    : group_(std::move(group)),
      rank_(rank),
      world_rank_(group_->world_rank[static_cast<std::size_t>(rank)]) {
  chunks_.push_back(std::make_unique<Op[]>(kChunkOps));
}

InProcTransport::~InProcTransport() {
  // Never leave this rank's ops in a mailbox where another thread could still find them.
  auto& w = *group_->world;
  std::unique_lock lock(w.mu);
  for (std::size_t i = 0; i < used_; ++i) {
    Op* op = &chunks_[i / kChunkOps][i % kChunkOps];
    if (op->state == OpState::kQueued) {
      auto& box = group_->inbox[static_cast<std::size_t>(op->dst)];
      (op->is_send ? box.sends : box.recvs).remove(op);
    }
  }
  w.cv[static_cast<std::size_t>(world_rank_)].wait(lock, [&] {
    for (std::size_t i = 0; i < used_; ++i)
      if (chunks_[i / kChunkOps][i % kChunkOps].state == OpState::kCopying) return false;
    return true;
  });
}

int InProcTransport::size() const { return group_->size; }
const std::vector<int>& InProcTransport::node_of_rank() const { return group_->node_of_rank; }
int InProcTransport::world_rank() const { return world_rank_; }
std::size_t InProcTransport::pending() const { return used_; }

Op* InProcTransport::new_op() {
  if (used_ == chunks_.size() * kChunkOps) chunks_.push_back(std::make_unique<Op[]>(kChunkOps));
  Op* op = &chunks_[used_ / kChunkOps][used_ % kChunkOps];
  ++used_;
  *op = Op{};
  op->owner = world_rank_;
  return op;
}

void InProcTransport::post(Op* op) {
  if (op->src < 0 || op->src >= group_->size || op->dst < 0 || op->dst >= group_->size) {
    --used_;  // not posted
    throw Error("inproc transport: peer rank out of range (rank " + std::to_string(rank_) + " of " +
                std::to_string(group_->size) + ", src " + std::to_string(op->src) + ", dst " +
                std::to_string(op->dst) + ")");
  }
  auto& w = *group_->world;
  std::unique_lock lock(w.mu);
  auto& box = group_->inbox[static_cast<std::size_t>(op->dst)];
  auto same = [&](Op* o) { return o->src == op->src && o->tag == op->tag; };
  Op* match = op->is_send ? box.recvs.take_first(same) : box.sends.take_first(same);
  if (!match) {
    op->state = OpState::kQueued;
    (op->is_send ? box.sends : box.recvs).push(op);
    return;
  }
  if (op->is_send)
    complete_pair(w, lock, op, match);
  else
    complete_pair(w, lock, match, op);
}

void InProcTransport::isend(const void* buf, std::size_t bytes, int peer, int tag) {
  Op* op = new_op();
  op->is_send = true;
  op->sbuf = buf;
  op->bytes = bytes;
  op->src = rank_;
  op->dst = peer;
  op->tag = tag;
  post(op);
}

void InProcTransport::irecv(void* buf, std::size_t bytes, int peer, int tag) {
  Op* op = new_op();
  op->rbuf = buf;
  op->bytes = bytes;
  op->src = peer;
  op->dst = rank_;
  op->tag = tag;
  post(op);
}

Status InProcTransport::wait_all(Deadline deadline) {
  if (used_ == 0) return Status::Ok();
  auto& w = *group_->world;
  auto& cv = w.cv[static_cast<std::size_t>(world_rank_)];
  auto op_at = [&](std::size_t i) { return &chunks_[i / kChunkOps][i % kChunkOps]; };
  auto all_done = [&] {
    for (std::size_t i = 0; i < used_; ++i)
      if (op_at(i)->state != OpState::kDone) return false;
    return true;
  };
  std::unique_lock lock(w.mu);
  bool timed_out = false;
  const bool forever = deadline.at == Deadline::Never().at;
  while (!all_done() && !w.aborted) {
    if (forever) {
      cv.wait(lock);
    } else if (cv.wait_until(lock, deadline.at) == std::cv_status::timeout && !all_done()) {
      timed_out = true;
      break;
    }
  }
  Status status;
  std::size_t pending = 0;
  const Op* first_pending = nullptr;
  for (std::size_t i = 0; i < used_; ++i) {
    Op* op = op_at(i);
    if (op->state == OpState::kQueued) {
      auto& box = group_->inbox[static_cast<std::size_t>(op->dst)];
      (op->is_send ? box.sends : box.recvs).remove(op);
      op->state = OpState::kIdle;
      if (!first_pending) first_pending = op;
      ++pending;
    }
    if (op->mismatch && status.ok()) {
      status = Status::Failure(
          "inproc transport: size mismatch between rank " + std::to_string(op->src) + " and " +
          std::to_string(op->dst) + " (tag " + std::to_string(op->tag) +
          "): " + (op->is_send ? "sent " : "receive of ") + std::to_string(op->bytes) + " bytes, " +
          (op->is_send ? "receive of " : "sent ") + std::to_string(op->peer_bytes));
    }
  }
  // A copy in flight touches our buffers: let it finish (it is short and cannot block).
  cv.wait(lock, [&] {
    for (std::size_t i = 0; i < used_; ++i)
      if (op_at(i)->state == OpState::kCopying) return false;
    return true;
  });
  used_ = 0;
  if (pending && status.ok()) {
    const std::string what =
        std::to_string(pending) + " operation(s) pending on rank " + std::to_string(rank_) +
        ", first: " + (first_pending->is_send ? "send to " : "receive from ") +
        std::to_string(first_pending->is_send ? first_pending->dst : first_pending->src) + " tag " +
        std::to_string(first_pending->tag) + " (" + std::to_string(first_pending->bytes) +
        " bytes)";
    if (w.aborted && !timed_out)
      return Status::Failure("inproc world aborted (" + w.reason + "); " + what);
    return Status::Timeout("inproc transport: wait passed its deadline with " + what);
  }
  return status;
}

void InProcTransport::copy(void* dst, const void* src, std::size_t bytes) {
  if (bytes && dst != src) std::memmove(dst, src, bytes);
}

void InProcTransport::reduce(void* inout, const void* in, std::size_t count, DType t, ReduceOp op) {
  reduce_inplace(inout, in, count, t, op);
}

Buffer InProcTransport::allocate(std::size_t bytes) {
  allocated_bytes_ += bytes;
  return allocate_host(bytes);
}

std::unique_ptr<Transport> InProcTransport::split(int color, int key) {
  auto& w = *group_->world;
  std::unique_lock lock(w.mu);
  const int id = split_calls_++;
  auto& round = group_->splits[id];
  const auto n = static_cast<std::size_t>(group_->size);
  if (round.color.empty()) {
    round.color.assign(n, -1);
    round.key.assign(n, 0);
    round.newrank.assign(n, -1);
    round.result.resize(n);
  }
  const auto me = static_cast<std::size_t>(rank_);
  round.color[me] = color;
  round.key[me] = key;
  if (++round.arrived == group_->size) {
    std::set<int> colors(round.color.begin(), round.color.end());
    for (int c : colors) {
      if (c < 0) continue;
      std::vector<int> members;
      for (int r = 0; r < group_->size; ++r)
        if (round.color[static_cast<std::size_t>(r)] == c) members.push_back(r);
      std::stable_sort(members.begin(), members.end(), [&](int a, int b) {
        return round.key[static_cast<std::size_t>(a)] < round.key[static_cast<std::size_t>(b)];
      });
      std::vector<int> wr;
      for (int r : members) wr.push_back(group_->world_rank[static_cast<std::size_t>(r)]);
      auto g = make_group(group_->world, std::move(wr));
      for (std::size_t i = 0; i < members.size(); ++i) {
        round.result[static_cast<std::size_t>(members[i])] = g;
        round.newrank[static_cast<std::size_t>(members[i])] = static_cast<int>(i);
      }
    }
    round.done = true;
    for (int r : group_->world_rank) w.notify(r);
  } else {
    const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    auto& cv = w.cv[static_cast<std::size_t>(world_rank_)];
    while (!round.done && !w.aborted)
      if (cv.wait_until(lock, limit) == std::cv_status::timeout && !round.done) break;
    if (!round.done) {
      throw Error(w.aborted ? "inproc split: world aborted (" + w.reason + ")"
                            : "inproc split: not every rank called split within 60 s (split #" +
                                  std::to_string(id) + ", rank " + std::to_string(rank_) + ")");
    }
  }
  std::shared_ptr<Group> g = round.result[me];
  const int newrank = round.newrank[me];
  if (++round.collected == group_->size) group_->splits.erase(id);
  if (!g) return nullptr;
  return std::unique_ptr<Transport>(new InProcTransport(std::move(g), newrank));
}

// --- InProcWorld ------------------------------------------------------------------------------

InProcWorld::InProcWorld(int ranks, std::vector<int> node_of_rank)
    : node_of_rank_(std::move(node_of_rank)) {
  if (ranks < 1) throw Error("inproc world needs at least one rank, got " + std::to_string(ranks));
  if (node_of_rank_.empty()) node_of_rank_.assign(static_cast<std::size_t>(ranks), 0);
  if (node_of_rank_.size() != static_cast<std::size_t>(ranks))
    throw Error("inproc world: node_of_rank has " + std::to_string(node_of_rank_.size()) +
                " entries for " + std::to_string(ranks) + " ranks");
  for (int n : node_of_rank_)
    if (n < 0) throw Error("inproc world: negative node index in node_of_rank");
  state_ = std::make_shared<inproc_detail::WorldState>(ranks, node_of_rank_);
  std::vector<int> wr(static_cast<std::size_t>(ranks));
  for (int r = 0; r < ranks; ++r) wr[static_cast<std::size_t>(r)] = r;
  auto g = make_group(state_, std::move(wr));
  for (int r = 0; r < ranks; ++r)
    transports_.push_back(std::unique_ptr<InProcTransport>(new InProcTransport(g, r)));
}

std::unique_ptr<InProcWorld> InProcWorld::with_nodes(int nodes, int ranks_per_node) {
  std::vector<int> map;
  for (int n = 0; n < nodes; ++n)
    for (int i = 0; i < ranks_per_node; ++i) map.push_back(n);
  return std::make_unique<InProcWorld>(nodes * ranks_per_node, std::move(map));
}

InProcWorld::~InProcWorld() = default;

int InProcWorld::nodes() const {
  return node_of_rank_.empty() ? 0
                               : *std::max_element(node_of_rank_.begin(), node_of_rank_.end()) + 1;
}

void InProcWorld::abort(const std::string& why) {
  std::lock_guard lock(state_->mu);
  if (!state_->aborted) {
    state_->aborted = true;
    state_->reason = why;
  }
  for (auto& cv : state_->cv) cv.notify_all();
}

bool InProcWorld::aborted() const {
  std::lock_guard lock(state_->mu);
  return state_->aborted;
}

std::string InProcWorld::abort_reason() const {
  std::lock_guard lock(state_->mu);
  return state_->reason;
}

void InProcWorld::run(const std::function<void(InProcTransport&)>& fn) {
  std::mutex err_mu;
  std::exception_ptr first;
  std::vector<std::thread> threads;
  threads.reserve(transports_.size());
  for (auto& t : transports_) {
    threads.emplace_back([&, tp = t.get()] {
      try {
        fn(*tp);
      } catch (const std::exception& e) {
        {
          std::lock_guard lock(err_mu);
          if (!first) first = std::current_exception();
        }
        abort("rank " + std::to_string(tp->rank()) + ": " + e.what());
      } catch (...) {
        {
          std::lock_guard lock(err_mu);
          if (!first) first = std::current_exception();
        }
        abort("rank " + std::to_string(tp->rank()) + ": unknown exception");
      }
    });
  }
  for (auto& th : threads) th.join();
  if (first) std::rethrow_exception(first);
}

}  // namespace collbench::collectives
