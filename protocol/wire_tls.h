/* wire_tls.h -- mutual TLS under the push protocol's frames: contexts, the handshake, peer names, reads and writes.
 *
 * Both ends of a publisher -> subscriber connection share this module
 * (docs/PROTOCOL.md, "TLS"; docs/SECURITY.md). A context (wire_tls_ctx) holds
 * the CA file, this process's certificate and key, and the OpenSSL context
 * built from them: TLS 1.3 only, the peer's certificate required and verified
 * against the CA. A connection (wire_tls) wraps one non-blocking socket: the
 * handshake is stepped from the owner's event loop (wire_tls_handshake says
 * whether it waits to read or to write), then bytes go through wire_tls_recv
 * and wire_tls_send, which behave like recv and send (EAGAIN when TLS wants
 * the socket) so that wire_conn.c's buffers work unchanged over either.
 *
 * Authorisation is by name: wire_tls_authorised matches the names of the
 * peer's certificate (its SAN DNS entries, or its CN when it has none)
 * against a comma-separated list of patterns in which "{shard}" or "{app}"
 * stands for the shard or app at stake and "*" for any run of characters
 * other than '.'.
 *
 * Threads: a context and its connections belong to one thread at a time
 * (the subscriber's loop, the publisher's loop); nothing here locks. A
 * connection keeps the OpenSSL context it was made with, so reloading a
 * context (new certificate) never disturbs connections already up. */
#ifndef WH_WIRE_TLS_H
#define WH_WIRE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "wormhole/error.h"

/* When TLS is used (publisher tls.mode, libwormhole tls_mode):
 *  - AUTO (the default, "auto" or unset): TLS when a certificate is
 *    configured; without one, plaintext, but only with loopback peers;
 *  - ON ("on"): TLS, and a certificate, CA and key are required;
 *  - OFF ("off"): plaintext chosen explicitly, still only with loopback
 *    peers: wormhole never sends updates in clear across hosts. */
typedef enum wire_tls_mode { WIRE_TLS_AUTO = 0, WIRE_TLS_ON, WIRE_TLS_OFF } wire_tls_mode;

/* Parses "auto", "on" or "off" (NULL or "" is auto); false for anything else. */
bool wire_tls_parse_mode(const char *text, wire_tls_mode *out);

/* Whether a numeric IPv4 or IPv6 address text is a loopback one
 * (127.0.0.0/8, ::1, ::ffff:127.x.x.x), or the name "localhost". */
bool wire_tls_is_loopback(const char *host);

/* Default patterns: the names a publisher's certificate must carry for a
 * subscriber to take a shard from it, and a subscriber's for a publisher to
 * deliver an app to it. */
#define WIRE_TLS_PUBLISHER_NAMES  "publisher.{shard}.wormhole"
#define WIRE_TLS_SUBSCRIBER_NAMES "subscriber.{app}.wormhole"

/* The largest certificate chain accepted from a peer during the handshake
 * (bounds what a stranger can make a subscriber hold before its HELLO). */
#define WIRE_TLS_MAX_CERT_LIST (64u << 10)

typedef struct wire_tls_files {
    const char *ca_file;     /* PEM: the CA(s) a peer's certificate must chain to */
    const char *cert_file;   /* PEM: this process's certificate (and intermediates) */
    const char *key_file;    /* PEM: its private key; refused unless 0600 or stricter and
                                owned by this user or root (wh_file_read_secret) */
} wire_tls_files;

typedef struct wire_tls_ctx wire_tls_ctx;
typedef struct wire_tls wire_tls;

/* Loads the files into a new context for a server (the subscriber, which
 * accepts) or a client (the publisher). Every file is required. Returns 0
 * and *out (free with wire_tls_ctx_free), or WH_ERR_CONFIG / WH_ERR_IO with a
 * sentence naming the file and the reason in errbuf. */
int  wire_tls_ctx_new(const wire_tls_files *files, bool server, wire_tls_ctx **out,
                      char *errbuf, size_t errlen);
/* Frees the context; connections made from it keep working. Accepts NULL. */
void wire_tls_ctx_free(wire_tls_ctx *c);

/* Loads the files again (a renewed certificate): new connections use the
 * new ones. On failure the context keeps what it had and errbuf says why. */
int  wire_tls_ctx_reload(wire_tls_ctx *c, char *errbuf, size_t errlen);

/* Reloads only if one of the files changed (inode, size or modification
 * time) since the last load: cheap enough for every new connection.
 * Returns 1 when it reloaded, 0 when nothing changed, or an error of
 * wire_tls_ctx_reload (the context kept its old certificate). */
int  wire_tls_ctx_refresh(wire_tls_ctx *c, char *errbuf, size_t errlen);

/* Subject of the context's own certificate, one line ("CN=..."). */
const char *wire_tls_ctx_subject(const wire_tls_ctx *c);

/* A TLS connection over the connected non-blocking socket fd (not owned:
 * the caller closes it after wire_tls_free). Returns 0, or WH_ERR_NOMEM. */
int  wire_tls_new(wire_tls_ctx *c, int fd, wire_tls **out);
void wire_tls_free(wire_tls *t);   /* accepts NULL; sends no close_notify */

/* Steps the handshake. Returns WH_OK once it is complete (the peer's
 * certificate verified against the CA); WH_ERR_AGAIN while it waits for the
 * socket, with *want_write telling whether it waits to write (else to read);
 * or WH_ERR_PROTOCOL with the reason in errbuf: the peer presented no
 * certificate, one from another CA, an expired one (each naming the
 * certificate's subject), spoke no TLS (a plaintext peer) or no TLS 1.3, or
 * refused ours (the alert it sent). */
int  wire_tls_handshake(wire_tls *t, bool *want_write, char *errbuf, size_t errlen);

/* The peer's certificate subject, one line ("CN=..."), or "no certificate".
 * Valid until wire_tls_free. */
const char *wire_tls_peer_subject(const wire_tls *t);

/* Whether the peer's certificate carries a name matching one of patterns
 * (see above), "{shard}" or "{app}" replaced by value. On false, errbuf
 * says which names the certificate has and which were wanted. */
bool wire_tls_authorised(const wire_tls *t, const char *patterns, const char *value,
                         char *errbuf, size_t errlen);

/* Matches one name against one pattern (already substituted): ASCII case is
 * ignored, '*' matches any run of characters other than '.'. */
bool wire_tls_name_match(const char *pattern, const char *name);

/* recv and send over the connection t, or plain recv/send on fd when t is
 * NULL: > 0 bytes moved; recv 0 at the peer's end of stream; -1 with errno
 * (EAGAIN when TLS waits for the socket in either direction, EPROTO for a
 * TLS error: wire_tls_error says which). A send that returned -1 EAGAIN must
 * be repeated with the same bytes (more may follow them) before any other.
 * send never raises SIGPIPE. */
ssize_t wire_tls_recv(int fd, wire_tls *t, void *buf, size_t n);
ssize_t wire_tls_send(int fd, wire_tls *t, const void *buf, size_t n);

/* Whether TLS holds received bytes the socket no longer signals (after a
 * recv into a buffer smaller than a record): the owner must recv again
 * without waiting for the socket. */
bool wire_tls_pending(const wire_tls *t);

/* The last TLS error of t, one sentence (e.g. the alert the peer sent). */
const char *wire_tls_error(const wire_tls *t);

#endif
