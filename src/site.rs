//! Where a leaked socket came from and what still holds it: the call stack
//! of the system call that created it, the frame in the project's own code
//! that made that call (its *site*), and the threads blocked on it when the
//! test ended.
//!
//! `cargo sockcheck` fills these in from the traced test process; the
//! in-process harness and guard have no stacks and leave them empty.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One frame of a creation stack, innermost first in [`Origin::stack`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Frame {
    /// Demangled function path without its hash, e.g.
    /// `std::net::tcp::TcpListener::bind`, when the symbol is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// Source file: relative to the workspace root for the project's own
    /// files, as recorded in the debug info otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based line, when the debug info has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based column, when the debug info has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// True when the frame lies in the project's own source (a workspace
    /// member's files).
    #[serde(default, skip_serializing_if = "is_false")]
    pub in_project: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl Frame {
    /// A frame with only a function name.
    pub fn function(name: impl Into<String>) -> Frame {
        Frame {
            function: Some(name.into()),
            ..Frame::default()
        }
    }

    /// The same frame at a source location.
    pub fn at(mut self, file: impl Into<String>, line: u32, column: Option<u32>) -> Frame {
        self.file = Some(file.into());
        self.line = Some(line);
        self.column = column;
        self
    }

    /// The same frame, marked as lying in the project's own source.
    pub fn in_project(mut self) -> Frame {
        self.in_project = true;
        self
    }

    /// `tests/net.rs:31:13`, `tests/net.rs:31` or `tests/net.rs`; `None`
    /// without a file.
    pub fn location(&self) -> Option<String> {
        Some(self.with_line(self.file.as_deref()?))
    }

    /// As [`Frame::location`], but a file under cargo's registry is named
    /// from its package's directory, as a reader knows it:
    /// `mockito-1.7.2/src/server.rs:359:24`, not
    /// `/home/u/.cargo/registry/src/index.crates.io-…/mockito-1.7.2/…`.
    /// For words shown to people; code hosts need [`Frame::location`].
    pub fn short_location(&self) -> Option<String> {
        match self.in_registry() {
            Some(in_package) => Some(self.with_line(in_package)),
            None => self.location(),
        }
    }

    /// `file` with the frame's line and column, as far as they are known.
    fn with_line(&self, file: &str) -> String {
        match (self.line, self.column) {
            (Some(line), Some(column)) => format!("{file}:{line}:{column}"),
            (Some(line), None) => format!("{file}:{line}"),
            _ => file.to_owned(),
        }
    }

    /// `mockito-1.7.2/src/server.rs` for a file under cargo's registry,
    /// `…/registry/src/INDEX/mockito-1.7.2/src/server.rs`.
    fn in_registry(&self) -> Option<&str> {
        let (_, after) = self.file.as_deref()?.split_once("/registry/src/")?;
        let (_index, in_package) = after.split_once('/')?;
        Some(in_package)
    }
}

impl Frame {
    /// The crate the frame lies in: the first segment of its function path
    /// (`tokio_util` for `tokio_util::codec::Framed::new`, `wiremock` for
    /// `<wiremock::pool::Manager as deadpool::Manager>::create`), or else
    /// the package of a file under cargo's registry.
    pub fn crate_name(&self) -> Option<String> {
        let from_function = self.function.as_deref().and_then(|function| {
            let path = function
                .trim_start_matches(['<', '&'])
                .trim_start_matches("dyn ");
            let (first, _) = path.split_once("::")?;
            let valid = !first.is_empty() && first.chars().all(|c| c.is_alphanumeric() || c == '_');
            valid.then(|| first.to_owned())
        });
        from_function.or_else(|| Some(self.registry_package()?.0.to_owned()))
    }

    /// `("mockito", "1.7.2")` for a file under cargo's registry,
    /// `…/registry/src/INDEX/mockito-1.7.2/src/server.rs`.
    pub fn registry_package(&self) -> Option<(&str, &str)> {
        let package = self.in_registry()?.split('/').next()?;
        // The version starts at the first `-` followed by a digit whose rest
        // looks like a version (`tokio-util-0.7.20`, `h2-0.4.20`).
        let start = package.match_indices('-').map(|(i, _)| i).find(|&i| {
            let version = &package[i + 1..];
            version.starts_with(|c: char| c.is_ascii_digit()) && version.split('.').count() >= 3
        })?;
        Some((&package[..start], &package[start + 1..]))
    }

