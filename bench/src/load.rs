//! Host load for the `--host-load` measurement: many unrelated loopback
//! sockets and idle processes, as on a busy CI machine or a developer's
//! laptop, none of them anything to do with the tests.
//!
//! Everything started here dies with the benchmark, however it ends: each
//! helper gets `PR_SET_PDEATHSIG = SIGKILL`, the socket holders also exit
//! when their stdin (a pipe from us) closes, and Ctrl-C reaches them all
//! since they stay in our process group. A killed holder's sockets are
//! closed by the kernel; they were set to `SO_LINGER 0`, so they reset
//! instead of lingering in TIME_WAIT and disturbing the next round.

use crate::measure::Result;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

/// The running helpers; dropping this stops them and waits for them.
pub struct Load {
    children: Vec<Child>,
}

impl Drop for Load {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
        }
        for child in &mut self.children {
            let _ = child.wait();
        }
    }
}

/// Opens `sockets` loopback TCP sockets (connected pairs, held by helper
/// processes of at most `per_holder` sockets each) and starts `processes`
/// idle `sleep`s. Returns once all of it is in place.
pub fn start(sockets: usize, processes: usize) -> Result<Load> {
    let mut load = Load {
        children: Vec::new(),
    };
    let per_holder = sockets_per_holder();
    let mut pairs_left = sockets / 2;
    while pairs_left > 0 {
        let pairs = pairs_left.min(per_holder / 2);
        pairs_left -= pairs;
        let mut command = Command::new(std::env::current_exe()?);
        command
            .args(["hold-sockets", &pairs.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        load.children.push(spawn_bound(command)?);
    }
    for _ in 0..processes {
        let mut command = Command::new("sleep");
        command.arg("86400").stdin(Stdio::null());
        load.children.push(spawn_bound(command)?);
    }
    for child in &mut load.children {
        if let Some(stdout) = child.stdout.take() {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line)?;
            if line.trim() != "ready" {
                return Err(format!("a socket holder did not start: {line:?}").into());
            }
        }
    }
    Ok(load)
}

/// Spawns a helper that is killed when this process ends.
fn spawn_bound(mut command: Command) -> Result<Child> {
    // SAFETY: a single async-signal-safe syscall between fork and exec.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            Ok(())
        })
    };
    Ok(command.spawn()?)
}

/// How many sockets one holder can keep under the hard fd limit.
fn sockets_per_holder() -> usize {
    let hard = nofile_limit().1 as usize;
    (hard.saturating_sub(64) & !1).clamp(2, 10_000)
}

fn nofile_limit() -> (libc::rlim_t, libc::rlim_t) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: limit is valid for a write.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    (limit.rlim_cur, limit.rlim_max)
}

/// The helper process (`sockcheck-bench hold-sockets PAIRS`): opens PAIRS
/// connected loopback pairs, says `ready`, and holds them until its stdin
/// closes.
pub fn hold_sockets(pairs: usize) -> Result<()> {
    let (_, hard) = nofile_limit();
    let raised = libc::rlimit {
        rlim_cur: hard,
        rlim_max: hard,
    };
    // SAFETY: raised is a valid rlimit.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) };

    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let mut held = Vec::with_capacity(pairs * 2);
    for _ in 0..pairs {
        let client = TcpStream::connect(address)?;
        let (server, _) = listener.accept()?;
        for socket in [&client, &server] {
            reset_on_close(socket.as_raw_fd());
        }
        held.push(client);
        held.push(server);
    }
    drop(listener);
    println!("ready");
    std::io::stdout().flush()?;
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    Ok(())
}

/// `SO_LINGER {on, 0}`: close sends RST, leaving no TIME_WAIT behind.
fn reset_on_close(fd: libc::c_int) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: linger is valid for a read of its size.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
}
