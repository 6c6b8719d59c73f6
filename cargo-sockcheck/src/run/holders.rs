//! The threads that still hold a leaked socket: those of the test's
//! process blocked in a call on it (`accept`, `recvfrom`, ...) when the
//! test ended, read from `/proc/PID/task/TID/{syscall,comm}`.
//!
//! A thread waiting in `epoll_wait` or `poll` names no socket and is not
//! reported: nothing is said rather than something unsure.

use crate::stack::{syscalls, RawSpawns};
use sockcheck::site::HoldingThread;
use sockcheck::snapshot::fd_socket_inode;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::ptrace::Pid;

/// A thread blocked on a leaked socket, and the thread creations that led
/// to it (raw, symbolized once the leak is reported).
#[derive(Debug, Clone)]
pub struct Holder {
    /// The thread, its name as read.
    pub thread: HoldingThread,
    /// The creations that led to it; `None` for the test's own thread.
    pub spawns: Option<Arc<RawSpawns>>,
}

/// The threads of `process` blocked on one of the sockets in `leaked`, by
/// socket inode; `spawns_of` tells the creations that led to a thread.
pub fn holding_threads(
    process: Pid,
    leaked: &HashSet<u64>,
    spawns_of: impl Fn(Pid) -> Option<Arc<RawSpawns>>,
) -> HashMap<u64, Vec<Holder>> {
    let mut holders: HashMap<u64, Vec<Holder>> = HashMap::new();
    if leaked.is_empty() {
        return holders;
    }
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{process}/task")) else {
        return holders;
    };
    let mut threads: Vec<Pid> = tasks
        .flatten()
        .filter_map(|task| task.file_name().to_str()?.parse().ok())
        .collect();
    threads.sort_unstable();
    for tid in threads {
        let task = format!("/proc/{process}/task/{tid}");
        let Ok(line) = std::fs::read_to_string(format!("{task}/syscall")) else {
            continue;
        };
        let Some((syscall, fd)) = blocked_on_fd(&line) else {
            continue;
        };
        let Some(inode) =
            fd_socket_inode(process as u32, fd).filter(|inode| leaked.contains(inode))
        else {
            continue;
        };
        let name = std::fs::read_to_string(format!("{task}/comm")).unwrap_or_default();
        holders.entry(inode).or_default().push(Holder {
            thread: HoldingThread::new(tid as u32, name.trim_end(), syscall),
            spawns: spawns_of(tid),
        });
    }
    holders
}

/// The call and fd of a `/proc/PID/task/TID/syscall` line (`288 0x3 0x0
/// ...`: number in decimal, arguments in hex) when the thread is blocked
/// in a call that waits on the fd in its first argument.
fn blocked_on_fd(line: &str) -> Option<(&'static str, i32)> {
    let mut fields = line.split_whitespace();
    let number: i64 = fields.next()?.parse().ok()?;
    let syscall = syscalls::waiting_on_an_fd(number)?;
    let fd = u64::from_str_radix(fields.next()?.strip_prefix("0x")?, 16).ok()?;
    Some((syscall, i32::try_from(fd).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::os::fd::AsRawFd;

    #[test]
    fn syscall_lines_name_the_call_and_fd_only_when_waiting_on_one() {
        let accept4 = format!(
            "{} 0x4 0x7ffd 0x0 0x80800 0x0 0x0 0x7ffd 0x7f00",
            libc::SYS_accept4
        );
        assert_eq!(blocked_on_fd(&accept4), Some(("accept4", 4)));
        let futex = format!(
            "{} 0x7f00 0x80 0x0 0x0 0x0 0x0 0x7ffd 0x7f00",
            libc::SYS_futex
        );
        assert_eq!(blocked_on_fd(&futex), None);
        assert_eq!(blocked_on_fd("running"), None);
        assert_eq!(blocked_on_fd("-1 0x7ffd 0x7f00"), None);
        assert_eq!(blocked_on_fd(""), None);
    }

    #[test]
    fn a_thread_blocked_in_accept_on_a_leaked_listener_holds_it() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let own = std::process::id() as Pid;
        let inode = fd_socket_inode(own as u32, listener.as_raw_fd()).unwrap();
        let acceptor = std::thread::Builder::new()
            .name("acceptor".into())
            .spawn(move || listener.accept().map(|_| ()))
            .unwrap();
        let leaked = HashSet::from([inode]);
        // Wait (bounded) until the thread is in accept: that is the state
        // looked at, not a timing assumption.
        let mut holders = HashMap::new();
        for _ in 0..1000 {
            holders = holding_threads(own, &leaked, |_| None);
            if !holders.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let threads = holders
            .remove(&inode)
            .expect("the acceptor is blocked on the listener");
        assert_eq!(threads.len(), 1);
        assert_eq!(threads[0].thread.name, "acceptor");
        let syscall = &threads[0].thread.syscall;
        assert!(syscall.starts_with("accept"), "{syscall}");
        assert!(holding_threads(own, &HashSet::from([inode + 1]), |_| None).is_empty());
        std::net::TcpStream::connect(address).unwrap();
        acceptor.join().unwrap().unwrap();
    }
}
