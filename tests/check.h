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
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static uint64_t check_rng_state = 1;

/* Seeds check_rand from WH_SEED, or from the clock, and prints the seed. */
static inline uint64_t check_seed(const char *name)
{
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 20);
    const char *env = getenv("WH_SEED");
    if (env && *env)
        seed = strtoull(env, NULL, 10);
    printf("%s: seed %" PRIu64 " (replay with WH_SEED=%" PRIu64 ")\n", name, seed, seed);
    fflush(stdout);
    check_rng_state = seed ? seed : 1;
    return seed;
}

/* xorshift64*: fast, and the same sequence everywhere for a seed. */
static inline uint64_t check_rand(void)
{
    check_rng_state ^= check_rng_state >> 12;
    check_rng_state ^= check_rng_state << 25;
    check_rng_state ^= check_rng_state >> 27;
    return check_rng_state * 0x2545f4914f6cdd1dULL;
}

static inline int check_done(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
