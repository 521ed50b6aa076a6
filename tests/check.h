/* check.h -- the minimal assertion kit shared by wormhole's C tests.
 *
 * CHECK(cond) and CHECK_EQ_* record a failure with file:line and what was
 * expected versus what came, and carry on; check_done() prints
 * "N passed, N failed" and returns the exit status for main.
 *
 * Randomized tests draw from check_rand() after check_seed(), which prints
 * the seed so that WH_SEED=N replays a failing run. */
#ifndef WH_TEST_CHECK_H
#define WH_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "rng.h"   /* next to this file: tests that see only include/ use it too */

static int check_passed, check_failed;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (cond) {                                                            \
            check_passed++;                                                    \
        } else {                                                               \
            check_failed++;                                                    \
            fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                      \
    } while (0)

#define CHECK_EQ_INT(got, want)                                                \
    do {                                                                       \
        long long g_ = (long long)(got), w_ = (long long)(want);              \
        if (g_ == w_) {                                                        \
            check_passed++;                                                    \
        } else {                                                               \
            check_failed++;                                                    \
            fprintf(stderr, "%s:%d: FAILED: %s: expected %lld, got %lld\n",    \
                    __FILE__, __LINE__, #got, w_, g_);                         \
        }                                                                      \
    } while (0)

#define CHECK_EQ_STR(got, want)                                                \
    do {                                                                       \
        const char *g_ = (got), *w_ = (want);                                  \
        if (g_ && w_ && strcmp(g_, w_) == 0) {                                 \
            check_passed++;                                                    \
        } else {                                                               \
            check_failed++;                                                    \
            fprintf(stderr, "%s:%d: FAILED: %s:\n  expected: %s\n  got:      %s\n", \
                    __FILE__, __LINE__, #got, w_ ? w_ : "(null)",              \
                    g_ ? g_ : "(null)");                                       \
        }                                                                      \
    } while (0)

static inline int check_done(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
