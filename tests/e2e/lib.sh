# lib.sh: helpers for the end-to-end tests, sourced before each *.test.
#
# tests/e2e/run sets BIN (absolute), PROGS=$BIN/progs, E2E (this directory),
# RESULTS (one line per case is appended) and T (a fresh directory for the
# test file).  Each case runs in a subshell, in its own directory $D; every
# process it started (originals, pthaw, restored copies, ...) is killed when
# it ends, pass or fail.
#
# Writing a case:
#	check NAME FUNCTION ARGS...	run FUNCTION; PASS if it returns 0
#	testing NAME COMMAND EXPECTED	toybox style: COMMAND's stdout must be
#					EXPECTED (eval'd in $D)
# Inside a case, `fail WHY` ends it with that reason, and the last lines of
# every file named with `show` (start, thaw and pipe_thaw name theirs) are
# printed under the FAIL line.

PFREZ_TIMEOUT=${PFREZ_TIMEOUT:-30}	# any pfrez run
PTHAW_TIMEOUT=${PTHAW_TIMEOUT:-60}	# a pthaw kept running in the background
REFUSE_TIMEOUT=${REFUSE_TIMEOUT:-5}	# a pthaw expected to refuse at once
WAIT=${WAIT:-10}			# deadline of a wait for output, in seconds
PYTHON=${PYTHON:-$(command -v /usr/bin/python3 python3 | head -1)}
PERL=${PERL:-$(command -v perl)}

NCASE=0
declare -A JOB		# NAME -> pid of the background job running pthaw

# Lines carrying a sequence number, and the field it is in: the programs
# print "count N", "tick N ...", "avx ok N", ...  Set per case with seq_format.
SEQ_RE='^count '
SEQ_F=2

# ---------------------------------------------------------------- results

fail()
{
	printf '%s\n' "$*" > "$D/.why"
	exit 1
}

show()
{
	local f
	for f; do
		printf '%s\n' "$f" >> "$D/.show"
	done
}

check()
{
	local name="$TNAME: $1" rc f
	shift
	NCASE=$((NCASE + 1))
	D=$T/$NCASE
	mkdir -p "$D/bin"
	show .case.err		# the shell's own complaints, if any
	(ulimit -c 0; cd "$D" && "$@") 2> "$D/.stderr"
	rc=$?
	# Less bash's notes on the jobs it saw killed ("line 9: 123 Killed ...").
	grep -a -v -E '^(.*line [0-9]+: +| +)[0-9]+ (Killed|Done|Terminated|Hangup|Quit|Interrupt)' \
		"$D/.stderr" > "$D/.case.err"
	kill_under "$D"
	if [ "$rc" = 0 ]; then
		echo "PASS $name"
		echo "PASS $name" >> "$RESULTS"
		return 0
	fi
	if [ -s "$D/.why" ]; then
		echo "FAIL $name: $(head -c 2000 "$D/.why")"
	else
		echo "FAIL $name: case exited with status $rc"
	fi
	echo "FAIL $name" >> "$RESULTS"
	[ -f "$D/.show" ] && sort -u "$D/.show" | while read -r f; do
		case $f in /*) ;; *) f=$D/$f ;; esac
		if [ ! -e "$f" ]; then
			echo "    ${f#"$D"/}: (missing)"
		elif [ ! -s "$f" ]; then
			case ${f##*/} in .*) ;; *) echo "    ${f#"$D"/}: (empty)" ;; esac
		elif [ "$(tr -d '\000' < "$f" | wc -c)" != "$(wc -c < "$f")" ]; then
			echo "    ${f#"$D"/}: (binary, $(wc -c < "$f") bytes)"
		else
			tail -n 4 "$f" | cut -c 1-300 | sed "s|^|    ${f#"$D"/}: |"
		fi
	done
	return 0
}

_testing()
{
	local cmd=$1 want=$2 got
	got=$(eval "$cmd")
	[ "$got" = "$want" ] || fail "expected \"$want\", got \"$got\""
}

testing()
{
	check "$1" _testing "$2" "$3"
}

