/* fuzz_rocksdb_wal.c -- fuzzing the RocksDB WAL record reader, batch decoder and VersionEdit parser.
 *
 * The first input byte selects how the rest is used:
 *   bit 7 set:   the rest is split into records (2-byte length prefixes) that
 *                are framed as a valid log file (correct CRCs, fragments,
 *                trailers; bit 6: recyclable headers), so that the fuzzer
 *                reaches the batch decoder through the reader;
 *   bit 7 clear: the rest is the raw bytes of a log file.
 *   Bits 0-2 vary the read window and pinning. Every record read is also
 *   decoded as a write batch and as a VersionEdit, and the whole input is
 *   decoded directly as a batch and as an edit.
 *
 * Built with -fsanitize=fuzzer under -Dfuzzers=true (CC=clang); otherwise
 * with RDB_FUZZ_STANDALONE it is a plain program that runs every file of a
 * seed corpus directory once (a unit test, so the target cannot rot). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/endian.h"
#include "core/log.h"
#include "mappers/rocksdb/rdb_batch.h"
#include "mappers/rocksdb/rdb_manifest.h"
#include "mappers/rocksdb/rdb_wal.h"
#include "rdb_testlib.h"
#include "tests/fuzz_replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode_batch(const uint8_t *p, size_t n)
{
    size_t bad;
    const char *why;
    uint64_t seq;
    uint32_t count;
    (void)rdb_batch_header(p, n, &seq, &count);
    (void)rdb_batch_check(p, n, &bad, &why);
    /* Walk entries the way the mapper does, stopping at the first problem. */
    size_t off = RDB_BATCH_HEADER;
    while (n >= RDB_BATCH_HEADER && off < n) {
        rdb_entry e;
        long r = rdb_batch_entry(p + off, n - off, &e, &why);
        if (r <= 0)
            break;
        if (e.key_len && (e.key < p || e.key + e.key_len > p + n))
            abort();
        if (e.val && (e.val < p || e.val + e.val_len > p + n))
            abort();
        off += (size_t)r;
    }
    rdb_edit_cf ed;
    if (rdb_version_edit_parse(p, n, &ed, &why) == 0 && ed.add &&
        (ed.name < p || ed.name + ed.name_len > p + n))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet) {
        wh_log_set_level(WH_LOG_ERROR);
        quiet = true;
    }
    decode_batch(data, size);
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    t_log l = { WH_BUF_INIT, (mode & 0x40) != 0, 7 };
    if (mode & 0x80) {
        while (size >= 2) {
            size_t n = wh_le16(data);
            data += 2;
            size -= 2;
            if (n > size)
                n = size;
            t_log_add(&l, data, n);
            data += n;
            size -= n;
        }
    } else {
        wh_buf_append(&l.out, data, size);
    }
    int fd = memfd_create("fuzz-wal", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    if (l.out.len && write(fd, l.out.data, l.out.len) != (ssize_t)l.out.len)
        abort();
    rdb_wal *w = NULL;
    char err[512];
    size_t window = (size_t)((mode & 3) + 2) * RDB_BLOCK_SIZE;
    if (rdb_wal_open_fd(fd, "fuzz.log", 7, window, &w, err, sizeof err) != 0)
        abort();
    wh_buf sink = WH_BUF_INIT;
    rdb_record rec;
    int rc, i = 0;
    while ((rc = rdb_wal_next(w, (mode & 4) && i % 3 == 2 ? NULL : &sink, 1 << 22, &rec, err,
                              sizeof err)) != RDB_READ_END && rc >= 0) {
        if (rc == RDB_READ_BLOCKED) {
            rdb_wal_pin(w, false);
            continue;
        }
        if (rec.len > rec.total)
            abort();
        decode_batch(rec.data, rec.len);
        rdb_wal_pin(w, (mode & 4) && rec.where == RDB_IN_WINDOW);
        i++;
    }
    if (rc < 0 && err[0] == '\0')
        abort();   /* every error explains itself */
    rdb_wal_free(w);
    wh_buf_free(&sink);
    wh_buf_free(&l.out);
    return 0;
}

#ifdef RDB_FUZZ_STANDALONE
/* Each corpus file, and every prefix of the small ones too: truncation is
 * the common damage. */
static void replay_prefixes(void *opaque, const uint8_t *data, size_t len)
{
    (void)opaque;
    LLVMFuzzerTestOneInput(data, len);
    for (size_t cut = 0; len < 4096 && cut < len; cut += 1 + cut / 8)
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
        return 2;
    printf("fuzz_rocksdb_wal_corpus: %d passed, 0 failed\n", files);
    return files > 0 ? 0 : 1;
}
#endif
