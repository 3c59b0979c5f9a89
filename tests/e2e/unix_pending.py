# unix_pending.py: a parent connected to a listener its child holds, its
# connections not yet accepted: the parent keeps AHEAD of them waiting in
# the listener's queue; each round the child accepts the oldest, the
# parent sends that connection's number on it, the child reads it there
# and answers through a socket pair, so a connection lost, or accepted
# out of its order, is seen (FAIL).  The parent prints "pending ok N" a
# round.  With "alone", one process is both: its connections wait on its
# own listener.
import os
import socket
import sys
import time

AF, ST, DG = socket.AF_UNIX, socket.SOCK_STREAM, socket.SOCK_DGRAM
AHEAD = 2
up_p, up_c = socket.socketpair(AF, DG)
lst = socket.socket(AF, ST)
lst.bind("pending.st")
lst.listen(8)
ALONE = sys.argv[1:] == ["alone"]
if not ALONE and os.fork() == 0:
    up_p.close()
    n = 0
    while True:
        a, _ = lst.accept()
        up_c.send(b"accepted %d" % n)
        up_c.send(b"got " + a.recv(64) + b" as %d" % n)
        a.close()
        n += 1
if not ALONE:
    lst.close()
    up_c.close()


def fail(why):
    print("FAIL unix_pending: " + why, flush=True)
    sys.exit(1)


def connect():
    c = socket.socket(AF, ST)
    c.connect("pending.st")
    return c


conns = [connect() for i in range(AHEAD)]
n = 0
while True:
    time.sleep(0.05)
    conns.append(connect())
    # Those not yet accepted have their listener's name as their peer's
    # (unix_accepted.py: those accepted too).
    for c in conns[1:]:
        if c.getpeername() != "pending.st":
            fail("a connection lost its peer's name: %r" % (c.getpeername(),))
    if ALONE:
        a, _ = lst.accept()
    else:
        m = up_p.recv(64)
        if m != b"accepted %d" % n:
            fail("the child said %r, not accepted %d" % (m, n))
    c = conns.pop(0)
    c.send(b"%d" % n)
    if ALONE:
        m = b"got " + a.recv(64) + b" as %d" % n
        a.close()
    else:
        m = up_p.recv(64)
    if m != b"got %d as %d" % (n, n):
        fail("the child said %r: the connections not accepted in their order" % m)
    c.close()
    print("pending ok %d" % n, flush=True)
    n += 1
