//! What the tracer learns about ports as tests run: each test's sockets
//! by sort, its TCP connections (their port pairs, to find them in
//! TIME_WAIT later), its peak of open sockets, its fixed-port binds, and
//! the `bind`, `listen` and `connect` calls that failed because a port was
//! taken; then, as a test ends, its [`PortUsage`] and port findings.
//!
//! `bind`, `listen` and `connect` stop at their entry (seccomp), where the
//! address is read from the tracee's memory, and at their exit, where the
//! result is read. A unix-domain address is let go at its entry, with no
//! exit stop, unless a `bind` names a path or an abstract name, which can
//! be taken (a path's socket file, once bound, is remembered with the test
//! that made it). Who held a taken address is found by the event loop
//! (`port_holder`), which knows every running test.

use super::inet_diag::{self, TIME_WAIT_ONLY};
use super::port_holder::{self, FileId};
use super::ptrace::Pid;
use crate::procinfo::thread_group;
use crate::stack::capture::NewSockets;
use crate::stack::memory::RemoteMemory;
use crate::stack::registers::Registers;
use crate::stack::syscalls;
use sockcheck::ports::{
    PortFinding, PortFindingKind, PortProblem, PortUsage, SocketSort, TestName,
};
use sockcheck::site::Origin;
use sockcheck::snapshot;
use sockcheck::socket::{Address, Protocol, State, UnixAddress};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::mem::size_of;
use std::net::SocketAddr;
use std::os::fd::{OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// A test's failed binds whose holder is looked for; later ones (a test
/// looking for a free port by trying each) are not.
const MAX_IN_USE_LOOKED_UP: usize = 8;

/// A test with more connections than this has its TIME_WAIT entries
/// counted from one read of the whole table; one with fewer, by a lookup of
/// each (which costs the same however full the machine's table is).
const LOOKED_UP_ONE_BY_ONE: usize = 2048;

/// A connection's port pair: local address, remote address.
type PortPair = (SocketAddr, SocketAddr);

/// The ephemeral port range, from `/proc/sys/net/ipv4/ip_local_port_range`.
pub fn ephemeral_range() -> Option<[u16; 2]> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut bounds = text.split_whitespace().map(str::parse::<u16>);
    Some([bounds.next()?.ok()?, bounds.next()?.ok()?])
}

/// The churn threshold when none is configured: a quarter of what the
/// ephemeral range leaves each of `jobs` tests running at once.
pub fn default_churn_threshold(range: Option<[u16; 2]>, jobs: usize) -> u64 {
    let [first, last] = range.unwrap_or([32768, 60999]);
    let size = u64::from(last.saturating_sub(first)) + 1;
    size / (4 * jobs.max(1) as u64)
}

/// What the tracer keeps about ports, for the whole run.
pub struct PortWatch {
    range: Option<[u16; 2]>,
    churn_threshold: u64,
    /// Threads between a port call's entry and exit stops.
    pending: HashMap<Pid, PendingCall>,
    /// Per running test process.
    tests: HashMap<Pid, TestPorts>,
    /// Every TCP connection of the run whose TIME_WAIT may still last, by
    /// port pair: the job that made it.
    connections: HashMap<PortPair, usize>,
    /// Jobs that ended, oldest first: their connections are forgotten
    /// once their TIME_WAIT must be over.
    ended: Vec<(Instant, usize)>,
    /// Fixed ports bound (or tried) by each job, by protocol and port.
    fixed: BTreeMap<(Protocol, u16), Vec<FixedBind>>,
    /// The socket files the run's binds to unix paths made: the job that
    /// made each, to name it when a later bind finds the file stale.
    unix_files: HashMap<FileId, usize>,
}

/// A fixed-port bind of a job.
struct FixedBind {
    job: usize,
    address: String,
    call: Option<Origin>,
}

/// A port call whose result is not known yet.
struct PendingCall {
    test: Pid,
    syscall: &'static str,
    fd: RawFd,
    /// The address asked for (`listen` has none).
    address: Option<Address>,
}

