//! Running the timed commands: wall time, alternated rounds, medians, and
//! the peak memory of one process.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A command line to time.
#[derive(Clone)]
pub struct Cmd {
    /// How the table names it, e.g. `cargo nextest run`.
    pub label: String,
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
}

impl Cmd {
    pub fn new<A: AsRef<OsStr>>(
        label: &str,
        program: impl Into<OsString>,
        args: impl IntoIterator<Item = A>,
    ) -> Cmd {
        Cmd {
            label: label.to_owned(),
            program: program.into(),
            args: args.into_iter().map(|a| a.as_ref().to_owned()).collect(),
            env: Vec::new(),
        }
    }

    /// The same command with more arguments, under another label.
    pub fn with_args(&self, label: &str, more: &[&str]) -> Cmd {
        let mut cmd = self.clone();
        cmd.label = label.to_owned();
        cmd.args.extend(more.iter().map(OsString::from));
        cmd
    }

    /// The same command with an environment variable set, under another label.
    pub fn with_env(&self, label: &str, name: &str, value: &str) -> Cmd {
        let mut cmd = self.clone();
        cmd.label = label.to_owned();
        cmd.env.push((name.to_owned(), value.to_owned()));
        cmd
    }

    /// The command with stdout and stderr going to `log`.
    fn command(&self, log: &Path) -> io::Result<Command> {
        let out = File::create(log)?;
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        Ok(command)
    }

    /// The command line, for error messages.
    pub fn shown(&self) -> String {
        let mut line: String = self.env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
        line.push_str(&self.program.to_string_lossy());
        for arg in &self.args {
            line.push(' ');
            line.push_str(&arg.to_string_lossy());
        }
        line
    }
}

/// One timed run.
#[derive(Clone, Copy)]
pub struct Sample {
    pub wall: Duration,
    /// CPU seconds that went to processes other than the one measured (and
    /// its children) during the run: other people's builds. Kernel work
    /// done for the run in kernel threads counts here too, so a little is
    /// normal. `/proc/stat` counts in ticks (10 ms), so this is coarse.
    pub others_cpu: f64,
    /// CPU seconds the measured work used (it and its waited-for children).
    pub cpu: f64,
}

impl Sample {
    /// The CPU seconds the machine had during the run.
    fn capacity(&self) -> f64 {
        self.wall.as_secs_f64() * cpus() as f64
    }

    /// The time as printed while running, with a warning when the host was
    /// busy (and the busy time is more than a tick or two).
    pub fn shown(&self) -> String {
        let mut text = format!("{:.2}s", self.wall.as_secs_f64());
        let share = others_share(std::slice::from_ref(self));
        if share > BUSY && self.others_cpu > 0.025 {
            text.push_str(&format!(" (host {:.0}% busy)", share * 100.0));
        }
        text
    }
}

/// Above this share of others' CPU use, a round counts as disturbed.
pub const BUSY: f64 = 0.10;

/// The share of the machine's CPU that others used over `samples`.
pub fn others_share(samples: &[Sample]) -> f64 {
    let others: f64 = samples.iter().map(|s| s.others_cpu).sum();
    let capacity: f64 = samples.iter().map(Sample::capacity).sum();
    if capacity > 0.0 {
        others / capacity
    } else {
        0.0
    }
}

/// Runs `cmd` once, its output to `log`; fails unless it exits 0.
pub fn time_once(cmd: &Cmd, log: &Path) -> Result<Sample> {
    let mut command = cmd.command(log)?;
    sample(|| {
        let status = command.status()?;
        if !status.success() {
            return Err(failed(cmd, &status.to_string(), log));
        }
        Ok(())
    })
}

/// Times `work`, and how much CPU others used meanwhile.
pub fn sample(work: impl FnOnce() -> Result<()>) -> Result<Sample> {
    let (busy, ours) = (host_busy(), our_cpu());
    let start = Instant::now();
    work()?;
    let wall = start.elapsed();
    let cpu = our_cpu() - ours;
    let others = (host_busy() - busy) - cpu;
    Ok(Sample {
        wall,
        others_cpu: others.max(0.0),
        cpu,
    })
}

pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Seconds of CPU time the whole host has spent busy, from `/proc/stat`.
fn host_busy() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let busy: f64 = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&i| ticks.get(i))
        .sum();
    // SAFETY: plain libc call.
    busy / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// Seconds of CPU time used by this process and by its children that have
