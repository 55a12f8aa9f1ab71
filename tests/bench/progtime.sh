#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Program time of the open hook (nh_exit_openat), per open, under several
# agent builds in alternating rounds, with kernel.bpf_stats_enabled: the
# in-kernel cost of a change without the wall-clock noise of a shared
# machine (tests/bench/run measures wall-clock; its diagnostic pass does this
# once per configuration). Run as root, under the kernel-tests lock.
#
#   tests/bench/progtime.sh ROUNDS NAME=AGENT[:EXTRA ARGS] ...
#   e.g. tests/bench/progtime.sh 5 base=/tmp/base/build/nhiscope-agent \
#        this=build/nhiscope-agent:"--flood-budget 0"
#
# Prints one line per round and agent: open_same (a deduplicated repeat)
# and open_new (a first-seen path), mean program ns and wall ns per op.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
ROUNDS=$1
shift
W=$BUILD/tests/bench_workload
CLI=$BUILD/nhiscope
SOCK=/tmp/nhiscope-progtime.$$.sock
CPU=$(($(nproc) - 1))
orig=$(cat /proc/sys/kernel/bpf_stats_enabled)
pid=""
cleanup() {
	echo "$orig" >/proc/sys/kernel/bpf_stats_enabled
	[[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -f "$SOCK" /dev/shm/nhbench.* 2>/dev/null || true
}
trap cleanup EXIT
echo 1 >/proc/sys/kernel/bpf_stats_enabled

# "runs ns" of nh_exit_openat among the programs the agent holds.
stat_of() {
	local ids
	ids=$(grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -un | paste -sd, -)
	bpftool prog show -j | python3 -c '
import json, sys
ids = {int(i) for i in sys.argv[1].split(",") if i}
c = t = 0
for p in json.load(sys.stdin):
    if p["id"] in ids and p.get("name") == "nh_exit_openat":
        c += p.get("run_cnt", 0)
        t += p.get("run_time_ns", 0)
print(c, t)' "$ids"
}

for ((r = 1; r <= ROUNDS; r++)); do
	for spec in "$@"; do
		name=${spec%%=*} rest=${spec#*=}
		agent=${rest%%:*} extra=""
		[[ $rest == *:* ]] && extra=${rest#*:}
		rm -f "$SOCK"
		# shellcheck disable=SC2086
		"$agent" -s "$SOCK" $extra >/dev/null 2>&1 &
		pid=$!
		for _ in $(seq 100); do "$CLI" -s "$SOCK" status >/dev/null 2>&1 && break; sleep 0.2; done
		"$CLI" -s "$SOCK" status >/dev/null 2>&1 || { echo "$name: agent did not start" >&2; exit 1; }
		sleep 1 # start-up work done
		line="round $r $name"
		for w in open_same open_new; do
			read -r c0 t0 < <(stat_of "$pid")
			out=$(taskset -c "$CPU" "$W" "$w" -n 100000 -t 3 -d /dev/shm)
			read -r c1 t1 < <(stat_of "$pid")
			wall=$(tr ' ' '\n' <<<"$out" | sed -n 's/^ns_per_op=//p')
			line+=" $w prog_ns=$(((t1 - t0) / ((c1 - c0) > 0 ? (c1 - c0) : 1))) wall=$wall"
		done
		kill "$pid"
		wait "$pid" 2>/dev/null || true
		pid=""
		echo "$line"
	done
done
