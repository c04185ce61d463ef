#include "db/geohash.h"

#include <math.h>

/* Every expression below keeps Redis's order of floating-point operations: a search must keep
 * or drop the same member at the edge of its shape, and GEOPOS print the same digits. */

#define EARTH_RADIUS_M 6372797.560856
#define MERCATOR_MAX 20037726.37
#define DEG_TO_RAD (M_PI / 180.0)

typedef struct geo_range {
    double min, max;
} geo_range;

static const geo_range LONG_RANGE = {GEO_LONG_MIN, GEO_LONG_MAX};
static const geo_range LAT_RANGE = {GEO_LAT_MIN, GEO_LAT_MAX};

typedef struct geo_area {
    geo_range lon, lat;
} geo_area;

static inline double deg_to_rad(double deg) {
    return deg * DEG_TO_RAD;
}

static inline double rad_to_deg(double rad) {
    return rad / DEG_TO_RAD;
}

/* The 32 bits of v moved to the even bit positions of the result. */
static uint64_t spread_even(uint32_t v) {
    uint64_t x = v;
    x = (x | x << 16) & UINT64_C(0x0000FFFF0000FFFF);
    x = (x | x << 8) & UINT64_C(0x00FF00FF00FF00FF);
    x = (x | x << 4) & UINT64_C(0x0F0F0F0F0F0F0F0F);
    x = (x | x << 2) & UINT64_C(0x3333333333333333);
    x = (x | x << 1) & UINT64_C(0x5555555555555555);
    return x;
}

/* The inverse: the even bits of x packed into 32 bits. */
static uint32_t gather_even(uint64_t x) {
    x &= UINT64_C(0x5555555555555555);
    x = (x | x >> 1) & UINT64_C(0x3333333333333333);
    x = (x | x >> 2) & UINT64_C(0x0F0F0F0F0F0F0F0F);
    x = (x | x >> 4) & UINT64_C(0x00FF00FF00FF00FF);
    x = (x | x >> 8) & UINT64_C(0x0000FFFF0000FFFF);
    x = (x | x >> 16) & UINT64_C(0x00000000FFFFFFFF);
    return (uint32_t)x;
}

/* The cell of (lon, lat) at `step` bits per coordinate over the given ranges. The offsets are
 * converted to 32 bits as Redis converts them: a coordinate at its range's maximum gives 2^step,
 * one bit more than the step (GEOADD of longitude 180 stores a 53-bit score, as in Redis). */
static geo_cell encode(geo_range lon_r, geo_range lat_r, double lon, double lat, int step) {
    double lat_off = (lat - lat_r.min) / (lat_r.max - lat_r.min);
    double lon_off = (lon - lon_r.min) / (lon_r.max - lon_r.min);
    lat_off *= (double)(UINT64_C(1) << step);
    lon_off *= (double)(UINT64_C(1) << step);
    geo_cell c = {spread_even((uint32_t)lat_off) | spread_even((uint32_t)lon_off) << 1,
                  (uint8_t)step};
    return c;
}

static geo_area decode(geo_cell c) {
    uint32_t ilat = gather_even(c.bits), ilon = gather_even(c.bits >> 1);
    double lat_scale = LAT_RANGE.max - LAT_RANGE.min;
    double lon_scale = LONG_RANGE.max - LONG_RANGE.min;
    double cells = (double)(UINT64_C(1) << c.step);
    geo_area a;
    a.lat.min = LAT_RANGE.min + (ilat * 1.0 / cells) * lat_scale;
    a.lat.max = LAT_RANGE.min + ((uint32_t)(ilat + 1) * 1.0 / cells) * lat_scale;
    a.lon.min = LONG_RANGE.min + (ilon * 1.0 / cells) * lon_scale;
    a.lon.max = LONG_RANGE.min + ((uint32_t)(ilon + 1) * 1.0 / cells) * lon_scale;
    return a;
}

int geo_valid(double lon, double lat) {
    return !(lon < GEO_LONG_MIN || lon > GEO_LONG_MAX || lat < GEO_LAT_MIN || lat > GEO_LAT_MAX);
}

uint64_t geo_score_of(double lon, double lat) {
    geo_cell c = encode(LONG_RANGE, LAT_RANGE, lon, lat, GEO_STEP_MAX);
    return c.bits << (52 - 2 * GEO_STEP_MAX);
}

