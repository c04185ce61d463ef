#include "server/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int current_level = LOG_NOTICE;
static FILE *log_fp;

void log_set_level(int level) {
    current_level = level;
}

int log_get_level(void) {
    return current_level;
}

int log_set_file(const char *path) {
    FILE *fp = stdout;
    if (path && path[0]) {
        fp = fopen(path, "a");
        if (!fp) return -1;
    }
    if (log_fp && log_fp != stdout) fclose(log_fp);
    log_fp = fp;
    return 0;
}

void log_close(void) {
    if (log_fp && log_fp != stdout) fclose(log_fp);
    log_fp = NULL;
}

void log_msg(int level, const char *fmt, ...) {
    static const char marks[] = ".-*#";
    if (level < current_level) return;
    if (level < LOG_DEBUG || level > LOG_WARNING) level = LOG_WARNING;
    FILE *fp = log_fp ? log_fp : stdout;

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char when[64];
    size_t off = strftime(when, sizeof(when), "%d %b %Y %H:%M:%S.", &tm);
    snprintf(when + off, sizeof(when) - off, "%03d", (int)(tv.tv_usec / 1000));

    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(fp, "%d:M %s %c %s\n", (int)getpid(), when, marks[level], msg);
    fflush(fp);
}
