/* process — the standard process_* families from /proc/self, shared by memkv-server's collector
 * and memkv-exporter (see metrics.h "process"). */
#include "metrics/metrics.h"
#include "util/util.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Boot time (seconds since the epoch) from /proc/stat's "btime"; it never changes, so once. */
static pthread_once_t btime_once = PTHREAD_ONCE_INIT;
static double boot_time_seconds;

static void read_btime(void) {
    FILE *f = fopen("/proc/stat", "re");
    if (!f) return;
    char line[256];
    int at_line_start = 1;
    while (fgets(line, sizeof(line), f)) {
        size_t n = strlen(line);
        if (at_line_start && strncmp(line, "btime ", 6) == 0) {
            boot_time_seconds = (double)strtoull(line + 6, NULL, 10);
            break;
        }
        at_line_start = n > 0 && line[n - 1] == '\n'; /* long lines (intr) come in pieces */
    }
    fclose(f);
}

void metrics_process_read(metrics_process *p) {
    if (!p) return;
    memset(p, 0, sizeof(*p));
    long tck = sysconf(_SC_CLK_TCK);
    if (tck <= 0) tck = 100;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) page = 4096;
    pthread_once(&btime_once, read_btime);

    /* /proc/self/stat: "pid (comm) state ppid ..."; comm may hold blanks and ')', so fields are
     * counted from the last ')'. Field 14 utime, 15 stime, 22 starttime (ticks after boot),
     * 23 vsize (bytes). */
    char buf[1024];
    if (util_read_small_file("/proc/self/stat", buf, sizeof(buf)) > 0) {
        char *s = strrchr(buf, ')');
        if (s) {
            s++;
            unsigned long long utime = 0, stime = 0, start = 0, vsize = 0;
            for (int field = 3; field <= 23 && *s; field++) {
                while (*s == ' ')
                    s++;
                char *end;
                unsigned long long v = strtoull(s, &end, 10);
                if (field == 14) utime = v;
                if (field == 15) stime = v;
                if (field == 22) start = v;
                if (field == 23) vsize = v;
                while (*end && *end != ' ')
                    end++;
                s = end;
            }
            p->cpu_seconds = (double)(utime + stime) / (double)tck;
            if (boot_time_seconds > 0)
                p->start_time_seconds = boot_time_seconds + (double)start / (double)tck;
            p->virtual_memory_bytes = vsize;
        }
    }

    /* /proc/self/statm: "size resident shared ..." in pages. */
    if (util_read_small_file("/proc/self/statm", buf, sizeof(buf)) > 0) {
        unsigned long long size = 0, resident = 0;
        if (sscanf(buf, "%llu %llu", &size, &resident) == 2)
            p->resident_memory_bytes = resident * (unsigned long long)page;
    }

    DIR *d = opendir("/proc/self/fd");
    if (d) {
        int self = dirfd(d);
        uint64_t n = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            if (atoi(e->d_name) == self) continue; /* the descriptor reading the directory */
            n++;
        }
        closedir(d);
        p->open_fds = n;
    }

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        p->max_fds = rl.rlim_cur == RLIM_INFINITY ? (uint64_t)INT64_MAX : (uint64_t)rl.rlim_cur;
}

static int64_t clamp_i64(uint64_t v) {
    return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

typedef struct pw {
    metrics_writer *w;
    int err;
} pw;

static void note(pw *c, int rc) {
    if (rc != 0 && c->err == 0) c->err = rc;
}

static void one_i(pw *c, const char *name, const char *help, metrics_type type, const char *unit,
                  int64_t v) {
    note(c, metrics_family_begin(c->w, name, help, type, unit));
    note(c, metrics_sample_int(c->w, NULL, 0, v));
}

static void one_d(pw *c, const char *name, const char *help, metrics_type type, const char *unit,
                  double v) {
    note(c, metrics_family_begin(c->w, name, help, type, unit));
    note(c, metrics_sample_double(c->w, NULL, 0, v));
}

int metrics_write_process(metrics_writer *w, const metrics_process *p) {
    if (!w || !p) return METRICS_ERR_ARG;
    pw c = {w, 0};
    one_i(&c, "process_resident_memory_bytes", "Resident memory size in bytes.", METRICS_GAUGE,
          "bytes", clamp_i64(p->resident_memory_bytes));
    one_i(&c, "process_virtual_memory_bytes", "Virtual memory size in bytes.", METRICS_GAUGE,
          "bytes", clamp_i64(p->virtual_memory_bytes));
    one_d(&c, "process_cpu_seconds", "Total user and system CPU time spent in seconds.",
          METRICS_COUNTER, "seconds", p->cpu_seconds);
    one_d(&c, "process_start_time_seconds",
          "Start time of the process since unix epoch in seconds.", METRICS_GAUGE, "seconds",
          p->start_time_seconds);
    one_i(&c, "process_open_fds", "Number of open file descriptors.", METRICS_GAUGE, NULL,
          clamp_i64(p->open_fds));
    one_i(&c, "process_max_fds", "Maximum number of open file descriptors.", METRICS_GAUGE, NULL,
          clamp_i64(p->max_fds));
    return c.err;
}
