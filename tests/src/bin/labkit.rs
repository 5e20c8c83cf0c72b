//! `labkit`: the helper behind the justfile's recipes.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use labkit::grade::{self, Subject};
use labkit::{book, book_listings, demo, labs, starter};
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
    /// Grades each lab's deliberately broken fixtures: each must lose exactly its checks
    CheckFixtures {
        /// The labs to check (all that have fixtures when none is given)
        labs: Vec<String>,
    },
    /// Grades every correct program N times with every core kept busy: each grade must be full marks
    CheckFlakes {
        /// How many times to grade each program
        runs: usize,
        /// The labs to check (all that have a rubric when none is given)
        labs: Vec<String>,
        /// How many grades run at the same time
        #[arg(long, default_value_t = 4)]
        at_once: usize,
    },
    /// Relays TCP connections to a server, re-cutting the byte stream so framing bugs show
    Proxy(ProxyArgs),
    /// Grades a lab's programs (ours by default) against the lab's rubric
    Grade(GradeArgs),
    /// Grades every student of a class folder, each in a sandbox, into a gradebook
    GradeClass(labkit::class::batch::ClassArgs),
    /// Writes a Gradescope autograder zip for a lab
    Autograder(labkit::class::autograder::ZipArgs),
    /// Grades the submission in the autograder's folders (run_autograder calls this)
    #[command(hide = true)]
    RunAutograder(labkit::class::autograder::RunArgs),
    /// Grades the programs in the current folder and prints the report as JSON
    /// (grade-class runs this inside each sandbox)
    #[command(hide = true)]
    GradeHere(labkit::class::GradeHereArgs),
    /// Captures labs' demo output and rubric tables into the book
    Transcripts {
        /// The labs to capture (all when none is given)
        labs: Vec<String>,
    },
    /// Prints the name of a lab's binary, such as lab01-server
    Binary {
        /// The lab: 1, 01, or its name (hello)
        lab: String,
        /// Which program: server or client
        role: String,
    },
    /// Writes a student's starter crate for a lab: the lab with its lessons left as TODOs
    Starter {
        /// The lab: 1, 01, or its name (hello)
        lab: String,
        /// A new (or empty) folder to write the starter into
        dir: PathBuf,
    },
    /// Checks that every starter builds and fails its grade, and every reference passes
    CheckStarters,
    /// Checks that every {{#include file:anchor}} and every link between chapters resolves, and that the built pages show every listing at the margin
    CheckBook {
        /// The book's source folder
        #[arg(default_value = "book/src")]
        src: PathBuf,
        /// The built book (mdbook build book), whose pages show the listings as readers see them
        #[arg(long, default_value = "book/build")]
        html: PathBuf,
    },
    /// Captures the book's packets on the wire with tcpdump (needs root), or checks them
    Captures {
        /// Compare fresh captures with the book's transcripts instead of writing them
        #[arg(long)]
        check: bool,
    },
    /// Runs every shell command the book shows, in a scratch copy, and compares its output
    CheckBookCommands {
        /// The book's source folder, or one chapter
        #[arg(default_value = "book/src")]
        src: PathBuf,
        /// Also list the slowest commands, with their times
        #[arg(long)]
        times: bool,
    },
}

