//! `lab03-client`: sends each message as one datagram and prints each reply.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lab03_udp::Endpoint;
use lab03_udp::client::Exchange;
use shared::Failure;

/// Sends each MESSAGE (or each line typed on stdin) to lab03-server as one UDP
/// datagram and prints each reply, sending again when a reply does not come.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    endpoint: Endpoint,

    /// Seconds to wait for a reply before sending again
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = shared::cli::seconds)]
    timeout: Duration,

    /// How many times to send again before giving up
    #[arg(long, default_value_t = 3)]
    retries: u32,

    /// Messages to send; with none, lines are read from stdin (Ctrl-D ends)
    messages: Vec<String>,
}

fn main() -> ExitCode {
    let args: Args = shared::cli::parse();
    shared::run(|| {
        let mut exchange = Exchange::new(&args.endpoint, args.timeout, args.retries)?;
        if args.messages.is_empty() {
            talk_from_stdin(&mut exchange)
        } else {
            for message in &args.messages {
                send_and_print(&mut exchange, message)?;
            }
            Ok(())
        }
    })
}

/// Sends each line of stdin (with a `>> ` prompt when a person types).
fn talk_from_stdin(exchange: &mut Exchange) -> Result<(), Failure> {
    for line in shared::cli::typed_lines() {
        send_and_print(exchange, &line?)?;
    }
    Ok(())
}

/// Sends one datagram and prints its reply, noting when the reply was cut.
fn send_and_print(exchange: &mut Exchange, message: &str) -> Result<(), Failure> {
    // ANCHOR: empty_datagram
    // Unlike a TCP write of 0 bytes, an empty datagram is a real datagram:
    // it travels, the server receives it (0 bytes) and answers. So we send it.
    let reply = exchange.ask(message.as_bytes())?;
    // ANCHOR_END: empty_datagram
    if reply.len() < message.len() {
        eprintln!(
            "the reply has {} of {} bytes: the server's buffer cut the datagram, and the rest is lost",
            reply.len(),
            message.len()
        );
    }
    // The server chose these bytes: show them, never let them drive the terminal.
    writeln!(io::stdout(), "{}", shared::text::printable_bytes(&reply))?;
    Ok(())
}
