/* file.h -- replacing a file's contents all at once (status, pid and instance files). */
#ifndef WH_FILE_H
#define WH_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Writes the len bytes at data to PATH.tmp (created with mode, never through
 * a symbolic link), then renames it over path: a reader sees the old
 * contents or the new, never a part. Returns 0, or WH_ERR_IO with "cannot
 * create|write|replace FILE: reason" in errbuf (the temporary file is
 * removed), or WH_ERR_INVALID if path is too long. Any thread; two writers
 * of the same path at once must be serialized by the caller. */
int wh_file_replace(const char *path, const void *data, size_t len, mode_t mode, char *errbuf,
                    size_t errlen);

#endif