    /// The function's name as a reader knows it: its last segment, with the
    /// type it belongs to (`ConfigListenAddr::bind`, `pipelining_test`,
    /// `TcpListener::accept` for `<std::net::tcp::TcpListener>::accept`),
    /// closures cut off.
    pub fn short_function(&self) -> Option<String> {
        let function = without_closures(self.function.as_deref()?);
        let segments = top_level_segments(function);
        let last = *segments.last()?;
        let short = match segments.len().checked_sub(2).map(|i| segments[i]) {
            Some(owner) => {
                // `<std::net::tcp::TcpListener>` or `<A as B>`: the type's last segment.
                let owner = owner.trim_start_matches('<');
                let owner = owner.split(" as ").next().unwrap_or(owner);
                let owner = owner.trim_end_matches('>');
                let owner = top_level_segments(owner).last().copied().unwrap_or(owner);
                if owner.starts_with(|c: char| c.is_ascii_uppercase()) {
                    format!("{owner}::{last}")
                } else {
                    last.to_owned()
                }
            }
            None => last.to_owned(),
        };
        Some(short)
    }

    /// True when the frame is in std, core or alloc, or in the crates that
    /// only carry a socket to the system call for others (mio, socket2,
    /// polling, nix, libc, tokio's and async-io's net layers): never the
    /// code that decided to make it.
    pub fn is_plumbing(&self) -> bool {
        const CRATES: [&str; 10] = [
            "std",
            "core",
            "alloc",
            "mio",
            "socket2",
            "polling",
            "nix",
            "libc",
            "async_io",
            "async_net",
        ];
        const LAYERS: [&str; 2] = ["tokio::net::", "tokio::io::"];
        let Some(krate) = self.crate_name() else {
            return true;
        };
        let path = self
            .function
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches(['<', '&']);
        CRATES.contains(&krate.replace('-', "_").as_str())
            || LAYERS.iter().any(|layer| path.starts_with(layer))
    }
}

/// The `::`-separated segments of a path, not splitting inside `<…>`.
fn top_level_segments(path: &str) -> Vec<&str> {
    let mut segments = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' => depth += 1,
            b'>' => depth = depth.saturating_sub(1),
            b':' if depth == 0 && bytes.get(i + 1) == Some(&b':') => {
                segments.push(&path[start..i]);
                start = i + 2;
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    segments.push(&path[start..]);
    segments
}

impl fmt::Display for Frame {
    /// `tests/net.rs:31:13 in net::leaks_listener`, or whichever half is known.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.location(), &self.function) {
            (Some(location), Some(function)) => write!(f, "{location} in {function}"),
            (Some(location), None) => f.write_str(&location),
            (None, Some(function)) => f.write_str(function),
            (None, None) => f.write_str("<unknown>"),
        }
    }
}

/// How a leaked socket was created: the system call and its stack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Origin {
    /// The creating system call: `socket`, `accept`, `accept4` or
    /// `socketpair`; for a socket held by a leftover process (an orphan),
    /// the call that started that process: `fork`, `vfork`, `clone` or
    /// `clone3`; for a port finding's call, `bind`, `listen` or `connect`.
    pub syscall: String,
    /// The innermost frame in the project's own source, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<Frame>,
    /// The symbolized call stack, innermost first.
    #[serde(default)]
    pub stack: Vec<Frame>,
    /// What limits the stack, when something does (no debug info, the
    /// unwinder stopped early), in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The thread creations that led to the thread that made the call,
    /// innermost first: `[0]` started the calling thread, `[1]` started
    /// the thread that made `[0]`'s call, and so on up to the test's own
    /// thread. Empty when the call was made on the test's main thread (or
    /// the spawns are not known).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spawned_by: Vec<Spawn>,
}

