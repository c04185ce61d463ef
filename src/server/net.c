/* Connections: listening, accepting, reading and parsing requests, writing replies, limits. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "metrics/metrics.h"
#include "server/log.h"
#include "server/pubsub.h"
#include "server/server.h"
#include "server/tracking.h"

#define NET_READ_CHUNK (16 * 1024)
#define NET_MAX_WRITE_PER_EVENT (1024 * 1024) /* fairness: one client cannot hog a loop turn */
#define NET_IOV_MAX 64
#define NET_QBUF_SHRINK_ABOVE (64 * 1024)

static void accept_handler(evloop *el, int fd, void *data, int mask);
static void read_handler(evloop *el, int fd, void *data, int mask);
static void write_handler(evloop *el, int fd, void *data, int mask);

static void format_addr(const struct sockaddr_storage *sa, char *buf, size_t cap) {
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s->sin_addr, host, sizeof(host));
        port = ntohs(s->sin_port);
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof(host));
        port = ntohs(s->sin6_port);
    }
    snprintf(buf, cap, "%s:%d", host, port);
}

/* Redis's notion of a local client (islocalClient): exactly 127.0.0.1 or ::1 (also as an
 * IPv4-mapped address), not the rest of 127/8. Protected mode and the "local" options use it. */
static int peer_is_local(const struct sockaddr_storage *sa) {
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
        return ntohl(s->sin_addr.s_addr) == INADDR_LOOPBACK;
    }
    if (sa->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a)) return 1;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127 && a->s6_addr[13] == 0 &&
               a->s6_addr[14] == 0 && a->s6_addr[15] == 1;
    }
    return 0;
}

int client_auth_required(const client *c) {
    return srv.requirepass[0] && !(c->flags & CLIENT_AUTHENTICATED);
}

int client_option_allows(const client *c, int option) {
    return option == 1 || (option == 2 && (c->flags & CLIENT_LOCAL));
}

/* Bind every address of the space-separated `bind` list on `port` (0 = ephemeral: the first
 * socket picks the port, the others reuse it). */
int net_listen(char *err) {
    char list[1024];
    snprintf(list, sizeof(list), "%s", srv.bind);
    int port = (int)srv.port;
    char *save = NULL;
    for (char *host = strtok_r(list, " ", &save); host; host = strtok_r(NULL, " ", &save)) {
        if (srv.listen_count == (int)(sizeof(srv.listen_fds) / sizeof(srv.listen_fds[0]))) {
            snprintf(err, CFG_ERR_LEN, "too many bind addresses");
            return -1;
        }
        const char *h = host;
        if (h[0] == '-') h++; /* Redis's "-::1" means optional; treat as required but allowed */
        struct addrinfo hints = {.ai_family = AF_UNSPEC,
                                 .ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_PASSIVE | AI_NUMERICHOST};
        struct addrinfo *res;
        char portstr[16];
        snprintf(portstr, sizeof(portstr), "%d", port);
        int gai = getaddrinfo(h, portstr, &hints, &res);
        if (gai != 0) {
            snprintf(err, CFG_ERR_LEN, "invalid bind address '%s': %s", h, gai_strerror(gai));
            return -1;
        }
        int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd >= 0) {
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            if (res->ai_family == AF_INET6)
                setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        }
        if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
            listen(fd, (int)srv.tcp_backlog) < 0) {
            snprintf(err, CFG_ERR_LEN, "could not listen on %s:%d: %s", h, port, strerror(errno));
            if (fd >= 0) close(fd);
            freeaddrinfo(res);
            return -1;
        }
        freeaddrinfo(res);
        if (port == 0) {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof(ss);
            getsockname(fd, (struct sockaddr *)&ss, &sl);
            port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                 : ((struct sockaddr_in6 *)&ss)->sin6_port);
        }
        if (evloop_add(srv.el, fd, EV_READ, accept_handler, NULL) < 0) {
            snprintf(err, CFG_ERR_LEN, "event loop: %s", strerror(errno));
            close(fd);
            return -1;
        }
        srv.listen_fds[srv.listen_count++] = fd;
        log_msg(LOG_NOTICE, "Listening on %s:%d", h, port);
    }
    if (srv.listen_count == 0) {
        snprintf(err, CFG_ERR_LEN, "no bind address");
        return -1;
    }
    srv.bound_port = port;
    return 0;
}

