//! Lab 07 — the event loop: one thread, ten thousand clients.
//!
//! Lab 02 served many clients with a thread each. Each thread spends its
//! life blocked in `read`, waiting, and each one costs a stack, a kernel
//! task and a context switch: ten thousand clients, ten thousand threads.
//! This lab serves them all from *one* thread. Every socket is non-blocking,
//! and one call, `poll` (epoll on Linux), waits for all of them at once and
//! says which are ready. The lines are framed by a delimiter, `\n`, the
//! other fix for lab 04's sticky packets (lab 05 used a length).
//!
//! - [`lines`]: the protocol's framing: find the whole lines in what a read
//!   brought, answer each, keep the rest; refuse a line over 64 KiB.
//! - [`event_loop`]: the lesson, the server as a readiness loop with mio:
//!   per-connection buffers, `WouldBlock`, WRITABLE only while replies
//!   wait, and backpressure on a client that does not read.
//! - [`tasks`]: the same server with tokio (`--engine tokio`), where the
//!   runtime writes the loop for us.
//! - [`server`]: what both engines share: settings, how a connection ended,
//!   and the thread count the operating system reports.
//! - [`open_files`]: raising the open-file limit, which 10,000 sockets need.
//! - [`client`]: send lines on one connection, each reply awaited.
//! - [`load`]: the client's load mode, itself an event loop: N connections
//!   at once, R round trips each, with times and percentiles.
//!
//! Simplified for teaching: connections live in a `HashMap` (a slab is
//! faster), and idle connections are found by looking at all of them a few
//! times a second (a timer wheel scales further). Both are fine at 10,000.

pub mod client;
pub mod event_loop;
pub mod lines;
pub mod load;
pub mod open_files;
pub mod server;
pub mod tasks;

/// Each lab has its own default port, so two labs can run side by side.
pub const DEFAULT_PORT: u16 = 8007;

/// `--host` and `--port`, with this lab's default port.
pub type Endpoint = shared::Endpoint<DEFAULT_PORT>;
