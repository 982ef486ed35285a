/* podium-shell: the attendee's terminal session - one shell on one PTY, kept across reloads.
 *
 *   podium-shell attach CLIENT [KEEP [LINK]]
 *                                       attach this exec's TTY (creating the session in the directory and with
 *                                       the exports runs left when there is none); ends when detached or when
 *                                       the session ends. With LINK, a socket the server listens on in the
 *                                       workspace's link folder (/opt/podium-link, see docker_link.py), the
 *                                       keys and the output go over that socket instead, and the TTY only
 *                                       gives the size; when it cannot be reached, over the TTY as without.
 *   podium-shell watch CLIENT           follow the session's output read-only; exit 3 when there is no session
 *   podium-shell detach CLIENT KEEP     end that attach or watch; with nobody typing left, end the session KEEP
 *                                       seconds later unless someone attaches again
 *   podium-shell status                 "SESSION TYPING WATCHING": 1 or 0, and how many attaches of each
 *
 * Why one small program: a keystroke used to cross three PTYs and three processes (the exec's TTY, a dtach
 * client and master, `script` keeping a log, bash). Here the session holder owns the shell's PTY and, on
 * attach, receives the exec's TTY itself over its unix socket (SCM_RIGHTS): it reads keys from that TTY
 * straight into the shell's PTY and writes the shell's output straight back - two PTYs, one process between.
 * The attach process only stays alive (its exit ends the exec) and tells the holder when its TTY was resized
 * (SIGWINCH reaches it, the foreground process of that TTY).
 *
 * With a link, the holder gets the server's socket instead of the TTY to read and write: a keystroke then goes
 * from the server's process to the holder and the shell's PTY, not through the engine, the container runtime's
 * shim and the exec's PTY (on two cores those took about 0.25 ms of a 0.3 ms echo). The TTY stays, for its size.
 *
 * The holder keeps the last REPLAY bytes of output in memory; an attach or a watch gets them first, as they
 * were printed, so a reloaded page's xterm.js rebuilds its scrollback and the screen as it was (no clear, no
 * redraw). Nothing is written to disk. A watcher never holds up the shell: one that lags by more than
 * WATCH_LAG bytes is dropped; a typing client does (as a slow terminal would), through the PTY.
 *
 * Built static in the image's build stage (Dockerfile), like podium-enter.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef HOME_PODIUM /* (another one only to try it out of a workspace) */
#define HOME_PODIUM "/root/.podium"
#endif
#define DIR HOME_PODIUM "/terminals" /* the attendee's own: in userns mode /run/podium is the host root's */
#define SOCK DIR "/session.sock"
#define LOCK DIR "/session.lock"
#define RC "/usr/local/lib/podium/terminal-rc.sh"
#define CWD_FILE HOME_PODIUM "/cwd"
#define REPLAY (256 * 1024)    /* bytes of output an attach gets first */
#define CHUNK (64 * 1024)      /* one read */
#define HOLD (64 * 1024)       /* a typing client this far behind pauses the shell's output */
#define WATCH_LAG (1024 * 1024) /* a watcher this far behind is dropped */
#define MAX_CLIENTS 16
#define DEFAULT_KEEP 300

struct hello {
    char kind; /* 'A' attach, 'W' watch, 'D' detach, 'S' status */
    char client[65];
    int keep;
};

struct client {
    int ctl, in, out; /* in/out: the exec's TTY or the server's link socket (-1 for none) */
    int size;         /* the TTY whose size the session takes (out, or the exec's TTY beside a link) */
    int watch;
    char id[65];
    char *buf; /* output not written yet */
    size_t len, cap;
};

static char ring[REPLAY];
static unsigned long long printed; /* bytes of output so far; ring holds the last REPLAY of them */
static struct client clients[MAX_CLIENTS];
static int nclients;
static int master = -1, listener = -1;
static pid_t shell = -1;
static int keep = DEFAULT_KEEP;
static long long expiry = -1; /* monotonic ms when the session ends, -1 while someone types */
static char inbuf[CHUNK]; /* keys the shell's PTY has not taken yet */
static size_t inlen;

