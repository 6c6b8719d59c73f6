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
        let file = self.file.as_deref()?;
        Some(match (self.line, self.column) {
            (Some(line), Some(column)) => format!("{file}:{line}:{column}"),
            (Some(line), None) => format!("{file}:{line}"),
            _ => file.to_owned(),
        })
    }
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
    /// `clone3`.
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
}

impl fmt::Display for Origin {
    /// One line: `opened at tests/net.rs:31:13 in net::leaks
    /// (std::net::tcp::TcpListener::bind)`; `opened in net::leaks (…); lines
    /// need debug info` when the site has no line; `opened by socket() in
    /// pool::Pool::grow, outside the project's code` without a site (the
    /// innermost frame with a source file, when there is one). The note is added only
    /// when the site has no line: past that it is noise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.site {
            Some(site) if site.file.is_some() => write!(f, "opened at {site}")?,
            Some(site) => write!(f, "opened in {site}")?,
            None => {
                write!(f, "opened by {}()", self.syscall)?;
                // The innermost frame with a source file: past libc's
                // wrapper, in the dependency or std code that made the call.
                let known = self.stack.iter().find(|frame| frame.file.is_some());
                if let Some(function) = known.and_then(|frame| frame.function.as_deref()) {
                    write!(f, " in {}", without_closures(function))?;
                }
                f.write_str(", outside the project's code")?;
            }
        }
        if let Some(api) = self.api().and_then(|frame| frame.function.as_deref()) {
            write!(f, " ({})", without_closures(api))?;
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

impl fmt::Display for HoldingThread {
    /// `thread 'server' (tid 9471), blocked in accept4()`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "thread '{}' (tid {}), blocked in {}()",
            self.name, self.tid, self.syscall
        )
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
    }
}
