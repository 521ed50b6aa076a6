/* rdb_testlib.h -- building RocksDB log files and write batches byte by byte, for tests.
 *
 * An independent emulation of RocksDB's log writer (blocks, fragments,
 * trailers, recyclable headers) and of write batch and VersionEdit
 * encoding, so that the readers can be tested on exactly the bytes we
 * choose, including broken ones. Header-only; static functions. */
#ifndef RDB_TESTLIB_H
#define RDB_TESTLIB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/crc32c.h"
#include "mappers/rocksdb/rdb_wal.h"

static inline void t_put_varint(wh_buf *b, uint64_t v)
{
    while (v >= 0x80) {
        wh_buf_putc(b, (char)(v | 0x80));
        v >>= 7;
    }
    wh_buf_putc(b, (char)v);
}

static inline void t_put_fixed(wh_buf *b, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        wh_buf_putc(b, (char)(v >> (8 * i)));
}

static inline void t_put_slice(wh_buf *b, const void *p, size_t n)
{
    t_put_varint(b, n);
    wh_buf_append(b, p, n);
}

/* ---- write batches ---- */

static inline void t_batch_begin(wh_buf *b, uint64_t seq, uint32_t count)
{
    wh_buf_reset(b);
    t_put_fixed(b, seq, 8);
    t_put_fixed(b, count, 4);
}

/* tag, optional cf (if tag is a CF variant; pass cf anyway), key, optional value. */
static inline void t_batch_entry(wh_buf *b, int tag, uint32_t cf, const char *k, const char *v)
{
    bool has_cf = tag == 0x04 || tag == 0x05 || tag == 0x06 || tag == 0x08 || tag == 0x0e ||
                  tag == 0x17;
    wh_buf_putc(b, (char)tag);
    if (has_cf)
        t_put_varint(b, cf);
    t_put_slice(b, k, strlen(k));
    if (v)
        t_put_slice(b, v, strlen(v));
}

/* ---- log files ---- */

typedef struct t_log {
    wh_buf   out;
    bool     recyclable;
    uint32_t log_number;
} t_log;

static inline void t_log_frag(t_log *l, int type, const uint8_t *p, size_t n)
{
    size_t hs = l->recyclable ? 11 : 7;
    uint8_t h[11];
    h[4] = (uint8_t)n;
    h[5] = (uint8_t)(n >> 8);
    h[6] = (uint8_t)(l->recyclable ? type + 4 : type);
    h[7] = (uint8_t)l->log_number;
    h[8] = (uint8_t)(l->log_number >> 8);
    h[9] = (uint8_t)(l->log_number >> 16);
    h[10] = (uint8_t)(l->log_number >> 24);
    uint32_t crc = wh_crc32c(0, h + 6, hs - 6);
    crc = wh_crc32c(crc, p, n);
    crc = rdb_crc_mask(crc);
    for (int i = 0; i < 4; i++)
        h[i] = (uint8_t)(crc >> (8 * i));
    wh_buf_append(&l->out, h, hs);
    wh_buf_append(&l->out, p, n);
}

/* Appends one logical record the way RocksDB's log::Writer does. */
static inline void t_log_add(t_log *l, const void *data, size_t n)
{
    const uint8_t *p = data;
    size_t hs = l->recyclable ? 11 : 7;
    bool begin = true;
    do {
        size_t left = 32768 - l->out.len % 32768;
        if (left < hs) {
            static const uint8_t zeros[11];
            wh_buf_append(&l->out, zeros, left);
            left = 32768;
        }
        size_t avail = left - hs, frag = n < avail ? n : avail;
        bool end = frag == n;
        int type = begin && end ? 1 : begin ? 2 : end ? 4 : 3;
        t_log_frag(l, type, p, frag);
        p += frag;
        n -= frag;
        begin = false;
    } while (n > 0);
}

/* ---- MANIFEST edits ---- */

static inline void t_edit_cf_add(wh_buf *b, uint32_t id, const char *name)
{
    wh_buf_reset(b);
    t_put_varint(b, 1);                       /* comparator */
    t_put_slice(b, "leveldb.BytewiseComparator", 26);
    t_put_varint(b, 200);                     /* column family */
    t_put_varint(b, id);
    t_put_varint(b, 201);                     /* add */
    t_put_slice(b, name, strlen(name));
}

#endif
