//! `lab06-client`: lists, downloads and uploads files, one command or many.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lab06_file_transfer::client::{self, Client, Command};
use lab06_file_transfer::folder::Folder;
use lab06_file_transfer::{Endpoint, partial};
use shared::Failure;

/// A temporary in the client's folder untouched for this long is left over
/// from a client that was killed; a live download writes to its temporary
/// far more often (and gives up after --timeout without progress).
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// Connects to lab06-server and runs one command (dir, get NAME, put PATH,
/// close), or, with none, the commands typed on stdin, one per line.
/// Exits with status 1 if any command failed.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    endpoint: Endpoint,

    /// The folder that `get` writes into and `put` reads relative paths from
    #[arg(long, value_name = "DIR", default_value = ".")]
    dir: PathBuf,

    /// Seconds to wait for the server (an answer, the next piece of a file)
    /// before giving up; once they are over, a file or a listing must also
    /// arrive at 16 KiB/s or more on average
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = shared::cli::seconds)]
    timeout: Duration,

    /// Draw no progress bar (it is only drawn when stderr is a terminal)
    #[arg(long)]
    quiet: bool,

    /// One command: `dir`, `get NAME`, `put PATH` or `close`; with none,
    /// commands are read from stdin, one per line (Ctrl-D ends)
    #[arg(value_name = "COMMAND")]
    command: Vec<String>,
}

fn main() -> ExitCode {
    let args: Args = shared::cli::parse();
    let mut all_succeeded = true;
    let status = shared::run(|| {
        // Check the command before connecting, so a typo costs no connection.
        let command = match args.command.as_slice() {
            [] => None,
            [verb] => Some(Command::from_parts(verb, None)?),
            [verb, argument] => Some(Command::from_parts(verb, Some(argument))?),
            _ => {
                return Err(Failure::new("too many words for one command")
                    .hint("quote a name with spaces: get 'my notes.txt'"));
            }
        };
        let folder = Folder::open(&args.dir).map_err(|err| {
            Failure::io(format_args!("use the folder {}", args.dir.display()), &err)
                .hint("give an existing folder with --dir")
        })?;
        // Clean-up is a courtesy; a folder we cannot list shows up on first use.
        if let Ok(stale) = partial::remove_stale(folder.path(), STALE_AFTER)
            && stale > 0
        {
            eprintln!(
                "removed {stale} unfinished temporary file(s) left by a killed client"
            );
        }
        let settings = client::Settings {
            timeout: args.timeout,
            show_progress: !args.quiet && io::stderr().is_terminal(),
        };
        let mut client = Client::connect(args.endpoint.clone(), folder, settings)?;
        all_succeeded = match command {
            Some(command) => run_and_report(&mut client, &command),
            None => run_from_stdin(&mut client)?,
        };
        // Say goodbye if the session is still open; a failure here changes
        // nothing for the user, whose commands are all done.
        let _ = client.close();
        Ok(())
    });
    if all_succeeded {
        status
    } else {
        ExitCode::FAILURE
    }
}

/// Runs each line of stdin as a command, prompting with `>> ` only when a
/// person types. Returns whether every command succeeded.
fn run_from_stdin(client: &mut Client) -> Result<bool, Failure> {
    let mut all_succeeded = true;
    for line in shared::cli::typed_lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        // ANCHOR: session_goes_on
        // A failed command is reported in one line and the session goes on:
        // one missing file is no reason to stop a script of fifty commands.
        match Command::parse(&line) {
            Ok(command) => {
                all_succeeded &= run_and_report(client, &command);
                if command == Command::Close {
                    return Ok(all_succeeded);
                }
            }
            Err(failure) => {
                eprintln!("error: {failure}");
                all_succeeded = false;
            }
        }
        // ANCHOR_END: session_goes_on
    }
    Ok(all_succeeded)
}

/// Runs one command, printing its result on stdout or its error on stderr.
fn run_and_report(client: &mut Client, command: &Command) -> bool {
    match client.run(command) {
        Ok(text) => {
            // Nothing sensible is left to do if stdout is gone.
            let _ = writeln!(io::stdout(), "{text}");
            true
        }
        Err(failure) => {
            eprintln!("error: {failure}");
            false
        }
    }
}
