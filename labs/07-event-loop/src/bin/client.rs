//! `lab07-client`: sends lines and prints replies, or puts a server under load.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lab07_event_loop::client::Conversation;
use lab07_event_loop::load::{self, Plan, Report, percentile};
use lab07_event_loop::{Endpoint, open_files};
use shared::Failure;

/// Connects to lab07-server, sends each MESSAGE (or each line typed on
/// stdin) as a line and prints each reply. With --connections, opens that
/// many connections at once instead, and reports how the server coped.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    endpoint: Endpoint,

    /// Seconds to wait for each reply (with --connections: for the whole run)
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = shared::cli::seconds)]
    timeout: Duration,

    /// Load mode: hold this many connections open at once
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000), conflicts_with = "messages")]
    connections: Option<u32>,

    /// Load mode: round trips per connection, all connections at once
    #[arg(long, default_value_t = 1, requires = "connections")]
    rounds: usize,

    /// Load mode: bytes per line, its `\n` included
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=65_537), requires = "connections")]
    size: u32,

    /// Load mode: print only counts, not times (for output that must be the
    /// same on every run, such as the demo)
    #[arg(long, requires = "connections")]
    no_times: bool,

    /// Messages to send; with none, lines are read from stdin (Ctrl-D ends)
    messages: Vec<String>,
}

fn main() -> ExitCode {
    let args: Args = shared::cli::parse();
    shared::run(|| match args.connections {
        Some(connections) => put_under_load(&args, connections as usize),
        None => converse(&args),
    })
}

/// Sends each message (or stdin line) and prints each reply.
fn converse(args: &Args) -> Result<(), Failure> {
    // Refused before connecting, so the server never sees half a conversation.
    if args.messages.iter().any(|message| message.contains('\n')) {
        return Err(Failure::new("a message cannot contain a newline")
            .hint("each line is a message of its own: give them as separate arguments"));
    }
    let stream = shared::net::connect(&args.endpoint)?;
    let mut conversation = Conversation::new(stream, args.timeout)?;
    let mut say = |message: &str| -> Result<(), Failure> {
        let reply = conversation.ask(message)?;
        writeln!(io::stdout(), "{}", shared::text::printable_bytes(&reply))?;
        Ok(())
    };
    if args.messages.is_empty() {
        for line in shared::cli::typed_lines() {
            say(&line?)?;
        }
    } else {
        for message in &args.messages {
            say(message)?;
        }
    }
    Ok(())
}

/// The load mode: runs the plan and prints the report.
fn put_under_load(args: &Args, connections: usize) -> Result<(), Failure> {
    // Every connection is a file descriptor; leave room for a few others.
    let needed = connections as u64 + 32;
    let limit = open_files::raise_to_hold(needed)?;
    if limit.raised() {
        eprintln!(
            "raised the open-file limit from {} to {} for {connections} connections",
            limit.before, limit.now
        );
    }
    if limit.now < needed {
        return Err(Failure::new(format!(
            "{connections} connections need {needed} open files, but this process may open only {}",
            limit.now
        ))
        .hint(
            "lower --connections, or ask an administrator to raise the hard limit (ulimit -Hn)",
        ));
    }
    let plan = Plan {
        server: shared::net::resolve(&args.endpoint)?[0],
        connections,
        rounds: args.rounds,
        line_size: args.size as usize,
        deadline: args.timeout,
    };
    let report = load::run(&plan)?;
    print_report(&plan, &report, !args.no_times)?;
    match &report.first_failure {
        None => Ok(()),
        Some(first) => Err(Failure::new(format!(
            "{} of {} connections failed; the first: {first}",
            report.failures, plan.connections
        ))
        .hint(
            "look at the server's log; is it running, and is its --backlog large enough?",
        )),
    }
}

/// Prints what the load saw, with or without times.
fn print_report(plan: &Plan, report: &Report, times: bool) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    let ms = |time: Duration| time.as_secs_f64() * 1000.0;
    // ANCHOR: load_report
    write!(
        out,
        "connects: {} of {} connections open at once",
        report.connect_times.len(),
        plan.connections
    )?;
    if times {
        write!(
            out,
            ", all within {:.3} s; connect p50 {:.1} ms, p99 {:.1} ms",
            report.all_connected.as_secs_f64(),
            ms(percentile(&report.connect_times, 0.5)),
            ms(percentile(&report.connect_times, 0.99)),
        )?;
    }
    writeln!(out)?;
    write!(
        out,
        "round trips: {} of {}, every reply checked",
        report.round_trip_times.len(),
        plan.connections * plan.rounds
    )?;
    if times {
        write!(
            out,
            ", in {:.3} s = {:.0} per second; latency p50 {:.2} ms, p99 {:.2} ms",
            report.rounds_elapsed.as_secs_f64(),
            report.round_trips_per_second(),
            ms(percentile(&report.round_trip_times, 0.5)),
            ms(percentile(&report.round_trip_times, 0.99)),
        )?;
    }
    writeln!(out)?;
    writeln!(out, "failures: {}", report.failures)?;
    // ANCHOR_END: load_report
    Ok(())
}