impl Origin {
    /// The origin of a socket created by `syscall` with `stack` (innermost
    /// first); its site is the stack's innermost frame in the project.
    pub fn new(syscall: impl Into<String>, stack: Vec<Frame>) -> Origin {
        Origin {
            syscall: syscall.into(),
            site: innermost_in_project(&stack),
            stack,
            note: None,
            spawned_by: Vec::new(),
        }
    }

    /// The same origin, made on a thread started by `spawned_by` (innermost
    /// first).
    pub fn spawned_by(mut self, spawned_by: Vec<Spawn>) -> Origin {
        self.spawned_by = spawned_by;
        self
    }

    /// Every frame from the system call out to the test's own thread,
    /// innermost first: the stack, then the stack of each thread creation
    /// in [`Origin::spawned_by`].
    pub fn chain(&self) -> impl Iterator<Item = &Frame> {
        self.stack
            .iter()
            .chain(self.spawned_by.iter().flat_map(|spawn| spawn.stack.iter()))
    }

    /// The same origin with a note on what limits its stack.
    pub fn with_note(mut self, note: impl Into<String>) -> Origin {
        self.note = Some(note.into());
        self
    }

    /// The frame the site called: the outermost frame outside the project
    /// on the way to the system call, i.e. the API the project used
    /// (`std::net::tcp::TcpListener::bind`). `None` without a site, or when
    /// the site made the system call itself.
    pub fn api(&self) -> Option<&Frame> {
        let site = self.stack.iter().position(|frame| frame.in_project)?;
        self.stack[..site].last()
    }

    /// The project frames a reader needs to find the line to change,
    /// innermost first, across spawn boundaries ([`Origin::chain`]): the
    /// site (or, for a socket made on a thread with no project frame of its
    /// own, where the project started that thread); on the way out, the
    /// innermost frame in the test's own target (`tests/…`, often a test
    /// helper); and the test's own frame, the outermost project frame. A
    /// line already named is not named again, so a socket the test opened
    /// itself has a trail of one. Empty when no project frame is known.
    pub fn trail(&self) -> Vec<&Frame> {
        let project: Vec<&Frame> = self.chain().filter(|frame| frame.in_project).collect();
        // The site even when the stack is not kept (a further leak opened
        // by the same call).
        let Some(first) = self.site.as_ref().or(project.first().copied()) else {
            return Vec::new();
        };
        let test = match project[..] {
            // libtest calls a `#[test]` fn through a closure at its `fn`
            // line: the line in the body is the one to read.
            [.., body, wrapper] if wrapper.file == body.file && is_wrapper_of(wrapper, body) => {
                body
            }
            [.., test] => test,
            [] => first,
        };
        let helper = test
            .file
            .as_deref()
            .and_then(test_target_dir)
            .and_then(|dir| {
                project
                    .iter()
                    .copied()
                    .find(|frame| frame.file.as_deref().is_some_and(|f| f.starts_with(dir)))
            });
        let mut trail: Vec<&Frame> = vec![first];
        for frame in helper.into_iter().chain([test]) {
            if !trail.iter().any(|shown| same_line(shown, frame)) {
                trail.push(frame);
            }
        }
        trail
    }

    /// The code that made the socket when no project frame did: the
    /// innermost frame outside std and socket plumbing
    /// ([`Frame::is_plumbing`]) before the first project frame of the
    /// chain, in the crate that decided to make it (a mock server, a
    /// framework). `None` when there is a site, or nothing but plumbing is
    /// known.
    pub fn maker(&self) -> Option<&Frame> {
        if self.site.is_some() {
            return None;
        }
        self.chain()
            .take_while(|frame| !frame.in_project)
            .find(|frame| !frame.is_plumbing())
    }
}

/// `tests/` for `tests/support/mod.rs`, `crates/net/benches/` for
/// `crates/net/benches/load.rs`: the directory of the test target a file
/// belongs to; `None` for a library's or binary's own source.
fn test_target_dir(file: &str) -> Option<&str> {
    ["tests/", "benches/", "examples/"]
        .iter()
        .filter_map(|dir| {
            let at = file.find(dir)?;
            let starts_segment = at == 0 || file[..at].ends_with('/');
            starts_segment.then(|| &file[..at + dir.len()])
        })
        .min_by_key(|prefix| prefix.len())
}

