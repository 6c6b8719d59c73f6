//! Who held an address when a test's `bind` or `listen` on it failed with
//! `EADDRINUSE`, looked for at that moment (the failing thread is still
//! stopped at the call's exit): the sockets bound to it (for an IP address,
//! those on that port in the kernel's table; for a unix path, the one whose
//! socket file is at the path; for an abstract name, the one of that name),
//! then for each the test of this run that created it (from the creation
//! stacks), or else the process outside the run whose fds hold it (a scan
//! of `/proc/*/fd`); else only TIME_WAIT entries, or, at a unix path, a
//! file no socket is bound to.

use super::inet_diag::{self, ALL_STATES};
use super::ptrace::Pid;
use crate::stack::capture::{RawCall, SiteCapture};
use sockcheck::ports::PortHolder;
use sockcheck::snapshot::{self, BoundName};
use sockcheck::socket::{Address, Protocol, State, UnixAddress};
use std::ffi::OsStr;
use std::fs::Metadata;
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

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
    /// A unix path where socket file `file` is and no socket is bound to
    /// it: a stale one, which a bind of the run may have made.
    StaleFile(FileId),
    /// Nothing but what `holder` says.
    Nobody(PortHolder),
}

/// A socket file as a bind made it: its device, inode and change time
/// (seconds, nanoseconds), so that a file made again at a freed inode is
/// another (unless made within the same tick of the kernel's clock).
pub type FileId = (u64, u64, i64, i64);

/// The file at unix `path`, which `thread` named (a relative path is from
/// its working directory), not following a link at its end.
pub fn file_at(path: &[u8], thread: Pid) -> std::io::Result<Metadata> {
    let cwd = Path::new("/proc").join(thread.to_string()).join("cwd");
    std::fs::symlink_metadata(cwd.join(Path::new(OsStr::from_bytes(path))))
}

/// The [`FileId`] of `file`.
pub fn file_id(file: &Metadata) -> FileId {
    (file.dev(), file.ino(), file.ctime(), file.ctime_nsec())
}

/// Looks for the holder of `address` (`protocol`, for an IP one), which
/// `thread` asked for, among the sockets of `running` tests (`sites`), then
/// the processes outside the run; `owner` tells the running test a process
/// belongs to.
pub fn find(
    address: &Address,
    protocol: Protocol,
    thread: Pid,
    running: &[Pid],
    sites: &SiteCapture,
    owner: impl FnMut(Pid) -> Option<Pid>,
) -> Found {
    let (holding, nobody) = match address {
        Address::Inet(address) => inet_holders(*address, protocol),
        Address::Unix(address) => unix_holders(address, thread),
    };
    holder_of(&holding, running, sites, owner).unwrap_or(nobody)
}

/// The inodes of the sockets holding IP `address`, listeners first (what
/// a bind most often runs into), and who holds it when no process does.
fn inet_holders(address: SocketAddr, protocol: Protocol) -> (Vec<u64>, Found) {
    let Ok(table) = inet_diag::entries(protocol, ALL_STATES) else {
        return (Vec::new(), Found::Nobody(PortHolder::Unknown));
    };
    let mut holding: Vec<_> = table
        .iter()
        .filter(|entry| conflicts(entry.local, address))
        .collect();
    holding.sort_by_key(|entry| entry.state != Some(State::Listen));
    let stateless = holding.iter().filter(|entry| entry.inode == 0).count() as u64;
    let nobody = if stateless > 0 {
        PortHolder::TimeWait { entries: stateless }
    } else {
        PortHolder::Unknown
    };
    let inodes = holding.iter().map(|entry| entry.inode);
    (
        inodes.filter(|&inode| inode != 0).collect(),
        Found::Nobody(nobody),
    )
}

