/* fuzz_position.c -- libFuzzer target for the one parser of position texts (core/position.c),
 * with stability checks: a failed parse leaves the position unset and says where the text is
 * wrong; what parses formats within WH_POS_*_TEXT_MAX to a text that parses to the same
 * position, and formatting that text again gives it back unchanged.
 *
 * The first input byte picks the parser: 0 physical, 1 logical, 2 both (the rest is
 * PHYSICAL '\n' LOGICAL, through wh_pos_parse). Built with -Dfuzzers=true (CC=clang) it is a
 * libFuzzer binary; otherwise POSITION_FUZZ_MAIN adds a main() that runs every file of the
 * seed corpus directories given as arguments, as a unit test. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wormhole/position.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *text, const char *detail)
{
    fprintf(stderr, "fuzz_position: %s\n  text:   %s\n  detail: %s\n", what, text ? text : "",
            detail ? detail : "");
    abort();
}

/* p parsed from text: both text forms parse back to p and format the same again. */
static void check_stable(const wh_pos *p, const char *text)
{
    static char phys[WH_POS_PHYSICAL_TEXT_MAX], logi[WH_POS_LOGICAL_TEXT_MAX];
    static char again[WH_POS_LOGICAL_TEXT_MAX];
    static wh_pos q;
    char err[512];
    int pn = wh_pos_format_physical(p, phys, sizeof phys);
    int ln = wh_pos_format_logical(p, logi, sizeof logi);
    if (pn < 0 || ln < 0 || (size_t)pn != strlen(phys) || (size_t)ln != strlen(logi))
        fail("a parsed position does not format within WH_POS_*_TEXT_MAX", text, NULL);
    /* Every set position has a physical text ("0/INDEX" for a logical-only one). */
    if (wh_pos_parse_physical(&q, phys, (size_t)pn, err, sizeof err) != WH_OK)
        fail("the physical text does not parse", phys, err);
    if (q.offset != p->offset || q.index != p->index || q.has_log_name != p->has_log_name ||
        (p->has_log_name && strcmp(q.log_name, p->log_name) != 0))
        fail("the physical text parses to another position", phys, text);
    if (wh_pos_format_physical(&q, again, sizeof again) != pn || strcmp(again, phys) != 0)
        fail("the physical text is not stable", phys, again);
    if (p->has_logical) {
        if (wh_pos_parse_logical(&q, logi, (size_t)ln, err, sizeof err) != WH_OK)
            fail("the logical text does not parse", logi, err);
        if (q.index != p->index || strcmp(q.logical, p->logical) != 0)
            fail("the logical text parses to another position", logi, text);
        if (wh_pos_format_logical(&q, again, sizeof again) != ln || strcmp(again, logi) != 0)
            fail("the logical text is not stable", logi, again);
    }
    if (wh_pos_parse(&q, phys, p->has_logical ? logi : NULL, err, sizeof err) != WH_OK)
        fail("the two texts do not parse together", text, err);
    if (!wh_pos_equal(p, &q))
        fail("the two texts parse to another position", text, NULL);
    wh_position v;
    if (!wh_pos_to_view(p, &v) || !wh_pos_from_view(&q, &v) || !wh_pos_equal(p, &q))
        fail("a parsed position does not copy through its view", text, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static wh_pos p;
    static char a[1 << 14], b[1 << 14];
    char err[512];
    if (size < 1 || size > sizeof a)
        return 0;
    int mode = data[0] % 3;
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    int rc;
    memset(&p, 0x5a, sizeof p);
    err[0] = '\0';
    if (mode < 2) {
        rc = mode ? wh_pos_parse_logical(&p, text, n, err, sizeof err)
                  : wh_pos_parse_physical(&p, text, n, err, sizeof err);
    } else {
        const char *nl = memchr(text, '\n', n);
        size_t pl = nl ? (size_t)(nl - text) : n, ll = nl ? n - pl - 1 : 0;
        memcpy(a, text, pl);
        a[pl] = '\0';
        memcpy(b, nl ? nl + 1 : text, ll);
        b[ll] = '\0';
        rc = wh_pos_parse(&p, a, nl ? b : NULL, err, sizeof err);
    }
    snprintf(a, sizeof a, "%.*s", (int)(n < 200 ? n : 200), text);
    if (rc != WH_OK) {
        if (p.set || p.has_log_name || p.has_logical)
            fail("a failed parse left a position set", a, err);
        if ((rc != WH_ERR_PARSE && rc != WH_ERR_LIMIT) || !strstr(err, "position"))
            fail("a failed parse has no sentence naming the position", a, err);
        if (mode < 2 && n > 0 && !strstr(err, ": at offset ") && !strstr(err, "indexes"))
            fail("a failed parse does not say where the text is wrong", a, err);
        return 0;
    }
    if (!p.set || (mode == 0 && (p.has_logical || !p.has_log_name != !memrchr(text, ':', n))) ||
        (mode == 1 && (p.has_log_name || !p.has_logical)))
        fail("a parsed position has the wrong parts", a, NULL);
    check_stable(&p, a);
    return 0;
}

#ifdef POSITION_FUZZ_MAIN
static int run_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        perror(path);
        return 1;
    }
    static uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    LLVMFuzzerTestOneInput(buf, n);
    return 0;
}

int main(int argc, char **argv)
{
    int files = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (!d) {
            bad |= run_file(argv[i]);
            files++;
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            bad |= run_file(path);
            files++;
        }
        closedir(d);
    }
    printf("fuzz_position: %d inputs, %s\n", files, bad || !files ? "FAILED" : "ok");
    return bad || !files;
}
#endif