/// What `labkit proxy` takes.
#[derive(clap::Args)]
struct ProxyArgs {
    /// The server to relay to, as HOST:PORT
    #[arg(long, value_name = "HOST:PORT")]
    to: String,
    #[command(flatten)]
    endpoint: shared::Endpoint<9000>,
    /// How to cut the stream: every byte alone, random pieces, or merged writes
    #[arg(long, value_enum, default_value = "random")]
    cut: labkit::proxy::Cut,
    /// Largest piece for --cut random
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..))]
    max_chunk: u32,
    /// Milliseconds to pause after each piece (bytes, random), or to gather
    /// writes before sending them as one (merge)
    #[arg(long, default_value_t = 1)]
    delay_ms: u64,
    /// Seed of the random cuts; the same seed gives the same cuts
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// What `labkit grade` takes.
#[derive(clap::Args)]
struct GradeArgs {
    /// The lab: 1, 01, or its name (hello)
    lab: String,
    /// The server to grade, as a command; the contract's options are appended
    /// (e.g. 'python3 server.py')
    #[arg(long, value_name = "COMMAND")]
    server: Option<String>,
    /// The client to grade, as a command (e.g. 'python3 client.py')
    #[arg(long, value_name = "COMMAND")]
    client: Option<String>,
    /// A student's Rust crate to build with cargo and grade
    #[arg(long = "crate", value_name = "PATH", conflicts_with_all = ["server", "client"])]
    crate_path: Option<PathBuf>,
    /// Run only this check
    #[arg(long, value_name = "CHECK")]
    only: Option<String>,
    /// Seconds a server may take to print its listening line: Python
    /// starting on a busy machine can need more than the default
    #[arg(long = "startup-timeout", value_name = "SECONDS", default_value = "5",
          value_parser = shared::cli::seconds)]
    startup_timeout: std::time::Duration,
    /// text for people, json for Gradescope's results.json
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Checks whose results students see only after the due date (json)
    #[arg(long, value_name = "CHECK,...", value_delimiter = ',')]
    hide: Vec<String>,
    /// Run the whole grade in a sandbox: no network but its own loopback, a
    /// read-only system, limits on processes, memory and file size
    #[arg(long)]
    sandbox: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
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
        Action::Grade(grade_args) if grade_args.sandbox => {
            labkit::class::sandbox::run_this_inside(&bin_dir()?, "--sandbox")
        }
        Action::Grade(grade_args) => grade(grade_args),
        Action::GradeClass(class_args) => {
            labkit::class::batch::run(class_args, &std::env::current_exe()?)
        }
        Action::Autograder(zip_args) => labkit::class::autograder::write_zip(&zip_args),
        Action::RunAutograder(run_args) => labkit::class::autograder::run(&run_args, &bin_dir()?),
        Action::GradeHere(here_args) => labkit::class::grade_here_command(&here_args, &bin_dir()?),
        Action::Proxy(proxy_args) => proxy(proxy_args),
        Action::CheckFixtures { labs: wanted } => check_fixtures(&wanted),
        Action::CheckFlakes {
            runs,
            labs: wanted,
            at_once,
        } => check_flakes(runs, &wanted, at_once),
        Action::Transcripts { labs: wanted } => {
            let bin_dir = bin_dir()?;
            let chosen = if wanted.is_empty() {
                labs::all()
            } else {
                wanted
                    .iter()
                    .map(|lab| labs::find(lab))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(Failure::new)?
            };
            for lab in chosen {
                let checks = grade::rubric(&lab);
                if !checks.is_empty() {
                    let path = grade::rubric_table_path(&lab);
                    std::fs::write(&path, grade::report::rubric_table(&checks)).map_err(|err| {
                        Failure::io(format_args!("write {}", path.display()), &err)
                    })?;
                    writeln!(std::io::stdout(), "wrote {}", path.display())?;
                }
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
        Action::Starter { lab, dir } => {
            let lab = labs::find(&lab).map_err(Failure::new)?;
            let suite = suite_dir();
            let starter = starter::generate(&lab, &suite).map_err(Failure::new)?;
            let written = starter::write(&starter, &dir).map_err(Failure::new)?;
            let mut stdout = std::io::stdout().lock();
            writeln!(
                stdout,
                "wrote lab {}'s starter to {}, with {} TODO(s) to write:",
                lab.number,
                written.display(),
                starter.todos.len()
            )?;
            for todo in &starter.todos {
                writeln!(
                    stdout,
                    "  {}:{}: {}",
                    todo.file.display(),
                    todo.line,
                    todo.text
                )?;
            }
            writeln!(
                stdout,
                "read {} first; grade it with: just grade {} --crate {}",
                written.join("README.md").display(),
                lab.number,
                grade::shell_quote(&written.to_string_lossy())
            )?;
            Ok(())
        }
        Action::CheckStarters => {
            let say = |line: &str| {
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "{line}");
                let _ = stdout.flush();
            };
            starter::check_all(&suite_dir(), &bin_dir()?, &say).map_err(|problems| {
                eprintln!("{problems}");
                Failure::new("the starters are not right (see above)").hint(
                    "a starter must build without warnings and lose points; its reference must score full marks",
                )
            })
        }
        Action::CheckBookCommands { src, times } => check_book_commands(&src, times),
        Action::Captures { check } => captures(check),
        Action::CheckBook { src, html } => {
            let mut broken = book::check_includes(&src).map_err(Failure::new)?;
            broken.extend(book::check_links(&src).map_err(Failure::new)?);
            let unresolved = broken.len();
            broken.extend(book::check_lengths(&src).map_err(Failure::new)?);
            broken.extend(book_listings::check(&src, &html).map_err(Failure::new)?);
            for include in &broken {
                eprintln!("{}: {}", include.chapter.display(), include.problem);
            }
            if unresolved > 0 {
                Err(Failure::new(format!(
                    "{unresolved} book include(s) or link(s) point at something that is not there"
                ))
                .hint("fix the path or the heading, or add the ANCHOR / ANCHOR_END markers to the source"))
            } else if !broken.is_empty() {
                Err(Failure::new(format!(
                    "{} page(s) or listing(s) of the built book do not read as they should",
                    broken.len()
                ))
                .hint("each line above says which and why; rebuild the book (mdbook build book) after a fix"))
            } else {
                Ok(())
            }
        }
    })
}

