/* persist — snapshots in Redis's RDB format (src/rdb): loading at start-up, SAVE, LASTSAVE,
 * the `save` rules, saving at SHUTDOWN / SIGTERM, INFO persistence's figures.
 *
 * A save writes `temp-<pid>.rdb` in `dir`, fsyncs it, renames it over `dbfilename` and fsyncs
 * the directory: a crash at any moment leaves the previous snapshot whole. */
#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "rdb/rdb.h"
#include "server/log.h"
#include "server/notify.h"
#include "util/util.h"

#define PERSIST_MAX_RULES 16
#define PERSIST_RETRY_MS 5000 /* after a failed save, rules wait this long (Redis's 5 s) */
#define PERSIST_FLUSH_BYTES (1 << 20)
#define PERSIST_AUTOSYNC_BYTES (4 << 20) /* rdb-save-incremental-fsync's step */

typedef struct save_rule {
    long long seconds, changes;
} save_rule;

static save_rule rules[PERSIST_MAX_RULES];
static int nrules;

/* ---- the `save` parameter ---- */

int persist_parse_save(const char *value, char *err, size_t errlen) {
    save_rule parsed[PERSIST_MAX_RULES];
    int n = 0;
    const char *p = value;
    for (;;) {
        while (*p == ' ')
            p++;
        if (!*p) break;
        long long v[2];
        for (int i = 0; i < 2; i++) {
            while (*p == ' ')
                p++;
            const char *s = p;
            while (*p && *p != ' ')
                p++;
            if (util_parse_ll(s, (size_t)(p - s), &v[i]) < 0 || v[i] < 0) {
                snprintf(err, errlen, "Invalid save parameters");
                return -1;
            }
        }
        if (n == PERSIST_MAX_RULES) {
            snprintf(err, errlen, "Too many save rules (at most %d)", PERSIST_MAX_RULES);
            return -1;
        }
        parsed[n].seconds = v[0];
        parsed[n].changes = v[1];
        n++;
    }
    memcpy(rules, parsed, sizeof(parsed[0]) * (size_t)n);
    nrules = n;
    return 0;
}

void persist_format_save(char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < nrules && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%lld %lld", i ? " " : "", rules[i].seconds,
                                rules[i].changes);
}

int persist_has_rules(void) {
    return nrules > 0;
}

/* ---- saving ---- */

static void rdb_path(char *buf, size_t cap, const char *name) {
    const char *dir = srv.rdb_dir && srv.rdb_dir[0] ? srv.rdb_dir : ".";
    snprintf(buf, cap, "%s/%s", dir, name);
}

/* Writes all of p; with rdb-save-incremental-fsync (s->on), every PERSIST_AUTOSYNC_BYTES it
 * starts the kernel's write-back of what was just written and waits for the range it started
 * the time before, which had a whole range's serializing to finish: the disk works while the
 * keys are serialized, the final fsync finds little left to do, and the dirty pages of a big
 * save stay bounded. sync_file_range's failure (a file system without it) is no error: the
 * final fsync is what makes the file durable. */
int persist_write(int fd, const unsigned char *p, size_t n, persist_sync *s) {
    size_t len = n;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    if (!s || !s->on) return 0;
    s->written += (off_t)len;
    if (s->written - s->started < PERSIST_AUTOSYNC_BYTES) return 0;
    if (s->started > s->waited)
        (void)sync_file_range(fd, s->waited, s->started - s->waited,
                              SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                  SYNC_FILE_RANGE_WAIT_AFTER);
    s->waited = s->started;
    (void)sync_file_range(fd, s->started, s->written - s->started, SYNC_FILE_RANGE_WRITE);
    s->started = s->written;
    return 0;
}

static int flush_out(int fd, rdb_out *o, persist_sync *sync) {
    if (persist_write(fd, o->buf, o->len, sync) < 0) return -1;
    rdb_out_drain(o);
    return 0;
}

