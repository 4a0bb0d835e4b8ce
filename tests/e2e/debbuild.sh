# debbuild.sh, sourced by e2e.sh: the packages it installs.
#
# deb_build_new: the source package as Debian would build it: the upstream
#   tarball from "make dist" on a clean copy of the sources, unpacked, with
#   debian/ added, then dpkg-buildpackage for source and binaries.  Sets
#   $deb (echod) and $client_deb (echo-client); $work/pkg holds the rest.
# deb_build_old REF: the package as it was at commit REF of this repository
#   (git archive), built once and kept in $cache/old-REF.  Sets $old_deb, or
#   returns 1 (no git, no such commit, or the build failed: its log says).
# Uses e2e.sh's clean_copy, $work, $srcdir and $cache.

deb_build_new() {
	local tree=$work/src/echod tarball up
	clean_copy "$tree" .
	(cd "$tree" && autoreconf -fi && ./configure -q && make dist) \
		> "$work/dist.log" 2>&1 || { tail -n 30 "$work/dist.log"; return 1; }
	tarball=$(ls "$tree"/echod-*.tar.gz 2>/dev/null | head -n 1)
	[ -f "$tarball" ] || { echo "make dist made no echod-*.tar.gz"; return 1; }
	up=${tarball##*/echod-}; up=${up%.tar.gz}
	mkdir -p "$work/pkg"
	mv "$tarball" "$work/pkg/echod_$up.orig.tar.gz"
	tar -xzf "$work/pkg/echod_$up.orig.tar.gz" -C "$work/pkg" || return 1
	cp -a "$tree/debian" "$work/pkg/echod-$up/" || return 1
	(cd "$work/pkg/echod-$up" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
		dpkg-buildpackage -us -uc) > "$work/build.log" 2>&1 ||
		{ tail -n 30 "$work/build.log"; return 1; }
	deb=$(ls "$work"/pkg/echod_*.deb 2>/dev/null | head -n 1)
	client_deb=$(ls "$work"/pkg/echo-client_*.deb 2>/dev/null | head -n 1)
	[ -f "$deb" ] && [ -f "$client_deb" ] ||
		{ echo "no echod or echo-client .deb in $work/pkg"; return 1; }
}

deb_build_old() {
	local ref=$1 dir=$cache/old-$1 tmp
	old_deb=$(ls "$dir"/echod_*.deb 2>/dev/null | grep -v dbgsym | head -n 1)
	[ -n "$old_deb" ] && return 0
	git -C "$srcdir" cat-file -e "$ref^{commit}" 2>/dev/null ||
		{ echo "commit $ref is not in $srcdir"; return 1; }
	tmp=$(mktemp -d "$cache/old.tmp.XXXXXX") || return 1
	mkdir -p "$tmp/echod"
	if git -C "$srcdir" archive "$ref" | tar -x -C "$tmp/echod" &&
	    (cd "$tmp/echod" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
		dpkg-buildpackage -us -uc -b) > "$work/build-old.log" 2>&1; then
		mkdir -p "$dir"
		mv "$tmp"/echod_*.deb "$dir/" 2>/dev/null
	else
		tail -n 30 "$work/build-old.log"
	fi
	rm -rf "$tmp"
	old_deb=$(ls "$dir"/echod_*.deb 2>/dev/null | grep -v dbgsym | head -n 1)
	[ -n "$old_deb" ]
}
