//! `lab04-client`: sends messages back to back and says how many reads the
//! server needed for them.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lab04_sticky_packets::Endpoint;
use lab04_sticky_packets::client::{self, Session};
use lab04_sticky_packets::shown::{count, shown};

/// Connects to lab04-server, sends each message with its own write without
/// waiting, closes its sending side, and compares the number of messages it
/// sent with the number of reads the server needed.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    endpoint: Endpoint,

    /// Seconds to wait for the server's report before giving up
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = shared::cli::seconds)]
    timeout: Duration,

    /// Turn Nagle's algorithm off (TCP_NODELAY): each small write leaves at
    /// once instead of waiting to travel with the next ones
    #[arg(long)]
    nodelay: bool,

    /// Without MESSAGES: how many messages to make up
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    count: u32,

    /// Without MESSAGES: the size of each made-up message, in bytes
    /// (message 1 is all `a`, message 2 all `b`, …)
    #[arg(long, value_name = "BYTES", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=64 * 1024 * 1024))]
    size: u32,

    /// Messages to send, one write each; without them, --count messages of
    /// --size bytes are made up
    // Empty messages are refused: a write of 0 bytes sends nothing at all,
    // so it could never show up as a read on the other side.
    #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new())]
    messages: Vec<String>,
}

fn main() -> ExitCode {
    let args: Args = shared::cli::parse();
    shared::run(|| {
        let stream = shared::net::connect(&args.endpoint)?;
        let mut session = Session::new(stream, args.timeout, args.nodelay)?;
        let mut out = io::stdout().lock();

        // ANCHOR: write_each
        let messages: Box<dyn Iterator<Item = Vec<u8>>> = if args.messages.is_empty() {
            let size = args.size as usize;
            Box::new(
                (0..args.count as usize).map(move |i| client::generated_message(i, size)),
            )
        } else {
            Box::new(args.messages.iter().map(|text| text.as_bytes().to_vec()))
        };
        let (mut sent, mut bytes) = (0u64, 0u64);
        for message in messages {
            session.send(&message)?;
            sent += 1;
            bytes += message.len() as u64;
            writeln!(out, "write {sent}: {}", shown(&message))?;
        }
        // ANCHOR_END: write_each

        writeln!(
            out,
            "sent {} ({}) in {}, then shut down our sending side: no more data",
            count(sent, "message"),
            count(bytes, "byte"),
            count(sent, "write"),
        )?;
        let report = session.finish()?;
        writeln!(
            out,
            "the server read {} in {}, and took each read for one message",
            count(report.bytes, "byte"),
            count(report.reads, "read"),
        )?;
        if report.bytes != bytes {
            return Err(shared::Failure::new(format!(
                "the server counted {} but we sent {bytes}",
                report.bytes
            ))
            .hint("look at the server's log for the reason"));
        }
        writeln!(out, "verdict: {}", client::verdict(sent, report.reads))?;
        writeln!(out, "{}", client::THE_FIX)?;
        Ok(())
    })
}
