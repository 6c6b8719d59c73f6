//! Who held an address when a test's `bind` or `listen` on it failed with
//! `EADDRINUSE`, looked for at that moment (the failing thread is still
//! stopped at the call's exit): the sockets bound to that port in the
//! kernel's table, then for each the test of this run that created it
//! (from the creation stacks), or else the process outside the run whose
//! fds hold it (a scan of `/proc/*/fd`), or else only TIME_WAIT entries.

use super::inet_diag::{self, Entry, ALL_STATES};
use super::ptrace::Pid;
use crate::stack::capture::{RawCall, SiteCapture};
use sockcheck::ports::PortHolder;
use sockcheck::socket::{Protocol, State};
use std::net::SocketAddr;

/// Where a holding socket was found.
pub enum Found {
    /// Created by running test `test` by `call` (when the call was seen).
    Test {
        /// The test process.
        test: Pid,
        /// Its creating call.
        call: Option<RawCall>,
    },
    /// Held by `pid`, which is not one of the run's tracees.
    Outside(PortHolder),
    /// Nothing but what `holder` says.
    Nobody(PortHolder),
}

/// Looks for the holder of `address` (`protocol`) among the sockets of
/// `running` tests (`sites`), then the processes outside the run;
/// `owner` tells the running test a process belongs to.
pub fn find(
    address: SocketAddr,
    protocol: Protocol,
    running: &[Pid],
    sites: &SiteCapture,
    mut owner: impl FnMut(Pid) -> Option<Pid>,
) -> Found {
    let Ok(table) = inet_diag::entries(protocol, ALL_STATES) else {
        return Found::Nobody(PortHolder::Unknown);
    };
    let mut holding: Vec<&Entry> = table
        .iter()
        .filter(|entry| conflicts(entry.local, address))
        .collect();
    // Listeners first: they are what a bind most often runs into.
    holding.sort_by_key(|entry| entry.state != Some(State::Listen));
    let owned = holding.iter().filter(|entry| entry.inode != 0);
    for entry in owned.clone() {
        for &test in running {
            if let Some(call) = sites.of(test).and_then(|s| s.socket_call(entry.inode)) {
                return Found::Test {
                    test,
                    call: Some(call.clone()),
                };
            }
        }
    }
    for entry in owned {
        if let Some(pid) = process_holding(entry.inode) {
            return match owner(pid) {
                Some(test) => Found::Test { test, call: None },
                None => Found::Outside(PortHolder::Process {
                    pid: pid as u32,
                    command: command_line(pid),
                }),
            };
        }
    }
    let stateless = holding.iter().filter(|entry| entry.inode == 0).count() as u64;
    Found::Nobody(if stateless > 0 {
        PortHolder::TimeWait { entries: stateless }
    } else {
        PortHolder::Unknown
    })
}

/// True when a socket bound to `bound` takes `asked`: the same port, and
/// the same IP or either one unspecified.
fn conflicts(bound: SocketAddr, asked: SocketAddr) -> bool {
    bound.port() == asked.port()
        && (bound.ip() == asked.ip() || bound.ip().is_unspecified() || asked.ip().is_unspecified())
}

/// The first process whose fds include socket `inode` (a scan of
/// `/proc/*/fd`; processes whose fds cannot be read are passed over).
fn process_holding(inode: u64) -> Option<Pid> {
    let link = format!("socket:[{inode}]");
    let processes = std::fs::read_dir("/proc").ok()?;
    processes
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<Pid>().ok())
        .find(|pid| {
            let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
                return false;
            };
            fds.flatten().any(|fd| {
                std::fs::read_link(fd.path())
                    .is_ok_and(|target| target.as_os_str() == link.as_str())
            })
        })
}

/// `pid`'s command line, its arguments joined by spaces, or its name
/// (`comm`) when that cannot be read; untrusted text.
fn command_line(pid: Pid) -> String {
    let arguments = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let words: Vec<String> = arguments
        .split(|&b| b == 0)
        .filter(|word| !word.is_empty())
        .map(|word| String::from_utf8_lossy(word).into_owned())
        .collect();
    if !words.is_empty() {
        return words.join(" ");
    }
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|name| name.trim_end_matches('\n').to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn ports_conflict_on_the_same_or_an_unspecified_ip_only() {
        let at = |text: &str| text.parse::<SocketAddr>().unwrap();
        assert!(conflicts(at("127.0.0.1:80"), at("127.0.0.1:80")));
        assert!(conflicts(at("0.0.0.0:80"), at("127.0.0.1:80")));
        assert!(conflicts(at("127.0.0.1:80"), at("0.0.0.0:80")));
        assert!(!conflicts(at("127.0.0.2:80"), at("127.0.0.1:80")));
        assert!(!conflicts(at("127.0.0.1:81"), at("127.0.0.1:80")));
    }

    /// A listener of this process, which is no test of a run: found by the
    /// scan, with this process's command line.
    #[test]
    fn a_listener_outside_the_run_is_found_with_its_pid_and_command() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let found = find(address, Protocol::Tcp, &[], &SiteCapture::new(), |_| None);
        let Found::Outside(PortHolder::Process { pid, command }) = found else {
            panic!("not found outside the run");
        };
        assert_eq!(pid, std::process::id());
        let own = std::env::args().next().unwrap();
        assert!(command.starts_with(&own), "{command:?} vs {own:?}");
        // The same process, known as a running test's.
        let own = std::process::id() as Pid;
        let found = find(address, Protocol::Tcp, &[], &SiteCapture::new(), |_| {
            Some(own)
        });
        assert!(matches!(found, Found::Test { test, call: None } if test == own));
    }
}
