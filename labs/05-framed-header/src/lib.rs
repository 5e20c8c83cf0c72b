//! Lab 05 — framed header: messages with a known length, whatever their size.
//!
//! Lab 02 treated each `read` as one message; lab 04 showed that TCP keeps no
//! message boundaries, so that only works by luck. This lab puts the
//! boundaries back into the byte stream: every message is a *frame*, a 4-byte
//! big-endian length, a JSON header of that length, and a raw body whose size
//! the header gives. The server keeps lab 02's loops and threads; what
//! travels over them changes.
//!
//! - [`frame`]: write a frame, read exactly one frame, and every way that can
//!   fail. Lab 06 uses this same module as a library.
//! - [`protocol`]: this lab's two headers (request, reply), the CRC-32 that
//!   lets a client check a reply, and the generated `numbers` data.
//! - [`reports`]: the server's fixed list of reports: a client names one,
//!   and nothing it sends is ever executed.
//! - [`server`]: lab 02's connection and communication loops, one frame in,
//!   one frame out; a bad frame ends only its own client's conversation, a
//!   request must arrive whole in time, and a large reply is streamed.
//! - [`client`]: ask for reports on one connection and check every reply,
//!   each within a deadline for the whole reply.
//! - [`pitfalls`]: two mistakes of the classic tutorials, measured: a length
//!   in the machine's byte order, and a reply gathered with `+=`.
//!
//! Simplified for teaching: a body is read into memory whole (under a limit
//! the caller chooses); lab 06 streams big bodies in bounded pieces instead.
//! (The server's `numbers` replies are the exception: they are generated as
//! they are sent, since the server chooses their size, not the client.)

pub mod client;
pub mod frame;
pub mod pitfalls;
pub mod protocol;
pub mod reports;
pub mod server;

/// Each lab has its own default port, so two labs can run side by side.
pub const DEFAULT_PORT: u16 = 8005;

/// `--host` and `--port`, with this lab's default port.
pub type Endpoint = shared::Endpoint<DEFAULT_PORT>;
