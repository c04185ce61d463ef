/* bgsave — BGSAVE without fork, within a memory budget.
 *
 * Why not fork: under writes, copy-on-write can cost up to the whole data set again, and what
 * it costs depends on the write rate, not on anything memkv decides. Here the snapshot is taken
 * from the event loop instead: a timer serializes the key space in slices (bgsave-slice-us of
 * work, then a millisecond for the clients if any sent something: pause_after_slice), and a key
 * about to be changed, deleted or looked up before its turn is serialized first
 * (db_snapshot_begin's hook in src/db), so the file holds the data set as it was when BGSAVE
 * started. Serialized bytes go in chunks to a writer thread that checksums and
 * writes them: the loop never waits for the disk while the queue is under bgsave-max-memory.
 * Over it, slices pause until the writer catches up, and a key that must be saved before a
 * change waits for room (the only case where a command waits for the disk): the extra memory
 * stays within the budget whatever the write rate. It is the `snapshot` subsystem. */
#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "rdb/rdb.h"
#include "server/log.h"
#include "util/util.h"

#define BG_CHUNK (256 * 1024)
#define BG_SCAN_COUNT 16

typedef struct bg_chunk {
    struct bg_chunk *next;
    unsigned char *buf;
    size_t len;
    long long keys; /* serialized into it (rdb-key-save-delay) */
    int last;
} bg_chunk;

static struct {
    int active, finishing;
    int fd;
    char tmp[PATH_MAX];
    rdb_out o;
    db **dbs; /* the databases as numbered when BGSAVE started (SWAPDB may renumber them) */
    int ndbs, scan_db, out_db;
    uint64_t cursor;
    int resized; /* scan_db's SELECTDB + RESIZEDB written */
    long long timer;
    int64_t start_ms;
    long long dirty_at_start;
    long long keys_done, keys_total;
    long long keys_pushed;    /* of keys_done, those in chunks handed to the writer */
    long long key_save_delay; /* rdb-key-save-delay at the start */
    long long reads_seen;     /* clients' reads when the last slice ended */
    int64_t peak;
    /* the writer thread */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work, room;
    bg_chunk *head, *tail;
    size_t queued;
    int error; /* errno of a failed write */
    int done;  /* the writer finished the file (or gave up) */
    int checksum;
    int incremental_fsync; /* rdb-save-incremental-fsync at the start */
} bg = {.mu = PTHREAD_MUTEX_INITIALIZER,
        .work = PTHREAD_COND_INITIALIZER,
        .room = PTHREAD_COND_INITIALIZER,
        .fd = -1};

static int scheduled;

/* ---- the writer thread ---- */

/* rdb-key-save-delay, Redis's test knob, as Redis's child honours it: a chunk's keys cost that
 * many microseconds each (or one every -n keys for a negative n) before the chunk is written,
 * so that a test can make a BGSAVE last. In the writer: the event loop never sleeps for it,
 * though a full queue then holds slices back as a slow disk would. */
static void writer_delay(long long keys) {
    long long us = bg.key_save_delay;
    if (us < 0)
        us = keys / -us;
    else
        us *= keys;
    if (us > 0) usleep((useconds_t)(us < 10000000 ? us : 10000000));
}

