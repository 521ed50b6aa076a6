/* wire_tls.c -- mutual TLS 1.3 for the push protocol's connections with OpenSSL (see wire_tls.h). */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/errbuf.h"
#include "core/file.h"
#include "protocol/wire_tls.h"

struct wire_tls_ctx {
    SSL_CTX *ssl;
    bool     server;
    char    *files[3];          /* ca, cert, key */
    struct stat st[3];          /* as at the last load */
    char     subject[256];      /* of our own certificate */
};

struct wire_tls {
    SSL  *ssl;
    int   fd;
    bool  eof;                  /* the socket said end of stream (the BIO's BIO_CTRL_EOF) */
    bool  more;                 /* the bytes of this SSL_write are followed by more: send
                                   its record with MSG_MORE (see wire_tls_send) */
    bool  starved;              /* the last SSL_read wanted the socket: what TLS holds is
                                   an incomplete record, which the socket's readiness will
                                   complete (wire_tls_pending) */
    /* The first verification failure the callback saw: its reason and the
     * subject of the certificate it concerns. */
    int   verify_err, verify_depth;
    char  verify_subject[256];
    char  subject[256];         /* the peer's, once known */
    char  err[640];             /* the last TLS error */
};

bool wire_tls_parse_mode(const char *text, wire_tls_mode *out)
{
    if (!text || !*text || strcmp(text, "auto") == 0)
        *out = WIRE_TLS_AUTO;
    else if (strcmp(text, "on") == 0)
        *out = WIRE_TLS_ON;
    else if (strcmp(text, "off") == 0)
        *out = WIRE_TLS_OFF;
    else
        return false;
    return true;
}

bool wire_tls_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (!host)
        return false;
    if (strcasecmp(host, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1) {
        if (IN6_IS_ADDR_LOOPBACK(&a6))
            return true;
        return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
    }
    return false;
}

/* ---- names ----------------------------------------------------------------------------- */

bool wire_tls_name_match(const char *p, const char *n)
{
    for (; *p; p++, n++) {
        if (*p == '*') {
            /* Longest-to-shortest: any run of non-dot characters. */
            size_t run = strcspn(n, ".");
            for (size_t k = run + 1; k-- > 0;)
                if (wire_tls_name_match(p + 1, n + k))
                    return true;
            return false;
        }
        unsigned char a = (unsigned char)*p, b = (unsigned char)*n;
        a = a >= 'A' && a <= 'Z' ? (unsigned char)(a + 32) : a;   /* ASCII case only */
        b = b >= 'A' && b <= 'Z' ? (unsigned char)(b + 32) : b;
        if (!*n || a != b)
            return false;
    }
    return *n == '\0';
}

/* One-line subject of cert into buf ("no certificate" for NULL). */
static void subject_of(X509 *cert, char *buf, size_t len)
{
    if (!cert) {
        snprintf(buf, len, "no certificate");
        return;
    }
    BIO *b = BIO_new(BIO_s_mem());
    if (!b || X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) < 0) {
        snprintf(buf, len, "?");
    } else {
        int n = BIO_read(b, buf, (int)len - 1);
        buf[n > 0 ? n : 0] = '\0';
    }
    BIO_free(b);
}

/* Calls fn for each DNS name of cert's subjectAltName, or for its CN when
 * it has none (RFC 6125); stops at the first call that returns true. */
static bool each_name(X509 *cert, bool (*fn)(void *, const char *), void *arg)
{
    bool hit = false, any = false;
    GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans) && !hit; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
        if (g->type != GEN_DNS)
            continue;
        const unsigned char *d = ASN1_STRING_get0_data(g->d.dNSName);
        int len = ASN1_STRING_length(g->d.dNSName);
        if (len <= 0 || len > 253 || memchr(d, '\0', (size_t)len))
            continue;
        char name[256];
        memcpy(name, d, (size_t)len);
        name[len] = '\0';
        any = true;
        hit = fn(arg, name);
    }
    GENERAL_NAMES_free(sans);
    if (any || hit)
        return hit;
    char cn[256];
    int len = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
                                        sizeof cn);
    return len > 0 && (size_t)len == strlen(cn) && fn(arg, cn);
}

