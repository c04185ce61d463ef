/* Key prefixes (src/db/kstats.c): the fold of a key to its prefix and the table of prefixes
 * that every write goes through.
 *
 * Input: byte 0 = depth (mod 9), byte 1 = prefix cap (mod 8: 1, 2, 3, 8, 64, 4096, ...), byte
 * 2 = number of separators (1..4), then the separators (a byte kstats refuses becomes ':'),
 * then records: an operation byte (low 2 bits: add, remove, change, add with an expire) and a
 * length byte, then that many key bytes. Checks beyond "no crash":
 *  - kstats_prefix_of gives the same answer as the byte-by-byte kstats_prefix_of_ref, byte for
 *    byte, at every depth, for every key (each in an exact-size allocation, so ASan sees any
 *    read past it);
 *  - the keys go in and out of a kstats (unique names, as in a key space: adding a live key
 *    changes it) and, every 16 records and at the end, kstats_diff against one rebuilt from the
 *    live keys with no cap finds no difference: every tracked prefix exact, the others summed
 *    in other, whatever the remembered folds answered;
 *  - with every key removed, no prefix is left. */
#include "fuzz.h"

#include "db/db.h"
#include "db/kstats.h"

#include <string.h>

#define MAX_KEYS 256

typedef struct live_key {
    char *name;
    ks_key k;
} live_key;

static kstats *make(const char *seps, int depth, size_t cap) {
    kstats_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.separators, sizeof(cfg.separators), "%s", seps);
    cfg.depth = depth;
    cfg.prefix_max = cap;
    cfg.top_keys = 2;
    char err[160];
    kstats *ks = kstats_new(1, &cfg, err, sizeof(err));
    FUZZ_CHECK(ks != NULL);
    return ks;
}

static void check_fold(const kstats *ks, const uint8_t *key, size_t klen) {
    char *k = malloc(klen ? klen : 1);
    FUZZ_CHECK(k != NULL);
    memcpy(k, key, klen);
    for (int d = 0; d <= KS_PREFIX_DEPTH_MAX; d++) {
        char a[KS_PREFIX_LEN_MAX], b[KS_PREFIX_LEN_MAX];
        size_t alen = 0, blen = 0;
        int ha = kstats_prefix_of(ks, k, klen, d, a, &alen);
        int hb = kstats_prefix_of_ref(ks, k, klen, d, b, &blen);
        FUZZ_CHECK(ha == hb);
        FUZZ_CHECK(alen == blen && alen <= KS_PREFIX_LEN_MAX);
        FUZZ_CHECK(memcmp(a, b, alen) == 0);
    }
    free(k);
}

static void check_table(kstats *ks, const live_key *keys, size_t n, const char *seps, int depth) {
    kstats *fresh = make(seps, depth, 1000000);
    for (size_t i = 0; i < n; i++)
        kstats_add(fresh, &keys[i].k);
    char diff[1024];
    size_t nd = kstats_diff(ks, fresh, 0, diff, sizeof(diff));
    if (nd) fprintf(stderr, "%s", diff);
    FUZZ_CHECK(nd == 0);
    kstats_free(fresh);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const size_t caps[8] = {1, 2, 3, 8, 64, 4096, 5, 16};
    if (size < 3) return 0;
    int depth = data[0] % (KS_PREFIX_DEPTH_MAX + 1);
    size_t cap = caps[data[1] % 8];
    size_t nsep = 1 + data[2] % 4, p = 3;
    if (size < p + nsep) return 0;
    char seps[KS_SEPARATORS_MAX + 1] = {0};
    for (size_t i = 0; i < nsep; i++) {
        char c = (char)data[p + i];
        seps[i] = c == 0 || c == '#' || c == '*' || (c >= '0' && c <= '9') ? ':' : c;
    }
    p += nsep;
    kstats *ks = make(seps, depth, cap);
    live_key keys[MAX_KEYS];
    size_t n = 0, records = 0;
    while (p + 2 <= size) {
        unsigned op = data[p] & 3;
        size_t klen = data[p + 1];
        p += 2;
        if (klen > size - p) klen = size - p;
        const uint8_t *key = data + p;
        p += klen;
        check_fold(ks, key, klen);
        size_t i = 0;
        while (i < n && !(keys[i].k.klen == klen && memcmp(keys[i].name, key, klen) == 0))
            i++;
        uint64_t bytes = 1 + (uint64_t)data[p - klen - 2] * 7 + klen;
        if (i < n && op == 1) { /* remove */
            kstats_remove(ks, &keys[i].k);
            free(keys[i].name);
            keys[i] = keys[--n];
        } else if (i < n) { /* change: its size and expire */
            ks_key before = keys[i].k;
            keys[i].k.bytes = bytes;
            keys[i].k.when = op == 3 ? 60000 : -1;
            kstats_change(ks, &before, &keys[i].k);
        } else if (op != 1 && n < MAX_KEYS) { /* add */
            live_key *x = &keys[n++];
            x->name = malloc(klen ? klen : 1);
            FUZZ_CHECK(x->name != NULL);
            memcpy(x->name, key, klen);
            x->k = (ks_key){x->name, klen, 0, DB_TYPE_STRING, bytes, klen, op == 3 ? 60000 : -1, 0};
            kstats_add(ks, &x->k);
        }
        if (++records % 16 == 0) check_table(ks, keys, n, seps, depth);
    }
    check_table(ks, keys, n, seps, depth);
    for (size_t i = 0; i < n; i++) {
        kstats_remove(ks, &keys[i].k);
        free(keys[i].name);
    }
    FUZZ_CHECK(kstats_prefix_count(ks) == 0);
    kstats_free(ks);
    return 0;
}
