/* memkv-exporter's untrusted-text parsers: target addresses (exporter/target.c, from a
 * /scrape?target= query parameter) and the config file (exporter/options.c).
 *
 * The first byte picks the parser, the rest is the input. Checks beyond "no crash":
 *  - target_parse: an accepted address has a canonical form that parses again to the same
 *    address (a fixed point), never holds '@', '?', a TLS scheme or a control character, and
 *    has a port in 1…65535 (or a unix path starting with '/');
 *  - exp_options_load_text: whatever it accepts stays within its bounds (auth entries, names
 *    NUL-terminated, each entry with exactly one password source, positive timeouts). */
#include "fuzz.h"

#include "options.h"
#include "target.h"

#include <string.h>
#include <strings.h>

static void check_target(const char *text) {
    target_addr a, b;
    char err[200];
    if (target_parse(text, &a, err, sizeof(err)) != 0) {
        FUZZ_CHECK(err[0] != '\0');
        return;
    }
    FUZZ_CHECK(!strchr(text, '@') && !strchr(text, '?'));
    FUZZ_CHECK(strncasecmp(text, "rediss://", 9) != 0);
    for (const char *p = a.canonical; *p; p++)
        FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
    if (a.is_unix) {
        FUZZ_CHECK(a.path[0] == '/');
    } else {
        FUZZ_CHECK(a.port >= 1 && a.port <= 65535);
        FUZZ_CHECK(a.host[0] != '\0');
    }
    FUZZ_CHECK(target_parse(a.canonical, &b, err, sizeof(err)) == 0);
    FUZZ_CHECK(strcmp(a.canonical, b.canonical) == 0);
    FUZZ_CHECK(a.is_unix == b.is_unix && a.is_proxy == b.is_proxy && a.port == b.port);
    FUZZ_CHECK(strcmp(a.host, b.host) == 0 && strcmp(a.path, b.path) == 0);
}

static void check_config(const char *text, size_t len) {
    static exp_options o; /* large: not on the stack */
    char err[EXP_ERR_LEN];
    exp_options_default(&o);
    if (exp_options_load_text(&o, text, len, err, sizeof(err)) != 0) {
        FUZZ_CHECK(strncmp(err, "at line ", 8) == 0);
        return;
    }
    FUZZ_CHECK(o.nauths <= EXP_MAX_AUTHS);
    for (size_t i = 0; i < o.nauths; i++) {
        const exp_auth *a = &o.auths[i];
        FUZZ_CHECK(memchr(a->name, '\0', sizeof(a->name)) && a->name[0]);
        FUZZ_CHECK(!!a->password_file[0] != !!a->password_env[0]);
        FUZZ_CHECK(exp_options_find_auth(&o, a->name) == a);
    }
    FUZZ_CHECK(o.timeout > 0 && o.connect_timeout > 0 && o.max_reply_bytes >= 1024);
    FUZZ_CHECK(o.max_targets >= 1 && o.listen_port >= 0 && o.listen_port <= 65535);
    FUZZ_CHECK(memchr(o.target, '\0', sizeof(o.target)) != NULL);
    (void)exp_options_check(&o, err, sizeof(err));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 65536) return 0;
    char *text = malloc(size);
    if (!text) return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    if (data[0] & 1)
        check_config(text, size - 1);
    else
        check_target(text); /* up to the first NUL, as from a query string */
    free(text);
    return 0;
}