/// What one running test did with ports so far.
struct TestPorts {
    job: usize,
    usage: PortUsage,
    findings: Vec<PortFinding>,
    in_use_looked_up: usize,
    /// Its TCP connections' port pairs.
    connections: Vec<PortPair>,
    /// Per process, the fds its sockets were created at and that no later
    /// socket has taken since (the kernel gives the lowest free fd, so a
    /// closed socket's fd is soon another's): its sockets still open, as
    /// far as the creating calls tell.
    socket_fds: HashMap<Pid, HashSet<RawFd>>,
}

/// What a port call's exit asks of the event loop, which knows the run.
#[derive(Debug)]
pub enum PortEvent {
    /// `bind` or `listen` of `thread` in `test` failed with `EADDRINUSE`:
    /// find the holder, then [`PortWatch::add`] the finding.
    InUse {
        /// The test process.
        test: Pid,
        /// `bind` or `listen`.
        syscall: &'static str,
        /// The address asked for: an IP address and port, or a unix path or
        /// abstract name.
        address: Address,
        /// The socket's protocol (for an IP address).
        protocol: Protocol,
    },
    /// `connect` of `test` to `address` failed with `EADDRNOTAVAIL`.
    NotAvailable {
        /// The test process.
        test: Pid,
        /// The address connected to.
        address: SocketAddr,
    },
    /// `test` bound a fixed port: take the call's stack, then
    /// [`PortWatch::fixed_bind`].
    FixedBind {
        /// The test process.
        test: Pid,
        /// The address bound.
        address: SocketAddr,
        /// The socket's protocol.
        protocol: Protocol,
    },
}

impl PortWatch {
    /// Nothing seen yet; churn above `threshold` connections closed first
    /// (or the default for `jobs` at once) is a finding.
    pub fn new(jobs: usize, threshold: Option<u64>) -> PortWatch {
        let range = ephemeral_range();
        PortWatch {
            range,
            churn_threshold: threshold.unwrap_or_else(|| default_churn_threshold(range, jobs)),
            pending: HashMap::new(),
            tests: HashMap::new(),
            connections: HashMap::new(),
            ended: Vec::new(),
            fixed: BTreeMap::new(),
            unix_files: HashMap::new(),
        }
    }

    /// Test process `test`, job `job`, started.
    pub fn started(&mut self, test: Pid, job: usize) {
        self.tests.insert(
            test,
            TestPorts {
                job,
                usage: PortUsage::default(),
                findings: Vec::new(),
                in_use_looked_up: 0,
                connections: Vec::new(),
                socket_fds: HashMap::new(),
            },
        );
    }

    /// `thread` of `test` is at the entry of a port call: notes it. True
    /// when the caller must resume it to the call's exit stop.
    pub fn entered(&mut self, test: Pid, thread: Pid) -> bool {
        let Ok(registers) = Registers::of(thread) else {
            return false;
        };
        let Some(syscall) = syscalls::taking_a_port(registers.syscall_number()) else {
            return false;
        };
        let address =
            match syscall {
                "listen" => None,
                _ => match asked_address(thread, registers.argument(1), registers.argument(2)) {
                    Some(address @ Address::Inet(_)) => Some(address),
                    // A named unix address: a bind finds it taken by a socket
                    // bound to it, or a file at the path.
                    Some(
                        address @ Address::Unix(UnixAddress::Path(_) | UnixAddress::Abstract(_)),
                    ) if syscall == "bind" => Some(address),
                    // An unnamed unix address, a unix connect, another family:
                    // nothing to explain.
                    _ => return false,
                },
            };
        let fd = registers.argument(0) as RawFd;
        self.pending.insert(
            thread,
            PendingCall {
                test,
                syscall,
                fd,
                address,
            },
        );
        true
    }

