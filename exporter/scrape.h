/* scrape — one scrape of one target: the I/O half of memkv-exporter (parse.h is the other).
 *
 * A Redis-protocol target gets, written in one go on one connection (pipelined, one round
 * trip): AUTH (when an auth entry is named), INFO ALL, MEMORY STATS (unless the target is known
 * to be a kind without it: Kvrocks), and MEMORY MALLOC-STATS only when asked for and the cached
 * copy is older than the interval. A twemproxy target (stats port) is connected to and read
 * until EOF. Everything (name resolution on a helper thread, connect, write, read) runs against
 * ONE absolute deadline, on a nonblocking socket; the replies are cut by a byte cap (a target that
 * sends more is "reply too large" and its connection dropped). Any failure gives up 0 with the
 * reason in the result, before the deadline. An error reply of MEMORY STATS or MALLOC-STATS only
 * leaves that part out.
 *
 * The connection is checked out of the table and back in when the scrape went well (or closed
 * after any error, or always with fresh_connection). A kept connection that turns out to be
 * dead before any reply byte arrived (the server closed it while idle) is redialled once.
 */
#ifndef MEMKV_EXPORTER_SCRAPE_H
#define MEMKV_EXPORTER_SCRAPE_H

#include <stddef.h>

#include "parse.h"
#include "render.h"
#include "target.h"

typedef struct scrape_opts {
    double deadline;        /* absolute, scrape_now() seconds */
    double connect_timeout; /* seconds, also bounded by the deadline */
    size_t max_reply_bytes; /* all replies of the scrape together */
    int fresh_connection;   /* dial and close instead of using the table */
    int malloc_stats;       /* this target opts in to MEMORY MALLOC-STATS */
    double malloc_interval; /* seconds a cached MALLOC-STATS is served */
    const char *auth_name;  /* the auth entry's name (table key), NULL = none */
    const char *user;       /* AUTH user, NULL or "" = AUTH password alone */
    const char *password;   /* NULL = no AUTH */
} scrape_opts;

/* Everything a scrape produced; res points into the other fields. */
typedef struct scrape_out {
    scrape_result res;
    info_doc info;
    memstats mstats;
    malloc_stats malloc;
    proxy_stats proxy;
    int connections_opened; /* sockets dialled by this scrape (0 with a kept connection) */
    size_t reply_bytes;     /* bytes read */
} scrape_out;

/* Monotonic seconds. */
double scrape_now(void);

/* Scrape a; t may be NULL (then every scrape dials fresh). Always fills out (free it with
 * scrape_out_free); returns out->res.up. */
int scrape_target(target_table *t, const target_addr *a, const scrape_opts *o, scrape_out *out);
void scrape_out_free(scrape_out *out);

#endif
