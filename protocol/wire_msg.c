/* wire_msg.c -- the push protocol's control messages and its position encoding (see wire_msg.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/errbuf.h"
#include "protocol/wire_msg.h"

/* ---- positions ---------------------------------------------------------------------- */

void wire_put_pos(wh_buf *b, const wh_position *p)
{
    if (!p) {
        mp_put_nil(b);
        return;
    }
    mp_put_array(b, 4);
    mp_put_cstr(b, p->log_name);
    mp_put_uint(b, p->offset);
    if (p->logical) {
        /* The update's own GTID only: a MariaDB position's GTID state
         * ("0-1-9,1-1-4": the other domains' last GTIDs) stays with the
         * publisher, which stores it; subscribers compare by GTID
         * (wormhole/applied.h), and no update carries the state's bytes. */
        const char *comma = strchr(p->logical, ',');
        mp_put_str(b, p->logical, comma ? (size_t)(comma - p->logical) : strlen(p->logical));
    } else {
        mp_put_nil(b);
    }
    mp_put_uint(b, p->index);
}

static bool get_opt_str(mp_reader *r, const char **s, uint32_t *len)
{
    if (mp_get_nil(r)) {
        *s = NULL;
        *len = 0;
        return true;
    }
    return mp_get_fixstr(r, s, len);
}

bool wire_get_pos(mp_reader *r, wire_pos *p)
{
    uint32_t n;
    uint64_t idx;
    memset(p, 0, sizeof *p);
    if (mp_get_nil(r))
        return true;
    if (!mp_get_fixarray(r, &n) || n != 4 || !get_opt_str(r, &p->log_name, &p->log_name_len) ||
        !mp_get_fixuint(r, &p->offset) || !get_opt_str(r, &p->logical, &p->logical_len) ||
        !mp_get_fixuint(r, &idx) || idx > UINT32_MAX)
        return false;
    p->index = (uint32_t)idx;
    p->present = true;
    return true;
}

const char *wire_pos_text(const wire_pos *p, char *buf, size_t len)
{
    int n;
    if (!p->present)
        n = snprintf(buf, len, "none");
    else if (p->log_name)
        n = snprintf(buf, len, "%.*s:%" PRIu64 "/%" PRIu32, (int)p->log_name_len, p->log_name,
                     p->offset, p->index);
    else
        n = snprintf(buf, len, "%" PRIu64 "/%" PRIu32, p->offset, p->index);
    if (p->present && p->logical && n >= 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, " (%.*s/%" PRIu32 ")", (int)p->logical_len,
                 p->logical, p->index);
    return buf;
}

/* ---- control messages ----------------------------------------------------------------- */

int wire_put_hello(wh_buf *b, const char *app, const char *shard, const char *publisher,
                   uint64_t epoch, const wh_position *start, uint64_t heartbeat_ms)
{
    size_t f = wire_frame_begin(b, WIRE_HELLO);
    mp_put_map(b, 7);
    mp_put_uint(b, 1); mp_put_uint(b, WIRE_VERSION);
    mp_put_uint(b, 2); mp_put_cstr(b, app);
    mp_put_uint(b, 3); mp_put_cstr(b, shard);
    mp_put_uint(b, 4); mp_put_cstr(b, publisher);
    mp_put_uint(b, 5); mp_put_uint(b, epoch);
    mp_put_uint(b, 6); wire_put_pos(b, start);
    mp_put_uint(b, 7); mp_put_uint(b, heartbeat_ms);
    return wire_frame_end(b, f);
}

int wire_put_hello_ok(wh_buf *b, const char *instance, uint32_t max_frame, uint64_t max_update)
{
    size_t f = wire_frame_begin(b, WIRE_HELLO_OK);
    mp_put_map(b, max_update ? 4 : 3);
    mp_put_uint(b, 1); mp_put_uint(b, WIRE_VERSION);
    mp_put_uint(b, 2); mp_put_cstr(b, instance);
    mp_put_uint(b, 3); mp_put_uint(b, max_frame);
    if (max_update) {
        mp_put_uint(b, 4);
        mp_put_uint(b, max_update);
    }
    return wire_frame_end(b, f);
}

int wire_put_error(wh_buf *b, int code, const char *message)
{
    size_t f = wire_frame_begin(b, WIRE_ERROR);
    mp_put_map(b, 2);
    mp_put_uint(b, 1); mp_put_int(b, code);
    mp_put_uint(b, 2); mp_put_cstr(b, message);
    return wire_frame_end(b, f);
}

int wire_put_datamarker(wh_buf *b, uint64_t seq, const wh_position *pos)
{
    size_t f = wire_frame_begin(b, WIRE_DATAMARKER);
    mp_put_map(b, 2);
    mp_put_uint(b, 1); mp_put_uint(b, seq);
    mp_put_uint(b, 2); wire_put_pos(b, pos);
    return wire_frame_end(b, f);
}

