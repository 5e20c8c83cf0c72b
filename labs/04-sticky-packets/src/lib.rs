//! Lab 04 — sticky packets: TCP carries bytes, not messages.
//!
//! Lab 02's server treated each `read` as one message, and its client waited
//! for each reply before sending the next message, which hid the flaw. This
//! lab keeps the server's naive habit and takes the client's crutch away: the
//! client sends its messages one after another without waiting, then the
//! server reports how many reads it needed. The answer is almost never "one
//! read per message":
//!
//! - several small writes come out of one read (they *stuck together*);
//! - one large write comes out of several reads (it was *cut*).
//!
//! The demo makes both happen on every run, on purpose: the server waits
//! before its first read (`--read-delay`), so everything the client sent is
//! already waiting in the kernel, and it reads with a buffer smaller than the
//! large message (`--read-buffer`). On a real network the same things happen
//! without being asked, just not every time.
//!
//! - [`server`]: lab 02's two loops; each read is logged as "message N" and
//!   counted, and the count goes back to the client when it is done.
//! - [`client`]: one write per message, then the server's count and a verdict.
//! - [`report`]: the one line the server sends back, `reads=R bytes=B`.
//! - [`shown`]: how a log shows bytes: their length and a short preview.
//! - [`partial_write`]: the other half of the stream's nature: one `write`
//!   may take only part of what it is given.
//!
//! The fix is framing: make the boundaries part of the bytes (a delimiter, or
//! a length before each message). Lab 05 does it with a length prefix.

pub mod client;
pub mod partial_write;
pub mod report;
pub mod server;
pub mod shown;

/// Each lab has its own default port, so two labs can run side by side.
pub const DEFAULT_PORT: u16 = 8004;

/// `--host` and `--port`, with this lab's default port.
pub type Endpoint = shared::Endpoint<DEFAULT_PORT>;
