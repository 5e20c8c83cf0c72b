//! Lab 03 — UDP: the same echo, over datagrams.
//!
//! Lab 02 kept a connection per client. UDP has none: the server binds one
//! socket and answers each datagram with `send_to` the address it came from,
//! whoever sent it. What changes for a program:
//!
//! - each datagram arrives whole or not at all, so one `recv_from` is exactly
//!   one message (TCP never promised that; lab 04 shows it);
//! - a datagram can be lost, and nobody tells you: the client waits with a
//!   timeout and sends again, a bounded number of times;
//! - a datagram larger than the receive buffer is cut, and the rest is gone;
//! - one datagram carries at most 65,507 bytes over IPv4.
//!
//! - [`server`]: the datagram loop, with pretend loss and a visible buffer size.
//! - [`client`]: send, wait with a timeout, retry, and check what came back.

pub mod client;
pub mod server;

/// Each lab has its own default port, so two labs can run side by side.
pub const DEFAULT_PORT: u16 = 8003;

/// `--host` and `--port`, with this lab's default port.
pub type Endpoint = shared::Endpoint<DEFAULT_PORT>;

/// The largest UDP payload over IPv4: an IP packet is at most 65,535 bytes,
/// minus 20 for the IPv4 header and 8 for the UDP header.
pub const MAX_DATAGRAM_IPV4: usize = 65_535 - 20 - 8;

/// The largest UDP payload over IPv6: the 40-byte IPv6 header does not count
/// against its 65,535-byte payload length, only the 8-byte UDP header does.
pub const MAX_DATAGRAM_IPV6: usize = 65_535 - 8;
