# unix_accepted.py: connections accepted from a listener bound to a
# name, held across the capture: the accepted end's getsockname() and
# the client's getpeername() are the listener's name, the client's own
# name empty, and bytes queued each way come back.  Each round a new
# connection is made and the oldest closed, so some connection is always
# held with bytes queued on it.  "alone": one process holds both ends;
# "tree": the client end is in its child, which reports what it sees
# over a socket pair; "abstract": an abstract name.  Prints
# "accepted ok N" a round.  "closed": the listener is made again each
# round and closed (its path unlinked) once it has accepted, so the
# connections held have no listener any more.  "pass" (with "tree"):
# the parent passes each end it accepted to the child (SCM_RIGHTS), which
# holds both ends, the listener only in the parent.
import os
import socket
import sys
import time

AF, ST = socket.AF_UNIX, socket.SOCK_STREAM
TREE = "tree" in sys.argv[1:]
NAME = "\0unix_accepted.%d" % os.getpid() if "abstract" in sys.argv[1:] else "accepted.st"
CLOSED = "closed" in sys.argv[1:]
PASS = "pass" in sys.argv[1:]


def listen():
    s = socket.socket(AF, ST)
    s.bind(NAME)
    s.listen(8)
    return s


lst = listen()
up_p, up_c = socket.socketpair()
NAMEB = NAME.encode() if NAME[0] != "\0" else NAME.encode()


def fail(why):
    print("FAIL unix_accepted: " + why, flush=True)
    sys.exit(1)


def norm(a):
    return a.encode() if isinstance(a, str) else a


def check_client(c, n):
    if norm(c.getpeername()) != NAMEB:
        return "client %d: getpeername %r" % (n, c.getpeername())
    if norm(c.getsockname()) not in (b"", b"\0"[:0]):
        return "client %d: getsockname %r, not empty" % (n, c.getsockname())
    m = c.recv(64)
    if m != b"to client %d" % n:
        return "client %d: read %r" % (n, m)
    return ""


if TREE and os.fork() == 0:
    # The child: connects when asked, keeps its clients, checks the
    # oldest's names and queue when told to close it.
    lst.close()
    up_p.close()
    mine = []
    n = 0
    while True:
        cmd, fds, _, _ = socket.recv_fds(up_c, 64, 1)
        if cmd == b"connect":
            c = socket.socket(AF, ST)
            c.connect(NAME)
            c.send(b"to server %d" % n)
            mine.append(c)
            n += 1
            up_c.send(b"connected")
        elif cmd == b"take":
            a = socket.socket(fileno=fds[0])
            mine[-1] = (mine[-1], a)
            up_c.send(b"taken")
        elif cmd == b"check":
            why = b""
            for k, (c, a) in enumerate(mine):
                if norm(a.getsockname()) != NAMEB:
                    why = b"child: an accepted end's getsockname %r" % norm(a.getsockname())
                elif norm(c.getpeername()) != NAMEB:
                    why = b"child: a client's getpeername %r" % norm(c.getpeername())
            up_c.send(why or b"ok")
        else:
            k = int(cmd.split()[1])
            c = mine.pop(0)
            if PASS:
                c, a = c
                m = a.recv(64)
                if m != b"to server %d" % k:
                    up_c.send(b"accepted %d: read %r" % (k, m))
                    continue
                a.close()
            up_c.send(check_client(c, k).encode() or b"ok")
            c.close()
up_c.close()

held = []  # (accepted end, client end or None, n)
n = 0
while True:
    if CLOSED and lst is None:
        lst = listen()
    if TREE:
        up_p.send(b"connect")
        if up_p.recv(64) != b"connected":
            fail("the child did not connect")
        c = None
    else:
        c = socket.socket(AF, ST)
        c.connect(NAME)
        c.send(b"to server %d" % n)
    a, _ = lst.accept()
    a.send(b"to client %d" % n)
    if PASS:
        socket.send_fds(up_p, [b"take"], [a.fileno()])
        a.close()
        if up_p.recv(64) != b"taken":
            fail("the child did not take the accepted end")
        a = None
    held.append((a, c, n))
    if CLOSED:
        lst.close()
        lst = None
        if NAME[0] != "\0":
            os.unlink(NAME)
    time.sleep(0.05)
    if PASS:
        up_p.send(b"check")
        why = up_p.recv(256)
        if why != b"ok":
            fail(why.decode())
    for a, c, k in held:
        if a is None:
            continue
        if norm(a.getsockname()) != NAMEB:
            fail("accepted %d: getsockname %r, not the listener's name" % (k, a.getsockname()))
        if c is not None and norm(c.getpeername()) != NAMEB:
            fail("client %d: getpeername %r, not the listener's name" % (k, c.getpeername()))
    if len(held) > 2:
        a, c, k = held.pop(0)
        m = a.recv(64) if a else b"to server %d" % k
        if m != b"to server %d" % k:
            fail("accepted %d: read %r" % (k, m))
        if TREE:
            up_p.send(b"close %d" % k)
            why = up_p.recv(256)
            if why != b"ok":
                fail(why.decode())
        else:
            why = check_client(c, k)
            if why:
                fail(why)
            c.close()
        if a:
            a.close()
    print("accepted ok %d" % n, flush=True)
    n += 1
