//! Lab 06 — file transfer: `dir`, `get`, `put` and `close` over framed TCP.
//!
//! Lab 05 put message boundaries back into the byte stream with frames (a
//! length prefix, a JSON header, a body). This lab builds the classic file
//! server on those frames, and does the parts the tutorials skip:
//!
//! - bodies of any size are *streamed* in 256 KiB pieces, never held whole;
//! - every transfer carries a SHA-256 (not MD5) that the receiver checks;
//! - a file arrives under a temporary name and is renamed into place only
//!   when complete and verified, so a broken transfer leaves nothing behind;
//! - names from the peer are checked: no paths, no `..`, no links out.
//!
//! Modules:
//!
//! - [`protocol`]: the headers of each command and the streaming of bodies.
//! - [`server`]: one session per client, a thread each, as in lab 02.
//! - [`client`]: the session on the client side, one command after another.
//! - [`names`]: which names a peer may use.
//! - [`folder`]: the shared folder: open, check and list its files safely.
//! - [`partial`]: the temporary file that becomes the real one at the end.
//! - [`checksum`]: SHA-256 computed as the bytes stream past.
//! - [`progress`]: the transfer's progress bar, drawn by `indicatif`.
//! - [`size`]: `4GiB` and friends.
//! - [`bench`]: `lab06-bench`, speed and memory next to a plain copy.
//!
//! The framing itself is lab 05's [`lab05_framed_header::frame`], used as a
//! library.
//!
//! Still simplified: one connection carries one transfer at a time, and a
//! transfer that breaks off starts again from zero (no resuming).

pub mod bench;
pub mod checksum;
pub mod client;
pub mod folder;
pub mod names;
pub mod partial;
pub mod progress;
pub mod protocol;
pub mod server;
pub mod size;

/// Each lab has its own default port, so two labs can run side by side.
pub const DEFAULT_PORT: u16 = 8006;

/// `--host` and `--port`, with this lab's default port.
pub type Endpoint = shared::Endpoint<DEFAULT_PORT>;
