//! The client side: one session, many commands, each one checked.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use lab05_framed_header::frame::{self, FrameError};
use shared::Failure;
use shared::failure::{describe, is_timeout};
use shared::pace::{DEFAULT_MIN_RATE, Pace, Paced};
use shared::text::printable;

use crate::Endpoint;
use crate::folder::{Entry, Folder};
use crate::partial::PartialFile;
use crate::progress::Progress;
use crate::protocol::{
    self, Content, Received, Reply, Request, SMALL_WRITES_BUFFER, Status,
};

/// The largest `dir` listing the client reads into memory: a folder of
/// tens of thousands of files, while a server that announces gigabytes
/// cannot make us allocate them.
const MAX_LISTING_SIZE: u64 = 16 * 1024 * 1024;

/// One command, as the user typed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// List the files the server shares.
    Dir,
    /// Download a file into the client's folder.
    Get(String),
    /// Upload a file (a path on this machine; the server gets its name).
    Put(PathBuf),
    /// End the session.
    Close,
}

impl Command {
    /// Reads one command line: `dir`, `get NAME`, `put PATH` or `close`.
    /// Everything after the first space is the name or path, spaces and all.
    pub fn parse(line: &str) -> Result<Command, Failure> {
        let line = line.trim();
        let (verb, argument) = match line.split_once(' ') {
            Some((verb, rest)) => (verb, Some(rest.trim())),
            None => (line, None),
        };
        Command::from_parts(verb, argument)
    }

    /// Builds a command from its verb and its argument, if any.
    pub fn from_parts(verb: &str, argument: Option<&str>) -> Result<Command, Failure> {
        let needs = |what: &str, example: &str| {
            Failure::new(format!("{verb} needs {what}"))
                .hint(format!("write `{example}`"))
        };
        let takes_nothing = || {
            Failure::new(format!("{verb} takes no argument"))
                .hint(format!("write just `{verb}`"))
        };
        match (verb, argument) {
            ("dir", None) => Ok(Command::Dir),
            ("close", None) => Ok(Command::Close),
            ("dir" | "close", Some(_)) => Err(takes_nothing()),
            ("get", Some(name)) if !name.is_empty() => Ok(Command::Get(name.to_string())),
            ("get", _) => Err(needs(
                "the name of a file",
                "get NAME (dir lists the names)",
            )),
            ("put", Some(path)) if !path.is_empty() => {
                Ok(Command::Put(PathBuf::from(path)))
            }
            ("put", _) => Err(needs("the path of a file", "put PATH")),
            (unknown, _) => Err(Failure::new(format!("unknown command '{unknown}'"))
                .hint("the commands are dir, get NAME, put PATH and close")),
        }
    }
}

/// A finished transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// The file's name (on both sides).
    pub name: String,
    /// How many bytes it has.
    pub size: u64,
    /// Its SHA-256, as both sides computed it.
    pub sha256: String,
}

/// How the client behaves.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long to wait for the server to answer, or to send the next piece
    /// of a file, before giving up.
    pub timeout: Duration,
    /// Draw a progress bar on stderr during transfers.
    pub show_progress: bool,
}

/// A session with the server, and the folder files are read from and
/// written to.
///
/// If the connection breaks (the server restarts, or closes a session left
/// idle too long), the next command connects again by itself.
pub struct Client {
    endpoint: Endpoint,
    folder: Folder,
    settings: Settings,
    connection: Option<Connection>,
}

/// One open connection.
struct Connection {
    stream: TcpStream,
    server: SocketAddr,
    /// The client's --timeout: for a whole reply header, and as the grace
    /// period of a body.
    timeout: Duration,
}

/// Why a command failed, and whether the connection survived it.
enum Trouble {
    /// The server said no, or our own file failed: the connection is still
    /// in step and the session goes on.
    InStep(Failure),
    /// The connection failed or is out of step: it is dropped, and the next
    /// command connects again.
    Broken(Failure),
}

impl Client {
    /// Connects to the server at once, so that a server that is not running
    /// is reported before any command is read.
    pub fn connect(
        endpoint: Endpoint,
        folder: Folder,
        settings: Settings,
    ) -> Result<Self, Failure> {
        let connection = Connection::open(&endpoint, settings.timeout)?;
        Ok(Client {
            endpoint,
            folder,
            settings,
            connection: Some(connection),
        })
    }

    /// Runs one command and returns what to print about it.
    pub fn run(&mut self, command: &Command) -> Result<String, Failure> {
        match command {
            Command::Dir => self.dir().map(|entries| listing(&entries)),
            Command::Get(name) => self.get(name).map(|got| {
                format!(
                    "got {}: {} bytes, SHA-256 {} (verified)",
                    got.name, got.size, got.sha256
                )
            }),
            Command::Put(path) => self.put(path).map(|put| {
                format!(
                    "put {}: {} bytes, SHA-256 {} (verified by the server)",
                    put.name, put.size, put.sha256
                )
            }),
            Command::Close => self.close().map(|()| "closed the session".to_string()),
        }
    }

