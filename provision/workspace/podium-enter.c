/* podium-enter CMD [ARG...]: run CMD as the attendee, inside the workspace's user namespace.
 *
 * userns mode (PODIUM_SANDBOX_SECURITY=userns, see podium-entrypoint): every `docker exec` of Podium
 * that acts for the attendee goes through here. docker exec starts as the container's own root, the
 * host's uid 0; with /proc unmasked that uid may still write host sysctls, so it must never run
 * attendee code. This launcher
 *
 * 1. makes itself non-dumpable: until its child has become the attendee's uid, no process of the
 *    attendee can ptrace it or open its /proc files (runc's nsexec does the same, CVE-2016-9962);
 * 2. takes the engine's pid only from /run/podium/engine.pid, which podium-entrypoint writes as the
 *    container's root (refused unless it is a regular file of uid 0 that nobody else may write), and
 *    pins that process with a pidfd;
 * 3. refuses a process whose user namespace maps any uid or gid below the host's 100000, so entering
 *    it can never yield the host's root or any other host account;
 * 4. opens its namespaces through one /proc/PID directory fd, checks through the pidfd that PID is
 *    still the same process (no pid reuse in between), enters the user namespace first (which gives
 *    the capabilities that entering the others needs), then mnt, net, pid, ipc, uts, cgroup - each
 *    only where it differs from ours;
 * 5. forks (a pid namespace applies to children), and the child drops supplementary groups, becomes
 *    uid/gid 0 of that namespace (the host's PODIUM_USERNS_BASE), keeps the working directory and
 *    execs CMD. The parent relays signals and exits with the child's status (128+N for signal N).
 *
 * Built static in the image's build stage (Dockerfile): one exec, no interpreter, ~1 ms.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define ENGINE_PID "/run/podium/engine.pid"
#define MIN_HOST_ID 100000UL

static const struct { const char *name; int flag; } NAMESPACES[] = {
    {"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS}, {"net", CLONE_NEWNET}, {"pid", CLONE_NEWPID},
    {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}, {"cgroup", CLONE_NEWCGROUP},
};
#define NS_COUNT (sizeof NAMESPACES / sizeof NAMESPACES[0])

static pid_t child = -1;

static void fail(const char *what) {
    fprintf(stderr, "podium-enter: %s%s%s\n", what, errno ? ": " : "", errno ? strerror(errno) : "");
    exit(125);
}

static void refuse(const char *why) {
    errno = 0;
    fail(why);
}

/* The engine's pid, from a file only the container's root can have written. */
static pid_t engine_pid(void) {
    char text[32] = {0};
    struct stat st;
    int fd = open(ENGINE_PID, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) fail("the sandbox's engine is not running (" ENGINE_PID "); reset the sandbox");
    if (fstat(fd, &st) != 0) fail("stat " ENGINE_PID);
    if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022))
        refuse(ENGINE_PID " is not a file of the container's root only; refusing");
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    char *end;
    long pid = n > 0 ? strtol(text, &end, 10) : 0;
    if (n <= 0 || pid <= 1 || pid > INT_MAX || (*end != '\n' && *end != '\0')) refuse(ENGINE_PID " holds no pid");
    return (pid_t)pid;
}

/* True when every line of a uid_map/gid_map lands at or above MIN_HOST_ID on the host. */
static int id_map_safe(int procfd, const char *name) {
    char text[8192];
    int fd = openat(procfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return 0;
    text[n] = '\0';
    int lines = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        unsigned long inside, outside, count;
        if (sscanf(line, "%lu %lu %lu", &inside, &outside, &count) != 3 || outside < MIN_HOST_ID) return 0;
        lines++;
    }
    return lines > 0;
}

static void relay(int sig) {
    if (child > 0) kill(child, sig);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: podium-enter CMD [ARG...]\n");
        return 2;
    }
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) fail("prctl(PR_SET_DUMPABLE)");
    pid_t pid = engine_pid();
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0) fail("the sandbox's engine is gone; reset the sandbox");
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    int procfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (procfd < 0) fail("open /proc of the sandbox's engine");
    if (!id_map_safe(procfd, "uid_map") || !id_map_safe(procfd, "gid_map"))
        refuse("the engine's user namespace maps host ids below 100000; refusing");

    int fds[NS_COUNT], flags[NS_COUNT], count = 0;
    for (size_t i = 0; i < NS_COUNT; i++) {
        char own[32], theirs[32];
        struct stat a, b;
        snprintf(own, sizeof own, "/proc/self/ns/%s", NAMESPACES[i].name);
        snprintf(theirs, sizeof theirs, "ns/%s", NAMESPACES[i].name);
        if (stat(own, &a) != 0 || fstatat(procfd, theirs, &b, 0) != 0) fail("stat a namespace");
        if (a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
            if (i == 0) refuse("the engine shares this container's user namespace; refusing");
            continue;
        }
        fds[count] = openat(procfd, theirs, O_RDONLY | O_CLOEXEC);
        if (fds[count] < 0) fail("open a namespace of the sandbox's engine");
        flags[count++] = NAMESPACES[i].flag;
    }
    /* what was opened through /proc/PID belongs to the pinned process only if it still runs */
    if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) != 0) fail("the sandbox's engine is gone");
    close(procfd);
    close(pidfd);

    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) strcpy(cwd, "/");
    for (int i = 0; i < count; i++) {
        if (setns(fds[i], flags[i]) != 0) fail("setns");
        close(fds[i]);
    }

    child = fork();
    if (child < 0) fail("fork");
    if (child == 0) {
        if (setgroups(0, NULL) != 0 || setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0)
            fail("becoming the namespace's root");
        if (chdir(cwd) != 0 && chdir("/") != 0) fail("chdir");
        setenv("HOME", "/root", 0);
        execvp(argv[1], argv + 1);
        fprintf(stderr, "podium-enter: %s: %s\n", argv[1], strerror(errno));
        _exit(127);
    }
    int relayed[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof relayed / sizeof relayed[0]; i++) signal(relayed[i], relay);
    int status;
    while (waitpid(child, &status, 0) < 0)
        if (errno != EINTR) fail("waitpid");
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}