static int fsync_dir(const char *dir) {
    int fd = open(dir && dir[0] ? dir : ".", O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

typedef struct save_ctx {
    int fd;
    rdb_out *o;
    persist_sync sync;
    int failed;
    int64_t now;
    db *d;
} save_ctx;

/* rdb-key-save-delay: tests make a SAVE last long enough to be interrupted. A negative n
 * sleeps 1 µs once every -n keys on average (a sleep costs far more than a microsecond). */
static void key_save_delay(void) {
    long long us = srv.rdb_key_save_delay;
    if (us < 0) us = random() % -us == 0;
    if (us > 0) usleep((useconds_t)us);
}

static void save_one(void *arg, db *d, const db_entry *e) {
    save_ctx *s = arg;
    if (s->failed) return;
    size_t klen;
    const char *key = db_entry_key(e, &klen);
    int64_t when = db_entry_has_expire(e) ? db_get_expire(d, key, klen) : -1;
    rdb_write_key(s->o, e, when);
    key_save_delay();
    if (s->o->len >= PERSIST_FLUSH_BYTES && flush_out(s->fd, s->o, &s->sync) < 0) s->failed = 1;
}

/* The whole data set into dir/dbfilename, in the foreground. 0 ok, -1 (logged, err set). */
int persist_save(char *err, size_t errlen) {
    char tmp[PATH_MAX], final[PATH_MAX], name[64];
    snprintf(name, sizeof(name), "temp-%d.rdb", (int)getpid());
    rdb_path(tmp, sizeof(tmp), name);
    rdb_path(final, sizeof(final), srv.rdb_filename);
    int64_t start = util_monotonic_us();
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen,
                 "Failed opening the temp RDB file %s (in server root dir %s) for saving: %s", name,
                 srv.rdb_dir, strerror(errno));
        goto fail;
    }
    rdb_out o;
    rdb_out_init(&o, srv.rdb_compression);
    rdb_write_header(&o, MEMKV_REDIS_COMPAT_VERSION, server_now_ms() / 1000,
                     (uint64_t)alloc_total_bytes());
    save_ctx s = {.fd = fd, .o = &o, .sync = {.on = (int)srv.rdb_incremental_fsync}};
    for (long long i = 0; i < srv.databases && !s.failed; i++) {
        db *d = srv.dbs[i];
        if (db_size(d) == 0) continue;
        rdb_write_selectdb(&o, (int)i, db_size(d), db_expires_size(d));
        db_for_each(d, save_one, &s);
    }
    if (!s.failed) {
        rdb_write_eof(&o);
        if (!srv.rdb_checksum) memset(o.buf + o.len - 8, 0, 8); /* as rdbchecksum no */
        if (flush_out(fd, &o, &s.sync) < 0) s.failed = 1;
    }
    rdb_out_deinit(&o);
    if (s.failed || fsync(fd) < 0) {
        snprintf(err, errlen, "Write error saving DB on disk: %s", strerror(errno));
        close(fd);
        unlink(tmp);
        goto fail;
    }
    close(fd);
    if (rename(tmp, final) < 0) {
        snprintf(err, errlen, "Error moving temp DB file %s on the final destination %s: %s", name,
                 srv.rdb_filename, strerror(errno));
        unlink(tmp);
        goto fail;
    }
    if (fsync_dir(srv.rdb_dir) < 0) {
        snprintf(err, errlen, "Failed to fsync the directory of %s: %s", final, strerror(errno));
        goto fail;
    }
    log_msg(LOG_NOTICE, "DB saved on disk");
    srv.dirty = 0;
    srv.lastsave = server_now_ms() / 1000;
    srv.last_save_ok = 1;
    srv.rdb_saves++;
    srv.rdb_last_save_us = util_monotonic_us() - start;
    return 0;
fail:
    log_msg(LOG_WARNING, "%s", err);
    srv.last_save_ok = 0;
    srv.last_save_try_ms = server_now_ms();
    return -1;
}