/// Captures every wire scenario and writes its transcript, or (`check`)
/// compares it with the stored one. A capture tcpdump may not make is skipped.
fn captures(check: bool) -> Result<(), Failure> {
    use labkit::wire::{self, Outcome};
    let bin_dir = bin_dir()?;
    let (mut same, mut skipped, mut differ) = (0, 0, Vec::new());
    let mut stdout = std::io::stdout().lock();
    for scenario in wire::scenarios() {
        let path = wire::transcript_path(&scenario);
        let lines = match scenario.capture(&bin_dir) {
            Ok(lines) => lines,
            Err(Outcome::Skipped(why)) => {
                writeln!(stdout, "skipped {}: {why}", scenario.file)?;
                skipped += 1;
                continue;
            }
            Err(Outcome::Failed(why)) => {
                return Err(Failure::new(format!("capturing {}: {why}", scenario.about)));
            }
        };
        if check {
            let stored: Vec<String> = std::fs::read_to_string(&path)
                .map_err(|err| Failure::io(format_args!("read {}", path.display()), &err))?
                .lines()
                .map(String::from)
                .collect();
            if wire::normalised(&stored) == wire::normalised(&lines) {
                same += 1;
            } else {
                eprintln!("{} now captures:\n{}\n", path.display(), lines.join("\n"));
                differ.push(scenario.file);
            }
        } else {
            std::fs::write(&path, lines.join("\n") + "\n")
                .map_err(|err| Failure::io(format_args!("write {}", path.display()), &err))?;
            writeln!(stdout, "wrote {}", path.display())?;
        }
    }
    if check {
        writeln!(stdout, "captures: {same} as stored, {skipped} skipped")?;
    }
    if differ.is_empty() {
        Ok(())
    } else {
        Err(
            Failure::new(format!("the packets of {} changed", differ.join(", ")))
                .hint("if the change is right, run `just captures` and commit the transcripts"),
        )
    }
}

/// Runs the book's commands and prints one line of counts; fails on any problem.
fn check_book_commands(src: &std::path::Path, times: bool) -> Result<(), Failure> {
    let bin_dir = bin_dir()?;
    let setup = labkit::book_commands::Setup {
        suite: suite_dir(),
        target: bin_dir.parent().unwrap_or(&bin_dir).to_path_buf(),
        sandboxed: labkit::book_commands::sandbox_works(),
    };
    if !setup.sandboxed {
        eprintln!(
            "(bwrap cannot make a network namespace here: running the chapters one after another)"
        );
    }
    let mut summary = labkit::book_commands::check(src, &setup).map_err(Failure::new)?;
    if times {
        summary.timings.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (seconds, at) in summary.timings.iter().take(15) {
            eprintln!("{seconds:6.2} s  {at}");
        }
    }
    for problem in &summary.problems {
        eprintln!("{problem}\n");
    }
    writeln!(std::io::stdout(), "{}", summary.line())?;
    if summary.problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "{} of the book's commands do not run as the book shows",
            summary.problems.len()
        ))
        .hint("fix the chapter or the program; mark what cannot run here with <!-- book-check: skip (why) -->"))
    }
}

