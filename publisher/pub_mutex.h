/* pub_mutex.h -- a mutex that knows its holder in debug builds, so `_locked` functions can assert it.
 *
 * SQLite's sqlite3_mutex_held() habit: a function whose name ends in
 * _locked starts with assert(pub_mutex_held(&x->mu)). In builds without
 * NDEBUG each lock records the calling thread and each unlock checks and
 * clears it; with NDEBUG the record is not kept and the asserts vanish. The
 * cost in debug builds is one relaxed atomic store per lock and unlock. */
#ifndef WH_PUB_MUTEX_H
#define WH_PUB_MUTEX_H

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/clock.h"

typedef struct pub_mutex {
    pthread_mutex_t  mu;
    atomic_uintptr_t holder;   /* pub_thread_self() of the holder, 0 when free (debug builds) */
} pub_mutex;

/* One thread-local byte per thread (publisher.c); its address names the thread. */
extern _Thread_local char pub_thread_anchor;

static inline uintptr_t pub_thread_self(void) { return (uintptr_t)&pub_thread_anchor; }

static inline void pub_mutex_init(pub_mutex *m)
{
    pthread_mutex_init(&m->mu, NULL);
    atomic_init(&m->holder, 0);
}

static inline void pub_mutex_destroy(pub_mutex *m) { pthread_mutex_destroy(&m->mu); }

/* True when the calling thread holds m (always true with NDEBUG: use in asserts only). */
static inline bool pub_mutex_held(pub_mutex *m)
{
#ifndef NDEBUG
    return atomic_load_explicit(&m->holder, memory_order_relaxed) == pub_thread_self();
#else
    (void)m;
    return true;
#endif
}

static inline void pub_mutex_note_held(pub_mutex *m)
{
#ifndef NDEBUG
    assert(atomic_load_explicit(&m->holder, memory_order_relaxed) == 0);
    atomic_store_explicit(&m->holder, pub_thread_self(), memory_order_relaxed);
#else
    (void)m;
#endif
}

static inline void pub_mutex_note_free(pub_mutex *m)
{
#ifndef NDEBUG
    assert(pub_mutex_held(m));
    atomic_store_explicit(&m->holder, 0, memory_order_relaxed);
#else
    (void)m;
#endif
}

static inline void pub_mutex_lock(pub_mutex *m)
{
    pthread_mutex_lock(&m->mu);
    pub_mutex_note_held(m);
}

/* Takes m only if it is free; returns whether it did. */
static inline bool pub_mutex_trylock(pub_mutex *m)
{
    if (pthread_mutex_trylock(&m->mu) != 0)
        return false;
    pub_mutex_note_held(m);
    return true;
}

static inline void pub_mutex_unlock(pub_mutex *m)
{
    pub_mutex_note_free(m);
    pthread_mutex_unlock(&m->mu);
}

/* Waits on cond (m held, as pthread_cond_timedwait) for at most ms
 * milliseconds; returns early when signalled. m is held again on return. */
static inline void pub_mutex_wait(pub_mutex *m, pthread_cond_t *cond, int64_t ms)
{
    struct timespec ts = wh_cond_deadline(ms);
    pub_mutex_note_free(m);
    pthread_cond_timedwait(cond, &m->mu, &ts);
    pub_mutex_note_held(m);
}

#endif
