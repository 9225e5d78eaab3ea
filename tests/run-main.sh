#!/usr/bin/env bash
# tests/run-main.sh - PLACEHOLDER, to be replaced by the lead engineer.
#
# `make run` runs this script after building, with BIN (absolute path of
# build/bin) and TOP (repository root) in the environment. The real script
# will run flowyard's main job; this one only says that it is not there yet.
set -euo pipefail
echo "flowyard: the main job is not built yet"
echo "programs in ${BIN:-build/bin}:"
if compgen -G "${BIN:-build/bin}/*" >/dev/null; then
	ls -l "${BIN:-build/bin}"
else
	echo "  (none yet)"
fi
