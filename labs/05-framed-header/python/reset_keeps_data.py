"""What a reset does to data already received, on Linux.

The server side sends its reply, then closes while 5000 bytes it never read
still sit in its receive buffer: its kernel answers with a reset (RST)
instead of a FIN. The client reads only after the reset has arrived, and
still gets the whole reply first; only the read after it fails. What is lost
to a reset is what the *closing* side had not sent yet (and, on Windows,
what the receiving side had not read yet).
"""

import socket
import time

listener = socket.create_server(("127.0.0.1", 0))
client = socket.create_connection(listener.getsockname())
server_side, _ = listener.accept()

client.sendall(b"x" * 5000)  # more than the server will ever read
time.sleep(0.1)
server_side.sendall(b"error reply")
server_side.close()  # unread data: the kernel sends RST, not FIN
time.sleep(0.5)  # the reset has certainly arrived before the client reads

print("first recv: ", client.recv(100))
try:
    print("second recv:", client.recv(100))
except ConnectionResetError as err:
    print("second recv: failed:", err)
