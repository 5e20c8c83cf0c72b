//! `lab01-server`: answers one client in capital letters, then exits.

use std::process::ExitCode;

use clap::Parser;
use lab01_hello::{Endpoint, server};

/// Waits for one client, sends its message back in CAPITAL letters, and exits.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    endpoint: Endpoint,
}

fn main() -> ExitCode {
    let args: Args = shared::cli::parse();
    shared::run(|| {
        // ANCHOR: listen
        // socket + bind + listen, in one call; see `shared::net::listen`.
        let listener = shared::net::listen(&args.endpoint)?;
        shared::net::announce(listener.local_addr())?;
        // ANCHOR_END: listen
        server::serve_one_client(&listener)
    })
}