static void *writer_main(void *arg) {
    (void)arg;
    uint64_t crc = 0;
    persist_sync sync = {.on = bg.incremental_fsync};
    for (;;) {
        pthread_mutex_lock(&bg.mu);
        while (!bg.head)
            pthread_cond_wait(&bg.work, &bg.mu);
        bg_chunk *c = bg.head;
        bg.head = c->next;
        if (!bg.head) bg.tail = NULL;
        int failed = bg.error;
        pthread_mutex_unlock(&bg.mu);
        int err = 0;
        if (!failed && c->keys && c->last != 2) writer_delay(c->keys);
        if (!failed && c->len) {
            crc = rdb_crc64(crc, c->buf, c->len);
            if (persist_write(bg.fd, c->buf, c->len, &sync) < 0) err = errno;
        }
        if (c->last == 1 && !failed && !err) { /* the file's end: checksum, then fsync */
            unsigned char sum[8];
            for (int i = 0; i < 8; i++)
                sum[i] = bg.checksum ? (unsigned char)(crc >> (8 * i)) : 0;
            if (persist_write(bg.fd, sum, 8, NULL) < 0 || fsync(bg.fd) < 0) err = errno;
        }
        alloc_free(ALLOC_SUB_SNAPSHOT, c->buf);
        int last = c->last;
        size_t len = c->len;
        alloc_free(ALLOC_SUB_SNAPSHOT, c);
        pthread_mutex_lock(&bg.mu);
        bg.queued -= len;
        if (err && !bg.error) bg.error = err;
        if (last) bg.done = 1;
        pthread_cond_broadcast(&bg.room);
        pthread_mutex_unlock(&bg.mu);
        if (last) return NULL;
    }
}

/* last: 1 the end of the file, 2 abandoned. wait: block until the queue has room. */
static void push(int last, int wait) {
    size_t len;
    unsigned char *buf = rdb_out_detach(&bg.o, &len);
    bg_chunk *c = alloc_malloc(ALLOC_SUB_SNAPSHOT, sizeof(*c));
    c->next = NULL;
    c->buf = buf;
    c->len = len;
    c->keys = bg.keys_done - bg.keys_pushed;
    bg.keys_pushed = bg.keys_done;
    c->last = last;
    pthread_mutex_lock(&bg.mu);
    size_t budget = (size_t)srv.bgsave_max_memory;
    while (wait && !bg.error && bg.queued > 0 && bg.queued + len > budget)
        pthread_cond_wait(&bg.room, &bg.mu);
    bg.queued += len;
    if (bg.tail)
        bg.tail->next = c;
    else
        bg.head = c;
    bg.tail = c;
    pthread_cond_signal(&bg.work);
    pthread_mutex_unlock(&bg.mu);
}

static size_t queued_now(void) {
    pthread_mutex_lock(&bg.mu);
    size_t q = bg.queued;
    pthread_mutex_unlock(&bg.mu);
    return q;
}

static void note_peak(void) {
    int64_t now = alloc_sub_bytes(ALLOC_SUB_SNAPSHOT);
    if (now > bg.peak) bg.peak = now;
}

/* ---- serializing ---- */

static int index_of(const db *d) {
    for (int i = 0; i < bg.ndbs; i++)
        if (bg.dbs[i] == d) return i;
    return -1;
}

static void save_entry(int idx, db *d, const db_entry *e) {
    if (bg.out_db != idx) {
        rdb_write_select_only(&bg.o, idx);
        bg.out_db = idx;
    }
    size_t klen;
    const char *key = db_entry_key(e, &klen);
    rdb_write_key(&bg.o, e, db_entry_has_expire(e) ? db_get_expire(d, key, klen) : -1);
    bg.keys_done++;
}

/* The db's hook: e is about to change (or be returned to a command) and is not saved yet. */
static void on_before_change(db *d, const db_entry *e) {
    int idx = index_of(d);
    if (idx < 0) return;
    save_entry(idx, d, e);
    if (bg.o.len >= BG_CHUNK) {
        push(0, 1);
        note_peak();
    }
}

static void on_scanned(void *ctx, const db_entry *e) {
    (void)ctx;
    if (db_snapshot_claim(e)) save_entry(bg.scan_db, bg.dbs[bg.scan_db], e);
}

static void finish(void);

/* After a slice, the loop gives clients a millisecond if any of them sent something since the
 * previous slice; if none did, nobody is waiting and the next slice runs on the loop's next turn
 * (which still serves whatever arrives first): a busy server keeps at least about half of the
 * loop, an idle one saves about as fast as SAVE. */
static int64_t pause_after_slice(void) {
    long long reads = srv.stats.total_reads_processed;
    int64_t pause = reads != bg.reads_seen ? 1 : 0;
    bg.reads_seen = reads;
    return pause;
}

