#!/usr/bin/env bash
# bench/disk.sh - bytes per flow on disk for the same flows: nfcapd
# uncompressed, -z LZO, -y LZ4, -j bz2 vs collectord default (LZ4 fast) and
# -z lz4:9. See bench/disk.py (DISK_FLOWS, DISK_RATE, VERSION, SEED). Prints a
# Markdown table; also in $OUT/disk.md.
set -euo pipefail
. "$(dirname "$0")/common.sh"
bench_need_bins collectord flowgen flowcount
bench_install nfcapd:nfdump nfdump:nfdump
bench_rmem "${DISK_RCVBUF:-536870912}"
bench_netns "$0" "$@"
bench_exec python3 "$BENCH_DIR/disk.py" "$@"
