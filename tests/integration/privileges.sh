#!/usr/bin/env bash
# Both daemons started by root with -u: what they run as, who may use
# their control sockets, and start-up errors that open nothing.
#
#  1. collectord and exporterd -u flowyard-test (a system user made here if
#     missing): in /proc/PID/task/*/status every thread has the user's uid
#     and gid in all four fields, only the user's group, no capability
#     (CapEff, CapPrm, CapAmb 0); exporterd also has NoNewPrivs.
#  2. control sockets (mode 0660, group flowyard-test): nobody is refused
#     by the file's mode, and through a 0666 socket by the daemon itself
#     (error 6, logged with its uid, counted); nobody with the group as
#     primary or supplementary group is served, and so is the daemons'
#     user; the daemons go on as before.
#  3. capture and sockets work after the drop: 40 flows captured on lo by
#     exporterd reach collectord and its tree, whose files the user owns.
#  4. bad options, and bad lines in collectord's -c file: exit status 2,
#     stderr names the option (or FILE:LINE), and, under strace, no socket
#     bound or connected, no capture, no file or directory created; no
#     pidfile, control socket or base directory left behind.
set -u
if [ -z "${PRIVILEGES_TIMED:-}" ]; then
	PRIVILEGES_TIMED=1 exec timeout -k 5 120 bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ]; then
	echo "privileges: not root: skipped"
	exit 0
fi
CTL=$TOOLS/ctlcall
USR=flowyard-test

# A system user with a group of its own, made once (a concurrent run may
# make it first).
if ! id "$USR" > /dev/null 2>&1; then
	if getent group "$USR" > /dev/null; then
		useradd -r -M -d /nonexistent -s /usr/sbin/nologin -g "$USR" \
			"$USR" 2> /dev/null
	else
		useradd -r -M -d /nonexistent -s /usr/sbin/nologin -U \
			"$USR" 2> /dev/null
	fi
	id "$USR" > /dev/null 2>&1 || fail "cannot create the user $USR"
fi
XUID=$(id -u "$USR")
XGID=$(id -g "$USR")
NOBODY_UID=$(id -u nobody) || fail "no user nobody"
NOBODY_GID=$(id -g nobody)

# status_of PID FIELD: the values of FIELD in each thread's status, one
# line per thread.
status_of()
{
	local t
	for t in /proc/"$1"/task/*; do
		sed -n "s/^$2:[[:space:]]*//p" "$t/status" | tr -s ' \t' ' '
	done
}

# check_ids NAME PID NNP: the dropped identity of every thread of PID.
check_ids()
{
	local name=$1 pid=$2 nnp=$3 v g n
	n=$(ls /proc/"$pid"/task | wc -l)
	[ "$n" -ge 1 ] || fail "$name: no thread"
	while read -r v; do
		[ "$v" = "$XUID $XUID $XUID $XUID" ] || fail "$name: Uid $v"
	done < <(status_of "$pid" Uid)
	while read -r v; do
		[ "$v" = "$XGID $XGID $XGID $XGID" ] || fail "$name: Gid $v"
	done < <(status_of "$pid" Gid)
	while read -r v; do
		for g in $v; do
			[ "$g" = "$XGID" ] || fail "$name: supplementary group $g"
		done
	done < <(status_of "$pid" Groups)
	for f in CapEff CapPrm CapAmb; do
		while read -r v; do
			[ "$v" = 0000000000000000 ] || fail "$name: $f $v"
		done < <(status_of "$pid" $f)
	done
	if [ -n "$nnp" ]; then
		while read -r v; do
			[ "$v" = "$nnp" ] || fail "$name: NoNewPrivs $v"
		done < <(status_of "$pid" NoNewPrivs)
	fi
	ok "$name runs as $USR ($XUID:$XGID) in its $n thread(s), no capability${nnp:+, NoNewPrivs $nnp}"
}

# The user must reach the tree, the sockets and the pidfiles.
chmod 0711 "$WORK"
mkdir -m 0755 "$WORK/run"
chown "$USR:$USR" "$WORK/run"
read -r CP DP < <(python3 -S -c '
import socket
s = [socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) for _ in range(2)]
for x in s:
    x.bind(("::", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))') || fail "free ports"

