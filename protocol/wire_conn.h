/* wire_conn.h -- a framed connection's buffers: receive whole frames, send with a flush loop.
 *
 * Both ends of the push protocol read frames from, and write frames to, a
 * non-blocking TCP socket driven by an epoll loop. These two buffers hold
 * what that loop needs and nothing else: no protocol state, no timers.
 *
 * Receiving (wire_inbuf): wire_inbuf_fill reads what the socket has (one
 * recv), then wire_inbuf_next hands out the complete
 * frames, CRC-checked, one by one, until it returns WH_ERR_AGAIN. The
 * contract between the two:
 *   - call wire_inbuf_next until WH_ERR_AGAIN (or an error) before the next
 *     wire_inbuf_fill: a frame returned by wire_inbuf_next (type, payload)
 *     points into the buffer and is valid until the next fill, reset or
 *     free, which may move or reallocate the bytes;
 *   - the fill first compacts: the unconsumed tail (a partial frame) moves
 *     to the front, so the buffer never grows with the connection's life,
 *     only with the frame in flight; and memory a large frame needed is
 *     given back once it is handled (at the next fill, or at once with
 *     wire_inbuf_trim): a buffer keeps at most WIRE_INBUF_KEEP bytes, or
 *     twice what its current frame needs;
 *   - no frame may exceed max_frame (a longer length is WH_ERR_LIMIT from
 *     wire_inbuf_next), and the buffer never holds more than max_bytes: a
 *     peer that has sent max_bytes without completing a frame gets
 *     WH_ERR_LIMIT from wire_inbuf_fill, with a sentence naming the peer.
 *
 * Sending (wire_outbuf): append whole frames to o->buf (wire_put_*,
 * wire_enc_*), then wire_outbuf_flush sends until everything is out or the
 * socket would block (EAGAIN), keeps the rest for the next flush, and
 * reports a failed send with its errno (o->err, sticky until reset). The
 * sent prefix is dropped when everything is out (and a buffer over
 * WIRE_OUTBUF_KEEP bytes is then freed), and compacted away once it is over
 * 1 MiB and more than half the buffer, so a peer that reads slowly costs
 * memory only for what it has not read.
 *
 * Threads: neither buffer locks. Each is used by one thread at a time: the
 * thread that owns the connection's socket (the subscriber's loop thread;
 * the publisher's loop thread for reading). A send buffer that other threads
 * append to (the publisher's caravans encode into a flow's output) must be
 * guarded by the owner's lock around both appending and flushing. */
#ifndef WH_WIRE_CONN_H
#define WH_WIRE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "wormhole/error.h"

struct wire_tls;

/* Memory an idle buffer keeps for the next frames; beyond it, memory goes
 * back as soon as the frames that needed it are handled. */
#define WIRE_INBUF_KEEP  (1u << 20)
#define WIRE_OUTBUF_KEEP (4u << 20)

/* ---- receiving ---------------------------------------------------------------------- */

typedef struct wire_inbuf {
    wh_buf   buf;         /* bytes received; [off, buf.len) not yet handed out */
    size_t   off;
    uint32_t max_frame;   /* limit on a frame's length field */
    size_t   max_bytes;   /* limit on the bytes held */
} wire_inbuf;

/* Prepares an empty buffer for frames of length at most max_frame, holding
 * at most max_bytes; max_bytes 0 means max_frame + 8, what one frame of the
 * largest size needs (a smaller max_bytes lowers the frame limit to
 * max_bytes - 8). Allocates nothing yet. */
void wire_inbuf_init(wire_inbuf *in, uint32_t max_frame, size_t max_bytes);

/* Changes the limits (a subscriber raises them once a peer said HELLO);
 * max_bytes 0 means max_frame + 8 as above. What is held already stays,
 * even over a lowered limit: the next fill refuses to add to it. */
void wire_inbuf_limit(wire_inbuf *in, uint32_t max_frame, size_t max_bytes);