/// The suite's folder, which holds `labs/`, `shared/` and the workspace's `Cargo.toml`.
fn suite_dir() -> PathBuf {
    let labs = labs::labs_dir();
    labs.parent().unwrap_or(&labs).to_path_buf()
}

/// The folder this program was built into, where the labs' binaries are too.
fn bin_dir() -> Result<PathBuf, Failure> {
    let exe =
        std::env::current_exe().map_err(|err| Failure::io("find this program's folder", &err))?;
    Ok(exe.parent().unwrap_or(&exe).to_path_buf())
}

/// Grades a lab and prints the report; fails unless every check passed.
fn grade(args: GradeArgs) -> Result<(), Failure> {
    let lab = labs::find(&args.lab).map_err(Failure::new)?;
    let reference = Subject::reference(&lab, &bin_dir()?);
    if grade::rubric(&lab).is_empty() {
        return Err(
            Failure::new(format!("lab {} has no rubric yet", lab.number))
                .hint("the graded labs are listed in the book's chapter for instructors"),
        );
    }
    let mut subject = Subject {
        server: args
            .server
            .clone()
            .unwrap_or_else(|| reference.server.clone()),
        client: args
            .client
            .clone()
            .unwrap_or_else(|| reference.client.clone()),
    };
    let mut build_note = None;
    if let Some(path) = &args.crate_path {
        let (built, seconds) = build_crate(&lab, path)?;
        subject = built;
        build_note = Some(format!(
            "built {} in {seconds:.1} s (not counted in any check's time)",
            path.display()
        ));
    }
    let part = grade::Part::handed_in(args.server.is_some(), args.client.is_some());
    if let Some(only) = &args.only {
        let Some(check) = grade::rubric(&lab)
            .into_iter()
            .find(|check| check.id == only)
        else {
            return Err(
                Failure::new(format!("lab {} has no check '{only}'", lab.number))
                    .hint("run without --only to see every check's name"),
            );
        };
        if !part.grades(check.role) {
            return Err(Failure::new(format!(
                "check '{only}' grades the {}, which was not handed in",
                match check.role {
                    grade::Role::Both => "server and the client together",
                    role => role.name(),
                }
            ))
            .hint("give --server and --client (or neither, to grade ours) to run it"));
        }
    }
    let outcomes = grade::grade(
        &lab,
        &subject,
        &reference,
        part,
        args.only.as_deref(),
        args.startup_timeout,
    );
    let mut stdout = std::io::stdout().lock();
    match args.format {
        Format::Json => writeln!(
            stdout,
            "{}",
            grade::report::gradescope(part, &outcomes, &args.hide)
        )?,
        Format::Text => {
            if let Some(note) = &build_note {
                writeln!(stdout, "{note}")?;
            }
            let reproduce = |id: &str| {
                let mut words = format!("just grade {} --only {id}", lab.number);
                if let Some(path) = &args.crate_path {
                    words += &format!(" --crate {}", grade::shell_quote(&path.to_string_lossy()));
                }
                if let Some(server) = &args.server {
                    words += &format!(" --server {}", grade::shell_quote(server));
                }
                if let Some(client) = &args.client {
                    words += &format!(" --client {}", grade::shell_quote(client));
                }
                words
            };
            write!(
                stdout,
                "{}",
                grade::report::text(&lab.number, part, &outcomes, &reproduce)
            )?;
        }
    }
    let (earned, possible) = grade::report::totals(&outcomes);
    if earned == possible {
        Ok(())
    } else {
        Err(Failure::new(format!("{earned} of {possible} points"))
            .hint("each failed check above says what it expected and how to run it again"))
    }
}

/// Builds a student's crate in release mode and returns its programs, with
/// the build time.
fn build_crate(lab: &labs::Lab, path: &std::path::Path) -> Result<(Subject, f64), Failure> {
    let manifest = path.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(
            Failure::new(format!("{} has no Cargo.toml", path.display()))
                .hint("--crate takes the folder of a Rust crate"),
        );
    }
    let target = std::env::temp_dir().join(format!("labkit-grade-{}", std::process::id()));
    eprintln!("building {} with cargo...", path.display());
    let started = std::time::Instant::now();
    let status = std::process::Command::new("cargo")
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target)
        .status()
        .map_err(|err| Failure::io("run cargo", &err))?;
    let seconds = started.elapsed().as_secs_f64();
    if !status.success() {
        return Err(Failure::new(format!("{} does not build", path.display()))
            .hint("cargo's errors are above; a crate that does not build scores 0"));
    }
    let bin_dir = target.join("release");
    for role in ["server", "client"] {
        if !bin_dir.join(lab.binary(role)).is_file() {
            return Err(Failure::new(format!(
                "the crate builds no binary named {}",
                lab.binary(role)
            ))
            .hint("the binaries must be named as in the lab: labNN-server and labNN-client"));
        }
    }
    Ok((Subject::reference(lab, &bin_dir), seconds))
}

