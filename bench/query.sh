#!/usr/bin/env bash
# bench/query.sh [SIZES] - nfq vs nfdump on the same N flows (default 10 M;
# FLOWS=1 or `bench/query.sh 1` for a quick run on 1 M; `bench/query.sh
# 1,10,50` for how the cost grows: 50 M needs ~2.2 GB of disk for both
# trees and nfdump -s record ~15 GB of memory): -s srcip/bytes, -s record/bytes, a filter with
# -o line, -o csv, -I; wall time, CPU and peak memory, ratios. See
# bench/query.py (FLOWS, QUERY_RATE, REPEAT, FILTER, THREADS, ROTATE).
# Prints a Markdown table; also in $OUT/query.md.
set -euo pipefail
. "$(dirname "$0")/common.sh"
bench_need_bins collectord nfq flowgen flowcount
bench_install nfcapd:nfdump nfdump:nfdump
[ -x /usr/bin/time ] || bench_install no-such-command:time
bench_rmem "${QUERY_RCVBUF:-268435456}"
bench_netns "$0" "$@"
bench_exec python3 "$BENCH_DIR/query.py" "$@"
