#!/usr/bin/env python3
"""tamper.py SNAP OUT WHAT: writes a damaged copy of an encrypted snapshot.

WHAT: header (flip a bit in the header text), first, middle, last (flip a
bit in that chunk's ciphertext), droplast (remove the final chunk),
swap (exchange the first two chunks).  The chunk frames are those of
pfrez-stream(5): le32 word (bit 31 final, bits 0-30 length), ciphertext,
tag (16 bytes for AES-GCM, 32 for the HMAC modes)."""
import sys

snap, out, what = sys.argv[1:4]
d = bytearray(open(snap, 'rb').read())
hlen = int(d[:24].split()[2])
head = d[:hlen].decode()
mode = [l.split(': ')[1] for l in head.splitlines() if l.startswith('encrypt: ')][0]
tag = 16 if mode == 'AES-GCM' else 32
frames, pos = [], hlen
while pos < len(d):
    w = int.from_bytes(d[pos:pos + 4], 'little')
    n = w & 0x7fffffff
    frames.append((pos, 4 + n + tag))
    pos += 4 + n + tag
if len(frames) < 3:
    sys.exit('tamper.py: want at least 3 chunks, got %d' % len(frames))
if what == 'header':
    d[hlen // 2] ^= 0x04
elif what in ('first', 'middle', 'last'):
    s, n = frames[{'first': 0, 'middle': len(frames) // 2, 'last': -1}[what]]
    d[s + 4 + (n - 4 - tag) // 2] ^= 0x10
elif what == 'droplast':
    del d[frames[-1][0]:]
elif what == 'swap':
    (a, an), (b, bn) = frames[0], frames[1]
    d[a:b + bn] = d[b:b + bn] + d[a:a + an]
else:
    sys.exit('tamper.py: unknown damage ' + what)
open(out, 'wb').write(d)
