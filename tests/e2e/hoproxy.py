#!/usr/bin/env python3
# hoproxy.py LISTEN TARGET ACTION [PTHAW-PID]: forwards one connection
# from pfrez (on LISTEN) to pthaw (at TARGET), both "tcp:HOST:PORT" or
# "unix:PATH", and injects one fault into the -halt hand-over.  It follows
# the framing (pfrez-stream(5)) to know where the stream ends and which
# hand-over message passes.  ACTION:
#
#   cut:N, reset:N     after N bytes from pfrez, close (FIN) or reset (RST)
#                      both connections
#   drop:TYPE          swallow the message TYPE (READY, COMMIT, DONE, ABORT)
#   cut-before:TYPE, reset-before:TYPE, cut-after:TYPE
#                      close or reset both connections instead of, or right
#                      after, passing on TYPE
#   kill-at:WHERE      SIGKILL pthaw (PTHAW-PID) when the stream has passed
#                      (WHERE = end), or before passing on TYPE; after
#                      COMMIT (WHERE = after-COMMIT: stopped before COMMIT
#                      is passed on, killed after) nothing more of pthaw's
#                      reaches pfrez
#   stop-at:TYPE       SIGSTOP pthaw, then pass on TYPE (START: at once)
#   none               forward everything
#
# hoproxy.py LISTEN - forge:nomac|badmac: no pthaw: a fake receiver reads
# the stream and answers READY, then DONE, without a tag or with a wrong
# one, as someone without the key would.
#
# Prints "listening" on stdout once it listens, and what it did on stderr.
import os
import select
import signal
import socket
import struct
import sys

MAGIC = b"PFREZ-FRAMES 1\n"


def endpoint(spec):
    if spec.startswith("unix:"):
        return socket.AF_UNIX, spec[5:]
    host, port = spec[4:].rsplit(":", 1)
    return socket.AF_INET, (host, int(port))


def close(socks, reset):
    for s in socks:
        try:
            if reset:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        except OSError:
            pass


class Flow:
    """pfrez -> pthaw: preamble, frames, end frame, then lines; or, in the
    other direction, lines only."""

    def __init__(self, framed):
        self.state = "pre" if framed else "lines"
        self.need = len(MAGIC) if framed else 0
        self.hdr = b""
        self.line = b""
        self.total = 0

    def feed(self, data):
        """Yields (bytes to pass on, message type or None, stream ended)."""
        i = 0
        while i < len(data):
            if self.state == "lines":
                j = data.find(b"\n", i)
                if j < 0:
                    # a message passes whole, or not at all
                    self.line += data[i:]
                    return
                line = self.line + data[i:j + 1]
                words = line.split(b" ")
                kind = words[1].decode() if len(words) > 1 else "?"
                self.line = b""
                yield line, kind, False
                i = j + 1
                continue
            k = min(self.need, len(data) - i) if self.state != "len" else min(4 - len(self.hdr), len(data) - i)
            chunk = data[i:i + k]
            i += k
            ended = False
            if self.state == "pre":
                self.need -= k
                if self.need == 0:
                    self.state = "len"
            elif self.state == "len":
                self.hdr += chunk
                if len(self.hdr) == 4:
                    self.need = struct.unpack("<I", self.hdr)[0]
                    self.hdr = b""
                    if self.need == 0:
                        self.state = "lines"
                        ended = True
                    else:
                        self.state = "data"
            else:
                self.need -= k
                if self.need == 0:
                    self.state = "len"
            yield chunk, None, ended


def forge(a, how):
    tag = "-" if how == "nomac" else "0" * 64
    up = Flow(True)
    seq = 0
    while True:
        data = a.recv(65536)
        if not data:
            return
        for chunk, kind, ended in up.feed(data):
            if ended or kind == "COMMIT":
                a.sendall(("pfrez-handover %s %d %s forged\n" %
                           ("READY" if seq == 0 else "DONE", seq, tag)).encode())
                seq += 1


def main():
    listen, target, action = sys.argv[1], sys.argv[2], sys.argv[3]
    pthaw = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    verb, _, arg = action.partition(":")
    fam, addr = endpoint(listen)
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(addr)
    ls.listen(1)
    print("listening", flush=True)
    a, _ = ls.accept()
    if target == "-":
        return forge(a, arg)
    fam, addr = endpoint(target)
    b = socket.socket(fam, socket.SOCK_STREAM)
    b.connect(addr)
    def note(what):
        sys.stderr.write("hoproxy: %s\n" % what)
        sys.stderr.flush()

    def kill(sig):
        if pthaw:
            note("%s pthaw %d" % (sig.name, pthaw))
            os.kill(pthaw, sig)

    if action == "stop-at:START":
        kill(signal.SIGSTOP)
    up, down = Flow(True), Flow(False)
    mute = False           # nothing more from pthaw reaches pfrez
    open_ = {a: b, b: a}

    while open_:
        ready, _, _ = select.select(list(open_), [], [])
        for s in ready:
            if s not in open_:
                continue
            data = s.recv(65536)
            dst = open_[s]
            if not data:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                del open_[s]
                continue
            flow = up if s is a else down
            for chunk, kind, ended in flow.feed(data):
                if s is a and verb in ("cut", "reset") and flow.total + len(chunk) >= int(arg):
                    part = chunk[:int(arg) - flow.total]
                    dst.sendall(part)
                    note("%s after %d bytes" % (verb, int(arg)))
                    close([a, b], verb == "reset")
                    return
                flow.total += len(chunk)
                if kind == arg and verb == "drop":
                    note("dropped " + kind)
                    continue
                if kind == arg and verb in ("cut-before", "reset-before"):
                    note("%s %s" % (verb, kind))
                    close([a, b], verb == "reset-before")
                    return
                if kind == arg and verb == "kill-at":
                    kill(signal.SIGKILL)
                if kind == arg and verb == "stop-at":
                    kill(signal.SIGSTOP)
                # Stopped first: pthaw returns to user mode only through
                # the pending stop, so COMMIT is in its socket but it can
                # act on it no more.  (Had it released the copy, a
                # remapped copy would run a moment and die with it.)
                if kind == "COMMIT" and action == "kill-at:after-COMMIT" and not mute:
                    kill(signal.SIGSTOP)
                if not (mute and s is b):
                    dst.sendall(chunk)
                if ended and action == "kill-at:end":
                    kill(signal.SIGKILL)
                if kind == "COMMIT" and action == "kill-at:after-COMMIT":
                    kill(signal.SIGKILL)
                    mute = True
                if kind == arg and verb == "cut-after":
                    note("cut after " + kind)
                    close([a, b], False)
                    return


if __name__ == "__main__":
    main()
