#!/bin/sh
# echo-client --help and check_echo --help show the same SYNOPSIS as
# their pages.  TAP.
: "${ECHO_CLIENT:?}" "${CHECK_ECHO:?}" "${top_srcdir:?}"
echo "1..2"
if ! command -v mandoc >/dev/null 2>&1; then
	echo "ok 1 # SKIP no mandoc"; echo "ok 2 # SKIP no mandoc"; exit 0
fi
bs=$(printf '\b')
n=0
for pair in "$ECHO_CLIENT echo-client.1" "$CHECK_ECHO check_echo.1"; do
	set -- $pair
	n=$((n + 1))
	man=$(mandoc -T ascii "$top_srcdir/man/$2" | sed "s/.$bs//g" |
	    sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' | tr -s ' \n' '  ')
	help=$("$1" --help | sed -n '1,/^$/p' | sed 's/^usage://' |
	    tr -s ' \n' '  ')
	if [ "$(echo $man)" = "$(echo $help)" ]; then
		echo "ok $n - --help matches the SYNOPSIS of $2"
	else
		echo "not ok $n - --help matches the SYNOPSIS of $2"
		echo "# man:  $man"
		echo "# help: $help"
	fi
done
