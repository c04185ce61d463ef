/* symbolize — return addresses of this process to function names, with elfutils libdwfl.
 *
 * libdwfl reports the process's modules from /proc/self/maps and reads their symbol tables
 * (.symtab when the binary has one, .dynsym otherwise, debug files under /usr/lib/debug when
 * installed). Every answer is cached per address, and names are interned, so a profile with
 * many stacks through the same code costs one libdwfl lookup per distinct address. */
#include "profiler/profiler.h"

#include "alloc/alloc.h"
#include "util/util.h"

#include <elfutils/libdwfl.h>
#ifdef MEMKV_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An address in no known module makes us re-read the mappings, at most this often. */
#define SYM_REREPORT_US 1000000

typedef struct sym_entry {
    uint64_t addr;
    const char *func; /* interned; NULL = not found (as of report generation `gen`) */
    const char *file; /* interned module path, or NULL */
    uint32_t gen;
    uint32_t used;
} sym_entry;

struct prof_symbolizer {
    Dwfl *dwfl;
    uint32_t gen;           /* bumped by each report of the modules */
    int64_t last_report_us; /* monotonic */
    sym_entry *tab;         /* open addressing, power-of-two capacity */
    size_t cap, n;
    char **strs; /* interned strings, open addressing */
    size_t scap, sn;
    int64_t libdw_bytes; /* what libdw's calls kept of the heap, net */
};

/* Heap bytes this thread holds, net (jemalloc's per-thread counters): read around libdw's
 * calls, it tells what libdw keeps, which no wrapper of ours counts. 0 without jemalloc. */
static int64_t thread_net_bytes(void) {
#ifdef MEMKV_HAVE_JEMALLOC
    static _Thread_local uint64_t *allocp, *deallocp;
    static _Thread_local int failed;
    if (!allocp && !failed) {
        size_t sz = sizeof(allocp);
        if (mallctl("thread.allocatedp", &allocp, &sz, NULL, 0) != 0 ||
            mallctl("thread.deallocatedp", &deallocp, &sz, NULL, 0) != 0) {
            allocp = deallocp = NULL;
            failed = 1;
        }
    }
    return allocp ? (int64_t)(*allocp - *deallocp) : 0;
#else
    return 0;
#endif
}

/* Local debug files only: dwfl_standard_find_debuginfo falls back to the debuginfod servers
 * named in DEBUGINFOD_URLS, i.e. network fetches that can stall the worker for minutes. With
 * that variable set, only the build-id lookup under /usr/lib/debug is used. */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                          const char *file_name, const char *debuglink_file,
                          GElf_Word debuglink_crc, char **debuginfo_file_name) {
    const char *urls = getenv("DEBUGINFOD_URLS");
    if (urls && urls[0])
        return dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file,
                                            debuglink_crc, debuginfo_file_name);
    return dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file,
                                        debuglink_crc, debuginfo_file_name);
}

static const Dwfl_Callbacks proc_callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = find_debuginfo,
};

static int report_modules(prof_symbolizer *s) {
    int64_t before = thread_net_bytes();
    dwfl_report_begin(s->dwfl);
    int rc = dwfl_linux_proc_report(s->dwfl, getpid());
    if (dwfl_report_end(s->dwfl, NULL, NULL) != 0) rc = -1;
    s->libdw_bytes += thread_net_bytes() - before;
    s->gen++;
    s->last_report_us = util_monotonic_us();
    return rc == 0 ? 0 : -1;
}

prof_symbolizer *prof_symbolizer_new(void) {
    int64_t before = thread_net_bytes();
    Dwfl *d = dwfl_begin(&proc_callbacks);
    int64_t used = thread_net_bytes() - before;
    if (!d) return NULL;
    prof_symbolizer *s = alloc_calloc(ALLOC_SUB_PROFILER, sizeof(*s));
    s->dwfl = d;
    s->libdw_bytes = used;
    if (report_modules(s) != 0) {
        dwfl_end(d);
        alloc_free(ALLOC_SUB_PROFILER, s);
        return NULL;
    }
    return s;
}

void prof_symbolizer_free(prof_symbolizer *s) {
    if (!s) return;
    dwfl_end(s->dwfl);
    for (size_t i = 0; i < s->scap; i++)
        alloc_free(ALLOC_SUB_PROFILER, s->strs[i]);
    alloc_free(ALLOC_SUB_PROFILER, s->strs);
    alloc_free(ALLOC_SUB_PROFILER, s->tab);
    alloc_free(ALLOC_SUB_PROFILER, s);
}

size_t prof_symbolizer_cached(const prof_symbolizer *s) {
    return s ? s->n : 0;
}

size_t prof_symbolizer_libdw_bytes(const prof_symbolizer *s) {
    return s && s->libdw_bytes > 0 ? (size_t)s->libdw_bytes : 0;
}

