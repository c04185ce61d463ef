/* scrape — one scrape of one target (see scrape.h). */
#include "scrape.h"

#include "alloc/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CMDS 4
#define READ_CHUNK 16384

/* hiredis 0.14 allocates an aggregate's element vector as soon as its header arrives
 * ("*2000000000\r\n" is 16 GB of address space) and walks all of it when freed (seconds of CPU,
 * past any deadline). No reply a scrape asks for has more than a few hundred elements, so the
 * reader's createArray is wrapped to refuse more than this; the refusal is a protocol error
 * with its own reason (hiredis itself would only say "Out of memory"). */
#define MAX_AGGREGATE_ELEMENTS 65536
static redisReplyObjectFunctions bounded_fn;
static void *(*hiredis_create_array)(const redisReadTask *, int);
static pthread_once_t bounded_once = PTHREAD_ONCE_INIT;
static _Thread_local int refused_elements; /* the count last refused on this thread, or 0 */

static void *bounded_create_array(const redisReadTask *t, int elements) {
    if (elements > MAX_AGGREGATE_ELEMENTS) {
        refused_elements = elements;
        return NULL;
    }
    return hiredis_create_array(t, elements);
}

static void bounded_init(void) {
    redisReader *r =
        redisReaderCreate(); /* for hiredis's own functions, which it does not export */
    if (!r) return;
    bounded_fn = *r->fn;
    hiredis_create_array = bounded_fn.createArray;
    bounded_fn.createArray = bounded_create_array;
    redisReaderFree(r);
}

static redisReader *bounded_reader_create(void) {
    pthread_once(&bounded_once, bounded_init);
    refused_elements = 0;
    return hiredis_create_array ? redisReaderCreateWithFunctions(&bounded_fn) : NULL;
}

double scrape_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((format(printf, 3, 4))) static void seterr(char *err, size_t cap, const char *fmt,
                                                         ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* Milliseconds left until deadline, for poll (at least 0). */
static int ms_left(double deadline) {
    double left = deadline - scrape_now();
    if (left <= 0) return 0;
    if (left > 3600) return 3600 * 1000;
    return (int)ceil(left * 1000.0);
}

/* Wait for events on fd until deadline: 1 ready, 0 timed out, -1 error (errno). */
static int wait_fd(int fd, short events, double deadline) {
    for (;;) {
        struct pollfd p = {fd, events, 0};
        int ms = ms_left(deadline);
        int n = poll(&p, 1, ms);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) {
            if (scrape_now() >= deadline) return 0;
            continue; /* woke a little early (rounding): wait out the rest */
        }
        return 1;
    }
}

/* Connect one address, nonblocking, until deadline. fd or -1 with err. */
static int connect_addr(const struct sockaddr *sa, socklen_t len, double deadline, char *err,
                        size_t errcap, const char *what) {
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        seterr(err, errcap, "socket: %s", strerror(errno));
        return -1;
    }
    if (connect(fd, sa, len) == 0) return fd;
    if (errno != EINPROGRESS && errno != EAGAIN) {
        seterr(err, errcap, "connect to %s: %s", what, strerror(errno));
        close(fd);
        return -1;
    }
    int w = wait_fd(fd, POLLOUT, deadline);
    if (w <= 0) {
        if (w == 0)
            seterr(err, errcap, "connect to %s: timed out", what);
        else
            seterr(err, errcap, "connect to %s: %s", what, strerror(errno));
        close(fd);
        return -1;
    }
    int soerr = 0;
    socklen_t sl = sizeof(soerr);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) soerr = errno;
    if (soerr) {
        seterr(err, errcap, "connect to %s: %s", what, strerror(soerr));
        close(fd);
        return -1;
    }
    return fd;
}

/* Name resolution bounded by the deadline: getaddrinfo has no timeout (a dead DNS server holds
 * it for resolv.conf's timeout × attempts), so a non-numeric host is resolved on a detached
 * thread the scrape waits for until its deadline; a scrape that gives up leaves the thread to
 * free the request when the resolver returns. */
