#!/bin/sh
# Build (once) the cached Debian 12 tree that e2e.sh boots with systemd-nspawn.
# Usage: mkroot.sh [CACHEDIR]   (default $ECHOD_E2E_CACHE or /var/cache/echod-e2e)
# The tree is built beside its final place and renamed into it, so an
# interrupted run never leaves a half tree that a later run would trust.
#
# Two directories, stacked by e2e.sh as overlay lower layers
# ("$cache/autopkgtest:$cache/bookworm"):
#   bookworm     debootstrap's minimal Debian 12 with systemd
#   autopkgtest  only what installing $layer_pkgs adds to it (an overlay
#                upper directory), so that a tree built before those were
#                needed is extended, never rebuilt under e2e runs that may
#                be booting it at this moment.  A change to either list
#                rebuilds what depends on it.
set -eu

cache=${1:-${ECHOD_E2E_CACHE:-/var/cache/echod-e2e}}
root=$cache/bookworm
layer=$cache/autopkgtest
# systemd to boot, and what echod's package depends on, so that installing
# it needs no network.  A change to this list rebuilds the tree.
pkgs=systemd,systemd-sysv,dbus,procps,netbase,libconfuse2,libbsd0
stamp="bookworm minbase $pkgs"
# The layer: autopkgtest, to run debian/tests against the installed package,
# and dpkg-dev, whose dpkg-source it runs on a source tree (else it would
# fetch dpkg-dev in the container, which has no network).
layer_pkgs="autopkgtest dpkg-dev"
layer_stamp="$stamp + $layer_pkgs"

fresh() { [ -x "$root/lib/systemd/systemd" ] && [ "$(cat "$root/.echod-e2e-complete" 2>/dev/null)" = "$stamp" ]; }
layer_fresh() { [ "$(cat "$layer/.echod-e2e-layer" 2>/dev/null)" = "$layer_stamp" ]; }
fresh && layer_fresh && exit 0

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

# Other e2e runs may build or read the cache at the same time: one builder
# at a time (each part is checked again under the lock), and a part appears
# under its name only when complete.
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock -w 900 9 || { echo "mkroot: $cache/.lock held for 15 minutes" >&2; exit 1; }

tmp=$cache/bookworm.tmp.$$
ltmp=$cache/autopkgtest.tmp.$$
cleanup() {
	for m in "$ltmp/root/proc" "$ltmp/root"; do
		mountpoint -q "$m" 2>/dev/null && umount "$m"
	done
	rm -rf "$tmp" "$ltmp"
}
trap cleanup EXIT

if ! fresh; then
	# A new base invalidates the layer built on top of the old one.
	rm -rf "$root" "$layer"
	echo "mkroot: debootstrap bookworm from $url into $root (a few minutes, once)" >&2
	debootstrap --variant=minbase --include="$pkgs" bookworm "$tmp" "$url" >&2
	# A booted container must not wait for a console login or a network it has none of.
	echo echod-e2e > "$tmp/etc/hostname"
	: > "$tmp/etc/machine-id"
	chroot "$tmp" apt-get clean
	echo "$stamp" > "$tmp/.echod-e2e-complete"
	mv "$tmp" "$root"
fi

if ! layer_fresh; then
	# Install into an overlay over the base and keep its upper directory:
	# the base itself is never written.
	rm -rf "$layer"
	echo "mkroot: installing $layer_pkgs into $layer (a minute, once)" >&2
	mkdir -p "$ltmp/upper" "$ltmp/work" "$ltmp/root"
	mount -t overlay overlay \
		-o "lowerdir=$root,upperdir=$ltmp/upper,workdir=$ltmp/work" "$ltmp/root"
	mount -t proc proc "$ltmp/root/proc"
	# Nothing the packages ship may start in the chroot.
	printf '#!/bin/sh\nexit 101\n' > "$ltmp/root/usr/sbin/policy-rc.d"
	chmod 0755 "$ltmp/root/usr/sbin/policy-rc.d"
	chroot "$ltmp/root" apt-get -q update >&2
	chroot "$ltmp/root" env DEBIAN_FRONTEND=noninteractive \
		apt-get -y -q --no-install-recommends install $layer_pkgs >&2
	chroot "$ltmp/root" apt-get clean
	rm -f "$ltmp/root/usr/sbin/policy-rc.d"
	umount "$ltmp/root/proc" "$ltmp/root"
	echo "$layer_stamp" > "$ltmp/upper/.echod-e2e-layer"
	mv "$ltmp/upper" "$layer"
fi
