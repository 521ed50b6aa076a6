/* file.c -- replacing a file's contents all at once (see file.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
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
