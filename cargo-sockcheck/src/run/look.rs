//! What a test process holds at a look: the sockets in its own fd table
//! and in every table one of its threads made its own
//! (`unshare(CLONE_FILES)`, a thread cloned without `CLONE_FILES`), each
//! socket once; or that the process is gone; or why it cannot be read
//! (a non-dumpable process when sockcheck is not root), which is a verdict
//! on that test, never the end of the run.

use super::ptrace::Pid;
use crate::procinfo;
use sockcheck::snapshot::{process_sockets, thread_sockets};
use sockcheck::socket::Socket;
use std::collections::HashSet;

/// What a look at a process found.
#[derive(Debug)]
pub enum Holdings {
    /// The sockets it holds.
    Sockets(Vec<Socket>),
    /// It is gone (or a zombie): it holds nothing any more.
    Gone,
    /// It is alive but its fds cannot be read, and why.
    Unreadable(String),
}

/// The sockets `process` holds now, its threads' private fd tables
/// included.
pub fn sockets_of(process: Pid) -> Holdings {
    let mut sockets = match process_sockets(process as u32) {
        Ok(sockets) => sockets,
        Err(_) if procinfo::is_dead(process) => return Holdings::Gone,
        Err(error) => return Holdings::Unreadable(error.to_string()),
    };
    let mut seen: HashSet<u64> = sockets.iter().map(|socket| socket.inode).collect();
    for thread in threads_with_their_own_fds(process) {
        match thread_sockets(process as u32, thread as u32) {
            Ok(more) => sockets.extend(more.into_iter().filter(|s| seen.insert(s.inode))),
            // Gone meanwhile: its table went with it.
            Err(_) if procinfo::is_dead(thread) => {}
            Err(error) => {
                return Holdings::Unreadable(format!("thread {thread}'s own fd table: {error}"))
            }
        }
    }
    Holdings::Sockets(sockets)
}

/// `kcmp`'s type for "same fd table".
const KCMP_FILES: libc::c_int = 2;

/// The threads of `process` whose fd table is not the process's: one
/// `kcmp` per thread (a libtest test at its exit has one or two).
fn threads_with_their_own_fds(process: Pid) -> Vec<Pid> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{process}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| task.file_name().to_str()?.parse::<Pid>().ok())
        .filter(|&thread| thread != process)
        .filter(|&thread| {
            // SAFETY: plain syscall; 0 means both threads share one table.
            let same = unsafe { libc::syscall(libc::SYS_kcmp, process, thread, KCMP_FILES, 0, 0) };
            same > 0
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockcheck::socket::Address;
    use std::net::TcpListener;
    use std::sync::mpsc;

    /// A socket bound by a thread after it unshared its fd table is not
    /// in the process's table, and is found all the same.
    #[test]
    fn a_socket_in_a_thread_s_own_fd_table_is_found() {
        let (ready, bound) = mpsc::channel();
        let (done, finish) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            // SAFETY: plain syscall, on this thread only.
            assert_eq!(unsafe { libc::unshare(libc::CLONE_FILES) }, 0);
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            ready.send(listener.local_addr().unwrap()).unwrap();
            finish.recv().unwrap();
            drop(listener);
        });
        let address = Address::from(bound.recv().unwrap());
        let own = std::process::id() as Pid;
        let in_process_table = process_sockets(own as u32).unwrap();
        assert!(
            in_process_table.iter().all(|s| s.local != address),
            "the process's own table does not have it"
        );
        let Holdings::Sockets(sockets) = sockets_of(own) else {
            panic!("this process is readable");
        };
        assert_eq!(
            sockets.iter().filter(|s| s.local == address).count(),
            1,
            "{sockets:#?}"
        );
        done.send(()).unwrap();
        thread.join().unwrap();
    }
}
