//! `lab05-client`: asks for reports on one connection and checks each reply.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lab05_framed_header::Endpoint;
use lab05_framed_header::client::{self, Ask, Conversation};
use shared::Failure;

/// Connects to lab05-server, asks for each REPORT (or each line typed on
/// stdin) and prints whether each reply arrived intact.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    endpoint: Endpoint,

    /// Seconds each whole reply may take before giving up; a large reply may
    /// take longer while it arrives at 16 KiB/s or more on average
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = shared::cli::seconds)]
    timeout: Duration,

    /// Reports to ask for: hello, empty, time, 'numbers N', 'echo TEXT', or
    /// any other name (the server refuses it); with none, lines are read from
    /// stdin (Ctrl-D ends)
    reports: Vec<String>,
}

fn main() -> ExitCode {
    let args: Args = shared::cli::parse();
    shared::run(|| {
        // Check every request before connecting, so a typo costs no connection.
        let asks = args
            .reports
            .iter()
            .map(|typed| Ask::parse(typed))
            .collect::<Result<Vec<_>, _>>()?;
        let stream = shared::net::connect(&args.endpoint)?;
        let mut conversation = Conversation::new(stream, args.timeout)?;
        if asks.is_empty() {
            talk_from_stdin(&mut conversation)
        } else {
            for ask in &asks {
                ask_and_print(&mut conversation, ask)?;
            }
            Ok(())
        }
    })
}

/// Asks for each line of stdin (with a `>> ` prompt when a person types).
fn talk_from_stdin(conversation: &mut Conversation) -> Result<(), Failure> {
    for line in shared::cli::typed_lines() {
        let line = line?;
        // An empty line is not a request; with frames it could be sent (as a
        // report named ""), but it is almost surely a stray Enter.
        if line.trim().is_empty() {
            continue;
        }
        ask_and_print(conversation, &Ask::parse(&line)?)?;
    }
    Ok(())
}

/// Sends one request, checks its reply and prints one line about it.
fn ask_and_print(conversation: &mut Conversation, ask: &Ask) -> Result<(), Failure> {
    let (reply, body) = conversation.ask(ask)?;
    let line = client::check(ask, &reply, &body)?;
    writeln!(io::stdout(), "{line}")?;
    Ok(())
}