/// Runs the re-cutting proxy until stopped.
fn proxy(args: ProxyArgs) -> Result<(), Failure> {
    use std::net::ToSocketAddrs;
    let target = args
        .to
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| {
            Failure::new(format!("bad address '{}'", args.to))
                .hint("give the server as HOST:PORT, such as 127.0.0.1:8005")
        })?;
    let listener = shared::net::listen(&args.endpoint)?;
    let local = shared::net::announce(listener.local_addr())?;
    eprintln!(
        "relaying every connection to {target}, cutting the stream: {:?} (connect your client to port {})",
        args.cut,
        local.port()
    );
    let recut = labkit::proxy::Recut {
        cut: args.cut,
        max_chunk: args.max_chunk as usize,
        delay: std::time::Duration::from_millis(args.delay_ms),
        cut_head: usize::MAX,
        seed: args.seed,
        log_errors: true,
    };
    labkit::proxy::serve(&listener, target, recut);
    Ok(())
}

/// Grades every fixture of the chosen labs, one lab after another.
fn check_fixtures(wanted: &[String]) -> Result<(), Failure> {
    let chosen = chosen_labs(wanted, |lab| {
        grade::fixtures::fixtures_dir()
            .join(format!("lab{}", lab.number))
            .is_dir()
    })?;
    let bin_dir = bin_dir()?;
    let mut failed = Vec::new();
    for lab in &chosen {
        let started = std::time::Instant::now();
        match grade::fixtures::check_fixtures(lab, &bin_dir) {
            Ok(count) => writeln!(
                std::io::stdout(),
                "lab {}: {count} fixtures, each lost exactly its checks ({:.1} s)",
                lab.number,
                started.elapsed().as_secs_f64()
            )?,
            Err(problems) => {
                eprintln!("{problems}");
                failed.push(lab.number.clone());
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "the fixtures of lab(s) {} did not lose exactly their checks",
            failed.join(", ")
        ))
        .hint("each report above shows what the fixture lost and what it should have lost"))
    }
}

/// Grades every correct program of the chosen labs `runs` times on busy
/// cores; fails with the first bad report of each program that missed.
fn check_flakes(runs: usize, wanted: &[String], at_once: usize) -> Result<(), Failure> {
    let chosen = chosen_labs(wanted, |lab| !grade::rubric(lab).is_empty())?;
    let bin_dir = bin_dir()?;
    let busy = grade::flakes::BusyCores::start();
    let mut missed = Vec::new();
    for lab in &chosen {
        let tallies =
            grade::flakes::check_flakes(lab, &bin_dir, runs, at_once).map_err(Failure::new)?;
        for tally in tallies {
            writeln!(std::io::stdout(), "{}", tally.summary())?;
            if let Some(report) = &tally.first_miss {
                eprintln!(
                    "{}: the first grade that was not full marks:\n{report}",
                    tally.summary()
                );
                missed.push(format!("lab {} {}", tally.lab, tally.name));
            }
        }
    }
    drop(busy);
    if missed.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "not every grade was full marks: {}",
            missed.join(", ")
        ))
        .hint("each first miss is reported above; a check that fails only sometimes depends on timing"))
    }
}

/// The labs named in `wanted`, or when none is named, every lab `by_default`
/// picks.
fn chosen_labs(
    wanted: &[String],
    by_default: impl Fn(&labs::Lab) -> bool,
) -> Result<Vec<labs::Lab>, Failure> {
    if wanted.is_empty() {
        return Ok(labs::all()
            .into_iter()
            .filter(|lab| by_default(lab))
            .collect());
    }
    wanted
        .iter()
        .map(|lab| labs::find(lab))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::new)
}
