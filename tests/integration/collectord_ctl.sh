#!/usr/bin/env bash
# collectord_ctl.sh - collectord's control socket, driven by
# $TOOLS/ctlcall while flowgen feeds it v9 and IPFIX:
#  1. status: the listener, totals equal to what was sent;
#  2. exporters: one line per flowgen run, with its version and flows;
#  3. templates: every template with its fields; an exporter filter;
#  4. rotate: the files it names exist and hold every flow; an unknown
#     identifier is an invalid argument;
#  5. reload: a listener added to the file starts receiving; a broken file
#     fails and changes nothing;
#  6. loglevel; NOT_SUPPORTED for exporterd's commands;
#  7. permissions: nobody cannot connect; through a world-writable socket
#     file the daemon itself refuses it.
set -u
if [ -z "${COLLECTORD_CTL_TIMED:-}" ]; then
	COLLECTORD_CTL_TIMED=1 exec timeout -k 5 30 bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
CTL=$TOOLS/ctlcall

chmod 0711 "$WORK"
mkdir -m 0755 "$WORK/run"
SOCK=$WORK/run/cd.sock

# Two free UDP ports at once (python starts slowly on a loaded machine).
read -r P1 P2 < <(python3 -S -c '
import socket
s = [socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) for _ in range(2)]
for x in s:
    x.bind(("::", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))') || fail "free ports"

cat > "$WORK/c.conf" <<CONF
base $WORK/flows
rotate 300
listen port=$P1 ident=one
CONF
"$BIN/collectord" -c "$WORK/c.conf" --socket "$SOCK" 2> "$WORK/cd.log" &
CD=$!
PIDS+=($CD)
wait_udp "$P1"
[ -S "$SOCK" ] || fail "no socket $SOCK: $(cat "$WORK/cd.log")"

a=$("$TOOLS/flowgen" -n "127.0.0.1:$P1" -v 9 -c 3000 -s 1 -r 200000) ||
	fail "flowgen v9"
b=$("$TOOLS/flowgen" -n "127.0.0.1:$P1" -v 10 -c 2000 -s 2 -r 200000) ||
	fail "flowgen IPFIX"
FLOWS=$(($(field flows "$a") + $(field flows "$b")))
MSGS=$(($(field messages "$a") + $(field messages "$b")))
sleep 0.5

# ---- 1. status ----
ctl "$SOCK" status
[ "$(line daemon)" = collectord ] && [ "$(line pid)" = "$CD" ] ||
	fail "status: $OUT"
[ "$(line listeners)" = 1 ] || fail "status listeners: $OUT"
echo "$OUT" | grep -q "^listener=0 port=$P1 .*identifier=one tree=$WORK/flows/one " ||
	fail "status listener: $OUT"
[ "$(line totals.flows)" = "$FLOWS" ] || fail "status totals.flows: $OUT"
[ "$(line totals.packets)" = "$MSGS" ] || fail "status totals.packets: $OUT"
[ "$(line totals.sequence_failures)" = 0 ] && [ "$(line totals.malformed)" = 0 ] ||
	fail "status: failures: $OUT"
[ "$(line exporters)" = 2 ] || fail "status exporters: $OUT"
ok "status: $FLOWS flows in $MSGS packets, 1 listener"

# ---- 2. exporters ----
ctl "$SOCK" exporters
[ "$(line exporters)" = 2 ] || fail "exporters: $OUT"
echo "$OUT" | grep -q "^exporter=.* address=127.0.0.1 .* version=9 identifier=one .*flows=$(field flows "$a") " ||
	fail "exporters: no v9 session with $(field flows "$a") flows: $OUT"
echo "$OUT" | grep -q "^exporter=.* address=127.0.0.1 .* version=10 identifier=one .*flows=$(field flows "$b") " ||
	fail "exporters: no IPFIX session with $(field flows "$b") flows: $OUT"
ok "exporters: the v9 and the IPFIX session with their flows"

