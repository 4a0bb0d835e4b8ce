#!/bin/sh
# echo-client --help shows the same SYNOPSIS as echo-client(1).  TAP.
: "${ECHO_CLIENT:?}" "${top_srcdir:?}"
echo "1..1"
if ! command -v mandoc >/dev/null 2>&1; then
	echo "ok 1 # SKIP no mandoc"; exit 0
fi
bs=$(printf '\b')
man=$(mandoc -T ascii "$top_srcdir/man/echo-client.1" | sed "s/.$bs//g" |
    sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' | tr -s ' \n' '  ')
help=$("$ECHO_CLIENT" --help | sed -n '1,/^$/p' | sed 's/^usage://' |
    tr -s ' \n' '  ')
if [ "$(echo $man)" = "$(echo $help)" ]; then
	echo "ok 1 - --help matches the SYNOPSIS of echo-client(1)"
else
	echo "not ok 1 - --help matches the SYNOPSIS of echo-client(1)"
	echo "# man:  $man"
	echo "# help: $help"
fi