/* The cron: a rule whose time and change count are both reached starts a BGSAVE. */
void persist_cron(void) {
    if (!nrules || srv.dirty == 0 || bgsave_in_progress()) return;
    int64_t now = server_now_ms();
    if (!srv.last_save_ok && now - srv.last_save_try_ms < PERSIST_RETRY_MS) return;
    for (int i = 0; i < nrules; i++) {
        if (srv.dirty >= rules[i].changes && now / 1000 - srv.lastsave > rules[i].seconds) {
            log_msg(LOG_NOTICE, "%lld changes in %lld seconds. Saving...", rules[i].changes,
                    rules[i].seconds);
            char err[PATH_MAX + 256];
            bgsave_start(err, sizeof(err));
            return;
        }
    }
}

/* ---- loading ---- */

void persist_fill_limits(rdb_limits *lim) {
    rdb_limits_default(lim);
    lim->hash.max_entries = (size_t)srv.hash_max_listpack_entries;
    lim->hash.max_value = (size_t)srv.hash_max_listpack_value;
    lim->set.max_intset_entries = (size_t)srv.set_max_intset_entries;
    lim->set.max_listpack_entries = (size_t)srv.set_max_listpack_entries;
    lim->set.max_listpack_value = (size_t)srv.set_max_listpack_value;
    lim->zset.max_entries = (size_t)srv.zset_max_listpack_entries;
    lim->zset.max_value = (size_t)srv.zset_max_listpack_value;
    lim->list_fill = srv.list_max_listpack_size;
    lim->max_string = (size_t)srv.proto_max_bulk_len;
    lim->skip_unknown = srv.rdb_skip_unknown;
    lim->check_crc = srv.rdb_checksum;
}

static void set_idle(db_entry *e, long long idle);

/* A key read from the file into its db (out: receives its entry, NULL when it was already
 * expired; out NULL: not wanted). -1: the file repeats a key (corrupt) or names a db beyond
 * `databases`. One lookup for a string: the db's size tells a repeated key. */
static int load_key(rdb_item *it, persist_load_stats *st, int64_t now, db_entry **out, char *err,
                    size_t errlen) {
    if (out) *out = NULL;
    if (it->db >= srv.databases) {
        snprintf(err, errlen,
                 "Data file was created with a server configured to handle more than %lld "
                 "databases",
                 srv.databases);
        return -1;
    }
    db *d = srv.dbs[it->db];
    if (it->expire_ms >= 0 && it->expire_ms < now) { /* as a Redis master: dropped */
        st->expired++;
        return 0;
    }
    size_t before = db_size(d);
    int repeated;
    db_entry *e = NULL;
    if (it->val.type == DB_TYPE_STRING) {
        e = db_set_string(d, it->key, it->klen, it->val.str, it->val.slen, 0);
        repeated = db_size(d) == before;
    } else if (!(repeated = db_peek(d, it->key, it->klen) != NULL)) {
        e = db_add_object(d, it->key, it->klen, it->val.type, it->val.enc, it->val.ptr);
        it->val.ptr = NULL;
    }
    if (repeated) {
        snprintf(err, errlen, "Duplicate key '%.*s' in the RDB file",
                 (int)(it->klen > 64 ? 64 : it->klen), it->key);
        return -1;
    }
    if (it->idle >= 0) set_idle(e, it->idle);
    if (it->expire_ms >= 0) db_set_expire(d, it->key, it->klen, it->expire_ms);
    db_settle();
    st->loaded++;
    if (out) *out = db_peek(d, it->key, it->klen); /* e may not survive the changes since */
    return 0;
}

