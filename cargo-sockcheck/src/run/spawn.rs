//! Starting a job's process under the tracer without copying the tracer:
//! `clone(CLONE_VM | CLONE_VFORK)` on a small stack of our own (what
//! glibc's `posix_spawn` does), with a child that makes only raw syscalls —
//! its own process group, its output into a pipe (when captured), its
//! directory, its descriptor limit (`--max-fds`), `PTRACE_TRACEME` and the seccomp filter that stops it at
//! `exit_group` — and then `execve`. The tracer is suspended only until the
//! child has exec'd; the exec stop that follows is handled by the event
//! loop like any other stop ([`finish_start`]).
//!
//! std's `Command::spawn` with a `pre_exec` hook would `fork` the tracer
//! instead (copying its page tables, then copy-on-write faults) and re-read
//! the environment for every test; here the environment block is built
//! once per distinct set of variables a job changes (once per test binary).

use super::output::OutputCapture;
use super::ptrace::{self, Pid};
use super::Job;
use anyhow::{anyhow, Context, Result};
use std::collections::HashMap;
use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};

/// The child's stack: it runs a handful of libc syscall wrappers.
const CHILD_STACK: usize = 64 * 1024;

/// A job's process, started: it exec'd and is stopped (or about to stop)
/// at its exec `SIGTRAP`, where [`finish_start`] sets the tracing options.
pub struct Started {
    /// The process id, also its process group.
    pub pid: Pid,
    /// Its stdout and stderr, when the job captures them.
    pub output: Option<OutputCapture>,
    /// The program, for errors.
    pub program: String,
}

/// Starts jobs' processes; keeps what every start shares.
pub struct Spawner {
    /// The tracer's own environment, read once.
    inherited: Vec<(OsString, OsString)>,
    /// Environment blocks already built, by the variables a job changes.
    environments: HashMap<Vec<(OsString, Option<OsString>)>, Environment>,
    /// `/dev/null`, the stdin of captured jobs, opened at the first.
    null: Option<OwnedFd>,
    stack: Vec<u8>,
    /// The `RLIMIT_NOFILE` every job runs with, when one is set.
    max_fds: Option<u64>,
}

/// A built `envp`: the strings and the null-terminated pointer array.
struct Environment {
    /// Owns what `pointers` points into.
    _strings: Vec<CString>,
    pointers: Vec<*const libc::c_char>,
    /// `PATH`, for commands named without a `/`.
    path: Option<OsString>,
}

/// Everything the child needs, prepared by the parent: the child must not
/// allocate (it shares the parent's memory and maybe its malloc locks).
struct Plan {
    program: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    directory: Option<*const libc::c_char>,
    /// Fds to install as 0, 1 and 2, when captured.
    stdio: Option<[libc::c_int; 3]>,
    /// `RLIMIT_NOFILE` to set, soft and hard, when one is set.
    max_fds: Option<libc::rlimit>,
    /// 0 until a step fails: then the step's errno.
    error: AtomicI32,
}

impl Spawner {
    /// A spawner for the environment this process has now, whose jobs
    /// may open `max_fds` descriptors when that is set.
    pub fn new(max_fds: Option<u64>) -> Spawner {
        Spawner {
            inherited: std::env::vars_os().collect(),
            environments: HashMap::new(),
            null: None,
            stack: vec![0; CHILD_STACK],
            max_fds,
        }
    }

