#!/usr/bin/env bash
# bench/run.sh - every benchmark, one after the other (what `make bench`
# runs): ingest, disk, exporter, query. Each prints its Markdown table and
# writes $OUT/<name>.md; all of them together go to $OUT/bench.md.
#
#   bash bench/run.sh                  all four (query on 1, 10, 50 M flows)
#   bash bench/run.sh ingest disk      some of them
#   FLOWS=1 bash bench/run.sh          a quicker query benchmark (1 M)
#
# The environment variables of each script apply (see bench/*.py), and
# BIN/TOOLS/OUT/NICE/NO_NETNS of bench/common.sh.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/flowyard-bench}
# the query's sizes: how its cost grows with the flows (the 50 M trees
# take 2.3 GB of /tmp, nfdump -s record on them about 15 GB of memory)
FLOWS=${FLOWS:-1,10,50}
export OUT FLOWS
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(ingest disk exporter query)
failed=()
for n in "${names[@]}"; do
	[ -f "$here/$n.sh" ] || { echo "bench: no bench/$n.sh" >&2; exit 2; }
	echo "=== bench/$n.sh ($(date -u +%FT%TZ))" >&2
	start=$(date +%s)
	if ! bash "$here/$n.sh"; then
		failed+=("$n")
	fi
	echo "=== bench/$n.sh: $(($(date +%s) - start)) s" >&2
done
{
	echo "# flowyard benchmarks, $(date -u +%F)"
	echo
	echo "$(git -C "$here/.." describe --always --dirty 2> /dev/null)"
	for n in "${names[@]}"; do
		[ -f "$OUT/$n.md" ] && { echo; cat "$OUT/$n.md"; }
	done
} > "$OUT/bench.md"
echo "bench: all results in $OUT/bench.md" >&2
if [ ${#failed[@]} -ne 0 ]; then
	echo "bench: failed: ${failed[*]}" >&2
	exit 1
fi
