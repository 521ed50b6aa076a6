/* binlog_event.c -- event header, format description, CRC32 and type names
 * (see binlog_event.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "core/endian.h"
#include "core/errbuf.h"
#include "mappers/mysql/binlog_event.h"

/* zlib's crc32 for lengths up to 2^30 at a time. */
static uint32_t crc32_zlib(uint32_t crc, const uint8_t *b, size_t n)
{
    uLong c = crc;
    while (n > 0) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, b, chunk);
        b += chunk;
        n -= chunk;
    }
    return (uint32_t)c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <pthread.h>

/* CRC-32 (the reflected polynomial 0x04C11DB7) by carry-less multiplication
 * (Intel's "fast CRC computation for generic polynomials using PCLMULQDQ"):
 * the message is folded 128 bits at a time into one lane (four lanes in
 * parallel while 64 bytes remain, x^(512+-32) mod P), a last partial block
 * is folded in by shifting the lane, and the final 128 bits are reduced to
 * 32 with x^64 mod P and a Barrett step. crc is the raw register (zlib's
 * value inverted); len >= 16. Several times faster than table-driven code,
 * and binlog events are rarely shorter than 16 bytes. */
__attribute__((target("pclmul,sse4.1")))
static inline __m128i clmul_fold(__m128i x, __m128i k, __m128i data)
{
    __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
    __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(lo, hi), data);
}

/* How far ahead of the fold the next bytes are requested: a binlog is read
 * once, straight from the page cache, so the fold otherwise waits on memory
 * at every page boundary (the hardware prefetcher stops there). */
#ifndef CRC_PREFETCH
#define CRC_PREFETCH 2048
#endif

__attribute__((target("pclmul,sse4.1")))
static uint32_t crc32_clmul(uint32_t crc, const uint8_t *p, size_t len)
{
    const __m128i k1k2 = _mm_set_epi64x(0x1c6e41596LL, 0x154442bd4LL);
    const __m128i k3k4 = _mm_set_epi64x(0x0ccaa009eLL, 0x1751997d0LL);
    const __m128i k5 = _mm_set_epi64x(0, 0x163cd6124LL);
    const __m128i poly = _mm_set_epi64x(0x1f7011641LL, 0x1db710641LL);   /* mu, P */
    const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);

    _mm_prefetch((const char *)p + CRC_PREFETCH, _MM_HINT_T0);
    __m128i x1 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), _mm_cvtsi32_si128((int)crc));
    p += 16;
    len -= 16;
    if (len >= 48) {
        __m128i x2 = _mm_loadu_si128((const __m128i *)p);
        __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 16));
        __m128i x4 = _mm_loadu_si128((const __m128i *)(p + 32));
        p += 48;
        len -= 48;
        while (len >= 64) {
            _mm_prefetch((const char *)p + CRC_PREFETCH, _MM_HINT_T0);
            x1 = clmul_fold(x1, k1k2, _mm_loadu_si128((const __m128i *)p));
            x2 = clmul_fold(x2, k1k2, _mm_loadu_si128((const __m128i *)(p + 16)));
            x3 = clmul_fold(x3, k1k2, _mm_loadu_si128((const __m128i *)(p + 32)));
            x4 = clmul_fold(x4, k1k2, _mm_loadu_si128((const __m128i *)(p + 48)));
            p += 64;
            len -= 64;
        }
        x1 = clmul_fold(x1, k3k4, x2);
        x1 = clmul_fold(x1, k3k4, x3);
        x1 = clmul_fold(x1, k3k4, x4);
    }
    while (len >= 16) {
        x1 = clmul_fold(x1, k3k4, _mm_loadu_si128((const __m128i *)p));
        p += 16;
        len -= 16;
    }
    if (len > 0) {
        /* The last len (1..15) bytes: the lane's first len bytes are folded
         * 128 bits forward onto the lane's other bytes followed by the tail.
         * shift[16 + len + i] shuffles byte i + len down to i (beyond the
         * lane: zero); shift[len + i] moves byte i up by 16 - len. */
        static const uint8_t shift[48] = {
            0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
            0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
            0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
            0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
        };
        __m128i up = _mm_loadu_si128((const __m128i *)(shift + len));
        __m128i down = _mm_loadu_si128((const __m128i *)(shift + 16 + len));
        __m128i last = _mm_loadu_si128((const __m128i *)(p + len - 16));   /* ends at the end */
        __m128i head = _mm_shuffle_epi8(x1, up);
        /* up's high bit marks the bytes that come from the lane */
        __m128i rest = _mm_blendv_epi8(last, _mm_shuffle_epi8(x1, down), up);
        x1 = clmul_fold(head, k3k4, rest);
    }
    /* 128 -> 64 bits */
    __m128i t = _mm_clmulepi64_si128(x1, k3k4, 0x10);
    x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), t);
    /* 64 -> 32 bits */
    t = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), k5, 0x00);
    x1 = _mm_xor_si128(_mm_srli_si128(x1, 4), t);
    /* Barrett reduction */
    t = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), poly, 0x10);
    t = _mm_clmulepi64_si128(_mm_and_si128(t, mask32), poly, 0x00);
    x1 = _mm_xor_si128(x1, t);
    return (uint32_t)_mm_extract_epi32(x1, 1);
}

