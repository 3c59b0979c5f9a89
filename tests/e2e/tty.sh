# tty.sh: programs on a terminal, cloned or moved and driven through real
# terminals: a tmux server of the case's own (its own socket, killed when
# the case ends), the original in window 0, and in window 1 an
# interactive bash running `pfrez -pid=PID | pthaw` as its job, as a user
# would.  Shared by tty.test (each case passes) and kind_drop.test (each
# fails without the tty kind).  Sourced after lib.sh.
#
# TTY_CASES: the cases, each a function tty_NAME.
TTY_CASES="bash python python_halt nano less top halt"
# tty.test only: refusals (they hold with or without the kind).

tm()
{
	tmux -L "$TM_SOCK" -f /dev/null "$@"
}

# tm_up CMD: the server, window 0 running CMD in $D on an 80x24 terminal.
tm_up()
{
	command -v tmux > /dev/null || fail "no tmux (scripts/install-deps)"
	TM_SOCK=pfrez-tty-$$-$BASHPID-$RANDOM
	trap 'tm kill-server 2> /dev/null' EXIT
	tm new-session -d -x 80 -y 24 -c "$D" -s t "$1" || fail "tmux cannot start"
	tm set-option -g remain-on-exit on > /dev/null
}

screen()
{
	tm capture-pane -p -t "t:$1" 2> /dev/null
}

_screen_has()
{
	screen "$1" | grep -Eq -- "$2"
}

# wait_screen WIN ERE WHY: until a line of window WIN matches ERE, or
# fail WHY, showing the screen.
wait_screen()
{
	wait_until "$WAIT" _screen_has "$1" "$2" && return 0
	screen "$1" > "$D/screen.$1"
	show "screen.$1"
	fail "$3"
}

# The process window 0 runs.
pane_pid()
{
	tm display-message -p -t t:0 '#{pane_pid}'
}

# tm_thaw PID: window 1, an interactive bash, runs pfrez | pthaw as a job.
tm_thaw()
{
	tm new-window -t t:1 -c "$D" "env PS1='sh2\$ ' bash --norc --noprofile -i"
	wait_screen 1 '^sh2\$' "no shell in window 1"
	tm send-keys -t t:1 "clear; $BIN/pfrez -pid=$1 2> pfrez.err | $BIN/pthaw 2> pthaw.err; echo pthaw-exit=\$?" Enter
	show pfrez.err pthaw.err
}

# The number of lines of window WIN that are exactly LINE.
count_lines()
{
	screen "$1" | grep -cxF -- "$2"
}

# bash -i with a variable and a function: the copy shows its prompt again,
# answers, runs the function and echoes what is typed once.
tty_bash()
{
	local pid
	tm_up "env PS1='orig\$ ' bash --norc --noprofile -i"
	wait_screen 0 '^orig\$' "the original bash shows no prompt"
	tm send-keys -t t:0 'X=42; f() { echo "fun:$1"; }; echo $$ > bash.pid' Enter
	wait_until "$WAIT" test -s bash.pid || fail "the original bash did not answer"
	pid=$(cat bash.pid)
	tm_thaw "$pid"
	wait_screen 1 '^orig\$ ?$' "the restored bash shows no prompt"
	tm send-keys -t t:1 'echo X=$X; f z' Enter
	wait_screen 1 '^fun:z$' "the restored bash does not run its function"
	[ "$(count_lines 1 'X=42')" = 1 ] || fail "the restored bash lost \$X"
	[ "$(count_lines 1 'orig$ echo X=$X; f z')" = 1 ] ||
		fail "what was typed is not echoed once after the prompt: $(screen 1 | grep -F 'echo X')"
	# Its own jobs: it gives them the terminal and takes it back (by the
	# PID it knows), Ctrl-C ends one.
	tm send-keys -t t:1 'sleep 30' Enter
	wait_until "$WAIT" eval '[ -n "$(pgrep -x -s "$(ps -o sid= -p "$(tm display-message -p -t t:1 "#{pane_pid}")" | tr -d " ")" sleep)" ]' ||
		fail "the restored bash did not start sleep"
	tm send-keys -t t:1 C-c
	tm send-keys -t t:1 'echo still:$X' Enter
	wait_screen 1 '^still:42$' "the restored bash does not go on after its job ended with Ctrl-C"
}

