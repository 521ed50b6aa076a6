/* wire.h -- the push protocol's frames, checksums and MessagePack bodies (docs/PROTOCOL.md).
 *
 * Shared by the publisher (encoding updates, decoding acks) and the
 * subscriber library (decoding updates from untrusted peers). Frames are
 *     u32 BE length | u8 type | payload (length - 1 bytes) | u32 BE CRC32C
 * where length counts type + payload and the CRC covers length, type and
 * payload. Every payload is one MessagePack map with small integer keys.
 *
 * Decoders never trust their input: every length and count is checked
 * against the bytes that remain, and nothing is allocated in proportion to a
 * count before the bytes backing it have been seen.
 *
 * Threads: all functions are reentrant; objects are used by one thread at a
 * time. */
#ifndef WH_WIRE_H
#define WH_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "wormhole/error.h"
#include "wormhole/update.h"

#define WIRE_VERSION      1
#define WIRE_HEADER_LEN   5               /* length + type */
#define WIRE_TRAILER_LEN  4               /* CRC32C */
#define WIRE_FRAME_MAX    (64u << 20)     /* default limit on length */

typedef enum wire_type {
    WIRE_HELLO        = 1,   /* publisher -> subscriber: opens a flow */
    WIRE_HELLO_OK     = 2,   /* subscriber -> publisher: flow accepted */
    WIRE_ERROR        = 3,   /* either way: refusal or fatal error, then close */
    WIRE_UPDATES      = 4,   /* publisher -> subscriber: a batch of updates */
    WIRE_DATAMARKER   = 5,   /* publisher -> subscriber: position checkpoint */
    WIRE_ACK          = 6,   /* subscriber -> publisher: datamarker processed */
    WIRE_HEARTBEAT    = 7,   /* either way: liveness */
    WIRE_SHARD_NOTICE = 8,   /* publisher -> subscriber: shard released */
    WIRE__MAX         = 8
} wire_type;

/* Names of frame types ("HELLO", ...); "UNKNOWN" otherwise. Static storage. */
const char *wire_type_name(int type);

/* ---- checksum ------------------------------------------------------------ */

/* CRC32C (Castagnoli), as in iSCSI: wire_crc32c(0, "123456789", 9) ==
 * 0xe3069283. Pass the previous result as crc to continue a running sum. */
uint32_t wire_crc32c(uint32_t crc, const void *data, size_t len);

/* ---- frames -------------------------------------------------------------- */

/* Appends a frame header of type to b and returns the frame's start offset
 * for wire_frame_end. The payload is then appended to b directly. */
size_t wire_frame_begin(wh_buf *b, int type);

/* Patches the length of the frame started at start and appends its CRC.
 * Returns 0, WH_ERR_NOMEM if b ran out of memory, or WH_ERR_LIMIT if the
 * frame exceeds WIRE_FRAME_MAX (the frame is then removed from b). */
int wire_frame_end(wh_buf *b, size_t start);

/* Looks for one complete frame at the start of p[0..n). Returns WH_OK and
 * sets type, payload (pointing into p), plen and *consumed (the frame's size);
 * WH_ERR_AGAIN if more bytes are needed; WH_ERR_LIMIT if the length exceeds
 * max_len; WH_ERR_CORRUPT if the length is 0 or the CRC does not match. On
 * error errbuf says why. */
int wire_frame_parse(const uint8_t *p, size_t n, uint32_t max_len, int *type,
                     const uint8_t **payload, size_t *plen, size_t *consumed,
                     char *errbuf, size_t errlen);

/* ---- MessagePack writing (to a wh_buf) ------------------------------------ */

void mp_put_nil(wh_buf *b);
void mp_put_bool(wh_buf *b, bool v);
void mp_put_uint(wh_buf *b, uint64_t v);
void mp_put_int(wh_buf *b, int64_t v);
void mp_put_float(wh_buf *b, float v);
void mp_put_double(wh_buf *b, double v);
void mp_put_str(wh_buf *b, const char *s, size_t len);
void mp_put_cstr(wh_buf *b, const char *s);   /* NULL writes nil */
void mp_put_bin(wh_buf *b, const void *p, size_t len);
void mp_put_array(wh_buf *b, uint32_t n);
void mp_put_map(wh_buf *b, uint32_t n);
void mp_put_ext(wh_buf *b, int8_t type, const void *p, uint32_t len);

/* ---- MessagePack reading --------------------------------------------------- */

typedef struct mp_reader {
    const uint8_t *p, *end;
} mp_reader;

/* Kinds of the next object, from its first byte. */
typedef enum mp_kind {
    MP_NIL, MP_BOOL, MP_UINT, MP_INT, MP_FLOAT32, MP_FLOAT64, MP_STR, MP_BIN,
    MP_ARRAY, MP_MAP, MP_EXT, MP_BAD
} mp_kind;

/* Kind of the next object; MP_BAD at the end of input or on byte 0xc1. */
mp_kind mp_peek(const mp_reader *r);

/* Each reader returns true and advances on success, false (not advancing)
 * if the next object is of another kind or is truncated. */
