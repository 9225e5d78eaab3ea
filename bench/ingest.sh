#!/usr/bin/env bash
# bench/ingest.sh - drop-free ingest rate, collectord vs nfcapd -y (LZ4),
# NetFlow v9 and IPFIX, 30 records per datagram. See bench/ingest.py for
# the method and the environment variables (RATES, DURATION, REPEAT,
# RCVBUF, VERSIONS...). Prints a Markdown table; also in $OUT/ingest.md.
set -euo pipefail
. "$(dirname "$0")/common.sh"
bench_need_bins collectord flowgen flowcount
bench_install nfcapd:nfdump nfdump:nfdump
bench_rmem "${RCVBUF:-4194304}"
bench_netns "$0" "$@"
bench_exec python3 "$BENCH_DIR/ingest.py" "$@"