/// been waited for.
fn our_cpu() -> f64 {
    let used = |who| {
        // SAFETY: all-zero is a valid rusage; usage is valid for a write.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &mut usage) };
        let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        seconds(usage.ru_utime) + seconds(usage.ru_stime)
    };
    used(libc::RUSAGE_SELF) + used(libc::RUSAGE_CHILDREN)
}

/// Rounds of samples, one `Vec` per column (command), and how many rounds
/// were thrown away because other processes were busy during them.
pub struct Rounds {
    pub samples: Vec<Vec<Sample>>,
    pub discarded: usize,
}

/// Set by `--busy-host`: rounds neither wait for a quiet host nor are run
/// again when others were busy (on a machine that is never quiet, only
/// ratios within a round mean something).
pub static BUSY_HOST: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn busy_host() -> bool {
    BUSY_HOST.load(std::sync::atomic::Ordering::Relaxed)
}

/// Runs `round` (which takes one sample per column) `count` times. Each
/// round starts once the host is quiet; a round during which other
/// processes used more than [`BUSY`] of the CPU is run again, up to `count`
/// extra times, so other people's builds do not end up in the medians
/// (neither with [`BUSY_HOST`]).
pub fn rounds(
    count: usize,
    name: &str,
    mut round: impl FnMut() -> Result<Vec<Sample>>,
) -> Result<Rounds> {
    let mut result = Rounds {
        samples: Vec::new(),
        discarded: 0,
    };
    let mut done = 0;
    while done < count {
        eprint!("  {name} {}/{count}:", done + 1);
        wait_for_quiet();
        let samples = round()?;
        let disturbed = others_share(&samples) > BUSY && !busy_host();
        if disturbed && result.discarded < count {
            result.discarded += 1;
            eprintln!(" host busy: round run again");
            continue;
        }
        eprintln!();
        result.samples.resize(samples.len(), Vec::new());
        for (column, sample) in result.samples.iter_mut().zip(samples) {
            column.push(sample);
        }
        done += 1;
    }
    Ok(result)
}

/// Runs every command once per round, in the same order each round
/// (A B C A B C ...), so slow drifts of the machine hit all of them alike.
pub fn alternate(cmds: &[Cmd], count: usize, name: &str, log_dir: &Path) -> Result<Rounds> {
    rounds(count, name, || {
        let mut samples = Vec::new();
        for (index, cmd) in cmds.iter().enumerate() {
            let sample = time_once(cmd, &log_dir.join(format!("{index}.log")))?;
            eprint!(" {}", sample.shown());
            samples.push(sample);
        }
        Ok(samples)
    })
}

/// Waits (up to a minute) until other processes leave the CPU mostly idle
/// for a moment.
pub fn wait_for_quiet() {
    if busy_host() {
        return;
    }
    const WINDOW: Duration = Duration::from_millis(300);
    let give_up = Instant::now() + Duration::from_secs(60);
    let mut said = false;
    loop {
        let busy = host_busy();
        std::thread::sleep(WINDOW);
        let share = (host_busy() - busy) / (WINDOW.as_secs_f64() * cpus() as f64);
        if share <= BUSY || Instant::now() >= give_up {
            return;
        }
        if !said {
            eprint!(" (waiting for a quiet host: {:.0}% busy)", share * 100.0);
            said = true;
        }
    }
}

/// The median CPU time, in seconds.
pub fn median_cpu(samples: &[Sample]) -> f64 {
    median_by(samples, |s| s.cpu).unwrap_or(0.0)
}

/// The median wall time.
pub fn median(samples: &[Sample]) -> Duration {
    median_by(samples, |s| s.wall.as_secs_f64()).map_or(Duration::ZERO, Duration::from_secs_f64)
}

/// The median over rounds of `a`'s wall time / `b`'s, the two taken in
/// the same round: a slow drift of the machine cancels out of each ratio.
pub fn median_ratio(a: &[Sample], b: &[Sample]) -> f64 {
    let ratios = a
        .iter()
        .zip(b)
        .map(|(x, y)| x.wall.as_secs_f64() / y.wall.as_secs_f64());
    median_of(ratios.collect()).unwrap_or(f64::NAN)
}

fn median_by(samples: &[Sample], key: impl Fn(&Sample) -> f64) -> Option<f64> {
    median_of(samples.iter().map(key).collect())
}