/* A double converted to 64 bits as x86-64's conversion does it (Redis casts a score so): below
 * 2^63 truncated as a signed number (out of range: 2^63), from 2^63 to 2^64 exact, above 0. */
static uint64_t score_bits(double score) {
    const double two63 = 9223372036854775808.0;
    if (score < two63) {
        if (score > -two63) return (uint64_t)(int64_t)score;
        return UINT64_C(1) << 63;
    }
    if (score < 2 * two63) return (uint64_t)(score - two63) ^ UINT64_C(1) << 63;
    return 0;
}

void geo_position_of(double score, double xy[2]) {
    geo_cell c = {score_bits(score), GEO_STEP_MAX};
    geo_area a = decode(c);
    xy[0] = (a.lon.min + a.lon.max) / 2;
    if (xy[0] > GEO_LONG_MAX) xy[0] = GEO_LONG_MAX;
    if (xy[0] < GEO_LONG_MIN) xy[0] = GEO_LONG_MIN;
    xy[1] = (a.lat.min + a.lat.max) / 2;
    if (xy[1] > GEO_LAT_MAX) xy[1] = GEO_LAT_MAX;
    if (xy[1] < GEO_LAT_MIN) xy[1] = GEO_LAT_MIN;
}

void geo_hash_string(double score, char out[11]) {
    static const char alphabet[] = "0123456789bcdefghjkmnpqrstuvwxyz";
    static const geo_range std_lon = {-180, 180}, std_lat = {-90, 90};
    double xy[2];
    geo_position_of(score, xy);
    uint64_t bits = encode(std_lon, std_lat, xy[0], xy[1], GEO_STEP_MAX).bits;
    for (int i = 0; i < 10; i++)
        out[i] = alphabet[(bits >> (52 - (i + 1) * 5)) & 0x1f];
    out[10] = '0'; /* 52 bits give ten characters; the eleventh is 0, as Redis's */
}

double geo_distance(double lon1, double lat1, double lon2, double lat2) {
    double lat1r = deg_to_rad(lat1), lon1r = deg_to_rad(lon1);
    double lat2r = deg_to_rad(lat2), lon2r = deg_to_rad(lon2);
    double u = sin((lat2r - lat1r) / 2), v = sin((lon2r - lon1r) / 2);
    return 2.0 * EARTH_RADIUS_M * asin(sqrt(u * u + cos(lat1r) * cos(lat2r) * v * v));
}

/* ---- searches ---------------------------------------------------------------------------- */

/* The cell moved by one along a coordinate (its bits at `mask`: odd for the longitude, even for
 * the latitude), wrapping around. The other coordinate's bits are filled with ones so that the
 * carry of the addition crosses them. */
static uint64_t cell_move(uint64_t bits, int step, uint64_t mask, int d) {
    uint64_t mine = bits & mask, other = bits & ~mask;
    uint64_t fill = ~mask >> (64 - 2 * step);
    if (d > 0)
        mine += fill + 1;
    else
        mine = (mine | fill) - (fill + 1);
    return (mine & (mask >> (64 - 2 * step))) | other;
}

#define LON_BITS UINT64_C(0xaaaaaaaaaaaaaaaa)
#define LAT_BITS UINT64_C(0x5555555555555555)

static geo_cell neighbour(geo_cell c, int east, int north) {
    if (east) c.bits = cell_move(c.bits, c.step, LON_BITS, east);
    if (north) c.bits = cell_move(c.bits, c.step, LAT_BITS, north);
    return c;
}

/* The precision at which the centre's cell and its neighbours cover a radius. */
static int steps_for_radius(double metres, double lat) {
    if (metres == 0) return GEO_STEP_MAX;
    int step = 1;
    while (metres < MERCATOR_MAX) {
        metres *= 2;
        step++;
    }
    step -= 2;
    if (lat > 66 || lat < -66) { /* meridians converge towards the poles */
        step--;
        if (lat > 80 || lat < -80) step--;
    }
    if (step < 1) step = 1;
    if (step > GEO_STEP_MAX) step = GEO_STEP_MAX;
    return step;
}

/* The shape's bounding box: min longitude, min latitude, max longitude, max latitude. The box
 * is widest on the side away from the equator. */