static void die(const char *what) {
    fprintf(stderr, "podium-shell: %s%s%s\n", what, errno ? ": " : "", errno ? strerror(errno) : "");
    exit(125);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int valid_client(const char *id) {
    size_t n = strlen(id);
    if (n < 1 || n > 64) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static void nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

/* ---- the holder ------------------------------------------------------------------------------------------- */

static int typing(void) {
    int n = 0;
    for (int i = 0; i < nclients; i++) n += !clients[i].watch;
    return n;
}

/* With nobody typing, the session ends `keep` seconds from now (from the first time, unless `reset`). */
static void expiry_arm(int reset) {
    if (typing() == 0 && (reset || expiry < 0)) expiry = now_ms() + (long long)keep * 1000;
}

static void client_drop(int i) {
    struct client *c = &clients[i];
    close(c->ctl);
    if (c->in >= 0) close(c->in);
    if (c->out >= 0 && c->out != c->in) close(c->out);
    if (c->size >= 0 && c->size != c->out) close(c->size);
    free(c->buf);
    clients[i] = clients[--nclients];
}

/* Queue `n` bytes for client `i`; 0 when it fell too far behind and must go. */
static int client_queue(struct client *c, const char *data, size_t n) {
    if (c->len + n > c->cap) {
        size_t cap = c->cap ? c->cap : CHUNK;
        while (cap < c->len + n) cap *= 2;
        if (c->watch && cap > WATCH_LAG) return 0;
        char *grown = realloc(c->buf, cap);
        if (!grown) return 0;
        c->buf = grown;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, data, n);
    c->len += n;
    return 1;
}

/* Write what client `i` has pending; 0 when its TTY is gone. */
static int client_flush(struct client *c) {
    size_t done = 0;
    while (done < c->len) {
        ssize_t w = write(c->out, c->buf + done, c->len - done);
        if (w > 0) {
            done += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) break;
        return 0;
    }
    memmove(c->buf, c->buf + done, c->len - done);
    c->len -= done;
    return 1;
}

/* Output of the shell: into the ring, then to every client - written at once when nothing waits before it. */
static void output(const char *data, size_t n) {
    for (size_t i = 0; i < n; i++) ring[(printed + i) % REPLAY] = data[i];
    printed += n;
    for (int i = nclients - 1; i >= 0; i--) {
        struct client *c = &clients[i];
        size_t done = 0;
        while (c->len == 0 && done < n) {
            ssize_t w = write(c->out, data + done, n - done);
            if (w > 0) done += (size_t)w;
            else if (w < 0 && errno == EINTR) continue;
            else break;
        }
        if (done < n && (!client_queue(c, data + done, n - done) || !client_flush(c))) {
            client_drop(i);
            expiry_arm(0);
        }
    }
}

/* Where the escape sequence at s[i] (ESC [, ESC ] or ESC P) ends, one past it; 0 when it is none of those, is
 * cut off, or is a string longer than a query ever is. */
static size_t sequence_end(const char *s, size_t n, size_t i) {
    size_t j = i + 2;
    if (s[i + 1] == '[') {
        while (j < n && s[j] >= 0x20 && s[j] <= 0x3f) j++;
        return j < n && s[j] >= 0x40 && s[j] <= 0x7e ? j + 1 : 0;
    }
    if (s[i + 1] != ']' && s[i + 1] != 'P') return 0;
    for (; j < n && j < i + 512; j++) {
        if (s[j] == '\a') return j + 1;
        if (s[j] == '\033') return j + 1 < n && s[j + 1] == '\\' ? j + 2 : 0;
    }
    return 0;
}

/* Whether the sequence q[0..n) asks the terminal something (device attributes or status, a mode, the version,
 * the keyboard flags, a colour or the clipboard, a setting or a capability). */
static int sequence_asks(const char *q, size_t n) {
    char kind = q[1], last = q[n - 1], first = n > 3 ? q[2] : 0;
    if (kind == '[') {
        if (last == 'c') return 1;                              /* DA1, DA2 (>), DA3 (=) */
        if (last == 'n') return first != '>';                   /* DSR (CSI > n sets key modifiers) */
        if (last == 'p') return n > 3 && q[n - 2] == '$';       /* DECRQM */
        if (last == 'q') return first == '>';                   /* XTVERSION */
        return last == 'u' && first == '?';                     /* kitty keyboard flags */
    }
    size_t body = n - (last == '\a' ? 1 : 2); /* the string without its terminator */
    if (kind == ']') return body > 3 && q[body - 1] == '?' && q[body - 2] == ';'; /* OSC 4/10/11/52 ...;? */
    return n > 4 && (q[2] == '$' || q[2] == '+') && q[3] == 'q'; /* DECRQSS, XTGETTCAP */
}

/* `s` without the questions a program asked the terminal: they were answered when they were printed, and the
 * page's terminal would answer them again, as keys typed into the shell. Returns the new length. */
static size_t questions_drop(char *s, size_t n) {
    size_t out = 0, i = 0;
    while (i < n) {
        if (s[i] == '\033' && i + 1 < n) {
            size_t end = sequence_end(s, n, i);
            if (end && sequence_asks(s + i, end - i)) {
                i = end;
                continue;
            }
        }
        s[out++] = s[i++];
    }
    return out;
}

/* The ring as it was printed, from its first whole line on once it has wrapped, without its questions. */
static int replay_queue(struct client *c) {
    size_t n = printed < REPLAY ? (size_t)printed : REPLAY;
    size_t start = printed < REPLAY ? 0 : (size_t)(printed % REPLAY);
    char *copy = malloc(n ? n : 1);
    if (!copy) return 0;
    for (size_t i = 0; i < n; i++) copy[i] = ring[(start + i) % REPLAY];
    size_t from = 0;
    if (printed > REPLAY) { /* it begins inside a line, maybe inside an escape sequence */
        char *nl = memchr(copy, '\n', n);
        from = nl ? (size_t)(nl - copy) + 1 : n;
    }
    int ok = client_queue(c, copy + from, questions_drop(copy + from, n - from));
    free(copy);
    return ok;
}

static void size_follow(struct client *c) {
    struct winsize ws;
    if (ioctl(c->size, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) ioctl(master, TIOCSWINSZ, &ws);
}

static void raw_mode(int fd) {
    struct termios t;
    if (tcgetattr(fd, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(fd, TCSANOW, &t);
    }
}

static void status_say(int fd) {
    char line[64];
    int n = snprintf(line, sizeof line, "1 %d %d\n", typing(), nclients - typing());
    (void)!write(fd, line, (size_t)n);
}

/* A new connection: its hello (and, for an attach or a watch, its TTY: in, out and, beside a link, size). */
static void accepted(int fd) {
    struct hello h;
    int fds[3] = {-1, -1, -1};
    char control[CMSG_SPACE(sizeof fds)];
    struct iovec iov = {&h, sizeof h};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    struct timeval wait = {.tv_sec = 2}; /* a connection that says nothing never holds the session up */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_WAITALL);
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            memcpy(fds, CMSG_DATA(cm), (count < 3 ? count : 3) * sizeof(int));
        }
    h.client[64] = '\0';
    if (n != (ssize_t)sizeof h || !valid_client(h.client) || h.keep < 0) h.kind = '?';
    if (h.kind == 'S' || h.kind == 'D') {
        if (h.kind == 'D') {
            for (int i = nclients - 1; i >= 0; i--)
                if (strcmp(clients[i].id, h.client) == 0) client_drop(i);
            keep = h.keep;
            expiry_arm(1);
            (void)!write(fd, "ok\n", 3);
        } else {
            status_say(fd);
        }
    }
    if ((h.kind != 'A' && h.kind != 'W') || fds[0] < 0 || fds[1] < 0 || nclients == MAX_CLIENTS) {
        for (int i = 0; i < 3; i++)
            if (fds[i] >= 0) close(fds[i]);
        close(fd);
        return;
    }
    struct client *c = &clients[nclients++];
    *c = (struct client){.ctl = fd, .in = h.kind == 'A' ? fds[0] : -1, .out = fds[1], .watch = h.kind == 'W'};
    c->size = c->watch || fds[2] < 0 ? c->out : fds[2];
    if (c->watch) close(fds[0]);
    if (c->watch && fds[2] >= 0) close(fds[2]);
    strcpy(c->id, h.client);
    nonblocking(fd);
    nonblocking(c->out);
    raw_mode(c->size); /* a link's socket has no line discipline; the TTY beside it must not echo either */
    if (!c->watch) {
        nonblocking(c->in);
        keep = h.keep;
        expiry = -1;
        size_follow(c);
    }
    if (!replay_queue(c) || !client_flush(c)) {
        client_drop(nclients - 1);
        expiry_arm(0);
    }
}

static void session_end(void) {
    if (master >= 0) close(master); /* the shell's controlling process gets SIGHUP */
    if (shell > 0) kill(-shell, SIGHUP);
    while (nclients) client_drop(nclients - 1);
    unlink(SOCK);
    close(listener);
    exit(0);
}

static void holder(struct winsize *ws, int keep_s) {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    signal(SIGPIPE, SIG_IGN);

    shell = forkpty(&master, NULL, NULL, ws);
    if (shell < 0) die("forkpty");
    if (shell == 0) {
        sigprocmask(SIG_UNBLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_DFL);
        unsetenv("PODIUM_TERMINAL_ROWS");
        execl("/bin/bash", "bash", "--rcfile", RC, "-i", (char *)NULL);
        _exit(127);
    }
    fcntl(master, F_SETFD, FD_CLOEXEC);
    nonblocking(master);
    keep = keep_s;
    expiry_arm(1); /* until the attach that started it connects */

    static char data[CHUNK];
    for (;;) {
        struct pollfd p[3 + 2 * MAX_CLIENTS];
        int held = 0;
        for (int i = 0; i < nclients; i++) held |= !clients[i].watch && clients[i].len > HOLD;
        p[0] = (struct pollfd){.fd = master, .events = (short)((held ? 0 : POLLIN) | (inlen ? POLLOUT : 0))};
        p[1] = (struct pollfd){.fd = listener, .events = POLLIN};
        p[2] = (struct pollfd){.fd = sfd, .events = POLLIN};
        int np = 3, at[MAX_CLIENTS];
        for (int i = 0; i < nclients; i++) {
            struct client *c = &clients[i];
            at[i] = np;
            p[np++] = (struct pollfd){.fd = c->ctl, .events = POLLIN};
            short events = (short)((c->in >= 0 && !inlen ? POLLIN : 0) | (c->len ? POLLOUT : 0));
            p[np++] = (struct pollfd){.fd = c->in >= 0 ? c->in : c->out, .events = events};
        }
        int timeout = -1;
        if (expiry >= 0) {
            long long left = expiry - now_ms();
            if (left <= 0) session_end();
            timeout = left > 60000 ? 60000 : (int)left;
        }
        if (poll(p, (nfds_t)np, timeout) < 0) {
            if (errno == EINTR) continue;
            die("poll");
        }
        if (p[2].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (si.ssi_signo != SIGCHLD) session_end();
                int status;
                if (waitpid(shell, &status, WNOHANG) == shell) {
                    /* the shell ended: say what it printed last, then end */
                    ssize_t n;
                    while ((n = read(master, data, sizeof data)) > 0) output(data, (size_t)n);
                    for (int i = 0; i < nclients; i++) {
                        fcntl(clients[i].out, F_SETFL, fcntl(clients[i].out, F_GETFL) & ~O_NONBLOCK);
                        client_flush(&clients[i]);
                    }
                    session_end();
                }
            }
        }
        /* clients first: their indexes in p[] hold only until one is dropped */
        for (int i = nclients - 1; i >= 0; i--) {
            struct client *c = &clients[i];
            short ctl = p[at[i]].revents, tty = p[at[i] + 1].revents;
            int gone = 0;
            if (ctl & (POLLIN | POLLHUP | POLLERR)) {
                char msg[64];
                ssize_t n = read(c->ctl, msg, sizeof msg);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) gone = 1;
                for (ssize_t k = 0; k < n; k++)
                    if (msg[k] == 'Z' && !c->watch) size_follow(c);
            }
            if (!gone && c->in >= 0 && (tty & (POLLIN | POLLHUP | POLLERR)) && !inlen) {
                ssize_t n = read(c->in, inbuf, sizeof inbuf);
                if (n > 0) inlen = (size_t)n;
                else if (n == 0 || (errno != EAGAIN && errno != EINTR)) gone = 1;
            }
            if (!gone && (tty & POLLOUT) && !client_flush(c)) gone = 1;
            if (!gone && c->in < 0 && (tty & (POLLHUP | POLLERR))) gone = 1;
            if (gone) {
                client_drop(i);
                expiry_arm(0);
            }
        }
        if (inlen) { /* keys to the shell, at once */
            ssize_t w = write(master, inbuf, inlen);
            if (w > 0) {
                memmove(inbuf, inbuf + w, inlen - (size_t)w);
                inlen -= (size_t)w;
            }
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(master, data, sizeof data);
            if (n > 0) output(data, (size_t)n);
            else if (n == 0 || (errno != EAGAIN && errno != EINTR)) session_end(); /* EIO: the shell's side closed */
        }
        if (p[1].revents & POLLIN) {
            int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) accepted(fd);
        }
    }
}

