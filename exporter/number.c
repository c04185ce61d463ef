/* exp_parse_number (parse.h): the one number reader of every parser here. */
#include "parse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int exp_parse_number(const char *s, size_t len, double *out) {
    if (!s) return -1;
    size_t i = 0, end = len;
    while (i < end && is_space(s[i]))
        i++;
    while (end > i && is_space(s[end - 1]))
        end--;
    if (end > i && s[end - 1] == '%') end--;
    if (i == end || end - i > 64) return -1;
    char buf[65];
    memcpy(buf, s + i, end - i);
    buf[end - i] = '\0';
    const char *p = buf;
    int neg = 0;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    if (strcasecmp(p, "inf") == 0 || strcasecmp(p, "infinity") == 0) {
        *out = neg ? -INFINITY : INFINITY;
        return 0;
    }
    if (strcasecmp(p, "nan") == 0) {
        *out = NAN;
        return 0;
    }
    /* digits [. digits] [e [sign] digits], a digit before the exponent; strtod then reads
     * exactly that (the "C" locale: nothing here calls setlocale) */
    const char *num = p;
    size_t nd = 0;
    while (*p >= '0' && *p <= '9') {
        p++;
        nd++;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            p++;
            nd++;
        }
    }
    if (nd == 0) return -1;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!(*p >= '0' && *p <= '9')) return -1;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p) return -1;
    double v = strtod(num, NULL);
    *out = neg ? -v : v;
    return 0;
}
