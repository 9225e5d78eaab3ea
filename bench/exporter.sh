#!/usr/bin/env bash
# bench/exporter.sh - exporterd vs softflowd packets/s and peak memory on the
# same seeded 2 M-packet capture (bench/pcapgen.py, known flows). See
# bench/exporter.py (PACKETS, SEED, REPEAT, CACHE, CACHE_SIZES, CAPTURE).
# Prints a Markdown table; also in $OUT/exporter.md.
set -euo pipefail
. "$(dirname "$0")/common.sh"
bench_need_bins exporterd collectord flowcount
bench_install softflowd:softflowd python3:python3 capinfos:wireshark-common
[ -x /usr/bin/time ] || bench_install no-such-command:time
bench_netns "$0" "$@"
bench_exec python3 "$BENCH_DIR/exporter.py" "$@"