fn median_of(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// Peak memory of one run.
pub struct PeakRss {
    /// The process's own peak resident set (`VmHWM`, read at its exit stop).
    pub own_kib: Option<u64>,
    /// `wait4`'s `ru_maxrss`: the largest of the process and every
    /// descendant it waited for (cargo, the tests); what `time -v` shows.
    pub tree_kib: u64,
    pub wall: Duration,
}

/// Runs `cmd` under a minimal tracer that stops it only at its exit
/// (`PTRACE_O_TRACEEXIT`), where its memory is still mapped, and reads its
/// own high-water mark there. `wait4`'s figure alone would mix in the
/// children it started (cargo can be larger than the tool itself).
pub fn peak_rss(cmd: &Cmd, log: &Path) -> Result<PeakRss> {
    let mut command = cmd.command(log)?;
    // SAFETY: a single async-signal-safe syscall between fork and exec.
    unsafe {
        command.pre_exec(|| match libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) {
            -1 => Err(io::Error::last_os_error()),
            _ => Ok(()),
        })
    };
    let start = Instant::now();
    let pid = command.spawn()?.id() as libc::pid_t;
    let mut own_kib = None;
    let mut exec_stop_seen = false;
    loop {
        let mut status = 0;
        // SAFETY: all-zero is a valid rusage.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: status and usage are valid for writes.
        if unsafe { libc::wait4(pid, &mut status, libc::__WALL, &mut usage) } < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error.into());
        }
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            let wall = start.elapsed();
            if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
                return Err(failed(cmd, &format!("wait status {status:#x}"), log));
            }
            let tree_kib = usage.ru_maxrss as u64;
            return Ok(PeakRss {
                own_kib,
                tree_kib,
                wall,
            });
        }
        let mut deliver = 0;
        match (status >> 16, libc::WSTOPSIG(status)) {
            (libc::PTRACE_EVENT_EXIT, _) => own_kib = vm_hwm(pid),
            // The stop after exec (PTRACE_TRACEME without TRACEEXEC): set
            // the one option we need.
            (0, libc::SIGTRAP) if !exec_stop_seen => {
                exec_stop_seen = true;
                // SAFETY: plain syscall on our stopped tracee.
                unsafe { libc::ptrace(libc::PTRACE_SETOPTIONS, pid, 0, libc::PTRACE_O_TRACEEXIT) };
            }
            (_, signal) => deliver = signal,
        }
        // SAFETY: plain syscall on our stopped tracee.
        unsafe { libc::ptrace(libc::PTRACE_CONT, pid, 0, deliver) };
    }
}

fn vm_hwm(pid: libc::pid_t) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    line.trim().trim_end_matches("kB").trim().parse().ok()
}

fn failed(cmd: &Cmd, how: &str, log: &Path) -> Box<dyn std::error::Error> {
    let output = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = output.lines().rev().take(30).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    format!(
        "`{}` failed ({how}); last lines of {}:\n{}",
        cmd.shown(),
        log.display(),
        tail.join("\n")
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walls(seconds: &[f64]) -> Vec<Sample> {
        seconds
            .iter()
            .map(|&wall| Sample {
                wall: Duration::from_secs_f64(wall),
                others_cpu: 0.0,
                cpu: 0.0,
            })
            .collect()
    }

    #[test]
    fn median_ratio_is_the_median_of_each_round_s_ratio() {
        // Rounds' ratios 0.5, 2, 3: the median is 2, where the ratio of
        // the medians (3 / 2) would be 1.5.
        let (a, b) = (walls(&[1.0, 10.0, 3.0]), walls(&[2.0, 5.0, 1.0]));
        assert_eq!(median_ratio(&a, &b), 2.0);
        // An even count averages the middle two: (0.5 + 2) / 2.
        let (a, b) = (walls(&[1.0, 10.0]), walls(&[2.0, 5.0]));
        assert_eq!(median_ratio(&a, &b), 1.25);
        assert!(median_ratio(&[], &[]).is_nan());
    }

    #[test]
    fn the_median_wall_time_is_the_middle_one() {
        let samples = walls(&[3.0, 1.0, 2.0]);
        assert_eq!(median(&samples), Duration::from_secs(2));
        assert_eq!(median(&[]), Duration::ZERO);
    }
}
