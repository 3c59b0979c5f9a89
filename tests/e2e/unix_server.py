# unix_server.py: what unix_states.py and unix_names.py share: datagram
# sockets bound to names, served by another process, as syslog's
# /dev/log or a server a program started.
import os
import socket


def serve(names, detach=False, answer=None, drop=()):
    """Binds a datagram socket to each of names (a path, or "\\0..." for
    an abstract name), then forks the process that serves them: it reads
    from each in turn, round after round, until killed, and sends what it
    read, after "got ", through answer if given.  The caller holds none
    of the sockets afterwards, and the server none of drop.  detach: the
    server is left to init (a double fork), no child of the caller's."""
    socks = []
    for name in names:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(name)
        socks.append(s)
    pid = os.fork()
    if pid == 0:
        for s in drop:
            s.close()
        if not detach or os.fork() == 0:
            while True:
                for s in socks:
                    m = s.recv(64)
                    if answer is not None:
                        answer.send(b"got " + m)
        os._exit(0)
    if detach:
        os.waitpid(pid, 0)
    for s in socks:
        s.close()
    return pid
