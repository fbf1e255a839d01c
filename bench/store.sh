#!/bin/sh
# The cost of the durable job store: short-job throughput through a jobd
# whose store is on disk (SQLite, WAL, one commit per loop turn) against one
# whose store is in memory (-M), in interleaved rounds, each round a fresh
# jobd of each kind, so that the machine's noise hits both alike.
#
#   bench/store.sh [rounds] [jobs]      (from a build directory)
#
# Prints, per round, jobs/s of each and the ratio disk/memory (target:
# >= 0.8), then the median ratio. TMPDIR chooses the disk (default /tmp).
set -eu
rounds=${1:-5}
jobs=${2:-2000}
ratios=
for r in $(seq 1 "$rounds"); do
	disk=$(./bench/bench_throughput -n "$jobs" -r 1 |
	    awk '/^median/ { for (i = 1; i <= NF; i++) if ($i == "jobd") print $(i + 1) }')
	mem=$(./bench/bench_throughput -M -n "$jobs" -r 1 |
	    awk '/^median/ { for (i = 1; i <= NF; i++) if ($i == "jobd") print $(i + 1) }')
	ratio=$(echo "$disk $mem" | awk '{ printf "%.3f", $1 / $2 }')
	ratios="$ratios $ratio"
	echo "round $r disk $disk jobs/s memory $mem jobs/s ratio $ratio"
done
echo "$ratios" | tr ' ' '\n' | sed '/^$/d' | sort -n |
    awk '{ v[NR] = $1 } END { printf "median ratio disk/memory %.3f (%d rounds)\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, NR }'
