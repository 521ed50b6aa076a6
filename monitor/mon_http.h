/* mon_http.h -- the monitor's HTTP endpoint: serves GET /metrics (Prometheus text) on its own thread.
 *
 * Off unless --metrics-listen is given (docs/MONITOR.md "Metrics"). The
 * server is libmicrohttpd with its own polling thread: it answers from the
 * latest text the monitor thread published (mon_http_publish) and never
 * touches the monitor's state, so a slow or hostile client cannot stall
 * supervision. Bounds: at most MON_HTTP_CONNECTIONS connections
 * (MON_HTTP_PER_IP from one address), MON_HTTP_MEMORY bytes of request per
 * connection (headers included: a larger request is refused), and a
 * connection idle for MON_HTTP_TIMEOUT_S seconds is closed. A request with
 * a body is refused (413), any method but GET and HEAD 405, any path but
 * /metrics 404.
 *
 * Authentication (docs/SECURITY.md): with a token file, every request must
 * carry "Authorization: Bearer TOKEN" (compared in constant time; 401
 * otherwise). Without one, the listen address must be a loopback address:
 * a non-loopback address without a token is refused at start.
 *
 * Threads: mon_http_start, mon_http_publish and mon_http_free are for the
 * monitor thread; the handler runs on libmicrohttpd's thread. */
#ifndef MON_HTTP_H
#define MON_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "wormhole/error.h"

#define MON_HTTP_CONNECTIONS 16
#define MON_HTTP_PER_IP      8
#define MON_HTTP_MEMORY      (16 * 1024)
#define MON_HTTP_TIMEOUT_S   10

typedef struct mon_http mon_http;

/* Parses "ADDRESS:PORT" (a numeric IPv4 address, or "[IPv6]"; port
 * 1..65535) into sa/len and tells whether the address is a loopback one
 * (127.0.0.0/8, ::1). Returns WH_OK or WH_ERR_CONFIG with a sentence. */
int mon_http_parse_listen(const char *text, struct sockaddr_storage *sa, socklen_t *len,
                          bool *loopback, char *errbuf, size_t errlen);

/* Whether an Authorization header value is "Bearer TOKEN" for token
 * (the scheme's case ignored). Runs in time that depends on the lengths,
 * not on where the texts differ. */
bool mon_http_bearer_ok(const char *header, const char *token);

/* Starts serving on listen ("ADDRESS:PORT"); token_file (NULL: none) holds
 * the bearer token (read with wh_file_read_secret: owner-only file).
 * Returns WH_OK, or WH_ERR_CONFIG (bad address, non-loopback without a
 * token, bad token file) or WH_ERR_IO (cannot bind) with a sentence. */
int mon_http_start(const char *listen, const char *token_file, mon_http **out, char *errbuf,
                   size_t errlen);

/* Replaces the text /metrics serves (copied). Until the first call it
 * answers 503. */
void mon_http_publish(mon_http *h, const char *text, size_t len);

/* Stops the thread, closes connections and frees. Accepts NULL. */
void mon_http_free(mon_http *h);

#endif
