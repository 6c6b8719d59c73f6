/* An LD_PRELOAD shim that records the socket calls of the one process it
 * is loaded into, every thread of it, for chaos.rs's proof that sockcheck
 * opens no socket of its own. The test builds it with cc.
 *
 * Loaded, it notes its process id and removes LD_PRELOAD and
 * SOCKET_CALLS_LOG from the environment, so the processes sockcheck starts
 * (cargo, the tests) run without it; a process forked from it (another pid)
 * is not recorded either. Each call of socket, socketpair, connect, bind,
 * accept or accept4 (and of syscall() with one of their numbers) made by
 * that process is appended to the file SOCKET_CALLS_LOG names, one line
 * per call: "PID TID CALL ARGS", then the call is made as asked.
 *
 * It sees the calls made through libc's exported functions, as Rust's std,
 * nix and libc make them; not a system call made by inline assembly, nor
 * one glibc makes internally (its DNS resolver's). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static pid_t owner;
static char log_path[4096];

__attribute__((constructor)) static void start(void) {
    const char *path = getenv("SOCKET_CALLS_LOG");
    owner = getpid();
    if (path != NULL && strlen(path) < sizeof log_path) {
        strcpy(log_path, path);
    }
    unsetenv("LD_PRELOAD");
    unsetenv("SOCKET_CALLS_LOG");
}

/* Appends "PID TID CALL A B C" when the caller is the process the shim was
 * loaded into. The file is opened for each line, so that whatever the
 * process does with its own descriptors, the line lands in the log. */
static void record(const char *call, long a, long b, long c) {
    if (log_path[0] == '\0' || getpid() != owner) {
        return;
    }
    char line[128];
    int n = snprintf(line, sizeof line, "%d %d %s %ld %ld %ld\n", (int)owner,
                     (int)gettid(), call, a, b, c);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
        (void)!write(fd, line, (size_t)n);
        close(fd);
    }
}

/* The next definition of `name` (libc's). */
static void *real(const char *name) {
    void *found = dlsym(RTLD_NEXT, name);
    if (found == NULL) {
        abort();
    }
    return found;
}

static long family(const struct sockaddr *address) {
    return address == NULL ? -1 : (long)address->sa_family;
}

int socket(int domain, int type, int protocol) {
    record("socket", domain, type, protocol);
    int (*next)(int, int, int) = real("socket");
    return next(domain, type, protocol);
}

int socketpair(int domain, int type, int protocol, int fds[2]) {
    record("socketpair", domain, type, protocol);
    int (*next)(int, int, int, int[2]) = real("socketpair");
    return next(domain, type, protocol, fds);
}

int connect(int fd, const struct sockaddr *address, socklen_t length) {
    record("connect", family(address), fd, 0);
    int (*next)(int, const struct sockaddr *, socklen_t) = real("connect");
    return next(fd, address, length);
}

int bind(int fd, const struct sockaddr *address, socklen_t length) {
    record("bind", family(address), fd, 0);
    int (*next)(int, const struct sockaddr *, socklen_t) = real("bind");
    return next(fd, address, length);
}

int accept(int fd, struct sockaddr *address, socklen_t *length) {
    record("accept", -1, fd, 0);
    int (*next)(int, struct sockaddr *, socklen_t *) = real("accept");
    return next(fd, address, length);
}

int accept4(int fd, struct sockaddr *address, socklen_t *length, int flags) {
    record("accept4", -1, fd, flags);
    int (*next)(int, struct sockaddr *, socklen_t *, int) = real("accept4");
    return next(fd, address, length, flags);
}

/* syscall(2) with the number of one of the calls above. Six arguments are
 * passed on whatever the call takes, as glibc's own syscall() reads them. */
long syscall(long number, ...) {
    va_list list;
    long a[6];
    va_start(list, number);
    for (int i = 0; i < 6; i++) {
        a[i] = va_arg(list, long);
    }
    va_end(list);
    switch (number) {
    case SYS_socket:
    case SYS_socketpair:
    case SYS_connect:
    case SYS_bind:
#ifdef SYS_accept
    case SYS_accept:
#endif
    case SYS_accept4:
        record("syscall", number, a[0], a[1]);
        break;
    default:
        break;
    }
    long (*next)(long, ...) = real("syscall");
    return next(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
