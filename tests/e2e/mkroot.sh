#!/bin/sh
# Build (once) the cached Debian 12 tree that e2e.sh boots with systemd-nspawn.
# Usage: mkroot.sh [CACHEDIR]   (default $ECHOD_E2E_CACHE or /var/cache/echod-e2e)
# The tree is built beside its final place and renamed into it, so an
# interrupted run never leaves a half tree that a later run would trust.
#
# Three directories, stacked by e2e.sh as overlay lower layers
# ("$cache/prometheus:$cache/autopkgtest:$cache/bookworm"):
#   bookworm     debootstrap's minimal Debian 12 with systemd
#   autopkgtest  only what installing $layer_pkgs adds to it (an overlay
#                upper directory), so that a tree built before those were
#                needed is extended, never rebuilt under e2e runs that may
#                be booting it at this moment.  A change to either list
#                rebuilds what depends on it.
#   prometheus   the same for Debian's prometheus, on top: a layer of its
#                own, so that a branch without it never rebuilds it nor
#                the one below.  Its unit is not enabled: the test runs it.
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
prom_pkgs="prometheus"
prom=$cache/prometheus
prom_stamp="$layer_stamp + $prom_pkgs"
prom_fresh() { [ "$(cat "$prom/.echod-e2e-layer" 2>/dev/null)" = "$prom_stamp" ]; }
fresh && layer_fresh && prom_fresh && exit 0

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
ptmp=$cache/prometheus.tmp.$$
cleanup() {
	for m in "$ltmp/root/proc" "$ltmp/root" "$ptmp/root/proc" "$ptmp/root"; do
		mountpoint -q "$m" 2>/dev/null && umount "$m"
	done
	rm -rf "$tmp" "$ltmp" "$ptmp"
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

# install_layer TMP LOWER PKGS [FIXUP]: PKGS installed into an overlay
# over LOWER; its upper directory is left in TMP/upper.  The lower layers
# themselves are never written.
install_layer() {
	t=$1 lower=$2 p=$3
	mkdir -p "$t/upper" "$t/work" "$t/root"
	mount -t overlay overlay \
		-o "lowerdir=$lower,upperdir=$t/upper,workdir=$t/work" "$t/root"
	mount -t proc proc "$t/root/proc"
	# Nothing the packages ship may start in the chroot.
	printf '#!/bin/sh\nexit 101\n' > "$t/root/usr/sbin/policy-rc.d"
	chmod 0755 "$t/root/usr/sbin/policy-rc.d"
	chroot "$t/root" apt-get -q update >&2
	chroot "$t/root" env DEBIAN_FRONTEND=noninteractive \
		apt-get -y -q --no-install-recommends install $p >&2
	chroot "$t/root" apt-get clean
	rm -f "$t/root/usr/sbin/policy-rc.d"
	umount "$t/root/proc" "$t/root"
}

if ! layer_fresh; then
	rm -rf "$layer" "$prom"
	echo "mkroot: installing $layer_pkgs into $layer (a minute, once)" >&2
	install_layer "$ltmp" "$root" "$layer_pkgs"
	echo "$layer_stamp" > "$ltmp/upper/.echod-e2e-layer"
	mv "$ltmp/upper" "$layer"
fi

if ! prom_fresh; then
	rm -rf "$prom"
	echo "mkroot: installing $prom_pkgs into $prom (a minute, once)" >&2
	install_layer "$ptmp" "$layer:$root" "$prom_pkgs"
	# Not started at boot: a server writing its database all along would
	# show up in the purge test's list of files.  The e2e test runs it,
	# its database under /var/tmp, and stops it.
	find "$ptmp/upper/etc/systemd/system" -name 'prometheus*.service' \
		-type l -delete 2>/dev/null || true
	echo "$prom_stamp" > "$ptmp/upper/.echod-e2e-layer"
	mv "$ptmp/upper" "$prom"
fi