/* ---- the commands ----------------------------------------------------------------------------------------- */

static int connect_holder(void) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strcpy(addr.sun_path, SOCK);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) return fd;
    close(fd);
    return -1;
}

/* Start the session (the lock is held): the listening socket first, so the attach can connect at once. */
static void session_start(int keep_s) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strcpy(addr.sun_path, SOCK);
    unlink(SOCK);
    listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 16) != 0)
        die("listening on " SOCK);
    struct winsize ws = {.ws_row = 24, .ws_col = 80};
    struct winsize mine;
    if (ioctl(1, TIOCGWINSZ, &mine) == 0 && mine.ws_row > 0 && mine.ws_col > 0) ws = mine;
    pid_t first = fork();
    if (first < 0) die("fork");
    if (first == 0) {
        setsid();
        if (fork() != 0) _exit(0); /* the holder is nobody's child: the attach's exit never touches it */
        char cwd[4096] = "";
        FILE *f = fopen(CWD_FILE, "r");
        if (f) {
            if (fgets(cwd, sizeof cwd, f)) cwd[strcspn(cwd, "\n")] = '\0';
            fclose(f);
        }
        if (!cwd[0] || chdir(cwd) != 0)
            if (chdir("/workshop") != 0 && chdir("/") != 0) _exit(125);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        if (null > 2) close(null);
        /* nothing of the attach's exec may stay open here (its TTY would keep the exec from ending) */
        for (int fd = 3; fd < 1024; fd++)
            if (fd != listener) close(fd);
        holder(&ws, keep_s);
    }
    waitpid(first, NULL, 0);
    close(listener);
    listener = -1;
}

