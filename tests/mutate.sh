#!/bin/bash
# tests/mutate.sh -- plausible one-line regressions, one at a time: does the
# suite catch each?  Not run by CI (minutes).  Usage, from a built tree:
#   tests/mutate.sh [TARGET]        (TARGET: check (default) or check-vm)
# Each mutation is applied to a scratch git worktree, the suite run there,
# the file restored.  Prints one line per mutation and the score.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
target=${1:-check}
wt=$(mktemp -d /tmp/pheap-mutate-XXXXXX)
trap 'cd "$top"; git worktree remove --force "$wt" >/dev/null 2>&1; rm -rf "$wt"' EXIT
git -C "$top" worktree add -q --detach "$wt" HEAD || exit 2
cd "$wt" && ./bootstrap.sh --no-demo >/dev/null 2>&1 || exit 2

# file @@ exact text @@ replacement  (each text occurs once in its file;
# \n stands for a newline)
MUTATIONS=$(cat <<'M'
src/backend_file.c @@ 	if (ftruncate(d->fd, start))\n		return err_sys @@ 	if (0)\n		return err_sys
src/backend_file.c @@ 	if (msync((char *)d->area + page, 4096, MS_SYNC)) @@ 	if (0)
src/sync.c @@ 	uint64_t late = wait_bytes(s, mine | hint | BIT(e), lock_bound_ms()); @@ 	uint64_t late = 0;
src/attach.c @@ 	if ((me != 0 && me != o->uid) || o->mode == s->hdr.mode)\n		return; @@ 	return;
src/sync.c @@ 	hold_epoch(s, RT_EPOCH(ge));\n	s->seen_gen = RT_GEN(ge); @@ 	s->seen_gen = RT_GEN(ge);
src/lock.c @@ 		if (lock_expired(deadline)) @@ 		if (1)
src/reservation.c @@ 		ret = placeholder(r->base + len, r->len - len); @@ 		ret = placeholder(r->base, r->len);
src/sync.c @@ 	if (!s->attached || !s->epoch_held)\n		return; @@ 	return;
src/dev.c @@ 	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", d->fd); @@ 	snprintf(proc, sizeof(proc), "%s", d->path);
src/info.c @@ 	if (rsv_is_dax(st.rsv)) { @@ 	if (1) {
src/info.c @@ 			&f) == 0)\n		h = f.hdr; @@ 			&f) == 1)\n		h = f.hdr;
src/sync.c @@ 	if (s->rdonly || !__atomic_load_n(&s->rt->pending, __ATOMIC_ACQUIRE))\n		return 0;\n	ret = durable @@ 	return 0;\n	ret = durable
src/sync.c @@ 	late |= wait_bytes(s, ~hint, GRACE_MS); @@ 	late |= 0;
src/reservation.c @@ 	if (madvise(addr, len, advice) == 0) @@ 	if (1)
src/sync.c @@ 	ret = durable(s, &h);\n	if (ret == 0)\n		ret = state_map_len @@ 	ret = -EIO;\n	if (ret == 0)\n		ret = state_map_len
src/brk.c @@ 	return sync_round(&st, &h);\n} @@ 	return 0;\n}
src/sync.c @@ 	(void)dev_trim(&s->dev, h, h->brk); @@ 	(void)0;
src/header.c @@ 	ret = write_copy(io, h, *slot); @@ 	ret = 0;
src/chmod.c @@ 	if (fchmod(st.dev.fd, cur & mode)) @@ 	if (fchmod(st.dev.fd, cur | mode))
src/attach.c @@ 	ret = sync_join(s); @@ 	ret = 0;
src/sync.c @@ 	s->fork_fd = dev_reopen(&s->dev, 1); @@ 	s->fork_fd = -1;
src/sync.c @@ 	if (lock_wait(s->epoch_fd, LOCK_EPOCH(e), 1, F_RDLCK, &dl)) @@ 	if (lock_wait(s->dev.fd, LOCK_EPOCH(e), 1, F_RDLCK, &dl))
src/sync.c @@ 		if (running((uint32_t)h)) @@ 		if (1)
src/pool.c @@ 	const char *env = secure_getenv("PHEAP_POOL"); @@ 	const char *env = getenv("PHEAP_POOL");
src/owner.c @@ 	if (owner_agrees(o, h))\n		return 0; @@ 	return 0;
src/sync.c @@ 	if (ret == 0)\n		name_holder(s);\n	return ret;\n}\n\nint\nsync_try_brk @@ 	return ret;\n}\n\nint\nsync_try_brk
src/offline.c @@ 		(void)trim_beyond(ph); @@ 		(void)0;
src/offline.c @@ 	return n > 0 ? settle(ph, off, (uint64_t)n) : n; @@ 	return n;
M
)

n=0; caught=0
while read -r line; do
	[ -n "$line" ] || continue
	file=${line%% @@ *}; rest=${line#* @@ }
	old=${rest%% @@ *}; new=${rest#* @@ }
	n=$((n + 1))
	if ! python3 - "$file" "$old" "$new" <<'PY'
import sys
f, old, new = sys.argv[1], sys.argv[2].replace('\\n', '\n'), \
	sys.argv[3].replace('\\n', '\n')
s = open(f).read()
if s.count(old) != 1:
	sys.exit(1)
open(f, 'w').write(s.replace(old, new))
PY
	then
		echo "M$n SKIP (text not found once): $file: $old"
		continue
	fi
	if make -j"$(nproc)" >/dev/null 2>&1 &&
			timeout 900 make -k "$target" >/dev/null 2>&1; then
		echo "M$n MISSED: $file: $old"
	else
		caught=$((caught + 1))
		echo "M$n caught ($(grep -l ':test-result: FAIL' tests/*.trs \
			2>/dev/null | sed 's|tests/||;s|\.trs||' | tr '\n' ' ')): $file: $old"
	fi
	git checkout -q -- "$file"
done <<< "$MUTATIONS"
echo "mutation score: $caught of $n caught"
