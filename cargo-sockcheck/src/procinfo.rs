//! What the kernel says about a traced process or thread: its thread
//! group, its parent, whether it is still alive. Read from `/proc` with one
//! `read` each, since the tracer asks while tests wait at their stops.

use std::io::Read;

type Pid = libc::pid_t;

/// The thread-group id (process id) of thread `tid`; `None` when it is gone.
pub fn thread_group(tid: Pid) -> Option<Pid> {
    status_field(tid, "Tgid:")
}

/// The parent process of process `pid`; `None` when it is gone.
pub fn parent(pid: Pid) -> Option<Pid> {
    status_field(pid, "PPid:")
}

/// How many threads process `pid` has (a main thread that has exited
/// while others run still counts); `None` when it is gone.
pub fn threads(pid: Pid) -> Option<Pid> {
    status_field(pid, "Threads:")
}

/// True when a thread of `process` is in `execve` (or `execveat`): its
/// other threads are being ended for the exec, and the process goes on as
/// the new program.
pub fn is_execing(process: Pid) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{process}/task")) else {
        return false;
    };
    tasks.flatten().any(|task| {
        let syscall = std::fs::read_to_string(task.path().join("syscall")).unwrap_or_default();
        let number = syscall
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok());
        matches!(number, Some(libc::SYS_execve | libc::SYS_execveat))
    })
}

/// True when thread `tid` belongs to process `process`: a signal 0 sent
/// with `tgkill` reaches it. One syscall, against reading `/proc`.
pub fn is_thread_of(process: Pid, tid: Pid) -> bool {
    // SAFETY: plain syscall; signal 0 only checks that the thread exists.
    unsafe { libc::syscall(libc::SYS_tgkill, process, tid, 0) == 0 }
}

/// True when process `pid` is gone or a zombie: it holds no fds any more.
pub fn is_dead(pid: Pid) -> bool {
    match read_proc(pid, "stat") {
        // The state follows the command name, which is in parentheses.
        Some(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| matches!(rest.trim_start().chars().next(), Some('Z' | 'X'))),
        None => true,
    }
}

fn status_field(pid: Pid, field: &str) -> Option<Pid> {
    read_proc(pid, "status")?
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|value| value.trim().parse().ok())
}

/// `/proc/PID/FILE`, read into a buffer that holds it whole (these files
/// report no size, so `fs::read_to_string` would grow its buffer read by
/// read).
fn read_proc(pid: Pid, file: &str) -> Option<String> {
    let mut text = String::with_capacity(4096);
    std::fs::File::open(format!("/proc/{pid}/{file}"))
        .ok()?
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_and_its_threads_are_told_apart() {
        let own = std::process::id() as Pid;
        // SAFETY: plain syscall.
        let tid = unsafe { libc::gettid() };
        assert_eq!(thread_group(tid), Some(own));
        assert_eq!(
            parent(own),
            Some(std::os::unix::process::parent_id() as Pid)
        );
        assert!(is_thread_of(own, tid));
        assert!(threads(own).is_some_and(|n| n >= 1));
        assert!(!is_dead(own));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as Pid;
        assert!(!is_thread_of(own, pid), "a child process is not our thread");
        child.wait().unwrap();
        assert!(is_dead(pid));
        assert_eq!(thread_group(pid), None);
    }
}
