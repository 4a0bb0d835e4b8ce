#!/bin/sh
# Build (once) the cached Debian 12 tree that e2e.sh boots with systemd-nspawn.
# Usage: mkroot.sh [CACHEDIR]   (default $ECHOD_E2E_CACHE or /var/cache/echod-e2e)
# The tree is built beside its final place and renamed into it, so an
# interrupted run never leaves a half tree that a later run would trust.
set -eu

cache=${1:-${ECHOD_E2E_CACHE:-/var/cache/echod-e2e}}
root=$cache/bookworm
# systemd to boot, and what echod's package depends on, so that installing
# it needs no network.  A change to this list rebuilds the tree.
pkgs=systemd,systemd-sysv,dbus,procps,netbase,libconfuse2
stamp="bookworm minbase $pkgs"

fresh() { [ -x "$root/lib/systemd/systemd" ] && [ "$(cat "$root/.echod-e2e-complete" 2>/dev/null)" = "$stamp" ]; }
fresh && exit 0

# The mirror comes from the host's apt sources, so it works behind whatever
# mirror or proxy this machine is set up for.
mirror() {
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk 'tolower($1)=="uris:" { for (i = 2; i <= NF; i++) print $i }' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk '$1=="deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i; break } }' "$f"
	done
}
url=$(mirror | grep -v -e security -e nodesource -e google | head -n 1)
[ -n "$url" ] || { echo "mkroot: no Debian mirror in the host's apt sources" >&2; exit 1; }

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock -w 900 9 || { echo "mkroot: $cache/.lock held for 15 minutes" >&2; exit 1; }
fresh && exit 0

tmp=$cache/bookworm.tmp.$$
trap 'rm -rf "$tmp"' EXIT
rm -rf "$root"
echo "mkroot: debootstrap bookworm from $url into $root (a few minutes, once)" >&2
debootstrap --variant=minbase --include="$pkgs" bookworm "$tmp" "$url" >&2
# A booted container must not wait for a console login or a network it has none of.
echo echod-e2e > "$tmp/etc/hostname"
: > "$tmp/etc/machine-id"
chroot "$tmp" apt-get clean
echo "$stamp" > "$tmp/.echod-e2e-complete"
mv "$tmp" "$root"
trap - EXIT
