/* publisher.c -- the publisher object's services to every thread: waking the loop and recording a fatal error. */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "publisher/pub.h"
#include "publisher/pub_mutex.h"

_Thread_local char pub_thread_anchor;

void pub_wake(publisher *p)
{
    uint64_t one = 1;
    ssize_t r = write(p->efd, &one, sizeof one);
    (void)r;   /* EAGAIN: the counter is already non-zero, the loop wakes anyway */
}

void pub_fatal(publisher *p, const char *fmt, ...)
{
    if (atomic_exchange(&p->fatal_claimed, true))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->fatal, sizeof p->fatal, fmt, ap);
    va_end(ap);
    atomic_store(&p->has_fatal, true);
    pub_wake(p);
}
