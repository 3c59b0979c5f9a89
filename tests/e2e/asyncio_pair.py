# asyncio_pair.py: a python3 asyncio loop (sleep + a socketpair): each
# round sends "tick N" through the pair from one coroutine to another and
# checks a message left unread on a second pair, then prints
# "asyncio ok N".  asyncio itself holds a socketpair (its self-pipe) and
# an epoll instance (the default selector); with "poll" as argument the
# loop uses poll(2) instead, and holds no epoll.
import asyncio
import selectors
import socket
import sys


async def ticker(a, held):
    loop = asyncio.get_running_loop()
    n = 0
    while True:
        n += 1
        await loop.sock_sendall(a, b"tick %d" % n)
        await asyncio.sleep(0.05)
        try:
            if held.recv(64, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b"held back":
                print("FAIL asyncio: the held message changed", flush=True)
                sys.exit(1)
        except BlockingIOError:
            print("FAIL asyncio: the held message is gone", flush=True)
            sys.exit(1)
        print("asyncio ok %d" % n, flush=True)


async def reader(b):
    loop = asyncio.get_running_loop()
    n = 0
    while True:
        n += 1
        got = await loop.sock_recv(b, 64)
        if got != b"tick %d" % n:
            print("FAIL asyncio: got %r, not tick %d" % (got, n), flush=True)
            sys.exit(1)


async def main():
    a, b = socket.socketpair()
    h0, held = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    h0.send(b"held back")
    for s in (a, b, held):
        s.setblocking(False)
    print("asyncio ready", flush=True)
    await asyncio.gather(ticker(a, held), reader(b))


if len(sys.argv) > 1 and sys.argv[1] == "poll":
    loop = asyncio.SelectorEventLoop(selectors.PollSelector())
    asyncio.set_event_loop(loop)
    loop.run_until_complete(main())
else:
    asyncio.run(main())
