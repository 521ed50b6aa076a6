/* mon_http.c -- the monitor's /metrics endpoint on libmicrohttpd's own thread, with bearer-token authentication (see mon_http.h). */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "core/errbuf.h"
#include "core/file.h"
#include "monitor/mon_http.h"

struct mon_http {
    struct MHD_Daemon *daemon;
    char   *token;            /* NULL: no authentication (loopback only) */
    pthread_mutex_t mu;       /* guards text */
    char   *text;             /* latest metrics, NULL until the first publish */
    size_t  len;
};

int mon_http_parse_listen(const char *text, struct sockaddr_storage *sa, socklen_t *len,
                          bool *loopback, char *errbuf, size_t errlen)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *colon = strrchr(text, ':');
    memset(sa, 0, sizeof *sa);
    if (!colon || colon == text || (size_t)(colon - text) >= sizeof host)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "metrics listen address '%s' is not "
                         "ADDRESS:PORT (e.g. 127.0.0.1:9464 or [::1]:9464)", text);
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (!isdigit((unsigned char)colon[1]) || *end || port < 1 || port > 65535)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "metrics listen address '%s': port "
                         "'%s' is not a number from 1 to 65535", text, colon + 1);
    size_t hl = strlen(host);
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;
        host[hl - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
            goto bad;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *len = sizeof *s6;
        *loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
        return WH_OK;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)sa;
    if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
        goto bad;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    *len = sizeof *s4;
    *loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
    return WH_OK;
bad:
    return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "metrics listen address '%s': '%s' is not a "
                     "numeric IPv4 address or a bracketed IPv6 address", text, host);
}

bool mon_http_bearer_ok(const char *header, const char *token)
{
    if (!header || !token || strncasecmp(header, "Bearer ", 7) != 0)
        return false;
    const char *given = header + 7;
    size_t glen = strlen(given), tlen = strlen(token);
    unsigned char diff = glen != tlen;
    for (size_t i = 0; i < tlen; i++)
        diff |= (unsigned char)token[i] ^ (unsigned char)(i < glen ? given[i] : 0);
    return diff == 0;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *body,
                             size_t len, bool copy, const char *ctype, bool challenge)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, (void *)body, copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (challenge)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"wormhole\"");
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

#define PLAIN "text/plain; charset=utf-8"
#define MSG(s) s, sizeof s - 1, false, PLAIN

/* The request handler (libmicrohttpd's thread). *state marks the first call
 * of a request (headers only) and a request that sent a body. */
static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    static int seen, had_body;
    mon_http *h = cls;
    (void)version;
    (void)upload;
    if (!*state) {
        *state = &seen;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;   /* discarded: bounded by the connection memory limit */
        *state = &had_body;
        return MHD_YES;
    }
    if (h->token && !mon_http_bearer_ok(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                                    MHD_HTTP_HEADER_AUTHORIZATION),
                                        h->token))
        return reply(conn, MHD_HTTP_UNAUTHORIZED, MSG("authentication required\n"), true);
    if (*state == &had_body)
        return reply(conn, MHD_HTTP_CONTENT_TOO_LARGE, MSG("a request body is not accepted\n"),
                     false);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, MSG("only GET\n"), false);
    if (strcmp(url, "/metrics") != 0)
        return reply(conn, MHD_HTTP_NOT_FOUND, MSG("not found: try /metrics\n"), false);
    pthread_mutex_lock(&h->mu);
    enum MHD_Result rc = h->text
        ? reply(conn, MHD_HTTP_OK, h->text, h->len, true, "text/plain; version=0.0.4; charset=utf-8",
                false)
        : reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, MSG("no metrics yet\n"), false);
    pthread_mutex_unlock(&h->mu);
    return rc;
}

int mon_http_start(const char *listen, const char *token_file, mon_http **out, char *errbuf,
                   size_t errlen)
{
    struct sockaddr_storage sa;
    socklen_t salen;
    bool loopback;
    *out = NULL;
    int rc = mon_http_parse_listen(listen, &sa, &salen, &loopback, errbuf, errlen);
    if (rc)
        return rc;
    if (!loopback && !token_file)
        return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "metrics listen address %s is not a "
                         "loopback address: give --metrics-token-file so that every scraper "
                         "authenticates, or listen on 127.0.0.1 (docs/MONITOR.md, \"Metrics\")",
                         listen);
    mon_http *h = calloc(1, sizeof *h);
    if (!h)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "metrics endpoint: out of memory");
    pthread_mutex_init(&h->mu, NULL);
    if (token_file && (rc = wh_file_read_secret(token_file, &h->token, errbuf, errlen)) != WH_OK) {
        mon_http_free(h);
        return wh_preferr(errbuf, errlen, rc, "--metrics-token-file");
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                     (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, h,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)MON_HTTP_CONNECTIONS,
                                 MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)MON_HTTP_PER_IP,
                                 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MON_HTTP_MEMORY,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)MON_HTTP_TIMEOUT_S,
                                 MHD_OPTION_END);
    if (!h->daemon) {
        mon_http_free(h);
        return wh_seterr(errbuf, errlen, WH_ERR_IO, "metrics endpoint: cannot listen on %s (in "
                         "use, or not an address of this host)", listen);
    }
    *out = h;
    return WH_OK;
}

void mon_http_publish(mon_http *h, const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return;   /* the previous text stays; the next refresh tries again */
    memcpy(copy, text, len);
    copy[len] = '\0';
    pthread_mutex_lock(&h->mu);
    char *old = h->text;
    h->text = copy;
    h->len = len;
    pthread_mutex_unlock(&h->mu);
    free(old);
}

void mon_http_free(mon_http *h)
{
    if (!h)
        return;
    if (h->daemon)
        MHD_stop_daemon(h->daemon);
    if (h->token) {
        wh_secret_wipe(h->token, strlen(h->token));
        free(h->token);
    }
    free(h->text);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