typedef struct resolve_job {
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    int done, abandoned, rc;
    char host[TARGET_HOST_MAX], port[8];
    struct addrinfo *res;
} resolve_job;

static void resolve_job_free(resolve_job *j) {
    if (j->res) freeaddrinfo(j->res);
    pthread_mutex_destroy(&j->lock);
    pthread_cond_destroy(&j->done_cond);
    alloc_free(ALLOC_SUB_OTHER, j);
}

static void *resolve_thread(void *arg) {
    resolve_job *j = arg;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int rc = getaddrinfo(j->host, j->port, &hints, &res);
    pthread_mutex_lock(&j->lock);
    j->rc = rc;
    j->res = rc == 0 ? res : NULL;
    j->done = 1;
    int abandoned = j->abandoned;
    pthread_cond_signal(&j->done_cond);
    pthread_mutex_unlock(&j->lock);
    if (abandoned) resolve_job_free(j);
    return NULL;
}

/* 0 and *res (freeaddrinfo it), or -1 with err. */
static int resolve(const target_addr *a, double deadline, struct addrinfo **res, char *err,
                   size_t errcap) {
    char port[8];
    snprintf(port, sizeof(port), "%d", a->port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST;
    if (getaddrinfo(a->host, port, &hints, res) == 0) return 0; /* an address: no lookup */

    resolve_job *j = alloc_calloc(ALLOC_SUB_OTHER, sizeof(*j));
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->done_cond, NULL);
    snprintf(j->host, sizeof(j->host), "%s", a->host);
    memcpy(j->port, port, sizeof(port));
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int started = pthread_create(&th, &attr, resolve_thread, j) == 0;
    pthread_attr_destroy(&attr);
    if (!started) {
        resolve_job_free(j);
        seterr(err, errcap, "resolve %s: cannot start a thread", a->host);
        return -1;
    }
    struct timespec now_rt;
    clock_gettime(CLOCK_REALTIME, &now_rt);
    double left = deadline - scrape_now();
    if (left < 0) left = 0;
    double abs_s = (double)now_rt.tv_sec + (double)now_rt.tv_nsec / 1e9 + left;
    struct timespec until = {(time_t)abs_s, (long)((abs_s - floor(abs_s)) * 1e9)};
    pthread_mutex_lock(&j->lock);
    while (!j->done)
        if (pthread_cond_timedwait(&j->done_cond, &j->lock, &until) == ETIMEDOUT) break;
    if (!j->done) {
        j->abandoned = 1; /* the thread frees it */
        pthread_mutex_unlock(&j->lock);
        seterr(err, errcap, "resolve %s: timed out", a->host);
        return -1;
    }
    pthread_mutex_unlock(&j->lock);
    int rc = j->rc;
    *res = j->res;
    j->res = NULL;
    resolve_job_free(j);
    if (rc != 0) {
        seterr(err, errcap, "resolve %s: %s", a->host, gai_strerror(rc));
        return -1;
    }
    return 0;
}

static int dial(const target_addr *a, double deadline, double connect_timeout, char *err,
                size_t errcap) {
    double cd = scrape_now() + connect_timeout;
    if (cd > deadline) cd = deadline;
    if (a->is_unix) {
        struct sockaddr_un un;
        memset(&un, 0, sizeof(un));
        un.sun_family = AF_UNIX;
        snprintf(un.sun_path, sizeof(un.sun_path), "%s", a->path);
        return connect_addr((struct sockaddr *)&un, sizeof(un), cd, err, errcap, a->canonical);
    }
    struct addrinfo *res = NULL;
    if (resolve(a, cd, &res, err, errcap) != 0) return -1;
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        if (scrape_now() >= cd) break;
        fd = connect_addr(ai->ai_addr, ai->ai_addrlen, cd, err, errcap, a->canonical);
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    if (fd < 0 && !err[0]) seterr(err, errcap, "connect to %s: timed out", a->canonical);
    return fd;
}