    /// `dir`: the files the server shares.
    pub fn dir(&mut self) -> Result<Vec<Entry>, Failure> {
        self.exchange(|connection, _| connection.dir())
    }

    /// `get NAME`: downloads `name` into the client's folder.
    pub fn get(&mut self, name: &str) -> Result<Transfer, Failure> {
        self.exchange(|connection, client| connection.get(name, client))
    }

    /// `put PATH`: uploads the file at `path` (relative to the client's
    /// folder) under its own name.
    pub fn put(&mut self, path: &Path) -> Result<Transfer, Failure> {
        self.exchange(|connection, client| connection.put(path, client))
    }

    /// `close`: ends the session politely. Without a connection there is
    /// nothing to close, which is not an error.
    pub fn close(&mut self) -> Result<(), Failure> {
        let Some(mut connection) = self.connection.take() else {
            return Ok(());
        };
        if connection.server_hung_up() {
            return Ok(());
        }
        match connection.close() {
            Ok(()) => Ok(()),
            Err(Trouble::InStep(failure) | Trouble::Broken(failure)) => Err(failure),
        }
    }

    /// Runs one exchange on a live connection (opening one if needed), and
    /// keeps the connection only if it is still in step afterwards.
    fn exchange<T>(
        &mut self,
        talk: impl FnOnce(&mut Connection, &ClientSide<'_>) -> Result<T, Trouble>,
    ) -> Result<T, Failure> {
        let mut connection = match self.connection.take() {
            Some(connection) if !connection.server_hung_up() => connection,
            _ => Connection::open(&self.endpoint, self.settings.timeout)?,
        };
        let side = ClientSide {
            folder: &self.folder,
            settings: &self.settings,
        };
        match talk(&mut connection, &side) {
            Ok(value) => {
                self.connection = Some(connection);
                Ok(value)
            }
            Err(Trouble::InStep(failure)) => {
                self.connection = Some(connection);
                Err(failure)
            }
            Err(Trouble::Broken(failure)) => Err(failure),
        }
    }
}

/// What an exchange needs from the client besides the connection.
struct ClientSide<'a> {
    folder: &'a Folder,
    settings: &'a Settings,
}

impl ClientSide<'_> {
    /// A progress bar for `total` bytes, drawn only if wanted.
    fn progress(&self, label: &str, total: u64) -> Progress {
        Progress::new(label, total, self.settings.show_progress)
    }
}

impl Connection {
    /// Connects, and sets the timeouts that keep a dead server from
    /// freezing the client.
    fn open(endpoint: &Endpoint, timeout: Duration) -> Result<Connection, Failure> {
        let stream = shared::net::connect(endpoint)?;
        let server = stream
            .peer_addr()
            .map_err(|err| Failure::io("find the server's address", &err))?;
        // Writes wait at most this long for room; reads get their time from
        // `Connection::paced`.
        stream
            .set_write_timeout(Some(timeout))
            .map_err(|err| Failure::io("set a write timeout", &err))?;
        Ok(Connection {
            stream,
            server,
            timeout,
        })
    }

    // ANCHOR: client_pace
    /// The connection's reading side on the clock: a reply header must come
    /// whole within --timeout; a body (a listing, a file) gets --timeout as
    /// grace and must then keep up the minimum rate. A big file on a slow
    /// but honest link arrives; a trickle is cut.
    fn paced(&self, pace: Pace) -> Paced<&TcpStream> {
        Paced::from_now(&self.stream, pace).with_idle(self.timeout)
    }

    /// The pace of a body: see [`Connection::paced`].
    fn body_pace(&self) -> Pace {
        Pace::min_rate_after(self.timeout, DEFAULT_MIN_RATE)
    }
    // ANCHOR_END: client_pace

    /// Whether the server closed this connection while we were idle (it
    /// closes sessions that stay idle too long, and it may have restarted).
    ///
    /// A non-blocking `peek` answers without waiting: "would block" means
    /// the connection is open and quiet, as it should be between commands;
    /// 0 bytes means the server closed it; anything else is not in step.
    fn server_hung_up(&self) -> bool {
        // ANCHOR: hung_up
        let mut byte = [0u8; 1];
        let quiet = self.stream.set_nonblocking(true).is_ok()
            && matches!(
                self.stream.peek(&mut byte),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock
            );
        // ANCHOR_END: hung_up
        let restored = self.stream.set_nonblocking(false).is_ok();
        !(quiet && restored)
    }

    /// Sends a request frame.
    fn send(&mut self, request: &Request) -> Result<(), Trouble> {
        frame::write_frame(&mut self.stream, request, b"")
            .map_err(|err| self.broken("send the command to", &err))
    }

