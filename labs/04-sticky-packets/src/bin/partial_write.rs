//! `lab04-partial-write`: one `write` of several MiB takes only part of them,
//! and a loop like `write_all` sends the rest.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use lab04_sticky_packets::partial_write;

/// Opens a connection to itself on 127.0.0.1, makes one non-blocking write of
/// --size bytes while the other side does not read, and shows that write()
/// took only part of them; then sends the rest in a loop, as write_all does.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// How many bytes the one big write is asked to send
    #[arg(long, value_name = "BYTES", default_value_t = 8 * 1024 * 1024,
          value_parser = clap::value_parser!(u32).range(1..=256 * 1024 * 1024))]
    size: u32,

    /// The send and receive buffer sizes to ask the kernel for (SO_SNDBUF,
    /// SO_RCVBUF); Linux doubles what is asked
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    buffer: u32,
}

fn main() -> ExitCode {
    let args: Args = shared::cli::parse();
    shared::run(|| {
        let outcome =
            partial_write::demonstrate(args.size as usize, args.buffer as usize)?;
        let mut out = io::stdout().lock();
        writeln!(
            out,
            "a connection to ourselves on {}; its receiving side does not read yet",
            outcome.address
        )?;
        writeln!(
            out,
            "kernel buffers: send {} bytes (SO_SNDBUF), receive {} bytes (SO_RCVBUF)",
            outcome.send_buffer, outcome.receive_buffer
        )?;
        let percent = outcome.first_write as f64 * 100.0 / outcome.asked as f64;
        writeln!(
            out,
            "write() was asked to send {} bytes and returned {}: {percent:.1}% of them",
            outcome.asked, outcome.first_write
        )?;
        if outcome.first_write == outcome.asked {
            writeln!(
                out,
                "everything fitted in the buffers this time; try a larger --size or a smaller --buffer"
            )?;
        } else {
            writeln!(
                out,
                "no error: only that number says that {} bytes were not sent; \
                 code that ignores it loses them without a word",
                outcome.asked - outcome.first_write
            )?;
            writeln!(
                out,
                "the other side reads now; a loop like write_all() hands write() the rest \
                 until none is left: {} more write() calls, {} short waits for room",
                outcome.more_writes, outcome.waits
            )?;
        }
        writeln!(
            out,
            "the other side received {} bytes, every one in its place",
            outcome.received
        )?;
        Ok(())
    })
}
