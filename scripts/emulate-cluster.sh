#!/usr/bin/env bash
# An emulated multi-node cluster on one machine, for rehearsing multi-node runs and for the
# `cluster` ctest label. Needs root, network namespaces, veth, a Linux bridge and tc's tbf.
#
#   emulate-cluster.sh up N RATE     N "nodes" (network namespaces, own hostname and address),
#                                    each joined to one bridge by a veth whose two ends are
#                                    limited to RATE (tc syntax: 1gbit, 800mbit, 10gbit)
#   emulate-cluster.sh run [-n K] [-t SECONDS] [-m MPIRUN_ARG]... [--] COMMAND...
#                                    mpirun COMMAND with K ranks per node (default 1): shared
#                                    memory inside a node, TCP over the RATE links between nodes
#   emulate-cluster.sh down          removes everything `up` created
#   emulate-cluster.sh status        what exists now
#   emulate-cluster.sh with N RATE [run options] [--] COMMAND...
#                                    up, run, down (also on failure or interrupt)
#
# The bridge lives in its own "switch" namespace and the addresses (10.213.0.0/24) exist only
# inside the namespaces: the host's own network is not touched. CB_CLUSTER_NAME (default cbc)
# prefixes every name, so that separate clusters can coexist.
# Exit status 77 means "cannot run here" (not root, no namespaces, no tbf): ctest reports the
# test as skipped.
set -euo pipefail

readonly SKIP=77
readonly NAME="${CB_CLUSTER_NAME:-cbc}"
# Token-bucket depth of every link (tc tbf burst); CB_CLUSTER_BURST overrides it.
readonly BURST="${CB_CLUSTER_BURST:-64kb}"
# How long a packet may wait in a link's queue (tc tbf latency); CB_CLUSTER_QUEUE overrides it.
readonly QLAT="${CB_CLUSTER_QUEUE:-100ms}"
readonly STATE="/run/collbench-cluster-${NAME}"
readonly SUBNET_PREFIX="10.213.0"
readonly FIRST_HOST=10
readonly SWITCH_NS="${NAME}-switch"
readonly HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly AGENT="${HERE}/emulate-cluster-agent.sh"

say() { echo "emulate-cluster: $*" >&2; }
die() { say "error: $*"; exit 1; }
skip() { echo "SKIP: emulate-cluster: $*" >&2; exit "$SKIP"; }

node_ns() { echo "${NAME}-node$1"; }
node_host() { echo "${NAME}-node$1"; }
node_addr() { echo "${SUBNET_PREFIX}.$((FIRST_HOST + $1))"; }

usage() {
  sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 2
}

check_capabilities() {
  [[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces, veth, tc); run as root or skip"
  local tool
  for tool in ip tc unshare mpirun; do
    command -v "$tool" >/dev/null || skip "'$tool' is not installed"
  done
  # A throw-away namespace proves that namespaces, veth and tbf work before anything is built.
  local probe="${NAME}-probe$$"
  if ! ip netns add "$probe" 2>/dev/null; then
    skip "cannot create network namespaces here (container without CAP_SYS_ADMIN?)"
  fi
  local ok=1
  ip -n "$probe" link add p0 type veth peer name p1 2>/dev/null || ok=0
  if ((ok)); then
    ip -n "$probe" link set p0 up && ip -n "$probe" link set p1 up || ok=0
    tc -n "$probe" qdisc add dev p0 root tbf rate 1gbit burst 64kb latency 100ms 2>/dev/null || ok=2
  fi
  unshare --uts true 2>/dev/null || ok=3
  ip netns delete "$probe" 2>/dev/null || true
  case $ok in
    0) skip "cannot create veth pairs in a namespace" ;;
    2) skip "the tbf qdisc is not available (tc qdisc add ... tbf failed)" ;;
    3) skip "cannot create UTS namespaces (unshare --uts failed)" ;;
  esac
}

cmd_down() {
  local ns removed=0
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    if [[ $ns == "${NAME}-node"* || $ns == "$SWITCH_NS" ]]; then
      ip netns delete "$ns" 2>/dev/null && removed=$((removed + 1))
    fi
  done
  rm -rf "$STATE"
  say "down: removed $removed namespaces"
}