    /// `thread` is at the exit stop of the port call it entered, if it
    /// entered one: records a connection, or says what the event loop must
    /// look into.
    pub fn returned(&mut self, thread: Pid) -> Option<PortEvent> {
        let call = self.pending.remove(&thread)?;
        let result = Registers::of(thread).ok()?.return_value();
        let errno = (result < 0).then(|| -result as i32);
        let socket = || dup_fd(thread, call.fd);
        let test = call.test;
        match (call.syscall, errno) {
            ("connect", None | Some(libc::EINPROGRESS)) => {
                let socket = socket()?;
                if socket_type(&socket) != Some(libc::SOCK_STREAM) {
                    return None;
                }
                let ports = self.tests.get_mut(&test)?;
                ports.usage.connects += 1;
                let remote = call.address.as_ref().and_then(Address::inet);
                if let (Some(local), Some(remote)) = (local_address(&socket), remote) {
                    self.connections.insert((local, remote), ports.job);
                    ports.connections.push((local, remote));
                }
                None
            }
            ("connect", Some(libc::EADDRNOTAVAIL)) => Some(PortEvent::NotAvailable {
                test,
                address: call.address?.inet()?,
            }),
            ("bind" | "listen", Some(libc::EADDRINUSE)) => {
                let ports = self.tests.get_mut(&test)?;
                if ports.in_use_looked_up >= MAX_IN_USE_LOOKED_UP {
                    return None;
                }
                ports.in_use_looked_up += 1;
                let socket = socket();
                let protocol = socket.as_ref().map_or(Protocol::Tcp, protocol_of);
                let address = call
                    .address
                    .or_else(|| local_address(socket.as_ref()?).map(Address::Inet))?;
                Some(PortEvent::InUse {
                    test,
                    syscall: call.syscall,
                    address,
                    protocol,
                })
            }
            ("bind", None) => {
                if let Some(Address::Unix(UnixAddress::Path(path))) = &call.address {
                    self.made_socket_file(test, path, thread);
                    return None;
                }
                let address = call.address?.inet()?;
                (address.port() != 0).then(|| PortEvent::FixedBind {
                    test,
                    address,
                    protocol: socket().as_ref().map_or(Protocol::Tcp, protocol_of),
                })
            }
            _ => None,
        }
    }

    /// Sockets were created in `new.process` of `new.test`: counts them
    /// by sort, and the process's sockets open now (the fds sockets were
    /// created at, each once: a socket created at the fd of an earlier one
    /// replaces it), for the peak. No `/proc` read: a test that holds
    /// 10,000 sockets pays the same per socket as one that holds 3.
    pub fn created(&mut self, new: &NewSockets, thread: Pid) {
        let Some(ports) = self.tests.get_mut(&new.test) else {
            return;
        };
        for &fd in &new.fds {
            let sort = match new.domain_and_type {
                Some((domain, kind)) => sort_of(domain, kind),
                None => dup_fd(thread, fd).map_or(SocketSort::Other, |socket| {
                    let domain =
                        snapshot::socket_option(&socket, libc::SOL_SOCKET, libc::SO_DOMAIN)
                            .unwrap_or(-1);
                    sort_of(domain, socket_type(&socket).unwrap_or(-1))
                }),
            };
            *ports.usage.created.entry(sort).or_default() += 1;
        }
        let open = ports.socket_fds.entry(new.process).or_default();
        open.extend(&new.fds);
        let peak = &mut ports.usage.peak_open_sockets;
        *peak = (*peak).max(open.len() as u64);
    }

    /// `thread` of `test` bound a unix socket to `path`: remembers the
    /// socket file it made (one `stat`).
    fn made_socket_file(&mut self, test: Pid, path: &[u8], thread: Pid) {
        let Some(ports) = self.tests.get(&test) else {
            return;
        };
        if let Ok(file) = port_holder::file_at(path, thread) {
            self.unix_files
                .insert(port_holder::file_id(&file), ports.job);
        }
    }

    /// The job whose bind made socket file `file`, if one of the run's did.
    pub fn made_by(&self, file: FileId) -> Option<usize> {
        self.unix_files.get(&file).copied()
    }

