//! Checks of the command-line contract that every lab must keep.
//!
//! Every lab's tests call these with its own binaries, so the contract is
//! written down once: the listening line, `--port 0`, and the one-line
//! `error: …` with a hint for a busy port or a missing server.

use std::path::Path;

use crate::process::Server;

/// The server prints `listening on IP:PORT` with the real port when asked for port 0.
pub fn server_announces_its_real_address(server: impl AsRef<Path>, args: &[&str]) {
    let server = Server::start(server.as_ref(), args).expect("the server starts");
    assert_ne!(
        server.addr().port(),
        0,
        "the listening line must show the real port"
    );
    assert!(
        server.addr().ip().is_loopback(),
        "the default host is 127.0.0.1"
    );
}

/// A second server on a port that is taken fails with one `error:` line naming the
/// port and how to find who holds it.
pub fn busy_port_is_one_clear_error(server: impl AsRef<Path>, args: &[&str]) {
    let first = Server::start(server.as_ref(), args).expect("the first server starts");
    let port = first.port();
    let output = assert_cmd::Command::new(server.as_ref())
        .args(args)
        .args(["--port", &port])
        .timeout(std::time::Duration::from_secs(10))
        .output()
        .expect("the second server runs");
    assert!(!output.status.success(), "the second server must fail");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_one_error_line(&stderr);
    assert!(stderr.contains("address already in use"), "{stderr}");
    assert!(
        stderr.contains("`ss -l"),
        "the hint shows how to find the holder: {stderr}"
    );
    assert!(stderr.contains(&format!("'sport = :{port}'")), "{stderr}");
    assert!(
        output.stdout.is_empty(),
        "no listening line when binding failed"
    );
}

/// A client with no server to talk to fails with one `error:` line that says the
/// server may not be running and how to start it.
pub fn client_without_server_is_one_clear_error(
    client: impl AsRef<Path>,
    args: &[&str],
    expected: &str,
) {
    let unused = UnusedPort::new();
    let output = assert_cmd::Command::new(client.as_ref())
        .args(["--port", &unused.port().to_string()])
        .args(args)
        .timeout(std::time::Duration::from_secs(20))
        .output()
        .expect("the client runs");
    assert!(
        !output.status.success(),
        "a client with no server must fail"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_one_error_line(&stderr);
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in {stderr}"
    );
    assert!(
        stderr.contains("just server"),
        "the hint says how to start the server: {stderr}"
    );
}

/// A usage error (here an option that does not exist) is one `error: … (hint: …)`
/// line on stderr and exit status 2, not clap's several lines of report.
pub fn usage_error_is_one_line_with_status_2(program: impl AsRef<Path>, args: &[&str]) {
    let program = program.as_ref();
    let output = assert_cmd::Command::new(program)
        .args(args)
        .timeout(std::time::Duration::from_secs(10))
        .output()
        .expect("the program runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "usage errors exit with 2: {} said {stderr}",
        program.display()
    );
    assert_one_error_line(&stderr);
    assert_eq!(
        stderr.lines().count(),
        1,
        "one line and nothing else from {}: {stderr}",
        program.display()
    );
    assert!(output.stdout.is_empty(), "nothing on stdout");
}

/// [`usage_error_is_one_line_with_status_2`] for every program of `lab`
/// found in `bin_dir`: its server and client, and every extra tool its
/// Cargo.toml lists, so that a tool added later keeps the contract too.
pub fn every_program_answers_a_usage_error_in_one_line(lab: &str, bin_dir: &Path) {
    let lab = crate::labs::find(lab).expect("the lab exists");
    let programs = lab.programs();
    assert!(
        programs.contains(&lab.binary("server")) && programs.contains(&lab.binary("client")),
        "the lab's Cargo.toml lists its programs: {programs:?}"
    );
    for program in programs {
        usage_error_is_one_line_with_status_2(bin_dir.join(program), &["--no-such-option"]);
    }
}

/// A port that nothing listens on, and that nothing else can take while this
/// value lives: a TCP socket bound to it that never calls `listen`, so a
/// connect there is refused at once.
///
/// Asking the OS for a free port and closing it again is not enough when
/// tests run side by side: another test's server may be given that very port
/// a moment later, and the "missing" server is suddenly there.
pub struct UnusedPort {
    /// Held, never used: while it lives, the port is ours.
    _reservation: socket2::Socket,
    port: u16,
}

