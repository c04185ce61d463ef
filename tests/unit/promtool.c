#include "promtool.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int promtool_check_metrics(const char *body, char *out, size_t cap) {
    if (system("command -v promtool >/dev/null 2>&1") != 0)
        fail_msg("promtool not found: install Debian's prometheus (scripts/lib.sh TEST_PACKAGES)");
    char path[] = "/tmp/memkv-promtool-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "promtool check metrics >%s 2>&1", path);
    FILE *p = popen(cmd, "w");
    assert_non_null(p);
    assert_int_equal(fwrite(body, 1, strlen(body), p), strlen(body));
    int status = pclose(p);
    assert_true(WIFEXITED(status));
    ssize_t n = read(fd, out, cap - 1);
    assert_true(n >= 0);
    out[n] = '\0';
    close(fd);
    unlink(path);
    return WEXITSTATUS(status);
}