    /// Adds `finding` to test `test`'s.
    pub fn add(&mut self, test: Pid, finding: PortFinding) {
        if let Some(ports) = self.tests.get_mut(&test) {
            ports.findings.push(finding);
        }
    }

    /// The job of running test `test`.
    pub fn job_of(&self, test: Pid) -> Option<usize> {
        self.tests.get(&test).map(|ports| ports.job)
    }

    /// `test` bound `address` (a fixed port) by `call`, or tried to (not
    /// `bound`): remembered for [`Self::shared_fixed_ports`]; bound inside
    /// the ephemeral range, a finding.
    pub fn fixed_bind(
        &mut self,
        test: Pid,
        address: SocketAddr,
        protocol: Protocol,
        call: Option<Origin>,
        bound: bool,
    ) {
        let Some(ports) = self.tests.get_mut(&test) else {
            return;
        };
        let job = ports.job;
        let port = address.port();
        let binds = self.fixed.entry((protocol, port)).or_default();
        if !binds.iter().any(|bind| bind.job == job) {
            binds.push(FixedBind {
                job,
                address: address.to_string(),
                call: call.clone(),
            });
        }
        let in_range = |[first, last]: &[u16; 2]| (*first..=*last).contains(&port);
        if let Some(range) = self.range.filter(in_range).filter(|_| bound) {
            let mut finding = PortFinding::new(PortProblem::FixedPortInEphemeralRange {
                address: address.to_string(),
                range,
            });
            finding.call = call;
            ports.findings.push(finding);
        }
    }

    /// How many TCP connections of the run are in TIME_WAIT now, and how
    /// many of them each job made (most first).
    pub fn time_wait_census(&self) -> (u64, Vec<(usize, u64)>) {
        let Ok(waiting) = inet_diag::entries(Protocol::Tcp, TIME_WAIT_ONLY) else {
            return (0, Vec::new());
        };
        let mut by_job: HashMap<usize, u64> = HashMap::new();
        for entry in waiting {
            if let Some(job) = self.job_of_pair(entry.local, entry.remote) {
                *by_job.entry(job).or_default() += 1;
            }
        }
        let total = by_job.values().sum();
        let mut by_job: Vec<(usize, u64)> = by_job.into_iter().collect();
        by_job.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        (total, by_job)
    }

    /// The job whose connection has this port pair, seen from either end.
    fn job_of_pair(&self, local: SocketAddr, remote: SocketAddr) -> Option<usize> {
        let found = self.connections.get(&(local, remote));
        found
            .or_else(|| self.connections.get(&(remote, local)))
            .copied()
    }

    /// Test `test` ended holding `sockets_at_exit` sockets: its usage (when
    /// it made any socket or connection) and its findings, churn included.
    pub fn finish(
        &mut self,
        test: Pid,
        sockets_at_exit: usize,
    ) -> (Option<PortUsage>, Vec<PortFinding>) {
        self.pending.retain(|_, call| call.test != test);
        let Some(mut ports) = self.tests.remove(&test) else {
            return (None, Vec::new());
        };
        let usage = &mut ports.usage;
        usage.peak_open_sockets = usage.peak_open_sockets.max(sockets_at_exit as u64);
        if !ports.connections.is_empty() {
            usage.active_closes = self.closes_of(ports.job, &ports.connections);
        }
        if usage.active_closes > self.churn_threshold {
            ports
                .findings
                .push(PortFinding::new(PortProblem::PortChurn {
                    active_closes: usage.active_closes,
                    threshold: self.churn_threshold,
                }));
        }
        self.forget_old_connections(ports.job);
        let usage = (!ports.usage.is_empty()).then_some(ports.usage);
        (usage, ports.findings)
    }

