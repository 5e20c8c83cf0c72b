//! `lab01-client`: sends one message and prints the reply.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use lab01_hello::{Endpoint, client};

/// Connects to lab01-server, sends MESSAGE and prints what comes back.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    endpoint: Endpoint,

    /// The text to send
    #[arg(default_value = "hello, server")]
    message: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    shared::run(|| {
        // ANCHOR: connect
        // socket + connect: the three-way handshake happens inside this call.
        let stream = shared::net::connect(&args.endpoint)?;
        // ANCHOR_END: connect
        let reply = client::ask(stream, &args.message)?;
        // The reply is bytes; we show it as text, replacing any bytes that
        // are not valid UTF-8 rather than failing on them.
        writeln!(std::io::stdout(), "{}", String::from_utf8_lossy(&reply))?;
        Ok(())
    })
}