static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static bool have_clmul;
static uint32_t crc_table[256];   /* for messages shorter than 16 bytes */

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
        crc_table[i] = c;
    }
    have_clmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}

uint32_t binlog_crc32(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&crc_once, crc_init);
    if (!have_clmul)
        return crc32_zlib(crc, p, n);
    if (n >= 16)
        return ~crc32_clmul(~crc, p, n);
    const uint8_t *b = p;
    uint32_t c = ~crc;
    while (n-- > 0)
        c = crc_table[(c ^ *b++) & 0xff] ^ (c >> 8);
    return ~c;
}
#else
uint32_t binlog_crc32(uint32_t crc, const void *p, size_t n)
{
    return crc32_zlib(crc, p, n);
}
#endif

const char *binlog_event_type_name(int type)
{
    switch (type) {
    case BE_START_V3: return "Start_v3";
    case BE_QUERY: return "Query";
    case BE_STOP: return "Stop";
    case BE_ROTATE: return "Rotate";
    case BE_INTVAR: return "Intvar";
    case BE_LOAD: return "Load";
    case BE_SLAVE: return "Slave";
    case BE_CREATE_FILE: return "Create_file";
    case BE_APPEND_BLOCK: return "Append_block";
    case BE_EXEC_LOAD: return "Exec_load";
    case BE_DELETE_FILE: return "Delete_file";
    case BE_NEW_LOAD: return "New_load";
    case BE_RAND: return "RAND";
    case BE_USER_VAR: return "User_var";
    case BE_FORMAT_DESCRIPTION: return "Format_desc";
    case BE_XID: return "Xid";
    case BE_BEGIN_LOAD_QUERY: return "Begin_load_query";
    case BE_EXECUTE_LOAD_QUERY: return "Execute_load_query";
    case BE_TABLE_MAP: return "Table_map";
    case BE_PRE_GA_WRITE_ROWS: return "Write_rows_v0";
    case BE_PRE_GA_UPDATE_ROWS: return "Update_rows_v0";
    case BE_PRE_GA_DELETE_ROWS: return "Delete_rows_v0";
    case BE_WRITE_ROWS_V1: return "Write_rows_v1";
    case BE_UPDATE_ROWS_V1: return "Update_rows_v1";
    case BE_DELETE_ROWS_V1: return "Delete_rows_v1";
    case BE_INCIDENT: return "Incident";
    case BE_HEARTBEAT: return "Heartbeat";
    case BE_IGNORABLE: return "Ignorable";
    case BE_ROWS_QUERY: return "Rows_query";
    case BE_WRITE_ROWS_V2: return "Write_rows";
    case BE_UPDATE_ROWS_V2: return "Update_rows";
    case BE_DELETE_ROWS_V2: return "Delete_rows";
    case BE_GTID: return "Gtid";
    case BE_ANONYMOUS_GTID: return "Anonymous_Gtid";
    case BE_PREVIOUS_GTIDS: return "Previous_gtids";
    case BE_TRANSACTION_CONTEXT: return "Transaction_context";
    case BE_VIEW_CHANGE: return "View_change";
    case BE_XA_PREPARE: return "XA_prepare";
    case BE_PARTIAL_UPDATE_ROWS: return "Update_rows_partial";
    case BE_TRANSACTION_PAYLOAD: return "Transaction_payload";
    case BE_HEARTBEAT_V2: return "Heartbeat_v2";
    case BE_GTID_TAGGED: return "Gtid_tagged";
    case BE_ANNOTATE_ROWS: return "Annotate_rows";
    case BE_BINLOG_CHECKPOINT: return "Binlog_checkpoint";
    case BE_MARIA_GTID: return "Gtid (MariaDB)";
    case BE_GTID_LIST: return "Gtid_list";
    case BE_START_ENCRYPTION: return "Start_encryption";
    case BE_QUERY_COMPRESSED: return "Query_compressed";
    case BE_WRITE_ROWS_COMPRESSED_V1: return "Write_rows_compressed_v1";
    case BE_UPDATE_ROWS_COMPRESSED_V1: return "Update_rows_compressed_v1";
    case BE_DELETE_ROWS_COMPRESSED_V1: return "Delete_rows_compressed_v1";
    case BE_WRITE_ROWS_COMPRESSED_V2: return "Write_rows_compressed";
    case BE_UPDATE_ROWS_COMPRESSED_V2: return "Update_rows_compressed";
    case BE_DELETE_ROWS_COMPRESSED_V2: return "Delete_rows_compressed";
    default: return "Unknown";
    }
}

