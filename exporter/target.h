/* target — where memkv-exporter scrapes: address parsing, and the table of kept connections.
 *
 * Addresses (target_parse):
 *   host:port  host  redis://host:port  valkey://host:port  [v6]:port  redis://[v6]:port
 *   unix:///path/to.sock  proxy://host:port (twemproxy's stats port; also twemproxy://)
 * A missing port is 6379 (22222 for proxy://). A trailing "/" or "/N" (a Redis URL's database)
 * is accepted and ignored: INFO does not depend on it. Refused, with a reason in err:
 *   - TLS schemes (rediss://, valkeys://, tls://, https://): the exporter speaks plain TCP only;
 *   - anything with credentials ("user:pass@", "user@"): secrets never travel in a URL, they
 *     come from a named auth entry of the config file;
 *   - query strings, fragments, unknown schemes, a bare IPv6 address without brackets, ports
 *     outside 1…65535, control characters, host names that are not [A-Za-z0-9.-_].
 * Pure, no allocation: fuzzed (tests/fuzz/fuzz_exporter_target.c).
 *
 * The connection table keeps one idle connection per (target, auth name), at most max_entries
 * of them (the least recently used idle one is closed to make room). A scrape checks a
 * connection out (target_conn_take), so two concurrent scrapes of one target never share a
 * socket: the second one dials its own, and at check-in the spare is closed. After any error the
 * scrape closes the connection instead of checking it in, so the next one dials afresh.
 * Thread-safe (one mutex, held for table operations only, never during I/O).
 */
#ifndef MEMKV_EXPORTER_TARGET_H
#define MEMKV_EXPORTER_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include "parse.h"

#define TARGET_HOST_MAX 256
#define TARGET_PATH_MAX 108 /* sun_path */
#define TARGET_KEY_MAX 400
#define TARGET_DEFAULT_PORT 6379
#define TARGET_DEFAULT_PROXY_PORT 22222

typedef struct target_addr {
    int is_unix;                    /* 1: path is set, host/port are not */
    int is_proxy;                   /* twemproxy stats port: read JSON until EOF */
    char host[TARGET_HOST_MAX];     /* without brackets */
    int port;                       /* 1…65535 */
    char path[TARGET_PATH_MAX];     /* unix socket path */
    char canonical[TARGET_KEY_MAX]; /* "host:port", "[v6]:port", "unix:///p", "proxy://h:p" */
} target_addr;

/* Parse text (NUL-terminated). Returns 0 and fills *out, or -1 with err filled. */
int target_parse(const char *text, target_addr *out, char *err, size_t errcap);
/* Decimal port in [s, e) (digits only, at most 5), from min to 65535; or -1. */
int target_parse_port(const char *s, const char *e, int min);

/* ---- kept connections ---- */

typedef struct target_table target_table;

/* What the table remembers of a target across scrapes, besides the socket. */
typedef struct target_memory {
    server_kind kind;    /* from the last INFO; SERVER_UNKNOWN before the first */
    int have_malloc;     /* a cached MALLOC-STATS */
    double malloc_time;  /* monotonic seconds when it was read */
    malloc_stats malloc; /* the cached figures */
} target_memory;

target_table *target_table_new(size_t max_entries);
void target_table_free(target_table *t); /* closes every kept connection */

/* Check out the kept connection of (canonical, auth) if any: its fd (>= 0), or -1 when there is
 * none (dial one). *mem gets what is remembered of the target (zeroed when nothing). */
int target_conn_take(target_table *t, const char *canonical, const char *auth, target_memory *mem);
/* Check a healthy connection in (fd >= 0), or only update what is remembered (fd -1). When the
 * slot already holds a connection, or the table is full of busy entries, fd is closed. */
void target_conn_put(target_table *t, const char *canonical, const char *auth, int fd,
                     const target_memory *mem);
/* Connections kept now (idle in the table). */
size_t target_table_kept(target_table *t);
/* Entries (targets remembered). */
size_t target_table_entries(target_table *t);

#endif
