/* The simulator's relay between a TAP and the framed stream the stack reads
 * (a 2-byte big-endian length before each frame), in C: the same protocol as
 * host_tools/tapwire.py, without the interpreter and its threads on the path
 * of every frame (docs/architecture.md, "Where the code runs").
 *
 *   tapwire TAP_FD STREAM_FD
 *
 * Both fds are inherited. It exits when either side closes. The launcher uses
 * the Python relay instead when it must impair the link (host_tools/impair.py).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_FRAME 65535

static unsigned char from_tap[2 + MAX_FRAME];
static volatile sig_atomic_t stopping;

static void on_term(int sig) {
    (void)sig;
    stopping = 1; /* the parent's read() returns EINTR; it then reaps the child */
}
static unsigned char from_stack[2 + MAX_FRAME];

/* Write all of buf, retrying on EINTR; -1 if the other side went away. */
static int write_all(int fd, const unsigned char *buf, size_t n) {
    while (n > 0) {
        ssize_t k = write(fd, buf, n);
        if (k < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        buf += k;
        n -= (size_t)k;
    }
    return 0;
}

/* One frame from the TAP, prefixed with its length, onto the stream. */
static int tap_to_stream(int tap, int stream) {
    ssize_t n = read(tap, from_tap + 2, MAX_FRAME);
    if (stopping) {
        return -1;
    }
    if (n < 0) {
        return errno == EINTR || errno == EAGAIN ? 0 : -1;
    }
    if (n == 0) {
        return -1;
    }
    from_tap[0] = (unsigned char)(n >> 8);
    from_tap[1] = (unsigned char)n;
    return write_all(stream, from_tap, (size_t)n + 2);
}

/* Stream bytes in; every complete record goes to the TAP as one frame. A
 * record may arrive in pieces, so `have` bytes are kept between calls. */
static size_t have;

static int stream_to_tap(int stream, int tap) {
    ssize_t k = read(stream, from_stack + have, sizeof(from_stack) - have);
    if (k < 0) {
        return errno == EINTR || errno == EAGAIN ? 0 : -1;
    }
    if (k == 0) {
        return -1;
    }
    have += (size_t)k;
    size_t at = 0;
    while (have - at >= 2) {
        size_t len = ((size_t)from_stack[at] << 8) | from_stack[at + 1];
        if (have - at < 2 + len) {
            break;
        }
        if (write(tap, from_stack + at + 2, len) < 0 && errno != EINTR) {
            /* a frame the TAP refuses (down, too long) is lost, as on a wire */
        }
        at += 2 + len;
    }
    memmove(from_stack, from_stack + at, have - at);
    have -= at;
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: tapwire TAP_FD STREAM_FD\n");
        return 2;
    }
    int tap = atoi(argv[1]);
    int stream = atoi(argv[2]);
    /* One process per direction, each blocking on its read: neither side can
     * stall the other (a full stream buffer one way while the stack writes
     * the other), as with the Python relay's two threads. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term; /* no SA_RESTART: a blocked read() returns */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a closed side is a write error: stop cleanly */
    pid_t child = fork();
    if (child < 0) {
        perror("tapwire: fork");
        return 1;
    }
    if (child == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the other direction */
        while (stream_to_tap(stream, tap) == 0) {
        }
        return 0;
    }
    while (tap_to_stream(tap, stream) == 0) {
    }
    kill(child, SIGTERM);
    waitpid(child, NULL, 0);
    return 0;
}