/* The hello, with this exec's TTY (with_tty) or, given a link, the link's socket to read and write and the
 * TTY for its size. */
static int hello_send(int fd, char kind, const char *client, int keep_s, int with_tty, int link) {
    struct hello h = {.kind = kind, .keep = keep_s};
    snprintf(h.client, sizeof h.client, "%s", client);
    int fds[3] = {0, 1, 0};
    size_t count = 2;
    if (link >= 0) {
        fds[0] = fds[1] = link;
        count = 3;
    }
    char control[CMSG_SPACE(sizeof fds)];
    memset(control, 0, sizeof control);
    struct iovec iov = {&h, sizeof h};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (with_tty) {
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(count * sizeof(int));
        msg.msg_controllen = CMSG_SPACE(count * sizeof(int));
        memcpy(CMSG_DATA(cm), fds, count * sizeof(int));
    }
    return sendmsg(fd, &msg, MSG_NOSIGNAL) == (ssize_t)sizeof h ? 0 : -1;
}

static volatile sig_atomic_t resized;
static void on_winch(int sig) {
    (void)sig;
    resized = 1;
}

/* attach/watch: hand the TTY over, then live until the holder lets go (its exit ends the exec). */
static int follow(int fd) {
    for (;;) {
        if (resized) {
            resized = 0;
            if (send(fd, "Z", 1, MSG_NOSIGNAL) != 1) return 0;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, -1) < 0) continue; /* EINTR: a resize */
        char sink[64];
        ssize_t n = read(fd, sink, sizeof sink);
        if (n == 0 || (n < 0 && errno != EINTR)) return 0;
    }
}