bool binlog_is_rows_event(int type)
{
    switch (type) {
    case BE_WRITE_ROWS_V1: case BE_UPDATE_ROWS_V1: case BE_DELETE_ROWS_V1:
    case BE_WRITE_ROWS_V2: case BE_UPDATE_ROWS_V2: case BE_DELETE_ROWS_V2:
    case BE_PARTIAL_UPDATE_ROWS:
    case BE_WRITE_ROWS_COMPRESSED_V1: case BE_UPDATE_ROWS_COMPRESSED_V1:
    case BE_DELETE_ROWS_COMPRESSED_V1: case BE_WRITE_ROWS_COMPRESSED_V2:
    case BE_UPDATE_ROWS_COMPRESSED_V2: case BE_DELETE_ROWS_COMPRESSED_V2:
        return true;
    default:
        return false;
    }
}

/* Post-header lengths of binlog v4 as MySQL 5.6+ and MariaDB 10.x write
 * them, used where the format description has no entry for a type. */
static uint8_t default_post_header_len(int type)
{
    switch (type) {
    case BE_START_V3: return 56;
    case BE_QUERY: case BE_QUERY_COMPRESSED: return 13;
    case BE_ROTATE: return 8;
    case BE_LOAD: case BE_NEW_LOAD: return 18;
    case BE_CREATE_FILE: case BE_APPEND_BLOCK: case BE_EXEC_LOAD: case BE_DELETE_FILE:
    case BE_BEGIN_LOAD_QUERY: return 4;
    case BE_EXECUTE_LOAD_QUERY: return 26;
    case BE_TABLE_MAP: return 8;
    case BE_WRITE_ROWS_V1: case BE_UPDATE_ROWS_V1: case BE_DELETE_ROWS_V1:
    case BE_WRITE_ROWS_COMPRESSED_V1: case BE_UPDATE_ROWS_COMPRESSED_V1:
    case BE_DELETE_ROWS_COMPRESSED_V1: return 8;
    case BE_WRITE_ROWS_V2: case BE_UPDATE_ROWS_V2: case BE_DELETE_ROWS_V2:
    case BE_PARTIAL_UPDATE_ROWS: case BE_WRITE_ROWS_COMPRESSED_V2:
    case BE_UPDATE_ROWS_COMPRESSED_V2: case BE_DELETE_ROWS_COMPRESSED_V2: return 10;
    case BE_INCIDENT: return 2;
    case BE_GTID: case BE_ANONYMOUS_GTID: return 42;
    case BE_TRANSACTION_CONTEXT: return 18;
    case BE_VIEW_CHANGE: return 52;
    case BE_BINLOG_CHECKPOINT: return 4;
    case BE_MARIA_GTID: return 19;
    case BE_GTID_LIST: return 4;
    default: return 0;
    }
}

