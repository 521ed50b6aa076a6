/* file.c -- replacing a file's contents all at once, reading secrets (see file.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/errbuf.h"
#include "core/file.h"

int wh_file_replace(const char *path, const void *data, size_t len, mode_t mode, char *errbuf,
                    size_t errlen)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID, "path too long: %s", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return wh_seterr(errbuf, errlen, WH_ERR_IO, "cannot create %s: %s", tmp,
                         strerror(errno));
    const char *p = data;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, p + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            close(fd);
            unlink(tmp);
            return wh_seterr(errbuf, errlen, WH_ERR_IO, "cannot write %s: %s", tmp, strerror(e));
        }
        off += (size_t)w;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return wh_seterr(errbuf, errlen, WH_ERR_IO, "cannot replace %s: %s", path, strerror(e));
    }
    return WH_OK;
}

#define SECRET_MAX 4096

void wh_secret_wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (p && n--)
        *v++ = 0;
}

int wh_file_read_secret(const char *path, char **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return wh_seterr(errbuf, errlen, WH_ERR_IO, "cannot open password file %s: %s", path,
                         strerror(errno));
    /* Checked on the open descriptor: what is read is what was checked. */
    struct stat st;
    int rc = WH_OK;
    if (fstat(fd, &st) < 0) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_IO, "cannot stat password file %s: %s", path,
                       strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                       "password file %s is not a regular file", path);
    } else if (st.st_uid != geteuid() && st.st_uid != 0) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                       "password file %s is owned by uid %u, neither this user (uid %u) nor "
                       "root; refusing to use it", path, (unsigned)st.st_uid,
                       (unsigned)geteuid());
    } else if (st.st_mode & 077) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                       "password file %s has mode %04o: group or others can access it; "
                       "refusing to use it (chmod 600 %s)", path,
                       (unsigned)(st.st_mode & 07777), path);
    } else if (st.st_size > SECRET_MAX) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                       "password file %s is %lld bytes, more than %d", path,
                       (long long)st.st_size, SECRET_MAX);
    }
    if (rc != WH_OK) {
        close(fd);
        return rc;
    }
    char *buf = malloc(SECRET_MAX + 1);
    size_t len = 0;
    if (!buf) {
        close(fd);
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "out of memory");
    }
    for (;;) {
        ssize_t r = read(fd, buf + len, SECRET_MAX + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = wh_seterr(errbuf, errlen, WH_ERR_IO, "cannot read password file %s: %s",
                           path, strerror(errno));
            break;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > SECRET_MAX) {
            rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                           "password file %s is longer than %d bytes", path, SECRET_MAX);
            break;
        }
    }
    close(fd);
    if (rc == WH_OK) {
        if (len && buf[len - 1] == '\n')
            len--;
        if (len && buf[len - 1] == '\r')
            len--;
        buf[len] = '\0';
        if (len == 0)
            rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "password file %s is empty", path);
        else if (memchr(buf, '\0', len))
            rc = wh_seterr(errbuf, errlen, WH_ERR_CONFIG,
                           "password file %s contains a NUL byte", path);
    }
    if (rc != WH_OK) {
        wh_secret_wipe(buf, SECRET_MAX + 1);
        free(buf);
        return rc;
    }
    *out = buf;
    return WH_OK;
}