struct match_arg { const char *patterns, *value; char *names; size_t nlen; };

/* Substitutes {shard} / {app} in one pattern (plen bytes) with value. */
static bool expand(const char *pat, size_t plen, const char *value, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < plen;) {
        const char *key = NULL;
        if (pat[i] == '{' && plen - i >= 7 && memcmp(pat + i, "{shard}", 7) == 0)
            key = "{shard}";
        else if (pat[i] == '{' && plen - i >= 5 && memcmp(pat + i, "{app}", 5) == 0)
            key = "{app}";
        const char *add = key ? value : pat + i;
        size_t alen = key ? strlen(value) : 1;
        if (o + alen >= outlen)
            return false;
        memcpy(out + o, add, alen);
        o += alen;
        i += key ? strlen(key) : 1;
    }
    out[o] = '\0';
    return true;
}

static bool match_one(void *arg, const char *name)
{
    struct match_arg *m = arg;
    size_t used = strlen(m->names);
    snprintf(m->names + used, m->nlen - used, "%s%s", used ? ", " : "", name);
    for (const char *p = m->patterns; *p;) {
        size_t len = strcspn(p, ",");
        while (len && *p == ' ') {
            p++;
            len--;
        }
        size_t tl = len;
        while (tl && p[tl - 1] == ' ')
            tl--;
        char want[512];
        if (tl && expand(p, tl, m->value, want, sizeof want) && wire_tls_name_match(want, name))
            return true;
        p += len;
        if (*p == ',')
            p++;
    }
    return false;
}

bool wire_tls_authorised(const wire_tls *t, const char *patterns, const char *value,
                         char *errbuf, size_t errlen)
{
    char names[512] = "";
    X509 *cert = SSL_get0_peer_certificate(t->ssl);
    if (!cert) {
        wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL, "it presented no certificate");
        return false;
    }
    struct match_arg m = { patterns, value, names, sizeof names };
    if (each_name(cert, match_one, &m))
        return true;
    wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL, "its certificate (%s) carries the names [%s], "
              "none of which matches \"%s\" for '%s'", t->subject, names, patterns, value);
    return false;
}

/* ---- contexts -------------------------------------------------------------------------- */

static int tls_err(char *errbuf, size_t errlen, int rc, const char *what, const char *file)
{
    unsigned long e = ERR_get_error();
    char reason[256] = "unknown error";
    if (e)
        ERR_error_string_n(e, reason, sizeof reason);
    ERR_clear_error();
    return wh_seterr(errbuf, errlen, rc, "TLS: %s %s: %s", what, file, reason);
}

static int verify_cb(int ok, X509_STORE_CTX *store)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    wire_tls *t = ssl ? SSL_get_app_data(ssl) : NULL;
    if (!ok && t && !t->verify_err) {
        t->verify_err = X509_STORE_CTX_get_error(store);
        t->verify_depth = X509_STORE_CTX_get_error_depth(store);
        subject_of(X509_STORE_CTX_get_current_cert(store), t->verify_subject,
                   sizeof t->verify_subject);
    }
    return ok;
}