    /// Starts `job`'s command traced. It runs up to its exec, where it
    /// stops; the event loop then calls [`finish_start`].
    pub fn start(&mut self, job: &Job<'_>) -> Result<Started> {
        let command = (job.command)();
        let program = command.get_program().to_string_lossy().into_owned();
        let changes = env_changes(&command);
        let inherited = &self.inherited;
        let environment = self
            .environments
            .entry(changes)
            .or_insert_with_key(|changes| Environment::new(inherited, changes));
        let path = resolve(command.get_program(), environment.path.as_deref())
            .ok_or_else(|| anyhow!("cannot start `{program}`: no such program in PATH"))?;
        let path = c_string(path.as_os_str())?;
        let args: Vec<CString> = std::iter::once(command.get_program())
            .chain(command.get_args())
            .map(c_string)
            .collect::<Result<_>>()?;
        let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        let directory = command
            .get_current_dir()
            .map(|d| c_string(d.as_os_str()))
            .transpose()?;

        let pipe = if job.capture {
            let null = match &self.null {
                Some(null) => null.as_raw_fd(),
                None => {
                    let file = std::fs::File::open("/dev/null").context("cannot open /dev/null")?;
                    self.null.insert(file.into()).as_raw_fd()
                }
            };
            let (reader, writer) = std::io::pipe().context("cannot create a pipe")?;
            Some((reader, writer, null))
        } else {
            None
        };
        let plan = Plan {
            program: path.as_ptr(),
            argv: argv.as_ptr(),
            envp: environment.pointers.as_ptr(),
            directory: directory.as_ref().map(|d| d.as_ptr()),
            stdio: pipe.as_ref().map(|(_, writer, null)| {
                let out = writer.as_raw_fd();
                [*null, out, out]
            }),
            max_fds: self.max_fds.map(|n| libc::rlimit {
                rlim_cur: n as libc::rlim_t,
                rlim_max: n as libc::rlim_t,
            }),
            error: AtomicI32::new(0),
        };
        // SAFETY: `plan` and what it points to (`path`, `args`, `argv`,
        // `directory`, the environment, the pipe) outlive the child's use
        // of them: CLONE_VFORK suspends us until it has exec'd or exited.
        let pid =
            unsafe { clone_vfork(&plan, &mut self.stack) }.map_err(|e| spawn_error(e, &program))?;
        let error = plan.error.load(Ordering::Acquire);
        if error != 0 {
            // It exited without exec'ing: reap it here, it is no test.
            ptrace::wait_for(pid).context("waitpid failed")?;
            return Err(spawn_error(
                std::io::Error::from_raw_os_error(error),
                &program,
            ));
        }
        let output = match pipe {
            Some((reader, writer, _)) => {
                // The child holds the write end now; it alone keeps the pipe open.
                drop(writer);
                Some(OutputCapture::new(reader).context("cannot read a test's output")?)
            }
            None => None,
        };
        Ok(Started {
            pid,
            output,
            program,
        })
    }
}

/// At the exec stop of a started job (its `SIGTRAP`): sets the tracing
/// options and lets it run.
pub fn finish_start(pid: Pid, program: &str) -> Result<()> {
    ptrace::set_options(pid).map_err(|e| trace_error(e, program))?;
    ptrace::resume(pid, 0).map_err(|e| trace_error(e, program))
}

impl Environment {
    /// `inherited` with `changes` applied (a `None` value removes the variable).
    fn new(
        inherited: &[(OsString, OsString)],
        changes: &[(OsString, Option<OsString>)],
    ) -> Environment {
        let mut variables: Vec<(OsString, OsString)> = inherited
            .iter()
            .filter(|(name, _)| !changes.iter().any(|(changed, _)| changed == name))
            .cloned()
            .collect();
        variables.extend(
            changes
                .iter()
                .filter_map(|(name, value)| Some((name.clone(), value.clone()?))),
        );
        let path = variables
            .iter()
            .find(|(name, _)| name == "PATH")
            .map(|(_, value)| value.clone());
        // A variable with a NUL byte cannot be passed; std drops it too.
        let strings: Vec<CString> = variables
            .into_iter()
            .filter_map(|(name, value)| {
                let mut entry = name.into_vec();
                entry.push(b'=');
                entry.extend(value.into_vec());
                CString::new(entry).ok()
            })
            .collect();
        let mut pointers: Vec<*const libc::c_char> = strings.iter().map(|s| s.as_ptr()).collect();
        pointers.push(std::ptr::null());
        Environment {
            _strings: strings,
            pointers,
            path,
        }
    }
}

