#!/bin/bash
# tests/suite-names.sh - CK_RUN_SUITE=name picks one suite in one runner:
# no suite name in tests/unit/ (check_unit) is also one in
# tests/integration/ (check_integration) or twice in either, and every
# CK_RUN_SUITE= or VG_SUITES default in .ci/, tests/ and debian/ names a
# suite that exists.
set -u
top=${top_srcdir:-.}
. "$top/tests/tap.sh"

# "file name" for every suite_create("name") under a directory
suites() {
	grep -o 'suite_create("[^"]*")' "$1"/*.c /dev/null |
	    sed 's/^\([^:]*\):suite_create("\([^"]*\)")$/\1 \2/'
}

all=$( (suites "$top/tests/unit"; suites "$top/tests/integration") )
dups=$(echo "$all" | awk '{ print $2 }' | sort | uniq -d)
if [ -z "$dups" ]; then
	ok "every suite name is unique across check_unit and check_integration"
else
	notok "suite names used twice: $(echo $dups)"
	for d in $dups; do
		echo "$all" | awk -v d="$d" '$2 == d { print $1 ": " d }' | diag
	done
fi

names=$(echo "$all" | awk '{ print $2 }')
missing=
for dir in "$top/.ci" "$top/tests" "$top/debian"; do
	[ -d "$dir" ] || continue
	for want in $(grep -rhoE 'CK_RUN_SUITE=("[a-z0-9_-]+"|[a-z0-9_-]+)|VG_SUITES:-[a-z0-9 _-]+' \
	    --exclude=suite-names.sh "$dir" 2>/dev/null | sed 's/^CK_RUN_SUITE=//; s/^VG_SUITES:-//; s/"//g'); do
		echo "$names" | grep -qx -- "$want" || missing="$missing $want"
	done
done
if [ -z "$missing" ]; then
	ok "every suite named in .ci/, tests/ and debian/ exists"
else
	notok "suites named but not found:$missing"
fi
echo "1..$n"
[ "$failed" -eq 0 ]
