"""The tutorials' threaded echo server, as a baseline for `just bench`.

socketserver.ThreadingTCPServer starts a thread per client, and the handler
answers each recv() in capitals: the same protocol as lab02-server. It keeps
the library's defaults (a listen backlog of 5), as the tutorials do.
"""

import argparse
import socketserver


class CapitalsHandler(socketserver.BaseRequestHandler):
    """Answers every chunk it receives in capitals until the client closes."""

    def handle(self):
        while True:
            data = self.request.recv(1024)
            if not data:
                return
            self.request.sendall(data.upper())


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    args = parser.parse_args()
    with Server((args.host, args.port), CapitalsHandler) as server:
        host, port = server.server_address[:2]
        print(f"listening on {host}:{port}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
