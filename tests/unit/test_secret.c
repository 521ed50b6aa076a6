/* test_secret.c -- wh_file_read_secret: what it reads, and the files it refuses (mode, owner, type, size). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../check.h"
#include "core/file.h"
#include "wormhole/error.h"

static char dir[] = "/tmp/wh-test-secret-XXXXXX";

static void put(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

/* Expects rc and, when want is not NULL, an error containing it. */
static void refused(const char *path, int want_rc, const char *want)
{
    char err[512] = "", *s = (char *)"untouched";
    int rc = wh_file_read_secret(path, &s, err, sizeof err);
    CHECK_EQ_INT(rc, want_rc);
    CHECK(s == NULL);
    if (want && !strstr(err, want))
        fprintf(stderr, "error '%s' lacks '%s'\n", err, want);
    CHECK(!want || strstr(err, want));
}

int main(void)
{
    char path[300], msg[400], err[512];
    char *s = NULL;
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/pw", dir);

    put(path, "s3cret pw\n", 0600);
    CHECK_EQ_INT(wh_file_read_secret(path, &s, err, sizeof err), WH_OK);
    CHECK(s && strcmp(s, "s3cret pw") == 0);
    free(s);
    put(path, "crlf\r\n", 0400);
    CHECK_EQ_INT(wh_file_read_secret(path, &s, err, sizeof err), WH_OK);
    CHECK(s && strcmp(s, "crlf") == 0);
    free(s);
    put(path, "no newline", 0600);
    CHECK_EQ_INT(wh_file_read_secret(path, &s, err, sizeof err), WH_OK);
    CHECK(s && strcmp(s, "no newline") == 0);
    free(s);

    /* Any bit for group or others is refused, naming the file and its mode. */
    static const mode_t loose[] = { 0644, 0640, 0604, 0620, 0602, 0610, 0601 };
    for (size_t i = 0; i < sizeof loose / sizeof loose[0]; i++) {
        put(path, "pw\n", loose[i]);
        snprintf(msg, sizeof msg, "password file %s has mode %04o", path, (unsigned)loose[i]);
        refused(path, WH_ERR_CONFIG, msg);
    }
    /* Owned by someone else (needs root to chown). */
    put(path, "pw\n", 0600);
    if (geteuid() == 0 && chown(path, 65534, 65534) == 0) {
        snprintf(msg, sizeof msg, "password file %s is owned by uid 65534", path);
        refused(path, WH_ERR_CONFIG, msg);
        CHECK(chown(path, 0, 0) == 0);
    }
    put(path, "", 0600);
    refused(path, WH_ERR_CONFIG, "is empty");
    put(path, "\n", 0600);
    refused(path, WH_ERR_CONFIG, "is empty");
    char *big = malloc(5000);
    memset(big, 'x', 4999);
    big[4999] = '\0';
    put(path, big, 0600);
    free(big);
    refused(path, WH_ERR_CONFIG, "bytes");
    refused(dir, WH_ERR_CONFIG, "not a regular file");
    unlink(path);
    refused(path, WH_ERR_IO, "cannot open password file");

    /* wh_secret_wipe zeroes. */
    char buf[8] = "abcdefg";
    wh_secret_wipe(buf, sizeof buf);
    CHECK(memcmp(buf, "\0\0\0\0\0\0\0\0", 8) == 0);
    rmdir(dir);
    return check_done("test_secret");
}