# ---- 1. the daemons as flowyard-test ----
"$BIN/collectord" -p "$CP" -b 127.0.0.1 -w "$WORK/base" -I priv -u "$USR" \
	--socket "$WORK/run/cd.sock" --socket-group "$USR" \
	-P "$WORK/run/cd.pid" 2> "$WORK/cd.log" &
CD=$!
PIDS+=($CD)
"$BIN/exporterd" -i lo -n "127.0.0.1:$CP" -u "$USR" --verbose -d 1 \
	--socket "$WORK/run/ex.sock" --socket-group "$USR" \
	-f "udp and dst port $DP" 2> "$WORK/ex.log" &
EX=$!
PIDS+=($EX)
wait_log "$WORK/cd.log" "running as uid $XUID gid $XGID"
wait_log "$WORK/ex.log" "capturing on"
wait_udp "$CP"
sleep 0.3 # libpcap's socket is ready a moment after activation
check_ids collectord "$CD" ""
check_ids exporterd "$EX" 1

# ---- 2. the control sockets ----
NOBODY="setpriv --reuid=$NOBODY_UID --regid=$NOBODY_GID --clear-groups"
for d in cd ex; do
	S=$WORK/run/$d.sock
	[ "$(stat -c '%a %G' "$S")" = "660 $USR" ] ||
		fail "$d.sock: mode and group $(stat -c '%a %G' "$S")"
	OUT=$($NOBODY "$CTL" "$S" status 2>/dev/null) && fail "$d: nobody served: $OUT"
	line message | grep -q "Permission denied" || fail "$d: nobody: $OUT"
	chmod 0666 "$S"
	OUT=$($NOBODY "$CTL" "$S" status 2>/dev/null) &&
		fail "$d: nobody served through a 0666 socket: $OUT"
	[ "$(line error)" = 6 ] || fail "$d: nobody through 0666: $OUT"
	chmod 0660 "$S"
	wait_log "$WORK/$d.log" "control: refused uid $NOBODY_UID gid $NOBODY_GID"
	OUT=$(setpriv --reuid="$NOBODY_UID" --regid="$XGID" --clear-groups \
		"$CTL" "$S" status) || fail "$d: nobody in group $USR refused: $OUT"
	OUT=$(setpriv --reuid="$NOBODY_UID" --regid="$NOBODY_GID" \
		--groups="$XGID" "$CTL" "$S" status) ||
		fail "$d: nobody with supplementary group $USR refused: $OUT"
	OUT=$(setpriv --reuid="$XUID" --regid="$XGID" --clear-groups \
		"$CTL" "$S" status) || fail "$d: the daemon's own user refused: $OUT"
	ctl "$S" status
	[ "$(line control.refused_permission)" = 1 ] ||
		fail "$d: refusal not counted once: $OUT"
	[ "$(line pid)" = "$([ $d = cd ] && echo "$CD" || echo "$EX")" ] ||
		fail "$d: status of another process: $OUT"
done
ok "control: nobody refused (file mode; daemon: error 6, logged, counted); group (primary, supplementary) and $USR served"

# ---- 3. capture and export after the drop ----
python3 -S - "$DP" <<'EOF' || fail "traffic"
import socket, sys
port = int(sys.argv[1])
sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sink.bind(('127.0.0.1', port))
# all 40 open at once: a closed socket's port may come back for the next,
# which would make one flow of two
socks = []
for i in range(40):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    socks.append(s)
    for _ in range(3):
        s.sendto(b'p' * 100, ('127.0.0.1', port))
for s in socks:
    s.close()
EOF
sleep 0.5
stop "$EX"
grep -q "exporterd\[notice\]: packets 120 accounted 120 " "$WORK/ex.log" ||
	fail "exporterd did not capture 120 packets: $(grep 'packets' "$WORK/ex.log")"
for i in $(seq 50); do
	ctl "$WORK/run/cd.sock" status
	[ "$(line totals.flows)" = 40 ] && break
	sleep 0.1