impl UnusedPort {
    /// Reserves a port on 127.0.0.1.
    pub fn new() -> UnusedPort {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("a TCP socket");
        let any_port: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
        socket
            .bind(&any_port.into())
            .expect("a free port on 127.0.0.1");
        let port = socket
            .local_addr()
            .ok()
            .and_then(|addr| addr.as_socket())
            .map(|addr| addr.port())
            .expect("the bound port");
        UnusedPort {
            _reservation: socket,
            port,
        }
    }

    /// The port number.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Default for UnusedPort {
    fn default() -> Self {
        UnusedPort::new()
    }
}

/// Expected failures end in one `error: …` line with a hint, never a panic or
/// a backtrace. Lines before it are the program's own progress notes (lab 03's
/// client says when it sends again), which a student should see.
pub fn assert_one_error_line(stderr: &str) {
    let error_lines: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("error"))
        .collect();
    assert_eq!(
        error_lines.len(),
        1,
        "expected exactly one error line, got: {stderr}"
    );
    assert_eq!(
        stderr.lines().last(),
        Some(error_lines[0]),
        "the error is the last line: {stderr}"
    );
    assert!(error_lines[0].starts_with("error: "), "{stderr}");
    assert!(
        error_lines[0].contains("(hint: "),
        "every error carries a hint: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A scratch folder for servers that serve one (lab 06's `--root`), so that a
/// contract test never makes a folder where it runs.
pub struct ServerFolder {
    option: Option<&'static str>,
    dir: Option<tempfile::TempDir>,
}

impl ServerFolder {
    /// A folder for `option` (such as `--root`), or nothing when `None`.
    pub fn new(option: Option<&'static str>) -> ServerFolder {
        let dir = option.map(|_| tempfile::tempdir().expect("a temporary folder"));
        ServerFolder { option, dir }
    }

    /// The server options that name the folder, if any.
    pub fn args(&self) -> Vec<&str> {
        match (self.option, &self.dir) {
            (Some(option), Some(dir)) => {
                vec![
                    option,
                    dir.path().to_str().expect("temporary paths are UTF-8"),
                ]
            }
            _ => Vec::new(),
        }
    }
}

/// The tests every lab has, written once: the command-line contract (the
/// listening line on port 0, a busy port, a client with no server), the demo
/// that the book shows, and our own programs at full marks on the rubric.
///
/// ```ignore
/// labkit::every_lab_tests! {
///     lab: "02",
///     server: SERVER,
///     client: CLIENT,
///     client_without_server: ["hi"] => "connection refused",
///     server_folder: None,
/// }
/// ```
#[macro_export]
macro_rules! every_lab_tests {
    (
        lab: $lab:literal,
        server: $server:expr,
        client: $client:expr,
        client_without_server: [$($arg:expr),* $(,)?] => $refused:expr,
        server_folder: $folder:expr $(,)?
    ) => {
        /// The server prints `listening on IP:PORT` with the real port for `--port 0`.
        #[test]
        fn server_announces_its_real_address_on_port_0() {
            let folder = $crate::contract::ServerFolder::new($folder);
            $crate::contract::server_announces_its_real_address($server, &folder.args());
        }

        /// A second server on a taken port fails with one error line and a hint.
        #[test]
        fn second_server_on_a_busy_port_fails_with_a_hint() {
            let folder = $crate::contract::ServerFolder::new($folder);
            $crate::contract::busy_port_is_one_clear_error($server, &folder.args());
        }

        /// A client with nobody to talk to fails with one error line and a hint.
        #[test]
        fn client_without_a_server_fails_with_a_hint() {
            $crate::contract::client_without_server_is_one_clear_error($client, &[$($arg),*], $refused);
        }

        /// An unknown option is one error line and exit status 2, in every
        /// program of the lab: server, client and extra tools.
        #[test]
        fn an_unknown_option_is_one_error_line_and_status_2() {
            let bin_dir = ::std::path::Path::new($server).parent().unwrap();
            $crate::contract::every_program_answers_a_usage_error_in_one_line($lab, bin_dir);
        }

        /// `just lab NN` shows both sides, finishes, and prints what the book shows.
        #[test]
        fn the_demo_matches_the_book() {
            let bin_dir = ::std::path::Path::new($server).parent().unwrap();
            $crate::demo::check_transcript(&$crate::labs::find($lab).unwrap(), bin_dir).unwrap();
        }

        /// The graded rubric (`just grade NN`) gives our own programs full marks.
        #[test]
        fn the_reference_scores_full_marks_on_the_graded_rubric() {
            let bin_dir = ::std::path::Path::new($server).parent().unwrap();
            $crate::grade::assert_reference_scores_full_marks($lab, bin_dir);
        }
    };
}
