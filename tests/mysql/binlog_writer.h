/* binlog_writer.h -- builds binlog files byte by byte for the mysql mapper's
 * tests and fuzz seeds: format description, GTIDs, queries, table maps,
 * row events, payloads, with correct lengths, end positions and CRC32s.
 * Test-only; everything is static. */
#ifndef TEST_BINLOG_WRITER_H
#define TEST_BINLOG_WRITER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "mappers/mysql/binlog_event.h"

typedef struct tbw {
    wh_buf b;              /* the file */
    bool mariadb;
    bool crc;
    uint32_t server_id;
    uint32_t ts;
} tbw;

static inline void tb_u8(wh_buf *b, unsigned v) { uint8_t c = (uint8_t)v; wh_buf_append(b, &c, 1); }
static inline void tb_u16(wh_buf *b, unsigned v) { tb_u8(b, v & 0xff); tb_u8(b, (v >> 8) & 0xff); }
static inline void tb_u24(wh_buf *b, uint32_t v) { tb_u16(b, v & 0xffff); tb_u8(b, v >> 16); }
static inline void tb_u32(wh_buf *b, uint32_t v) { tb_u16(b, v & 0xffff); tb_u16(b, v >> 16); }
static inline void tb_u48(wh_buf *b, uint64_t v) { tb_u32(b, (uint32_t)v); tb_u16(b, (unsigned)(v >> 32)); }
static inline void tb_u64(wh_buf *b, uint64_t v) { tb_u32(b, (uint32_t)v); tb_u32(b, (uint32_t)(v >> 32)); }
static inline void tb_bytes(wh_buf *b, const void *p, size_t n) { if (n) wh_buf_append(b, p, n); }
static inline void tb_str(wh_buf *b, const char *s) { wh_buf_append(b, s, strlen(s)); }

static inline void tb_packed(wh_buf *b, uint64_t v)
{
    if (v < 251) { tb_u8(b, (unsigned)v); }
    else if (v < 65536) { tb_u8(b, 0xfc); tb_u16(b, (unsigned)v); }
    else if (v < 16777216) { tb_u8(b, 0xfd); tb_u24(b, (uint32_t)v); }
    else { tb_u8(b, 0xfe); tb_u64(b, v); }
}

/* Post-header lengths a real server declares (index = type code). */
static inline uint8_t tbw_post_len(int type)
{
    return binlog_post_header_len(NULL, type);
}

/* Appends one event (header, body, checksum) at the end of the file. */
static inline void tbw_event(tbw *w, uint8_t type, const void *body, size_t len, uint16_t flags)
{
    size_t start = w->b.len;
    uint32_t total = (uint32_t)(BINLOG_HEADER_LEN + len + (w->crc ? 4 : 0));
    tb_u32(&w->b, w->ts);
    tb_u8(&w->b, type);
    tb_u32(&w->b, w->server_id);
    tb_u32(&w->b, total);
    tb_u32(&w->b, (uint32_t)(start + total));
    tb_u16(&w->b, flags);
    tb_bytes(&w->b, body, len);
    if (w->crc)
        tb_u32(&w->b, binlog_crc32(0, w->b.data + start, w->b.len - start));
}

/* The bytes of one event as it would be written, without CRC: for payloads. */
static inline void tbw_raw_event(wh_buf *out, uint32_t ts, uint8_t type, uint32_t server_id,
                                 const void *body, size_t len)
{
    tb_u32(out, ts);
    tb_u8(out, type);
    tb_u32(out, server_id);
    tb_u32(out, (uint32_t)(BINLOG_HEADER_LEN + len));
    tb_u32(out, 0);
    tb_u16(out, 0);
    tb_bytes(out, body, len);
}