/* Builds an OpenSSL context from the files of c. */
static int build(wire_tls_ctx *c, SSL_CTX **out, char *errbuf, size_t errlen)
{
    char *key = NULL;
    SSL_CTX *s = SSL_CTX_new(c->server ? TLS_server_method() : TLS_client_method());
    if (!s)
        return tls_err(errbuf, errlen, WH_ERR_NOMEM, "creating a context", "");
    SSL_CTX_set_min_proto_version(s, TLS1_3_VERSION);   /* no downgrade */
    SSL_CTX_set_max_proto_version(s, TLS1_3_VERSION);
    SSL_CTX_set_options(s, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_TICKET);
    SSL_CTX_set_mode(s, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_max_cert_list(s, WIRE_TLS_MAX_CERT_LIST);
    /* Read several records per recv(2), and prefer AES-128-GCM (the fastest
     * suite with AES-NI; the others stay available to a peer that wants them). */
    SSL_CTX_set_read_ahead(s, 1);
    SSL_CTX_set_default_read_buffer_len(s, 64u << 10);
    SSL_CTX_set_ciphersuites(s, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
                                "TLS_CHACHA20_POLY1305_SHA256");
    SSL_CTX_set_verify(s, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
    if (c->server)
        SSL_CTX_set_num_tickets(s, 0);   /* no resumption: nothing sent after the handshake */
    int rc;
    if (SSL_CTX_load_verify_locations(s, c->files[0], NULL) != 1) {
        rc = tls_err(errbuf, errlen, WH_ERR_CONFIG, "cannot load the CA file", c->files[0]);
        goto err;
    }
    if (SSL_CTX_use_certificate_chain_file(s, c->files[1]) != 1) {
        rc = tls_err(errbuf, errlen, WH_ERR_CONFIG, "cannot load the certificate file",
                     c->files[1]);
        goto err;
    }
    if ((rc = wh_file_read_secret(c->files[2], &key, errbuf, errlen)))
        goto err;
    BIO *b = BIO_new_mem_buf(key, -1);
    EVP_PKEY *pk = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    wh_secret_wipe(key, strlen(key));
    free(key);
    if (!pk || SSL_CTX_use_PrivateKey(s, pk) != 1) {
        bool mismatch = pk && ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
        EVP_PKEY_free(pk);
        rc = tls_err(errbuf, errlen, WH_ERR_CONFIG, mismatch ? "the key does not match the "
                     "certificate of" : "cannot load the private key", mismatch ? c->files[1]
                     : c->files[2]);
        goto err;
    }
    EVP_PKEY_free(pk);
    if (SSL_CTX_check_private_key(s) != 1) {
        rc = tls_err(errbuf, errlen, WH_ERR_CONFIG, "the key does not match the certificate",
                     c->files[1]);
        goto err;
    }
    *out = s;
    return WH_OK;
err:
    SSL_CTX_free(s);
    return rc;
}

int wire_tls_ctx_reload(wire_tls_ctx *c, char *errbuf, size_t errlen)
{
    SSL_CTX *s = NULL;
    struct stat st[3];
    for (int i = 0; i < 3; i++)
        if (stat(c->files[i], &st[i]) != 0)
            return wh_seterr(errbuf, errlen, WH_ERR_IO, "TLS: %s: %s", c->files[i],
                             strerror(errno));
    int rc = build(c, &s, errbuf, errlen);
    if (rc)
        return rc;
    SSL_CTX_free(c->ssl);   /* live connections hold their own reference */
    c->ssl = s;
    memcpy(c->st, st, sizeof st);
    subject_of(SSL_CTX_get0_certificate(s), c->subject, sizeof c->subject);
    return WH_OK;
}

int wire_tls_ctx_refresh(wire_tls_ctx *c, char *errbuf, size_t errlen)
{
    for (int i = 0; i < 3; i++) {
        struct stat st;
        if (stat(c->files[i], &st) != 0 || st.st_ino != c->st[i].st_ino ||
            st.st_size != c->st[i].st_size || st.st_mtim.tv_sec != c->st[i].st_mtim.tv_sec ||
            st.st_mtim.tv_nsec != c->st[i].st_mtim.tv_nsec) {
            int rc = wire_tls_ctx_reload(c, errbuf, errlen);
            if (rc) {
                /* Do not try again at every connection until the files change again. */
                if (stat(c->files[i], &st) == 0)
                    c->st[i] = st;
                return rc;
            }
            return 1;
        }
    }
    return 0;
}

int wire_tls_ctx_new(const wire_tls_files *f, bool server, wire_tls_ctx **out, char *errbuf,
                     size_t errlen)
{
    *out = NULL;
    const char *names[3] = { "CA file", "certificate file", "key file" };
    const char *paths[3] = { f->ca_file, f->cert_file, f->key_file };
    for (int i = 0; i < 3; i++)
        if (!paths[i] || !*paths[i])
            return wh_seterr(errbuf, errlen, WH_ERR_CONFIG, "TLS: a %s is required (a CA "
                             "file, a certificate file and a key file go together)", names[i]);
    wire_tls_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "TLS: out of memory");
    c->server = server;
    for (int i = 0; i < 3; i++)
        if (!(c->files[i] = strdup(paths[i]))) {
            wire_tls_ctx_free(c);
            return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "TLS: out of memory");
        }
    int rc = wire_tls_ctx_reload(c, errbuf, errlen);
    if (rc) {
        wire_tls_ctx_free(c);
        return rc;
    }
    *out = c;
    return WH_OK;
}