void net_close_listeners(void) {
    for (int i = 0; i < srv.listen_count; i++) {
        evloop_del(srv.el, srv.listen_fds[i], EV_READ | EV_WRITE);
        close(srv.listen_fds[i]);
    }
    srv.listen_count = 0;
}

static resp_limits current_limits(void) {
    resp_limits lim = resp_limits_default();
    lim.max_bulk_len = srv.proto_max_bulk_len;
    return lim;
}

static client *client_new(int fd, const struct sockaddr_storage *peer) {
    client *c = alloc_calloc(ALLOC_SUB_CLIENTS, sizeof(*c));
    c->id = ++srv.next_client_id;
    c->fd = fd;
    c->db_index = 0;
    c->db = srv.dbs[0];
    resp_limits lim = current_limits();
    resp_parser_init(&c->parser, &lim);
    reply_buf_init(&c->reply);
    format_addr(peer, c->addr, sizeof(c->addr));
    if (peer_is_local(peer)) c->flags |= CLIENT_LOCAL;
    struct sockaddr_storage local;
    socklen_t sl = sizeof(local);
    if (getsockname(fd, (struct sockaddr *)&local, &sl) == 0)
        format_addr(&local, c->laddr, sizeof(c->laddr));
    c->ctime_ms = c->last_interaction_ms = server_now_ms();
    c->last_cmd = "NULL";
    if (!srv.requirepass[0]) c->flags |= CLIENT_AUTHENTICATED;
    c->next = srv.clients;
    if (srv.clients) srv.clients->prev = c;
    srv.clients = c;
    srv.clients_by_fd[fd] = c;
    srv.nclients++;
    return c;
}

static void pending_remove(client *c) {
    if (!(c->flags & CLIENT_PENDING_WRITE)) return;
    client **link = &srv.pending_writes;
    while (*link && *link != c)
        link = &(*link)->pending_next;
    if (*link) *link = c->pending_next;
    c->flags &= ~CLIENT_PENDING_WRITE;
}

void client_close(client *c) {
    if (c == srv.current_client) srv.current_client = NULL;
    blocking_client_closed(c);
    if (c->flags & CLIENT_PAUSED) pause_client_closed(c);
    if (c->flags & CLIENT_MONITOR) monitor_stop(c);
    multi_client_reset(c);
    pubsub_client_reset(c);
    tracking_client_closed(c);
    pending_remove(c);
    evloop_del(srv.el, c->fd, EV_READ | EV_WRITE);
    close(c->fd);
    srv.clients_by_fd[c->fd] = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv.clients = c->next;
    if (c->next) c->next->prev = c->prev;
    srv.nclients--;
    resp_parser_deinit(&c->parser);
    reply_buf_deinit(&c->reply);
    alloc_free(ALLOC_SUB_QUERY_BUF, c->qbuf);
    alloc_free(ALLOC_SUB_CLIENTS, c->name);
    alloc_free(ALLOC_SUB_CLIENTS, c);
}

/* Close later, from before_sleep: the client may be in the middle of a command. */
void client_close_async(client *c) {
    if (c->flags & CLIENT_CLOSE_ASAP) return;
    c->flags |= CLIENT_CLOSE_ASAP;
    c->close_next = srv.to_close;
    srv.to_close = c;
}

