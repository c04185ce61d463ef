#include "server/lathist.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Every value lands in a bucket whose bounds hold it, buckets tile the range without gaps, and
 * a bucket is at most 1/16 of its low bound wide. */
static void test_geometry(void **state) {
    (void)state;
    uint64_t prev_high = 0;
    for (uint32_t i = 0; i < LATHIST_MAX_BUCKETS; i++) {
        uint64_t lo = lathist_bucket_low(i), hi = lathist_bucket_high(i);
        assert_true(lo <= hi);
        if (i) assert_int_equal(lo, prev_high + 1);
        if (lo >= LATHIST_LINEAR) assert_true((hi - lo + 1) * LATHIST_LINEAR <= lo);
        assert_int_equal(lathist_index(lo), i);
        assert_int_equal(lathist_index(hi), i);
        prev_high = hi;
    }
    assert_int_equal(prev_high, LATHIST_MAX_US);
    assert_int_equal(lathist_index(UINT64_MAX), LATHIST_MAX_BUCKETS - 1); /* clamped */
    for (uint64_t v = 0; v < 100000; v += 7) {
        uint32_t i = lathist_index(v);
        assert_true(lathist_bucket_low(i) <= v && v <= lathist_bucket_high(i));
    }
}

static void test_percentiles(void **state) {
    (void)state;
    lathist *h = NULL;
    assert_int_equal(lathist_percentile(h, 50), 0);
    for (uint64_t v = 1; v <= 100; v++)
        lathist_record(&h, v, ALLOC_SUB_OTHER);
    assert_int_equal(h->total, 100);
    assert_int_equal(lathist_percentile(h, 0), 1);
    assert_int_equal(lathist_percentile(h, 10), 10); /* exact below 16 */
    uint64_t p50 = lathist_percentile(h, 50), p99 = lathist_percentile(h, 99);
    assert_true(p50 >= 50 && p50 <= 50 + 50 / 16 + 1);
    assert_true(p99 >= 99 && p99 <= 99 + 99 / 16 + 1);
    assert_true(lathist_percentile(h, 100) >= 100);
    assert_true(p50 <= p99 && p99 <= lathist_percentile(h, 99.9));
    lathist_record(&h, 5000000, ALLOC_SUB_OTHER); /* grows the array */
    assert_true(lathist_percentile(h, 100) >= 5000000);
    lathist_free(&h, ALLOC_SUB_OTHER);
    assert_null(h);
}

typedef struct points {
    uint64_t bound[64], cum[64];
    int n;
} points;

static void collect(void *ctx, uint64_t bound, uint64_t cum) {
    points *p = ctx;
    p->bound[p->n] = bound;
    p->cum[p->n++] = cum;
}

/* The power-of-two CDF of LATENCY HISTOGRAM: bounds grow, counts grow, the last is the total. */
static void test_pow2_cdf(void **state) {
    (void)state;
    lathist *h = NULL;
    uint64_t values[] = {0, 1, 1, 6, 33, 33, 1000, 70000};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        lathist_record(&h, values[i], ALLOC_SUB_OTHER);
    points p = {.n = 0};
    int n = lathist_pow2_cdf(h, collect, &p);
    assert_int_equal(n, p.n);
    assert_int_equal(lathist_pow2_cdf(h, NULL, NULL), n);
    assert_int_equal(p.bound[0], 1);
    assert_int_equal(p.cum[0], 3); /* 0, 1, 1 */
    assert_int_equal(p.bound[1], 8);
    assert_int_equal(p.cum[1], 4);
    assert_int_equal(p.bound[2], 32);
    assert_int_equal(p.cum[2], 6);
    for (int i = 1; i < n; i++) {
        assert_true(p.bound[i] > p.bound[i - 1] && (p.bound[i] & (p.bound[i] - 1)) == 0);
        assert_true(p.cum[i] > p.cum[i - 1]);
    }
    assert_int_equal(p.cum[n - 1], 8);
    assert_int_equal(lathist_pow2_cdf(NULL, collect, &p), 0);
    lathist_free(&h, ALLOC_SUB_OTHER);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_geometry),
        cmocka_unit_test(test_percentiles),
        cmocka_unit_test(test_pow2_cdf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
