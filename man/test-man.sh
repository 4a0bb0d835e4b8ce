#!/bin/sh
# TAP: every page in man/ is clean under "mandoc -T lint -W warning", and
# each program's --help names the same options as its page (short options
# in the SYNOPSIS, long ones anywhere in the page).
set -u
: "${top_srcdir:=.}" "${top_builddir:=.}"

pages=$(ls "$top_srcdir"/man/*.[1-9] 2>/dev/null)
progs="echod:${ECHOD:-$top_builddir/src/echod}:8 echo-client:${ECHO_CLIENT:-$top_builddir/src/echo-client}:1"

n=0
for p in $pages; do n=$((n + 1)); done
echo "1..$((n + 2))"

i=0
for p in $pages; do
	i=$((i + 1))
	if ! command -v mandoc >/dev/null 2>&1; then
		echo "ok $i - ${p##*/} # SKIP mandoc not installed"
		continue
	fi
	out=$(mandoc -T lint -W warning "$p" 2>&1)
	if [ -z "$out" ]; then
		echo "ok $i - mandoc lint ${p##*/}"
	else
		echo "not ok $i - mandoc lint ${p##*/}"
		printf '%s\n' "$out" | sed 's/^/# /'
	fi
done

# Short options as sorted letters, one per line.
letters() { tr -d '\n' | fold -w 1 | sort -u | tr -d '\n'; }

for entry in $progs; do
	i=$((i + 1))
	name=${entry%%:*}; rest=${entry#*:}; bin=${rest%:*}; sec=${rest##*:}
	page=$top_srcdir/man/$name.$sec
	if [ ! -f "$page" ]; then
		echo "ok $i - $name --help and $name($sec) # SKIP no man/$name.$sec yet"
		continue
	fi
	if [ ! -x "$bin" ]; then
		echo "ok $i - $name --help and $name($sec) # SKIP $bin not built"
		continue
	fi
	help=$("$bin" --help 2>&1)
	# "-dfhtV", "-c file", "[-l address]": every letter after a single dash.
	h_short=$(printf '%s\n' "$help" | grep -o -- '\(^\|[][ ,|]\)-[A-Za-z0-9][A-Za-z0-9]*' |
		sed 's/^[^-]*-//' | letters)
	h_long=$(printf '%s\n' "$help" | grep -o -- '--[a-z][a-z-]*' | sed 's/^--//' | sort -u)
	m_short=$(sed -n '/^\.Sh SYNOPSIS/,/^\.Sh /p' "$page" | grep -o 'Fl [A-Za-z0-9]*' |
		sed 's/^Fl //' | letters)
	bad=
	[ "$h_short" = "$m_short" ] ||
		bad="short options: --help has [$h_short], SYNOPSIS has [$m_short]"
	for l in $h_long; do
		grep -q "Fl -$l\\b" "$page" || bad="$bad${bad:+; }--$l missing from the page"
	done
	if [ -z "$bad" ]; then
		echo "ok $i - $name --help and $name($sec) agree"
	else
		echo "not ok $i - $name --help and $name($sec) disagree: $bad"
	fi
done
