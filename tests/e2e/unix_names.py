# unix_names.py: a parent whose datagram sockets are connected to names
# its child holds bound (a path and an abstract name), as a program talks to
# the server it started: the parent sends a numbered message on each
# every round, the child answers what it got through a socket pair, and
# the parent checks the answers and that each socket still names its
# peer.  The parent prints "names ok N" a round, or FAIL.
import os
import socket
import sys
import time

sys.dont_write_bytecode = True
import unix_server  # noqa: E402 (next to this file)

AF, DG = socket.AF_UNIX, socket.SOCK_DGRAM
ABSTRACT = "\0unix_names.%d" % os.getpid()
up_p, up_c = socket.socketpair(AF, DG)
# The child serves both names, bound before it starts.
unix_server.serve(["names.dg", ABSTRACT], answer=up_c, drop=[up_p])
up_c.close()
out = socket.socket(AF, DG)
out.connect("names.dg")
aout = socket.socket(AF, DG)
aout.connect(ABSTRACT)


def fail(why):
    print("FAIL unix_names: " + why, flush=True)
    sys.exit(1)


n = 0
while True:
    n += 1
    time.sleep(0.05)
    if out.getpeername() != "names.dg":
        fail("the client lost its peer: %r" % (out.getpeername(),))
    if aout.getpeername() not in (ABSTRACT, ABSTRACT.encode()):
        fail("the abstract client lost its peer: %r" % (aout.getpeername(),))
    out.send(b"path %d" % n)
    aout.send(b"abstract %d" % n)
    for m in (b"got path %d" % n, b"got abstract %d" % n):
        got = up_p.recv(64)
        if got != m:
            fail("the child answered %r, not %r" % (got, m))
    print("names ok %d" % n, flush=True)
