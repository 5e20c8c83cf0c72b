"""What a receiver can learn about a datagram its buffer cut, on Linux.

Sends two 16-byte datagrams to itself and receives each into 8 bytes:
`recvmsg` reports *that* it cut one (the MSG_TRUNC flag, on every POSIX
system), and `recv` with the MSG_TRUNC flag returns the datagram's real
length (Linux only). Rust's standard library offers neither, which is why
lab 03's server uses a buffer one byte bigger than it keeps.
"""

import socket

receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
receiver.bind(("127.0.0.1", 0))
sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(2):
    sender.sendto(b"0123456789abcdef", receiver.getsockname())

data, _, flags, _ = receiver.recvmsg(8)
print("recvmsg kept", data, "and flagged MSG_TRUNC:", bool(flags & socket.MSG_TRUNC))
buffer = bytearray(8)
length = receiver.recv_into(buffer, 8, socket.MSG_TRUNC)
print("recv(MSG_TRUNC) kept", bytes(buffer), "of a datagram of", length, "bytes")