    /// How many of the connections of `job` (`pairs`) are in TIME_WAIT
    /// now, at either end.
    fn closes_of(&self, job: usize, pairs: &[PortPair]) -> u64 {
        if pairs.len() <= LOOKED_UP_ONE_BY_ONE {
            let Ok(mut lookup) = inet_diag::Lookup::new() else {
                return 0;
            };
            let mut waiting = |local, remote| {
                lookup.tcp_state(local, remote).ok().flatten() == Some(State::TimeWait)
            };
            let mut distinct = pairs.to_vec();
            distinct.sort_unstable();
            distinct.dedup();
            let closed = distinct
                .into_iter()
                .filter(|&(local, remote)| waiting(local, remote) || waiting(remote, local));
            return closed.count() as u64;
        }
        let Ok(waiting) = inet_diag::entries(Protocol::Tcp, TIME_WAIT_ONLY) else {
            return 0;
        };
        let of_job =
            |entry: &&inet_diag::Entry| self.job_of_pair(entry.local, entry.remote) == Some(job);
        waiting.iter().filter(of_job).count() as u64
    }

    /// `job` ended now: forgets the connections of jobs that ended longer
    /// ago than a TIME_WAIT lasts.
    fn forget_old_connections(&mut self, job: usize) {
        let now = Instant::now();
        let over = Duration::from_secs(sockcheck::ports::TIME_WAIT_SECONDS + 1);
        self.ended.push((now, job));
        let old = self
            .ended
            .iter()
            .take_while(|(at, _)| now - *at > over)
            .count();
        if old == 0 {
            return;
        }
        let gone: std::collections::HashSet<usize> =
            self.ended.drain(..old).map(|(_, job)| job).collect();
        self.connections.retain(|_, job| !gone.contains(job));
    }

    /// For each of the run's `jobs` jobs, whether it bound (or tried to
    /// bind) a fixed port.
    pub fn fixed_port_jobs(&self, jobs: usize) -> Vec<bool> {
        let mut bound = vec![false; jobs];
        for bind in self.fixed.values().flatten() {
            if let Some(job) = bound.get_mut(bind.job) {
                *job = true;
            }
        }
        bound
    }

    /// The `fixed-port-shared` findings of the run: for each fixed port
    /// that more than one job bound (or tried to), one per such job, with
    /// the others named by `name_of`.
    pub fn shared_fixed_ports(
        &self,
        name_of: impl Fn(usize) -> TestName,
    ) -> Vec<(usize, PortFinding)> {
        let mut findings = Vec::new();
        for binds in self.fixed.values().filter(|binds| binds.len() > 1) {
            for bind in binds {
                let with = binds
                    .iter()
                    .filter(|other| other.job != bind.job)
                    .map(|other| name_of(other.job))
                    .collect();
                let mut finding = PortFinding::new(PortProblem::FixedPortShared {
                    address: bind.address.clone(),
                    with,
                });
                finding.call = bind.call.clone();
                findings.push((bind.job, finding));
            }
        }
        findings
    }
}

/// Whether a finding kind explains a failure (kept only on a test that did
/// not pass: a passing test that tried ports until one was free has
/// nothing to explain).
pub fn explains_a_failure(kind: PortFindingKind) -> bool {
    kind.default_severity().is_none()
}

/// The sort of a socket of `domain` and `kind` (its type, flags masked off).
fn sort_of(domain: i32, kind: i32) -> SocketSort {
    let kind = kind & 0xf;
    match (domain, kind) {
        (libc::AF_INET, libc::SOCK_STREAM) => SocketSort::Tcp,
        (libc::AF_INET6, libc::SOCK_STREAM) => SocketSort::Tcp6,
        (libc::AF_INET, libc::SOCK_DGRAM) => SocketSort::Udp,
        (libc::AF_INET6, libc::SOCK_DGRAM) => SocketSort::Udp6,
        (libc::AF_UNIX, libc::SOCK_STREAM) => SocketSort::UnixStream,
        (libc::AF_UNIX, libc::SOCK_DGRAM) => SocketSort::UnixDgram,
        (libc::AF_UNIX, libc::SOCK_SEQPACKET) => SocketSort::UnixSeqpacket,
        _ => SocketSort::Other,
    }
}

