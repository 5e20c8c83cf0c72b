//! `lab02-client`: sends each message on one connection and prints each reply.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lab02_loops::Endpoint;
use lab02_loops::client::Conversation;
use shared::Failure;

/// Connects to lab02-server, sends each MESSAGE (or each line typed on stdin)
/// and prints each reply.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    endpoint: Endpoint,

    /// Seconds each whole reply may take before giving up
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = shared::cli::seconds)]
    timeout: Duration,

    /// Messages to send; with none, lines are read from stdin (Ctrl-D ends)
    messages: Vec<String>,
}

fn main() -> ExitCode {
    let args: Args = shared::cli::parse();
    shared::run(|| {
        let stream = shared::net::connect(&args.endpoint)?;
        let mut conversation = Conversation::new(stream, args.timeout)?;
        if args.messages.is_empty() {
            talk_from_stdin(&mut conversation)
        } else {
            for message in &args.messages {
                send_and_print(&mut conversation, message)?;
            }
            Ok(())
        }
    })
}

/// Sends each line of stdin (with a `>> ` prompt when a person types).
fn talk_from_stdin(conversation: &mut Conversation) -> Result<(), Failure> {
    for line in shared::cli::typed_lines() {
        send_and_print(conversation, &line?)?;
    }
    Ok(())
}

/// Sends one message and prints its reply; skips empty messages.
fn send_and_print(conversation: &mut Conversation, message: &str) -> Result<(), Failure> {
    // ANCHOR: skip_empty
    // Writing 0 bytes sends nothing at all: the server never sees such a
    // message, so no reply will come. A client that then read "the reply"
    // would wait forever, and ours would print one the server never sent.
    if message.is_empty() {
        return Ok(());
    }
    // ANCHOR_END: skip_empty
    let reply = conversation.ask(message)?;
    // The server chose these bytes: show them, never let them drive the terminal.
    writeln!(io::stdout(), "{}", shared::text::printable_bytes(&reply))?;
    Ok(())
}