/* Compacts and gives back the memory the frames handed out needed (see
 * above); call it once done with them, as it invalidates their payloads. */
void wire_inbuf_trim(wire_inbuf *in);

/* Drops the contents (a new connection), keeping the memory. */
void wire_inbuf_reset(wire_inbuf *in);

/* Releases the memory; in can be initialised again. */
void wire_inbuf_free(wire_inbuf *in);

/* Bytes received and not yet handed out as frames. */
static inline size_t wire_inbuf_pending(const wire_inbuf *in) { return in->buf.len - in->off; }

/* Compacts, then reads once from the non-blocking socket fd: into room for
 * at least chunk bytes (for all of a frame whose header is already in), and
 * never past max_bytes. Returns WH_OK with *got > 0 bytes added;
 * WH_ERR_AGAIN when the socket has nothing now; WH_ERR_CLOSED when the peer
 * closed the connection; WH_ERR_LIMIT when max_bytes are held without a
 * complete frame; WH_ERR_IO (recv failed; errno kept) or WH_ERR_NOMEM. Every
 * error and WH_ERR_CLOSED write a sentence naming peer (a "host:port", may
 * be NULL) into errbuf. EINTR is retried. */
int wire_inbuf_fill(wire_inbuf *in, int fd, size_t chunk, size_t *got, const char *peer,
                    char *errbuf, size_t errlen);

/* The same over the TLS connection tls on fd (plain recv when tls is NULL):
 * a TLS error is WH_ERR_IO with wire_tls_error's sentence. TLS may keep
 * decrypted bytes that the socket no longer signals: a level-triggered
 * owner that stops before WH_ERR_AGAIN checks wire_tls_pending. */
int wire_inbuf_fill_tls(wire_inbuf *in, int fd, struct wire_tls *tls, size_t chunk,
                        size_t *got, const char *peer, char *errbuf, size_t errlen);

/* Hands out the next complete frame: WH_OK with its type, payload (pointing
 * into the buffer, see above) and plen; WH_ERR_AGAIN when the buffer holds
 * no complete frame; WH_ERR_LIMIT or WH_ERR_CORRUPT (wire_frame_parse: the
 * length exceeds max_frame, is 0, or the CRC does not match) with the reason
 * in errbuf. After an error the connection's byte stream is lost: close it. */
int wire_inbuf_next(wire_inbuf *in, int *type, const uint8_t **payload, size_t *plen,
                    char *errbuf, size_t errlen);

/* ---- sending ------------------------------------------------------------------------- */

typedef struct wire_outbuf {
    wh_buf buf;   /* frames to send: append to it directly */
    size_t off;   /* bytes of buf already sent */
    int    err;   /* errno of the send that failed; 0 while the socket is healthy */
} wire_outbuf;

#define WIRE_OUTBUF_INIT { WH_BUF_INIT, 0, 0 }

/* Drops everything queued and clears err (a new connection); keeps memory. */
void wire_outbuf_reset(wire_outbuf *o);

/* Releases the memory; o can be used again from WIRE_OUTBUF_INIT. */
void wire_outbuf_free(wire_outbuf *o);

/* Bytes queued and not yet sent. */
static inline size_t wire_outbuf_pending(const wire_outbuf *o) { return o->buf.len - o->off; }

/* Sends what is queued on the non-blocking socket fd until all of it is out
 * or the socket would block; *sent (may be NULL) gets the bytes sent by this
 * call. Returns WH_OK (check wire_outbuf_pending for what remains), or
 * WH_ERR_IO when a send failed or did already: o->err holds the errno (EPIPE
 * when the socket took nothing and reported no error). Never raises SIGPIPE.
 * EINTR is retried. */
int wire_outbuf_flush(wire_outbuf *o, int fd, size_t *sent);

/* The same over the TLS connection tls on fd (plain send when NULL). */
int wire_outbuf_flush_tls(wire_outbuf *o, int fd, struct wire_tls *tls, size_t *sent);

#endif