/// The address in the `sockaddr` of `len` bytes at `at` in `thread`'s
/// memory, IP (without a flow label: the port pair as the kernel's socket
/// table lists it) or unix; `None` for another family or an unreadable one.
fn asked_address(thread: Pid, at: u64, len: u64) -> Option<Address> {
    let mut bytes = [0u8; size_of::<libc::sockaddr_un>()];
    let len = (len as usize).min(bytes.len());
    RemoteMemory::of(thread)
        .read_into(at, &mut bytes[..len])
        .ok()?;
    let mut address = snapshot::sockaddr_address(&bytes[..len])?;
    if let Address::Inet(SocketAddr::V6(v6)) = &mut address {
        v6.set_flowinfo(0);
    }
    Some(address)
}

/// A copy of fd `fd` of `thread`'s process, to ask the socket about itself.
fn dup_fd(thread: Pid, fd: RawFd) -> Option<OwnedFd> {
    let process = || thread_group(thread).unwrap_or(thread) as u32;
    snapshot::duplicate_fd(thread as u32, fd, process).ok()
}

fn socket_type(socket: &OwnedFd) -> Option<libc::c_int> {
    snapshot::socket_option(socket, libc::SOL_SOCKET, libc::SO_TYPE)
}

fn protocol_of(socket: &OwnedFd) -> Protocol {
    match socket_type(socket) {
        Some(libc::SOCK_DGRAM) => Protocol::Udp,
        _ => Protocol::Tcp,
    }
}

