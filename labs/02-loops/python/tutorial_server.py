"""The classic tutorials' echo server, rebuilt to behave as theirs does.

Our own code, written to show one mistake (chapter 02, "Catching only
ConnectionResetError"): it serves one client at a time, decodes every message
as UTF-8 to print it, and catches only ConnectionResetError. Bytes that are not
UTF-8 raise UnicodeDecodeError, which nothing catches, and the whole server
stops. It prints the suite's `listening on` line so the book can start it like
a lab server. Do not copy it: lab 02's server is the fixed version.

Usage: python3 tutorial_server.py [--port PORT]
"""

import argparse
import socket

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=8002)
port = parser.parse_args().port

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen(5)
print("listening on %s:%d" % server.getsockname(), flush=True)

while True:  # the connection loop
    conn, addr = server.accept()
    while True:  # the communication loop
        try:
            data = conn.recv(1024)
            if not data:
                break
            print("client says:", data.decode("utf-8"), flush=True)
            conn.send(data.upper())
        except ConnectionResetError:  # the only error the tutorials expect
            break
    conn.close()
