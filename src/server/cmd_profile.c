/* The heap profiler over RESP: MEMORY PROFILE …, Kvrocks's KPROFILE MEMORY …, the planted
 * leak of DEBUG, and the glue between the event loop and the profiler's worker thread.
 *
 * Heavy work (dump, parse, symbolize, encode) runs on the profiler's worker. A command that
 * needs its result blocks only its own client (CLIENT_BLOCKED); the worker's eventfd wakes the
 * loop, which sends the reply and lets that client go on. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "profiler/profiler.h"
#include "server/log.h"
#include "server/server.h"

static int prof_notify_fd = -1;

/* ---- settings: config → engine ---- */

static void push_settings(void) {
    prof_settings s;
    memset(&s, 0, sizeof(s));
    snprintf(s.dump_dir, sizeof(s.dump_dir), "%s", srv.prof_dump_dir ? srv.prof_dump_dir : "");
    s.snapshot_interval_s = (int)srv.prof_snapshot_interval;
    s.snapshots_keep = (int)srv.prof_snapshots_keep;
    s.max_memory = (uint64_t)srv.prof_max_memory;
    prof_engine_configure(&s);
}

static void log_hook(int warning, const char *msg) {
    log_msg(warning ? LOG_WARNING : LOG_NOTICE, "profiler: %s", msg);
}

static int is_power_of_two(long long v) {
    return v > 0 && (v & (v - 1)) == 0;
}

int profile_apply_enabled(char *err, size_t cap) {
    char why[192];
    if (srv.prof_enabled && !prof_available(why, sizeof(why))) {
        snprintf(err, cap, "%s", why);
        return -1;
    }
    if (!prof_available(why, sizeof(why))) return 0; /* "no" on a build without profiling */
    int rc = prof_set_active(srv.prof_enabled);
    if (rc < 0) {
        snprintf(err, cap, "%s", prof_strerror(rc));
        return -1;
    }
    log_msg(LOG_NOTICE, "Heap profiling %s (one sample every %llu bytes on average)",
            srv.prof_enabled ? "enabled" : "disabled", (unsigned long long)prof_sample_bytes());
    return 0;
}

int profile_apply_sample_bytes(char *err, size_t cap) {
    if (!is_power_of_two(srv.prof_sample_bytes)) {
        snprintf(err, cap, "memory-profiling-sample-bytes must be a power of two");
        return -1;
    }
    char why[192];
    if (!prof_available(why, sizeof(why))) return 0; /* remembered for a build that can */
    int rc = prof_set_sample_bytes((uint64_t)srv.prof_sample_bytes);
    if (rc < 0) {
        snprintf(err, cap, "%s", prof_strerror(rc));
        return -1;
    }
    return 0;
}

#define UNWINDER_WHY                                                                               \
    "frame-pointer needs a build with frame pointers (MEMKV_FRAME_POINTERS) and jemalloc >= 5.3"

int profile_apply_unwinder(char *err, size_t cap) {
    if (!prof_available(NULL, 0)) return 0; /* remembered for a build that can */
    if (prof_unwind_select(srv.prof_unwinder == PROF_UNWINDER_FP) < 0) {
        snprintf(err, cap, "%s", UNWINDER_WHY);
        return -1;
    }
    return 0;
}

