/* evloop — a small epoll event loop: file events, one kind of periodic timer, and a hook that
 * runs before each sleep (where pending replies are flushed). Single-threaded. */
#ifndef MEMKV_EVLOOP_H
#define MEMKV_EVLOOP_H

#include <stdint.h>

#define EV_READ 1
#define EV_WRITE 2

typedef struct evloop evloop;
typedef void evloop_file_fn(evloop *el, int fd, void *data, int mask);
/* Returns the delay in ms until the next call, or -1 to remove the timer. */
typedef int64_t evloop_timer_fn(evloop *el, void *data);
typedef void evloop_hook_fn(evloop *el, void *data);

/* setsize: highest fd + 1 the loop can watch. Returns NULL on error (errno set). */
evloop *evloop_new(int setsize);
void evloop_free(evloop *el);
int evloop_setsize(const evloop *el);

/* Watch fd for mask (added to what is already watched) with fn as the handler of those
 * events; a fd has one read handler, one write handler and one data pointer.
 * Returns 0, or -1 with errno (ERANGE if fd >= setsize). */
int evloop_add(evloop *el, int fd, int mask, evloop_file_fn *fn, void *data);
void evloop_del(evloop *el, int fd, int mask);
int evloop_mask(const evloop *el, int fd);

/* Timers fire on the monotonic clock; returns an id > 0. */
long long evloop_timer_add(evloop *el, int64_t ms, evloop_timer_fn *fn, void *data);
/* Make timer `id` fire ms from now instead (0 if there is no such timer, else 1). */
int evloop_timer_reschedule(evloop *el, long long id, int64_t ms);
void evloop_set_before_sleep(evloop *el, evloop_hook_fn *fn, void *data);

void evloop_run(evloop *el); /* until evloop_stop */
/* Longest turn of the loop (from waking up to sleeping again) since the last call, in µs. */
int64_t evloop_take_max_busy_us(evloop *el);
int64_t evloop_peek_max_busy_us(const evloop *el);
void evloop_stop(evloop *el);
/* One pass over the file events ready now, without waiting and without timers (a busy script
 * serving other clients from inside itself). */
void evloop_poll(evloop *el);

#endif
