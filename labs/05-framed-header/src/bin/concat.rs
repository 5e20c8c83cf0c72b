//! `lab05-concat`: why `received += data` gets slow as a reply grows.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use lab05_framed_header::pitfalls;
use shared::Failure;

/// Gathers replies of doubling sizes two ways, a new buffer per piece (the
/// tutorials' `cmd_res += data`) and one growing Vec, and prints the bytes
/// copied and the time each way takes.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The largest reply to gather, in bytes (sizes double from 64 KiB up to it)
    #[arg(long, value_name = "BYTES", default_value_t = 2 * 1024 * 1024)]
    up_to: usize,
}

fn main() -> ExitCode {
    let args: Args = shared::cli::parse();
    shared::run(|| {
        let lines = pitfalls::concatenation_table(args.up_to).map_err(Failure::new)?;
        let mut stdout = io::stdout().lock();
        for line in lines {
            writeln!(stdout, "{line}")?;
        }
        Ok(())
    })
}
