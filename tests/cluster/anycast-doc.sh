#!/bin/sh
# echod(8) "Anycast" shows the files the anycast test runs with
# (tests/cluster/anycast/*) verbatim, so the page and the test cannot
# drift: each block marked '.\" verbatim: PATH' must be that file, and
# every file there must be shown.  TAP.
: "${top_srcdir:?}"
page=$top_srcdir/man/echod.8
files=$(cd "$top_srcdir" && ls tests/cluster/anycast/*)
echo "1..$(echo "$files" | wc -l)"
n=0 rc=0
for f in $files; do
	n=$((n + 1))
	# the block after the marker, without .Bd/.Ed, mdoc escapes undone
	shown=$(awk -v m=".\\\\\" verbatim: $f " '
	    index($0, m) == 1 { on = 1; next }
	    on && /^\.Bd / { next }
	    on && /^\.Ed$/ { exit }
	    on { print }' "$page" | sed 's/^\\&//; s/\\e/\\/g')
	if [ -z "$shown" ]; then
		echo "not ok $n - echod(8) shows $f (no block marked for it)"; rc=1
	elif [ "$shown" = "$(cat "$top_srcdir/$f")" ]; then
		echo "ok $n - echod(8) shows $f as it is"
	else
		echo "not ok $n - echod(8) shows $f as it is"; rc=1
		printf '%s\n' "$shown" | diff "$top_srcdir/$f" - | sed 's/^/# /'
	fi
done
exit $rc
