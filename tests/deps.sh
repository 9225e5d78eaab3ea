#!/bin/sh
# tests/deps.sh - installs the Debian packages flowyard needs that are missing.
# Usage: sh tests/deps.sh PACKAGE...  (`make deps` passes the build and test
# lists from the Makefile). As root it installs the missing ones; otherwise
# it prints the command to run and fails. Nothing is done when all are there.
set -eu

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "flowyard: dpkg-query not found: install these by hand: $*" >&2
	exit 1
fi

missing=
for p in "$@"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	if [ "$status" != "install ok installed" ]; then
		missing="$missing $p"
	fi
done
missing=${missing# }

if [ -z "$missing" ]; then
	echo "flowyard: all $# Debian packages needed are installed"
	exit 0
fi
echo "flowyard: missing Debian packages: $missing"

if [ "$(id -u)" -ne 0 ]; then
	echo "flowyard: not root; install them with:" >&2
	echo "  sudo apt-get install -y --no-install-recommends $missing" >&2
	exit 1
fi

# tshark asks whether non-root users may capture: answer no, do not ask.
case " $missing " in
*" tshark "*)
	echo "wireshark-common wireshark-common/install-setuid boolean false" |
		debconf-set-selections
	;;
esac

export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086 # one word per package
apt-get install -y --no-install-recommends $missing