void wire_tls_ctx_free(wire_tls_ctx *c)
{
    if (!c)
        return;
    SSL_CTX_free(c->ssl);
    for (int i = 0; i < 3; i++)
        free(c->files[i]);
    free(c);
}

const char *wire_tls_ctx_subject(const wire_tls_ctx *c) { return c->subject; }

/* ---- the socket under TLS ------------------------------------------------------------ */

/* A BIO over the socket that sends with MSG_NOSIGNAL: OpenSSL's own socket
 * BIO writes with write(2), which raises SIGPIPE at a peer that has gone,
 * and a library must not make its application handle signals. */
static BIO_METHOD *sock_method;
static pthread_once_t sock_once = PTHREAD_ONCE_INIT;

static int sock_write(BIO *b, const char *buf, int n)
{
    wire_tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t r = send(t->fd, buf, (size_t)n,
                     MSG_NOSIGNAL | MSG_DONTWAIT | (t->more ? MSG_MORE : 0));
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_write(b);
    return (int)r;
}

static int sock_read(BIO *b, char *buf, int n)
{
    wire_tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t r = recv(t->fd, buf, (size_t)n, 0);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_read(b);
    if (r == 0)
        t->eof = true;
    return (int)r;
}

static long sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    wire_tls *t = BIO_get_data(b);
    (void)num;
    (void)ptr;
    switch (cmd) {
    case BIO_CTRL_EOF:
        return t->eof;   /* a clean end of stream: SSL_OP_IGNORE_UNEXPECTED_EOF's case */
    case BIO_CTRL_FLUSH:
        return 1;
    default:
        return 0;
    }
}

static void sock_method_make(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "wormhole socket");
    if (m && BIO_meth_set_write(m, sock_write) && BIO_meth_set_read(m, sock_read) &&
        BIO_meth_set_ctrl(m, sock_ctrl))
        sock_method = m;
}

/* ---- connections ----------------------------------------------------------------------- */

int wire_tls_new(wire_tls_ctx *c, int fd, wire_tls **out)
{
    pthread_once(&sock_once, sock_method_make);
    wire_tls *t = calloc(1, sizeof *t);
    BIO *b = sock_method ? BIO_new(sock_method) : NULL;
    if (!t || !b || !(t->ssl = SSL_new(c->ssl))) {
        BIO_free(b);
        free(t);
        return WH_ERR_NOMEM;
    }
    t->fd = fd;
    BIO_set_data(b, t);
    BIO_set_init(b, 1);
    snprintf(t->subject, sizeof t->subject, "no certificate");
    SSL_set_app_data(t->ssl, t);
    SSL_set_bio(t->ssl, b, b);
    if (c->server)
        SSL_set_accept_state(t->ssl);
    else
        SSL_set_connect_state(t->ssl);
    *out = t;
    return WH_OK;
}

void wire_tls_free(wire_tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    free(t);
}

const char *wire_tls_peer_subject(const wire_tls *t) { return t->subject; }
const char *wire_tls_error(const wire_tls *t) { return t->err[0] ? t->err : "TLS error"; }

/* Words for the verification failures an operator meets most. */
static const char *verify_words(int err)
{
    switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return "it has expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return "it is not valid yet";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
        return "it is not issued by the configured CA (unknown CA)";
    default:
        return NULL;
    }
}

