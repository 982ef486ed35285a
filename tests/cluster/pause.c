/*
 * The test cluster's pod sandbox process ("pause" image), built locally by
 * up.sh because no image can be pulled on these machines.
 *
 * Every pod's network namespace is held by one container running this: it
 * must sleep forever, exit promptly when the kubelet stops the pod (so pod
 * deletion does not wait out a kill timeout), and, being PID 1 when the pod
 * shares its PID namespace, reap orphaned children.
 *
 * Build: gcc -Os -static -o pause pause.c
 */
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int signo) {
    (void)signo;
    _exit(0);
}

static void reap(int signo) {
    (void)signo;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

int main(void) {
    struct sigaction action = {0};

    action.sa_handler = stop;
    if (sigaction(SIGINT, &action, NULL) < 0 || sigaction(SIGTERM, &action, NULL) < 0) {
        return 1;
    }
    action.sa_handler = reap;
    action.sa_flags = SA_NOCLDSTOP;
    if (sigaction(SIGCHLD, &action, NULL) < 0) {
        return 2;
    }
    for (;;) {
        pause();
    }
}