static void accept_handler(evloop *el, int lfd, void *data, int mask) {
    (void)el;
    (void)data;
    (void)mask;
    server_update_time();
    for (int i = 0; i < 1000; i++) {
        struct sockaddr_storage peer;
        socklen_t pl = sizeof(peer);
        int fd = accept4(lfd, (struct sockaddr *)&peer, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_msg(LOG_WARNING, "Accepting client connection: %s", strerror(errno));
            return;
        }
        srv.stats.connections_received++;
        if (srv.nclients >= srv.maxclients || fd >= evloop_setsize(srv.el)) {
            static const char msg[] = "-ERR max number of clients reached\r\n";
            ssize_t ignored = write(fd, msg, sizeof(msg) - 1);
            (void)ignored;
            close(fd);
            srv.stats.rejected_connections++;
            continue;
        }
        /* Protected mode, as Redis 7: without a password only local clients get in, whatever
         * the bind list says. */
        if (srv.protected_mode && !srv.requirepass[0] && !peer_is_local(&peer)) {
            static const char denied[] =
                "-DENIED Redis is running in protected mode because protected mode is enabled "
                "and no password is set for the default user. In this mode connections are only "
                "accepted from the loopback interface. If you want to connect from external "
                "computers to Redis you may adopt one of the following solutions: 1) Just disable "
                "protected mode sending the command 'CONFIG SET protected-mode no' from the "
                "loopback interface by connecting to Redis from the same host the server is "
                "running, however MAKE SURE Redis is not publicly accessible from internet if you "
                "do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can "
                "just disable the protected mode by editing the Redis configuration file, and "
                "setting the protected mode option to 'no', and then restarting the server. 3) If "
                "you started the server manually just for testing, restart it with the "
                "'--protected-mode no' option. 4) Setup a an authentication password for the "
                "default user. NOTE: You only need to do one of the above things in order for the "
                "server to start accepting connections from the outside.\r\n";
            ssize_t ignored = write(fd, denied, sizeof(denied) - 1);
            (void)ignored;
            char addr[64];
            format_addr(&peer, addr, sizeof(addr));
            log_msg(LOG_VERBOSE, "Refused %s: protected mode (no requirepass, not a local client)",
                    addr);
            close(fd);
            srv.stats.rejected_connections++;
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (srv.tcp_keepalive > 0) {
            int idle = (int)srv.tcp_keepalive, intvl = idle / 3 ? (int)idle / 3 : 1, cnt = 3;
            setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
        }
        client *c = client_new(fd, &peer);
        if (evloop_add(srv.el, fd, EV_READ, read_handler, c) < 0) {
            log_msg(LOG_WARNING, "Registering client fd %d: %s", fd, strerror(errno));
            client_close(c);
        }
    }
}

/* Queue c for a write attempt in before_sleep (most replies go out there without ever
 * installing a write handler). */
static void pending_add(client *c) {
    if (c->flags & CLIENT_PENDING_WRITE) return;
    c->flags |= CLIENT_PENDING_WRITE;
    c->pending_next = srv.pending_writes;
    srv.pending_writes = c;
}

void client_queue_write(client *c) {
    if (reply_buf_bytes(&c->reply) > 0) pending_add(c);
}

int client_obuf_check(client *c) {
    size_t used = reply_buf_bytes(&c->reply);
    /* The class, as Redis's getClientType: a subscribed client is a pubsub client. */
    const obuf_limit *lim =
        c->pubsub && pubsub_client_subscribed(c) ? &srv.obuf_pubsub : &srv.obuf_normal;
    int over = 0;
    if (lim->hard && used >= (size_t)lim->hard) over = 1;
    if (lim->soft && used >= (size_t)lim->soft) {
        int64_t now = server_now_ms();
        if (!c->obuf_soft_since_ms)
            c->obuf_soft_since_ms = now;
        else if (lim->soft_seconds <= INT64_MAX / 1000 && /* larger: never (no overflow) */
                 now - c->obuf_soft_since_ms >= lim->soft_seconds * 1000)
            over = 1;
    } else {
        c->obuf_soft_since_ms = 0;
    }
    if (!over) return 0;
    if (!(c->flags & CLIENT_CLOSE_ASAP)) {
        char info[512];
        client_info_line(c, info, sizeof(info));
        log_msg(LOG_WARNING,
                "Client %s scheduled to be closed ASAP for overcoming of output buffer limits.",
                info);
        srv.stats.client_obuf_limit_disconnections++;
        client_close_async(c);
    }
    return -1;
}

static void process_input(client *c) {
    while (c->qpos < c->qlen &&
           !(c->flags & (CLIENT_CLOSE_ASAP | CLIENT_CLOSE_AFTER_REPLY | CLIENT_BLOCKED))) {
        size_t consumed = 0;
        c->parser.limits.max_bulk_len = srv.proto_max_bulk_len;
        c->parser.limits.unauthenticated = client_auth_required(c);
        int st = resp_parse(&c->parser, c->qbuf + c->qpos, c->qlen - c->qpos, &consumed);
        if (st == RESP_NEED_MORE) break;
        if (st == RESP_ERROR) {
            log_msg(LOG_VERBOSE, "Protocol error (%s) from client: id=%llu addr=%s", c->parser.err,
                    (unsigned long long)c->id, c->addr);
            reply_errorf(c, "ERR %s", c->parser.err);
            c->flags |= CLIENT_CLOSE_AFTER_REPLY;
            c->qpos = c->qlen;
            break;
        }
        if (c->parser.argc > 0) {
            c->argv = c->parser.argv;
            c->argc = (int)c->parser.argc;
            command_process(c);
            c->argv = NULL;
            c->argc = 0;
        }
        c->qpos += consumed;
        if (srv.current_client == NULL) return; /* the client was closed (should not happen) */
    }
    /* Discard consumed input; keep the buffer small when it is empty. */
    if (c->qpos == c->qlen) {
        c->qpos = c->qlen = 0;
        if (c->qcap > NET_QBUF_SHRINK_ABOVE) {
            alloc_free(ALLOC_SUB_QUERY_BUF, c->qbuf);
            c->qbuf = NULL;
            c->qcap = 0;
        }
    } else if (c->qpos > 0) {
        memmove(c->qbuf, c->qbuf + c->qpos, c->qlen - c->qpos);
        c->qlen -= c->qpos;
        c->qpos = 0;
    }
}

static void read_handler(evloop *el, int fd, void *data, int mask) {
    (void)el;
    (void)fd;
    (void)mask;
    client *c = data;
    size_t want = NET_READ_CHUNK;
    size_t need = resp_parser_bytes_needed(&c->parser);
    /* A big bulk in progress: grow once to hold it instead of doubling many times. */
    if (need > c->qlen - c->qpos && need - (c->qlen - c->qpos) > want)
        want = need - (c->qlen - c->qpos);
    if (c->qcap - c->qlen < want) {
        size_t cap = c->qlen + want;
        if (cap < c->qcap * 2 && c->qcap < 1024 * 1024) cap = c->qcap * 2;
        c->qbuf = alloc_realloc(ALLOC_SUB_QUERY_BUF, c->qbuf, cap);
        c->qcap = cap;
    }
    ssize_t n = read(c->fd, c->qbuf + c->qlen, c->qcap - c->qlen);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        log_msg(LOG_VERBOSE, "Reading from client: %s", strerror(errno));
        client_close(c);
        return;
    }
    if (n == 0) {
        log_msg(LOG_VERBOSE, "Client closed connection id=%llu addr=%s", (unsigned long long)c->id,
                c->addr);
        client_close(c);
        return;
    }
    c->qlen += (size_t)n;
    srv.stats.total_reads_processed++;
    server_update_time();
    c->last_interaction_ms = server_now_ms();
    srv.stats.net_input_bytes += n;
    if (c->qlen - c->qpos > (size_t)srv.client_query_buffer_limit) {
        char info[512];
        client_info_line(c, info, sizeof(info));
        log_msg(LOG_WARNING, "Closing client that reached max query buffer length: %s", info);
        srv.stats.client_qbuf_limit_disconnections++;
        client_close(c);
        return;
    }
    srv.current_client = c;
    process_input(c);
    if (srv.current_client == c && reply_buf_bytes(&c->reply) > 0) pending_add(c);
    if (srv.current_client == c && (c->flags & CLIENT_CLOSE_AFTER_REPLY) &&
        reply_buf_bytes(&c->reply) == 0)
        client_close_async(c);
    srv.current_client = NULL;
}