/* One slice: scan until the time is up or the queue is full. */
static int64_t slice(evloop *el, void *data) {
    (void)el;
    (void)data;
    if (!bg.active) return -1;
    if (bg.finishing) {
        pthread_mutex_lock(&bg.mu);
        int done = bg.done;
        pthread_mutex_unlock(&bg.mu);
        if (!done) return 1;
        finish();
        return -1;
    }
    int64_t deadline = util_monotonic_us() + srv.bgsave_slice_us;
    size_t budget = (size_t)srv.bgsave_max_memory;
    while (bg.scan_db < bg.ndbs) {
        if (queued_now() + bg.o.len >= budget) break; /* let the writer catch up */
        db *d = bg.dbs[bg.scan_db];
        if (!bg.resized && db_size(d) > 0) {
            rdb_write_selectdb(&bg.o, bg.scan_db, db_size(d), db_expires_size(d));
            bg.out_db = bg.scan_db;
            bg.resized = 1;
        }
        if (db_size(d) > 0)
            bg.cursor = db_scan(d, bg.cursor, BG_SCAN_COUNT, on_scanned, NULL);
        else
            bg.cursor = 0;
        if (bg.cursor == 0) {
            bg.scan_db++;
            bg.resized = 0;
        }
        if (bg.o.len >= BG_CHUNK) push(0, 0);
        note_peak();
        if (util_monotonic_us() >= deadline) return pause_after_slice();
    }
    if (bg.scan_db < bg.ndbs) return 1;
    /* every key saved: the end of the file goes to the writer; wait for it in later ticks */
    db_snapshot_end(bg.dbs, (size_t)bg.ndbs, 1);
    rdb_write_eof_opcode(&bg.o);
    push(1, 0);
    note_peak();
    bg.finishing = 1;
    return 1;
}

static void release(void) {
    pthread_join(bg.thread, NULL);
    if (bg.fd >= 0) close(bg.fd);
    bg.fd = -1;
    rdb_out_deinit(&bg.o);
    alloc_free(ALLOC_SUB_SNAPSHOT, bg.dbs);
    bg.dbs = NULL;
    bg.active = bg.finishing = 0;
    srv.rdb_last_cow_size = bg.peak;
    srv.rdb_last_bgsave_s = (server_now_ms() - bg.start_ms) / 1000;
}

static void finish(void) {
    int err = bg.error;
    release();
    char final[PATH_MAX];
    snprintf(final, sizeof(final), "%s/%s", srv.rdb_dir, srv.rdb_filename);
    if (!err && rename(bg.tmp, final) < 0) err = errno;
    if (!err) {
        int dfd = open(srv.rdb_dir, O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            if (fsync(dfd) < 0) err = errno;
            close(dfd);
        }
    }
    if (err) {
        unlink(bg.tmp);
        log_msg(LOG_WARNING, "Background saving error: %s", strerror(err));
        srv.last_save_ok = 0;
        srv.last_save_try_ms = server_now_ms();
    } else {
        log_msg(LOG_NOTICE, "Background saving terminated with success");
        srv.dirty -= bg.dirty_at_start;
        if (srv.dirty < 0) srv.dirty = 0;
        srv.lastsave = server_now_ms() / 1000;
        srv.last_save_ok = 1;
        srv.rdb_saves++;
    }
    if (scheduled) {
        scheduled = 0;
        char e[256];
        bgsave_start(e, sizeof(e));
    }
}

/* ---- the public face ---- */

int bgsave_in_progress(void) {
    return bg.active;
}