/// The socket's local address, when it has an IP one.
fn local_address(socket: &OwnedFd) -> Option<SocketAddr> {
    snapshot::local_address(socket)?.inet()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, UdpSocket};
    use std::os::fd::AsRawFd;

    #[test]
    fn the_peak_counts_sockets_by_fd_a_reused_fd_once() {
        let mut watch = PortWatch::new(1, None);
        watch.started(100, 0);
        let created = |fds: Vec<RawFd>, process: Pid| NewSockets {
            test: 100,
            process,
            fds,
            domain_and_type: Some((libc::AF_INET, libc::SOCK_STREAM)),
        };
        // A loop that closes each socket: its fd is taken again.
        for _ in 0..1000 {
            watch.created(&created(vec![4], 100), 100);
        }
        // 100 held at once, in a child process: counted apart.
        for fd in 3..103 {
            watch.created(&created(vec![fd], 200), 200);
        }
        watch.created(&created(vec![3, 5], 100), 100);
        let (usage, _) = watch.finish(100, 0);
        let usage = usage.unwrap();
        assert_eq!(usage.peak_open_sockets, 100);
        assert_eq!(usage.created.get(&SocketSort::Tcp), Some(&1102));
    }

    #[test]
    fn the_default_threshold_shares_the_range_among_the_jobs() {
        assert_eq!(default_churn_threshold(Some([32768, 60999]), 3), 2352);
        assert_eq!(default_churn_threshold(Some([32768, 60999]), 1), 7058);
        assert_eq!(default_churn_threshold(None, 0), 7058);
    }

    #[test]
    fn an_fd_of_this_process_is_copied_and_asked_its_type_and_address() {
        let own = std::process::id() as Pid;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tcp = dup_fd(own, listener.as_raw_fd()).unwrap();
        assert_eq!(local_address(&tcp), Some(listener.local_addr().unwrap()));
        assert_eq!(protocol_of(&tcp), Protocol::Tcp);
        assert_eq!(
            protocol_of(&dup_fd(own, udp.as_raw_fd()).unwrap()),
            Protocol::Udp
        );
        assert_eq!(
            sort_of(libc::AF_INET6, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC),
            SocketSort::Udp6
        );
        assert_eq!(sort_of(libc::AF_NETLINK, libc::SOCK_RAW), SocketSort::Other);
    }

    /// A loopback connection closed by its client first: its port pair,
    /// once the client's end is in TIME_WAIT (loopback delivers the FINs at
    /// once; a loaded host gets a few seconds).
    fn closed_connection() -> PortPair {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let remote = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(remote).unwrap();
        let (server, _) = listener.accept().unwrap();
        let local = client.local_addr().unwrap();
        drop(client);
        drop(server);
        let mut lookup = inet_diag::Lookup::new().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while lookup.tcp_state(local, remote).unwrap() != Some(State::TimeWait) {
            assert!(Instant::now() < deadline, "{local} never reached TIME_WAIT");
            std::thread::yield_now();
        }
        (local, remote)
    }

    #[test]
    fn a_test_s_connections_in_time_wait_are_its_active_closes_and_the_run_s_census() {
        let mut watch = PortWatch::new(3, Some(0));
        watch.started(100, 7);
        let pair = closed_connection();
        let ports = watch.tests.get_mut(&100).unwrap();
        ports.usage.connects = 2;
        // The same pair twice (a port reused), and one never in TIME_WAIT.
        let never: PortPair = ("127.0.0.1:1".parse().unwrap(), pair.1);
        ports.connections.extend([pair, pair, never]);
        watch.connections.insert(pair, 7);
        let (total, by_job) = watch.time_wait_census();
        assert_eq!((total, by_job), (1, vec![(7, 1)]));
        let (usage, findings) = watch.finish(100, 1);
        let usage = usage.unwrap();
        assert_eq!(usage.active_closes, 1);
        assert_eq!(usage.peak_open_sockets, 1);
        let kinds: Vec<PortFindingKind> = findings.iter().map(PortFinding::kind).collect();
        assert_eq!(
            kinds,
            [PortFindingKind::PortChurn],
            "above a threshold of 0"
        );
    }

    #[test]
    fn a_socket_file_a_bind_made_is_remembered_with_its_job() {
        use std::os::unix::ffi::OsStrExt;
        let mut watch = PortWatch::new(1, None);
        watch.started(100, 4);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("made.sock");
        let other = dir.path().join("other.sock");
        let _listeners =
            [&path, &other].map(|p| std::os::unix::net::UnixListener::bind(p).unwrap());
        let own = std::process::id() as Pid;
        watch.made_socket_file(100, path.as_os_str().as_bytes(), own);
        let id = |path| port_holder::file_id(&std::fs::symlink_metadata(path).unwrap());
        assert_eq!(watch.made_by(id(&path)), Some(4));
        assert_eq!(
            watch.made_by(id(&other)),
            None,
            "no bind of the run made it"
        );
    }

    #[test]
    fn a_fixed_port_is_shared_when_two_jobs_bind_it_and_in_range_is_a_finding() {
        let mut watch = PortWatch::new(3, None);
        watch.range = Some([32768, 60999]);
        watch.started(100, 0);
        watch.started(200, 1);
        let address: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        watch.fixed_bind(100, address, Protocol::Tcp, None, true);
        watch.fixed_bind(200, address, Protocol::Tcp, None, false);
        let below: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        watch.fixed_bind(200, below, Protocol::Udp, None, true);
        let shared = watch.shared_fixed_ports(|job| TestName::new("t", format!("job{job}")));
        let jobs: Vec<usize> = shared.iter().map(|(job, _)| *job).collect();
        assert_eq!(jobs, [0, 1]);
        watch.started(300, 2);
        assert_eq!(watch.fixed_port_jobs(4), [true, true, false, false]);
        assert_eq!(
            shared[0].1.problem,
            PortProblem::FixedPortShared {
                address: "127.0.0.1:40000".into(),
                with: vec![TestName::new("t", "job1")],
            }
        );
        let (usage, findings) = watch.finish(100, 0);
        assert_eq!(usage, None);
        let kinds: Vec<PortFindingKind> = findings.iter().map(PortFinding::kind).collect();
        assert_eq!(kinds, [PortFindingKind::FixedPortInEphemeralRange]);
        let (_, findings) = watch.finish(200, 0);
        assert!(
            findings.is_empty(),
            "40000 was only tried, 8080 is below the range: {findings:?}"
        );
    }
}