/* Write what can be written now. Returns -1 if the client was closed. */
static int client_write(client *c) {
    struct iovec iov[NET_IOV_MAX];
    size_t total = 0;
    while (reply_buf_bytes(&c->reply) > 0 && total < NET_MAX_WRITE_PER_EVENT) {
        int cnt = reply_buf_iov(&c->reply, iov, NET_IOV_MAX);
        /* The common case is one block: plain write() skips the kernel's iovec import. */
        ssize_t n =
            cnt == 1 ? write(c->fd, iov[0].iov_base, iov[0].iov_len) : writev(c->fd, iov, cnt);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
            log_msg(LOG_VERBOSE, "Error writing to client: %s", strerror(errno));
            client_close(c);
            return -1;
        }
        reply_buf_consume(&c->reply, (size_t)n);
        total += (size_t)n;
        srv.stats.net_output_bytes += n;
    }
    if (total) {
        c->last_interaction_ms = server_now_ms();
        srv.stats.total_writes_processed++;
    }
    if (reply_buf_bytes(&c->reply) == 0) {
        c->obuf_soft_since_ms = 0;
        if (evloop_mask(srv.el, c->fd) & EV_WRITE) evloop_del(srv.el, c->fd, EV_WRITE);
        if (c->flags & CLIENT_CLOSE_AFTER_REPLY) {
            client_close(c);
            return -1;
        }
    } else if (!(evloop_mask(srv.el, c->fd) & EV_WRITE)) {
        evloop_add(srv.el, c->fd, EV_WRITE, write_handler, c);
    }
    return 0;
}