done
[ "$(line totals.flows)" = 40 ] || fail "collectord got $(line totals.flows) of 40 flows"
stop "$CD"
got=$("$TOOLS/flowcount" "$WORK/base/priv") || fail "flowcount: $got"
[ "$(field flows "$got")" = 40 ] || fail "tree: $got"
owners=$(find "$WORK/base/priv" -type f -printf '%u\n' | sort -u)
[ "$owners" = "$USR" ] || fail "tree files owned by: $owners"
[ -e "$WORK/run/cd.pid" ] && fail "collectord left its pidfile"
for f in "$WORK/cd.log" "$WORK/ex.log"; do
	if grep -E "Sanitizer|runtime error" "$f"; then
		fail "sanitizer report in $f"
	fi
done
ok "after the drop: 120 packets captured, 40 flows exported, stored, files owned by $USR"

# ---- 4. bad options and configuration lines ----
STRACE=$(command -v strace || true)
[ -n "$STRACE" ] || echo "note: strace not found: only leftovers are checked"
# LeakSanitizer cannot work under ptrace: the traced runs go without it,
# and sanitized programs (FY_SANITIZED) run once more untraced for leaks.
NOLEAK=ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
B=$WORK/bad
BP=$(free_udp_port)
# What "opened" means in a trace: a socket bound, listening or connected
# to a collector, a packet socket, a file or directory created; by a call
# that succeeded (a sanitizer's mkdir of its log directory fails: EEXIST).
OPENED='^[0-9]+ +(bind|listen)\(|connect\([0-9]+, \{sa_family=AF_INET6?,|socket\(AF_PACKET|O_CREAT|mkdir|creat\('

# opened TRACE: the lines of TRACE that opened something.
opened()
{
	grep -E "$OPENED" "$1" | grep -v ' = -1 '
}

# bad EXPECT CMD...: CMD exits 2, says EXPECT on stderr, opens nothing.
bad()
{
	local expect=$1 rc
	shift
	rm -rf "$B" "$WORK/trace"
	mkdir -p "$B"
	if [ -n "$STRACE" ]; then
		env "$NOLEAK" "$STRACE" -f -qq -o "$WORK/trace" \
			-e trace=%network,%file "$@" > /dev/null 2> "$WORK/err"
	else
		"$@" > /dev/null 2> "$WORK/err"
	fi
	rc=$?
	[ "$rc" = 2 ] || fail "exit $rc, not 2: $* ($(cat "$WORK/err"))"
	grep -qF -- "$expect" "$WORK/err" ||
		fail "stderr does not name '$expect': $*: $(cat "$WORK/err")"
	if [ -n "$STRACE" ] && opened "$WORK/trace"; then
		fail "opened something before the error: $*"
	fi
	[ -z "$(ls -A "$B")" ] || fail "left behind: $(ls -A "$B"): $*"
	ss -Hlun "sport = :$BP" | grep -q . && fail "a listener on $BP: $*"
	if [ -n "$STRACE" ] && [ -n "${FY_SANITIZED:-}" ]; then
		"$@" > /dev/null 2>&1
		rc=$?
		[ "$rc" = 2 ] || fail "untraced: exit $rc, not 2: $*"
		rm -rf "$B" && mkdir -p "$B"
	fi
	NBAD=$((NBAD + 1))
}
NBAD=0

# The trace check sees a start that does open (so the pattern is right).
if [ -n "$STRACE" ]; then
	mkdir -p "$B"
	env "$NOLEAK" "$STRACE" -f -qq -o "$WORK/trace" -e trace=%network,%file \
		"$BIN/collectord" -p "$BP" -w "$B/base" -I x --socket "$B/sock" \
		-P "$B/pid" 2> /dev/null &
	T=$!
	PIDS+=($T)
	wait_udp "$BP"
	kill -TERM "$(cat "$B/pid")" # strace itself would only detach
	wait "$T" || fail "collectord under strace: exit $?"
	opened "$WORK/trace" | grep -q 'bind(' || fail "the trace check saw no bind"
	rm -rf "$B"
fi

