#!/usr/bin/env bash
# tests/check.sh - runs flowyard's test programs for `make test`, `make check`
# and `make fuzz`, and keeps the score. The Makefile calls it; it is not meant
# to be run by hand.
#
#   check.sh unit NAME...           $BUILD/tests/NAME, if it built
#   check.sh asan NAME...           $BUILD/asan/tests/NAME under ASan/UBSan
#   check.sh integration SCRIPT...  each executable tests/integration/*.sh
#   check.sh asan-integration SCRIPT...
#                                   the same against $BUILD/asan-bin, the
#                                   programs built with ASan/UBSan; any
#                                   sanitizer report fails the script
#   check.sh fuzz SECONDS NAME...   $BUILD/fuzz/NAME for SECONDS each
#   check.sh fail WHAT REASON       records a failure that is not a test run
#   check.sh summary                lists the failures, prints the closing
#                                   line "N passed, N failed", exits 1 if N>0
#
# Environment (set by the Makefile): BUILD, OK (markers of what built),
# RESULTS (the score file), TOP, BIN, TEST_TIMEOUT, FUZZ_TIMEOUT.
# A test whose program did not build counts as failed.
set -u
cd "$TOP" || exit 1

pass()
{
	echo "PASS $1" >>"$RESULTS"
	echo "PASS: $1"
}

fail()
{
	echo "FAIL $1 ($2)" >>"$RESULTS"
	echo "FAIL: $1 ($2)"
}

# run NAME LIMIT CMD...: runs CMD within LIMIT seconds, records the outcome.
run()
{
	local name=$1 limit=$2 rc
	shift 2
	timeout -k 10 "$limit" "$@"
	rc=$?
	if [ "$rc" -eq 0 ]; then
		pass "$name"
	elif [ "$rc" -eq 124 ]; then
		fail "$name" "timed out after ${limit}s"
	elif [ "$rc" -gt 128 ]; then
		fail "$name" "exit $rc, signal $((rc - 128))"
	else
		fail "$name" "exit $rc"
	fi
}

unit()
{
	local kind=$1 dir=$2 t
	shift 2
	echo "==> $kind tests ($# programs, $dir)"
	for t in "$@"; do
		if [ ! -e "$OK/$kind/$t" ]; then
			fail "$kind/$t" "did not build"
			continue
		fi
		echo "--- $kind/$t"
		run "$kind/$t" "$TEST_TIMEOUT" "$dir/$t"
	done
}

integration()
{
	local s name t0
	echo "==> integration tests ($# scripts, BIN=$BIN)"
	for s in "$@"; do
		name=integration/${s##*/}
		if [ ! -x "$s" ]; then
			echo "note: $s is not executable: not a test, skipped"
			continue
		fi
		if [ ! -e "$OK/programs" ]; then
			fail "$name" "not run: the programs did not build"
			continue
		fi
		echo "--- $name"
		t0=$SECONDS
		run "$name" "$TEST_TIMEOUT" "./$s"
		echo "    ($((SECONDS - t0)) s)"
	done
}

# Sanitizer reports go to files (log_path), one per process, so that a
# report of a daemon whose stderr a script discards, or whose exit status
# it does not look at, still fails that script. The files are made in a
# directory under /tmp that a daemon gone unprivileged (-u) may write,
# and kept in $BUILD/asan/reports/SCRIPT. FY_SANITIZED=1 tells a script
# that its programs are sanitized (slower, more resident memory).
asan_integration()
{
	local s name tmp dir rc t0
	local bin=$TOP/$BUILD/asan-bin
	case $BUILD in /*) bin=$BUILD/asan-bin ;; esac
	echo "==> integration tests under ASan/UBSan ($# scripts, BIN=$bin)"
	rm -rf "$BUILD/asan/reports"
	for s in "$@"; do
		name=asan-integration/${s##*/}
		if [ ! -x "$s" ]; then
			continue
		fi
		if [ ! -e "$OK/asan-programs" ]; then
			fail "$name" "not run: the sanitizer programs did not build"
			continue
		fi
		tmp=$(mktemp -d /tmp/flowyard-asan.XXXXXX) || exit 1
		chmod 0777 "$tmp"
		echo "--- $name"
		t0=$SECONDS
		BIN=$bin FY_SANITIZED=1 \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1:log_path=$tmp/asan \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$tmp/ubsan \
			timeout -k 10 "$TEST_TIMEOUT" "./$s"
		rc=$?
		if [ -n "$(ls -A "$tmp")" ]; then
			dir=$BUILD/asan/reports/${s##*/}
			mkdir -p "$dir" && cp "$tmp"/* "$dir"/
			head -n 40 "$tmp"/*
			fail "$name" "sanitizer report(s) in $dir (exit $rc)"
		elif [ "$rc" -eq 0 ]; then
			pass "$name"
		elif [ "$rc" -eq 124 ]; then
			fail "$name" "timed out after ${TEST_TIMEOUT}s"
		else
			fail "$name" "exit $rc"
		fi
		echo "    ($((SECONDS - t0)) s)"
		rm -rf "$tmp"
	done
}

fuzz()
{
	local secs=$1 t corpus log rc
	local -a dirs
	shift
	echo "==> fuzz ($# targets, ${secs}s each)"
	mkdir -p "$BUILD/fuzz/artifacts" "$BUILD/fuzz/logs"
	for t in "$@"; do
		if [ ! -e "$OK/fuzz/$t" ]; then
			fail "fuzz/$t" "did not build"
			continue
		fi
		corpus=$BUILD/fuzz/corpus/$t
		log=$BUILD/fuzz/logs/$t.log
		mkdir -p "$corpus"
		dirs=("$corpus")
		if [ -d "tests/fuzz/seeds/$t" ]; then
			dirs+=("tests/fuzz/seeds/$t")
		fi
		echo "--- fuzz/$t: ${secs}s, corpus ${dirs[*]}, log $log"
		timeout -k 10 $((secs + 120)) "$BUILD/fuzz/$t" \
			-max_total_time="$secs" -max_len=65535 \
			-timeout="$FUZZ_TIMEOUT" -print_final_stats=1 \
			-artifact_prefix="$BUILD/fuzz/artifacts/$t-" \
			"${dirs[@]}" >"$log" 2>&1
		rc=$?
		if [ "$rc" -eq 0 ]; then
			grep -E '^(Done |stat::number_of_executed_units)' "$log"
			pass "fuzz/$t"
		else
			tail -n 60 "$log"
			fail "fuzz/$t" "exit $rc; see $log and $BUILD/fuzz/artifacts/"
		fi
	done
}

summary()
{
	local p=0 f=0
	if [ -f "$RESULTS" ]; then
		p=$(grep -c '^PASS ' "$RESULTS")
		f=$(grep -c '^FAIL ' "$RESULTS")
	fi
	echo "=========================================="
	if [ "$f" -gt 0 ]; then
		echo "Failed:"
		sed -n 's/^FAIL /  /p' "$RESULTS"
	fi
	echo "$p passed, $f failed"
	[ "$f" -eq 0 ]
}

what=${1:-}
shift || true
case $what in
unit) unit unit "$BUILD/tests" "$@" ;;
asan)
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	unit asan "$BUILD/asan/tests" "$@"
	;;
integration) integration "$@" ;;
asan-integration) asan_integration "$@" ;;
fuzz) fuzz "$@" ;;
fail) fail "$1" "$2" ;;
summary) summary ;;
*)
	echo "usage: $0 unit|asan|integration|asan-integration|fuzz|fail|summary ..." >&2
	exit 2
	;;
esac