    /// Reads a reply header, turning an error reply into a failure.
    fn reply(&mut self, doing: &str) -> Result<Reply, Trouble> {
        let reply =
            frame::read_header::<Reply>(&mut self.paced(Pace::within(self.timeout)))
                .map_err(|err| self.broken(doing, &err))?
                .ok_or_else(|| {
                    Trouble::Broken(
                        Failure::new(format!(
                            "{} closed the connection instead of answering",
                            self.server
                        ))
                        .hint("look at the server's log for the reason"),
                    )
                })?;
        if reply.status == Status::Error {
            // The server wrote these words: shown, never obeyed (shared::text).
            let error = reply.error.map_or_else(
                || "the server refused".to_string(),
                |text| printable(&text),
            );
            let failure = Failure::new(error);
            return Err(Trouble::InStep(match reply.hint {
                Some(hint) => failure.hint(printable(&hint)),
                None => failure,
            }));
        }
        Ok(reply)
    }

    /// A reply with a status this step does not expect: the two sides are
    /// out of step.
    fn unexpected(&self, reply: &Reply) -> Trouble {
        Trouble::Broken(
            Failure::new(format!(
                "{} answered {:?} where it makes no sense",
                self.server, reply.status
            ))
            .hint("is that a lab 06 server?"),
        )
    }

    /// A failure of the connection itself, with a hint for the usual causes.
    fn broken(&self, doing: &str, err: &FrameError) -> Trouble {
        self.broken_and(doing, err, "")
    }

    /// [`Connection::broken`], with what it means for the file (`outcome`)
    /// added to the message.
    fn broken_and(&self, doing: &str, err: &FrameError, outcome: &str) -> Trouble {
        let failure =
            Failure::new(format!("could not {doing} {}: {err}{outcome}", self.server));
        Trouble::Broken(match err {
            FrameError::Io(io) if is_timeout(io) => failure
                .hint("the server stopped answering; try again, or give it longer with --timeout"),
            FrameError::TooSlow(_) => failure
                .hint("the server is busy or slow; try again, or give it longer with --timeout"),
            FrameError::Io(_) | FrameError::Truncated { .. } => {
                failure.hint("is the server still running? its log says what happened")
            }
            _ => failure.hint("is that a lab 06 server?"),
        })
    }

    fn dir(&mut self) -> Result<Vec<Entry>, Trouble> {
        self.send(&Request::plain("dir"))?;
        let reply = self.reply("read the listing from")?;
        let mut input = self.paced(self.body_pace());
        let body = frame::read_body(&mut input, reply.body_size, MAX_LISTING_SIZE)
            .map_err(|err| self.broken("read the listing from", &err))?;
        serde_json::from_slice(&body).map_err(|err| {
            Trouble::InStep(
                Failure::new(format!("the listing is not valid JSON: {err}"))
                    .hint("is that a lab 06 server?"),
            )
        })
    }

    fn get(&mut self, name: &str, client: &ClientSide<'_>) -> Result<Transfer, Trouble> {
        // ANCHOR: client_get
        self.send(&Request::get(name))?;
        let reply = self.reply(&format!("get {name:?} from"))?;
        if reply.status != Status::Ok {
            return Err(self.unexpected(&reply));
        }
        // The server said yes; the file follows. A server is a peer too, so
        // its name is checked before we write anything under it. If we cannot
        // take the file, the only way out is to drop the connection.
        let partial = client
            .folder
            .check_writable(name)
            .map_err(|refusal| refusal.to_string())
            .and_then(|()| {
                PartialFile::create(client.folder.path(), name)
                    .map_err(|err| format!("could not create it: {}", describe(&err)))
            })
            .map_err(|why| {
                Trouble::Broken(
                    Failure::new(format!("will not write {name:?} here: {why}"))
                        .hint("pick another --dir, or move what has that name"),
                )
            })?;
        let size = reply.body_size;
        let mut progress = client.progress(name, size);
        let mut input = self.paced(self.body_pace());
        let received = protocol::receive_file(&mut input, size, partial, &mut |n| {
            progress.advance(n)
        });
        progress.finish();
        let received = received.map_err(|err| {
            self.broken_and(&format!("get {name:?} from"), &err, "; nothing was kept")
        })?;
        // ANCHOR_END: client_get
        match received {
            Received::Stored(sha256) => Ok(Transfer {
                name: name.to_string(),
                size,
                sha256,
            }),
            Received::Damaged { expected, actual } => Err(Trouble::InStep(
                Failure::new(format!(
                    "{name:?} arrived damaged: its SHA-256 is {actual} but the server announced \
                     {expected}; nothing was kept"
                ))
                .hint("get it again"),
            )),
            Received::DiskFailed(err) => Err(Trouble::InStep(
                Failure::io(format_args!("write {name:?}"), &err)
                    .hint("is the disk full? nothing was kept"),
            )),
        }
    }