CD_OK=(-p "$BP" -b 127.0.0.1 -w "$B/base" -I x -P "$B/pid" --socket "$B/sock")
bad "-p '0'" "$BIN/collectord" "${CD_OK[@]}" -p 0
bad "-p '70000'" "$BIN/collectord" "${CD_OK[@]}" -p 70000
bad "-t '1'" "$BIN/collectord" "${CD_OK[@]}" -t 1
bad "-S '9'" "$BIN/collectord" "${CD_OK[@]}" -S 9
bad "-z 'lz5'" "$BIN/collectord" "${CD_OK[@]}" -z lz5
bad "-B 'lots'" "$BIN/collectord" "${CD_OK[@]}" -B lots
bad "--flush-ms" "$BIN/collectord" "${CD_OK[@]}" --flush-ms 5
bad "--max-age" "$BIN/collectord" "${CD_OK[@]}" --max-age 3x
bad "-I" "$BIN/collectord" "${CD_OK[@]}" -I 'a/b'
bad "'--bogus'" "$BIN/collectord" "${CD_OK[@]}" --bogus
bad "'stray'" "$BIN/collectord" "${CD_OK[@]}" stray
bad "-u/user 'no-such-user-x'" "$BIN/collectord" "${CD_OK[@]}" -u no-such-user-x
bad "-g/group 'no-such-group-x'" "$BIN/collectord" "${CD_OK[@]}" -g no-such-group-x
bad "--socket-group/socket-group 'no-such-group-x'" "$BIN/collectord" \
	"${CD_OK[@]}" --socket-group no-such-group-x
bad "$WORK/none.conf" "$BIN/collectord" -c "$WORK/none.conf"

# a configuration file whose third line is wrong
n=0
while IFS= read -r l; do
	n=$((n + 1))
	f=$WORK/c$n.conf
	printf 'base %s\nrotate 60\n%s\nlisten port=%s bind=127.0.0.1 ident=x\n' \
		"$B/base" "$l" "$BP" > "$f"
	bad "$f:3:" "$BIN/collectord" -c "$f" -P "$B/pid" --socket "$B/sock"
done <<'EOF'
listen port=0 ident=y
listen port=9 family=5 ident=y
rotate 1
layout 42
frobnicate yes
exec "no end quote
max-size lots
EOF
printf 'base %s\nuser no-such-user-x\nlisten port=%s ident=x\n' "$B/base" \
	"$BP" > "$WORK/u.conf"
bad "user 'no-such-user-x'" "$BIN/collectord" -c "$WORK/u.conf" -P "$B/pid" \
	--socket "$B/sock"

EX_OK=(-i lo -n "127.0.0.1:$BP" -P "$B/pid" --socket "$B/sock")
bad "-n/--collector" "$BIN/exporterd" "${EX_OK[@]}" -n 127.0.0.1
bad "-n/--collector" "$BIN/exporterd" "${EX_OK[@]}" -n 127.0.0.1:0
bad "-v/--nf-version" "$BIN/exporterd" "${EX_OK[@]}" -v 7
bad "--mtu" "$BIN/exporterd" "${EX_OK[@]}" --mtu 10
bad "-s/--sampling" "$BIN/exporterd" "${EX_OK[@]}" -s 0
bad "-t/--timeout" "$BIN/exporterd" "${EX_OK[@]}" -t bogus=1
bad "-C/--snaplen" "$BIN/exporterd" "${EX_OK[@]}" -C 1
bad "--stats-interval" "$BIN/exporterd" "${EX_OK[@]}" --stats-interval x
bad "-b/--biflow" "$BIN/exporterd" "${EX_OK[@]}" -b -v 9
bad "-u/--user 'no-such-user-x'" "$BIN/exporterd" "${EX_OK[@]}" -u no-such-user-x
bad "--socket-group 'no-such-group-x'" "$BIN/exporterd" "${EX_OK[@]}" \
	--socket-group no-such-group-x
bad "-i/--interface 'no-such-if0'" "$BIN/exporterd" "${EX_OK[@]}" -i no-such-if0
bad "-f/--filter 'udp and'" "$BIN/exporterd" "${EX_OK[@]}" -f "udp and"
bad "-f/--filter 'port 99999'" "$BIN/exporterd" "${EX_OK[@]}" port 99999
bad "-i/--interface and -r/--read" "$BIN/exporterd" "${EX_OK[@]}" -r "$WORK/x"
bad "--bogus" "$BIN/exporterd" "${EX_OK[@]}" --bogus
ok "$NBAD bad options and configuration lines: exit 2, named, nothing opened${STRACE:+ (strace)}"
echo "privileges: all passed"