# A python3 REPL: its prompt again, its variables; Ctrl-C, Ctrl-Z and fg
# reach it as a job of window 1's shell.
tty_python()
{
	local pid
	tm_up "exec $PYTHON -q"
	wait_screen 0 '^>>> ?$' "the original python3 shows no prompt"
	tm send-keys -t t:0 'y = 6 * 7' Enter
	wait_screen 0 '^>>> ?$' "the original python3 did not take y"
	pid=$(pane_pid)
	tm_thaw "$pid"
	wait_screen 1 '^>>> ?$' "the restored python3 shows no prompt"
	tm send-keys -t t:1 'print(y + 1)' Enter
	wait_screen 1 '^43$' "the restored python3 lost y"
	[ "$(count_lines 1 '>>> print(y + 1)')" = 1 ] ||
		fail "what was typed is not echoed once after the prompt: $(screen 1 | grep -F 'print(y')"
	tm send-keys -t t:1 C-c
	wait_screen 1 '^KeyboardInterrupt$' "Ctrl-C does not reach the restored python3"
	tm send-keys -t t:1 C-z
	wait_screen 1 '\[1\]\+ +Stopped' "Ctrl-Z does not stop the restored python3 as a job"
	tm send-keys -t t:1 'clear; fg' Enter
	tm send-keys -t t:1 'print(y * 2)' Enter
	wait_screen 1 '^84$' "after fg the restored python3 does not answer"
	tm send-keys -t t:1 'C-\'
	wait_screen 1 'sh2\$ ?$' "Ctrl-\\ does not end the restored python3, or window 1's shell did not get its terminal back"
	tm send-keys -t t:1 'echo st=$?' Enter
	wait_screen 1 '^st=131$' "pthaw did not exit 131 (SIGQUIT) after Ctrl-\\"
}

# python3 moved with -halt into a file, restored from it with its PID
# (pthaw does not trace it): prompt, variables, Ctrl-Z and fg.
tty_python_halt()
{
	local pid
	tm_up "exec $PYTHON -q"
	wait_screen 0 '^>>> ?$' "the original python3 shows no prompt"
	tm send-keys -t t:0 'y = 6 * 7' Enter
	wait_screen 0 '^>>> ?$' "the original python3 did not take y"
	pid=$(pane_pid)
	pfrez_run snap -pid="$pid" -halt || fail "pfrez -halt: $(head -1 snap.err)"
	tm new-window -t t:1 -c "$D" "env PS1='sh2\$ ' bash --norc --noprofile -i"
	wait_screen 1 '^sh2\$' "no shell in window 1"
	tm send-keys -t t:1 "clear; $BIN/pthaw -src=snap 2> pthaw.err" Enter
	show pthaw.err
	wait_screen 1 '^>>> ?$' "the restored python3 shows no prompt"
	tm send-keys -t t:1 'print(y + 1)' Enter
	wait_screen 1 '^43$' "the restored python3 lost y"
	tm send-keys -t t:1 C-z
	wait_screen 1 '\[1\]\+ +Stopped' "Ctrl-Z does not stop the restored python3 as a job"
	tm send-keys -t t:1 'clear; fg' Enter
	tm send-keys -t t:1 'print(y * 2)' Enter
	wait_screen 1 '^84$' "after fg the restored python3 does not answer"
}

# nano with unsaved text: the copy shows it and saves it with its keys.
tty_nano()
{
	local pid
	tm_up "exec nano $D/n.txt"
	wait_screen 0 'GNU nano' "nano did not start"
	tm send-keys -t t:0 -l 'unsaved tty text'
	wait_screen 0 'unsaved tty text' "the original nano does not show the text"
	pid=$(pane_pid)
	tm_thaw "$pid"
	wait_screen 1 '^unsaved tty text$' "the restored nano does not show the unsaved text"
	tm send-keys -t t:1 -l ' more'
	tm send-keys -t t:1 C-o
	wait_screen 1 'File Name to Write' "^O does not reach the restored nano as a key"
	tm send-keys -t t:1 Enter
	wait_until "$WAIT" grep -qx 'unsaved tty text more' n.txt ||
		fail "the restored nano did not save the text: $(head -c 200 n.txt 2> /dev/null)"
}

# less on a file: the copy repaints its page and pages on with Space.
tty_less()
{
	local pid
	seq 1 1000 > seq.txt
	tm_up "exec less $D/seq.txt"
	wait_screen 0 '^23$' "less did not show its first page"
	pid=$(pane_pid)
	tm_thaw "$pid"
	wait_screen 1 '^23$' "the restored less does not repaint its page"
	tm send-keys -t t:1 Space
	wait_until "$WAIT" eval '[ "$(screen 1 | head -1)" = 24 ]' ||
		fail "Space does not page on in the restored less: the first line is $(screen 1 | head -1)"
	tm resize-window -t t:1 -y 30
	wait_screen 1 '^52$' "the restored less does not fill the terminal resized to 30 rows"
	tm send-keys -t t:1 q
	wait_screen 1 '^pthaw-exit=0$' "q does not end the restored less"
}

# top: the copy redraws and takes its keys one at a time (q, no Enter).
tty_top()
{
	local pid
	tm_up "exec top -d 1"
	wait_screen 0 '^Tasks:' "top did not start"
	pid=$(pane_pid)
	tm_thaw "$pid"
	wait_screen 1 '^Tasks:' "the restored top does not redraw"
	tm send-keys -t t:1 q
	wait_screen 1 '^pthaw-exit=0$' "q (no Enter) does not end the restored top"
}

