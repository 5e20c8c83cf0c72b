//! The part of the command line that every lab shares.
//!
//! Each lab flattens an [`Endpoint`] into its own `clap` arguments, so `--host`
//! and `--port` look and behave the same in every binary of the suite.

use clap::Args;

/// Where a server listens, or where a client connects.
///
/// `DEFAULT_PORT` is a const parameter because every lab has its own default
/// port (8001 for lab 01, 8002 for lab 02, …): two labs can then run side by
/// side, and `--help` still prints the real default.
#[derive(Args, Debug, Clone)]
pub struct Endpoint<const DEFAULT_PORT: u16> {
    /// Address to listen on (server) or connect to (client): an IP such as
    /// 127.0.0.1 or ::1, or a name such as localhost
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// TCP or UDP port; 0 lets the operating system pick a free one (the
    /// server prints the port it got)
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,
}

impl<const DEFAULT_PORT: u16> Endpoint<DEFAULT_PORT> {
    /// The endpoint as `host:port`, the way the user would write it.
    pub fn display(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}