/* Starts a file: magic and the format description event. */
static inline void tbw_init(tbw *w, bool mariadb, bool crc)
{
    memset(w, 0, sizeof *w);
    w->mariadb = mariadb;
    w->crc = crc;
    w->server_id = 1;
    w->ts = 1700000000;
    tb_bytes(&w->b, BINLOG_MAGIC, 4);
    wh_buf body = WH_BUF_INIT;
    tb_u16(&body, 4);
    char ver[50] = { 0 };
    snprintf(ver, sizeof ver, "%s", mariadb ? "10.11.6-MariaDB-log" : "8.0.36");
    tb_bytes(&body, ver, 50);
    tb_u32(&body, w->ts);
    tb_u8(&body, BINLOG_HEADER_LEN);
    int ntypes = mariadb ? 171 : 41;
    for (int t = 1; t <= ntypes; t++)
        tb_u8(&body, tbw_post_len(t));
    tb_u8(&body, crc ? 1 : 0);
    /* The FDE's checksum is always present; tbw_event adds it when crc is
     * on, and with crc off the server writes 4 zero bytes. */
    if (!crc)
        tb_u32(&body, 0);
    tbw_event(w, BE_FORMAT_DESCRIPTION, body.data, body.len, 0);
    wh_buf_free(&body);
}

static inline void tbw_free(tbw *w) { wh_buf_free(&w->b); }

static inline void tbw_maria_gtid(tbw *w, uint32_t domain, uint64_t seq, uint8_t flags)
{
    wh_buf b = WH_BUF_INIT;
    tb_u64(&b, seq);
    tb_u32(&b, domain);
    tb_u8(&b, flags);
    for (int i = 0; i < 6; i++)
        tb_u8(&b, 0);
    tbw_event(w, BE_MARIA_GTID, b.data, b.len, 0x08);
    wh_buf_free(&b);
}

/* A MariaDB Gtid_list: n entries of (domain, server, seq). */
static inline void tbw_gtid_list(tbw *w, const uint64_t (*list)[3], uint32_t n)
{
    wh_buf b = WH_BUF_INIT;
    tb_u32(&b, n);
    for (uint32_t i = 0; i < n; i++) {
        tb_u32(&b, (uint32_t)list[i][0]);
        tb_u32(&b, (uint32_t)list[i][1]);
        tb_u64(&b, list[i][2]);
    }
    tbw_event(w, BE_GTID_LIST, b.data, b.len, 0);
    wh_buf_free(&b);
}

static inline void tbw_mysql_gtid(tbw *w, const uint8_t uuid[16], uint64_t gno)
{
    static const uint8_t zero[16];
    wh_buf b = WH_BUF_INIT;
    tb_u8(&b, 1);
    tb_bytes(&b, uuid ? uuid : zero, 16);
    tb_u64(&b, gno);
    tb_u8(&b, 2);
    tb_u64(&b, 0);
    tb_u64(&b, 1);
    tbw_event(w, uuid ? BE_GTID : BE_ANONYMOUS_GTID, b.data, b.len, 0);
    wh_buf_free(&b);
}

/* Previous_gtids with one uuid and one range [start, end). */
static inline void tbw_prev_gtids(tbw *w, const uint8_t uuid[16], uint64_t start, uint64_t end)
{
    wh_buf b = WH_BUF_INIT;
    if (uuid) {
        tb_u64(&b, 1);
        tb_bytes(&b, uuid, 16);
        tb_u64(&b, 1);
        tb_u64(&b, start);
        tb_u64(&b, end);
    } else {
        tb_u64(&b, 0);
    }
    tbw_event(w, BE_PREVIOUS_GTIDS, b.data, b.len, 0x80);
    wh_buf_free(&b);
}

static inline void tbw_query_body(wh_buf *b, const char *db, const char *sql)
{
    tb_u32(b, 7);                       /* thread id */
    tb_u32(b, 0);                       /* exec time */
    tb_u8(b, (unsigned)strlen(db));
    tb_u16(b, 0);                       /* error code */
    tb_u16(b, 0);                       /* status vars length */
    tb_str(b, db);
    tb_u8(b, 0);
    tb_str(b, sql);
}

static inline void tbw_query(tbw *w, const char *db, const char *sql)
{
    wh_buf b = WH_BUF_INIT;
    tbw_query_body(&b, db, sql);
    tbw_event(w, BE_QUERY, b.data, b.len, 0);
    wh_buf_free(&b);
}

