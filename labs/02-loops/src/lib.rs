//! Lab 02 — loops: a server that keeps serving.
//!
//! Lab 01's server answered one message from one client and exited. This lab
//! adds the two loops every TCP server has:
//!
//! - the *communication loop* reads and answers messages on one connection
//!   until the client closes it (a read of 0 bytes) or breaks it (an error);
//! - the *connection loop* accepts the next client when one is done.
//!
//! Then it serves clients at the same time, one thread each, with a bound on
//! how many, and drops clients that stay silent too long.
//!
//! - [`server`]: both loops, one by one (`--sequential`) or with threads.
//! - `shared::slots`: the bound on threads, a small counting semaphore, and
//!   the threaded connection loop (in `shared/` because labs 04 to 06 serve
//!   clients the same way).
//! - [`client`]: send many messages on one connection, each reply awaited.
//! - [`crowd`]: many clients arriving at once (`lab02-crowd`), to see what the
//!   listen backlog really limits, and to measure round trips per second.
//! - [`keepalive`]: one connection for many requests against a connection per
//!   request (`lab02-keepalive`), timed, to see what a short connection costs.
//!
//! Still simplified: each read is treated as one message. For an echo that
//! happens to be harmless (lab 04 shows why, and when it is not).

pub mod client;
pub mod crowd;
pub mod keepalive;
pub mod server;

/// Each lab has its own default port, so two labs can run side by side.
pub const DEFAULT_PORT: u16 = 8002;

/// `--host` and `--port`, with this lab's default port.
pub type Endpoint = shared::Endpoint<DEFAULT_PORT>;
