/* test_mon_logtail.c -- following publisher output: line splitting, recent lines, last error line, offsets. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../check.h"
#include "monitor/mon_logtail.h"

static char lines[64][MON_LINE_MAX + 1];
static int nlines;

static void collect(void *ctx, const char *line, size_t len)
{
    (void)ctx;
    CHECK_EQ_INT(strlen(line), len);
    if (nlines < 64)
        snprintf(lines[nlines++], sizeof lines[0], "%s", line);
}

static void append(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    CHECK(fd >= 0);
    CHECK_EQ_INT(write(fd, text, strlen(text)), (long long)strlen(text));
    close(fd);
}

int main(void)
{
    static mon_logtail t;
    mon_logtail_init(&t);

    /* Lines split across feeds; \r\n; an empty line. */
    mon_logtail_feed(&t, "hello wo", 8, collect, NULL);
    CHECK_EQ_INT(nlines, 0);
    mon_logtail_feed(&t, "rld\r\n\nsecond\nthi", 16, collect, NULL);
    CHECK_EQ_INT(nlines, 3);
    CHECK_EQ_STR(lines[0], "hello world");
    CHECK_EQ_STR(lines[1], "");
    CHECK_EQ_STR(lines[2], "second");
    CHECK_EQ_STR(mon_logtail_error_line(&t), "second");     /* no ERROR line: the last line */
    mon_logtail_flush(&t, collect, NULL);
    CHECK_EQ_STR(lines[3], "thi");

    /* The last ERROR line wins over later lines. */
    const char *text = "2026 ERROR [binlog] bad checksum at 42\nshutting down\n";
    mon_logtail_feed(&t, text, strlen(text), collect, NULL);
    CHECK_EQ_STR(mon_logtail_error_line(&t), "2026 ERROR [binlog] bad checksum at 42");
    CHECK_EQ_STR(mon_logtail_recent(&t, 0), "shutting down");
    CHECK_EQ_STR(mon_logtail_recent(&t, 1), "2026 ERROR [binlog] bad checksum at 42");

    /* The ring keeps the newest MON_TAIL_RING lines. */
    for (int i = 0; i < 20; i++) {
        char l[32];
        int n = snprintf(l, sizeof l, "line %d\n", i);
        mon_logtail_feed(&t, l, (size_t)n, NULL, NULL);
    }
    CHECK_EQ_STR(mon_logtail_recent(&t, 0), "line 19");
    CHECK_EQ_STR(mon_logtail_recent(&t, MON_TAIL_RING - 1), "line 12");
    CHECK(mon_logtail_recent(&t, MON_TAIL_RING) == NULL);

    /* A new run forgets the old lines. */
    mon_logtail_new_run(&t);
    CHECK_EQ_STR(mon_logtail_error_line(&t), "");
    CHECK(mon_logtail_recent(&t, 0) == NULL);

    /* Over-long lines are split; invalid UTF-8 becomes '?'. */
    nlines = 0;
    char *big = malloc(MON_LINE_MAX + 11);
    memset(big, 'a', MON_LINE_MAX + 10);
    big[MON_LINE_MAX + 10] = '\n';
    mon_logtail_feed(&t, big, MON_LINE_MAX + 11, collect, NULL);
    free(big);
    CHECK_EQ_INT(nlines, 2);
    CHECK_EQ_INT(strlen(lines[0]), MON_LINE_MAX);
    CHECK_EQ_INT(strlen(lines[1]), 10);
    mon_logtail_feed(&t, "ok \xff\xfe caf\xc3\xa9\n", 12, collect, NULL);
    CHECK_EQ_STR(lines[2], "ok ?? caf\xc3\xa9");

    /* Following a file from an offset; truncation restarts at 0. */
    char dir[] = "/tmp/wh-test-logtail-XXXXXX", path[256];
    char err[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/output.log", dir);
    append(path, "old line\n");
    mon_logtail_init(&t);
    CHECK_EQ_INT(mon_logtail_open(&t, path, 9, err, sizeof err), WH_OK);
    append(path, "new line\npartial");
    nlines = 0;
    CHECK_EQ_INT(mon_logtail_read(&t, collect, NULL), WH_OK);
    CHECK_EQ_INT(nlines, 1);
    CHECK_EQ_STR(lines[0], "new line");
    CHECK_EQ_INT(t.offset, 25);
    append(path, " done\n");
    mon_logtail_read(&t, collect, NULL);
    CHECK_EQ_STR(lines[1], "partial done");
    CHECK_EQ_INT(ftruncate(t.fd, 0), 0);
    append(path, "after truncate\n");
    mon_logtail_read(&t, collect, NULL);
    CHECK_EQ_STR(lines[2], "after truncate");
    /* An offset past the end is clamped. */
    CHECK_EQ_INT(mon_logtail_open(&t, path, 1u << 30, err, sizeof err), WH_OK);
    CHECK_EQ_INT(t.offset, 15);

    /* Consumed data is released (holes) once more than 1 MiB was read. */
    char *chunk = malloc(1 << 16);
    memset(chunk, 'z', 1 << 16);
    for (int i = 0; i < (1 << 16); i += 100)
        chunk[i] = '\n';
    int fd = open(path, O_WRONLY | O_APPEND);
    for (int i = 0; i < 40; i++)
        CHECK_EQ_INT(write(fd, chunk, 1 << 16), 1 << 16);
    close(fd);
    free(chunk);
    CHECK_EQ_INT(mon_logtail_read(&t, NULL, NULL), WH_OK);
    struct stat st;
    CHECK_EQ_INT(fstat(t.fd, &st), 0);
    CHECK_EQ_INT(st.st_size, 15 + 40 * 65536);
    CHECK_EQ_INT(t.offset, 15 + 40 * 65536);
    if (!t.punch_unsupported) {
        CHECK_EQ_INT(t.punched, 2u << 20);
        CHECK(st.st_blocks * 512 < 40 * 65536);
    }
    mon_logtail_close(&t);
    unlink(path);
    rmdir(dir);
    return check_done("test_mon_logtail");
}
