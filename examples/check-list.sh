#!/bin/sh
# Runs the example twice in a scratch pool; the list must survive.
set -e
pool=$(mktemp -d /tmp/pheap-example-XXXXXX)
trap 'rm -rf "$pool"' EXIT
export PHEAP_POOL="$pool"
./examples/pheap-list > "$pool/out1"
./examples/pheap-list > "$pool/out2"
cat "$pool/out2"
if grep -q "2 run(s)" "$pool/out2" && grep -q "run 1 at" "$pool/out2" &&
		grep -q "run 2 at" "$pool/out2"; then
	echo "example: 1 passed, 0 failed"
	exit 0
fi
echo "example: 0 passed, 1 failed"
exit 1