    fn put(&mut self, path: &Path, client: &ClientSide<'_>) -> Result<Transfer, Trouble> {
        let local = client.folder.path().join(path);
        let in_step = |failure: Failure| Trouble::InStep(failure);
        let name = local
            .file_name()
            .and_then(|name| name.to_str())
            .ok_or_else(|| {
                in_step(
                    Failure::new(format!("{} has no file name in UTF-8", path.display()))
                        .hint("rename the file"),
                )
            })?
            .to_string();
        let mut file = File::open(&local).map_err(|err| {
            in_step(
                Failure::io(format_args!("open {}", path.display()), &err)
                    .hint("a relative path starts in the client's folder (--dir)"),
            )
        })?;
        let metadata = file.metadata().map_err(|err| {
            in_step(Failure::io(
                format_args!("inspect {}", path.display()),
                &err,
            ))
        })?;
        if !metadata.is_file() {
            return Err(in_step(
                Failure::new(format!("{} is not a plain file", path.display())).hint(
                    "put sends one file; a folder would have to be sent file by file",
                ),
            ));
        }
        let size = metadata.len();
        // ANCHOR: client_put
        self.send(&Request::put(&name, size))?;
        let reply = self.reply(&format!("put {name:?} on"))?;
        if reply.status != Status::Ready {
            return Err(self.unexpected(&reply));
        }
        // Buffered, so the small file frame header, a small file and its
        // trailer leave together; flushed before we wait for the answer.
        let mut out = BufWriter::with_capacity(SMALL_WRITES_BUFFER, &self.stream);
        let mut progress = client.progress(&name, size);
        let sent = frame::write_header(&mut out, &Content { body_size: size })
            .and_then(|()| {
                protocol::send_file(&mut out, &mut file, size, &mut |n| {
                    progress.advance(n)
                })
            })
            .and_then(|sha256| out.flush().map(|()| sha256).map_err(FrameError::Io));
        progress.finish();
        drop(out);
        let sha256 =
            sent.map_err(|err| self.broken(&format!("send {name:?} to"), &err))?;
        let reply = self.reply(&format!("hear whether {name:?} was stored by"))?;
        // ANCHOR_END: client_put
        if reply.status != Status::Ok {
            return Err(self.unexpected(&reply));
        }
        Ok(Transfer { name, size, sha256 })
    }

    fn close(&mut self) -> Result<(), Trouble> {
        self.send(&Request::plain("close"))?;
        self.reply("close the session with")?;
        Ok(())
    }
}

// ANCHOR: listing
/// The `dir` listing, one file a line: size in bytes, then name.
///
/// The names come from the server: one with a newline in it must not make
/// two lines of the listing, nor one with escape codes drive the terminal.
fn listing(entries: &[Entry]) -> String {
    if entries.is_empty() {
        return "(the server shares no files)".to_string();
    }
    entries
        .iter()
        .map(|entry| format!("{:>12}  {}", entry.size, printable(&entry.name)))
        .collect::<Vec<_>>()
        .join("\n")
}
// ANCHOR_END: listing

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_names_that_have_spaces() {
        assert_eq!(Command::parse("dir").unwrap(), Command::Dir);
        assert_eq!(Command::parse("  close ").unwrap(), Command::Close);
        assert_eq!(
            Command::parse("get my notes.txt").unwrap(),
            Command::Get("my notes.txt".into())
        );
        assert_eq!(
            Command::parse("put ../photos/café.jpg").unwrap(),
            Command::Put(PathBuf::from("../photos/café.jpg"))
        );
    }

    #[test]
    fn malformed_commands_say_how_to_write_them() {
        let message = |line| Command::parse(line).unwrap_err().to_string();
        assert_eq!(
            message("get"),
            "get needs the name of a file (hint: write `get NAME (dir lists the names)`)"
        );
        assert_eq!(
            message("put "),
            "put needs the path of a file (hint: write `put PATH`)"
        );
        assert_eq!(
            message("dir now"),
            "dir takes no argument (hint: write just `dir`)"
        );
        assert_eq!(
            message("ls"),
            "unknown command 'ls' (hint: the commands are dir, get NAME, put PATH and close)"
        );
    }

    #[test]
    fn the_listing_is_sizes_then_names() {
        let entries = [
            Entry {
                name: "a.txt".into(),
                size: 5,
            },
            Entry {
                name: "big.iso".into(),
                size: 1 << 30,
            },
        ];
        assert_eq!(
            listing(&entries),
            "           5  a.txt\n  1073741824  big.iso"
        );
        assert_eq!(listing(&[]), "(the server shares no files)");
    }
}
