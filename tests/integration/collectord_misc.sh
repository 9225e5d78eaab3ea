#!/usr/bin/env bash
# collectord's operational flags: sources sharing a port (-n), -x after
# each rotation, retention (-e --max-size), daemon mode with a pid file,
# dropping to another user (-u), and errors that name the option.
set -u
. "$(dirname "$0")/lib.sh"

# -n: two sources on one port, each in its own tree; others dropped
P=$(free_udp_port)
"$BIN/collectord" -p "$P" -w "$WORK/n" -n "lo4,127.0.0.1,$WORK/n/lo4" \
	-n "lo6,::1,$WORK/n/lo6" -t 2 -S 0 \
	-x "echo %i %t %f >> $WORK/x.log" 2> "$WORK/log1" &
CD=$!
PIDS+=($CD)
wait_udp "$P"
a=$("$TOOLS/flowgen" -n 127.0.0.1:$P -v 9 -c 3000 -s 1 -r 50000)
b=$("$TOOLS/flowgen" -n "[::1]:$P" -v 10 -c 2000 -s 2 -r 50000)
sleep 2.5
stop "$CD"
ga=$("$TOOLS/flowcount" "$WORK/n/lo4")
gb=$("$TOOLS/flowcount" "$WORK/n/lo6")
[ "$(field flows "$ga")" = "$(field flows "$a")" ] || fail "-n lo4: $ga"
[ "$(field flows "$gb")" = "$(field flows "$b")" ] || fail "-n lo6: $gb"
ok "-n: two sources on one port, each in its tree"

# -x ran once per closed file, with the file's name
files=$(find "$WORK/n" -name 'flows.2*' | wc -l)
lines=$(wc -l < "$WORK/x.log")
[ "$lines" = "$files" ] || fail "-x ran $lines times for $files files"
while read -r ident stamp file; do
	[ -f "$file" ] || fail "-x got %f=$file, not a file"
	case $file in */$ident/flows.$stamp*) ;; *) fail "-x: %i %t %f = $ident $stamp $file" ;; esac
done < "$WORK/x.log"
ok "-x: $lines runs with %i %t %f"

# -e --max-size: the tree stays under the limit, the newest files stay
P=$(free_udp_port)
"$BIN/collectord" -p "$P" -w "$WORK/e" -I exp -t 2 -S 0 -e --max-size 60K \
	-v 2> "$WORK/log2" &
CD=$!
PIDS+=($CD)
wait_udp "$P"
"$TOOLS/flowgen" -n 127.0.0.1:$P -v 10 -c 8000 -r 1000 > /dev/null
stop "$CD"
grep -q 'tree exp: expired' "$WORK/log2" || fail "-e expired nothing"
# the newest file always stays; the ones before it fit under the limit
newest=$(ls "$WORK/e/exp" | grep 'flows\.' | sort | tail -1)
[ -n "$newest" ] || fail "-e removed every file"
rest=0
for f in $(ls "$WORK/e/exp" | grep 'flows\.' | sort | head -n -1); do
	rest=$((rest + $(stat -c %s "$WORK/e/exp/$f")))
done
[ "$rest" -le $((60 * 1024)) ] || fail "-e: older files take $rest bytes"
[ "$rest" -gt 0 ] || fail "-e: removed files that fit under the limit"
ok "-e --max-size 60K: newest kept, older files $rest bytes"

# -e --max-age: files younger than the limit outlive a stop (the final
# rotation once measured ages from slot 0 and removed all but the newest)
mkdir -p "$WORK/age/exp"
src="$WORK/e/exp/$newest"
week=$(date -u -d '7 days ago' +%Y%m%d%H%M)
hour=$(date -u -d '1 hour ago' +%Y%m%d%H%M)
old=$(date -u -d '40 days ago' +%Y%m%d%H%M)
for s in "$week" "$hour" "$old"; do
	cp "$src" "$WORK/age/exp/flows.${s:0:11}0"
done
P=$(free_udp_port)
"$BIN/collectord" -p "$P" -w "$WORK/age" -I exp -t 60 -S 0 -e --max-age 30d \
	-v 2> "$WORK/log_age" &
CD=$!
PIDS+=($CD)
wait_udp "$P"
"$TOOLS/flowgen" -n 127.0.0.1:$P -v 10 -c 100 -r 1000 > /dev/null
stop "$CD"
[ -f "$WORK/age/exp/flows.${week:0:11}0" ] || fail "--max-age 30d removed a 7-day-old file at stop"
[ -f "$WORK/age/exp/flows.${hour:0:11}0" ] || fail "--max-age 30d removed a 1-hour-old file at stop"
[ ! -e "$WORK/age/exp/flows.${old:0:11}0" ] || fail "--max-age 30d kept a 40-day-old file"
ok "-e --max-age 30d: a stop keeps younger files, removes the 40-day-old one"

# -D -P and -u nobody: a daemon that runs unprivileged
if id nobody > /dev/null 2>&1; then
	chmod 0755 "$WORK" # mktemp makes it 0700: nobody could not enter
	P=$(free_udp_port)
	"$BIN/collectord" -p "$P" -w "$WORK/u" -I priv -D -P "$WORK/cd.pid" \
		-u nobody 2> "$WORK/log3" || fail "-D: $(cat "$WORK/log3")"
	for i in $(seq 50); do [ -s "$WORK/cd.pid" ] && break; sleep 0.1; done
	pid=$(cat "$WORK/cd.pid")
	PIDS+=($pid)
	wait_udp "$P"
	uid=$(awk '/^Uid:/ {print $2, $3, $4, $5}' /proc/$pid/status)
	[ "$uid" = "65534 65534 65534 65534" ] || fail "-u nobody: Uid $uid"
	"$TOOLS/flowgen" -n 127.0.0.1:$P -v 9 -c 1000 > /dev/null
	sleep 0.3
	kill -TERM "$pid"
	for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	got=$("$TOOLS/flowcount" "$WORK/u/priv")
	[ "$(field flows "$got")" = 1000 ] || fail "-u nobody stored: $got"
	ok "-D -P -u nobody: daemon writes as uid 65534"
fi

# errors name the option
expect_error()
{
	local want=$1
	shift
	out=$("$BIN/collectord" "$@" 2>&1) && fail "collectord $* succeeded"
	echo "$out" | grep -q -- "$want" || fail "collectord $*: '$out'"
}
expect_error "-S '9'" -S 9 -w "$WORK/z"
expect_error "-n 'a,b'" -n a,b -w "$WORK/z"
expect_error "is not an IP address" -n "a,1.2.3.999,/tmp/z"
expect_error "-p '70000'" -p 70000 -w "$WORK/z"
expect_error "-e: set --max-age or --max-size" -e -w "$WORK/z"
expect_error "unknown option" --bogus
echo "listen port=1 ident=a wrong=1" > "$WORK/bad.conf"
expect_error "bad.conf:1: listen: unknown 'wrong=1'" -c "$WORK/bad.conf"
ok "bad options and config lines are named"