static int write_all(int fd, const char *buf, size_t len, double deadline, char *err,
                     size_t errcap) {
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int w = wait_fd(fd, POLLOUT, deadline);
            if (w == 0) {
                seterr(err, errcap, "timed out writing the commands");
                return -1;
            }
            if (w < 0) break;
            continue;
        }
        break;
    }
    if (off < len) {
        seterr(err, errcap, "write: %s", strerror(errno));
        return -1;
    }
    return 0;
}

typedef enum read_status {
    READ_OK = 0,
    READ_TIMEOUT,
    READ_CLOSED,
    READ_TOO_LARGE,
    READ_ERROR
} read_status;

/* Read until n replies are parsed (or EOF when n is 0, for twemproxy: raw bytes into *raw). */
static read_status read_replies(int fd, redisReader *rd, redisReply **replies, int n,
                                double deadline, size_t cap, size_t *got, char **raw,
                                size_t *rawlen, char *err, size_t errcap) {
    int have = 0;
    char chunk[READ_CHUNK];
    size_t rawcap = 0;
    for (;;) {
        while (rd && have < n) {
            void *r = NULL;
            if (redisReaderGetReply(rd, &r) != REDIS_OK) {
                if (refused_elements)
                    seterr(err, errcap, "protocol error: an aggregate of %d elements (at most %d)",
                           refused_elements, MAX_AGGREGATE_ELEMENTS);
                else
                    seterr(err, errcap, "protocol error: %s", rd->errstr);
                return READ_ERROR;
            }
            if (!r) break;
            replies[have++] = r;
        }
        if (rd && have == n) return READ_OK;
        int w = wait_fd(fd, POLLIN, deadline);
        if (w == 0) {
            seterr(err, errcap, "timed out waiting for the reply (%zu bytes read)", *got);
            return READ_TIMEOUT;
        }
        if (w < 0) {
            seterr(err, errcap, "poll: %s", strerror(errno));
            return READ_ERROR;
        }
        ssize_t k = recv(fd, chunk, sizeof(chunk), 0);
        if (k < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
        if (k < 0) {
            seterr(err, errcap, "read: %s", strerror(errno));
            return errno == ECONNRESET ? READ_CLOSED : READ_ERROR;
        }
        if (k == 0) {
            if (!rd) return READ_OK; /* twemproxy: the JSON ends at EOF */
            seterr(err, errcap, "connection closed by the target (%zu bytes read)", *got);
            return READ_CLOSED;
        }
        *got += (size_t)k;
        if (*got > cap) {
            seterr(err, errcap, "reply too large (over %zu bytes)", cap);
            return READ_TOO_LARGE;
        }
        if (rd) {
            if (redisReaderFeed(rd, chunk, (size_t)k) != REDIS_OK) {
                seterr(err, errcap, "protocol error: %s", rd->errstr);
                return READ_ERROR;
            }
        } else {
            if (*rawlen + (size_t)k + 1 > rawcap) {
                size_t nc = rawcap ? rawcap * 2 : 65536;
                while (nc < *rawlen + (size_t)k + 1)
                    nc *= 2;
                *raw = alloc_realloc(ALLOC_SUB_OTHER, *raw, nc);
                rawcap = nc;
            }
            memcpy(*raw + *rawlen, chunk, (size_t)k);
            *rawlen += (size_t)k;
            (*raw)[*rawlen] = '\0';
        }
    }
}

/* Append one command in RESP to buf. */
static void add_cmd(char **buf, size_t *len, int argc, const char **argv) {
    char *cmd = NULL;
    int n = redisFormatCommandArgv(&cmd, argc, argv, NULL);
    if (n <= 0) return;
    *buf = alloc_realloc(ALLOC_SUB_OTHER, *buf, *len + (size_t)n);
    memcpy(*buf + *len, cmd, (size_t)n);
    *len += (size_t)n;
    redisFreeCommand(cmd);
}

static int kind_has_memory_stats(server_kind k) {
    return k != SERVER_KVROCKS && k != SERVER_PROXY;
}

static int kind_has_malloc_stats(server_kind k) {
    return k != SERVER_KVROCKS && k != SERVER_DRAGONFLY && k != SERVER_PROXY;
}

static int reply_is_text(const redisReply *r) {
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

static void scrape_proxy(const target_addr *a, const scrape_opts *o, scrape_out *out) {
    char *err = out->res.error;
    size_t ec = sizeof(out->res.error);
    int fd = dial(a, o->deadline, o->connect_timeout, err, ec);
    if (fd < 0) return;
    out->connections_opened++;
    char *raw = NULL;
    size_t rawlen = 0;
    read_status st = read_replies(fd, NULL, NULL, 0, o->deadline, o->max_reply_bytes,
                                  &out->reply_bytes, &raw, &rawlen, err, ec);
    close(fd);
    if (st == READ_OK) {
        char perr[200] = "";
        if (proxy_stats_parse(raw ? raw : "", rawlen, &out->proxy, perr, sizeof(perr)) == 0) {
            out->res.up = 1;
            out->res.proxy = &out->proxy;
            out->res.version = out->proxy.version;
        } else {
            seterr(err, ec, "garbage reply: %s", perr);
        }
    }
    alloc_free(ALLOC_SUB_OTHER, raw);
}

int scrape_target(target_table *t, const target_addr *a, const scrape_opts *o, scrape_out *out) {
    memset(out, 0, sizeof(*out));
    double start = scrape_now();
    out->res.version = "";
    char *err = out->res.error;
    size_t ec = sizeof(out->res.error);
    if (a->is_proxy) {
        out->res.kind = SERVER_PROXY;
        scrape_proxy(a, o, out);
        out->res.duration_seconds = scrape_now() - start;
        return out->res.up;
    }

    int keep = t && !o->fresh_connection;
    target_memory mem;
    memset(&mem, 0, sizeof(mem));
    int fd = -1;
    if (t) {
        fd = target_conn_take(t, a->canonical, o->auth_name, &mem);
        if (!keep && fd >= 0) {
            close(fd);
            fd = -1;
        }
    }

    /* The commands, in one buffer. */
    char *cmds = NULL;
    size_t cmdlen = 0;
    int n = 0, i_auth = -1, i_info, i_mstats = -1, i_malloc = -1;
    if (o->password) {
        const char *argv[3] = {"AUTH", o->user, o->password};
        if (o->user && o->user[0])
            add_cmd(&cmds, &cmdlen, 3, argv);
        else {
            argv[1] = o->password;
            add_cmd(&cmds, &cmdlen, 2, argv);
        }
        i_auth = n++;
    }
    const char *info_argv[] = {"INFO", "ALL"};
    add_cmd(&cmds, &cmdlen, 2, info_argv);
    i_info = n++;
    if (kind_has_memory_stats(mem.kind)) {
        const char *argv[] = {"MEMORY", "STATS"};
        add_cmd(&cmds, &cmdlen, 2, argv);
        i_mstats = n++;
    }
    double now = scrape_now();
    if (o->malloc_stats && kind_has_malloc_stats(mem.kind) &&
        (!mem.have_malloc || now - mem.malloc_time >= o->malloc_interval)) {
        const char *argv[] = {"MEMORY", "MALLOC-STATS"};
        add_cmd(&cmds, &cmdlen, 2, argv);
        i_malloc = n++;
    }

    redisReply *replies[MAX_CMDS] = {0};
    read_status st = READ_ERROR;
    for (int attempt = 0; attempt < 2; attempt++) {
        int reused = fd >= 0;
        if (reused) { /* a kept connection with something to read is closed or confused */
            struct pollfd p = {fd, POLLIN, 0};
            if (poll(&p, 1, 0) != 0) {
                close(fd);
                fd = -1;
                reused = 0;
            }
        }
        if (fd < 0) {
            err[0] = '\0';
            fd = dial(a, o->deadline, o->connect_timeout, err, ec);
            if (fd < 0) break;
            out->connections_opened++;
        }
        redisReader *rd = bounded_reader_create();
        size_t got = 0;
        err[0] = '\0';
        if (!rd) {
            seterr(err, ec, "out of memory");
            st = READ_ERROR;
        } else if (write_all(fd, cmds, cmdlen, o->deadline, err, ec) == 0)
            st = read_replies(fd, rd, replies, n, o->deadline, o->max_reply_bytes, &got, NULL, NULL,
                              err, ec);
        else
            st = READ_CLOSED;
        if (rd) redisReaderFree(rd);
        out->reply_bytes += got;
        if (st == READ_OK) break;
        for (int i = 0; i < n; i++) {
            if (replies[i]) freeReplyObject(replies[i]);
            replies[i] = NULL;
        }
        close(fd);
        fd = -1;
        /* A kept connection the server closed while idle: dial once more. */
        if (!(reused && st == READ_CLOSED && got == 0 && scrape_now() < o->deadline)) break;
    }
    alloc_free(ALLOC_SUB_OTHER, cmds);

    int healthy = st == READ_OK;
    if (healthy) {
        const redisReply *ra = i_auth >= 0 ? replies[i_auth] : NULL;
        const redisReply *ri = replies[i_info];
        if (ra && ra->type == REDIS_REPLY_ERROR) {
            seterr(err, ec, "%s", ra->str);
            healthy = 0;
        } else if (ri->type == REDIS_REPLY_ERROR) {
            seterr(err, ec, "%s", ri->str);
            healthy = 0;
        } else if (!reply_is_text(ri) || info_parse(&out->info, ri->str, ri->len) != 0) {
            seterr(err, ec, "garbage reply to INFO");
            healthy = 0;
        } else {
            out->res.up = 1;
            out->res.info = &out->info;
            out->res.kind = info_detect_kind(&out->info, &out->res.version);
            if (!out->res.version) out->res.version = "";
            mem.kind = out->res.kind;
        }
    }
    if (out->res.up && i_mstats >= 0) {
        const redisReply *r = replies[i_mstats];
        if (memstats_parse(r, &out->mstats) == 0)
            out->res.memstats = &out->mstats;
        else if (r->type == REDIS_REPLY_ERROR && out->res.kind != SERVER_KVROCKS &&
                 out->res.kind != SERVER_DRAGONFLY && out->res.kind != SERVER_UNKNOWN)
            seterr(err, ec, "MEMORY STATS: %s", r->str);
    }
    if (out->res.up && i_malloc >= 0) {
        const redisReply *r = replies[i_malloc];
        char perr[160] = "";
        if (reply_is_text(r) &&
            malloc_stats_parse(r->str, r->len, &mem.malloc, perr, sizeof(perr)) == 0) {
            mem.have_malloc = 1;
            mem.malloc_time = scrape_now();
        } else if (!err[0] && kind_has_malloc_stats(out->res.kind)) {
            seterr(err, ec, "MEMORY MALLOC-STATS: %s",
                   r->type == REDIS_REPLY_ERROR ? r->str
                   : perr[0]                    ? perr
                                                : "unexpected reply");
        }
    }
    if (out->res.up && o->malloc_stats && mem.have_malloc) {
        out->malloc = mem.malloc;
        out->res.malloc = &out->malloc;
        out->res.malloc_age_seconds = scrape_now() - mem.malloc_time;
    }
    for (int i = 0; i < n; i++)
        if (replies[i]) freeReplyObject(replies[i]);

    if (fd >= 0 && (!healthy || !keep)) {
        close(fd);
        fd = -1;
    }
    if (t)
        target_conn_put(t, a->canonical, o->auth_name, keep ? fd : -1, &mem);
    else if (fd >= 0)
        close(fd);
    out->res.duration_seconds = scrape_now() - start;
    return out->res.up;
}

void scrape_out_free(scrape_out *out) {
    if (!out) return;
    info_free(&out->info);
    memstats_free(&out->mstats);
    proxy_stats_free(&out->proxy);
    memset(out, 0, sizeof(*out));
}
