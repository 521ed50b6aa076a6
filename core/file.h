/* file.h -- replacing a file's contents all at once (status, pid and instance
 * files) and reading a secret from a file only its owner can read. */
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

/* Reads a secret (a password) from path into *out (malloc'd, NUL-terminated;
 * one trailing "\n" or "\r\n" removed; the caller wipes and frees it). Like
 * ssh and libpq, refuses a file that is not a regular file, is owned by
 * neither the effective user nor root, or can be read or written by group or
 * others (mode & 077): WH_ERR_CONFIG with a sentence naming the file, its
 * owner and mode and the fix ("chmod 600 FILE"). An unreadable file is
 * WH_ERR_IO, an empty one or one over 4 KiB WH_ERR_CONFIG. Any thread. */
int wh_file_read_secret(const char *path, char **out, char *errbuf, size_t errlen);

/* Overwrites n bytes at p with zeros in a way the compiler keeps. */
void wh_secret_wipe(void *p, size_t n);

#endif