static uint64_t hash_addr(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static uint64_t hash_str(const char *p) {
    return util_str_hash(UTIL_STR_HASH_SEED, p);
}

static void strs_grow(prof_symbolizer *s) {
    size_t ncap = s->scap ? s->scap * 2 : 256;
    char **n = alloc_calloc(ALLOC_SUB_PROFILER, ncap * sizeof(*n));
    for (size_t i = 0; i < s->scap; i++) {
        if (!s->strs[i]) continue;
        size_t j = hash_str(s->strs[i]) & (ncap - 1);
        while (n[j])
            j = (j + 1) & (ncap - 1);
        n[j] = s->strs[i];
    }
    alloc_free(ALLOC_SUB_PROFILER, s->strs);
    s->strs = n;
    s->scap = ncap;
}

static const char *intern(prof_symbolizer *s, const char *str) {
    if (!str) return NULL;
    if ((s->sn + 1) * 4 > s->scap * 3) strs_grow(s);
    size_t j = hash_str(str) & (s->scap - 1);
    while (s->strs[j]) {
        if (strcmp(s->strs[j], str) == 0) return s->strs[j];
        j = (j + 1) & (s->scap - 1);
    }
    s->strs[j] = alloc_strndup(ALLOC_SUB_PROFILER, str, strlen(str));
    s->sn++;
    return s->strs[j];
}

static void tab_grow(prof_symbolizer *s) {
    size_t ncap = s->cap ? s->cap * 2 : 1024;
    sym_entry *n = alloc_calloc(ALLOC_SUB_PROFILER, ncap * sizeof(*n));
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->tab[i].used) continue;
        size_t j = hash_addr(s->tab[i].addr) & (ncap - 1);
        while (n[j].used)
            j = (j + 1) & (ncap - 1);
        n[j] = s->tab[i];
    }
    alloc_free(ALLOC_SUB_PROFILER, s->tab);
    s->tab = n;
    s->cap = ncap;
}

/* The slot of addr: its entry, or the empty slot where it goes. */
static sym_entry *tab_slot(prof_symbolizer *s, uint64_t addr) {
    if ((s->n + 1) * 4 > s->cap * 3) tab_grow(s);
    size_t j = hash_addr(addr) & (s->cap - 1);
    while (s->tab[j].used && s->tab[j].addr != addr)
        j = (j + 1) & (s->cap - 1);
    return &s->tab[j];
}

static void lookup(prof_symbolizer *s, uint64_t addr, sym_entry *e) {
    Dwfl_Module *m = dwfl_addrmodule(s->dwfl, (Dwarf_Addr)addr);
    if (!m && util_monotonic_us() - s->last_report_us >= SYM_REREPORT_US) {
        /* Perhaps a library loaded after the last report. */
        report_modules(s);
        m = dwfl_addrmodule(s->dwfl, (Dwarf_Addr)addr);
    }
    e->func = NULL;
    e->file = NULL;
    e->gen = s->gen;
    if (!m) return;
    /* The first lookup in a module loads its symbol table. */
    int64_t before = thread_net_bytes();
    Dwarf_Addr start = 0;
    const char *modname = dwfl_module_info(m, NULL, &start, NULL, NULL, NULL, NULL, NULL);
    const char *name = dwfl_module_addrname(m, (GElf_Addr)addr);
    s->libdw_bytes += thread_net_bytes() - before;
    e->file = intern(s, modname);
    if (name && name[0]) {
        /* "__libc_start_main@@GLIBC_2.34": the version is not part of the function's name. */
        const char *at = strchr(name, '@');
        if (at && at > name) {
            char plain[256];
            snprintf(plain, sizeof(plain), "%.*s", (int)(at - name), name);
            e->func = intern(s, plain);
        } else {
            e->func = intern(s, name);
        }
        return;
    }
    /* No symbol covers it (a static function of a stripped library): name it after its module
     * and offset, as a reader can look it up. Inside jemalloc everything is jemalloc's own, so
     * it gets jemalloc's private prefix and is cut off the stacks like the named ones. */
    const char *base = modname ? strrchr(modname, '/') : NULL;
    base = base ? base + 1 : modname ? modname : "?";
    char buf[300];
    if (strncmp(base, "libjemalloc", 11) == 0)
        snprintf(buf, sizeof(buf), "je_internal@%s+0x%" PRIx64, base, (uint64_t)(addr - start));
    else
        snprintf(buf, sizeof(buf), "%s+0x%" PRIx64, base, (uint64_t)(addr - start));
    e->func = intern(s, buf);
}

int prof_symbolize(void *ctx, uint64_t addr, char *func, size_t fcap, char *file, size_t filecap) {
    prof_symbolizer *s = ctx;
    const sym_entry *found = NULL;
    if (s) {
        sym_entry *e = tab_slot(s, addr);
        if (!e->used) {
            e->used = 1;
            e->addr = addr;
            s->n++;
            lookup(s, addr, e);
        } else if (!e->file && (e->gen != s->gen ||
                                util_monotonic_us() - s->last_report_us >= SYM_REREPORT_US)) {
            /* In no module as of an older report of the modules, or long enough ago that a
             * library may have been loaded since: ask again. */
            lookup(s, addr, e);
        }
        found = e;
    }
    if (file && filecap) snprintf(file, filecap, "%s", found && found->file ? found->file : "");
    if (found && found->func) {
        if (func && fcap) snprintf(func, fcap, "%s", found->func);
        return 0;
    }
    if (func && fcap) snprintf(func, fcap, "0x%" PRIx64, addr);
    return -1;
}
