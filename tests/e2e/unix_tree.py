# unix_tree.py KIND: a parent and its child talking over one unix socket
# pair (KIND: stream or dgram), each end in its own process, both ways,
# each side AHEAD messages ahead and reading one a round: messages are
# queued in both directions whenever the tree is captured.  Every
# message carries its sequence number, so one lost or queued twice is
# seen (FAIL).  The parent prints "unix_tree ok N" a round.
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
    for i in range(AHEAD):
        s.send(msg(me, i))
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
        s.send(msg(me, n + AHEAD))
        n += 1


if os.fork() == 0:
    a.close()
    talk(b, b"c", b"p", False)
b.close()
talk(a, b"p", b"c", True)
