//! `lab02-keepalive`: the same requests over one connection, then over a new
//! connection each; prints the time both ways take.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lab02_loops::Endpoint;
use lab02_loops::crowd::percentile;
use lab02_loops::keepalive;

/// Sends REQUESTS messages to a lab02-server (or any echo-in-capitals
/// server), each awaiting its reply: first all on one connection
/// (keep-alive), then each on a connection of its own (short connections).
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    endpoint: Endpoint,

    /// How many requests to send each way
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    requests: u32,
}

fn main() -> ExitCode {
    let args: Args = shared::cli::parse();
    shared::run(|| {
        let server = shared::net::resolve(&args.endpoint)?[0];
        let requests = args.requests as usize;
        let message = "keep me alive?";
        let kept = keepalive::one_connection(server, requests, message)?;
        let short = keepalive::new_connection_each(server, requests, message)?;

        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "{requests} requests of {} bytes to {server}, each awaiting its reply:",
            message.len()
        )?;
        let total = |times: &[Duration]| times.iter().sum::<Duration>();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        for (way, times) in [
            ("one connection for all", &kept),
            ("a new connection each", &short),
        ] {
            let mut sorted = times.clone();
            sorted.sort();
            writeln!(
                out,
                "  {way:<22}  total {:7.1} ms; per request p50 {:.3} ms, p99 {:.3} ms",
                ms(total(times)),
                ms(percentile(&sorted, 0.5)),
                ms(percentile(&sorted, 0.99)),
            )?;
        }
        writeln!(
            out,
            "short connections took {:.1}x as long; this side closed each one first,\n\
             so its kernel keeps each of them in TIME_WAIT for about a minute",
            total(&short).as_secs_f64() / total(&kept).as_secs_f64().max(f64::EPSILON)
        )?;
        Ok(())
    })
}
