# kinds.sh: the one-kind-of-state programs of tests/progs (zdtm.h) and how
# each is started, shared by kinds_sanity.test (each left alone: its checks
# hold) and pending/kinds.test (each captured and restored: the copy's
# checks hold).  Sourced after lib.sh.
#
# KINDS: one line per case: a name, the program, "clone" if a copy can run
# beside the original (no lock, pipe or file it must own alone), then how
# it is started (see kind_start).

KINDS=(
	"fd_log          fd_log       -      log"
	"fd_shared       fd_shared    clone  file"
	"fd_cloexec      fd_cloexec   clone  file"
	"creds           creds        clone  setpriv --groups=100 --bounding-set=-all --inh-caps=-all --no-new-privs"
	"creds_user      creds        clone  setpriv --reuid=65534 --regid=65534 --groups=100,200 --no-new-privs"
	"creds_caps      creds        clone  setpriv --securebits=+noroot,+noroot_locked --inh-caps=+net_bind_service --ambient-caps=+net_bind_service --bounding-set=-all,+net_bind_service,+kill"
	"seccomp         seccomp      clone  plain"
	"thp_disable     thp_disable  clone  plain"
	"subreaper       subreaper    clone  plain"
	"pdeathsig       pdeathsig    clone  plain"
	"dumpable        dumpable     clone  plain"
	"prname          prname       clone  plain"
	"timerslack      timerslack   clone  plain"
	"membarrier      membarrier   clone  plain"
	"personality     personality  clone  plain"
	"oom_adj         oom_adj      clone  plain"
	"sched           sched        clone  plain"
	"affinity        affinity     clone  plain"
	"ioprio          ioprio       clone  plain"
	"madvise         madvise      clone  plain"
	"posix_timer     posix_timer  clone  plain"
	"itimer          itimer       clone  plain"
	"sigactions      sigactions   clone  plain"
	"sigaltstack     sigaltstack  clone  plain"
	"umask           umask        -      file"
	"rlimit          rlimit       clone  plain"
	"cwd_dir         cwd_dir      clone  file"
	"dir_pos         dir_pos      clone  file"
	"fd_pipe         fd_pipe      clone  plain"
	"fd_fifo         fd_fifo      clone  file"
	"fd_eventfd      fd_eventfd   clone  plain"
	"fd_timerfd      fd_timerfd   clone  plain"
	"fd_signalfd     fd_signalfd  clone  plain"
	"fd_epoll        fd_epoll     clone  plain"
	"lock_flock      lock_flock   -      file"
	"lock_posix      lock_posix   -      file"
	"lock_ofd        lock_ofd     -      file"
	"lease           lease        -      file"
	"rseq_abort      rseq_abort   clone  plain"
	"pipe_fd3        pipe_fd3     -      pipe3"
	"sigqueue        sigqueue     clone  plain"
	"mm_layout       mm_layout    clone  plain"
	"thread_tls      thread_tls   clone  plain"
	"thread_block    thread_block clone  plain"
	"thread_sig      thread_sig   clone  plain"
	"thread_rseq     thread_rseq  clone  plain"
	"thread_timer    thread_timer clone  plain"
	"unix_pair       unix_pair    clone  plain"
	"unix_listen     unix_listen  -      file"
	"inotify         inotify      clone  file"
	"sock_listen     sock_listen  -      plain"
	"shm_anon        shm_anon     clone  plain"
	"shm_devzero     shm_devzero  clone  plain"
	"memfd           memfd        clone  plain"
	"posix_shm       posix_shm    clone  plain"
	"file_shared_rw  file_shared_rw clone file"
	"deleted_file    deleted_file clone  file"
	"zdtm_page       zdtm_page    clone  plain"
	"sysv_shm        sysv_shm     -      plain"
)

# Whether case NAME is in $KIND_ONLY (a list of names; all if unset).
kind_wanted()
{
	[ -z "$KIND_ONLY" ] || case " $KIND_ONLY " in *" $1 "*) ;; *) return 1 ;; esac
}

# The fields of the KINDS line of case NAME: KPROG, KCLONE, KHOW (an array).
kind_get()
{
	local line f
	for line in "${KINDS[@]}"; do
		read -r -a f <<< "$line"
		[ "${f[0]}" = "$1" ] || continue
		KPROG=${f[1]}
		KCLONE=${f[2]}
		KHOW=("${f[@]:3}")
		return 0
	done
	fail "no kind $1"
}

# The file a "file" program works on; the lock programs lock it.
KFILE=kfile

# kind_start NAME CASE: starts the program of CASE as NAME (NAME.out and
# NAME.err), in $D, with no fd above 2 but what its way of starting gives
# it; LAST is its pid.  How, from the KINDS line:
#	plain		no argument
#	file		$D/kfile as its argument
#	log		stdout and stderr one open of NAME.out (`> NAME.out 2>&1`)
#	pipe3		a pipe from this shell on fd 3, read into NAME.fd3
#	setpriv ARGS	under setpriv ARGS
kind_start()
{
	local name=$1 cmd
	kind_get "$2"
	ln -sf "$PROGS/$KPROG" "$D/bin/$KPROG"
	[ -x "$PROGS/$KPROG" ] || fail "$PROGS/$KPROG is not built"
	cmd=$D/bin/$KPROG
	case ${KHOW[0]} in
	plain) start "$name" "$cmd" ;;
	file) start "$name" "$cmd" "$D/$KFILE" ;;
	setpriv)
		# Another user must reach its working directory (and pthaw
		# reopens it as that user): the test directories are 0700.
		case " ${KHOW[*]} " in
		*" --reuid="*) chmod o+x "$D" "$T" "${T%/*}" ;;
		esac
		start "$name" "$(command -v setpriv)" "${KHOW[@]:1}" "$cmd"
		;;
	log)
		(close_fds; cd "$D" && exec env --default-signal=INT,QUIT "$cmd") \
			> "$D/$name.out" 2>&1 < /dev/null &
		LAST=$!
		show "$name.out"
		;;
	pipe3)
		# The pipe is made here, before the program runs: it inherits
		# it, as from a shell pipeline; its cats are this shell's
		# children, not the program's (pfrez captures those too).
		local fd3 out err
		exec {fd3}> >(exec cat > "$D/$name.fd3") {out}> >(exec cat > "$D/$name.out") \
			{err}> >(exec cat > "$D/$name.err")
		(exec 3>&"$fd3"; close_fds 3; cd "$D" && exec env --default-signal=INT,QUIT "$cmd") \
			>&"$out" 2>&"$err" < /dev/null &
		LAST=$!
		exec {fd3}>&- {out}>&- {err}>&-
		show "$name.out" "$name.err" "$name.fd3"
		;;
	*) fail "kinds.sh: how is \"${KHOW[0]}\"?" ;;
	esac
}

# kind_lock_seen CASE: a process other than the program (lockprobe; for a
# lease, /proc/locks) sees the lock of the lock program CASE on $D/kfile.
kind_lock_seen()
{
	local ino
	case $1 in
	lock_flock) "$PROGS/lockprobe" flock "$D/$KFILE" > /dev/null ;;
	lock_posix) "$PROGS/lockprobe" posix "$D/$KFILE" > /dev/null ;;
	lock_ofd) "$PROGS/lockprobe" ofd "$D/$KFILE" > /dev/null ;;
	lease)
		ino=$(stat -c %i "$D/$KFILE") || return 1
		grep -q "LEASE.* READ .*:$ino " /proc/locks
		;;
	*) return 0 ;;
	esac
}
