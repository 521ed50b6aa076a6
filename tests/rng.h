/* rng.h -- the seeded PRNG of wormhole's randomized tests, fuzz harnesses and
 * benchmarks: check_seed() takes WH_SEED (or the clock) and prints it, so a
 * failing run can be replayed; check_rand() is xorshift64*. Header-only. */
#ifndef WH_TEST_RNG_H
#define WH_TEST_RNG_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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

#endif