int wire_put_ack(wh_buf *b, uint64_t seq)
{
    size_t f = wire_frame_begin(b, WIRE_ACK);
    mp_put_map(b, 1);
    mp_put_uint(b, 1); mp_put_uint(b, seq);
    return wire_frame_end(b, f);
}

int wire_put_heartbeat(wh_buf *b, uint64_t time_ms)
{
    size_t f = wire_frame_begin(b, WIRE_HEARTBEAT);
    mp_put_map(b, 1);
    mp_put_uint(b, 1); mp_put_uint(b, time_ms);
    return wire_frame_end(b, f);
}

int wire_put_shard_notice(wh_buf *b, const char *shard, bool held)
{
    size_t f = wire_frame_begin(b, WIRE_SHARD_NOTICE);
    mp_put_map(b, 2);
    mp_put_uint(b, 1); mp_put_cstr(b, shard);
    mp_put_uint(b, 2); mp_put_bool(b, held);
    return wire_frame_end(b, f);
}

int wire_msg_decode(int type, const uint8_t *payload, size_t len, wire_msg *out,
                    char *errbuf, size_t errlen)
{
    mp_reader r = { payload, payload + len };
    uint32_t n;
    memset(out, 0, sizeof *out);
    out->type = type;
    if (type <= 0 || type > WIRE__MAX || type == WIRE_UPDATES || type == WIRE_UPDATES_PART)
        return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL, "unexpected frame type %d", type);
    if (!mp_get_map(&r, &n))
        return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL, "%s payload is not a map",
                         wire_type_name(type));
    for (uint32_t k = 0; k < n; k++) {
        uint64_t key;
        bool ok;
        if (!mp_get_uint(&r, &key))
            return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                             "%s payload: key %u is not an unsigned integer",
                             wire_type_name(type), k);
        /* Key meanings depend on the type; see docs/PROTOCOL.md. */
        switch (type * 16 + (int)(key < 16 ? key : 15)) {
        case WIRE_HELLO * 16 + 1:
        case WIRE_HELLO_OK * 16 + 1: ok = mp_get_uint(&r, &out->version); break;
        case WIRE_HELLO * 16 + 2: ok = mp_get_str(&r, &out->app, &out->app_len); break;
        case WIRE_HELLO * 16 + 3: ok = mp_get_str(&r, &out->shard, &out->shard_len); break;
        case WIRE_HELLO * 16 + 4:
            ok = mp_get_str(&r, &out->publisher, &out->publisher_len);
            break;
        case WIRE_HELLO * 16 + 5: ok = mp_get_uint(&r, &out->epoch); break;
        case WIRE_HELLO * 16 + 6:
        case WIRE_DATAMARKER * 16 + 2: ok = wire_get_pos(&r, &out->pos); break;
        case WIRE_HELLO * 16 + 7: ok = mp_get_uint(&r, &out->heartbeat_ms); break;
        case WIRE_HELLO_OK * 16 + 2:
            ok = get_opt_str(&r, &out->instance, &out->instance_len);
            break;
        case WIRE_HELLO_OK * 16 + 3: ok = mp_get_uint(&r, &out->max_frame); break;
        case WIRE_HELLO_OK * 16 + 4: ok = mp_get_uint(&r, &out->max_update); break;
        case WIRE_ERROR * 16 + 1: ok = mp_get_int(&r, &out->code); break;
        case WIRE_ERROR * 16 + 2: ok = get_opt_str(&r, &out->message, &out->message_len); break;
        case WIRE_DATAMARKER * 16 + 1:
        case WIRE_ACK * 16 + 1: ok = mp_get_uint(&r, &out->seq); break;
        case WIRE_HEARTBEAT * 16 + 1: ok = mp_get_uint(&r, &out->time_ms); break;
        case WIRE_SHARD_NOTICE * 16 + 1: ok = mp_get_str(&r, &out->shard, &out->shard_len); break;
        case WIRE_SHARD_NOTICE * 16 + 2: ok = mp_get_bool(&r, &out->held); break;
        default: ok = mp_skip(&r, 16); break;
        }
        if (!ok)
            return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                             "%s payload: value of key %" PRIu64 " is malformed or of the wrong type",
                             wire_type_name(type), key);
    }
    if (r.p != r.end)
        return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL, "%s payload: %zu bytes after the map",
                         wire_type_name(type), (size_t)(r.end - r.p));
    if (type == WIRE_HELLO && (!out->app || !out->shard))
        return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL, "HELLO without app or shard");
    if (type == WIRE_HELLO_OK && out->max_frame &&
        (out->max_frame < WIRE_FRAME_MIN || out->max_frame > WIRE_FRAME_MAX))
        return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL,
                         "HELLO_OK announces a frame limit of %" PRIu64 " bytes, outside %u..%u",
                         out->max_frame, WIRE_FRAME_MIN, WIRE_FRAME_MAX);
    return WH_OK;
}