static inline void tbw_xid(tbw *w, uint64_t xid)
{
    wh_buf b = WH_BUF_INIT;
    tb_u64(&b, xid);
    tbw_event(w, BE_XID, b.data, b.len, 0);
    wh_buf_free(&b);
}

static inline void tbw_rotate(tbw *w, const char *next)
{
    wh_buf b = WH_BUF_INIT;
    tb_u64(&b, 4);
    tb_str(&b, next);
    tbw_event(w, BE_ROTATE, b.data, b.len, 0);
    wh_buf_free(&b);
}

static inline void tbw_stop(tbw *w)
{
    tbw_event(w, BE_STOP, "", 0, 0);
}

/* Table map body: columns (types, metadata bytes), all nullable, then the
 * optional metadata block given raw. */
static inline void tbw_table_map_body(wh_buf *b, uint64_t id, const char *db, const char *table,
                                      const uint8_t *types, uint32_t ncols, const uint8_t *meta,
                                      size_t metalen, const uint8_t *opt, size_t optlen)
{
    tb_u48(b, id);
    tb_u16(b, 1);
    tb_u8(b, (unsigned)strlen(db));
    tb_str(b, db);
    tb_u8(b, 0);
    tb_u8(b, (unsigned)strlen(table));
    tb_str(b, table);
    tb_u8(b, 0);
    tb_packed(b, ncols);
    tb_bytes(b, types, ncols);
    tb_packed(b, metalen);
    tb_bytes(b, meta, metalen);
    for (uint32_t i = 0; i < (ncols + 7) / 8; i++)
        tb_u8(b, 0xff);
    tb_bytes(b, opt, optlen);
}

static inline void tbw_table_map(tbw *w, uint64_t id, const char *db, const char *table,
                                 const uint8_t *types, uint32_t ncols, const uint8_t *meta,
                                 size_t metalen, const uint8_t *opt, size_t optlen)
{
    wh_buf b = WH_BUF_INIT;
    tbw_table_map_body(&b, id, db, table, types, ncols, meta, metalen, opt, optlen);
    tbw_event(w, BE_TABLE_MAP, b.data, b.len, 0);
    wh_buf_free(&b);
}

/* Row event body: v2 (extra data length) when v2, bitmaps given raw. */
static inline void tbw_rows_body(wh_buf *b, bool v2, uint64_t id, uint16_t flags, uint32_t ncols,
                                 const uint8_t *bm1, const uint8_t *bm2, const void *rows,
                                 size_t rowslen)
{
    tb_u48(b, id);
    tb_u16(b, flags);
    if (v2)
        tb_u16(b, 2);
    tb_packed(b, ncols);
    tb_bytes(b, bm1, (ncols + 7) / 8);
    if (bm2)
        tb_bytes(b, bm2, (ncols + 7) / 8);
    tb_bytes(b, rows, rowslen);
}

static inline void tbw_rows(tbw *w, uint8_t type, uint64_t id, uint16_t flags, uint32_t ncols,
                            const uint8_t *bm1, const uint8_t *bm2, const void *rows,
                            size_t rowslen)
{
    wh_buf b = WH_BUF_INIT;
    bool v2 = type >= BE_WRITE_ROWS_V2 && type <= BE_DELETE_ROWS_V2;
    if (type == BE_PARTIAL_UPDATE_ROWS)
        v2 = true;
    tbw_rows_body(&b, v2, id, flags, ncols, bm1, bm2, rows, rowslen);
    tbw_event(w, type, b.data, b.len, 0);
    wh_buf_free(&b);
}

/* Writes the file as dir/name. Returns 0 or -1. */
static inline int tbw_save(const tbw *w, const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = fwrite(w->b.data, 1, w->b.len, f);
    return fclose(f) == 0 && n == w->b.len ? 0 : -1;
}

/* Writes an index listing names (NULL-terminated). */
static inline int tbw_index(const char *dir, const char *index, const char *const *names)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, index);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    for (int i = 0; names[i]; i++)
        fprintf(f, "./%s\n", names[i]);
    return fclose(f);
}

#endif
