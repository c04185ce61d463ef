/* log — Redis-style log lines ("pid:M 24 Nov 2026 22:11:48.123 * text") with levels. */
#ifndef MEMKV_LOG_H
#define MEMKV_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_VERBOSE, LOG_NOTICE, LOG_WARNING };

void log_set_level(int level);
int log_get_level(void);
/* "" means standard output. Returns 0, or -1 with errno if the file cannot be opened. */
int log_set_file(const char *path);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_close(void);

#endif