/// True when `wrapper` is a closure of `body`'s function: `net::leaks::{{closure}}` of `net::leaks`.
fn is_wrapper_of(wrapper: &Frame, body: &Frame) -> bool {
    match (wrapper.function.as_deref(), body.function.as_deref()) {
        (Some(wrapper), Some(body)) => wrapper != body && without_closures(wrapper) == body,
        _ => false,
    }
}

/// True when two frames name the same line (or, without lines, the same
/// function).
fn same_line(a: &Frame, b: &Frame) -> bool {
    match (a.file.is_some(), b.file.is_some()) {
        (true, true) => a.file == b.file && a.line == b.line,
        _ => a.function == b.function,
    }
}

impl fmt::Display for Origin {
    /// One line: `opened at src/conn.rs:137:28 in app::conn::bind
    /// (std::net::tcp::TcpListener::bind) <- tests/support/mod.rs:12
    /// (start_server) <- tests/net.rs:40 (pipelining)`: the site, the API it
    /// called, then the rest of its [trail](Origin::trail). `opened in
    /// net::leaks (…); lines need debug info` when the site has no line.
    /// Without a site, the crate that made the socket
    /// ([`maker`](Origin::maker)): `opened by socket() in crate mockito 1.7.2
    /// (mockito::server::Server::bind_server), outside the project's code`
    /// (else the innermost frame with a source file). The note is added only
    /// when the site has no line: past that it is noise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.site {
            Some(site) if site.file.is_some() => write!(f, "opened at {site}")?,
            Some(site) => write!(f, "opened in {site}")?,
            None => {
                write!(f, "opened by {}()", self.syscall)?;
                match self.maker() {
                    Some(maker) => {
                        let krate = maker.crate_name().unwrap_or_default();
                        write!(f, " in crate {krate}")?;
                        if let Some((_, version)) = maker.registry_package() {
                            write!(f, " {version}")?;
                        }
                        if let Some(function) = maker.function.as_deref() {
                            write!(f, " ({})", without_closures(function))?;
                        }
                    }
                    None => {
                        // The innermost frame with a source file: past libc's
                        // wrapper, in the std code that made the call.
                        let known = self.stack.iter().find(|frame| frame.file.is_some());
                        if let Some(function) = known.and_then(|frame| frame.function.as_deref()) {
                            write!(f, " in {}", without_closures(function))?;
                        }
                    }
                }
                f.write_str(", outside the project's code")?;
            }
        }
        if let Some(api) = self.api().and_then(|frame| frame.function.as_deref()) {
            write!(f, " ({})", without_closures(api))?;
        }
        // The site is named already; without one, where the project led.
        let shown = usize::from(self.site.is_some());
        for frame in self.trail().into_iter().skip(shown) {
            let place = frame.location().or_else(|| frame.function.clone());
            write!(f, " <- {}", place.unwrap_or_default())?;
            if let (Some(_), Some(function)) = (&frame.file, frame.short_function()) {
                write!(f, " ({function})")?;
            }
        }
        let site_has_line = self.site.as_ref().is_some_and(|site| site.line.is_some());
        match &self.note {
            Some(note) if !site_has_line => write!(f, "; {note}"),
            _ => Ok(()),
        }
    }
}

/// The innermost frame of `stack` in the project's own source.
fn innermost_in_project(stack: &[Frame]) -> Option<Frame> {
    stack.iter().find(|frame| frame.in_project).cloned()
}

/// The `clone` or `clone3` call that started a thread of the test: where a
/// thread came from, one link of [`Origin::spawned_by`] and
/// [`HoldingThread::spawned_by`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Spawn {
    /// The system call: `clone` or `clone3`.
    pub syscall: String,
    /// The innermost frame of `stack` in the project's own source, when
    /// there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<Frame>,
    /// The symbolized stack of the spawning thread at the call, innermost
    /// first.
    #[serde(default)]
    pub stack: Vec<Frame>,
}

