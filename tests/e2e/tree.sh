# tree.sh: the process trees of tests/progs (tree_pipes, tree_log,
# tree_shm: what processes of a tree share, lib/kind/treeshare.c) and how
# they are captured and restored, shared by tree_share.test and
# kind_drop.test (its cases tree:NAME run treecase_NAME).  Sourced after
# lib.sh.  A clone runs beside its original in a PID namespace of its own
# (-remap=ns: a tree keeps its PIDs); -halt goes through a file, the
# original's PIDs free first.

# tree_clone PROG ARGS...: pfrez | pthaw -remap=ns; both trees go on.
tree_clone()
{
	local pid n0
	start orig "$@"
	pid=$LAST
	wait_seq orig.out 8 "$pid" || fail "the original printed $(nseq orig.out) lines"
	n0=$(last_seq orig.out)
	(
		close_fds
		cd "$D" || exit 1
		{
			timeout -k 2 "$PFREZ_TIMEOUT" "$BIN/pfrez" -pid="$pid" 2> clone.pfrez.err
			echo $? > clone.pfrez.rc
		} | env --default-signal=INT,QUIT timeout -k 2 "$PTHAW_TIMEOUT" "$BIN/pthaw" -remap=ns \
			> clone.out 2> clone.err
	) < /dev/null &
	JOB[clone]=$!
	show clone.out clone.err clone.pfrez.err
	wait_seq clone.out 8 "${JOB[clone]}" ||
		fail "restored copy printed $(nseq clone.out) numbered lines ($(job_state clone))"
	pfrez_ok clone
	continues clone "$n0"
	[ "$(ps -o pid= --ppid "$pid" | wc -l)" -ge 1 ] || fail "the original lost its children"
	wait_more orig.out 4 || fail "the original stopped after the capture"
	no_fail orig.out orig.err
	alive "${JOB[clone]}" || fail "pthaw ended"
}

pids_free()
{
	local p
	for p; do
		[ ! -e "/proc/$p" ] || return 1
	done
}

# The processes of pid's tree as PID:STARTTIME words, for stamps_gone.
tree_stamps()
{
	local p
	for p in $(tree "$1"); do
		echo "$p:$(starttime "$p")"
	done
}

# stamps_gone PID:STARTTIME...: each of those processes is gone, whatever
# now has its PID (a copy restored meanwhile may have been given it).
stamps_gone()
{
	local s
	for s; do
		orig_gone "${s%%:*}" "${s#*:}" || return 1
	done
}

# tree_halt PROG ARGS...: pfrez -halt > FILE, the tree gone, pthaw < FILE:
# the copy goes on from exactly where the original stopped.
tree_halt()
{
	local pid last pids
	start orig "$@"
	pid=$LAST
	wait_seq orig.out 8 "$pid" || fail "the original printed $(nseq orig.out) lines"
	pids=$(tree "$pid")
	pfrez_run snap -pid="$pid" -halt || fail "pfrez -halt exited $?: $(head -1 snap.err)"
	wait_until "$WAIT" gone "$pid" || fail "the original still runs after pfrez -halt"
	wait "$pid" 2>/dev/null
	# Its children, reparented, are reaped by init: their PIDs free.
	wait_until "$WAIT" pids_free $pids || fail "the original's processes are still there"
	wait_until "$WAIT" test ! -e "/proc/$pid" || fail "the original is still there after pfrez -halt"
	last=$(last_seq orig.out)
	thaw moved "$D/snap"
	wait_seq moved.out 8 "${JOB[moved]}" ||
		fail "restored copy printed $(nseq moved.out) numbered lines ($(job_state moved))"
	continues moved "$last"
	[ "$(first_seq moved.out)" = $((last + 1)) ] ||
		fail "the original ended at $last, the restored copy starts at $(first_seq moved.out)"
	alive "${JOB[moved]}" || fail "pthaw ended"
}

# The cases: each moved with -halt.
treecase_pipes()
{
	seq_format '^tree_pipes ok ' 3
	tree_halt tree_pipes
}

treecase_log()
{
	seq_format '^tree_log ok ' 3
	show log
	tree_halt tree_log "$D/log"
}

treecase_shm()
{
	seq_format '^tree_shm ok ' 3
	tree_halt tree_shm
}

treecase_fds()
{
	seq_format '^tree_fds ok ' 3
	tree_halt tree_fds
}

# The segment has a key of its own (0x7066 and the low bits of the PID);
# the copy's, left when it ends, goes.  With rmid it has none: it goes
# with the copy.
treecase_sysv()
{
	seq_format '^tree_sysv ok ' 3
	tree_halt tree_sysv "$@"
	sysv_gone
}

# sysv_gone: the segment tree_sysv made (whose key orig.out names) goes.
sysv_gone()
{
	local key
	key=$(sed -n 's/^tree_sysv key //p' "$D/orig.out" | head -1)
	[ -z "$key" ] || ipcrm -M "$key" 2>/dev/null
	true
}

treecase_sysv_rmid()
{
	treecase_sysv rmid
}

treecase_unix()
{
	seq_format '^unix_tree ok ' 3
	tree_halt "$PYTHON" "$E2E/unix_tree.py" stream
}
