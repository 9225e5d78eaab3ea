#!/usr/bin/env bash
# The C sources are as clang-format (.clang-format) would write them:
# `make format-check` passes, so that formatting never drifts unnoticed
# again (ten files had, before this check). `make format` fixes it.
set -u
. "$(dirname "$0")/lib.sh"

command -v clang-format > /dev/null ||
	fail "clang-format not found (Debian package clang-format: make deps)"
out=$(make -C "$TOP" --no-print-directory -s format-check 2>&1) ||
	fail "not clang-formatted (run make format): $(echo "$out" |
		grep 'error:' | cut -d: -f1 | sort | uniq -c | head -20)"
ok "every C source is clang-formatted ($(clang-format --version | head -1))"