impl Spawn {
    /// A thread started by `syscall` with the spawner's `stack` (innermost
    /// first); its site is the stack's innermost frame in the project.
    pub fn new(syscall: impl Into<String>, stack: Vec<Frame>) -> Spawn {
        Spawn {
            syscall: syscall.into(),
            site: innermost_in_project(&stack),
            stack,
        }
    }
}

/// `tokio::net::TcpListener::bind` for `tokio::net::TcpListener::bind::{{closure}}`:
/// an async fn's body is a closure, but the API is the fn.
fn without_closures(function: &str) -> &str {
    let mut name = function;
    while let Some(outer) = name.strip_suffix("::{{closure}}").or_else(|| {
        name.strip_suffix('}')
            .and_then(|n| Some(n.rsplit_once("::{closure#")?.0))
    }) {
        name = outer;
    }
    name
}

/// A thread of the test process blocked on a leaked socket when the test
/// ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HoldingThread {
    /// Its thread id.
    pub tid: u32,
    /// Its name (`/proc/PID/task/TID/comm`).
    pub name: String,
    /// True when the thread never named itself: `name` is the one it
    /// inherited from its spawner (for a thread a test spawned, the test's
    /// own name cut to 15 bytes), which says nothing of it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unnamed: bool,
    /// The system call it is blocked in, e.g. `accept4`.
    pub syscall: String,
    /// The thread creations that led to it, innermost first, as in
    /// [`Origin::spawned_by`]; empty for the test's main thread (or when
    /// not known).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spawned_by: Vec<Spawn>,
}

impl HoldingThread {
    /// A thread `name` (`tid`) blocked in `syscall`.
    pub fn new(tid: u32, name: impl Into<String>, syscall: impl Into<String>) -> HoldingThread {
        HoldingThread {
            tid,
            name: name.into(),
            unnamed: false,
            syscall: syscall.into(),
            spawned_by: Vec::new(),
        }
    }

    /// The same thread, started by `spawned_by` (innermost first).
    pub fn spawned_by(mut self, spawned_by: Vec<Spawn>) -> HoldingThread {
        self.spawned_by = spawned_by;
        self
    }
}

impl HoldingThread {
    /// Where its spawner's stack was in the project's source when it
    /// started the thread: the innermost project frame of the innermost
    /// spawn that has one.
    pub fn spawn_site(&self) -> Option<&Frame> {
        self.spawned_by.iter().find_map(|spawn| spawn.site.as_ref())
    }
}

