/* fuzz_mon_input.c -- libFuzzer target over what the monitor reads from others: status files, instance files, publisher output.
 *
 * The first byte picks the parser (0: status document, 1: instance file,
 * 2: output lines fed in chunks); the rest is the input. Built with
 * -DMON_FUZZ_STANDALONE it is a regression test that replays every file of
 * a corpus directory, and every prefix of each, without libFuzzer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/mon_config.h"
#include "monitor/mon_health.h"
#include "monitor/mon_logtail.h"
#include "protocol/status_file.h"
#include "tests/fuzz_replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count_line(void *ctx, const char *line, size_t len)
{
    size_t *n = ctx;
    if (strlen(line) != len || len > MON_LINE_MAX)
        abort();
    (*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mon_logtail tail;
    char err[1024];
    if (size < 1)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % 3) {
    case 0: {
        json_t *o = NULL;
        int rc = status_parse(text, len, 42, &o, err, sizeof err);
        if ((rc == 0) != (o != NULL))
            abort();
        json_decref(o);
        break;
    }
    case 1: {
        json_error_t jerr;
        json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        mon_spec *spec = NULL;
        if (root) {
            int rc = mon_spec_from_json(root, "fuzz.json", &spec, err, sizeof err);
            if ((rc == 0) != (spec != NULL) || (spec && (!spec->launch || !spec->normalized)))
                abort();
        }
        mon_spec_free(spec);
        json_decref(root);
        break;
    }
    default: {
        size_t lines = 0, chunk = 1 + (len ? (unsigned char)text[0] % 64 : 0);
        mon_logtail_init(&tail);
        for (size_t off = 0; off < len; off += chunk)
            mon_logtail_feed(&tail, text + off, len - off < chunk ? len - off : chunk, count_line,
                             &lines);
        mon_logtail_flush(&tail, count_line, &lines);
        const char *e = mon_logtail_error_line(&tail);
        if (strlen(e) >= MON_EXIT_LINE_MAX)
            abort();
        break;
    }
    }
    return 0;
}

#ifdef MON_FUZZ_STANDALONE
/* Each corpus file and every prefix of it. */
static void replay_prefixes(void *opaque, const uint8_t *data, size_t len)
{
    (void)opaque;
    for (size_t cut = 0; cut <= len; cut++)
        LLVMFuzzerTestOneInput(data, cut);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    int files = fuzz_replay(1, argv + 1, replay_prefixes, NULL);
    if (files < 0)
        return 1;
    printf("fuzz_mon_input_corpus: %d files replayed\n", files);
    return files > 0 ? 0 : 1;
}
#endif
