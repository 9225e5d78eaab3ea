#!/usr/bin/env bash
# `make install` and `make uninstall` into a temporary DESTDIR, as a packager
# runs them: the staged tree (every file where it belongs, its mode, nothing
# else), the installed binaries and config (collectord -T on the installed
# collectord.conf, with its examples too; exporterd -T on the unit's command
# line with /etc/default/exporterd), config files kept on a second install,
# the units checked by systemd-analyze (verify, which must also catch a
# deliberately broken copy, and the offline security score), sysusers.d and
# tmpfiles.d applied inside the staged root (as root), then uninstall.
set -u
. "$(dirname "$0")/lib.sh"

MAKE_INSTALL=(timeout 120 make -C "$TOP" --no-print-directory)
D=$WORK/root
# sysusers and tmpfiles run with --root=$D, uninstall removes files in it:
# never anything but a fresh temporary directory.
case $D in /tmp/flowyard-test.*/root) ;; *) fail "DESTDIR $D" ;; esac

# ---------------------------------------------------------------------------
# The staged tree

"${MAKE_INSTALL[@]}" install DESTDIR="$D" PREFIX=/usr >"$WORK/install.log" 2>&1 ||
	{ cat "$WORK/install.log"; fail "make install DESTDIR=$D PREFIX=/usr"; }

# path:mode of every file install must put, for the programs that exist
expect=()
for p in exporterd collectord nfq; do
	[ -x "$BIN/$p" ] || continue
	case $p in
	nfq) expect+=("usr/bin/$p:755") ;;
	*) expect+=("usr/sbin/$p:755") ;;
	esac
done
[ -x "$BIN/collectord" ] && expect+=(lib/systemd/system/collectord.service:644
	etc/flowyard/collectord.conf:644)
[ -x "$BIN/exporterd" ] && expect+=(lib/systemd/system/exporterd.service:644
	etc/default/exporterd:644)
expect+=(usr/lib/sysusers.d/flowyard.conf:644 usr/lib/tmpfiles.d/flowyard.conf:644)
for m in "$TOP"/docs/*.1 "$TOP"/docs/*.8; do
	[ -f "$m" ] || continue
	expect+=("usr/share/man/man${m##*.}/${m##*/}:644")
done
if [ ! -x "$BIN/collectord" ] || [ ! -x "$BIN/exporterd" ]; then
	fail "collectord and exporterd must be built"
fi

