/* geohash — the geometry of Redis's GEO commands, computed as Redis 7.0 computes it, so that a
 * GEOADD gives the same sorted-set score and a search finds the same members in the same order.
 *
 * A position is stored as the score of a sorted-set member: a 52-bit geohash, 26 bits of
 * latitude (even bits) interleaved with 26 bits of longitude (odd bits), each the cell index of
 * the coordinate in 2^26 equal steps over [-180, 180] and [-85.05112878, 85.05112878] (the Web
 * Mercator limits). A score decodes to the centre of its cell, clamped to those limits.
 *
 * A search covers its shape's bounding box with the cell holding the centre, at a precision
 * estimated from the radius, and its eight neighbours (some dropped when the box does not reach
 * them); each cell is one score range of the sorted set. Distances are haversine distances on a
 * sphere of radius 6372797.560856 m. Pure: no server code. */
#ifndef MEMKV_GEOHASH_H
#define MEMKV_GEOHASH_H

#include <stddef.h>
#include <stdint.h>

#define GEO_STEP_MAX 26
#define GEO_LAT_MIN -85.05112878
#define GEO_LAT_MAX 85.05112878
#define GEO_LONG_MIN -180.0
#define GEO_LONG_MAX 180.0

typedef struct geo_cell {
    uint64_t bits;
    uint8_t step; /* bits per coordinate; 0: no cell (a neighbour left out) */
} geo_cell;

/* 1 when (lon, lat) may be stored (within the limits above). */
int geo_valid(double lon, double lat);
/* The score GEOADD stores for a valid position. */
uint64_t geo_score_of(double lon, double lat);
/* The position a score decodes to (any score a sorted set may hold, converted to 64 bits as
 * Redis's cast does on x86-64). */
void geo_position_of(double score, double xy[2]);
/* GEOHASH's 11 characters (a standard base-32 geohash over [-90, 90]; the last is always '0'). */
void geo_hash_string(double score, char out[11]);
/* Great-circle distance in metres. */
double geo_distance(double lon1, double lat1, double lon2, double lat2);

enum { GEO_CIRCLE, GEO_BOX };
typedef struct geo_shape {
    int type;
    double xy[2];         /* centre: longitude, latitude */
    double radius;        /* GEO_CIRCLE, in `unit`s */
    double width, height; /* GEO_BOX, in `unit`s */
    double unit;          /* metres per unit */
} geo_shape;

/* The cells a search visits, in Redis's order (the centre, then N S E W NE NW SE SW); a cell
 * with step 0 is skipped. */
void geo_search_cells(const geo_shape *s, geo_cell cells[9]);
/* The score range [*min, *max) of the members inside a cell. */
void geo_cell_scores(geo_cell c, double *min, double *max);
/* 1 when the point of `score` lies in the shape; then xy is its position and *dist its
 * distance from the centre in metres. */
int geo_within(const geo_shape *s, double score, double xy[2], double *dist);

#endif
