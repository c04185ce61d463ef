#include "server/evloop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "alloc/alloc.h"

#define EVLOOP_MAX_EVENTS 256

/* Separate read and write handlers: installing a write handler for a client with pending
 * output must not take its read handler away. */
typedef struct file_slot {
    int mask;
    evloop_file_fn *rfn, *wfn;
    void *data;
} file_slot;

typedef struct timer {
    struct timer *next;
    long long id;
    int64_t when_us;
    evloop_timer_fn *fn;
    void *data;
} timer;

struct evloop {
    int epfd;
    int setsize;
    int stop;
    file_slot *files;
    timer *timers;
    long long next_timer_id;
    evloop_hook_fn *before_sleep;
    void *before_sleep_data;
    int64_t max_busy_us; /* longest time between waking up and sleeping again */
    struct epoll_event events[EVLOOP_MAX_EVENTS];
};

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

evloop *evloop_new(int setsize) {
    evloop *el = alloc_calloc(ALLOC_SUB_OTHER, sizeof(*el));
    el->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (el->epfd < 0) {
        alloc_free(ALLOC_SUB_OTHER, el);
        return NULL;
    }
    el->setsize = setsize;
    el->files = alloc_calloc(ALLOC_SUB_OTHER, sizeof(file_slot) * (size_t)setsize);
    el->next_timer_id = 1;
    return el;
}

void evloop_free(evloop *el) {
    if (!el) return;
    close(el->epfd);
    while (el->timers) {
        timer *t = el->timers;
        el->timers = t->next;
        alloc_free(ALLOC_SUB_OTHER, t);
    }
    alloc_free(ALLOC_SUB_OTHER, el->files);
    alloc_free(ALLOC_SUB_OTHER, el);
}

int evloop_setsize(const evloop *el) {
    return el->setsize;
}

static uint32_t epoll_bits(int mask) {
    return ((mask & EV_READ) ? EPOLLIN : 0) | ((mask & EV_WRITE) ? EPOLLOUT : 0);
}

int evloop_add(evloop *el, int fd, int mask, evloop_file_fn *fn, void *data) {
    if (fd < 0 || fd >= el->setsize) {
        errno = ERANGE;
        return -1;
    }
    file_slot *f = &el->files[fd];
    struct epoll_event ev = {.events = epoll_bits(f->mask | mask), .data.fd = fd};
    int op = f->mask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(el->epfd, op, fd, &ev) < 0) return -1;
    f->mask |= mask;
    if (mask & EV_READ) f->rfn = fn;
    if (mask & EV_WRITE) f->wfn = fn;
    f->data = data;
    return 0;
}

void evloop_del(evloop *el, int fd, int mask) {
    if (fd < 0 || fd >= el->setsize) return;
    file_slot *f = &el->files[fd];
    if (!f->mask) return;
    int left = f->mask & ~mask;
    struct epoll_event ev = {.events = epoll_bits(left), .data.fd = fd};
    epoll_ctl(el->epfd, left ? EPOLL_CTL_MOD : EPOLL_CTL_DEL, fd, &ev);
    f->mask = left;
}

int evloop_mask(const evloop *el, int fd) {
    return (fd >= 0 && fd < el->setsize) ? el->files[fd].mask : 0;
}

long long evloop_timer_add(evloop *el, int64_t ms, evloop_timer_fn *fn, void *data) {
    timer *t = alloc_malloc(ALLOC_SUB_OTHER, sizeof(*t));
    t->id = el->next_timer_id++;
    t->when_us = now_us() + ms * 1000;
    t->fn = fn;
    t->data = data;
    t->next = el->timers;
    el->timers = t;
    return t->id;
}

int evloop_timer_reschedule(evloop *el, long long id, int64_t ms) {
    for (timer *t = el->timers; t; t = t->next) {
        if (t->id != id) continue;
        t->when_us = now_us() + ms * 1000;
        return 1;
    }
    return 0;
}

void evloop_set_before_sleep(evloop *el, evloop_hook_fn *fn, void *data) {
    el->before_sleep = fn;
    el->before_sleep_data = data;
}

void evloop_stop(evloop *el) {
    el->stop = 1;
}

static int next_timeout_ms(const evloop *el) {
    if (!el->timers) return -1;
    int64_t earliest = el->timers->when_us;
    for (const timer *t = el->timers->next; t; t = t->next)
        if (t->when_us < earliest) earliest = t->when_us;
    int64_t wait = earliest - now_us();
    if (wait <= 0) return 0;
    return (int)((wait + 999) / 1000);
}

static void run_timers(evloop *el) {
    int64_t now = now_us();
    timer **link = &el->timers;
    while (*link) {
        timer *t = *link;
        if (t->when_us <= now) {
            int64_t next = t->fn(el, t->data);
            if (next < 0) {
                /* fn may have added timers (at the head): find t's link again */
                link = &el->timers;
                while (*link != t)
                    link = &(*link)->next;
                *link = t->next;
                alloc_free(ALLOC_SUB_OTHER, t);
                continue;
            }
            t->when_us = now_us() + next * 1000;
        }
        link = &t->next;
    }
}

int64_t evloop_peek_max_busy_us(const evloop *el) {
    return el->max_busy_us;
}

int64_t evloop_take_max_busy_us(evloop *el) {
    int64_t v = el->max_busy_us;
    el->max_busy_us = 0;
    return v;
}

static void dispatch(evloop *el, int n) {
    for (int i = 0; i < n; i++) {
        int fd = el->events[i].data.fd;
        uint32_t e = el->events[i].events;
        int mask = 0;
        if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) mask |= EV_READ;
        if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) mask |= EV_WRITE;
        /* A handler may have unwatched or closed this fd earlier in this batch, or the read
         * handler just now: check the mask again before each call. */
        file_slot *f = &el->files[fd];
        if ((mask & EV_READ) && (f->mask & EV_READ)) f->rfn(el, fd, f->data, EV_READ);
        if ((mask & EV_WRITE) && (f->mask & EV_WRITE)) f->wfn(el, fd, f->data, EV_WRITE);
    }
}

void evloop_poll(evloop *el) {
    /* Its own event array: the loop's one is being walked by the caller's dispatch. */
    struct epoll_event saved[EVLOOP_MAX_EVENTS];
    memcpy(saved, el->events, sizeof(saved));
    int n = epoll_wait(el->epfd, el->events, EVLOOP_MAX_EVENTS, 0);
    if (n > 0) dispatch(el, n);
    memcpy(el->events, saved, sizeof(saved));
}

void evloop_run(evloop *el) {
    el->stop = 0;
    int64_t woke_us = 0;
    while (!el->stop) {
        if (el->before_sleep) el->before_sleep(el, el->before_sleep_data);
        if (el->stop) break;
        if (woke_us) {
            /* How long the loop kept everyone waiting this turn: the event-loop stall. */
            int64_t busy = now_us() - woke_us;
            if (busy > el->max_busy_us) el->max_busy_us = busy;
        }
        int n = epoll_wait(el->epfd, el->events, EVLOOP_MAX_EVENTS, next_timeout_ms(el));
        woke_us = now_us();
        if (n > 0) dispatch(el, n);
        run_timers(el);
    }
}
