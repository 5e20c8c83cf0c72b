#!/usr/bin/env python3
"""A lab 05 server in Python, written only from the Protocol section of the chapter.

Usage: python3 server.py [--host HOST] [--port PORT]
Prints `listening on IP:PORT` first, then logs to stderr; a thread per client.
Python 3.11 standard library only.
"""

import argparse
import json
import socket
import socketserver
import struct
import sys
import time
import zlib

MAX_HEADER_SIZE = 64 * 1024
MAX_REQUEST_BODY = 1024 * 1024
MAX_NUMBERS = 32 * 1024 * 1024
IDLE_TIMEOUT = 30
REQUEST_TIMEOUT = 10
MIN_RATE = 16 * 1024
GENTLE_CLOSE_TIME = 1
HELLO = b"hello from the lab 05 server"
CATALOGUE = "hello, empty, time, numbers (with a count of bytes), echo (sends your body back)"


class BadFrame(Exception):
    """A frame we cannot accept: reply with an error, then close."""


class CleanEnd(Exception):
    """The client closed between two frames."""


class Clock:
    """The Protocol's slow requests: a deadline for a whole part of a request.

    It starts at the first byte that arrives (`start`); with a `min_rate`,
    each `min_rate` bytes received buy one more second.
    """

    def __init__(self, within, min_rate=None, started=None):
        self.within = within
        self.min_rate = min_rate
        self.started = started
        self.received = 0

    def left(self):
        """Seconds left, or None before the first byte."""
        if self.started is None:
            return None
        allowed = self.within + (self.received / self.min_rate if self.min_rate else 0)
        return allowed - (time.monotonic() - self.started)

    def too_slow(self):
        if self.min_rate:
            return BadFrame(f"the frame came too slowly: it came slower than {self.min_rate} "
                            f"bytes/s once its first {self.within} s were over "
                            f"({self.received} bytes came)")
        return BadFrame(f"the frame came too slowly: it did not arrive whole within "
                        f"{self.within} s ({self.received} bytes came)")


def recv_exactly(sock, size, part, clock):
    """Reads exactly `size` bytes on `clock`; an early end is a BadFrame naming the part."""
    pieces = []
    missing = size
    while missing > 0:
        left = clock.left()
        if left is not None and left <= 0:
            raise clock.too_slow()
        sock.settimeout(IDLE_TIMEOUT if left is None else min(IDLE_TIMEOUT, left))
        try:
            piece = sock.recv(min(missing, 65536))
        except socket.timeout:
            if left is not None and left <= IDLE_TIMEOUT:
                raise clock.too_slow() from None
            raise
        if not piece:
            if part == "length prefix" and missing == size:
                raise CleanEnd()
            raise BadFrame(f"the connection ended in the middle of a frame: the {part} "
                           f"should have {size} bytes but only {size - missing} arrived")
        if clock.started is None:
            clock.started = time.monotonic()
        clock.received += len(piece)
        pieces.append(piece)
        missing -= len(piece)
    return b"".join(pieces)


