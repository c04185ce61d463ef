/* pubsub_sub — the subscribers of tests/bench/pubsub-vs-redis.sh.
 *
 *   pubsub_sub PORT CONNS KIND CHANNEL PATTERN PAYLOAD COUNT TIMEOUT_S
 *
 * Opens CONNS connections to 127.0.0.1:PORT, each subscribed to CHANNEL (KIND "channel") or
 * to PATTERN (KIND "pattern"), in RESP2; prints "ready" once every confirmation has arrived,
 * then reads until every connection has received COUNT messages carrying PAYLOAD on CHANNEL.
 * Prints "done <realtime seconds>" (the moment the last message arrived, to compare with the
 * publisher's start) and exits 0, or names the connection that lost, reordered or corrupted
 * something and exits 1 (timeout included).
 *
 * Every message is the same frame, so a connection does not parse RESP: it compares what it
 * reads with the expected frame byte for byte (memcmp) and counts whole frames. That keeps the
 * subscriber side far cheaper than the server's own work per delivery, so the figures are the
 * server's, and still proves every byte of every message. One process, epoll over every
 * connection. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

typedef struct conn {
    int fd;
    size_t pos;  /* offset inside the frame being matched */
    long long n; /* whole frames received */
    int confirmed;
} conn;

static char *frame, *confirm;
static size_t frame_len, confirm_len;

static void die(const char *what) {
    perror(what);
    exit(2);
}

static double now_real(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A RESP2 array of bulk strings, in a new buffer. */
static char *resp_array(size_t *len, int argc, const char **argv) {
    size_t cap = 32;
    for (int i = 0; i < argc; i++)
        cap += strlen(argv[i]) + 32;
    char *b = malloc(cap);
    if (!b) die("malloc");
    size_t off = (size_t)snprintf(b, cap, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        off += (size_t)snprintf(b + off, cap - off, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    *len = off;
    return b;
}

/* Matches n bytes against the stream a connection expects: first the confirmation, then
 * frames. Returns -1 on a byte that is not what was expected. */
static int feed(conn *c, const char *p, size_t n) {
    while (n > 0) {
        const char *want = c->confirmed ? frame : confirm;
        size_t want_len = c->confirmed ? frame_len : confirm_len;
        size_t k = want_len - c->pos < n ? want_len - c->pos : n;
        if (memcmp(p, want + c->pos, k) != 0) return -1;
        c->pos += k;
        p += k;
        n -= k;
        if (c->pos == want_len) {
            c->pos = 0;
            if (c->confirmed)
                c->n++;
            else
                c->confirmed = 1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 9) {
        fprintf(stderr,
                "usage: %s PORT CONNS channel|pattern CHANNEL PATTERN PAYLOAD COUNT "
                "TIMEOUT_S\n",
                argv[0]);
        return 2;
    }
    int port = atoi(argv[1]), nconn = atoi(argv[2]);
    int by_pattern = strcmp(argv[3], "pattern") == 0;
    const char *channel = argv[4], *pattern = argv[5], *payload = argv[6];
    long long count = atoll(argv[7]);
    double timeout = atof(argv[8]);
    if (nconn <= 0 || count < 0) return 2;

    const char *sub[2] = {by_pattern ? "PSUBSCRIBE" : "SUBSCRIBE", by_pattern ? pattern : channel};
    size_t sub_len;
    char *sub_cmd = resp_array(&sub_len, 2, sub);
    /* The confirmation: [kind, name, 1], the count an integer. */
    const char *conf[2] = {by_pattern ? "psubscribe" : "subscribe", sub[1]};
    char *head = resp_array(&confirm_len, 2, conf);
    confirm = malloc(confirm_len + 8);
    if (!confirm) die("malloc");
    memcpy(confirm, head, confirm_len);
    confirm[1] = '3'; /* "*2" -> "*3" */
    memcpy(confirm + confirm_len, ":1\r\n", 4);
    confirm_len += 4;
    free(head);
    if (by_pattern) {
        const char *m[4] = {"pmessage", pattern, channel, payload};
        frame = resp_array(&frame_len, 4, m);
    } else {
        const char *m[3] = {"message", channel, payload};
        frame = resp_array(&frame_len, 3, m);
    }

    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    conn *conns = calloc((size_t)nconn, sizeof(*conns));
    if (!conns) die("calloc");
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < nconn; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) die("socket");
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) die("connect");
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (write(fd, sub_cmd, sub_len) != (ssize_t)sub_len) die("write");
        conns[i].fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
    }

    static char buf[1 << 18];
    struct epoll_event evs[128];
    int confirmed = 0, finished = 0, announced = 0;
    double deadline = now_mono() + timeout, last = 0;
    while (finished < nconn || !announced) {
        if (!announced && confirmed == nconn) {
            printf("ready\n");
            fflush(stdout);
            announced = 1;
            if (count == 0) break;
        }
        double left = deadline - now_mono();
        if (left <= 0) break;
        int n = epoll_wait(ep, evs, 128, left > 1.0 ? 1000 : (int)(left * 1000) + 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("epoll_wait");
        for (int e = 0; e < n; e++) {
            conn *c = &conns[evs[e].data.u32];
            ssize_t r = read(c->fd, buf, sizeof(buf));
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (r <= 0) {
                fprintf(stderr, "connection %u closed by the server after %lld messages\n",
                        evs[e].data.u32, c->n);
                return 1;
            }
            int was_confirmed = c->confirmed;
            long long before = c->n;
            if (feed(c, buf, (size_t)r) < 0) {
                fprintf(stderr, "connection %u: unexpected bytes after %lld messages\n",
                        evs[e].data.u32, c->n);
                return 1;
            }
            if (!was_confirmed && c->confirmed) confirmed++;
            if (c->n > count) {
                fprintf(stderr, "connection %u: more than %lld messages\n", evs[e].data.u32, count);
                return 1;
            }
            if (before < count && c->n == count) {
                finished++;
                last = now_real();
            }
        }
    }
    if (finished < nconn) {
        long long least = count;
        int who = -1;
        for (int i = 0; i < nconn; i++)
            if (conns[i].n < least) least = conns[i].n, who = i;
        fprintf(stderr, "timeout: %d of %d connections complete; connection %d has %lld of %lld\n",
                finished, nconn, who, least, count);
        return 1;
    }
    printf("done %.6f\n", count ? last : now_real());
    return 0;
}
