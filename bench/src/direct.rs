//! Baselines for the profile: the suite's tests run one per process, one at
//! a time, the way `cargo sockcheck -j1` runs them, but without sockcheck:
//! untraced (started with posix_spawn, then with fork), and under a minimal
//! tracer that sets up what sockcheck's does (PTRACE_TRACEME, the seccomp
//! filter that stops `exit_group`; then only those stops, or sockcheck's
//! ptrace options) and only resumes every stop. The differences split
//! sockcheck's per-test cost into "a process per test", "fork", "being
//! traced" and "sockcheck's own work".

use crate::measure::Result;
use crate::suite::Suite;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A test binary of the suite and its tests.
pub struct Binary {
    path: PathBuf,
    tests: Vec<String>,
}

/// The suite's test binaries (from cargo's JSON messages) and their tests.
pub fn binaries(cargo: &str, suite: &Suite) -> Result<Vec<Binary>> {
    let output = Command::new(cargo)
        .args([
            "test",
            "--no-run",
            "--message-format=json",
            "--manifest-path",
        ])
        .arg(suite.manifest())
        .arg("--target-dir")
        .arg(suite.dir.join("target"))
        .stderr(Stdio::null())
        .output()?;
    let messages = String::from_utf8_lossy(&output.stdout);
    let mut binaries = Vec::new();
    for line in messages.lines() {
        // Enough of the JSON for this suite: `"executable":"/path"` of test artifacts.
        let Some((_, rest)) = line.split_once("\"executable\":\"") else {
            continue;
        };
        let path = PathBuf::from(rest.split('"').next().unwrap_or_default());
        let list = Command::new(&path)
            .args(["--list", "--format", "terse"])
            .output()?;
        let tests = String::from_utf8_lossy(&list.stdout)
            .lines()
            .filter_map(|l| l.strip_suffix(": test"))
            .map(str::to_owned)
            .collect();
        binaries.push(Binary { path, tests });
    }
    Ok(binaries)
}

/// How the baseline starts each test process.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// std's `Command::spawn` as is: `posix_spawn` (a vfork-like clone).
    Spawn,
    /// With a no-op `pre_exec`, which makes std `fork` (as sockcheck's does).
    Fork,
    /// `fork`, traced by the minimal tracer with only the stops sockcheck
    /// cannot do without: after exec, and at `exit_group`.
    TracedLean,
    /// `fork`, traced by the minimal tracer with sockcheck's ptrace options
    /// (threads, forks and exits traced too).
    Traced,
}

/// sockcheck's ptrace options (cargo-sockcheck/src/run/ptrace.rs).
const OPTIONS: libc::c_int = libc::PTRACE_O_TRACEEXIT
    | libc::PTRACE_O_EXITKILL
    | libc::PTRACE_O_TRACESECCOMP
    | libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACEVFORK
    | libc::PTRACE_O_TRACECLONE
    | libc::PTRACE_O_TRACEEXEC;

/// Only what stopping at `exit_group` needs.
const LEAN_OPTIONS: libc::c_int = libc::PTRACE_O_EXITKILL | libc::PTRACE_O_TRACESECCOMP;

/// Runs every test in its own process, one after the other, with output to
/// /dev/null and the environment cargo would give (working directory, the
/// `deps` library path).
pub fn run_all(binaries: &[Binary], dir: &Path, mode: Mode) -> Result<Duration> {
    let start = Instant::now();
    for binary in binaries {
        let deps = binary.path.parent().unwrap_or(Path::new("."));
        for test in &binary.tests {
            let mut command = Command::new(&binary.path);
            command
                .args(["--exact", test, "--nocapture", "--test-threads=1"])
                .current_dir(dir)
                .env("CARGO_MANIFEST_DIR", dir)
                .env("LD_LIBRARY_PATH", deps)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let ok = match mode {
                Mode::Spawn => command.status()?.success(),
                Mode::Fork => {
                    // SAFETY: does nothing.
                    unsafe { command.pre_exec(|| Ok(())) };
                    command.status()?.success()
                }
                Mode::TracedLean | Mode::Traced => {
                    // SAFETY: only async-signal-safe syscalls between fork and exec.
                    unsafe { command.pre_exec(prepare_child) };
                    let pid = command.spawn()?.id() as libc::pid_t;
                    trace(
                        pid,
                        if mode == Mode::Traced {
                            OPTIONS
                        } else {
                            LEAN_OPTIONS
                        },
                    )?
                }
            };
            if !ok {
                return Err(format!("{} {test} failed", binary.path.display()).into());
            }
        }
    }
    Ok(start.elapsed())
}

/// Resumes every stop of `pid` and its traced threads until it exits; true
/// when it exited 0.
fn trace(pid: libc::pid_t, options: libc::c_int) -> Result<bool> {
    let mut first = true;
    loop {
        let mut status = 0;
        // SAFETY: status is valid for a write.
        let who = unsafe { libc::waitpid(-1, &mut status, libc::__WALL) };
        if who < 0 {
            return Err(io::Error::last_os_error().into());
        }
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            if who == pid {
                return Ok(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
            }
            continue;
        }
        let deliver = match (status >> 16, libc::WSTOPSIG(status)) {
            // The stop after exec.
            (0, libc::SIGTRAP) if first && who == pid => {
                first = false;
                // SAFETY: plain syscall on our stopped tracee.
                unsafe { libc::ptrace(libc::PTRACE_SETOPTIONS, pid, 0, options) };
                0
            }
            // A new thread's first stop (a test sending itself SIGSTOP is
            // not a case here).
            (0, libc::SIGSTOP) => 0,
            (0, signal) => signal,
            // A ptrace event stop (clone, seccomp, exit).
            _ => 0,
        };
        // SAFETY: plain syscall on our stopped tracee.
        unsafe { libc::ptrace(libc::PTRACE_CONT, who, 0, deliver) };
    }
}

/// What sockcheck's runner does in the child before exec: be traced, and
/// stop at `exit_group` (seccomp `SECCOMP_RET_TRACE`).
fn prepare_child() -> io::Result<()> {
    const LOAD: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JUMP_EQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const RETURN: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH: u32 = 0xC000_003E;
    #[cfg(target_arch = "aarch64")]
    const AUDIT_ARCH: u32 = 0xC000_00B7;
    let op = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let filter = [
        op(LOAD, 0, 0, 4),
        op(JUMP_EQ, 0, 3, AUDIT_ARCH),
        op(LOAD, 0, 0, 0),
        op(JUMP_EQ, 0, 1, libc::SYS_exit_group as u32),
        op(RETURN, 0, 0, libc::SECCOMP_RET_TRACE),
        op(RETURN, 0, 0, libc::SECCOMP_RET_ALLOW),
    ];
    let program = libc::sock_fprog {
        len: filter.len() as libc::c_ushort,
        filter: filter.as_ptr().cast_mut(),
    };
    let check = |rc: libc::c_long| match rc {
        -1 => Err(io::Error::last_os_error()),
        _ => Ok(()),
    };
    // SAFETY: plain syscalls with valid arguments.
    unsafe {
        check(libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0))?;
        check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0).into())?;
        let seccomp = libc::SECCOMP_MODE_FILTER;
        check(libc::prctl(libc::PR_SET_SECCOMP, seccomp, &raw const program, 0, 0).into())
    }
}
