//! `lab01-client`: sends one message and prints the reply.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lab01_hello::{Endpoint, client};

/// Connects to lab01-server, sends MESSAGE and prints what comes back.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    endpoint: Endpoint,

    /// Seconds the whole reply may take, from sending the message to the
    /// server's close
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = shared::cli::seconds)]
    timeout: Duration,

    /// The text to send
    #[arg(default_value = "hello, server")]
    message: String,
}

fn main() -> ExitCode {
    let args: Args = shared::cli::parse();
    shared::run(|| {
        // ANCHOR: connect
        // socket + connect: the three-way handshake happens inside this call.
        let stream = shared::net::connect(&args.endpoint)?;
        // ANCHOR_END: connect
        let reply = client::ask(stream, &args.message, args.timeout)?;
        // The reply is bytes; we show it as text, replacing any bytes that
        // are not valid UTF-8, and showing control characters as escapes:
        // the server chose these bytes, and must not drive our terminal.
        writeln!(
            std::io::stdout(),
            "{}",
            shared::text::printable_bytes(&reply)
        )?;
        Ok(())
    })
}
