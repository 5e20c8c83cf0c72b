//! `lab02-crowd`: many clients arrive at once; reports connect and round-trip times.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lab02_loops::Endpoint;
use lab02_loops::crowd::{self, Plan, percentile};
use shared::Failure;

/// Starts CLIENTS clients at the same moment against a lab02-server (or any
/// echo-in-capitals server), and reports how long their connects and round
/// trips took.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    endpoint: Endpoint,

    /// How many clients arrive together
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..))]
    clients: u16,

    /// Round trips per client (0: connect only)
    #[arg(long, default_value_t = 0)]
    round_trips: usize,

    /// Bytes per message
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    size: u32,

    /// Seconds one connect may take before that client gives up
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = shared::cli::seconds)]
    connect_timeout: Duration,
}

fn main() -> ExitCode {
    let args: Args = shared::cli::parse();
    shared::run(|| {
        let server = shared::net::resolve(&args.endpoint)?[0];
        let plan = Plan {
            server,
            clients: usize::from(args.clients),
            round_trips: args.round_trips,
            message_size: args.size as usize,
            connect_timeout: args.connect_timeout,
        };
        let report = crowd::run(&plan);
        let mut out = std::io::stdout().lock();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        // ANCHOR: connect_report
        writeln!(
            out,
            "connects: {} of {} clients connected; \
             fastest {:.1} ms, median {:.1} ms, slowest {:.1} ms",
            report.connect_times.len(),
            plan.clients,
            ms(percentile(&report.connect_times, 0.0)),
            ms(percentile(&report.connect_times, 0.5)),
            ms(percentile(&report.connect_times, 1.0)),
        )?;
        let slow = report
            .connect_times
            .iter()
            .filter(|time| **time >= Duration::from_millis(500))
            .count();
        writeln!(
            out,
            "connects: {slow} took 0.5 s or more (a dropped SYN is sent again \
             after 1 s); {} gave up after {} s",
            report.failed_connects,
            plan.connect_timeout.as_secs_f64()
        )?;
        // ANCHOR_END: connect_report
        if plan.round_trips > 0 {
            writeln!(
                out,
                "round trips: {} in {:.2} s = {:.0} per second; latency p50 {:.3} ms, p99 {:.3} ms",
                report.round_trip_times.len(),
                report.elapsed.as_secs_f64(),
                report.round_trips_per_second(),
                ms(percentile(&report.round_trip_times, 0.5)),
                ms(percentile(&report.round_trip_times, 0.99)),
            )?;
        }
        if report.failed_clients > 0 {
            return Err(Failure::new(format!(
                "{} client(s) failed during their round trips",
                report.failed_clients
            ))
            .hint("look at the server's log; is it an echo-in-capitals server?"));
        }
        Ok(())
    })
}