uint8_t binlog_post_header_len(const binlog_fde *fde, int type)
{
    if (type > 0 && type < 256 && fde && type <= fde->n_post_headers)
        return fde->post_header_len[type];
    return default_post_header_len(type);
}

int binlog_event_header(const uint8_t *p, size_t avail, const binlog_fde *fde,
                        binlog_event *ev, char *errbuf, size_t errlen)
{
    if (avail < BINLOG_HEADER_LEN)
        return WH_ERR_TRUNCATED;
    memset(ev, 0, sizeof *ev);
    ev->timestamp = wh_le32(p);
    ev->type = p[4];
    ev->server_id = wh_le32(p + 5);
    ev->length = wh_le32(p + 9);
    ev->next_pos = wh_le32(p + 13);
    ev->flags = wh_le16(p + 17);
    size_t hdr = fde ? fde->header_len : BINLOG_HEADER_LEN;
    size_t min = hdr + ((fde && fde->checksum_alg == BINLOG_CHECKSUM_CRC32 &&
                         ev->type != BE_FORMAT_DESCRIPTION) ? BINLOG_CHECKSUM_LEN : 0);
    if (ev->length < min)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "event length %u is shorter than its header (%zu bytes); type code %u",
                         ev->length, min, ev->type);
    if (ev->length > BINLOG_MAX_EVENT)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "event length %u exceeds the 1 GiB limit of the binlog; type code %u",
                         ev->length, ev->type);
    return WH_OK;
}

int binlog_event_frame(const uint8_t *p, const binlog_fde *fde, bool verify,
                       binlog_event *ev, char *errbuf, size_t errlen)
{
    size_t hdr = fde->header_len;
    bool crc = fde->checksum_alg == BINLOG_CHECKSUM_CRC32;
    ev->data = p;
    ev->body = p + hdr;
    ev->body_len = ev->length - hdr - (crc ? BINLOG_CHECKSUM_LEN : 0);
    if (crc && verify) {
        uint32_t stored = wh_le32(p + ev->length - BINLOG_CHECKSUM_LEN);
        uint32_t computed = binlog_crc32(0, p, ev->length - BINLOG_CHECKSUM_LEN);
        if (stored != computed)
            return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                             "CRC32 checksum mismatch in a %s event of %u bytes (stored 0x%08x, "
                             "computed 0x%08x)", binlog_event_type_name(ev->type), ev->length,
                             stored, computed);
    }
    return WH_OK;
}

/* Parses "10.11.6-MariaDB-log" / "8.0.36" into three numbers. */
static void parse_version(const char *s, unsigned v[3])
{
    v[0] = v[1] = v[2] = 0;
    for (int i = 0; i < 3; i++) {
        char *end;
        unsigned long n = strtoul(s, &end, 10);
        if (end == s)
            break;
        v[i] = n > 65535 ? 65535 : (unsigned)n;
        if (*end != '.')
            break;
        s = end + 1;
    }
}

/* Whether a server of this version writes the checksum algorithm byte into
 * its format description event (MySQL 5.6.1+, MariaDB 5.3+). */
static bool version_has_checksum_byte(const binlog_fde *f)
{
    unsigned v = f->version[0] * 10000 + f->version[1] * 100 + f->version[2];
    return f->is_mariadb ? v >= 50300 : v >= 50601;
}