int profile_apply_settings(char *err, size_t cap) {
    if (srv.prof_dump_dir && srv.prof_dump_dir[0]) {
        struct stat st;
        if (srv.prof_dump_dir[0] != '/') {
            snprintf(err, cap, "memory-profiling-dump-dir must be an absolute path");
            return -1;
        }
        if (stat(srv.prof_dump_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(err, cap, "memory-profiling-dump-dir '%.200s' is not a directory",
                     srv.prof_dump_dir);
            return -1;
        }
    }
    push_settings();
    return 0;
}

static void on_job_done(evloop *el, int fd, void *data, int mask);

int profile_init(char *err, size_t cap) {
    prof_engine_set_log(log_hook);
    int rc = prof_engine_start(&prof_notify_fd);
    if (rc < 0) {
        snprintf(err, cap, "profiler: %s", prof_strerror(rc));
        return -1;
    }
    if (evloop_add(srv.el, prof_notify_fd, EV_READ, on_job_done, NULL) < 0) {
        snprintf(err, cap, "profiler: event loop: %s", strerror(errno));
        return -1;
    }
    if (profile_apply_settings(err, cap) < 0) return -1;
    char why[192];
    if (prof_available(why, sizeof(why))) {
        if (prof_unwind_select(srv.prof_unwinder == PROF_UNWINDER_FP) < 0) {
            log_msg(LOG_NOTICE, "memory-profiling-unwinder: %s; using libgcc", UNWINDER_WHY);
            srv.prof_unwinder = PROF_UNWINDER_LIBGCC;
        }
        if (srv.prof_sample_bytes != (long long)prof_sample_bytes() &&
            profile_apply_sample_bytes(err, cap) < 0)
            return -1;
        if (srv.prof_enabled && profile_apply_enabled(err, cap) < 0) return -1;
    } else if (srv.prof_enabled) {
        log_msg(LOG_WARNING, "memory-profiling-enabled is yes but %s", why);
        srv.prof_enabled = 0;
    }
    return 0;
}

void profile_shutdown(void) {
    if (prof_notify_fd >= 0) evloop_del(srv.el, prof_notify_fd, EV_READ);
    prof_engine_stop();
    prof_notify_fd = -1;
}

void profile_cron(void) {
    prof_engine_cron(server_now_ms());
    /* The cap may have stopped sampling: let CONFIG GET tell the truth. */
    char why[192];
    if (!prof_available(why, sizeof(why))) return;
    if (srv.prof_enabled && !prof_is_active()) srv.prof_enabled = 0;
    /* …and a coarsened sample rate too. */
    srv.prof_sample_bytes = (long long)prof_sample_bytes();
}

/* ---- replies for finished jobs ---- */

static void reply_job(client *c, prof_job *j) {
    if (j->rc < 0) {
        reply_errorf(c, "ERR %s", j->err[0] ? j->err : prof_strerror(j->rc));
        return;
    }
    char buf[64];
    switch (j->kind) {
    case PROF_JOB_DUMP:
        if (j->to_file)
            reply_add_bulk_cstr(&c->reply, j->path);
        else
            reply_add_bulk(&c->reply, j->out.data, j->out.len);
        break;
    case PROF_JOB_TOP:
        reply_add_array_len(&c->reply, (long long)j->nresults);
        for (size_t i = 0; i < j->nresults; i++) {
            const prof_site *s = &j->sites[i];
            reply_add_array_len(&c->reply, 4);
            reply_add_bulk_cstr(&c->reply, s->func);
            reply_add_int(&c->reply, (long long)(s->live_bytes + 0.5));
            int n = snprintf(buf, sizeof(buf), "%.2f%%", 100.0 * s->share);
            reply_add_bulk(&c->reply, buf, (size_t)n);
            reply_add_bulk_cstr(&c->reply, alloc_sub_name((alloc_sub)s->subsystem));
        }
        break;
    case PROF_JOB_LEAKS:
        if (j->nresults == 0 && j->err[0]) {
            /* Too few snapshots to judge: say so rather than an empty list that reads "none". */
            reply_errorf(c,
                         "ERR %s (MEMORY PROFILE SNAPSHOT takes one; "
                         "memory-profiling-snapshot-interval takes them periodically)",
                         j->err);
            break;
        }
        reply_add_array_len(&c->reply, (long long)j->nresults);
        for (size_t i = 0; i < j->nresults; i++) {
            const prof_suspect *s = &j->suspects[i];
            reply_add_array_len(&c->reply, 5);
            reply_add_bulk_cstr(&c->reply, s->func);
            reply_add_int(&c->reply, (long long)(s->live_bytes + 0.5));
            reply_add_int(&c->reply, (long long)(s->growth_bytes + 0.5));
            int n = snprintf(buf, sizeof(buf), "%.0f bytes/s", s->bytes_per_sec);
            reply_add_bulk(&c->reply, buf, (size_t)n);
            n = snprintf(buf, sizeof(buf), "grew in %d of %d intervals", s->grew_intervals,
                         s->intervals);
            reply_add_bulk(&c->reply, buf, (size_t)n);
        }
        break;
    case PROF_JOB_SUBSYSTEMS:
        /* The sampled estimate beside the exact counter, per subsystem. */
        reply_add_array_len(&c->reply, ALLOC_SUB_COUNT);
        for (int i = 0; i < ALLOC_SUB_COUNT; i++) {
            reply_add_array_len(&c->reply, 3);
            reply_add_bulk_cstr(&c->reply, alloc_sub_name((alloc_sub)i));
            reply_add_int(&c->reply, j->by_subsystem ? (long long)(j->by_subsystem[i] + 0.5) : 0);
            reply_add_int(&c->reply, alloc_sub_bytes((alloc_sub)i));
        }
        break;
    case PROF_JOB_SNAPSHOT:
        reply_add_status(&c->reply, "OK");
        break;
    }
}

static void on_job_done(evloop *el, int fd, void *data, int mask) {
    (void)el;
    (void)fd;
    (void)data;
    (void)mask;
    server_update_time();
    prof_job *j;
    while ((j = prof_engine_poll()) != NULL) {
        client *c = client_by_id(j->owner);
        if (c && (c->flags & CLIENT_BLOCKED)) {
            if (j->kind == PROF_JOB_DUMP && j->to_file && j->rc == 0)
                log_msg(LOG_NOTICE, "Heap profile written to %s", j->path);
            size_t before = reply_buf_bytes(&c->reply);
            reply_job(c, j);
            command_unblocked_reply(c, before, 0, 0, 0); /* counted when it ran */
            client_unblock(c);
        }
        prof_job_free(j); /* a client that left meanwhile just loses its answer */
    }
}

/* Submit and block the client; replies when the job is done. */
static void submit_blocking(client *c, prof_job *j) {
    if (c->flags & CLIENT_IN_EXEC) { /* its reply would come after EXEC's */
        reply_error(c, "ERR this profiler command runs on the profiler's worker thread and "
                       "cannot be used inside MULTI/EXEC");
        prof_job_free(j);
        return;
    }
    j->owner = c->id;
    int rc = prof_engine_submit(j);
    if (rc < 0) {
        reply_errorf(c, "ERR %s", prof_strerror(rc));
        prof_job_free(j);
        return;
    }
    c->flags |= CLIENT_BLOCKED;
}

/* Returns 1 if profiling can run, else replies with why and returns 0. */
static int require_available(client *c) {
    char why[192];
    if (prof_available(why, sizeof(why))) return 1;
    reply_errorf(c, "ERR heap profiling is unavailable: %s", why);
    return 0;
}

static int set_enabled(client *c, int on) {
    const char *names[] = {"memory-profiling-enabled"};
    const char *values[] = {on ? "yes" : "no"};
    char err[CFG_ERR_LEN];
    size_t bad;
    if (cfg_set_many(&srv.config, names, values, 1, &bad, err) < 0) {
        reply_errorf(c, "ERR %s", err);
        return -1;
    }
    return 0;
}

static void reply_status(client *c) {
    prof_status st;
    prof_status_get(&st);
    reply_add_map_len(&c->reply, 13);
    reply_add_bulk_cstr(&c->reply, "available");
    reply_add_int(&c->reply, st.available);
    reply_add_bulk_cstr(&c->reply, "active");
    reply_add_int(&c->reply, st.active);
    reply_add_bulk_cstr(&c->reply, "sample-bytes");
    reply_add_int(&c->reply, (long long)st.sample_bytes);
    reply_add_bulk_cstr(&c->reply, "own-memory");
    reply_add_int(&c->reply, (long long)st.own_memory);
    reply_add_bulk_cstr(&c->reply, "max-memory");
    reply_add_int(&c->reply, srv.prof_max_memory);
    reply_add_bulk_cstr(&c->reply, "cap");
    reply_add_bulk_cstr(&c->reply, st.cap_state == 0   ? "none"
                                   : st.cap_state == 1 ? "coarsened"
                                                       : "stopped");
    reply_add_bulk_cstr(&c->reply, "cap-note");
    reply_add_bulk_cstr(&c->reply, st.cap_note);
    reply_add_bulk_cstr(&c->reply, "dumps");
    reply_add_int(&c->reply, (long long)st.dumps);
    reply_add_bulk_cstr(&c->reply, "snapshots");
    reply_add_int(&c->reply, (long long)st.snapshots);
    reply_add_bulk_cstr(&c->reply, "snapshots-held");
    reply_add_int(&c->reply, (long long)st.snapshots_held);
    reply_add_bulk_cstr(&c->reply, "unwinder");
    reply_add_bulk_cstr(&c->reply, prof_unwinder_name());
    reply_add_bulk_cstr(&c->reply, "dump-dir");
    reply_add_bulk_cstr(&c->reply, srv.prof_dump_dir ? srv.prof_dump_dir : "");
    reply_add_bulk_cstr(&c->reply, "unavailable-reason");
    reply_add_bulk_cstr(&c->reply, st.available ? "" : st.why_unavailable);
}

/* MEMORY PROFILE DUMP [format] [TOFILE [name]] */
static void profile_dump(client *c, int first) {
    prof_job *j = prof_job_new(PROF_JOB_DUMP);
    j->format = PROF_FMT_PPROF;
    int i = first;
    if (i < c->argc && !arg_eq(c, i, "tofile")) {
        char name[16];
        snprintf(name, sizeof(name), "%.*s", (int)(c->argv[i].len < 15 ? c->argv[i].len : 15),
                 c->argv[i].ptr);
        if (prof_format_parse(name, &j->format) < 0) {
            reply_error(c, "ERR unknown format: use PPROF, RAW, COLLAPSED, SVG or JSON");
            prof_job_free(j);
            return;
        }
        i++;
    }
    if (i < c->argc && arg_eq(c, i, "tofile")) {
        j->to_file = 1;
        i++;
        if (i < c->argc) {
            const resp_arg *a = &c->argv[i];
            char name[128];
            if (a->len >= sizeof(name) || memchr(a->ptr, '\0', a->len)) {
                reply_error(c, "ERR invalid dump file name");
                prof_job_free(j);
                return;
            }
            memcpy(name, a->ptr, a->len);
            name[a->len] = '\0';
            if (!prof_dump_name_valid(name)) {
                reply_error(c, "ERR invalid dump file name: use letters, digits, '.', '_' and "
                               "'-' only (no paths); the file goes to memory-profiling-dump-dir");
                prof_job_free(j);
                return;
            }
            snprintf(j->name, sizeof(j->name), "%s", name);
            i++;
        }
        if (!srv.prof_dump_dir || !srv.prof_dump_dir[0]) {
            reply_error(c, "ERR no dump directory: CONFIG SET memory-profiling-dump-dir <dir> "
                           "first (or omit TOFILE to get the profile in the reply)");
            prof_job_free(j);
            return;
        }
    }
    if (i != c->argc) {
        reply_error(c, ERR_SYNTAX);
        prof_job_free(j);
        return;
    }
    submit_blocking(c, j);
}

static void profile_count_job(client *c, prof_job_kind kind, int i) {
    long long count = 10;
    if (i < c->argc) {
        if (arg_ll(c, i, &count) < 0) return;
        if (count < 1 || count > 10000 || i + 1 != c->argc) {
            reply_error(c, count < 1 || count > 10000 ? "ERR count must be between 1 and 10000"
                                                      : ERR_SYNTAX);
            return;
        }
    }
    prof_job *j = prof_job_new(kind);
    j->count = (size_t)count;
    submit_blocking(c, j);
}

static void profile_help(client *c) {
    /* clang-format off */
    static const char *const help[] = {
        "MEMORY PROFILE <subcommand> [<arg> ...]. Subcommands are:",
        "START | STOP",
        "    Switch heap sampling on or off (same as CONFIG SET memory-profiling-enabled).",
        "STATUS",
        "    State, sample rate, the profiler's own memory and its cap, dumps and snapshots.",
        "RESET",
        "    Forget what was sampled so far (prof.reset), keeping the sample rate.",
        "DUMP [PPROF|RAW|COLLAPSED|SVG|JSON] [TOFILE [<name>]]",
        "    The live heap profile: gzipped pprof (default, for go tool pprof), raw jemalloc",
        "    (for jeprof), collapsed stacks, an SVG flame graph, or the stack tree as JSON (the",
        "    console's flame graph). TOFILE writes it into",
        "    memory-profiling-dump-dir (name: letters, digits, . _ -) and replies the path.",
        "TOP [<count>]",
        "    Allocation sites by live bytes: function, bytes, share, subsystem.",
        "LEAKS [<count>]",
        "    Sites whose live bytes grew in most of the kept snapshots, with growth rate.",
        "SUBSYSTEMS",
        "    Sampled live bytes per subsystem beside the exact counters.",
        "SNAPSHOT",
        "    Take a snapshot now (periodic ones follow memory-profiling-snapshot-interval).",
        "HELP",
        "    Print this help.",
        NULL};
    /* clang-format on */
    reply_help(c, help);
}

/* MEMORY PROFILE …, dispatched from cmd_memory. */
void memory_profile(client *c) {
    if (c->argc < 3) {
        reply_wrong_subcommand_arity(c);
        return;
    }
    if (arg_eq(c, 2, "help") && c->argc == 3) {
        profile_help(c);
    } else if (arg_eq(c, 2, "status") && c->argc == 3) {
        reply_status(c);
    } else if ((arg_eq(c, 2, "start") || arg_eq(c, 2, "stop")) && c->argc == 3) {
        if (!require_available(c)) return;
        if (set_enabled(c, arg_eq(c, 2, "start")) == 0) reply_add_status(&c->reply, "OK");
    } else if (arg_eq(c, 2, "reset") && c->argc == 3) {
        if (!require_available(c)) return;
        int rc = prof_set_sample_bytes(prof_sample_bytes());
        if (rc < 0)
            reply_errorf(c, "ERR %s", prof_strerror(rc));
        else
            reply_add_status(&c->reply, "OK");
    } else if (arg_eq(c, 2, "dump")) {
        if (require_available(c)) profile_dump(c, 3);
    } else if (arg_eq(c, 2, "top")) {
        if (require_available(c)) profile_count_job(c, PROF_JOB_TOP, 3);
    } else if (arg_eq(c, 2, "leaks")) {
        if (require_available(c)) profile_count_job(c, PROF_JOB_LEAKS, 3);
    } else if (arg_eq(c, 2, "subsystems") && c->argc == 3) {
        if (require_available(c)) submit_blocking(c, prof_job_new(PROF_JOB_SUBSYSTEMS));
    } else if (arg_eq(c, 2, "snapshot") && c->argc == 3) {
        if (require_available(c)) submit_blocking(c, prof_job_new(PROF_JOB_SNAPSHOT));
    } else {
        int n = c->argv[2].len < 64 ? (int)c->argv[2].len : 64;
        reply_errorf(c, "ERR unknown subcommand '%.*s'. Try MEMORY PROFILE HELP.", n,
                     c->argv[2].ptr);
    }
}

/* Kvrocks: KPROFILE MEMORY ENABLE|DISABLE|STATUS|DUMP [dir]. DUMP writes a raw jemalloc
 * profile (for jeprof) into the dump dir; a dir argument is accepted only if it is that dir. */
void cmd_kprofile(client *c) {
    if (!arg_eq(c, 1, "memory")) {
        reply_error(c, "ERR only KPROFILE MEMORY is supported");
        return;
    }
    if (arg_eq(c, 2, "enable") && c->argc == 3) {
        if (require_available(c) && set_enabled(c, 1) == 0) reply_add_status(&c->reply, "OK");
    } else if (arg_eq(c, 2, "disable") && c->argc == 3) {
        if (require_available(c) && set_enabled(c, 0) == 0) reply_add_status(&c->reply, "OK");
    } else if (arg_eq(c, 2, "status") && c->argc == 3) {
        reply_add_status(&c->reply, prof_is_active() ? "enabled" : "disabled");
    } else if (arg_eq(c, 2, "dump") && (c->argc == 3 || c->argc == 4)) {
        if (!require_available(c)) return;
        const char *dir = srv.prof_dump_dir ? srv.prof_dump_dir : "";
        if (!dir[0]) {
            reply_error(c, "ERR no dump directory: CONFIG SET memory-profiling-dump-dir <dir>");
            return;
        }
        if (c->argc == 4) {
            const resp_arg *a = &c->argv[3];
            size_t dl = strlen(dir);
            while (dl > 1 && dir[dl - 1] == '/')
                dl--;
            size_t al = a->len;
            while (al > 1 && a->ptr[al - 1] == '/')
                al--;
            if (al != dl || memcmp(a->ptr, dir, dl) != 0) {
                reply_error(c, "ERR dumps can only go to memory-profiling-dump-dir; a path "
                               "from a client is never written to");
                return;
            }
        }
        prof_job *j = prof_job_new(PROF_JOB_DUMP);
        j->format = PROF_FMT_RAW;
        j->to_file = 1;
        submit_blocking(c, j);
    } else {
        reply_error(c, "ERR KPROFILE MEMORY ENABLE|DISABLE|STATUS|DUMP [dir]");
    }
}

/* ---- DEBUG (enable-debug-command) ---- */

typedef struct planted_block {
    struct planted_block *next;
    size_t size;
} planted_block;
static planted_block *planted;

/* A leak on purpose, from a function with a name no one can miss in a profile: every call
 * keeps `size` more bytes until shutdown. */
__attribute__((noinline, noipa)) static void *memkv_debug_planted_leak(size_t size) {
    planted_block *b = alloc_malloc(ALLOC_SUB_OTHER, sizeof(*b) + size);
    memset(b + 1, 0xab, size);
    b->size = size;
    b->next = planted;
    planted = b;
    return b;
}

void debug_free_planted(void) {
    while (planted) {
        planted_block *b = planted;
        planted = b->next;
        alloc_free(ALLOC_SUB_OTHER, b);
    }
}

void cmd_debug(client *c) {
    if (!client_option_allows(c, srv.enable_debug_command)) {
        reply_error(c, "ERR DEBUG command not allowed. If the enable-debug-command option is set "
                       "to \"local\", you can run it from a local connection, otherwise you need "
                       "to set this option in the configuration file, and then restart the "
                       "server.");
        return;
    }
    if (arg_eq(c, 1, "leak") && (c->argc == 3 || c->argc == 4)) {
        /* DEBUG LEAK <bytes> [<blocks>]: keep <blocks> blocks of <bytes> each (default 1). */
        long long size, blocks = 1;
        if (arg_ll(c, 2, &size) < 0) return;
        if (c->argc == 4 && arg_ll(c, 3, &blocks) < 0) return;
        if (size < 1 || size > (1LL << 30) || blocks < 1 || blocks > 1000000 ||
            size * blocks > (1LL << 32)) {
            reply_error(c, "ERR DEBUG LEAK <bytes 1..1g> [<blocks 1..1000000>], 4g at most");
            return;
        }
        for (long long i = 0; i < blocks; i++)
            memkv_debug_planted_leak((size_t)size);
        reply_add_status(&c->reply, "OK");
    } else if (arg_eq(c, 1, "keyspace-stats-check") && c->argc == 2) {
        keyspace_stats_check(c);
    } else if (arg_eq(c, 1, "set-active-expire") && c->argc == 3) {
        /* As Redis: atoi of the argument, so anything but a non-zero number turns it off. */
        char num[32];
        snprintf(num, sizeof(num), "%.*s", (int)(c->argv[2].len < 31 ? c->argv[2].len : 31),
                 c->argv[2].ptr);
        srv.active_expire_off = atoi(num) == 0;
        reply_add_status(&c->reply, "OK");
    } else if (arg_eq(c, 1, "help") && c->argc == 2) {
        reply_add_array_len(&c->reply, 7);
        reply_add_status(&c->reply, "DEBUG <subcommand> [<arg> ...]. Subcommands are:");
        reply_add_status(&c->reply, "LEAK <bytes> [<blocks>]");
        reply_add_status(&c->reply, "    Allocate and keep memory from memkv_debug_planted_leak.");
        reply_add_status(&c->reply, "KEYSPACE-STATS-CHECK");
        reply_add_status(&c->reply,
                         "    Recount the key-space statistics by a scan; report any difference.");
        reply_add_status(&c->reply, "SET-ACTIVE-EXPIRE <0|1>");
        reply_add_status(&c->reply, "    Stop (0) or resume the cron's deletion of expired keys.");
    } else {
        reply_unknown_subcommand(c);
    }
}