# ---- 3. templates ----
ctl "$SOCK" templates
NT=$(line templates)
[ "$NT" -ge 2 ] || fail "templates: $OUT"
echo "$OUT" | grep -q "^template=.* version=9 .*nfields=[1-9]" ||
	fail "templates: no v9 template with fields: $OUT"
echo "$OUT" | grep -q "^template=.* version=10 .*nfields=[1-9]" ||
	fail "templates: no IPFIX template with fields: $OUT"
ctl "$SOCK" templates 127.0.0.1
[ "$(line templates)" = "$NT" ] || fail "templates 127.0.0.1: $OUT"
ctl "$SOCK" templates 192.0.2.1
[ "$(line templates)" = 0 ] || fail "templates 192.0.2.1: $OUT"
ctl_err 8 "$SOCK" templates not-an-address
ok "templates: $NT, by exporter"

# ---- 4. rotate ----
ctl "$SOCK" rotate
[ "$(line files)" -ge 1 ] || fail "rotate closed nothing: $OUT"
files=$(echo "$OUT" | sed -n 's/^file=//p')
for f in $files; do
	[ -f "$f" ] || fail "rotate named $f, which does not exist"
done
# shellcheck disable=SC2086
got=$("$TOOLS/flowcount" $files) || fail "flowcount: $got"
[ "$(field flows "$got")" = "$FLOWS" ] || fail "rotated files hold $got"
ctl_err 8 "$SOCK" rotate no-such-tree
ok "rotate: $(echo "$files" | wc -w) file(s) closed, holding the $FLOWS flows"

# ---- 5. reload ----
echo "listen port=$P2 ident=two" >> "$WORK/c.conf"
ctl "$SOCK" reload
echo "$OUT" | grep -q "^change=listener .* port $P2 added" ||
	fail "reload: no listener added: $OUT"
wait_udp "$P2"
c=$("$TOOLS/flowgen" -n "127.0.0.1:$P2" -v 10 -c 1000 -s 3 -r 200000) ||
	fail "flowgen to the new listener"
cp "$WORK/c.conf" "$WORK/c.good"
echo "listen port=notaport ident=three" >> "$WORK/c.conf"
ctl_err 9 "$SOCK" reload
cp "$WORK/c.good" "$WORK/c.conf"
sleep 0.5
ctl "$SOCK" status
[ "$(line listeners)" = 2 ] || fail "status after reload: $OUT"
[ "$(line totals.flows)" = $((FLOWS + $(field flows "$c"))) ] ||
	fail "status totals after reload: $OUT"
ok "reload: a listener added and fed; a broken file refused"

# ---- 6. loglevel, not supported ----
ctl "$SOCK" loglevel debug
[ "$(line current)" = debug ] || fail "loglevel: $OUT"
ctl "$SOCK" status
[ "$(line log_level)" = debug ] || fail "log_level after loglevel: $OUT"
ctl_err 8 "$SOCK" loglevel loud
ctl_err 4 "$SOCK" dump-flows
ctl_err 4 "$SOCK" expire-all
ctl_err 4 "$SOCK" send-templates
ok "loglevel; exporterd's commands not supported"

# ---- 7. permissions ----
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
OUT=$($NOBODY "$CTL" "$SOCK" status 2>/dev/null) && fail "nobody served: $OUT"
line message | grep -q "Permission denied" || fail "nobody: $OUT"
chmod 0666 "$SOCK"
OUT=$($NOBODY "$CTL" "$SOCK" status 2>/dev/null) &&
	fail "nobody served through a 0666 socket: $OUT"
[ "$(line error)" = 6 ] || fail "nobody through 0666: $OUT"
ok "permissions: nobody refused (file mode and credentials)"

stop "$CD"
got=$("$TOOLS/flowcount" "$WORK/flows/two") || fail "flowcount: $got"
[ "$(field flows "$got")" = "$(field flows "$c")" ] || fail "tree two: $got"
[ -e "$SOCK" ] && fail "socket file left after exit"
if grep -E "Sanitizer|runtime error" "$WORK/cd.log"; then
	fail "sanitizer report in collectord's log"
fi
echo "collectord_ctl: all passed"