/// The inodes of the unix sockets bound to `address`, which `thread`
/// asked for (a relative path is its working directory's), and who holds
/// it when no socket does: a file alone at the path, or nothing found.
fn unix_holders(address: &UnixAddress, thread: Pid) -> (Vec<u64>, Found) {
    let nobody = (Vec::new(), Found::Nobody(PortHolder::Unknown));
    let (name, stale) = match address {
        UnixAddress::Path(path) => {
            let Ok(file) = file_at(path, thread) else {
                return nobody;
            };
            if !file.file_type().is_socket() {
                return (Vec::new(), Found::Nobody(PortHolder::NotASocket));
            }
            let name = BoundName::File {
                device: file.dev(),
                inode: file.ino(),
            };
            (name, Some(Found::StaleFile(file_id(&file))))
        }
        UnixAddress::Abstract(name) => (BoundName::Abstract(name.clone()), None),
        UnixAddress::Unnamed => return nobody,
    };
    match snapshot::unix_sockets_bound_to(&name) {
        Ok(inodes) if inodes.is_empty() => (inodes, stale.unwrap_or(nobody.1)),
        Ok(inodes) => (inodes, nobody.1),
        Err(_) => nobody,
    }
}

/// Who holds one of the sockets `holding` (inodes, most likely first): a
/// `running` test that created it, else the process whose fds hold it (a
/// tracee counts as its test's, by `owner`).
fn holder_of(
    holding: &[u64],
    running: &[Pid],
    sites: &SiteCapture,
    mut owner: impl FnMut(Pid) -> Option<Pid>,
) -> Option<Found> {
    for &inode in holding {
        for &test in running {
            if let Some(call) = sites.of(test).and_then(|s| s.socket_call(inode)) {
                return Some(Found::Test {
                    test,
                    call: Some(call.clone()),
                });
            }
        }
    }
    let pid = holding.iter().find_map(|&inode| process_holding(inode))?;
    Some(match owner(pid) {
        Some(test) => Found::Test { test, call: None },
        None => Found::Outside(PortHolder::Process {
            pid: pid as u32,
            command: command_line(pid),
        }),
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
        let address = Address::Inet(listener.local_addr().unwrap());
        let own = std::process::id() as Pid;
        let sites = SiteCapture::new();
        let found = find(&address, Protocol::Tcp, own, &[], &sites, |_| None);
        let Found::Outside(PortHolder::Process { pid, command }) = found else {
            panic!("not found outside the run");
        };
        assert_eq!(pid, std::process::id());
        let program = std::env::args().next().unwrap();
        assert!(command.starts_with(&program), "{command:?} vs {program:?}");
        // The same process, known as a running test's.
        let found = find(&address, Protocol::Tcp, own, &[], &sites, |_| Some(own));
        assert!(matches!(found, Found::Test { test, call: None } if test == own));
    }

    /// A unix listener of this process is found by its path as the inet
    /// one is by its port; once it is closed, its file is left alone at
    /// the path; a plain file is no socket.
    #[test]
    fn a_unix_path_is_held_by_its_listener_then_by_a_stale_file() {
        let dir = tempfile::tempdir().unwrap();
        let own = std::process::id() as Pid;
        let sites = SiteCapture::new();
        let holder = |path: &Path| {
            let address = Address::Unix(UnixAddress::Path(path.as_os_str().as_bytes().to_vec()));
            find(&address, Protocol::Tcp, own, &[], &sites, |_| None)
        };
        let path = dir.path().join("held.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let found = holder(&path);
        assert!(
            matches!(found, Found::Outside(PortHolder::Process { pid, .. }) if pid == own as u32)
        );
        drop(listener);
        let file = file_id(&std::fs::symlink_metadata(&path).unwrap());
        assert!(matches!(holder(&path), Found::StaleFile(id) if id == file));
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "").unwrap();
        assert!(matches!(
            holder(&plain),
            Found::Nobody(PortHolder::NotASocket)
        ));
        let gone = dir.path().join("gone.sock");
        assert!(matches!(holder(&gone), Found::Nobody(PortHolder::Unknown)));
    }
}