int persist_load_fd(int fd, const persist_loader *l, persist_load_stats *st, char *why,
                    size_t whylen) {
    rdb_limits lim;
    persist_fill_limits(&lim);
    rdb_reader r;
    rdb_reader_init(&r, &lim);
    if (l) {
        r.observe = l->observe;
        r.observe_ctx = l->ctx;
    }
    size_t cap = 1 << 16, have = 0, pos = 0;
    unsigned char *buf = alloc_malloc(ALLOC_SUB_OTHER, cap);
    memset(st, 0, sizeof(*st));
    int64_t now = server_now_ms();
    int rc = 0, eof = 0, done = 0, cur_db = 0;
    why[0] = '\0';
    /* A RESIZEDB hint sizes the db's tables, bounded by what the file can hold (a key takes
     * 3 bytes at least), so a forged hint cannot make a huge table. */
    struct stat fst;
    uint64_t max_keys = fstat(fd, &fst) == 0 && fst.st_size > 0 ? (uint64_t)fst.st_size / 3 : 0;
    while (!done) {
        rdb_item it;
        size_t used;
        int x = rdb_read_item(&r, buf + pos, have - pos, &used, &it);
        if (x == RDB_NEED_MORE) {
            if (eof) {
                snprintf(why, whylen, "Short read or unexpected end of file at offset %llu",
                         (unsigned long long)r.offset + (have - pos));
                rc = -1;
                break;
            }
            memmove(buf, buf + pos, have - pos);
            have -= pos;
            pos = 0;
            while (cap < r.need || cap - have < 4096) {
                cap *= 2;
                buf = alloc_realloc(ALLOC_SUB_OTHER, buf, cap);
            }
            ssize_t n = read(fd, buf + have, cap - have);
            if (n < 0 && errno != EINTR) {
                snprintf(why, whylen, "Read error at offset %llu: %s",
                         (unsigned long long)r.offset + have, strerror(errno));
                rc = -1;
                break;
            }
            if (n == 0) eof = 1;
            if (n > 0) have += (size_t)n;
            continue;
        }
        if (x == RDB_ERR) {
            snprintf(why, whylen, "%s", r.err);
            rc = -1;
            break;
        }
        pos += used;
        db_entry *e = NULL;
        switch (it.kind) {
        case RDB_ITEM_HEADER:
            st->version = r.version;
            break;
        case RDB_ITEM_KEY:
            if (load_key(&it, st, now, l && l->on_item ? &e : NULL, why, whylen) < 0) {
                rc = -2; /* not a damaged file: a refusal whatever the options */
                done = 1;
            }
            break;
        case RDB_ITEM_EMPTY:
            st->empty++;
            break;
        case RDB_ITEM_SELECTDB:
            cur_db = it.db;
            break;
        case RDB_ITEM_RESIZEDB:
            if (cur_db < srv.databases)
                db_reserve(srv.dbs[cur_db], it.db_size < max_keys ? it.db_size : max_keys,
                           it.expires_size < max_keys ? it.expires_size : max_keys);
            break;
        case RDB_ITEM_SKIPPED:
            st->skipped++;
            break;
        case RDB_ITEM_EOF:
            done = 1;
            break;
        default:
            break;
        }
        if (l && l->on_item && rc == 0) l->on_item(l->ctx, &it, e);
        rdb_item_clear(&it);
    }
    st->offset = r.offset;
    alloc_free(ALLOC_SUB_OTHER, buf);
    return rc;
}

static void log_item(void *ctx, const rdb_item *it, db_entry *e) {
    (void)e;
    long long *skipped = ctx;
    if (it->kind == RDB_ITEM_SKIPPED) {
        if ((*skipped)++ < 10)
            log_msg(LOG_WARNING, "Skipped %s%s%s of RDB type %d that memkv cannot load",
                    it->key ? "key '" : "an item", it->key ? it->key : "", it->key ? "'" : "",
                    it->rdb_type);
        return;
    }
    if (it->kind != RDB_ITEM_AUX) return;
    if (strcasecmp(it->key, "redis-ver") == 0)
        log_msg(LOG_NOTICE, "Loading RDB produced by version %s", it->aux_val);
    else if (strcasecmp(it->key, "ctime") == 0) {
        long long age = server_now_ms() / 1000 - strtoll(it->aux_val, NULL, 10);
        log_msg(LOG_NOTICE, "RDB age %lld seconds", age < 0 ? 0 : age);
    } else if (strcasecmp(it->key, "used-mem") == 0)
        log_msg(LOG_NOTICE, "RDB memory usage when created %.2f Mb",
                (double)strtoll(it->aux_val, NULL, 10) / (1024 * 1024));
}