# pfrez -halt of nano: its terminal, where a plain sh goes on after it
# (no shell puts modes back), is left in sane modes, not nano's raw ones.
tty_halt()
{
	local pid
	tm_up "sh -c 'nano $D/h.txt; stty -a > $D/stty.txt; sleep 60'"
	wait_screen 0 'GNU nano' "nano did not start"
	pid=$(pgrep -P "$(pane_pid)" -x nano) || fail "no nano under window 0's sh"
	pfrez_run snap -pid="$pid" -halt || fail "pfrez -halt: $(head -1 snap.err)"
	wait_until "$WAIT" test -s stty.txt || fail "the sh after nano did not run stty -a"
	show stty.txt
	grep -qw -- '-icanon' stty.txt && fail "the terminal is left -icanon after -halt"
	grep -qw -- '-echo' stty.txt && fail "the terminal is left -echo after -halt"
	grep -qw -- '-icrnl' stty.txt && fail "the terminal is left -icrnl after -halt"
	grep -qw -- 'icanon' stty.txt && grep -qw -- 'echo' stty.txt && grep -qw -- 'icrnl' stty.txt ||
		fail "the terminal's modes after -halt are not sane"
}

# refused PID WHAT: pfrez refuses PID naming WHAT, and the original is left
# running, not stopped.
refused()
{
	pfrez_run snap -pid="$1" && fail "pfrez captured it"
	grep -qF -- "$2" snap.err || fail "pfrez: $(head -1 snap.err), not \"$2\""
	alive "$1" || fail "the original is gone"
	[ "$(pstate "$1")" != T ] || fail "the original is left stopped"
}

# script(1) holds the master of the pty its command runs on.
tty_pty_master()
{
	start scr "$(command -v script)" -qfc 'sleep 60' /dev/null
	wait_until "$WAIT" eval 'ls -l /proc/$LAST/fd 2> /dev/null | grep -q ptmx' || fail "the original script has no pty"
	refused "$LAST" "(/dev/ptmx): a pty master: the process runs a terminal of its own (script, a terminal emulator, tmux's server)"
}

# A process writing to another window's terminal than its own.
tty_other()
{
	local pid other
	tm_up "exec $PYTHON -q"
	wait_screen 0 '^>>> ?$' "the original python3 shows no prompt"
	tm new-window -t t:1 "exec sleep 60"
	other=$(tm display-message -p -t t:1 '#{pane_tty}')
	tm send-keys -t t:0 "f = open('$other', 'w')" Enter
	pid=$(pane_pid)
	wait_until "$WAIT" eval 'ls -l /proc/$pid/fd | grep -q " $other$"' || fail "the original did not open $other"
	refused "$pid" "($other): a terminal other than its controlling terminal"
}

# A snapshot of less (its /dev/tty on fd 3) under a pthaw that has no
# terminal: refused before any page, nothing started.
tty_no_terminal()
{
	local pid rc
	seq 1 100 > seq.txt
	tm_up "exec less $D/seq.txt"
	wait_screen 0 '^23$' "less did not start"
	pid=$(pane_pid)
	pfrez_run snap -pid="$pid" || fail "pfrez: $(head -1 snap.err)"
	# Before any page: pthaw -check says so too.
	setsid -w "$BIN/pthaw" -check < snap > check.out 2>&1
	rc=$?
	show check.out
	[ "$rc" = 125 ] && grep -qF "pthaw has no terminal to give it" check.out ||
		fail "pthaw -check exited $rc: $(tail -1 check.out)"
	setsid -w "$BIN/pthaw" < snap > thaw.out 2> thaw.err
	rc=$?
	show thaw.err
	[ "$rc" = 125 ] || fail "pthaw exited $rc, not 125"
	grep -qF "pthaw: fd 3 (/dev/pts/" thaw.err && grep -qF "pthaw has no terminal to give it (run pthaw in one)" thaw.err ||
		fail "pthaw: $(head -1 thaw.err)"
}

# vim (glibc starts a helper thread for its timers: a threaded process on
# a terminal) with an unsaved buffer: the restored vim shows it on the new
# terminal and writes it with :w.
tty_vim()
{
	local pid
	command -v vim > /dev/null || fail "no vim (scripts/install-deps)"
	tm_up "exec vim -u NONE -i NONE -N $D/v.txt"
	wait_screen 0 'v.txt' "vim did not start"
	tm send-keys -t t:0 -l 'iunsaved vim text'
	tm send-keys -t t:0 Escape
	wait_screen 0 '^unsaved vim text' "the original vim does not show the text"
	pid=$(pane_pid)
	tm_thaw "$pid"
	wait_screen 1 '^unsaved vim text' "the restored vim does not show the unsaved text"
	tm send-keys -t t:1 -l 'A more'
	tm send-keys -t t:1 Escape
	tm send-keys -t t:1 -l ':w'
	tm send-keys -t t:1 Enter
	wait_until "$WAIT" grep -qx 'unsaved vim text more' v.txt ||
		fail "the restored vim did not write the buffer: $(head -c 200 v.txt 2> /dev/null)"
}
