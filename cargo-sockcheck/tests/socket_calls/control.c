/* The shim's control (chaos.rs): a program that makes socket calls where
 * the shim must see them and where it must not. Its main thread makes
 * none; a thread it starts makes socket(AF_INET, SOCK_DGRAM), connect
 * and syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0) (recorded); a child it forks makes socket(AF_INET6, ...) (another pid:
 * not recorded); then it runs itself again with the argument "exec",
 * which makes socket(AF_INET, SOCK_STREAM) (no shim: not recorded). */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void *in_a_thread(void *unused) {
    (void)unused;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_port = htons(9);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(fd, (struct sockaddr *)&address, sizeof address);
    close(fd);
    close((int)syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0));
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "exec") == 0) {
        close(socket(AF_INET, SOCK_STREAM, 0));
        return 0;
    }
    pthread_t thread;
    if (pthread_create(&thread, NULL, in_a_thread, NULL) != 0) {
        return 1;
    }
    pthread_join(thread, NULL);
    pid_t child = fork();
    if (child == 0) {
        close(socket(AF_INET6, SOCK_DGRAM, 0));
        _exit(0);
    }
    int status;
    waitpid(child, &status, 0);
    pid_t exec_child = fork();
    if (exec_child == 0) {
        execl("/proc/self/exe", argv[0], "exec", (char *)NULL);
        _exit(1);
    }
    waitpid(exec_child, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
