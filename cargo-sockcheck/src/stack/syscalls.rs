//! The system calls the tracer stops at or names, by their numbers on this
//! architecture: one table per role, so the seccomp filter and the names in
//! reports cannot drift apart.

/// A system call number.
pub type Number = libc::c_long;

/// Calls that create a socket: the tracer stops at each (seccomp) to take
/// its stack.
pub const CREATING_SOCKETS: [(Number, &str); 4] = [
    (libc::SYS_socket, "socket"),
    (libc::SYS_accept, "accept"),
    (libc::SYS_accept4, "accept4"),
    (libc::SYS_socketpair, "socketpair"),
];

/// Calls that take a port or an address: the tracer stops at each
/// (seccomp) and reads its result at its exit, to explain an "address in
/// use", note fixed ports and count connections.
pub const TAKING_PORTS: [(Number, &str); 3] = [
    (libc::SYS_bind, "bind"),
    (libc::SYS_listen, "listen"),
    (libc::SYS_connect, "connect"),
];

/// Calls that create a process (or a thread).
#[cfg(target_arch = "x86_64")]
const CREATING_PROCESSES: &[(Number, &str)] = &[
    (libc::SYS_clone, "clone"),
    (libc::SYS_clone3, "clone3"),
    (libc::SYS_fork, "fork"),
    (libc::SYS_vfork, "vfork"),
];
#[cfg(not(target_arch = "x86_64"))]
const CREATING_PROCESSES: &[(Number, &str)] =
    &[(libc::SYS_clone, "clone"), (libc::SYS_clone3, "clone3")];

/// Blocking calls whose first argument is the fd they wait on: a thread
/// blocked in one of them on a leaked socket holds it.
const WAITING_ON_AN_FD: &[(Number, &str)] = &[
    (libc::SYS_accept, "accept"),
    (libc::SYS_accept4, "accept4"),
    (libc::SYS_connect, "connect"),
    (libc::SYS_recvfrom, "recvfrom"),
    (libc::SYS_recvmsg, "recvmsg"),
    (libc::SYS_recvmmsg, "recvmmsg"),
    (libc::SYS_sendto, "sendto"),
    (libc::SYS_sendmsg, "sendmsg"),
    (libc::SYS_read, "read"),
    (libc::SYS_readv, "readv"),
    (libc::SYS_write, "write"),
    (libc::SYS_writev, "writev"),
];

fn name_in(table: &[(Number, &'static str)], number: Number) -> Option<&'static str> {
    table
        .iter()
        .find(|(n, _)| *n == number)
        .map(|(_, name)| *name)
}

/// The name of socket-creating call `number`, if it is one.
pub fn creating_a_socket(number: Number) -> Option<&'static str> {
    name_in(&CREATING_SOCKETS, number)
}

/// The name of port-taking call `number`, if it is one.
pub fn taking_a_port(number: Number) -> Option<&'static str> {
    name_in(&TAKING_PORTS, number)
}

/// The name of process-creating call `number`, if it is one.
pub fn creating_a_process(number: Number) -> Option<&'static str> {
    name_in(CREATING_PROCESSES, number)
}

/// The name of call `number` if it blocks on the fd in its first argument.
pub fn waiting_on_an_fd(number: Number) -> Option<&'static str> {
    name_in(WAITING_ON_AN_FD, number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_names_its_own_calls_only() {
        assert_eq!(creating_a_socket(libc::SYS_socketpair), Some("socketpair"));
        assert_eq!(creating_a_socket(libc::SYS_read), None);
        assert_eq!(taking_a_port(libc::SYS_connect), Some("connect"));
        assert_eq!(taking_a_port(libc::SYS_socket), None);
        assert_eq!(creating_a_process(libc::SYS_clone3), Some("clone3"));
        assert_eq!(waiting_on_an_fd(libc::SYS_accept4), Some("accept4"));
        assert_eq!(waiting_on_an_fd(libc::SYS_futex), None);
        assert_eq!(waiting_on_an_fd(-1), None);
    }
}
