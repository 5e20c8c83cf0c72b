"""The tutorials' `cmd_res += data` loop, timed in Python itself.

Gathers replies of doubling size from 1024-byte pieces, as `recv(1024)` hands
them over, two ways: `+=` on bytes (a new object, and a copy of everything so
far, for every piece) and a bytearray that grows in place. Prints the fastest
of three runs of each, like `just tool 05 concat` does for Rust.

Usage: python3 concat.py [--up-to BYTES]
"""

import argparse
import time

PIECE = b"x" * 1024


def gather_with_plus(size):
    """The tutorials' loop: each += copies everything received so far."""
    received = b""
    while len(received) < size:
        received += PIECE
    return received


def gather_in_place(size):
    """The fix: one buffer that grows in place."""
    received = bytearray()
    while len(received) < size:
        received += PIECE
    return received


def fastest_ms(gather, size):
    """The fastest of three runs, in milliseconds."""
    times = []
    for _ in range(3):
        started = time.perf_counter()
        gather(size)
        times.append(time.perf_counter() - started)
    return min(times) * 1000


parser = argparse.ArgumentParser()
parser.add_argument("--up-to", type=int, default=1024 * 1024)
up_to = parser.parse_args().up_to

print("a reply arriving in 1024-byte pieces, gathered two ways in Python (fastest of 3 runs):")
print("     reply |  bytes +=  | bytearray += |  bytes += is")
size = 64 * 1024
while size <= up_to:
    plus, in_place = fastest_ms(gather_with_plus, size), fastest_ms(gather_in_place, size)
    print(f" {size // 1024:5d} KiB | {plus:7.2f} ms | {in_place:9.2f} ms | {plus / in_place:8.0f}x slower")
    size *= 2
