#!/usr/bin/env bash
# OpenMPI's plm_rsh_agent for scripts/emulate-cluster.sh: called as `AGENT [options] HOST
# COMMAND...` like ssh, it runs COMMAND inside HOST's network namespace, under that node's own
# hostname (a fresh UTS namespace), so that OpenMPI sees a separate node there.
set -euo pipefail

state="${CB_CLUSTER_STATE:?emulate-cluster-agent: CB_CLUSTER_STATE is not set (use emulate-cluster.sh run)}"

# ssh-style options before the host are meaningless here.
while [[ $# -gt 0 && $1 == -* ]]; do shift; done
[[ $# -ge 2 ]] || { echo "emulate-cluster-agent: usage: AGENT [options] HOST COMMAND..." >&2; exit 2; }
host=$1
shift

# hosts lines: ADDRESS NAMESPACE HOSTNAME; HOST may be given as either address or hostname.
read -r ns name < <(awk -v h="$host" '$1 == h || $3 == h {print $2, $3; exit}' "$state/hosts") || true
if [[ -z ${ns:-} ]]; then
  echo "emulate-cluster-agent: '$host' is not a node of the emulated cluster ($state/hosts)" >&2
  exit 255
fi

# Like ssh, the remote command is one shell line.
exec ip netns exec "$ns" unshare --uts sh -c "hostname '$name' && $*"