cmd_up() {
  [[ $# -eq 2 ]] || usage
  local n=$1 rate=$2
  [[ $n =~ ^[0-9]+$ && $n -ge 1 && $n -le 64 ]] || die "N must be 1..64, got '$n'"
  [[ $rate =~ ^[0-9.]+[kmgt]?(bit|bps)$ ]] || die "RATE must be in tc syntax (1gbit, 800mbit), got '$rate'"
  check_capabilities
  if [[ -d $STATE ]] || ip netns list | grep -q "^${SWITCH_NS}\b"; then
    die "a cluster named '$NAME' exists; run '$0 down' first (or set CB_CLUSTER_NAME)"
  fi
  # Whatever fails from here on leaves nothing behind.
  trap 'say "up failed; cleaning up"; cmd_down' ERR
  mkdir -p "$STATE"
  ip netns add "$SWITCH_NS"
  ip -n "$SWITCH_NS" link set lo up
  ip -n "$SWITCH_NS" link add br0 type bridge
  ip -n "$SWITCH_NS" link set br0 up
  : >"$STATE/hostfile"
  : >"$STATE/hosts"
  local i ns
  for ((i = 0; i < n; i++)); do
    ns=$(node_ns "$i")
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$SWITCH_NS" link add "p$i" type veth peer name eth0 netns "$ns"
    ip -n "$SWITCH_NS" link set "p$i" master br0
    ip -n "$SWITCH_NS" link set "p$i" up
    ip -n "$ns" addr add "$(node_addr "$i")/24" dev eth0
    ip -n "$ns" link set eth0 up
    # The node's link limited in both directions, as a NIC port is: node -> switch on eth0,
    # switch -> node on the switch port.
    tc -n "$ns" qdisc add dev eth0 root tbf rate "$rate" burst "$BURST" latency "$QLAT"
    tc -n "$SWITCH_NS" qdisc add dev "p$i" root tbf rate "$rate" burst "$BURST" latency "$QLAT"
    echo "$(node_addr "$i") $ns $(node_host "$i")" >>"$STATE/hosts"
  done
  echo "$n" >"$STATE/nodes"
  echo "$rate" >"$STATE/rate"
  trap - ERR
  say "up: $n nodes at $rate each ($(node_addr 0) .. $(node_addr $((n - 1)))), hostnames $(node_host 0) .. $(node_host $((n - 1)))"
}

cmd_status() {
  if [[ ! -f $STATE/nodes ]]; then
    echo "no cluster named '$NAME'"
    return 1
  fi
  echo "cluster '$NAME': $(cat "$STATE/nodes") nodes at $(cat "$STATE/rate")"
  cat "$STATE/hosts"
  local i
  for ((i = 0; i < $(cat "$STATE/nodes"); i++)); do
    tc -n "$(node_ns "$i")" qdisc show dev eth0 | sed "s/^/  $(node_ns "$i"): /"
  done
}

cmd_run() {
  local per_node=1 limit=0
  local -a extra=()
  while [[ $# -gt 0 ]]; do
    case $1 in
      -n) per_node=$2; shift 2 ;;
      -t) limit=$2; shift 2 ;;
      -m) extra+=("$2"); shift 2 ;;
      --) shift; break ;;
      -*) die "unknown run option '$1'" ;;
      *) break ;;
    esac
  done
  [[ $# -ge 1 ]] || die "run needs a command"
  [[ -f $STATE/nodes ]] || die "no cluster named '$NAME' is up (run '$0 up N RATE' first)"
  [[ $per_node =~ ^[0-9]+$ && $per_node -ge 1 ]] || die "-n must be a positive number"
  local n
  n=$(cat "$STATE/nodes")
  local np=$((n * per_node))
  awk -v k="$per_node" '{print $1 " slots=" k}' "$STATE/hosts" >"$STATE/hostfile"

  local -a mpirun=(mpirun --hostfile "$STATE/hostfile" -np "$np" --map-by "ppr:${per_node}:node"
    --mca plm_rsh_agent "$AGENT" --mca plm_rsh_no_tree_spawn 1
    --mca btl vader,tcp,self --mca btl_tcp_if_include eth0 --mca oob_tcp_if_include eth0
    --mca btl_tcp_links 2)
  # btl_tcp_links 2: two TCP connections per pair of ranks. With one, Open MPI's TCP BTL moves a
  # pair's two directions in turn (a 2-rank all-reduce over a link reaches half its rate); real
  # NICs, and UCX over them, are full duplex.
  # Ranks that wait yield the core, always: the emulated links are the kernel's work (veth,
  # bridge, tbf run in softirq context on the same cores), and ranks busy-polling every core
  # starve it until the next scheduler tick. Without this, 2 nodes x 1 rank on a 2-core machine
  # took 8 ms for any small all-reduce; with it, 70-110 us.
  mpirun+=(--mca mpi_yield_when_idle 1)
  if ((np > $(nproc))); then
    mpirun+=(--oversubscribe)
  fi
  mpirun+=("${extra[@]}" "$@")
  # The agent finds the namespace of each address here.
  export CB_CLUSTER_STATE="$STATE"
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  local -a timeout_cmd=()
  ((limit > 0)) && timeout_cmd=(timeout --kill-after=10 "$limit")
  # mpirun itself runs on node 0, under node 0's hostname.
  "${timeout_cmd[@]}" ip netns exec "$(node_ns 0)" unshare --uts \
    bash -c 'hostname "$1" && shift && exec "$@"' _ "$(node_host 0)" "${mpirun[@]}"
}

cmd_with() {
  [[ $# -ge 3 ]] || usage
  local n=$1 rate=$2
  shift 2
  cmd_up "$n" "$rate"
  trap 'cmd_down' EXIT
  trap 'exit 130' INT TERM
  local rc=0
  cmd_run "$@" || rc=$?
  return "$rc"
}

[[ $# -ge 1 ]] || usage
sub=$1
shift
case $sub in
  up) cmd_up "$@" ;;
  down) cmd_down ;;
  run) cmd_run "$@" ;;
  status) cmd_status ;;
  with) cmd_with "$@" ;;
  -h | --help | help) usage ;;
  *) say "unknown command '$sub'"; usage ;;
esac
