//! Lab 01 — hello, sockets: the smallest real server and client.
//!
//! The server accepts one client, reads one message, sends it back in capital
//! letters, closes the connection and exits. The client connects, sends its
//! message and prints the reply. Every socket call the tutorials teach appears
//! once, in order: socket + bind + listen, accept, connect, send, recv, close.
//!
//! - [`server`]: accept one connection and answer it.
//! - [`client`]: connect, send, and read the reply.
//!
//! This program is naive on purpose. It serves a single client, and it trusts
//! one `read` to return one whole message. Lab 02 adds the loops a real server
//! needs; lab 04 shows why one read is not one message.

pub mod client;
pub mod server;

/// Each lab has its own default port, so two labs can run side by side.
pub const DEFAULT_PORT: u16 = 8001;

/// `--host` and `--port`, with this lab's default port.
pub type Endpoint = shared::Endpoint<DEFAULT_PORT>;