for e in "${expect[@]}"; do
	f=${e%:*} mode=${e##*:}
	[ -f "$D/$f" ] || fail "make install did not put /$f"
	got=$(stat -c %a "$D/$f")
	[ "$got" = "$mode" ] || fail "/$f has mode $got, not $mode"
	[ "$(stat -c %u "$D/$f")" = "$(id -u)" ] || fail "/$f: chown in make install"
done
printf '%s\n' "${expect[@]%:*}" | sort >"$WORK/expected"
(cd "$D" && find . ! -type d | sed 's|^\./||' | sort) >"$WORK/found"
diff -u "$WORK/expected" "$WORK/found" >"$WORK/tree.diff" ||
	{ cat "$WORK/tree.diff"; fail "the staged tree has missing or extra files"; }
ok "make install: ${#expect[@]} files, each in place with its mode, nothing else"

for u in collectord exporterd; do
	f=$D/lib/systemd/system/$u.service
	! grep -q '@[A-Z]*@' "$f" || fail "$u.service: placeholder left: $(grep '@[A-Z]*@' "$f")"
	grep -q "^ExecStart=/usr/sbin/$u " "$f" || fail "$u.service: ExecStart is not /usr/sbin/$u"
done
grep -q '^EnvironmentFile=-/etc/default/exporterd$' "$D/lib/systemd/system/exporterd.service" ||
	fail "exporterd.service does not read /etc/default/exporterd"
grep -q -- '-c /etc/flowyard/collectord.conf' "$D/lib/systemd/system/collectord.service" ||
	fail "collectord.service does not read /etc/flowyard/collectord.conf"

# The binaries run from where they are installed.
for e in "${expect[@]}"; do
	case $e in usr/*bin/*)
		"$D/${e%:*}" -V >/dev/null 2>&1 || fail "/${e%:*} -V" ;;
	esac
done
ok "units name the installed paths; installed binaries run"

# ---------------------------------------------------------------------------
# The installed configuration parses, as the units run it

CD=$D/usr/sbin/collectord
XD=$D/usr/sbin/exporterd
CONF=$D/etc/flowyard/collectord.conf

# collectord's ExecStart, with -T, on the installed config
exec_line()
{
	sed -n "s|^ExecStart=/usr/sbin/$1 ||p" "$D/lib/systemd/system/$1.service"
}
read -r -a cargs <<<"$(exec_line collectord | sed "s|/etc/|$D/etc/|g")"
"$CD" -T "${cargs[@]}" >"$WORK/c.T" 2>"$WORK/c.err" ||
	{ cat "$WORK/c.err"; fail "collectord -T ${cargs[*]}"; }
grep -q '^user flowyard$' "$WORK/c.T" || fail "collectord.service: not -u flowyard"
grep -q '^socket-group flowyard$' "$WORK/c.T" || fail "collectord.service: no socket group"
grep -q '^base /var/lib/flowyard$' "$WORK/c.T" || fail "collectord.conf: base"
grep -q '^socket /run/flowyard/collectord.sock$' "$WORK/c.T" || fail "collectord.conf: socket"
[ "$(grep -c '^listen \|^dynamic ' "$WORK/c.T")" = 2 ] ||
	fail "collectord.conf: expected its two active listeners: $(cat "$WORK/c.T")"
ok "collectord parses the installed collectord.conf as the unit runs it"

# every example: "#directive" lines uncommented, all at once
sed -E 's/^#([a-z])/\1/' "$CONF" >"$WORK/all.conf"
"$CD" -c "$WORK/all.conf" -T >"$WORK/all.T" 2>"$WORK/all.err" ||
	{ cat "$WORK/all.err"; fail "collectord.conf: the examples do not parse"; }
n_ex=$(grep -cE '^#(listen|source|dynamic) ' "$CONF")
n_ok=$(grep -cE '^(listen|source|dynamic) ' "$WORK/all.T")
[ "$n_ok" = $((n_ex + 2)) ] || fail "examples: $n_ex listener lines, $n_ok effective"
[ "$(grep -c '^source ' "$WORK/all.T")" -ge 2 ] || fail "no example of sources sharing a port"
grep -q '^expire yes$' "$WORK/all.T" || fail "no retention example"
grep -q '^max-age ' "$WORK/all.T" || fail "no max-age example"
[ "$(grep -c '^dynamic ' "$WORK/all.T")" -ge 1 ] || fail "no dynamic tree"
[ "$(grep -c '^listen ' "$WORK/all.T")" -ge 3 ] || fail "no exporters on ports of their own"
ok "collectord.conf: its $n_ex commented listener examples parse, with retention"

# exporterd's ExecStart, with /etc/default/exporterd and each OTHER_ARGS
# example of its comments, as systemd expands it: ${X} one word, $X split
xd_check()
{
	local other=$1 INTERFACE COLLECTORS OTHER_ARGS line
	# shellcheck disable=SC1091
	. "$D/etc/default/exporterd"
	OTHER_ARGS=$other
	line=$(exec_line exporterd)
	line=${line//\$\{INTERFACE\}/$INTERFACE}
	line=${line//\$\{COLLECTORS\}/$COLLECTORS}
	line=${line//\$OTHER_ARGS/$OTHER_ARGS}
	read -r -a xa <<<"$line"
	"$XD" -T "${xa[@]}" >"$WORK/x.T" 2>"$WORK/x.err" ||
		{ cat "$WORK/x.err"; fail "exporterd -T ${xa[*]}"; }
	grep -q '^user flowyard$' "$WORK/x.T" || fail "exporterd.service: not -u flowyard"
}
( . "$D/etc/default/exporterd" && [ -n "$INTERFACE" ] && [ -n "$COLLECTORS" ] ) ||
	fail "/etc/default/exporterd: INTERFACE or COLLECTORS missing"
xd_check "$( . "$D/etc/default/exporterd" && echo "$OTHER_ARGS")"
grep -q '^collector 127.0.0.1:9995 ' "$WORK/x.T" || fail "exporterd default collector"
grep -q 'listen port=9995 bind=127.0.0.1 ' "$WORK/c.T" ||
	fail "the default exporterd does not send to the default collectord"
n=0
while read -r ex; do
	xd_check "$ex"
	n=$((n + 1))
done < <(sed -n 's/^#  *OTHER_ARGS="\(.*\)"$/\1/p' "$D/etc/default/exporterd")
[ "$n" -ge 1 ] || fail "/etc/default/exporterd: no OTHER_ARGS example"
ok "exporterd parses the unit's command line with /etc/default/exporterd (+$n examples)"

# A second install keeps edited config files.
echo "# local edit" >>"$CONF"
echo "# local edit" >>"$D/etc/default/exporterd"
"${MAKE_INSTALL[@]}" install DESTDIR="$D" PREFIX=/usr >"$WORK/install2.log" 2>&1 ||
	{ cat "$WORK/install2.log"; fail "second make install"; }
tail -n1 "$CONF" | grep -q '^# local edit$' || fail "make install overwrote collectord.conf"
tail -n1 "$D/etc/default/exporterd" | grep -q '^# local edit$' ||
	fail "make install overwrote /etc/default/exporterd"
grep -q 'KEEP.*collectord.conf' "$WORK/install2.log" || fail "no KEEP message"
ok "make install again: existing config files kept"

# ---------------------------------------------------------------------------
# The units: systemd-analyze

if command -v systemd-analyze >/dev/null 2>&1; then
	V=$WORK/verify
	mkdir -p "$V/ok" "$V/bad"
	# The binaries are staged: point ExecStart there; man: links are
	# checked against the staged man pages.
	for u in collectord exporterd; do
		sed "s|^ExecStart=/usr/sbin/|ExecStart=$D/usr/sbin/|" \
			"$D/lib/systemd/system/$u.service" >"$V/ok/$u.service"
	done
	# verify: exit 0 and not a word (it only warns, exit 0, about
	# unknown keys and bad values, which would silently drop a setting)
	verify()
	{
		MANPATH=$D/usr/share/man timeout 30 systemd-analyze verify "$@" \
			>"$V/out" 2>&1 && ! [ -s "$V/out" ]
	}
	verify "$V/ok/collectord.service" "$V/ok/exporterd.service" ||
		{ cat "$V/out"; fail "systemd-analyze verify on the installed units"; }
	ok "systemd-analyze verify: both units clean"

	# ... and it does see errors: each broken copy must be caught
	n=0
	while IFS='|' read -r what expr; do
		sed -e "$expr" "$V/ok/collectord.service" >"$V/bad/collectord.service"
		cmp -s "$V/ok/collectord.service" "$V/bad/collectord.service" &&
			fail "broken copy '$what': the edit did not apply"
		if verify "$V/bad/collectord.service"; then
			fail "systemd-analyze verify missed: $what"
		fi
		n=$((n + 1))
	done <<'EOF'
misspelt key|s/^ProtectSystem=strict/ProtectSytem=strict/
bad value|s/^ProtectSystem=strict/ProtectSystem=bogus/
bad address family|s/^RestrictAddressFamilies=AF_INET /RestrictAddressFamilies=AF_INETT /
missing binary|s|^ExecStart=\([^ ]*\)|ExecStart=\1.missing|
no ExecStart|/^ExecStart=/d
unknown man page|s|^Documentation=.*|Documentation=man:flowyard-nonexistent(8)|
EOF
	ok "systemd-analyze verify catches each of $n broken copies"

	# Capabilities: exactly these, each a name systemd knows.
	caps_of()
	{
		sed -n 's/^CapabilityBoundingSet=//p' "$V/ok/$1.service" | tr ' ' '\n' | sort | xargs
	}
	[ "$(caps_of collectord)" = "CAP_CHOWN CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_SETGID CAP_SETUID" ] ||
		fail "collectord capabilities: $(caps_of collectord)"
	[ "$(caps_of exporterd)" = "CAP_CHOWN CAP_NET_RAW CAP_SETGID CAP_SETUID" ] ||
		fail "exporterd capabilities: $(caps_of exporterd)"
	for c in $(caps_of collectord) $(caps_of exporterd); do
		systemd-analyze capability "$c" >/dev/null 2>&1 ||
			fail "capability $c: unknown to systemd"
	done
	ok "capability bounding sets as designed, every name known"

	# Hardening present, scored offline where this systemd can.
	for u in collectord exporterd; do
		for k in Type=simple Restart=on-failure NoNewPrivileges=yes \
			ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
			ProtectKernelTunables=yes ProtectControlGroups=yes; do
			grep -qx "$k" "$V/ok/$u.service" || fail "$u.service: no $k"
		done
		! grep -q '^User=' "$V/ok/$u.service" || fail "$u.service: User= set"
	done
	grep -qx 'ReadWritePaths=/var/lib/flowyard /run/flowyard' "$V/ok/collectord.service" ||
		fail "collectord.service: ReadWritePaths"
	grep -qx 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' "$V/ok/collectord.service" ||
		fail "collectord.service: RestrictAddressFamilies"
	grep -qx 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_PACKET AF_NETLINK' \
		"$V/ok/exporterd.service" || fail "exporterd.service: RestrictAddressFamilies"
	# shellcheck disable=SC2016
	grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$V/ok/collectord.service" ||
		fail "collectord.service: ExecReload"
	if systemd-analyze security --offline=yes "$V/ok/collectord.service" >/dev/null 2>&1; then
		for u in collectord exporterd; do
			systemd-analyze security --offline=yes --threshold=35 \
				"$V/ok/$u.service" >"$V/sec" 2>&1 ||
				{ grep Overall "$V/sec"; fail "$u.service: exposure above 3.5"; }
		done
		grep -vE '^(Protect|Private|Restrict|NoNew|Capability|Lock|SystemCall|Memory)' \
			"$V/ok/collectord.service" >"$V/bad/collectord.service"
		if systemd-analyze security --offline=yes --threshold=35 \
			"$V/bad/collectord.service" >/dev/null 2>&1; then
			fail "the security check passes a unit without hardening"
		fi
		ok "systemd-analyze security --offline: both units at most 3.5 (unhardened copy fails)"
	fi
else
	echo "note: systemd-analyze not found: units not verified"
fi

# ---------------------------------------------------------------------------
# sysusers.d and tmpfiles.d, applied to the staged root (they chown: root)

if [ "$(id -u)" = 0 ] && command -v systemd-sysusers >/dev/null 2>&1 &&
	command -v systemd-tmpfiles >/dev/null 2>&1; then
	timeout 30 systemd-sysusers --root="$D" >"$WORK/su.log" 2>&1 ||
		{ cat "$WORK/su.log"; fail "systemd-sysusers --root"; }
	pw=$(grep '^flowyard:' "$D/etc/passwd") || fail "sysusers: no user flowyard"
	grp=$(grep '^flowyard:' "$D/etc/group") || fail "sysusers: no group flowyard"
	IFS=: read -r _ _ uid gid _ home shell <<<"$pw"
	[ "$gid" = "$(echo "$grp" | cut -d: -f3)" ] || fail "flowyard: primary group"
	[ "$uid" -lt 1000 ] || fail "flowyard: uid $uid is not a system uid"
	[ "$home" = /var/lib/flowyard ] || fail "flowyard: home $home"
	case $shell in */nologin | */false) ;; *) fail "flowyard: shell $shell" ;; esac
	if ! timeout 30 systemd-tmpfiles --root="$D" --create flowyard.conf \
		>"$WORK/tf.log" 2>&1 || [ -s "$WORK/tf.log" ]; then
		cat "$WORK/tf.log"
		fail "systemd-tmpfiles --root --create"
	fi
	[ "$(stat -c '%a %u %g' "$D/run/flowyard")" = "755 0 0" ] ||
		fail "/run/flowyard: $(stat -c '%a %u %g' "$D/run/flowyard")"
	[ "$(stat -c '%a %u %g' "$D/var/lib/flowyard")" = "770 0 $gid" ] ||
		fail "/var/lib/flowyard: $(stat -c '%a %u %g' "$D/var/lib/flowyard")"
	rm -rf "${D:?}/run" "${D:?}/var" "${D:?}"/etc/passwd* "${D:?}"/etc/group* \
		"${D:?}"/etc/shadow* "${D:?}"/etc/gshadow* "${D:?}/etc/.pwd.lock"
	ok "sysusers.d: system user flowyard; tmpfiles.d: /run/flowyard 0755 root, /var/lib/flowyard 0770 root:flowyard"
