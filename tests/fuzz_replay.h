/* fuzz_replay.h -- the plain-program side of the libFuzzer targets: replays every file of the
 * corpus directories (or the single files) named on the command line.
 *
 * A target's standalone main (built without -fsanitize=fuzzer, run in the
 * unit suite) calls fuzz_replay with a function that feeds one input to
 * LLVMFuzzerTestOneInput, and whatever variants of it the target wants
 * (prefixes, mutants). Each input is read whole into a buffer of exactly its
 * size, so a sanitizer sees any read past its end. Directories are read in
 * name order, so a run with seeded mutations is the same on every machine.
 * Header-only; tests only. */
#ifndef WH_TESTS_FUZZ_REPLAY_H
#define WH_TESTS_FUZZ_REPLAY_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Called once per input; data is valid during the call only. */
typedef void (*fuzz_replay_fn)(void *opaque, const uint8_t *data, size_t len);

/* Reads path whole and calls run on it. Returns 0, or -1 after printing why
 * the file could not be read. */
static inline int fuzz_replay_file(const char *path, fuzz_replay_fn run, void *opaque)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, n;
    do {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) {
                fprintf(stderr, "%s: out of memory\n", path);
                free(buf);
                fclose(f);
                return -1;
            }
            buf = nb;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    int failed = ferror(f);
    fclose(f);
    uint8_t *exact = failed ? NULL : malloc(len ? len : 1);
    if (!exact) {
        fprintf(stderr, "%s: %s\n", path, failed ? "read error" : "out of memory");
        free(buf);
        return -1;
    }
    memcpy(exact, buf, len);
    free(buf);
    run(opaque, exact, len);
    free(exact);
    return 0;
}

static inline int fuzz_replay_is_input(const struct dirent *de)
{
    return de->d_name[0] != '.';
}

/* Replays each of the n paths: every regular file of a directory (names
 * starting with '.' aside), or the path itself if it is not a directory.
 * Returns the number of inputs replayed, or -1 after printing why a path
 * could not be read. */
static inline int fuzz_replay(int n, char **paths, fuzz_replay_fn run, void *opaque)
{
    int inputs = 0;
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
            if (fuzz_replay_file(paths[i], run, opaque) != 0)
                return -1;
            inputs++;
            continue;
        }
        struct dirent **names;
        int k = scandir(paths[i], &names, fuzz_replay_is_input, alphasort);
        if (k < 0) {
            perror(paths[i]);
            return -1;
        }
        int rc = 0;
        for (int j = 0; j < k; j++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", paths[i], names[j]->d_name);
            if (rc == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                rc = fuzz_replay_file(path, run, opaque);
                inputs += rc == 0;
            }
            free(names[j]);
        }
        free(names);
        if (rc != 0)
            return -1;
    }
    return inputs;
}

#endif