/* Load dir/dbfilename if it exists. 0 ok (or no file), -1 refuse to start (err says why,
 * naming the offset of the damage). With rdb-load-truncated, damage stops the load but keeps
 * the keys read before it. */
int persist_load(char *err, size_t errlen) {
    struct stat dst;
    if (stat(srv.rdb_dir, &dst) < 0 || !S_ISDIR(dst.st_mode)) { /* as Redis's chdir at start */
        snprintf(err, errlen, "Can't chdir to '%s': %s", srv.rdb_dir,
                 strerror(errno ? errno : ENOTDIR));
        return -1;
    }
    char path[PATH_MAX];
    rdb_path(path, sizeof(path), srv.rdb_filename);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "Fatal error loading the DB %s: %s. Exiting.", path, strerror(errno));
        return -1;
    }
    int64_t start = util_monotonic_us();
    srv.loading = 1;
    long long logged = 0;
    persist_loader l = {.on_item = log_item, .ctx = &logged};
    persist_load_stats st;
    char why[384];
    int rc = persist_load_fd(fd, &l, &st, why, sizeof(why));
    close(fd);
    srv.loading = 0;
    srv.rdb_last_load_keys_loaded = st.loaded;
    srv.rdb_last_load_keys_expired = st.expired;
    srv.rdb_last_load_skipped = st.skipped;
    if (rc == -1 && srv.rdb_load_truncated) {
        log_msg(LOG_WARNING,
                "RDB file %s is damaged (%s): kept the %lld keys read before it "
                "(rdb-load-truncated yes)",
                path, why, st.loaded);
        rc = 0;
    } else if (rc < 0) {
        snprintf(err, errlen, "Fatal error loading the DB %s: %s. Exiting.", path, why);
        return -1;
    }
    if (st.skipped)
        log_msg(LOG_WARNING,
                "%lld items of types memkv does not have (streams, modules, functions) skipped",
                st.skipped);
    log_msg(LOG_NOTICE,
            "Done loading RDB, keys loaded: %lld, keys expired: %lld, empty keys skipped: %lld",
            st.loaded, st.expired, st.empty);
    log_msg(LOG_NOTICE, "DB loaded from disk: %.3f seconds",
            (double)(util_monotonic_us() - start) / 1e6);
    srv.dirty = 0;
    srv.lastsave = server_now_ms() / 1000;
    return 0;
}

/* ---- commands ---- */

void cmd_save(client *c) {
    if (bgsave_in_progress()) {
        reply_error(c, "ERR Background save already in progress");
        return;
    }
    char err[PATH_MAX + 256];
    if (persist_save(err, sizeof(err)) < 0) {
        reply_error(c, "ERR");
        return;
    }
    reply_add_status(&c->reply, "OK");
}

void cmd_lastsave(client *c) {
    reply_add_int(&c->reply, srv.lastsave);
}

/* SHUTDOWN / SIGTERM: save if asked (SAVE) or if rules exist (unless NOSAVE). 0: go on and
 * exit; -1: the save failed, do not exit (as Redis). */
int persist_before_shutdown(int how) {
    if (bgsave_in_progress()) { /* as Redis kills its child: the final save is ours */
        log_msg(LOG_WARNING, "There is a background save in progress: aborting it");
        bgsave_abort();
    }
    if (how == 0 || (how < 0 && !nrules)) return 0;
    log_msg(LOG_NOTICE, "Saving the final RDB snapshot before exiting.");
    char err[PATH_MAX + 256];
    if (persist_save(err, sizeof(err)) < 0) {
        log_msg(LOG_WARNING, "Error trying to save the DB, can't exit.");
        return -1;
    }
    return 0;
}

/* ---- DUMP / RESTORE (Redis's payload: the value, RDB version, CRC64) ---- */

