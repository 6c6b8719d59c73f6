//! Starting a job's process under the tracer: its own process group, its
//! output into a pipe (when captured), traced from its `exec` on with the
//! seccomp filter that stops it at `exit_group`.

use super::output::OutputCapture;
use super::ptrace::{self, Event, Pid};
use super::Job;
use anyhow::{anyhow, Context, Result};
use std::os::unix::process::CommandExt;
use std::process::Stdio;

/// A job's process, stopped after its exec with the tracing options set,
/// then resumed.
pub struct Started {
    /// The process id, also its process group.
    pub pid: Pid,
    /// Its stdout and stderr, when the job captures them.
    pub output: Option<OutputCapture>,
}

/// Starts `job`'s command traced and lets it run.
pub fn start(job: &Job<'_>) -> Result<Started> {
    let mut command = (job.command)();
    let program = command.get_program().to_string_lossy().into_owned();
    let reader = if job.capture {
        let (reader, writer) = std::io::pipe().context("cannot create a pipe")?;
        let stdout = writer.try_clone().context("cannot create a pipe")?;
        command.stdin(Stdio::null()).stdout(stdout).stderr(writer);
        Some(reader)
    } else {
        None
    };
    command.process_group(0);
    let prepare = || {
        // SAFETY: this hook runs in the child between fork and exec, as
        // prepare_child requires.
        unsafe { ptrace::prepare_child() }
    };
    // SAFETY: the hook makes only async-signal-safe syscalls and allocates
    // nothing, as pre_exec requires of code run between fork and exec.
    unsafe { command.pre_exec(prepare) };
    let child = command.spawn().map_err(|e| spawn_error(e, &program))?;
    drop(command); // closes our copies of the pipe's write end
    let pid = child.id() as Pid;
    match ptrace::wait_for(pid).context("waitpid failed")? {
        Event::Signal(libc::SIGTRAP) => {}
        other => {
            return Err(anyhow!(
                "`{program}` did not start under the tracer ({other:?})"
            ));
        }
    }
    ptrace::set_options(pid).map_err(|e| trace_error(e, &program))?;
    ptrace::resume(pid, 0).map_err(|e| trace_error(e, &program))?;
    let output = match reader {
        Some(reader) => Some(OutputCapture::new(reader).context("cannot read a test's output")?),
        None => None,
    };
    Ok(Started { pid, output })
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