/* The server's socket at `path` in the link folder, connected; -1 when there is none (then: the TTY). */
static int link_connect(const char *path) {
    static const char folder[] = "/opt/podium-link/";
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strncmp(path, folder, sizeof folder - 1) != 0 || strlen(path) >= sizeof addr.sun_path) return -1;
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) return fd;
    if (fd >= 0) close(fd);
    return -1;
}

static int parse_keep(const char *text) {
    char *end;
    long v = strtol(text, &end, 10);
    return (*text && !*end && v >= 0 && v <= 86400 * 7) ? (int)v : DEFAULT_KEEP;
}

int main(int argc, char **argv) {
    const char *command = argc > 1 ? argv[1] : "";
    const char *client = argc > 2 ? argv[2] : "";
    int is_status = strcmp(command, "status") == 0;
    if (!is_status && (!valid_client(client) || (strcmp(command, "attach") && strcmp(command, "watch") &&
                                                 strcmp(command, "detach")))) {
        fprintf(stderr, "podium-shell: usage: podium-shell attach|watch|detach CLIENT [KEEP] | status\n");
        return 2;
    }
    int keep_s = argc > 3 ? parse_keep(argv[3]) : DEFAULT_KEEP;
    mkdir(HOME_PODIUM, 0700);
    mkdir(DIR, 0700);
    if (is_status || strcmp(command, "detach") == 0) {
        int fd = connect_holder();
        if (fd < 0) {
            if (is_status) puts("0 0 0");
            return 0;
        }
        if (hello_send(fd, is_status ? 'S' : 'D', is_status ? "status" : client, keep_s, 0, -1) != 0) return 1;
        char answer[64];
        ssize_t n = read(fd, answer, sizeof answer - 1);
        if (is_status) {
            answer[n > 0 ? n : 0] = '\0';
            fputs(n > 0 ? answer : "0 0 0\n", stdout);
        }
        return 0;
    }
    struct sigaction sa = {.sa_handler = on_winch}; /* no SA_RESTART: a resize wakes follow() */
    sigaction(SIGWINCH, &sa, NULL);
    int attach = strcmp(command, "attach") == 0;
    /* First: the server waits for this connection, or for the TTY to say something when there is none. */
    int link = attach && argc > 4 ? link_connect(argv[4]) : -1;
    /* Until the holder has the link, what this attach says (why it failed) goes where the server reads. */
    int tty_err = link >= 0 ? dup(2) : -1;
    if (tty_err >= 0) dup2(link, 2);
    int fd = connect_holder();
    if (fd < 0 && attach) {
        int lock = open(LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lock < 0 || flock(lock, LOCK_EX) != 0) die("locking " LOCK);
        fd = connect_holder(); /* another attach may have started it meanwhile */
        if (fd < 0) {
            session_start(keep_s);
            fd = connect_holder();
        }
        close(lock);
    }
    if (fd < 0) {
        if (attach) die("the terminal session did not start");
        fprintf(stderr, "podium-shell: no terminal session to watch\n");
        return 3;
    }
    if (hello_send(fd, attach ? 'A' : 'W', client, keep_s, 1, link) != 0) die("attaching");
    if (tty_err >= 0) {
        dup2(tty_err, 2);
        close(tty_err);
    }
    if (link >= 0) close(link); /* the holder has it now */
    return follow(fd);
}
