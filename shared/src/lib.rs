//! What every lab needs, written once so that a lab's own files hold only its lesson.
//!
//! - [`cli`]: the `--host` / `--port` options every server and client takes,
//!   and the options every threaded server takes.
//! - [`net`]: binding, announcing and connecting, with the mistakes students make most
//!   (a port already in use, a server that is not running, a bad address) turned into
//!   one clear line instead of a raw OS error.
//! - [`slots`]: the threaded connection loop, and its bound on how many
//!   clients are served at once (lab 02 introduces them; labs 04 to 06 serve
//!   clients the same way).
//! - [`pace`]: a deadline for a whole message rather than one read, with a
//!   minimum rate for large bodies, so a slow peer cannot hold us forever.
//! - [`text`]: printing what a peer sent without letting it write on our
//!   terminal (forged lines, escape codes).
//! - [`failure`]: the error type behind those lines, and [`failure::run`], which every
//!   `main` uses so that an expected failure prints `error: …` and exits with status 1
//!   rather than panicking ([`cli::parse`] does the same for usage errors, with status 2).
//!
//! Simplified for teaching: only blocking `std::net` sockets, one thread per job.
//! Real servers often use an async runtime; the socket calls underneath are the same.

pub mod cli;
pub mod failure;
pub mod net;
pub mod pace;
pub mod slots;
pub mod text;

pub use cli::Endpoint;
pub use failure::{Failure, run};
