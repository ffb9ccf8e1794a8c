#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# man/lint.sh -- lints the manual pages; run by `make check`.
#
# Usage: man/lint.sh [PAGE...]
# Without arguments it lints every $srcdir/man/*.[1-9] (automake exports
# srcdir to test scripts; by default the directory above this script).
#
# A page passes when `groff -ww -z -man` prints nothing and exits 0, and,
# if mandoc is installed, `mandoc -Tlint -Wwarning` prints nothing and exits
# 0.  Every page is formatted from a scratch directory in which man1..man9
# lead to the page's own directory, so that a link page (".so man3/x.3") is
# resolved as man(1) resolves it and a missing target is an error.  For link
# pages mandoc's warning ".so is fragile, better use ln(1)" is expected (such
# pages are the man-pages convention) and is the only output ignored.
#
# The last line printed is "man: N passed, M failed".  Exit status: 0 if
# every page passed, 1 if one failed, 77 (skipped) without groff, 99 if
# there is no page to lint.

set -u
export LC_ALL=C

if [ $# -gt 0 ]; then
	pages=("$@")
else
	top=${srcdir:-$(dirname "$0")/..}
	shopt -s nullglob
	pages=("$top"/man/*.[1-9])
	shopt -u nullglob
fi

if [ ${#pages[@]} -eq 0 ]; then
	echo "man: no manual pages found (srcdir=${srcdir:-unset})"
	exit 99
fi
if ! command -v groff >/dev/null 2>&1; then
	echo "man: groff not found; skipped"
	exit 77
fi
have_mandoc=0
if command -v mandoc >/dev/null 2>&1; then
	have_mandoc=1
else
	echo "man: mandoc not found; checking with groff only"
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/man-lint.XXXXXX") || exit 99
trap 'rm -rf "$scratch"' EXIT

# prints its input indented, for the log
indent() {
	sed 's/^/    /'
}

# is_link FILE: the page is a link page, made of one .so request (and
# comments)
is_link() {
	grep -q '^\.so ' "$1" &&
		[ "$(grep -cv -e '^\.so ' -e '^\.\\"' -e '^$' "$1")" -eq 0 ]
}

passed=0
failed=0
for page in "${pages[@]}"; do
	name=$(basename "$page")
	ok=1
	if [ ! -f "$page" ] || [ ! -r "$page" ]; then
		echo "FAIL: $page: no such readable file"
		failed=$((failed + 1))
		continue
	fi
	dir=$(cd "$(dirname "$page")" && pwd)
	file=$dir/$name
	rm -f "$scratch"/man[1-9]
	for n in 1 2 3 4 5 6 7 8 9; do
		ln -s "$dir" "$scratch/man$n"
	done

	# a system without /etc/groff/man.local (a minimal guest) is not a
	# defect of the page
	out=$(cd "$scratch" && groff -ww -z -man "$file" 2>&1)
	rc=$?
	out=$(printf '%s\n' "$out" | grep -v "can't find macro file 'man.local'")
	if [ $rc -ne 0 ] || [ -n "$out" ]; then
		echo "FAIL: $name: groff -ww -z -man (exit $rc):"
		printf '%s\n' "$out" | indent
		ok=0
	fi

	if [ $have_mandoc -eq 1 ]; then
		out=$(cd "$scratch" && mandoc -Tlint -Wwarning "$file" 2>&1)
		rc=$?
		if is_link "$file"; then
			out=$(printf '%s\n' "$out" |
				grep -v ': WARNING: \.so is fragile, better use ln(1)')
			# mandoc exits 2 for warnings, the one ignored included
			[ $rc -eq 2 ] && [ -z "$out" ] && rc=0
		fi
		if [ $rc -ne 0 ] || [ -n "$out" ]; then
			echo "FAIL: $name: mandoc -Tlint -Wwarning (exit $rc):"
			printf '%s\n' "$out" | indent
			ok=0
		fi
	fi

	if [ $ok -eq 1 ]; then
		echo "PASS: $name"
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
done

echo "man: $passed passed, $failed failed"
[ $failed -eq 0 ]
