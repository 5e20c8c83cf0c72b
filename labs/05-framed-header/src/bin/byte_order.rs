//! `lab05-byte-order`: why a length must go on the wire in network byte order.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use lab05_framed_header::pitfalls;

/// Prints a real header's length prefix in this machine's byte order (the
/// tutorials' struct.pack('i')) and in network order (struct.pack('!I')),
/// and what a reader of the other byte order makes of the first.
#[derive(Parser)]
#[command(version)]
struct Args {}

fn main() -> ExitCode {
    shared::cli::parse::<Args>();
    shared::run(|| {
        let mut stdout = io::stdout().lock();
        for line in pitfalls::byte_order_lines() {
            writeln!(stdout, "{line}")?;
        }
        Ok(())
    })
}