bool mp_get_nil(mp_reader *r);
bool mp_get_bool(mp_reader *r, bool *v);
bool mp_get_uint(mp_reader *r, uint64_t *v);     /* any non-negative integer */
bool mp_get_int(mp_reader *r, int64_t *v);       /* any integer fitting int64 */
bool mp_get_double(mp_reader *r, double *v);     /* float32 or float64 */
bool mp_get_str(mp_reader *r, const char **s, uint32_t *len);
bool mp_get_bin(mp_reader *r, const uint8_t **p, uint32_t *len);
bool mp_get_array(mp_reader *r, uint32_t *n);    /* n <= bytes remaining */
bool mp_get_map(mp_reader *r, uint32_t *n);      /* 2n <= bytes remaining */
bool mp_get_ext(mp_reader *r, int8_t *type, const uint8_t **p, uint32_t *len);
/* Skips one object (nesting at most depth levels). */
bool mp_skip(mp_reader *r, int depth);

/* ---- positions on the wire ------------------------------------------------- */

/* A position as carried in HELLO and DATAMARKER: strings point into the
 * frame (not NUL-terminated). present is false when the peer sent nil. */
typedef struct wire_pos {
    bool        present;
    const char *log_name;   /* NULL if none */
    uint32_t    log_name_len;
    uint64_t    offset;
    const char *logical;    /* NULL if none */
    uint32_t    logical_len;
    uint32_t    index;
} wire_pos;

/* Writes a position as [log_name|nil, offset, logical|nil, index] (or nil if
 * p is NULL). */
void wire_put_pos(wh_buf *b, const wh_position *p);

/* ---- control messages -------------------------------------------------------- */

/* Every field a control frame can carry; strings point into the payload and
 * are not NUL-terminated. Unset fields are zero/NULL. */
typedef struct wire_msg {
    int         type;
    uint64_t    version;        /* HELLO, HELLO_OK */
    const char *app;      uint32_t app_len;       /* HELLO */
    const char *shard;    uint32_t shard_len;     /* HELLO, SHARD_NOTICE */
    const char *publisher;uint32_t publisher_len; /* HELLO */
    const char *instance; uint32_t instance_len;  /* HELLO_OK */
    const char *message;  uint32_t message_len;   /* ERROR */
    uint64_t    epoch;          /* HELLO */
    uint64_t    heartbeat_ms;   /* HELLO: the publisher's heartbeat interval */
    wire_pos    pos;            /* HELLO (start), DATAMARKER */
    uint64_t    seq;            /* DATAMARKER, ACK */
    uint64_t    time_ms;        /* HEARTBEAT */
    int64_t     code;           /* ERROR: a wh_err code */
    bool        held;           /* SHARD_NOTICE */
} wire_msg;

/* Appenders of whole control frames to b. Return 0 or WH_ERR_NOMEM. */
int wire_put_hello(wh_buf *b, const char *app, const char *shard, const char *publisher,
                   uint64_t epoch, const wh_position *start, uint64_t heartbeat_ms);
int wire_put_hello_ok(wh_buf *b, const char *instance);
int wire_put_error(wh_buf *b, int code, const char *message);
int wire_put_datamarker(wh_buf *b, uint64_t seq, const wh_position *pos);
int wire_put_ack(wh_buf *b, uint64_t seq);
int wire_put_heartbeat(wh_buf *b, uint64_t time_ms);
int wire_put_shard_notice(wh_buf *b, const char *shard, bool held);

/* Decodes a control frame's payload (any type but UPDATES). Unknown keys are
 * skipped (forward compatibility); a key of the wrong type is an error.
 * Returns 0 or WH_ERR_PROTOCOL with the reason in errbuf. */
int wire_msg_decode(int type, const uint8_t *payload, size_t len, wire_msg *out,
                    char *errbuf, size_t errlen);

/* ---- update batches ---------------------------------------------------------- */

/* Encoder of one UPDATES frame. Reuse one encoder for many frames: its
 * name-table cache keeps its memory, so steady state allocates nothing. */
typedef struct wire_enc {
    wh_buf  *out;
    size_t   frame_start;
    size_t   count_at;      /* offset of the array32 count to patch */
    uint32_t count;
    struct wire_names { const char *const *names; uint32_t count; } *tables;
    uint32_t ntables, cap_tables;
    bool     oom;
} wire_enc;

void wire_enc_init(wire_enc *e);
void wire_enc_free(wire_enc *e);

/* Starts an UPDATES frame in out for updates of shard. */
void wire_enc_begin(wire_enc *e, wh_buf *out, const char *shard);

/* Appends one update. u->shard is not written per update (the batch has
 * it). Returns 0 or WH_ERR_NOMEM. */
int wire_enc_add(wire_enc *e, const wh_update *u);

/* Finishes the frame (writes the name tables, patches counts, appends the
 * CRC). Returns 0, WH_ERR_NOMEM or WH_ERR_LIMIT (frame removed from out). */
int wire_enc_end(wire_enc *e);

/* A decoded batch: updates[0..count) in arena memory; value strings of
 * STRING/BYTES/DECIMAL/JSON/ENUM/SET point into the payload, so the batch is
 * valid while both the arena and the payload are. */
typedef struct wire_batch {
    const char *shard;
    wh_update  *updates;
    uint32_t    count;
} wire_batch;

/* Decodes an UPDATES payload. Returns 0, WH_ERR_NOMEM, or WH_ERR_PROTOCOL
 * with errbuf naming the update index and field that was malformed. */
int wire_batch_decode(const uint8_t *payload, size_t len, wh_arena *arena, wire_batch *out,
                      char *errbuf, size_t errlen);

#endif