/* An idle time in seconds onto the key's LRU stamp (RESTORE IDLETIME, the file's IDLE). */
static void set_idle(db_entry *e, long long idle) {
    long long abs = (long long)db_lru_clock() - idle % ((long long)DB_LRU_MAX + 1);
    if (abs < 0) abs += (long long)DB_LRU_MAX + 1;
    db_entry_set_lru(e, (uint32_t)abs);
}

void cmd_dump(client *c) {
    db_entry *e = lookup_read(c, 1);
    if (!e) {
        reply_add_null(&c->reply);
        return;
    }
    rdb_out o;
    rdb_out_init(&o, srv.rdb_compression);
    rdb_dump_payload(&o, e);
    reply_add_bulk(&c->reply, o.buf, o.len);
    rdb_out_deinit(&o);
}

/* RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f], in Redis 7.0's order of
 * checks (options, existing key, TTL, payload). */
void cmd_restore(client *c) {
    int replace = 0, absttl = 0;
    long long idle = -1, freq = -1, ttl;
    for (int j = 4; j < c->argc; j++) {
        int more = c->argc - j - 1;
        if (arg_eq(c, j, "replace")) {
            replace = 1;
        } else if (arg_eq(c, j, "absttl")) {
            absttl = 1;
        } else if (arg_eq(c, j, "idletime") && more >= 1 && freq == -1) {
            if (arg_ll(c, j + 1, &idle) < 0) return;
            if (idle < 0) {
                reply_error(c, "ERR Invalid IDLETIME value, must be >= 0");
                return;
            }
            j++;
        } else if (arg_eq(c, j, "freq") && more >= 1 && idle == -1) {
            if (arg_ll(c, j + 1, &freq) < 0) return;
            if (freq < 0 || freq > 255) {
                reply_error(c, "ERR Invalid FREQ value, must be >= 0 and <= 255");
                return;
            }
            j++;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    const resp_arg *key = &c->argv[1];
    if (!replace && lookup_write(c, 1)) {
        reply_error(c, "BUSYKEY Target key name already exists.");
        return;
    }
    if (arg_ll(c, 2, &ttl) < 0) return;
    if (ttl < 0) {
        reply_error(c, "ERR Invalid TTL value, must be >= 0");
        return;
    }
    rdb_limits lim;
    persist_fill_limits(&lim);
    lim.check_crc = 1; /* as Redis's skip-checksum-validation no */
    rdb_value v;
    const char *err;
    if (rdb_restore_payload((const unsigned char *)c->argv[3].ptr, c->argv[3].len, &lim, &v, &err) <
        0) {
        reply_error(c, err[0] == 'D' ? "ERR DUMP payload version or checksum are wrong"
                                     : "ERR Bad data format");
        return;
    }
    int deleted = replace && db_delete(c->db, key->ptr, key->len);
    if (ttl && !absttl) ttl += server_now_ms();
    if (ttl && ttl <= server_now_ms()) { /* already expired: only the old key goes */
        rdb_value_free(&v);
        if (deleted) {
            notify_event(NOTIFY_GENERIC, "del", key->ptr, key->len, c->db_index);
            srv.dirty++;
        }
        reply_add_status(&c->reply, "OK");
        return;
    }
    db_entry *e;
    if (v.type == DB_TYPE_STRING) {
        e = db_set_string(c->db, key->ptr, key->len, v.str, v.slen, 0);
    } else {
        e = db_add_object(c->db, key->ptr, key->len, v.type, v.enc, v.ptr);
        v.ptr = NULL;
    }
    rdb_value_free(&v);
    if (idle >= 0) set_idle(e, idle); /* FREQ: memkv has no LFU policy, as Redis without one */
    if (ttl) db_set_expire(c->db, key->ptr, key->len, ttl);
    blocking_signal_key(c->db_index, key->ptr, key->len);
    notify_event(NOTIFY_GENERIC, "restore", key->ptr, key->len, c->db_index);
    srv.dirty++;
    reply_add_status(&c->reply, "OK");
}
