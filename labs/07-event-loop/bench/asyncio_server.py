"""Lab 07's protocol served by Python's asyncio, as a baseline for `just bench`.

One thread and an event loop, like lab07-server, written the way the asyncio
documentation teaches: asyncio.start_server, then readline, write and drain in
a coroutine per client. Each line is answered in capitals (bytes.upper()
changes only a-z), a line over 65536 bytes gets the error line and the
connection closes, and a last line without a newline gets no reply.
"""

import argparse
import asyncio

MAX_LINE = 65536
TOO_LONG = (
    b"error: line longer than 65536 bytes "
    b"(hint: end each line with \\n; a line may hold at most 65536 bytes)\n"
)


async def serve_client(reader, writer, idle_timeout):
    """Answers one client's lines until it closes, goes silent or sends too much."""
    try:
        while True:
            try:
                line = await asyncio.wait_for(reader.readline(), idle_timeout)
            except ValueError:  # the line outgrew the reader's limit
                writer.write(TOO_LONG)
                await writer.drain()
                await close_gently(reader, writer)
                return
            if not line.endswith(b"\n"):  # end of stream, perhaps mid-line
                return
            writer.write(line.upper())
            # drain() waits while the client is not reading: backpressure.
            await asyncio.wait_for(writer.drain(), idle_timeout)
    except (OSError, asyncio.TimeoutError):
        pass
    finally:
        writer.close()


async def close_gently(reader, writer):
    """Ends our side, then discards what the client still sends for up to a
    second: closing with unread bytes would reset the connection, and the
    reset could destroy the error line before the client reads it."""
    writer.write_eof()
    try:
        async with asyncio.timeout(1):
            while await reader.read(65536):
                pass
    except (OSError, asyncio.TimeoutError):
        pass


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8007)
    parser.add_argument("--backlog", type=int, default=4096)
    parser.add_argument("--idle-timeout", type=float, default=30)
    parser.add_argument("--quiet", action="store_true", help="accepted; nothing is logged anyway")
    args = parser.parse_args()
    # limit: readline refuses a line with more bytes than this before its
    # newline (asyncio does not count the newline), as the protocol says.
    server = await asyncio.start_server(
        lambda reader, writer: serve_client(reader, writer, args.idle_timeout),
        args.host, args.port, backlog=args.backlog, limit=MAX_LINE
    )
    host, port = server.sockets[0].getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