# ---------------------------------------------------------------- processes

# Whether PID exists and is not a zombie.
alive()
{
	local s
	{ read -r s < "/proc/$1/stat"; } 2>/dev/null || return 1
	s=${s##*) }
	[ "${s%% *}" != Z ]
}

# The process state letter of PID (R, S, T, t, Z, ...), empty if gone.
pstate()
{
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) }
	echo "${s%% *}"
}

gone()
{
	! alive "$1"
}

# The start time of PID (field 22 of its stat), to tell a process from a
# later one that was given the same PID back (pthaw does that).
starttime()
{
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) }
	echo "$s" | awk '{ print $20 }'
}

# orig_gone PID STARTTIME: that process is gone, whatever now has its PID.
orig_gone()
{
	gone "$1" || [ "$(starttime "$1")" != "$2" ]
}

# wait_until SECS COMMAND...: polls COMMAND every 50 ms until it succeeds.
wait_until()
{
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.05
	done
}

# Descendants of the given pids, and the pids themselves.
tree()
{
	ps -e -o pid=,ppid= | awk -v roots="$*" '
		{ kids[$2] = kids[$2] " " $1 }
		END {
			n = split(roots, q, " ")
			for (i = 1; i <= n; i++) {
				print q[i]
				m = split(kids[q[i]], k, " ")
				for (j = 1; j <= m; j++) q[++n] = k[j]
			}
		}'
}

# Pids whose cwd is DIR or below, or whose command line names a path in it;
# never this shell or its ancestors.
pids_under()
{
	local dir=$1 p c args self=" " q=$BASHPID s
	while [ -n "$q" ] && [ "$q" != 0 ]; do
		self+="$q "
		s=$(cat "/proc/$q/stat" 2>/dev/null) || break
		s=${s##*) }
		s=${s#* }
		q=${s%% *}
	done
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		case $self in *" $p "*) continue ;; esac
		c=$(readlink "/proc/$p/cwd" 2>/dev/null) || continue
		case $c/ in "$dir"/*) echo "$p"; continue ;; esac
		mapfile -d '' args 2>/dev/null < "/proc/$p/cmdline" || continue
		case " ${args[*]} " in *"$dir/"*) echo "$p" ;; esac
	done
}

# Kills every process started under DIR: those whose cwd or command line
# is in it (every helper starts its commands in $D), and their descendants
# (a restored copy whose cwd was not restored, still under its pthaw).
kill_under()
{
	local dir=$1 round pids roots
	for round in 1 2 3; do
		roots=$(pids_under "$dir")
		[ -n "$roots" ] || return 0
		pids=$(tree $roots | sort -u)
		kill -KILL $pids 2>/dev/null
		sleep 0.1
	done
}

# Processes other than this test's own tools running with their cwd or a
# path in the test file's directory $T, less the pids given: what a refused
# restore must not leave behind.
strays()
{
	local p x
	for p in $(pids_under "$T"); do
		for x; do [ "$p" = "$x" ] && continue 2; done
		alive "$p" && echo "$p"
	done
}

# Closes every fd above 2 this shell inherited (from make, a terminal, a
# CI runner): the programs must start with only what they open themselves.
# close_fds KEEP keeps fd KEEP too.
close_fds()
{
	local f fds=(/proc/$BASHPID/fd/*)
	# No redirection around this: bash would save fd 2 on a high fd that
	# the loop then closes.
	for f in "${fds[@]##*/}"; do
		[ "$f" -gt 2 ] && [ "$f" != "${1:-}" ] && eval "exec $f>&-"
	done
}