impl fmt::Display for HoldingThread {
    /// `thread 'server' (tid 9471), blocked in accept4()`; with a spawn
    /// site, `thread 'server' (tid 9471) spawned at tests/support/mod.rs:20:5,
    /// blocked in accept4()`; a thread that never named itself is an
    /// `unnamed thread (tid 9471) ...`, not shown under its spawner's name.
    /// The alternate form (`{:#}`) leaves the tid out, for reports that
    /// must not change from run to run.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.unnamed {
            f.write_str("unnamed thread")?;
        } else {
            write!(f, "thread '{}'", self.name)?;
        }
        if !f.alternate() {
            write!(f, " (tid {})", self.tid)?;
        }
        if let Some(site) = self.spawn_site() {
            match site.location() {
                Some(location) => write!(f, " spawned at {location}")?,
                None => write!(f, " spawned in {site}")?,
            }
        }
        write!(f, ", blocked in {}()", self.syscall)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_shows_what_is_known_of_it() {
        let full = Frame::function("net::leaks").at("tests/net.rs", 31, Some(13));
        assert_eq!(full.to_string(), "tests/net.rs:31:13 in net::leaks");
        let no_column = Frame::function("net::leaks").at("tests/net.rs", 31, None);
        assert_eq!(no_column.to_string(), "tests/net.rs:31 in net::leaks");
        assert_eq!(Frame::function("f").to_string(), "f");
        assert_eq!(Frame::default().to_string(), "<unknown>");
    }

    #[test]
    fn the_site_is_the_innermost_project_frame_and_the_api_the_frame_it_called() {
        let stack = vec![
            Frame::function("__libc_socket"),
            Frame::function("std::net::tcp::TcpListener::bind").at("/rustc/1/tcp.rs", 5, None),
            Frame::function("net::helper")
                .at("tests/net.rs", 9, Some(5))
                .in_project(),
            Frame::function("net::leaks")
                .at("tests/net.rs", 31, Some(13))
                .in_project(),
        ];
        let origin = Origin::new("socket", stack.clone());
        assert_eq!(origin.site.as_ref(), Some(&stack[2]));
        assert_eq!(origin.api(), Some(&stack[1]));

        let outside = Origin::new("socket", stack[..2].to_vec());
        assert_eq!(outside.site, None);
        assert_eq!(outside.api(), None);
        let direct = Origin::new("socket", stack[2..].to_vec());
        assert_eq!(direct.site.as_ref(), Some(&stack[2]));
        assert_eq!(direct.api(), None);
    }

    #[test]
    fn an_origin_reads_as_one_line() {
        let api =
            Frame::function("std::net::tcp::TcpListener::bind").at("/rustc/1/tcp.rs", 5, None);
        let site = Frame::function("net::leaks")
            .at("tests/net.rs", 31, Some(13))
            .in_project();
        let origin = Origin::new("socket", vec![api.clone(), site]).with_note("cut short");
        assert_eq!(
            origin.to_string(),
            "opened at tests/net.rs:31:13 in net::leaks (std::net::tcp::TcpListener::bind)"
        );

        let no_lines = Origin::new(
            "socket",
            vec![
                Frame::function("tokio::net::tcp::listener::TcpListener::bind::{{closure}}"),
                Frame::function("net::serve::{closure#0}").in_project(),
            ],
        )
        .with_note("lines need debug info");
        assert_eq!(
            no_lines.to_string(),
            "opened in net::serve::{closure#0} (tokio::net::tcp::listener::TcpListener::bind); \
             lines need debug info"
        );

        let outside = Origin::new("accept4", vec![Frame::function("accept4"), api]);
        assert_eq!(
            outside.to_string(),
            "opened by accept4() in std::net::tcp::TcpListener::bind, outside the project's code"
        );
        let unknown = Origin::new("socket", vec![Frame::function("socket")]);
        assert_eq!(
            unknown.to_string(),
            "opened by socket(), outside the project's code"
        );
    }

    /// tiny_http's listener: bound in the library, for a test helper, for a test.
    fn tiny_http_listener() -> Origin {
        Origin::new(
            "socket",
            vec![
                Frame::function("__libc_socket"),
                Frame::function("std::net::tcp::TcpListener::bind").at("/rustc/1/tcp.rs", 5, None),
                Frame::function("tiny_http::connection::ConfigListenAddr::bind")
                    .at("src/connection.rs", 137, Some(28))
                    .in_project(),
                Frame::function("tiny_http::Server::new")
                    .at("src/lib.rs", 234, Some(9))
                    .in_project(),
                Frame::function("network::support::new_client_to_hello_world_server")
                    .at("tests/support/mod.rs", 17, Some(18))
                    .in_project(),
                Frame::function("network::support::other_helper")
                    .at("tests/support/mod.rs", 30, Some(5))
                    .in_project(),
                Frame::function("network::pipelining_test")
                    .at("tests/network.rs", 40, Some(17))
                    .in_project(),
                Frame::function("network::pipelining_test::{{closure}}")
                    .at("tests/network.rs", 39, Some(21))
                    .in_project(),
                Frame::function("core::ops::function::FnOnce::call_once"),
            ],
        )
    }

    #[test]
    fn the_trail_is_the_site_the_first_test_side_frame_and_the_test() {
        let origin = tiny_http_listener();
        let lines: Vec<String> = origin.trail().iter().map(|f| f.to_string()).collect();
        assert_eq!(
            lines,
            [
                "src/connection.rs:137:28 in tiny_http::connection::ConfigListenAddr::bind",
                "tests/support/mod.rs:17:18 in network::support::new_client_to_hello_world_server",
                "tests/network.rs:40:17 in network::pipelining_test",
            ]
        );
        assert_eq!(
            origin.to_string(),
            "opened at src/connection.rs:137:28 in tiny_http::connection::ConfigListenAddr::bind \
             (std::net::tcp::TcpListener::bind) <- tests/support/mod.rs:17:18 \
             (new_client_to_hello_world_server) <- tests/network.rs:40:17 (pipelining_test)"
        );

        // Opened by the test itself: the site is the test, named once.
        let own = Origin::new(
            "socket",
            origin.stack[..2]
                .iter()
                .chain(&origin.stack[6..7])
                .cloned()
                .collect(),
        );
        assert_eq!(own.trail().len(), 1);
        // A unit test in the library: no test target, the site and the test.
        let unit = Origin::new(
            "socket",
            vec![
                Frame::function("app::bind")
                    .at("src/net.rs", 3, None)
                    .in_project(),
                Frame::function("app::tests::binds")
                    .at("src/lib.rs", 40, None)
                    .in_project(),
            ],
        );
        assert_eq!(
            unit.to_string(),
            "opened at src/net.rs:3 in app::bind <- src/lib.rs:40 (binds)"
        );
        assert_eq!(
            test_target_dir("crates/net/tests/a.rs"),
            Some("crates/net/tests/")
        );
        assert_eq!(test_target_dir("src/contests/a.rs"), None);
    }

    #[test]
    fn short_function_names_keep_their_type() {
        let short = |f: &str| Frame::function(f).short_function().unwrap();
        assert_eq!(
            short("tiny_http::connection::ConfigListenAddr::bind"),
            "ConfigListenAddr::bind"
        );
        assert_eq!(
            short("network::pipelining_test::{{closure}}"),
            "pipelining_test"
        );
        assert_eq!(
            short("<std::net::tcp::TcpListener>::accept"),
            "TcpListener::accept"
        );
        assert_eq!(
            short("<wiremock::pool::Manager as deadpool::managed::Manager>::create::{closure#0}"),
            "Manager::create"
        );
        assert_eq!(short("main"), "main");
    }

    #[test]
    fn without_a_site_the_maker_is_the_first_crate_past_the_plumbing() {
        let registry = "/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f";
        let origin = Origin::new(
            "socket",
            vec![
                Frame::function("__libc_socket"),
                Frame::function("socket2::socket::Socket::new"),
                Frame::function("mio::net::tcp::listener::TcpListener::bind"),
                Frame::function("tokio::net::tcp::listener::TcpListener::bind::{{closure}}"),
                Frame::function("mockito::server::Server::bind_server::{{closure}}").at(
                    format!("{registry}/mockito-1.7.2/src/server.rs"),
                    359,
                    Some(24),
                ),
                Frame::function("tokio::runtime::park::CachedParkThread::block_on"),
                Frame::function("std::thread::Builder::spawn_unchecked_::{{closure}}"),
            ],
        );
        assert_eq!(origin.maker(), Some(&origin.stack[4]));
        assert_eq!(
            origin.stack[4].registry_package(),
            Some(("mockito", "1.7.2"))
        );
        assert_eq!(
            origin.stack[4].short_location().as_deref(),
            Some("mockito-1.7.2/src/server.rs:359:24")
        );
        let project = Frame::function("net::t").at("tests/net.rs", 3, None);
        assert_eq!(project.short_location().as_deref(), Some("tests/net.rs:3"));
        assert_eq!(Frame::function("net::t").short_location(), None);
        assert_eq!(
            origin.to_string(),
            "opened by socket() in crate mockito 1.7.2 (mockito::server::Server::bind_server), \
             outside the project's code"
        );
        let path_dependency = Origin::new(
            "socket",
            vec![Frame::function("minipool::Pool::grow").at("/src/minipool/src/lib.rs", 9, None)],
        );
        assert_eq!(
            path_dependency.to_string(),
            "opened by socket() in crate minipool (minipool::Pool::grow), outside the project's code"
        );
        assert_eq!(tiny_http_listener().maker(), None, "the project made it");

        // Made on the crate's own thread, which the test started: the crate,
        // then where the project led to it.
        let spawned = origin.clone().spawned_by(vec![Spawn::new(
            "clone3",
            vec![
                Frame::function("std::thread::Builder::spawn"),
                Frame::function("mockito::server::Server::new").at(
                    format!("{registry}/mockito-1.7.2/src/server.rs"),
                    200,
                    None,
                ),
                Frame::function("api::support::mock")
                    .at("tests/support/mod.rs", 4, Some(5))
                    .in_project(),
                Frame::function("api::gets")
                    .at("tests/api.rs", 9, Some(5))
                    .in_project(),
            ],
        )]);
        assert_eq!(spawned.maker(), Some(&origin.stack[4]));
        assert_eq!(
            spawned.to_string(),
            "opened by socket() in crate mockito 1.7.2 (mockito::server::Server::bind_server), \
             outside the project's code <- tests/support/mod.rs:4:5 (mock) <- tests/api.rs:9:5 (gets)"
        );
    }

    #[test]
    fn the_chain_runs_from_the_call_through_each_spawn_to_the_test() {
        let call = Frame::function("server::bind")
            .at("tests/support/mod.rs", 9, None)
            .in_project();
        let inner = Frame::function("server::start::{{closure}}")
            .at("tests/support/mod.rs", 20, None)
            .in_project();
        let outer = Frame::function("net::leaks")
            .at("tests/net.rs", 31, None)
            .in_project();
        let spawns = vec![
            Spawn::new("clone3", vec![Frame::function("clone3"), inner.clone()]),
            Spawn::new("clone3", vec![outer.clone()]),
        ];
        assert_eq!(spawns[0].site.as_ref(), Some(&inner));
        let origin = Origin::new("socket", vec![call.clone()]).spawned_by(spawns);
        let chain: Vec<&Frame> = origin.chain().collect();
        assert_eq!(
            chain,
            [&call, &Frame::function("clone3"), &inner, &outer],
            "innermost to outermost across both spawns"
        );
        assert_eq!(Origin::new("socket", vec![call]).chain().count(), 1);
    }

    #[test]
    fn spawns_are_left_out_of_the_json_when_there_are_none() {
        let plain = serde_json::to_value(Origin::new("socket", Vec::new())).unwrap();
        assert!(plain.get("spawned_by").is_none(), "{plain}");
        let spawned = Origin::new("socket", Vec::new())
            .spawned_by(vec![Spawn::new("clone", vec![Frame::function("f")])]);
        let json = serde_json::to_value(&spawned).unwrap();
        assert_eq!(json["spawned_by"][0]["syscall"], "clone");
        assert_eq!(json["spawned_by"][0]["stack"][0]["function"], "f");
        let back: Origin = serde_json::from_value(json).unwrap();
        assert_eq!(back, spawned);
        let holder = serde_json::to_value(HoldingThread::new(1, "t", "accept")).unwrap();
        assert!(holder.get("spawned_by").is_none(), "{holder}");
    }

    #[test]
    fn a_holding_thread_reads_as_a_sentence() {
        let thread = HoldingThread::new(9471, "server", "accept4");
        assert_eq!(
            thread.to_string(),
            "thread 'server' (tid 9471), blocked in accept4()"
        );
        let spawner = Frame::function("support::serve")
            .at("tests/support/mod.rs", 20, Some(5))
            .in_project();
        let spawns = vec![
            Spawn::new("clone3", vec![Frame::function("std::thread::spawn")]),
            Spawn::new("clone3", vec![spawner]),
        ];
        let spawned = HoldingThread::new(9471, "server", "accept4").spawned_by(spawns);
        assert_eq!(
            spawned.to_string(),
            "thread 'server' (tid 9471) spawned at tests/support/mod.rs:20:5, blocked in accept4()",
            "the innermost spawn with a project frame"
        );
        let mut inherited = spawned;
        inherited.unnamed = true;
        assert_eq!(
            inherited.to_string(),
            "unnamed thread (tid 9471) spawned at tests/support/mod.rs:20:5, blocked in accept4()"
        );
        assert_eq!(
            format!("{inherited:#}"),
            "unnamed thread spawned at tests/support/mod.rs:20:5, blocked in accept4()"
        );
    }
}