else
	echo "note: not root or no systemd-sysusers/tmpfiles: sysusers.d and tmpfiles.d not applied"
fi

# ---------------------------------------------------------------------------
# uninstall: everything but the config files

"${MAKE_INSTALL[@]}" uninstall DESTDIR="$D" PREFIX=/usr >"$WORK/uninstall.log" 2>&1 ||
	{ cat "$WORK/uninstall.log"; fail "make uninstall"; }
(cd "$D" && find . ! -type d | sed 's|^\./||' | sort) >"$WORK/left"
printf '%s\n' etc/default/exporterd etc/flowyard/collectord.conf >"$WORK/kept"
diff -u "$WORK/kept" "$WORK/left" ||
	fail "make uninstall: left other files than the config files"
ok "make uninstall: binaries, man pages, units, sysusers/tmpfiles files removed; config kept"

# ---------------------------------------------------------------------------
# The default PREFIX (/usr/local) and a custom SBINDIR reach the units.

D2=$WORK/root2
"${MAKE_INSTALL[@]}" install DESTDIR="$D2" SBINDIR=/opt/fy/sbin >"$WORK/install3.log" 2>&1 ||
	{ cat "$WORK/install3.log"; fail "make install DESTDIR=$D2 SBINDIR=/opt/fy/sbin"; }
for f in opt/fy/sbin/collectord usr/local/bin/nfq usr/local/lib/systemd/system/collectord.service \
	usr/local/lib/sysusers.d/flowyard.conf usr/local/lib/tmpfiles.d/flowyard.conf \
	usr/local/share/man/man8/collectord.8 etc/flowyard/collectord.conf; do
	[ -e "$D2/$f" ] || { [ "$f" = usr/local/bin/nfq ] && [ ! -x "$BIN/nfq" ]; } ||
		fail "PREFIX=/usr/local: no /$f"
done
grep -q '^ExecStart=/opt/fy/sbin/collectord ' "$D2/usr/local/lib/systemd/system/collectord.service" ||
	fail "SBINDIR=/opt/fy/sbin not in collectord.service"
"${MAKE_INSTALL[@]}" uninstall DESTDIR="$D2" SBINDIR=/opt/fy/sbin >/dev/null 2>&1 ||
	fail "make uninstall (PREFIX=/usr/local)"
[ "$(cd "$D2" && find . ! -type d | wc -l)" = 2 ] || fail "uninstall (PREFIX=/usr/local) left files"
ok "PREFIX=/usr/local and SBINDIR= reach paths and units; uninstall there too"