static void write_handler(evloop *el, int fd, void *data, int mask) {
    (void)el;
    (void)fd;
    (void)mask;
    client_write(data);
}

void net_before_sleep(void) {
    while (srv.to_close) {
        client *c = srv.to_close;
        srv.to_close = c->close_next;
        client_close(c);
    }
    while (srv.pending_writes) {
        client *c = srv.pending_writes;
        srv.pending_writes = c->pending_next;
        c->flags &= ~CLIENT_PENDING_WRITE;
        if (c->flags & CLIENT_CLOSE_ASAP) continue;
        client_write(c);
    }
    while (srv.to_close) {
        client *c = srv.to_close;
        srv.to_close = c->close_next;
        client_close(c);
    }
}

void net_write_pending(void) {
    while (srv.pending_writes) {
        client *c = srv.pending_writes;
        srv.pending_writes = c->pending_next;
        c->flags &= ~CLIENT_PENDING_WRITE;
        if (c->flags & CLIENT_CLOSE_ASAP) continue;
        client_write(c);
    }
}

void client_protect(client *c, int on) {
    if (on)
        evloop_del(srv.el, c->fd, EV_READ);
    else if (!(c->flags & CLIENT_CLOSE_ASAP))
        evloop_add(srv.el, c->fd, EV_READ, read_handler, c);
}

client *client_by_id(uint64_t id) {
    for (client *c = srv.clients; c; c = c->next)
        if (c->id == id) return c;
    return NULL;
}

void client_unblock(client *c) {
    c->flags &= ~CLIENT_BLOCKED;
    c->last_interaction_ms = server_now_ms();
    srv.current_client = c;
    process_input(c);
    if (srv.current_client == c && reply_buf_bytes(&c->reply) > 0) pending_add(c);
    srv.current_client = NULL;
}

/* CLIENT LIST's flags, in Redis 7.0's order of letters; N when none applies. */
static void client_flags_string(const client *c, char *buf) {
    char *p = buf;
    if (c->flags & CLIENT_MONITOR) *p++ = 'O';
    if (pubsub_client_subscribed(c)) *p++ = 'P';
    if (c->flags & CLIENT_MULTI) *p++ = 'x';
    if (c->flags & CLIENT_BLOCKED) *p++ = 'b';
    if (c->flags & CLIENT_TRACKING) *p++ = 't';
    if (c->flags & CLIENT_TRACKING_BROKEN_REDIR) *p++ = 'R';
    if (c->flags & CLIENT_TRACKING_BCAST) *p++ = 'B';
    if (c->flags & CLIENT_DIRTY_CAS) *p++ = 'd';
    if (c->flags & CLIENT_CLOSE_AFTER_REPLY) *p++ = 'c';
    if (c->flags & CLIENT_UNBLOCKED) *p++ = 'u';
    if (c->flags & CLIENT_CLOSE_ASAP) *p++ = 'A';
    if (c->flags & CLIENT_NO_EVICT) *p++ = 'e';
    if (p == buf) *p++ = 'N';
    *p = '\0';
}

