/* wire_msg.h -- the push protocol's control messages (HELLO ... SHARD_NOTICE) and positions on the wire.
 *
 * Control frames carry one MessagePack map each; docs/PROTOCOL.md lists the
 * keys per type. Decoding never trusts the peer: a key of the wrong type is
 * an error, an unknown key is skipped (forward compatibility).
 *
 * Threads: all functions are reentrant; a wh_buf is used by one thread at a
 * time. */
#ifndef WH_WIRE_MSG_H
#define WH_WIRE_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "protocol/msgpack.h"
#include "protocol/wire_frame.h"
#include "wormhole/error.h"
#include "wormhole/position.h"
#include "wormhole/update.h"

/* ---- positions on the wire ------------------------------------------------------------ */

/* A position as carried in HELLO, DATAMARKER and each update: strings point
 * into the frame (not NUL-terminated). present is false when the peer sent
 * nil. */
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

/* Reads what wire_put_pos wrote (nil gives present = false). Returns false,
 * not advancing past a complete position, if the next object is not one. */
bool wire_get_pos(mp_reader *r, wire_pos *p);

/* Buffer size that holds every wire_pos_text. */
#define WIRE_POS_TEXT_MAX (WH_POS_PHYSICAL_TEXT_MAX + WH_POS_LOGICAL_TEXT_MAX + 4)

/* Writes p's text forms for messages: "FILE:OFFSET/INDEX" or "SEQ/INDEX",
 * then " (GTID/INDEX)" when it has a logical part; "none" if absent. Cuts
 * like snprintf; returns buf. */
const char *wire_pos_text(const wire_pos *p, char *buf, size_t len);

/* ---- control messages ------------------------------------------------------------------- */

/* Every field a control frame can carry; strings point into the payload and
 * are not NUL-terminated. Unset fields are zero/NULL. */
typedef struct wire_msg {
    int         type;
    uint64_t    version;        /* HELLO, HELLO_OK */
    uint64_t    max_frame;      /* HELLO_OK: largest frame length accepted, 0 if not said */
    uint64_t    max_update;     /* HELLO_OK: largest reassembled update accepted; 0 if not
                                   said (then the peer takes no UPDATES_PART) */
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
/* HELLO_OK announces the subscriber's limits: frames of at most max_frame
 * bytes (WIRE_FRAME_MIN..WIRE_FRAME_MAX), and updates of at most max_update
 * bytes reassembled from UPDATES_PART frames (0: it takes none). */
int wire_put_hello_ok(wh_buf *b, const char *instance, uint32_t max_frame, uint64_t max_update);
int wire_put_error(wh_buf *b, int code, const char *message);
int wire_put_datamarker(wh_buf *b, uint64_t seq, const wh_position *pos);
int wire_put_ack(wh_buf *b, uint64_t seq);
int wire_put_heartbeat(wh_buf *b, uint64_t time_ms);
int wire_put_shard_notice(wh_buf *b, const char *shard, bool held);

/* Decodes a control frame's payload (any type but UPDATES and UPDATES_PART,
 * see wire_batch.h and wire_part.h). Unknown keys are skipped (forward
 * compatibility); a key of the wrong type is an error, and so is a HELLO_OK
 * announcing a frame limit outside WIRE_FRAME_MIN..WIRE_FRAME_MAX. Returns 0
 * or WH_ERR_PROTOCOL with the reason in errbuf. */
int wire_msg_decode(int type, const uint8_t *payload, size_t len, wire_msg *out,
                    char *errbuf, size_t errlen);

#endif