/* Describes the TLS error that just ended an operation into t->err. */
static void describe(wire_tls *t, int sslerr)
{
    unsigned long e = ERR_peek_last_error();
    int reason = ERR_GET_REASON(e);
    const char *words = t->verify_err ? verify_words(t->verify_err) : NULL;
    if (t->verify_err)
        snprintf(t->err, sizeof t->err, "the certificate %s (depth %d) is refused: %s (%s)",
                 t->verify_subject, t->verify_depth,
                 words ? words : X509_verify_cert_error_string(t->verify_err),
                 X509_verify_cert_error_string(t->verify_err));
    else if (e && reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
        snprintf(t->err, sizeof t->err, "it presented no certificate");
    else if (e && (reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_HTTP_REQUEST ||
                   reason == SSL_R_PACKET_LENGTH_TOO_LONG || reason == SSL_R_RECORD_LENGTH_MISMATCH ||
                   reason == SSL_R_UNEXPECTED_MESSAGE))
        snprintf(t->err, sizeof t->err, "it does not speak TLS (a plaintext peer?): %s",
                 ERR_reason_error_string(e));
    else if (e && reason == SSL_R_UNSUPPORTED_PROTOCOL)
        snprintf(t->err, sizeof t->err, "it does not speak TLS 1.3 (the only version accepted)");
    else if (e && ERR_reason_error_string(e) && strstr(ERR_reason_error_string(e), "alert"))
        snprintf(t->err, sizeof t->err, "it refused our certificate or the handshake (%s)",
                 ERR_reason_error_string(e));
    else if (e)
        ERR_error_string_n(e, t->err, sizeof t->err);
    else if (sslerr == SSL_ERROR_SYSCALL)
        snprintf(t->err, sizeof t->err, "%s", errno ? strerror(errno)
                                                   : "the peer closed the connection");
    else
        snprintf(t->err, sizeof t->err, "TLS error %d", sslerr);
    ERR_clear_error();
}

int wire_tls_handshake(wire_tls *t, bool *want_write, char *errbuf, size_t errlen)
{
    *want_write = false;
    ERR_clear_error();
    errno = 0;
    int r = SSL_do_handshake(t->ssl);
    if (r == 1) {
        subject_of(SSL_get0_peer_certificate(t->ssl), t->subject, sizeof t->subject);
        return WH_OK;
    }
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        *want_write = e == SSL_ERROR_WANT_WRITE;
        return WH_ERR_AGAIN;
    }
    describe(t, e);
    return wh_seterr(errbuf, errlen, WH_ERR_PROTOCOL, "TLS handshake failed: %s", t->err);
}

ssize_t wire_tls_recv(int fd, wire_tls *t, void *buf, size_t n)
{
    if (!t)
        return recv(fd, buf, n, 0);
    if (n > INT32_MAX)
        n = INT32_MAX;
    ERR_clear_error();
    errno = 0;
    int r = SSL_read(t->ssl, buf, (int)n);
    t->starved = false;
    if (r > 0)
        return r;
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        t->starved = true;
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    if (e == SSL_ERROR_SYSCALL && errno && errno != EPIPE) {
        snprintf(t->err, sizeof t->err, "%s", strerror(errno));
        return -1;   /* errno from the socket */
    }
    describe(t, e);
    errno = EPROTO;
    return -1;
}

ssize_t wire_tls_send(int fd, wire_tls *t, const void *buf, size_t n)
{
    if (!t)
        return send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > INT32_MAX)
        n = INT32_MAX;
    ERR_clear_error();
    errno = 0;
    /* One record (16 KiB at most) per call: when more of the caller's bytes
     * follow, the kernel may hold this one to send it with them, so that a
     * burst reaches the peer in full segments rather than a wake-up per
     * record. The last record of the burst goes without MSG_MORE, which
     * pushes everything held; an ACK from the peer pushes it too. */
    t->more = n > 16384;
    int r = SSL_write(t->ssl, buf, (int)n);
    t->more = false;
    if (r > 0)
        return r;
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_SYSCALL && errno) {
        snprintf(t->err, sizeof t->err, "%s", strerror(errno));
        return -1;
    }
    describe(t, e);
    errno = EPROTO;
    return -1;
}

bool wire_tls_pending(const wire_tls *t)
{
    /* Not after a WANT_READ: then what is buffered is part of a record and
     * only the socket can complete it (polling would spin). */
    return t && !t->starved && SSL_has_pending(t->ssl);
}
