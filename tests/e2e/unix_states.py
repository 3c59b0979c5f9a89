# unix_states.py: unix sockets in the states a program leaves them in,
# checked each round (then "states ok N"): a stream whose peer closed
# after sending (its last bytes and the end of file wait), a connection
# the program made to its own listener on a path with bytes queued, a
# datagram socket bound to an abstract name that receives from an unbound
# one and from a client connected to it, a client connected to a datagram
# server in another process (as syslog's /dev/log), and a
# listener with a backlog.  With "child", that server is its child (in
# the tree, restored after it).
import os
import socket
import sys
import time

sys.dont_write_bytecode = True
import unix_server  # noqa: E402 (next to this file)

AF, ST, DG = socket.AF_UNIX, socket.SOCK_STREAM, socket.SOCK_DGRAM
PEEK = socket.MSG_PEEK | socket.MSG_DONTWAIT

# The server first: its process holds none of the sockets below.  It is
# left to init (a double fork), as syslog's is no child of its clients:
# outside the tree pfrez captures, it stays where it is; or ("child") it
# is the program's child.
CHILD = sys.argv[1:] == ["child"]
unix_server.serve(["srv.sock"], detach=not CHILD)

w0, widow = socket.socketpair()
w0.send(b"last words")
w0.close()
lst = socket.socket(AF, ST)
lst.bind("self.sock")
lst.listen(3)
cli = socket.socket(AF, ST)
cli.connect("self.sock")
srv, _ = lst.accept()
cli.send(b"to server")
name = "\0unix_states.%d" % os.getpid()
dg = socket.socket(AF, DG)
dg.bind(name)
anon = socket.socket(AF, DG)
client = socket.socket(AF, DG)
client.connect(name)
out = socket.socket(AF, DG)
out.connect("srv.sock")
print("states ready", flush=True)


def fail(why):
    print("FAIL unix_states: " + why, flush=True)
    sys.exit(1)


n = 0
while True:
    n += 1
    time.sleep(0.05)
    if widow.recv(64, PEEK) != b"last words":
        fail("the widowed stream lost its last bytes")
    if srv.recv(64, PEEK) != b"to server":
        fail("the accepted connection lost its bytes")
    cli.send(b"+")
    if srv.recv(64, PEEK) != b"to server+":
        fail("the connection to the own listener does not carry bytes")
    srv.recv(1, socket.MSG_PEEK)
    # Take the "+" back off the end: read all, send the first part again.
    srv.recv(64)
    cli.send(b"to server")
    anon.sendto(b"dgram %d" % n, name)
    if dg.recv(64) != b"dgram %d" % n:
        fail("the bound datagram socket does not receive")
    client.send(b"client %d" % n)
    if dg.recv(64) != b"client %d" % n:
        fail("the connected datagram client does not reach the bound socket")
    if out.getpeername() != "srv.sock":
        fail("the client of the server outside lost its peer: %r" % (out.getpeername(),))
    out.send(b"to the server outside %d" % n)
    if dg.getsockname() != name.encode() and dg.getsockname() != name:
        fail("the datagram socket lost its name: %r" % (dg.getsockname(),))
    if lst.getsockname() != "self.sock" or lst.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) != 1:
        fail("the listener lost its name or stopped listening")
    c = socket.socket(AF, ST)
    c.connect("self.sock")
    a, _ = lst.accept()
    c.close()
    a.close()
    print("states ok %d" % n, flush=True)
