/* Unit tests of prefix folding (src/db/kstats.c): kstats_prefix_of against the byte-by-byte
 * reference (kstats_prefix_of_ref) and against a model written the way the rule reads (the
 * one of tests/integration/test_keyspace_stats.py: split at separators, fold each segment on
 * its own), on the cases the integration test names and on many generated keys: random mixes
 * of separators, digits, hex letters of both cases, other letters, '-', '#', '*', NUL and bytes
 * >= 0x80, 0 to 200 bytes, under several separator sets and at every depth. Each key lies
 * against an unreadable page (after it, then before it) and the output buffer ends at one, so
 * any read past the key or write past KS_PREFIX_LEN_MAX crashes. Then the prefix table: keys
 * added, changed and removed, every tracked prefix against a tally of the model's folds. */
#include "db/kstats.h"

#include "db/db.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static kstats *new_stats(const char *seps, int depth, size_t prefix_max) {
    kstats_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.separators, sizeof(cfg.separators), "%s", seps);
    cfg.depth = depth;
    cfg.prefix_max = prefix_max;
    cfg.top_keys = 4;
    char err[160];
    kstats *ks = kstats_new(1, &cfg, err, sizeof(err));
    if (!ks) fail_msg("kstats_new: %s", err);
    return ks;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void) { /* xorshift64 */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static size_t rnd_below(size_t n) {
    return (size_t)(rnd() % n);
}

/* ---- the model: the rule as kstats.h states it, one segment at a time ---- */

/* How often each rule fired, to show the generated keys reach them all. */
static unsigned long checked, too_long, hex_ids, numbers, without;

static int is_sep(const char *seps, unsigned char c) {
    return c != 0 && strchr(seps, c) != NULL;
}

static int is_digit(unsigned char c) {
    return c >= '0' && c <= '9';
}

static int is_hex_letter(unsigned char c) {
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static size_t model_segment(const unsigned char *s, size_t n, char *out) {
    if (n > 32) {
        too_long++;
        out[0] = '*';
        return 1;
    }
    int digit = 0, letter = 0, all_hex = 1;
    for (size_t i = 0; i < n; i++) {
        digit |= is_digit(s[i]);
        letter |= is_hex_letter(s[i]);
        all_hex &= is_digit(s[i]) || is_hex_letter(s[i]) || s[i] == '-';
    }
    if (digit && n >= 8 && all_hex && letter) {
        hex_ids++;
        out[0] = '*';
        return 1;
    }
    numbers += digit;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            out[o++] = (char)s[i];
        else if (i == 0 || !is_digit(s[i - 1]))
            out[o++] = '#';
    }
    return o;
}

static int model_fold(const char *seps, const unsigned char *key, size_t klen, int depth, char *out,
                      size_t *len) {
    int any = 0;
    for (size_t i = 0; i < klen; i++)
        any |= is_sep(seps, key[i]);
    *len = 0;
    if (!any) return 0;
    size_t o = 0, start = 0;
    for (int seg = 0;; seg++) {
        size_t end = start;
        while (end < klen && !is_sep(seps, key[end]))
            end++;
        o += model_segment(key + start, end - start, out + o);
        if (end == klen || seg == depth) break;
        out[o++] = (char)key[end];
        start = end + 1;
    }
    *len = o;
    return 1;
}

/* ---- keys against unreadable pages ---- */

static size_t page;
static unsigned char *key_area; /* [guard][page][guard] */
static char *out_area;          /* [page][guard]: the output buffer ends at the guard */

static void guards_setup(void) {
    page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *a =
        mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(a != MAP_FAILED);
    assert_int_equal(mprotect(a, page, PROT_NONE), 0);
    assert_int_equal(mprotect(a + 2 * page, page, PROT_NONE), 0);
    key_area = a + page;
    char *o = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(o != MAP_FAILED);
    assert_int_equal(mprotect(o + page, page, PROT_NONE), 0);
    out_area = o;
}

static void guards_teardown(void) {
    munmap(key_area - page, 3 * page);
    munmap(out_area, 2 * page);
}

/* The three folds of one key agree; the key once at the end of its page, once at the start. */
static void check_fold(const kstats *ks, const char *seps, const void *key, size_t klen,
                       int depth) {
    char want[KS_PREFIX_LEN_MAX], ref[KS_PREFIX_LEN_MAX];
    size_t want_len, ref_len, got_len;
    int want_has = model_fold(seps, key, klen, depth, want, &want_len);
    assert_true(want_len <= KS_PREFIX_LEN_MAX);
    without += !want_has;
    char *out = out_area + page - KS_PREFIX_LEN_MAX;
    for (int at_end = 0; at_end < 2; at_end++) {
        unsigned char *k = at_end ? key_area + page - klen : key_area;
        memcpy(k, key, klen);
        int ref_has = kstats_prefix_of_ref(ks, (const char *)k, klen, depth, ref, &ref_len);
        memset(out, 0xa5, KS_PREFIX_LEN_MAX);
        int got_has = kstats_prefix_of(ks, (const char *)k, klen, depth, out, &got_len);
        if (ref_has != want_has || ref_len != want_len || memcmp(ref, want, want_len) != 0 ||
            got_has != want_has || got_len != want_len || memcmp(out, want, want_len) != 0) {
            fprintf(stderr, "key (%zu bytes, separators \"%s\", depth %d):", klen, seps, depth);
            for (size_t i = 0; i < klen; i++)
                fprintf(stderr, " %02x", ((const unsigned char *)key)[i]);
            fprintf(stderr, "\nmodel %d '%.*s', reference %d '%.*s', fast %d '%.*s'\n", want_has,
                    (int)want_len, want, ref_has, (int)ref_len, ref, got_has, (int)got_len, out);
            fail_msg("folds differ");
        }
    }
    checked++;
}

/* ---- the integration test's cases, and the edges of each rule ---- */

typedef struct fold_case {
    const char *key;
    size_t klen;
    const char *seps;
    int depth;
    const char *want; /* NULL: no prefix */
    size_t wlen;
} fold_case;

/* Lengths from the literals, so a key may hold NUL. */
#define FOLD(key, seps, depth, want)                                                               \
    { key, sizeof(key) - 1, seps, depth, want, sizeof(want) - 1 }
#define NONE(key, seps, depth)                                                                     \
    { key, sizeof(key) - 1, seps, depth, NULL, 0 }

static const fold_case CASES[] = {
    FOLD("user:1001:profile:name", ":", 2, "user:#:profile"),
    FOLD("user:77:cart", ":", 2, "user:#:cart"),
    FOLD("user:12345:session", ":", 2, "user:#:session"),
    FOLD("order|2024|x", "|", 2, "order|#|x"),
    FOLD("a/b/c/d/e/f", "/", 2, "a/b/c"),
    FOLD("x:y|z/w", ":|/", 8, "x:y|z/w"),
    FOLD(":lead", ":", 2, ":lead"),
    FOLD("::", ":", 2, "::"),
    FOLD("trail:", ":", 2, "trail:"),
    FOLD("hex:deadbeef01:v", ":", 2, "hex:*:v"),
    FOLD("hex:deadbeef:v", ":", 2, "hex:deadbeef:v"),
    FOLD("id:0123456789abcdef0123456789abcdef0123:x", ":", 2, "id:*:x"),
    FOLD("num:123456789012:v", ":", 2, "num:#:v"),
    FOLD("date:2024-01-15:v", ":", 2, "date:#-#-#:v"),
    FOLD("uuid:123e4567-e89b-12d3-a456-426614174000", ":", 2, "uuid:*"),
    FOLD("uuid:123e4567-e89b-12d3-a456-426614174000", ":-", 8, "uuid:*-e#b-#d#-a#-#"),
    FOLD("n0:12ab34:7", ":", 2, "n#:#ab#:#"),
    NONE("plainkey", ":", 2),
    NONE("p", ":", 2),
    NONE("", ":", 2),
    FOLD("a1b2:c3", ":", 2, "a#b#:c#"),
    FOLD("bin\0ary:\xff\xfe:1", ":", 2, "bin\0ary:\xff\xfe:#"),
    FOLD("deep:1:2:3:4:5:6:7:8:9:10", ":", 2, "deep:#:#"),
    FOLD("deep:1:2:3:4:5:6:7:8:9:10", ":", 8, "deep:#:#:#:#:#:#:#:#"),
    FOLD(":abc", ":", 0, ""),
    FOLD(":", ":", 0, ""),
    FOLD("a:b", ":", 0, "a"),
    /* 32 bytes stay, 33 are '*'; at the end of the key and before a separator */
    FOLD("k:abcdefghijklmnopqrstuvwxyzABCDEF", ":", 2, "k:abcdefghijklmnopqrstuvwxyzABCDEF"),
    FOLD("k:abcdefghijklmnopqrstuvwxyzABCDEFG", ":", 2, "k:*"),
    FOLD("k:abcdefghijklmnopqrstuvwxyzABCDEF:x", ":", 2, "k:abcdefghijklmnopqrstuvwxyzABCDEF:x"),
    FOLD("k:abcdefghijklmnopqrstuvwxyzABCDEFG:x", ":", 2, "k:*:x"),
    FOLD("abcdefghijklmnopqrstuvwxyzABCDEFG:x", ":", 0, "*"),
    /* a long number stays '#' however long; a long segment of digits alone too, up to 32 */
    FOLD("k:12345678901234567890123456789012", ":", 2, "k:#"),
    FOLD("k:123456789012345678901234567890123", ":", 2, "k:*"),
    /* hex IDs: 8+ bytes, a digit and a letter a-f (either case), '-' allowed */
    FOLD("k:abcdef12", ":", 2, "k:*"),
    FOLD("k:abcde12", ":", 2, "k:abcde#"),
    FOLD("k:ABCDEF12", ":", 2, "k:*"),
    FOLD("k:-------1a", ":", 2, "k:*"),
    FOLD("k:--------", ":", 2, "k:--------"),
    FOLD("k:abcdefab", ":", 2, "k:abcdefab"),
    FOLD("k:12345678", ":", 2, "k:#"),
    FOLD("k:1234567g", ":", 2, "k:#g"),
    FOLD("k:1234567a:", ":", 2, "k:*:"),
    /* a hex character made a separator is no longer part of an ID */
    FOLD("xa12345678ax", "a", 2, "xa#ax"),
    FOLD("x-1234-abcd-5678-ef00", "-", 8, "x-#-abcd-#-ef#"),
    FOLD("k:1a2b3c4d", ":", 0, "k"),
    FOLD("\xff\xfe:1", "\xff", 2, "\xff\xfe:#"),
};

static void test_cases(void **state) {
    (void)state;
    for (size_t c = 0; c < sizeof(CASES) / sizeof(CASES[0]); c++) {
        const fold_case *t = &CASES[c];
        size_t klen = t->klen;
        kstats *ks = new_stats(t->seps, t->depth, 16);
        char out[KS_PREFIX_LEN_MAX];
        size_t len;
        int has = kstats_prefix_of(ks, t->key, klen, t->depth, out, &len);
        if (!t->want) {
            assert_int_equal(has, 0);
        } else {
            size_t wlen = t->wlen;
            if (!has || len != wlen || memcmp(out, t->want, wlen) != 0)
                fail_msg("case %zu: '%s' gave %d '%.*s', want '%s'", c, t->key, has, (int)len, out,
                         t->want);
        }
        for (int d = 0; d <= KS_PREFIX_DEPTH_MAX; d++)
            check_fold(ks, t->seps, t->key, klen, d);
        kstats_free(ks);
    }
}

/* ---- generated keys ---- */

static const char *const SEPARATOR_SETS[] = {":", ":|/", "-", "a", "\xff", ".-_ab:|/", "F", "#"};

/* A key made of runs, so that long digit runs, hex IDs and long segments are common. */
static size_t gen_key(const char *seps, unsigned char *k, size_t max) {
    size_t len = rnd_below(8) == 0 ? rnd_below(max + 1) : rnd_below(72);
    size_t n = 0;
    size_t nseps = strlen(seps);
    while (n < len) {
        size_t run = 1 + rnd_below(rnd_below(4) == 0 ? 40 : 10);
        unsigned kind = (unsigned)rnd_below(10);
        for (size_t i = 0; i < run && n < len; i++) {
            unsigned char c;
            switch (kind) {
            case 0:
                c = (unsigned char)seps[rnd_below(nseps)];
                break;
            case 1:
                c = (unsigned char)('0' + rnd_below(10));
                break;
            case 2:
                c = (unsigned char)("abcdefABCDEF"[rnd_below(12)]);
                break;
            case 3:
                c = (unsigned char)("0123456789abcdef-"[rnd_below(17)]);
                break;
            case 4:
                c = (unsigned char)('g' + rnd_below(20));
                break;
            case 5:
                c = (unsigned char)(0x80 + rnd_below(128));
                break;
            case 6:
                c = (unsigned char)("#*-\0 :|/._"[rnd_below(10)]);
                break;
            default:
                c = (unsigned char)rnd_below(256);
                break;
            }
            k[n++] = c;
            if (kind == 0) break; /* separators alone */
        }
    }
    return n;
}

static void test_generated(void **state) {
    (void)state;
    unsigned char key[200];
    for (size_t s = 0; s < sizeof(SEPARATOR_SETS) / sizeof(SEPARATOR_SETS[0]); s++) {
        const char *seps = SEPARATOR_SETS[s];
        if (strchr(seps, '#')) continue; /* refused by kstats_config_check */
        kstats *ks = new_stats(seps, KS_PREFIX_DEPTH_MAX, 16);
        for (int i = 0; i < 30000; i++) {
            size_t klen = gen_key(seps, key, sizeof(key));
            for (int d = 0; d <= KS_PREFIX_DEPTH_MAX; d++)
                check_fold(ks, seps, key, klen, d);
        }
        kstats_free(ks);
    }
    /* Every length around the 16-byte steps and the fast path's 64, separator last, first or
     * nowhere. */
    kstats *ks = new_stats(":", KS_PREFIX_DEPTH_MAX, 16);
    for (size_t klen = 0; klen <= 200; klen++) {
        for (int shape = 0; shape < 6; shape++) {
            for (size_t i = 0; i < klen; i++)
                key[i] = shape < 3 ? (unsigned char)('a' + i % 26) : (unsigned char)('0' + i % 10);
            if (klen && shape % 3 == 1) key[klen - 1] = ':';
            if (klen && shape % 3 == 2) key[0] = ':';
            for (int d = 0; d <= KS_PREFIX_DEPTH_MAX; d++)
                check_fold(ks, ":", key, klen, d);
        }
    }
    kstats_free(ks);
    print_message("%lu folds compared; segments: %lu too long, %lu hex IDs, %lu with numbers; "
                  "%lu keys without a prefix\n",
                  checked, too_long, hex_ids, numbers, without);
    assert_true(too_long > checked / 100 && hex_ids > checked / 100 && numbers > checked / 10 &&
                without > checked / 50);
}

/* ---- the prefix table ---- */

#define TALLY_MAX 4096
typedef struct tally {
    char name[KS_PREFIX_LEN_MAX];
    size_t len;
    uint64_t keys, bytes, vkeys;
} tally;

static tally tallies[TALLY_MAX];
static size_t ntally;

static tally *tally_of(const char *name, size_t len) {
    for (size_t i = 0; i < ntally; i++)
        if (tallies[i].len == len && memcmp(tallies[i].name, name, len) == 0) return &tallies[i];
    assert_true(ntally < TALLY_MAX);
    tally *t = &tallies[ntally++];
    memcpy(t->name, name, len);
    t->len = len;
    t->keys = t->bytes = t->vkeys = 0;
    return t;
}

static void check_table(kstats *ks, const char *seps, uint64_t none_keys) {
    size_t n;
    ks_totals none, other;
    ks_prefix *p = kstats_prefixes(ks, kstats_prefix_depth(ks), &n, &none, &other);
    assert_int_equal(none.keys, none_keys);
    assert_int_equal(other.keys, 0);
    size_t live = 0;
    for (size_t i = 0; i < ntally; i++)
        live += tallies[i].keys > 0;
    assert_int_equal(n, live);
    assert_int_equal(kstats_prefix_count(ks), live);
    for (size_t i = 0; i < n; i++) {
        tally *t = tally_of(p[i].name, p[i].len);
        if (t->keys != p[i].keys || t->bytes != p[i].bytes || t->vkeys != p[i].volatile_keys)
            fail_msg("prefix '%.*s' (separators %s): %llu keys %llu bytes, tally %llu %llu",
                     (int)p[i].len, p[i].name, seps, (unsigned long long)p[i].keys,
                     (unsigned long long)p[i].bytes, (unsigned long long)t->keys,
                     (unsigned long long)t->bytes);
    }
    kstats_prefixes_free(p, n);
}

#define NKEYS 3000
typedef struct model_key {
    unsigned char name[200];
    int live;
    ks_key k;
} model_key;

/* Keys of a few forms, as a key space has them: the same words around numbers of any length
 * (a prefix that is found again and again), hex IDs (some all digits, some over 32 bytes), a
 * number first, a separator that moves within a segment of the same length. */
static const char *const FAMILIES[] = {
    "user:%d:session", "cart:%d:items", "u%d:x",     "%d:lead",        "order:%d:line:", "ses:%x",
    "img|%d/%x.png",   "k:%d",          "q:%x/%x:v", "big:%x%x%x%x:x", "id-%x-%x:w"};

/* A family's key: each %d or %x of the form replaced by the next number, in decimal or hex. */
static size_t expand(unsigned char *k, size_t max, const char *form, const uint64_t *nums) {
    size_t n = 0;
    for (const char *f = form; *f && n + 20 < max; f++) {
        if (f[0] != '%' || (f[1] != 'd' && f[1] != 'x')) {
            k[n++] = (unsigned char)*f;
            continue;
        }
        unsigned base = f[1] == 'd' ? 10 : 16;
        char digits[24];
        size_t nd = 0;
        uint64_t v = *nums++;
        do {
            digits[nd++] = "0123456789abcdef"[v % base];
            v /= base;
        } while (v);
        while (nd)
            k[n++] = (unsigned char)digits[--nd];
        f++;
    }
    return n;
}

static size_t gen_family_key(unsigned char *k, size_t max) {
    uint64_t a = rnd() % (UINT64_C(1) << (4 * (1 + rnd_below(10)))), c = rnd();
    uint64_t nums[4] = {a, rnd() % 1000, c, c};
    return expand(k, max, FAMILIES[rnd_below(sizeof(FAMILIES) / sizeof(FAMILIES[0]))], nums);
}

/* The live table against one rebuilt from its keys with no cap (kstats_diff: every tracked
 * prefix exact, the untracked ones summed in other). */
static void check_against_rebuild(kstats *ks, const model_key *m, const char *seps) {
    kstats *fresh = new_stats(seps, kstats_prefix_depth(ks), 1000000);
    for (int i = 0; i < NKEYS; i++)
        if (m[i].live) kstats_add(fresh, &m[i].k);
    char diff[2000];
    size_t n = kstats_diff(ks, fresh, 0, diff, sizeof(diff));
    if (n) fail_msg("%zu differences (separators %s):\n%s", n, seps, diff);
    kstats_free(fresh);
}

/* Keys come, change and go; with no cap the table holds exactly the model's prefixes with their
 * figures, and with any cap it agrees with one rebuilt from its keys. Short names and long ones
 * (over 16 bytes, up to the longest a fold gives). */
static void run_table(const char *seps, int depth, size_t prefix_max, int families) {
    static model_key m[NKEYS];
    kstats *ks = new_stats(seps, depth, prefix_max);
    int capped = prefix_max < 100000;
    ntally = 0;
    uint64_t none_keys = 0;
    memset(m, 0, sizeof(m));
    for (int i = 0; i < NKEYS; i++) {
        int again;
        do { /* names are unique in a key space (the top keys rely on it) */
            m[i].k.klen = families ? gen_family_key(m[i].name, sizeof(m[i].name))
                                   : gen_key(seps, m[i].name, sizeof(m[i].name));
            again = 0;
            for (int j = 0; j < i && !again; j++)
                again =
                    m[j].k.klen == m[i].k.klen && memcmp(m[j].name, m[i].name, m[i].k.klen) == 0;
        } while (again);
        m[i].k.key = (const char *)m[i].name;
        m[i].k.type = DB_TYPE_STRING;
        m[i].k.when = -1;
    }
    for (int step = 0; step < 20000; step++) {
        /* now and then a run on few keys, so that prefixes empty and come back */
        model_key *x = &m[rnd_below(step % 5000 < 1000 ? 20 : NKEYS)];
        char name[KS_PREFIX_LEN_MAX];
        size_t len;
        int has = model_fold(seps, x->name, x->k.klen, depth, name, &len);
        tally *t = has ? tally_of(name, len) : NULL;
        if (!x->live) {
            x->k.bytes = 1 + rnd_below(1000);
            x->k.when = rnd_below(3) == 0 ? 1000 : -1;
            kstats_add(ks, &x->k);
            x->live = 1;
            if (t) {
                t->keys++;
                t->bytes += x->k.bytes;
                t->vkeys += x->k.when >= 0;
            } else {
                none_keys++;
            }
        } else if (rnd_below(2)) {
            ks_key before = x->k;
            x->k.bytes = 1 + rnd_below(1000);
            x->k.when = rnd_below(3) == 0 ? 2000 : -1;
            kstats_change(ks, &before, &x->k);
            if (t) {
                t->bytes += x->k.bytes - before.bytes;
                t->vkeys += (uint64_t)(x->k.when >= 0) - (uint64_t)(before.when >= 0);
            }
        } else {
            kstats_remove(ks, &x->k);
            x->live = 0;
            if (t) {
                t->keys--;
                t->bytes -= x->k.bytes;
                t->vkeys -= x->k.when >= 0;
            } else {
                none_keys--;
            }
        }
        if (step % 1000 == 0) {
            if (!capped) check_table(ks, seps, none_keys);
            check_against_rebuild(ks, m, seps);
        }
    }
    if (!capped) check_table(ks, seps, none_keys);
    check_against_rebuild(ks, m, seps);
    for (int i = 0; i < NKEYS; i++)
        if (m[i].live) kstats_remove(ks, &m[i].k);
    assert_int_equal(kstats_prefix_count(ks), 0);
    kstats_free(ks);
}

static void test_prefix_table(void **state) {
    (void)state;
    for (size_t s = 0; s < 3; s++)
        run_table(SEPARATOR_SETS[s], 1 + (int)s * 3, 100000, 0);
}

/* The same with keys of a few forms, which kstats remembers the fold of; and under a cap, so
 * that some forms go untracked. */
static void test_prefix_table_families(void **state) {
    (void)state;
    run_table(":", 2, 100000, 1);
    run_table(":|/", 1, 100000, 1);
    run_table(":", 0, 100000, 1);
    run_table(":", 2, 3, 1);
    run_table(":|/", 8, 5, 1);
    run_table(":-/", 3, 100000, 1);
}

static int setup(void **state) {
    (void)state;
    guards_setup();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    guards_teardown();
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_generated),
        cmocka_unit_test(test_prefix_table),
        cmocka_unit_test(test_prefix_table_families),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
