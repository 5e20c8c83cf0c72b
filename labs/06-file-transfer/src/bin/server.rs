//! `lab06-server`: shares one folder with `dir`, `get`, `put` and `close`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lab06_file_transfer::folder::Folder;
use lab06_file_transfer::server::{self, Settings};
use lab06_file_transfer::size::{format_size, parse_size};
use lab06_file_transfer::{Endpoint, partial};
use shared::Failure;

/// Shares the files of one folder: clients list them (dir), download them
/// (get) and upload new ones (put), until stopped with Ctrl-C. Serves many
/// clients at once, a thread each.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    endpoint: Endpoint,

    #[command(flatten)]
    serving: shared::cli::Serving,

    #[command(flatten)]
    deadlines: shared::cli::Deadlines,

    /// The folder to share (created if missing); nothing outside it is ever
    /// read or written
    #[arg(long, value_name = "DIR", default_value = "served")]
    root: PathBuf,

    /// The largest file a client may put, such as 4GiB, 500MiB or 1000000
    #[arg(long, value_name = "SIZE", default_value = "4GiB", value_parser = parse_size)]
    max_size: u64,
}

fn main() -> ExitCode {
    let args: Args = shared::cli::parse();
    shared::run(|| {
        let root = args.root.display();
        let folder = Folder::create(&args.root).map_err(|err| {
            Failure::io(format_args!("share the folder {root}"), &err)
                .hint("pick a folder you can write to with --root")
        })?;
        // The server owns its folder: a temporary in it can only be left over
        // from a run that was killed mid-transfer.
        let stale = partial::remove_stale(folder.path(), Duration::ZERO)
            .map_err(|err| Failure::io(format_args!("look into {root}"), &err))?;
        let settings = Settings {
            folder,
            max_size: args.max_size,
            idle_timeout: args.serving.idle_timeout,
            deadlines: args.deadlines.clone(),
            max_clients: usize::from(args.serving.max_clients),
            log_commands: !args.serving.quiet,
        };
        let listener =
            shared::net::listen_with_backlog(&args.endpoint, args.serving.backlog)?;
        shared::net::announce(listener.local_addr())?;
        if stale > 0 {
            eprintln!(
                "removed {stale} unfinished temporary file(s) left by an earlier run"
            );
        }
        eprintln!(
            "sharing the folder {root} (files up to {}), serving up to {} client(s) at once",
            format_size(settings.max_size),
            settings.max_clients
        );
        server::serve_concurrently(&listener, &settings);
        Ok(())
    })
}