/// The file to exec for `program`: itself when it names a path, else the
/// first executable file of that name in `path` (as `execvp` looks).
fn resolve(program: &OsStr, path: Option<&OsStr>) -> Option<std::path::PathBuf> {
    if program.as_bytes().contains(&b'/') {
        return Some(program.into());
    }
    let path = path.unwrap_or(OsStr::new("/usr/local/bin:/usr/bin:/bin"));
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(file: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(file).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn c_string(text: &OsStr) -> Result<CString> {
    CString::new(text.as_bytes())
        .map_err(|_| anyhow!("{} contains a NUL byte", text.to_string_lossy()))
}

/// Starts the child that carries out `plan`, on `stack`, sharing our
/// memory; returns once it has exec'd (or given up).
///
/// # Safety
///
/// Every pointer in `plan` must stay valid until this returns; `stack` is
/// used by the child until then.
unsafe fn clone_vfork(plan: &Plan, stack: &mut [u8]) -> std::io::Result<Pid> {
    // The child starts with every signal blocked, so no handler of ours
    // runs on its stack; it unblocks them just before exec.
    let mut all = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    let mut old = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: valid sigset pointers; this thread's mask is restored below.
    unsafe {
        libc::sigfillset(all.as_mut_ptr());
        libc::pthread_sigmask(libc::SIG_SETMASK, all.as_ptr(), old.as_mut_ptr());
    }
    // The stack grows down from its end, 16-byte aligned.
    let top = stack.as_mut_ptr_range().end as usize & !15;
    // SAFETY: `child` only reads `plan` and makes syscalls; CLONE_VFORK
    // keeps `plan` and the stack alive until it has exec'd or exited.
    let pid = unsafe {
        libc::clone(
            child,
            top as *mut libc::c_void,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            std::ptr::from_ref(plan).cast_mut().cast(),
        )
    };
    let error = std::io::Error::last_os_error();
    // SAFETY: restores the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old.as_ptr(), std::ptr::null_mut()) };
    if pid < 0 {
        Err(error)
    } else {
        Ok(pid)
    }
}

/// The child, between clone and exec: raw syscalls only, no allocation, no
/// unwinding. A failing step records its errno in the plan and exits 127
/// (with `SYS_exit`: the seccomp filter would refuse `exit_group`).
extern "C" fn child(plan: *mut libc::c_void) -> libc::c_int {
    // SAFETY: the parent passed a valid `Plan`, alive until we exec or exit.
    let plan = unsafe { &*(plan as *const Plan) };
    let fail = |plan: &Plan| {
        // SAFETY: reading errno is always sound.
        let errno = unsafe { *libc::__errno_location() };
        plan.error.store(errno.max(1), Ordering::Release);
        127
    };
    // SAFETY: plain syscalls on values the parent prepared; the child's
    // signal dispositions are its own copy (no CLONE_SIGHAND).
    unsafe {
        if libc::setpgid(0, 0) < 0 {
            return fail(plan);
        }
        if let Some(fds) = plan.stdio {
            for (target, fd) in fds.into_iter().enumerate() {
                if libc::dup2(fd, target as libc::c_int) < 0 {
                    return fail(plan);
                }
            }
        }
        if let Some(directory) = plan.directory {
            if libc::chdir(directory) < 0 {
                return fail(plan);
            }
        }
        if let Some(limit) = &plan.max_fds {
            if libc::setrlimit(libc::RLIMIT_NOFILE, limit) < 0 {
                return fail(plan);
            }
        }
        // Rust ignores SIGPIPE; the test must start with the default, as
        // std's spawn gives it.
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        if ptrace::prepare_child().is_err() {
            return fail(plan);
        }
        let mut none = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(none.as_mut_ptr());
        libc::pthread_sigmask(libc::SIG_SETMASK, none.as_ptr(), std::ptr::null_mut());
        libc::execve(plan.program, plan.argv, plan.envp);
    }
    fail(plan)
}

fn spawn_error(error: std::io::Error, program: &str) -> anyhow::Error {
    if error.raw_os_error() == Some(libc::EPERM) {
        return trace_error(error, program);
    }
    anyhow!("cannot start `{program}`: {error}")
}

fn trace_error(error: std::io::Error, program: &str) -> anyhow::Error {
    anyhow!(
        "cannot trace `{program}`: {error}. sockcheck needs ptrace: in a container, run it \
         with --cap-add=SYS_PTRACE (or a seccomp profile that allows ptrace); check \
         /proc/sys/kernel/yama/ptrace_scope"
    )
}

/// The variables `command` sets (or, with `None`, removes). std's
/// `env_clear` cannot be seen through `Command`: jobs do not use it.
fn env_changes(command: &Command) -> Vec<(OsString, Option<OsString>)> {
    command
        .get_envs()
        .map(|(k, v)| (k.to_owned(), v.map(OsStr::to_owned)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_is_the_inherited_one_with_the_job_s_changes() {
        let inherited = [("A", "1"), ("B", "2"), ("PATH", "/bin")]
            .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let mut command = Command::new("x");
        command.env("B", "3").env("C", "4").env_remove("A");
        let environment = Environment::new(&inherited, &env_changes(&command));
        let entries: Vec<String> = environment
            ._strings
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        assert_eq!(entries, ["PATH=/bin", "B=3", "C=4"]);
        assert_eq!(environment.pointers.len(), 4);
        assert!(environment.pointers[3].is_null());
        assert_eq!(environment.path.as_deref(), Some(OsStr::new("/bin")));
    }

    #[test]
    fn bare_program_names_are_found_in_path_and_paths_are_kept() {
        let sh = resolve(
            OsStr::new("sh"),
            Some(OsStr::new("/nonexistent:/bin:/usr/bin")),
        );
        assert!(sh.is_some_and(|p| p.ends_with("sh") && p.is_absolute()));
        assert_eq!(
            resolve(OsStr::new("no-such-program-x"), Some(OsStr::new("/bin"))),
            None
        );
        assert_eq!(
            resolve(OsStr::new("./relative"), None),
            Some("./relative".into())
        );
    }
}
