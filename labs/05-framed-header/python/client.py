#!/usr/bin/env python3
"""A lab 05 client in Python, written only from the Protocol section of the chapter.

Usage: python3 client.py [--host HOST] [--port PORT] REPORT...
where REPORT is hello, empty, time, "numbers N", "echo TEXT" or any other name.
It prints one line per reply, the same lines lab05-client prints.
Python 3.11 standard library only.
"""

import argparse
import json
import socket
import struct
import sys
import zlib

MAX_HEADER_SIZE = 64 * 1024
MAX_REPLY_BODY = 64 * 1024 * 1024


def recv_exactly(sock, size):
    """Reads exactly `size` bytes: one recv() may return fewer than asked."""
    pieces = []  # joined once at the end: `data += piece` would copy it all each time
    missing = size
    while missing > 0:
        piece = sock.recv(min(missing, 65536))
        if not piece:
            raise EOFError(f"the connection ended after {size - missing} of {size} bytes")
        pieces.append(piece)
        missing -= len(piece)
    return b"".join(pieces)


def send_frame(sock, header, body=b""):
    """Sends a 4-byte big-endian length, the JSON header, then the body."""
    header_bytes = json.dumps(dict(header, body_size=len(body))).encode("utf-8")
    sock.sendall(struct.pack("!I", len(header_bytes)) + header_bytes + body)


def recv_frame(sock):
    """Reads one frame and returns (header, body)."""
    (header_size,) = struct.unpack("!I", recv_exactly(sock, 4))
    if not 1 <= header_size <= MAX_HEADER_SIZE:
        raise ValueError(f"a header of {header_size} bytes is not allowed")
    header = json.loads(recv_exactly(sock, header_size).decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError("the header is not a JSON object")
    body_size = header["body_size"]
    if not 0 <= body_size <= MAX_REPLY_BODY:
        raise ValueError(f"a body of {body_size} bytes is more than we accept")
    return header, recv_exactly(sock, body_size)


def numbers(count):
    """The `numbers` report: "0\\n1\\n2\\n..." cut to exactly `count` bytes."""
    lines = []
    length = 0
    next_number = 0
    while length < count:
        line = b"%d\n" % next_number
        lines.append(line)
        length += len(line)
        next_number += 1
    return b"".join(lines)[:count]


def request_for(typed):
    """What the user typed, as a request header and body."""
    name, _, rest = typed.partition(" ")
    if name == "numbers":
        return {"report": "numbers", "count": int(rest)}, b""
    if name == "echo":
        return {"report": "echo"}, rest.encode("utf-8")
    return {"report": typed}, b""


def check(typed, header, body, sent):
    """One line saying the reply is intact; raises if it is not."""
    if "error" in header:
        return f"{typed}: refused by the server: {header['error']}"
    crc = zlib.crc32(body)
    if crc != header["crc32"]:
        raise ValueError(f"the reply to {typed!r} is damaged: CRC-32 {crc:08x}, header says {header['crc32']:08x}")
    line = f"{typed}: {len(body)} bytes, crc32 {crc:08x} ok"
    request, sent_body = sent
    if request["report"] == "numbers":
        if body != numbers(request["count"]):
            raise ValueError(f"the reply to {typed!r} differs from the numbers generated here")
        line += ", same as the numbers generated here"
    if request["report"] == "echo":
        if body != sent_body:
            raise ValueError(f"the reply to {typed!r} differs from what was sent")
        line += ", same as sent"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text and len(body) <= 80 and text.isprintable():
        line += ": " + json.dumps(text, ensure_ascii=False)
    return line


def main():
    parser = argparse.ArgumentParser(description="Ask a lab 05 server for reports.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8005)
    parser.add_argument("reports", nargs="+")
    args = parser.parse_args()
    try:
        with socket.create_connection((args.host, args.port), timeout=10) as sock:
            for typed in args.reports:
                request, body = request_for(typed)
                send_frame(sock, request, body)
                header, reply_body = recv_frame(sock)
                print(check(typed, header, reply_body, (request, body)), flush=True)
    except (OSError, EOFError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