static void bounding_box(const geo_shape *s, double b[4]) {
    double lon = s->xy[0], lat = s->xy[1];
    double height = s->unit * (s->type == GEO_CIRCLE ? s->radius : s->height / 2);
    double width = s->unit * (s->type == GEO_CIRCLE ? s->radius : s->width / 2);
    const double lat_delta = rad_to_deg(height / EARTH_RADIUS_M);
    const double lon_delta_top =
        rad_to_deg(width / EARTH_RADIUS_M / cos(deg_to_rad(lat + lat_delta)));
    const double lon_delta_bottom =
        rad_to_deg(width / EARTH_RADIUS_M / cos(deg_to_rad(lat - lat_delta)));
    int south = lat < 0;
    b[0] = south ? lon - lon_delta_bottom : lon - lon_delta_top;
    b[2] = south ? lon + lon_delta_bottom : lon + lon_delta_top;
    b[1] = lat - lat_delta;
    b[3] = lat + lat_delta;
}

enum { N_CENTRE, N_NORTH, N_SOUTH, N_EAST, N_WEST, N_NE, N_NW, N_SE, N_SW };

static void cells_at(const geo_shape *s, int step, geo_cell cells[9]) {
    geo_cell c = encode(LONG_RANGE, LAT_RANGE, s->xy[0], s->xy[1], step);
    cells[N_CENTRE] = c;
    cells[N_NORTH] = neighbour(c, 0, 1);
    cells[N_SOUTH] = neighbour(c, 0, -1);
    cells[N_EAST] = neighbour(c, 1, 0);
    cells[N_WEST] = neighbour(c, -1, 0);
    cells[N_NE] = neighbour(c, 1, 1);
    cells[N_NW] = neighbour(c, -1, 1);
    cells[N_SE] = neighbour(c, 1, -1);
    cells[N_SW] = neighbour(c, -1, -1);
}

static void drop(geo_cell cells[9], int a, int b, int c) {
    cells[a].bits = cells[b].bits = cells[c].bits = 0;
    cells[a].step = cells[b].step = cells[c].step = 0;
}

void geo_search_cells(const geo_shape *s, geo_cell cells[9]) {
    double b[4];
    bounding_box(s, b);
    double metres = s->type == GEO_CIRCLE
                        ? s->radius
                        : sqrt((s->width / 2) * (s->width / 2) + (s->height / 2) * (s->height / 2));
    metres *= s->unit;
    int step = steps_for_radius(metres, s->xy[1]);
    cells_at(s, step, cells);
    /* One step coarser when a neighbour does not reach the box's edge. */
    if (step > 1 &&
        (decode(cells[N_NORTH]).lat.max < b[3] || decode(cells[N_SOUTH]).lat.min > b[1] ||
         decode(cells[N_EAST]).lon.max < b[2] || decode(cells[N_WEST]).lon.min > b[0]))
        cells_at(s, --step, cells);
    if (step < 2) return;
    /* Neighbours beyond a side of the centre's cell that the box does not cross are left out. */
    geo_area a = decode(cells[N_CENTRE]);
    if (a.lat.min < b[1]) drop(cells, N_SOUTH, N_SW, N_SE);
    if (a.lat.max > b[3]) drop(cells, N_NORTH, N_NE, N_NW);
    if (a.lon.min < b[0]) drop(cells, N_WEST, N_SW, N_NW);
    if (a.lon.max > b[2]) drop(cells, N_EAST, N_SE, N_NE);
}

void geo_cell_scores(geo_cell c, double *min, double *max) {
    int shift = 52 - 2 * c.step;
    *min = (double)(c.bits << shift);
    *max = (double)((c.bits + 1) << shift);
}

int geo_within(const geo_shape *s, double score, double xy[2], double *dist) {
    geo_position_of(score, xy);
    if (s->type == GEO_CIRCLE) {
        *dist = geo_distance(s->xy[0], s->xy[1], xy[0], xy[1]);
        return *dist <= s->radius * s->unit;
    }
    double lon_dist = geo_distance(xy[0], xy[1], s->xy[0], xy[1]);
    double lat_dist = geo_distance(xy[0], xy[1], xy[0], s->xy[1]);
    if (lon_dist > s->width * s->unit / 2 || lat_dist > s->height * s->unit / 2) return 0;
    *dist = geo_distance(s->xy[0], s->xy[1], xy[0], xy[1]);
    return 1;
}