int bgsave_start(char *err, size_t errlen) {
    if (bg.active) {
        snprintf(err, errlen, "Background save already in progress");
        return -1;
    }
    snprintf(bg.tmp, sizeof(bg.tmp), "%s/temp-%d.rdb", srv.rdb_dir, (int)getpid());
    bg.fd = open(bg.tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (bg.fd < 0) {
        snprintf(err, errlen, "Failed opening the temp RDB file %s: %s", bg.tmp, strerror(errno));
        log_msg(LOG_WARNING, "%s", err);
        srv.last_save_ok = 0;
        srv.last_save_try_ms = server_now_ms();
        return -1;
    }
    rdb_out_init(&bg.o, srv.rdb_compression);
    bg.o.sub = ALLOC_SUB_SNAPSHOT;
    rdb_write_header(&bg.o, MEMKV_REDIS_COMPAT_VERSION, server_now_ms() / 1000,
                     (uint64_t)alloc_total_bytes());
    bg.ndbs = (int)srv.databases;
    bg.dbs = alloc_malloc(ALLOC_SUB_SNAPSHOT, sizeof(db *) * (size_t)bg.ndbs);
    bg.keys_total = 0;
    for (int i = 0; i < bg.ndbs; i++) {
        bg.dbs[i] = srv.dbs[i];
        bg.keys_total += (long long)db_size(srv.dbs[i]);
    }
    bg.scan_db = 0;
    bg.out_db = -1;
    bg.cursor = 0;
    bg.resized = 0;
    bg.keys_done = bg.keys_pushed = 0;
    bg.key_save_delay = srv.rdb_key_save_delay;
    bg.reads_seen = srv.stats.total_reads_processed;
    bg.peak = 0;
    bg.head = bg.tail = NULL;
    bg.queued = 0;
    bg.error = 0;
    bg.done = 0;
    bg.checksum = srv.rdb_checksum;
    bg.incremental_fsync = (int)srv.rdb_incremental_fsync;
    bg.start_ms = server_now_ms();
    bg.dirty_at_start = srv.dirty;
    if (pthread_create(&bg.thread, NULL, writer_main, NULL) != 0) {
        snprintf(err, errlen, "Can't start the snapshot writer thread");
        close(bg.fd);
        unlink(bg.tmp);
        rdb_out_deinit(&bg.o);
        alloc_free(ALLOC_SUB_SNAPSHOT, bg.dbs);
        return -1;
    }
    db_snapshot_begin(on_before_change);
    bg.active = 1;
    bg.finishing = 0;
    bg.timer = evloop_timer_add(srv.el, 1, slice, NULL);
    log_msg(LOG_NOTICE, "Background saving started (forkless, %lld keys)", bg.keys_total);
    return 0;
}

/* SHUTDOWN, FLUSHALL's or a failed save's end: the temp file goes, the previous snapshot stays. */
void bgsave_abort(void) {
    if (!bg.active) return;
    if (!bg.finishing) {
        db_snapshot_end(bg.dbs, (size_t)bg.ndbs, 0);
        pthread_mutex_lock(&bg.mu);
        if (!bg.error) bg.error = ECANCELED;
        pthread_mutex_unlock(&bg.mu);
        push(2, 0);
    }
    release();
    unlink(bg.tmp);
    scheduled = 0;
    log_msg(LOG_WARNING, "Background saving aborted");
}

void cmd_bgsave(client *c) {
    int schedule = 0;
    if (c->argc > 1) {
        if (c->argc == 2 && arg_eq(c, 1, "schedule")) {
            schedule = 1;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if (bg.active) {
        if (schedule) {
            scheduled = 1;
            reply_add_status(&c->reply, "Background saving scheduled");
        } else {
            reply_error(c, "ERR Background save already in progress");
        }
        return;
    }
    char err[PATH_MAX + 128];
    if (bgsave_start(err, sizeof(err)) < 0) {
        reply_error(c, "ERR");
        return;
    }
    reply_add_status(&c->reply, "Background saving started");
}

void bgsave_info(bgsave_figures *f) {
    memset(f, 0, sizeof(*f));
    f->in_progress = bg.active;
    if (bg.active) {
        f->current_s = (server_now_ms() - bg.start_ms) / 1000;
        f->keys_processed = bg.keys_done;
        f->keys_total = bg.keys_total;
        f->current_bytes = alloc_sub_bytes(ALLOC_SUB_SNAPSHOT);
        f->current_peak = bg.peak > f->current_bytes ? bg.peak : f->current_bytes;
        f->current_age_s = f->current_s;
    } else {
        f->current_s = -1;
    }
}
