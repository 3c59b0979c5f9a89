# unix_tree.py KIND: a parent and its child talking over one unix socket
# pair (KIND: stream, dgram, or mp: a multiprocessing.Pipe() between a
# multiprocessing.Process and its parent), each end in its own process, both ways,
# each side AHEAD messages ahead and reading one a round: messages are
# queued in both directions whenever the tree is captured.  Every
# message carries its sequence number, so one lost or queued twice is
# seen (FAIL).  The parent prints "unix_tree ok N" a round.
import multiprocessing
import os
import socket
import sys
import time

TYPE = socket.SOCK_DGRAM if sys.argv[1] == "dgram" else socket.SOCK_STREAM
AHEAD = 3
a, b = socket.socketpair(socket.AF_UNIX, TYPE)


def msg(who, n):
    return b"%s%08d" % (who, n)


def get(s):
    if sys.argv[1] == "mp":
        return s.recv_bytes()
    if TYPE == socket.SOCK_DGRAM:
        return s.recv(64)
    buf = b""
    while len(buf) < 9:
        c = s.recv(9 - len(buf))
        if not c:
            return buf
        buf += c
    return buf


def talk(s, me, other, say):
    put = s.send_bytes if sys.argv[1] == "mp" else s.send
    for i in range(AHEAD):
        put(msg(me, i))
    n = 0
    while True:
        time.sleep(0.05)
        m = get(s)
        if m != msg(other, n):
            if os.getppid() == 1:
                os._exit(0)
            print("FAIL unix_tree %s got %r, expected %r" % (me.decode(), m, msg(other, n)), flush=True)
            os._exit(1)
        if say:
            print("unix_tree ok", n, flush=True)
        put(msg(me, n + AHEAD))
        n += 1


if sys.argv[1] == "mp":
    a.close()
    b.close()
    ctx = multiprocessing.get_context("fork")
    a, b = ctx.Pipe()
    ctx.Process(target=talk, args=(b, b"c", b"p", False), daemon=True).start()
    b.close()
    talk(a, b"p", b"c", True)
if os.fork() == 0:
    a.close()
    talk(b, b"c", b"p", False)
b.close()
talk(a, b"p", b"c", True)