void client_info_line(client *c, char *buf, size_t cap) {
    int64_t now = server_now_ms();
    pubsub_counts subs;
    pubsub_client_counts(c, &subs);
    char flags[16];
    client_flags_string(c, flags);
    snprintf(
        buf, cap,
        "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%d sub=%zu "
        "psub=%zu ssub=%zu multi=%lld qbuf=%zu qbuf-free=%zu argv-mem=%zu multi-mem=%zu "
        "rbs=%zu "
        "rbp=0 obl=0 oll=0 omem=%zu tot-mem=%zu events=r%s cmd=%s user=default redir=%lld "
        "resp=%d",
        (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "",
        (long long)((now - c->ctime_ms) / 1000), (long long)((now - c->last_interaction_ms) / 1000),
        flags, c->db_index, subs.channels, subs.patterns, subs.shard_channels,
        multi_queued_count(c), c->qlen - c->qpos, c->qcap - c->qlen, resp_parser_mem(&c->parser),
        multi_queued_mem(c), c->qcap, c->reply.allocated,
        c->qcap + c->reply.allocated + resp_parser_mem(&c->parser) + sizeof(client) +
            multi_client_alloc_bytes(c) + tracking_client_alloc_bytes(c),
        (evloop_mask(srv.el, c->fd) & EV_WRITE) ? "w" : "",
        (c->flags & CLIENT_IN_EXEC) ? "exec" : c->last_cmd, tracking_redirect(c), c->reply.resp);
}

static void top_buffer_take(mem_client_top *top, const client *c, size_t bytes) {
    if (bytes <= top->bytes) return;
    top->id = c->id;
    top->bytes = bytes;
    snprintf(top->addr, sizeof(top->addr), "%s", c->addr);
    snprintf(top->name, sizeof(top->name), "%s", c->name ? c->name : "");
}

void clients_top_buffers(mem_client_top *obuf, mem_client_top *qbuf) {
    memset(obuf, 0, sizeof(*obuf));
    memset(qbuf, 0, sizeof(*qbuf));
    for (client *c = srv.clients; c; c = c->next) {
        top_buffer_take(obuf, c, c->reply.allocated);
        /* The MULTI queue is input held for the client too (bounded with the query buffer). */
        top_buffer_take(qbuf, c, c->qcap + resp_parser_mem(&c->parser) + multi_queued_mem(c));
    }
}

size_t clients_largest_buffers(metrics_client_buffers *out, size_t cap) {
    size_t n = 0;
    int64_t now = server_now_ms();
    for (client *c = srv.clients; c && cap; c = c->next) {
        uint64_t q = c->qcap + resp_parser_mem(&c->parser) + multi_queued_mem(c);
        uint64_t o = c->reply.allocated;
        if (n == cap && q + o <= out[n - 1].total) continue;
        size_t i = n < cap ? n++ : n - 1; /* the place to fill, then bubbled up */
        while (i > 0 && out[i - 1].total < q + o) {
            out[i] = out[i - 1];
            i--;
        }
        metrics_client_buffers *b = &out[i];
        memset(b, 0, sizeof(*b));
        b->id = c->id;
        snprintf(b->addr, sizeof(b->addr), "%s", c->addr);
        snprintf(b->name, sizeof(b->name), "%s", c->name ? c->name : "");
        snprintf(b->cmd, sizeof(b->cmd), "%s", c->last_cmd ? c->last_cmd : "");
        b->qbuf = q;
        b->obuf = o;
        b->total = q + o;
        b->age_s = (now - c->ctime_ms) / 1000;
        b->idle_s = (now - c->last_interaction_ms) / 1000;
    }
    return n;
}

/* Idle timeouts, the soft output limit for clients that went quiet, and giving back the
 * buffers of idle clients (an idle connection should cost its struct, not 32 KiB). */
void net_clients_cron(void) {
    int64_t now = server_now_ms();
    for (client *c = srv.clients; c; c = c->next) {
        if (now - c->last_interaction_ms > 2000) {
            if (c->qlen == 0 && c->qbuf) {
                alloc_free(ALLOC_SUB_QUERY_BUF, c->qbuf);
                c->qbuf = NULL;
                c->qcap = 0;
            }
            reply_buf_trim(&c->reply);
        }
        if (srv.timeout > 0 && reply_buf_bytes(&c->reply) == 0 && !(c->flags & CLIENT_BLOCKED) &&
            now - c->last_interaction_ms > srv.timeout * 1000) {
            log_msg(LOG_VERBOSE, "Closing idle client id=%llu", (unsigned long long)c->id);
            client_close_async(c);
            continue;
        }
        if (reply_buf_bytes(&c->reply) > 0) client_obuf_check(c);
    }
}
