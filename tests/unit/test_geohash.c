/* The geometry under the GEO commands (src/db/geohash.c): known values Redis gives, that a
 * stored position decodes to its own cell, and the property a search relies on, that the cells
 * it visits cover every member its shape holds. Replies as a whole are compared with Redis's
 * by tests/integration/test_geo.py and the differential test. */
#include "db/geohash.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static uint64_t rng_state = 42;
static uint64_t rnd(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double uniform(double lo, double hi) {
    return lo + (hi - lo) * (double)(rnd() >> 11) / 9007199254740992.0;
}

static void test_known_values(void **state) {
    (void)state;
    /* GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania, in Redis 7.0 */
    uint64_t palermo = geo_score_of(13.361389, 38.115556);
    uint64_t catania = geo_score_of(15.087269, 37.502669);
    assert_true(palermo == 3479099956230698ULL);
    assert_true(catania == 3479447370796909ULL);
    double xy[2], ab[2];
    geo_position_of((double)palermo, xy);
    geo_position_of((double)catania, ab);
    char buf[64];
    snprintf(buf, sizeof(buf), "%.4f", geo_distance(xy[0], xy[1], ab[0], ab[1]));
    assert_string_equal(buf, "166274.1516");
    char hash[12] = {0};
    geo_hash_string((double)palermo, hash);
    assert_string_equal(hash, "sqc8b49rny0");
    /* scores no GEOADD makes decode to the clamped corners, as Redis's cast gives them */
    geo_position_of(-1, xy);
    assert_true(xy[0] == GEO_LONG_MAX && xy[1] == GEO_LAT_MAX);
    geo_position_of(INFINITY, xy);
    geo_position_of(0, ab);
    assert_true(xy[0] == ab[0] && xy[1] == ab[1]);
    assert_true(!geo_valid(180.0000001, 0) && !geo_valid(0, -85.06) && geo_valid(-180, 85.05));
}

/* A stored position decodes within its cell: half a cell's side from where it was put. */
static void test_position_round_trip(void **state) {
    (void)state;
    double cell_lon = 360.0 / (1 << 26), cell_lat = (GEO_LAT_MAX - GEO_LAT_MIN) / (1 << 26);
    for (int i = 0; i < 100000; i++) {
        double lon = uniform(-180, 180), lat = uniform(GEO_LAT_MIN, GEO_LAT_MAX), xy[2];
        uint64_t s = geo_score_of(lon, lat);
        assert_true(s < (1ULL << 52));
        geo_position_of((double)s, xy);
        assert_true(fabs(xy[0] - lon) <= cell_lon / 2 * 1.0000001);
        assert_true(fabs(xy[1] - lat) <= cell_lat / 2 * 1.0000001);
        assert_true(geo_score_of(xy[0], xy[1]) == s); /* the centre is in its own cell */
    }
}

static int in_cells(const geo_cell cells[9], uint64_t score) {
    for (int i = 0; i < 9; i++) {
        if (cells[i].step == 0) continue;
        double min, max;
        geo_cell_scores(cells[i], &min, &max);
        if ((double)score >= min && (double)score < max) return 1;
    }
    return 0;
}

/* Every point a circle or a box holds lies in a cell the search visits (away from the
 * antimeridian and the Mercator limits, which Redis's cells do not wrap). */
static void test_cells_cover_the_shape(void **state) {
    (void)state;
    static const double units[] = {1, 1000, 0.3048, 1609.34};
    int held = 0;
    for (int i = 0; i < 20000; i++) {
        geo_shape s;
        memset(&s, 0, sizeof(s));
        s.xy[0] = uniform(-179, 179);
        s.xy[1] = uniform(-84, 84);
        s.unit = units[rnd() % 4];
        double scale = pow(10, uniform(0, 6)) / s.unit; /* 1 m to 1000 km */
        if (rnd() % 2) {
            s.type = GEO_CIRCLE;
            s.radius = scale;
        } else {
            s.type = GEO_BOX;
            s.width = scale * uniform(0.1, 2);
            s.height = scale * uniform(0.1, 2);
        }
        geo_cell cells[9];
        geo_search_cells(&s, cells);
        double reach = scale * s.unit / 6372797.560856 * 180 / M_PI * 2; /* degrees, generous */
        double lon_reach = reach / cos((fabs(s.xy[1]) + reach) * M_PI / 180);
        if (fabs(s.xy[1]) + reach > 85 || fabs(s.xy[0]) + lon_reach > 180 || lon_reach < 0)
            continue; /* the shape may cross a limit */
        for (int j = 0; j < 20; j++) {
            double lon = s.xy[0] + uniform(-lon_reach, lon_reach);
            double lat = s.xy[1] + uniform(-reach, reach), xy[2], dist;
            uint64_t score = geo_score_of(lon, lat);
            if (!geo_within(&s, (double)score, xy, &dist)) continue;
            held++;
            assert_true(in_cells(cells, score));
        }
    }
    assert_true(held > 20000); /* the points were not all outside */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_position_round_trip),
        cmocka_unit_test(test_cells_cover_the_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
