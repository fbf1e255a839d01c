#!/bin/sh
# The cost of containment: short-job throughput through one jobd per tier,
# in interleaved rounds, so that the machine's noise hits every tier alike.
#
#   bench/tiers.sh [rounds] [jobs]      (from a build directory, as root)
#
# Prints, per round, jobs/s of each tier and its ratio to the pgid tier (the
# cheapest: no cgroup, no shim). A tier this machine lacks is left out.
set -eu
rounds=${1:-3}
jobs=${2:-2000}
dir=$(mktemp -d)
pids=
trap 'for p in $pids; do kill "$p" 2>/dev/null || true; done; sleep 0.5; rm -rf "$dir"' EXIT
tiers=
for t in pgid cgroup2 pidns subreaper; do
	printf 'containment = %s\n' "$t" >"$dir/$t.conf"
	./jobd -s "$dir/$t.sock" -S "$dir/$t.state" -f "$dir/$t.conf" \
	    2>"$dir/$t.log" &
	pids="$pids $!"
	i=0
	while [ ! -S "$dir/$t.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	if JOBD_SOCKET="$dir/$t.sock" ./jobctl ping >/dev/null 2>&1; then
		tiers="$tiers $t"
	else
		echo "tier $t not available: $(tail -n 1 "$dir/$t.log")" >&2
	fi
done
for r in $(seq 1 "$rounds"); do
	base=
	for t in $tiers; do
		rate=$(./bench/bench_throughput -s "$dir/$t.sock" -n "$jobs" -r 1 |
		    awk '/^median/ { for (i = 1; i <= NF; i++) if ($i == "jobd") print $(i + 1) }')
		[ -n "$base" ] || base=$rate
		echo "round $r $t $rate jobs/s ratio-to-pgid $(echo "$rate $base" | awk '{ printf "%.3f", $1 / $2 }')"
	done
done
