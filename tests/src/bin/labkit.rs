//! `labkit`: the helper behind the justfile's recipes.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use labkit::{book, demo, labs};
use shared::Failure;

/// Runs lab demos and checks the book; `just` calls it for you.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    command: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Runs a lab's real server and client together and prints both sides
    Demo {
        /// The lab: 1, 01, or its name (hello)
        lab: String,
    },
    /// Captures each lab's demo output into book/src/transcripts/ for the book
    Transcripts,
    /// Prints the name of a lab's binary, such as lab01-server
    Binary {
        /// The lab: 1, 01, or its name (hello)
        lab: String,
        /// Which program: server or client
        role: String,
    },
    /// Checks that every {{#include file:anchor}} in the book resolves
    CheckBook {
        /// The book's source folder
        #[arg(default_value = "book/src")]
        src: PathBuf,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    shared::run(|| match args.command {
        Action::Demo { lab } => {
            let lab = labs::find(&lab).map_err(Failure::new)?;
            let bin_dir = bin_dir()?;
            let print: labkit::process::Tee = Arc::new(|line: &str| {
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "{line}");
                let _ = stdout.flush();
            });
            demo::run(&lab, &bin_dir, print).map_err(Failure::new)
        }
        Action::Transcripts => {
            let bin_dir = bin_dir()?;
            for lab in labs::all() {
                let lines = demo::capture(&lab, &bin_dir).map_err(Failure::new)?;
                let path = demo::transcript_path(&lab);
                std::fs::write(&path, lines.join("\n") + "\n")
                    .map_err(|err| Failure::io(format_args!("write {}", path.display()), &err))?;
                writeln!(std::io::stdout(), "wrote {}", path.display())?;
            }
            Ok(())
        }
        Action::Binary { lab, role } => {
            let lab = labs::find(&lab).map_err(Failure::new)?;
            writeln!(std::io::stdout(), "{}", lab.binary(&role))?;
            Ok(())
        }
        Action::CheckBook { src } => {
            let broken = book::check_includes(&src).map_err(Failure::new)?;
            for include in &broken {
                eprintln!("{}: {}", include.chapter.display(), include.problem);
            }
            if broken.is_empty() {
                Ok(())
            } else {
                Err(Failure::new(format!(
                    "{} book include(s) point at code that is not there",
                    broken.len()
                ))
                .hint("fix the path, or add the ANCHOR / ANCHOR_END markers to the source"))
            }
        }
    })
}

/// The folder this program was built into, where the labs' binaries are too.
fn bin_dir() -> Result<PathBuf, Failure> {
    let exe =
        std::env::current_exe().map_err(|err| Failure::io("find this program's folder", &err))?;
    Ok(exe.parent().unwrap_or(&exe).to_path_buf())
}
