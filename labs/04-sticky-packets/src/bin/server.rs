//! `lab04-server`: takes each read for one message, and tells each client how
//! many reads its bytes took.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lab04_sticky_packets::Endpoint;
use lab04_sticky_packets::server::{self, Settings};
use lab04_sticky_packets::shown::count;

/// Logs every read of every client as one message, and when a client closes
/// its sending side, answers `reads=R bytes=B`: how many reads its bytes
/// took. Runs until stopped with Ctrl-C; serves many clients at once.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    endpoint: Endpoint,

    #[command(flatten)]
    serving: shared::cli::Serving,

    /// Serve one client at a time (lab 02's `--sequential`): the next client waits until
    /// the current one leaves
    #[arg(long)]
    sequential: bool,

    /// Seconds to wait after accepting a client before the first read, like a
    /// busy server: what the client sends meanwhile piles up in the kernel
    #[arg(long, value_name = "SECONDS", value_parser = shared::cli::seconds)]
    read_delay: Option<Duration>,

    /// The most bytes one read takes (the size of the read buffer)
    #[arg(long, value_name = "BYTES", default_value_t = server::DEFAULT_READ_BUFFER_SIZE as u32,
          value_parser = clap::value_parser!(u32).range(1..=16 * 1024 * 1024))]
    read_buffer: u32,

    /// Ask the kernel for a receive buffer of this many bytes per connection
    /// (SO_RCVBUF); Linux doubles what is asked, and has a minimum
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(1..))]
    receive_buffer: Option<u32>,
}

fn main() -> ExitCode {
    let args: Args = shared::cli::parse();
    shared::run(|| {
        let mut settings = Settings {
            idle_timeout: args.serving.idle_timeout,
            max_clients: usize::from(args.serving.max_clients),
            log_messages: !args.serving.quiet,
            read_delay: args.read_delay,
            read_buffer_size: args.read_buffer as usize,
        };
        let listener =
            shared::net::listen_with_backlog(&args.endpoint, args.serving.backlog)?;
        let receive_buffer = match args.receive_buffer {
            Some(bytes) => Some(server::set_receive_buffer(&listener, bytes as usize)?),
            None => None,
        };
        shared::net::announce(listener.local_addr())?;
        eprintln!(
            "each read takes at most {} (--read-buffer)",
            count(settings.read_buffer_size as u64, "byte")
        );
        if let Some(bytes) = receive_buffer {
            eprintln!("each connection's receive buffer: {bytes} bytes (SO_RCVBUF)");
        }
        if args.sequential {
            // Lab 02's lesson, reused: one place for clients is one at a time.
            settings.max_clients = 1;
            eprintln!("serving one client at a time");
        } else {
            eprintln!("serving up to {} clients at once", settings.max_clients);
        }
        server::serve_concurrently(&listener, &settings);
        Ok(())
    })
}