# start NAME COMMAND ARGS...: runs COMMAND in $D in the background, stdout
# to NAME.out, stderr to NAME.err, stdin from /dev/null; LAST is its pid.
# A COMMAND without a slash is a program of tests/progs, run through a
# symlink in $D/bin so the command line of the process (original or
# restored) names $D.
start()
{
	local name=$1 cmd=$2
	shift 2
	case $cmd in
	*/*) ;;
	*)
		[ -x "$PROGS/$cmd" ] || fail "$PROGS/$cmd is not built"
		ln -sf "$PROGS/$cmd" "$D/bin/$cmd"
		cmd=$D/bin/$cmd
		;;
	esac
	# An async command of a script ignores SIGINT and SIGQUIT; a real
	# program started from a terminal does not.  Its stdout and stderr
	# are pipes, as under a terminal or in a pipeline, so a restored copy
	# writes to pthaw's; a regular file there would be reopened and
	# shared with the original, as it should be.  The cats that read
	# them are this shell's children, not the program's: pfrez captures
	# a process with its children.
	local out err
	exec {out}> >(exec cat > "$D/$name.out") {err}> >(exec cat > "$D/$name.err")
	(close_fds; cd "$D" && exec env --default-signal=INT,QUIT "$cmd" "$@") \
		>&"$out" 2>&"$err" < /dev/null &
	LAST=$!
	exec {out}>&- {err}>&-
	show "$name.out" "$name.err"
}

# thaw NAME INPUT [PTHAW-ARGS...]: `pthaw ARGS < INPUT` in the background;
# the restored output goes to NAME.out and NAME.err.
thaw()
{
	local name=$1 in=$2
	shift 2
	(close_fds; cd "$D" && exec env --default-signal=INT,QUIT \
		timeout -k 2 "$PTHAW_TIMEOUT" "$BIN/pthaw" "$@") \
		< "$in" > "$D/$name.out" 2> "$D/$name.err" &
	JOB[$name]=$!
	show "$name.out" "$name.err"
}

# pipe_thaw NAME PID [PFREZ-ARGS...]: `pfrez -pid=PID ARGS | pthaw` in the
# background; pfrez's stderr and status go to NAME.pfrez.err and .rc.
pipe_thaw()
{
	local name=$1 pid=$2
	shift 2
	(
		close_fds
		cd "$D" || exit 1
		{
			timeout -k 2 "$PFREZ_TIMEOUT" "$BIN/pfrez" -pid="$pid" "$@" 2> "$D/$name.pfrez.err"
			echo $? > "$D/$name.pfrez.rc"
		} | env --default-signal=INT,QUIT timeout -k 2 "$PTHAW_TIMEOUT" "$BIN/pthaw" \
			> "$D/$name.out" 2> "$D/$name.err"
	) < /dev/null &
	JOB[$name]=$!
	show "$name.out" "$name.err" "$name.pfrez.err"
}

# pfrez_run NAME ARGS...: pfrez in the foreground, stdout to NAME, stderr to
# NAME.err; returns its status.
pfrez_run()
{
	local name=$1
	shift
	show "$name.err"
	(close_fds; cd "$D" && exec timeout -k 2 "$PFREZ_TIMEOUT" "$BIN/pfrez" "$@") \
		> "$D/$name" 2> "$D/$name.err" < /dev/null
}

# The pthaw process of job NAME, and the process it restored (its child).
pthaw_pid()
{
	local p
	for p in $(tree "${JOB[$1]}"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = pthaw ] && { echo "$p"; return 0; }
	done
	return 1
}

restored_pid()
{
	local t
	t=$(pthaw_pid "$1") || return 1
	ps -o pid= --ppid "$t" | awk 'NR == 1 { print $1; f = 1 } END { exit !f }'
}

# job_wait NAME [SECS]: waits for job NAME to end and sets JRC to its
# status (pthaw's); returns 1 if it still runs at the deadline.  Not in
# $(...): only this shell can wait for its jobs.
job_wait()
{
	local pid=${JOB[$1]}
	JRC=running
	wait_until "${2:-$WAIT}" gone "$pid" || return 1
	wait "$pid"
	JRC=$?
}

# "pthaw running" or "pthaw ended", for messages.
job_state()
{
	if alive "${JOB[$1]}"; then echo "pthaw running"; else echo "pthaw ended"; fi
}

# pfrez_ok NAME: pfrez of pipe_thaw NAME exited 0.
pfrez_ok()
{
	local rc
	wait_until "$WAIT" test -s "$D/$1.pfrez.rc" || fail "pfrez did not finish"
	rc=$(cat "$D/$1.pfrez.rc")
	[ "$rc" = 0 ] || fail "pfrez exited $rc: $(head -1 "$D/$1.pfrez.err")"
}

# ---------------------------------------------------------------- output

seq_format()
{
	SEQ_RE=$1
	SEQ_F=$2
}

# The sequence numbers in FILE, one a line.
seqs()
{
	awk -v re="$SEQ_RE" -v f="$SEQ_F" '$0 ~ re { print $f }' "$1" 2>/dev/null
}

nseq()
{
	seqs "$1" | wc -l
}

first_seq()
{
	seqs "$1" | head -1
}

last_seq()
{
	seqs "$1" | tail -1
}

_has_seqs()
{
	[ "$(nseq "$1")" -ge "$2" ]
}

_seqs_or_gone()
{
	_has_seqs "$1" "$2" || { [ -n "$3" ] && gone "$3"; }
}

# wait_seq FILE N [PID [SECS]]: waits until FILE holds N numbered lines;
# gives up early when PID (the program, or a pthaw job) has ended.
wait_seq()
{
	wait_until "${4:-$WAIT}" _seqs_or_gone "$1" "$2" "$3"
	_has_seqs "$1" "$2"
}

# wait_more FILE N [SECS]: waits for N more numbered lines than FILE has now.
wait_more()
{
	local have
	have=$(nseq "$1")
	wait_until "${3:-$WAIT}" _has_seqs "$1" $((have + $2))
}

# Fails unless the numbers in FILE go up by one from line to line.
consecutive()
{
	local bad
	bad=$(seqs "$1" | awk 'NR > 1 && $1 != p + 1 { print "after " p " came " $1; exit }
			       { p = $1 }')
	[ -z "$bad" ] || fail "$1: numbers not consecutive: $bad"
}

# Fails if any of the files has a FAIL line.
no_fail()
{
	local f line
	for f; do
		line=$(grep -a -m1 '^FAIL' "$D/$f" 2>/dev/null) && fail "$f: $line"
	done
	return 0
}

# continues NAME AFTER: the restored copy NAME printed numbers starting above
# AFTER (what the original had printed before the capture; never from the
# start), one by one, and no FAIL.
continues()
{
	local first
	no_fail "$1.out" "$1.err"
	first=$(first_seq "$1.out")
	[ -n "$first" ] || fail "$1.out: no numbered output"
	[ "$first" -gt "$2" ] ||
		fail "$1.out: restored copy starts at $first, but the original had printed $2 before the capture"
	consecutive "$1.out"
}

# ---------------------------------------------------------------- flows
#
# The same checks for every program: each takes the program's command
# line.  Numbers are read with the current seq_format.

# Clone over a pipe: the original keeps running, the copy continues.
flow_clone_pipe()
{
	local pid n0
	start orig "$@"
	pid=$LAST
	wait_seq orig.out 8 "$pid" || fail "the original printed $(nseq orig.out) lines"
	n0=$(last_seq orig.out)
	pipe_thaw clone "$pid"
	wait_seq clone.out 8 "${JOB[clone]}" ||
		fail "restored copy printed $(nseq clone.out) numbered lines ($(job_state clone), pfrez exited $(cat clone.pfrez.rc 2>/dev/null): $(grep -a -m1 -v ' sent ' clone.pfrez.err 2>/dev/null))"
	pfrez_ok clone
	continues clone "$n0"
	alive "$pid" || fail "the original ended"
	wait_more orig.out 4 || fail "the original stopped counting after the capture"
	no_fail orig.out orig.err
	consecutive orig.out
	alive "${JOB[clone]}" || fail "pthaw ended"
}

_gone_or_failed()
{
	orig_gone "$1" "$3" || { [ -s "$D/$2.pfrez.rc" ] && [ "$(cat "$D/$2.pfrez.rc")" != 0 ]; }
}

# -halt over a pipe: the original ends, the copy continues from exactly
# where it stopped.
flow_halt_pipe()
{
	local pid last first t0
	start orig "$@"
	pid=$LAST
	wait_seq orig.out 8 "$pid" || fail "the original printed $(nseq orig.out) lines"
	t0=$(starttime "$pid")
	pipe_thaw moved "$pid" -halt
	# A small stream fits in the pipe: pfrez may end the original before
	# pthaw starts, and pthaw then gives the copy the original's PID.
	wait_until "$WAIT" _gone_or_failed "$pid" moved "$t0"
	[ "$(cat moved.pfrez.rc 2>/dev/null || echo 0)" = 0 ] ||
		fail "pfrez -halt exited $(cat moved.pfrez.rc): $(head -1 moved.pfrez.err)"
	orig_gone "$pid" "$t0" || fail "the original still runs after pfrez -halt"
	wait "$pid" 2>/dev/null
	last=$(last_seq orig.out)
	wait_seq moved.out 8 "${JOB[moved]}" ||
		fail "restored copy printed $(nseq moved.out) numbered lines ($(job_state moved))"
	pfrez_ok moved
	continues moved "$last"
	first=$(first_seq moved.out)
	[ "$first" = $((last + 1)) ] ||
		fail "the original ended at $last, the restored copy starts at $first"
	no_fail orig.out orig.err
	alive "${JOB[moved]}" || fail "pthaw ended"
}

# Hooks for flow_snapfile: run after the capture and before each restore.
snap_saved() { :; }
snap_before_restore() { :; }

# flow_snapfile MODE COMMAND...: capture to a file, then restore it twice in
# a row, the first copy killed and gone before the second starts.  MODE:
#	clone	pfrez -dest=FILE; the original is killed after the capture
#	halt	pfrez -halt > FILE; the original is reaped before the restore
#	src	like halt, and pthaw reads the file with -src=FILE
flow_snapfile()
{
	local mode=$1 pid n0 snap=$D/snap r first1 k
	shift
	start orig "$@"
	pid=$LAST
	wait_seq orig.out 8 "$pid" || fail "the original printed $(nseq orig.out) lines"
	n0=$(last_seq orig.out)
	case $mode in
	clone)
		pfrez_run pfrez.out -pid="$pid" -dest="$snap" ||
			fail "pfrez -dest exited $?: $(head -1 pfrez.out.err)"
		[ -s pfrez.out ] && fail "pfrez -dest wrote to stdout too"
		alive "$pid" || fail "the original ended after a capture without -halt"
		kill -KILL "$pid"
		;;
	halt | src)
		pfrez_run snap -pid="$pid" -halt || fail "pfrez -halt exited $?: $(head -1 snap.err)"
		wait_until "$WAIT" gone "$pid" || fail "the original still runs after pfrez -halt"
		n0=$(last_seq orig.out)
		;;
	esac
	wait "$pid" 2>/dev/null
	[ -s "$snap" ] || fail "the snapshot file is empty"
	snap_saved
	for r in r1 r2; do
		snap_before_restore
		if [ "$mode" = src ]; then
			thaw "$r" /dev/null -src="$snap"
		else
			thaw "$r" "$snap"
		fi
		wait_seq "$r.out" 8 "${JOB[$r]}" ||
			fail "restore $r printed $(nseq "$r.out") numbered lines ($(job_state "$r"))"
		continues "$r" "$n0"
		[ "$mode" = clone ] || [ "$(first_seq "$r.out")" = $((n0 + 1)) ] ||
			fail "$r.out: the original ended at $n0, the restored copy starts at $(first_seq "$r.out")"
		if [ "$r" = r1 ]; then
			first1=$(first_seq r1.out)
			k=$(restored_pid r1) || fail "no restored process under pthaw"
			kill -KILL "$k"
			job_wait r1 || fail "pthaw still runs after its process was killed"
			[ "$JRC" = 137 ] || fail "pthaw exited $JRC after its process was killed by SIGKILL, not 137"
			gone "$k" || fail "the first restored copy still runs"
		else
			[ "$(first_seq r2.out)" = "$first1" ] ||
				fail "the second restore starts at $(first_seq r2.out), the first at $first1"
		fi
	done
}
