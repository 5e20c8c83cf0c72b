//! The open-file limit: every socket is a file descriptor, and a process may
//! hold only so many.
//!
//! Linux starts most processes with a *soft* limit of 1024 open files and a
//! much higher *hard* limit. The soft limit is there to catch programs that
//! leak descriptors; any process may raise it up to the hard limit, which
//! only an administrator can raise. An event loop holding 10,000 connections
//! meets the soft limit long before it runs short of memory or CPU.

use shared::Failure;

/// What the limit was, and what it is now.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// The soft limit before we raised it.
    pub before: u64,
    /// The soft limit now.
    pub now: u64,
}

impl Limit {
    /// Whether we raised it.
    pub fn raised(&self) -> bool {
        self.now > self.before
    }
}

/// Raises the soft limit to the hard limit if it is below `wanted`.
///
/// The `rlimit` crate wraps `getrlimit`/`setrlimit` (std has neither, and
/// this workspace forbids the `unsafe` a raw `libc` call needs); on macOS it
/// also respects the kernel's own per-process cap.
pub fn raise_to_hold(wanted: u64) -> Result<Limit, Failure> {
    let (before, _hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)
        .map_err(|err| Failure::io("read the open-file limit", &err))?;
    if before >= wanted {
        return Ok(Limit {
            before,
            now: before,
        });
    }
    let now = rlimit::increase_nofile_limit(u64::MAX)
        .map_err(|err| Failure::io("raise the open-file limit", &err))?;
    Ok(Limit { before, now })
}
