//! Lab 05 — framed header: messages with a known length, whatever their size.
//!
//! Lab 02 treated each `read` as one message; lab 04 showed that TCP keeps no
//! message boundaries, so that only works by luck. This lab puts the
//! boundaries back into the byte stream: every message is a *frame*, a 4-byte
//! big-endian length, a JSON header of that length, and a raw body whose size
//! the header gives.
//!
//! - [`frame`]: write a frame, read exactly one frame, and every way that can
//!   fail. Lab 06 uses this same module as a library.
//!
//! Simplified for teaching: a body is read into memory whole (under a limit
//! the caller chooses); lab 06 streams big bodies in bounded pieces instead.

pub mod frame;

/// Each lab has its own default port, so two labs can run side by side.
pub const DEFAULT_PORT: u16 = 8005;

/// `--host` and `--port`, with this lab's default port.
pub type Endpoint = shared::Endpoint<DEFAULT_PORT>;