int binlog_fde_parse(const uint8_t *p, const binlog_event *ev, binlog_fde *out,
                     char *errbuf, size_t errlen)
{
    /* body: binlog_version(2) server_version(50) created(4) header_len(1)
     * post_header_len[n] [checksum_alg(1) crc(4)] */
    const size_t fixed = 2 + 50 + 4 + 1;
    memset(out, 0, sizeof *out);
    if (ev->length < BINLOG_HEADER_LEN + fixed)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "format description event of %u bytes is too short", ev->length);
    const uint8_t *b = p + BINLOG_HEADER_LEN;
    out->binlog_version = wh_le16(b);
    if (out->binlog_version != 4)
        return wh_seterr(errbuf, errlen, WH_ERR_UNSUPPORTED,
                         "binlog format version %u is not supported (only version 4, written "
                         "by MySQL 5.0+ and MariaDB)", out->binlog_version);
    memcpy(out->server_version, b + 2, 50);
    out->server_version[50] = '\0';
    out->is_mariadb = strstr(out->server_version, "MariaDB") != NULL;
    parse_version(out->server_version, out->version);
    out->created = wh_le32(b + 52);
    out->header_len = b[56];
    if (out->header_len < BINLOG_HEADER_LEN)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                         "format description declares a common header of %u bytes (minimum 19)",
                         out->header_len);
    size_t rest = ev->length - BINLOG_HEADER_LEN - fixed;
    out->checksum_alg = BINLOG_CHECKSUM_UNDEF;
    if (version_has_checksum_byte(out)) {
        if (rest < 1 + BINLOG_CHECKSUM_LEN)
            return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                             "format description event of %u bytes has no room for its "
                             "checksum algorithm", ev->length);
        rest -= 1 + BINLOG_CHECKSUM_LEN;
        out->checksum_alg = b[fixed + rest];
        if (out->checksum_alg != BINLOG_CHECKSUM_OFF &&
            out->checksum_alg != BINLOG_CHECKSUM_CRC32)
            return wh_seterr(errbuf, errlen, WH_ERR_UNSUPPORTED,
                             "unknown binlog checksum algorithm %u in the format description",
                             out->checksum_alg);
        if (out->checksum_alg == BINLOG_CHECKSUM_CRC32) {
            /* The server checksums this event with the in-use flag clear and
             * clears the flag in place when it closes the file, so compute
             * over the header with that flag cleared. */
            uint8_t hdr[BINLOG_HEADER_LEN];
            memcpy(hdr, p, sizeof hdr);
            hdr[17] &= (uint8_t)~BINLOG_F_IN_USE;
            uint32_t stored = wh_le32(p + ev->length - BINLOG_CHECKSUM_LEN);
            uint32_t computed = binlog_crc32(binlog_crc32(0, hdr, sizeof hdr), p + sizeof hdr,
                                             ev->length - sizeof hdr - BINLOG_CHECKSUM_LEN);
            if (stored != computed)
                return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT,
                                 "CRC32 checksum mismatch in the format description event "
                                 "(stored 0x%08x, computed 0x%08x)", stored, computed);
        }
    } else {
        out->checksum_alg = BINLOG_CHECKSUM_OFF;
    }
    if (rest > 255)
        rest = 255;
    out->n_post_headers = (uint16_t)rest;
    for (size_t i = 0; i < rest; i++)
        out->post_header_len[i + 1] = b[fixed + i];
    return WH_OK;
}

void binlog_fde_without_checksum(const binlog_fde *fde, binlog_fde *out)
{
    *out = *fde;
    out->checksum_alg = BINLOG_CHECKSUM_OFF;
}

void binlog_fde_default(binlog_fde *out, bool mariadb, uint8_t checksum_alg)
{
    memset(out, 0, sizeof *out);
    out->binlog_version = 4;
    snprintf(out->server_version, sizeof out->server_version, "%s",
             mariadb ? "10.11.0-MariaDB" : "8.0.36");
    out->is_mariadb = mariadb;
    parse_version(out->server_version, out->version);
    out->header_len = BINLOG_HEADER_LEN;
    out->checksum_alg = checksum_alg;
    out->n_post_headers = 0;   /* every type uses default_post_header_len */
}