def recv_request(sock):
    """Reads one request frame and returns (header, body)."""
    # The prefix and header: within REQUEST_TIMEOUT of the frame's first byte.
    clock = Clock(REQUEST_TIMEOUT)
    (header_size,) = struct.unpack("!I", recv_exactly(sock, 4, "length prefix", clock))
    if not 1 <= header_size <= MAX_HEADER_SIZE:
        raise BadFrame(f"a header of {header_size} bytes is not allowed (1 to {MAX_HEADER_SIZE})")
    try:
        header = json.loads(recv_exactly(sock, header_size, "header", clock).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadFrame(f"the frame's header is not valid: {err}") from None
    if not isinstance(header, dict) or not isinstance(header.get("report"), str):
        raise BadFrame("the frame's header is not a JSON object with a string 'report'")
    body_size = header.get("body_size")
    if not is_unsigned(body_size):
        raise BadFrame("the frame's header has no unsigned integer 'body_size'")
    if header.get("count") is not None and not is_unsigned(header["count"]):
        raise BadFrame("the frame's 'count' is not an unsigned integer")
    if body_size > MAX_REQUEST_BODY:
        raise BadFrame(f"the frame announces a body of {body_size} bytes, more than the "
                       f"{MAX_REQUEST_BODY} bytes accepted")
    # The body: REQUEST_TIMEOUT of grace from the header's end, then MIN_RATE.
    body_clock = Clock(REQUEST_TIMEOUT, MIN_RATE, started=time.monotonic())
    return header, recv_exactly(sock, body_size, "body", body_clock)


def is_unsigned(value):
    """Whether a JSON value is an unsigned integer. Python's bool is an int,
    and `true` is not a number."""
    return type(value) is int and value >= 0


def send_reply(sock, body=b"", error=None):
    """Sends one reply frame: length, JSON header, body."""
    header = {"body_size": len(body), "crc32": zlib.crc32(body)}
    if error is not None:
        header["error"] = error
    header_bytes = json.dumps(header).encode("utf-8")
    sock.sendall(struct.pack("!I", len(header_bytes)) + header_bytes + body)


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


def produce(header, body):
    """The report's body, or raises ValueError with the reason for refusing."""
    report = header["report"]
    if report != "echo" and body:
        raise ValueError(f"the report '{report}' takes no request body")
    if report == "hello":
        return HELLO
    if report == "empty":
        return b""
    if report == "time":
        return str(int(time.time())).encode("ascii")
    if report == "echo":
        return body
    if report == "numbers":
        count = header.get("count")
        if count is None:
            raise ValueError("numbers needs a count, such as numbers 1000")
        if count > MAX_NUMBERS:
            raise ValueError(f"numbers {count} is too many: the most is {MAX_NUMBERS}")
        return numbers(count)
    # A name, looked up; never run.
    raise ValueError(f"there is no report named '{report}'; the reports are: {CATALOGUE}")


class Conversation(socketserver.BaseRequestHandler):
    """One client: request frame in, reply frame out, until it closes."""

    def handle(self):
        sock = self.request
        who = "%s:%s" % self.client_address[:2]
        answered = 0
        try:
            while True:
                header, body = recv_request(sock)
                # Replies are written with the idle timeout, whatever a
                # request's clock had left.
                sock.settimeout(IDLE_TIMEOUT)
                try:
                    send_reply(sock, produce(header, body))
                except ValueError as refusal:
                    send_reply(sock, error=str(refusal))
                answered += 1
        except CleanEnd:
            log(f"{who}: closed the connection after {answered} request(s)")
        except BadFrame as bad:
            log(f"{who}: bad frame: {bad}; sending an error reply and closing")
            try:
                sock.settimeout(IDLE_TIMEOUT)
                send_reply(sock, error=str(bad))
                sock.shutdown(socket.SHUT_WR)
                discard_for_a_second(sock)
            except OSError:
                pass
        except OSError as err:
            log(f"{who}: {err}; closing the connection")


def discard_for_a_second(sock):
    """Reads and drops what the client still sends, for one second or until it
    closes: closing with bytes still arriving would answer them with a reset,
    which can destroy the error reply before the client reads it."""
    deadline = time.monotonic() + GENTLE_CLOSE_TIME
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        if not sock.recv(4096):
            return


def log(line):
    print(line, file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser(description="Serve lab 05 reports.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8005)
    args = parser.parse_args()
    server_class = socketserver.ThreadingTCPServer
    server_class.allow_reuse_address = True
    server_class.daemon_threads = True
    if ":" in args.host:
        server_class.address_family = socket.AF_INET6
    try:
        server = server_class((args.host, args.port), Conversation)
    except OSError as err:
        print(f"error: could not listen on {args.host}:{args.port}: {err.strerror} "
              f"(hint: find who holds the port with `ss -ltnp 'sport = :{args.port}'`, "
              f"or pick another with --port)", file=sys.stderr)
        sys.exit(1)
    with server:
        host, port = server.server_address[:2]
        shown = f"[{host}]" if ":" in host else host
        print(f"listening on {shown}:{port}", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
