"""The tutorials' "remote shell" server, rebuilt to show its hole harmlessly.

Our own code, written to behave as theirs does (chapter 05, "Running what the
network sends"): every message is handed to a shell with
`subprocess.Popen(..., shell=True)`, and the shell's output is sent back. So
whoever can connect runs any command as this server's user. Run it only on
127.0.0.1, in a throwaway folder (--dir), as the book does; never copy it.

Usage: python3 remote_shell.py --dir FOLDER [--port PORT]
"""

import argparse
import socket
import subprocess

parser = argparse.ArgumentParser()
parser.add_argument("--dir", required=True, help="the throwaway folder the commands run in")
parser.add_argument("--port", type=int, default=8005)
args = parser.parse_args()

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", args.port))
server.listen(5)
print("listening on %s:%d" % server.getsockname(), flush=True)

while True:
    conn, addr = server.accept()
    command = conn.recv(1024).decode("utf-8")
    print("running:", command, flush=True)
    # The hole: the peer's bytes become a shell command line.
    shell = subprocess.Popen(
        command, shell=True, cwd=args.dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    conn.sendall(shell.communicate()[0])
    conn.close()
