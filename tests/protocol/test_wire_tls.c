/* test_wire_tls.c -- unit tests of protocol/wire_tls.c: name patterns, modes, contexts, handshakes and framed transfer over a socketpair.
 *
 * Certificates come from scripts/gen-certs.sh (argv[1]) in a temp dir: the
 * openssl command is needed (scripts/install-deps.sh); without it the test
 * skips (77) after the pure checks. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/wire.h"
#include "protocol/wire_tls.h"
#include "tests/check.h"

static char dir[64];

static void test_names(void)
{
    CHECK(wire_tls_name_match("publisher.s1.wormhole", "publisher.s1.wormhole"));
    CHECK(wire_tls_name_match("publisher.s1.wormhole", "PUBLISHER.S1.Wormhole"));
    CHECK(!wire_tls_name_match("publisher.s1.wormhole", "publisher.s10.wormhole"));
    CHECK(!wire_tls_name_match("publisher.s1.wormhole", "publisher.s1.wormhole.evil"));
    CHECK(!wire_tls_name_match("publisher.s1.wormhole", "publisher.s1.wormhol"));
    CHECK(wire_tls_name_match("publisher.*.wormhole", "publisher.s1.wormhole"));
    CHECK(!wire_tls_name_match("publisher.*.wormhole", "publisher.a.b.wormhole"));
    CHECK(wire_tls_name_match("*.example.com", "pub1.example.com"));
    CHECK(!wire_tls_name_match("*.example.com", "example.com"));
    CHECK(wire_tls_name_match("pub*.example.com", "pub12.example.com"));
    CHECK(!wire_tls_name_match("pub*.example.com", "sub12.example.com"));
    /* '[' and '{' differ by 0x20 in neither direction that case folding allows. */
    CHECK(!wire_tls_name_match("a[", "a{"));
    CHECK(!wire_tls_name_match("a@", "a`"));

    wire_tls_mode m;
    CHECK(wire_tls_parse_mode(NULL, &m) && m == WIRE_TLS_AUTO);
    CHECK(wire_tls_parse_mode("", &m) && m == WIRE_TLS_AUTO);
    CHECK(wire_tls_parse_mode("on", &m) && m == WIRE_TLS_ON);
    CHECK(wire_tls_parse_mode("off", &m) && m == WIRE_TLS_OFF);
    CHECK(!wire_tls_parse_mode("yes", &m));

    CHECK(wire_tls_is_loopback("127.0.0.1"));
    CHECK(wire_tls_is_loopback("127.3.2.1"));
    CHECK(wire_tls_is_loopback("::1"));
    CHECK(wire_tls_is_loopback("::ffff:127.0.0.1"));
    CHECK(wire_tls_is_loopback("localhost"));
    CHECK(!wire_tls_is_loopback("10.0.0.1"));
    CHECK(!wire_tls_is_loopback("0.0.0.0"));
    CHECK(!wire_tls_is_loopback("::"));
    CHECK(!wire_tls_is_loopback("128.0.0.1"));
}

static wire_tls_ctx *ctx(const char *d, const char *name, bool server)
{
    char ca[128], cert[128], key[128], err[600];
    snprintf(ca, sizeof ca, "%s/ca.pem", d);
    snprintf(cert, sizeof cert, "%s/%s.pem", dir, name);
    snprintf(key, sizeof key, "%s/%s.key", dir, name);
    wire_tls_files f = { ca, cert, key };
    wire_tls_ctx *c = NULL;
    int rc = wire_tls_ctx_new(&f, server, &c, err, sizeof err);
    if (rc)
        fprintf(stderr, "ctx %s: %s\n", name, err);
    CHECK_EQ_INT(rc, WH_OK);
    return c;
}

/* Steps both handshakes over a socketpair until both finish or one fails;
 * returns the server's result (its reason in serr) and the client's. */
static int handshake(wire_tls *srv, wire_tls *cli, int *crc, char *serr, size_t slen)
{
    char cerr[600];
    int src = WH_ERR_AGAIN;
    *crc = WH_ERR_AGAIN;
    for (int i = 0; i < 100 && (src == WH_ERR_AGAIN || *crc == WH_ERR_AGAIN); i++) {
        bool w;
        if (*crc == WH_ERR_AGAIN)
            *crc = wire_tls_handshake(cli, &w, cerr, sizeof cerr);
        if (src == WH_ERR_AGAIN)
            src = wire_tls_handshake(srv, &w, serr, slen);
        if (src != WH_OK && src != WH_ERR_AGAIN)
            break;
    }
    return src;
}

static void pair(int sv[2])
{
    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    int small = 16384;   /* short socket buffers: many partial writes */
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
}

/* The publisher (client) sends 4000 frames of varying size through
 * wire_outbuf_flush_tls while the subscriber (server) receives them with
 * wire_inbuf_fill_tls: frames are appended between flushes that left bytes
 * pending, so a retried SSL_write sees its bytes moved and followed by more. */
static void transfer(wire_tls *srv, wire_tls *cli, int sfd, int cfd)
{
    wire_outbuf o = WIRE_OUTBUF_INIT;
    wire_inbuf in;
    char err[600];
    wire_inbuf_init(&in, WIRE_FRAME_MAX, 0);
    uint32_t sent = 0, got = 0, total = 4000;
    uint8_t payload[70000];
    for (int spins = 0; got < total && spins < 2000000; spins++) {
        while (sent < total && wire_outbuf_pending(&o) < (1u << 20)) {
            size_t n = 1 + (sent * 7919u) % sizeof payload;
            memset(payload, (int)(sent & 0xff), n);
            size_t at = wire_frame_begin(&o.buf, WIRE_HEARTBEAT);
            wh_buf_append(&o.buf, payload, n);
            CHECK_EQ_INT(wire_frame_end(&o.buf, at), WH_OK);
            sent++;
        }
        if (wire_outbuf_flush_tls(&o, cfd, cli, NULL) != WH_OK) {
            fprintf(stderr, "flush: %s\n", wire_tls_error(cli));
            CHECK(!"flush failed");
            break;
        }
        size_t n;
        int rc;
        while ((rc = wire_inbuf_fill_tls(&in, sfd, srv, 65536, &n, "pub", err, sizeof err)) ==
               WH_OK) {
            int type;
            const uint8_t *pl;
            size_t plen;
            while (wire_inbuf_next(&in, &type, &pl, &plen, err, sizeof err) == WH_OK) {
                size_t want = 1 + (got * 7919u) % sizeof payload;
                if (plen != want || pl[0] != (uint8_t)(got & 0xff) ||
                    pl[plen - 1] != (uint8_t)(got & 0xff)) {
                    CHECK(!"frame content");
                    got = total;
                    break;
                }
                got++;
            }
        }
        if (rc != WH_ERR_AGAIN) {
            fprintf(stderr, "fill: %s\n", err);
            CHECK_EQ_INT(rc, WH_ERR_AGAIN);
            break;
        }
    }
    CHECK_EQ_INT(got, total);
    CHECK(!wire_tls_pending(srv));
    wire_outbuf_free(&o);
    wire_inbuf_free(&in);
}

static void test_handshakes(const char *other)
{
    wire_tls_ctx *sub = ctx(dir, "subscriber-a", true);
    wire_tls_ctx *pub = ctx(dir, "publisher-s1", false);
    wire_tls_ctx *pub_old = ctx(dir, "expired", false);
    char odir[128];
    snprintf(odir, sizeof odir, "%s", dir);
    wire_tls_ctx *pub_other = NULL;
    {
        /* A publisher certificate of another CA, which trusts our CA. */
        char ca[128], cert[128], key[128], err[600];
        snprintf(ca, sizeof ca, "%s/ca.pem", dir);
        snprintf(cert, sizeof cert, "%s/publisher-s1.pem", other);
        snprintf(key, sizeof key, "%s/publisher-s1.key", other);
        wire_tls_files f = { ca, cert, key };
        CHECK_EQ_INT(wire_tls_ctx_new(&f, false, &pub_other, err, sizeof err), WH_OK);
    }
    if (!sub || !pub || !pub_old || !pub_other)
        return;
    CHECK(strstr(wire_tls_ctx_subject(sub), "CN=subscriber.a.wormhole") != NULL);

    /* The good pair: both verified, each name checked, then frames both ways. */
    int sv[2], crc;
    char err[800];
    pair(sv);
    wire_tls *s = NULL, *c = NULL;
    CHECK_EQ_INT(wire_tls_new(sub, sv[0], &s), WH_OK);
    CHECK_EQ_INT(wire_tls_new(pub, sv[1], &c), WH_OK);
    CHECK_EQ_INT(handshake(s, c, &crc, err, sizeof err), WH_OK);
    CHECK_EQ_INT(crc, WH_OK);
    CHECK(strstr(wire_tls_peer_subject(s), "publisher.s1.wormhole") != NULL);
    CHECK(wire_tls_authorised(s, WIRE_TLS_PUBLISHER_NAMES, "s1", err, sizeof err));
    CHECK(!wire_tls_authorised(s, WIRE_TLS_PUBLISHER_NAMES, "s2", err, sizeof err));
    CHECK(strstr(err, "[publisher.s1.wormhole]") && strstr(err, "'s2'"));
    CHECK(wire_tls_authorised(s, "pub.example.com, publisher.*.wormhole", "s2", err,
                              sizeof err));
    CHECK(wire_tls_authorised(c, WIRE_TLS_SUBSCRIBER_NAMES, "a", err, sizeof err));
    CHECK(!wire_tls_authorised(c, WIRE_TLS_SUBSCRIBER_NAMES, "b", err, sizeof err));
    transfer(s, c, sv[0], sv[1]);
    /* A clean close reads as the end of the stream, not as an error. */
    close(sv[1]);
    char b[16];
    CHECK_EQ_INT((int)wire_tls_recv(sv[0], s, b, sizeof b), 0);
    wire_tls_free(s);
    wire_tls_free(c);
    close(sv[0]);

    /* Refusals: another CA, expired; the reason names the certificate. */
    struct { wire_tls_ctx *cli; const char *want; } bad[] = {
        { pub_other, "not issued by the configured CA" },
        { pub_old, "it has expired" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        pair(sv);
        CHECK_EQ_INT(wire_tls_new(sub, sv[0], &s), WH_OK);
        CHECK_EQ_INT(wire_tls_new(bad[i].cli, sv[1], &c), WH_OK);
        err[0] = '\0';
        CHECK_EQ_INT(handshake(s, c, &crc, err, sizeof err), WH_ERR_PROTOCOL);
        if (!strstr(err, bad[i].want) || !strstr(err, "CN=publisher.s1.wormhole"))
            fprintf(stderr, "refusal %zu: %s\n", i, err);
        CHECK(strstr(err, bad[i].want) && strstr(err, "CN=publisher.s1.wormhole"));
        wire_tls_free(s);
        wire_tls_free(c);
        close(sv[0]);
        close(sv[1]);
    }

    /* A plaintext peer: a HELLO frame's bytes instead of a ClientHello. */
    pair(sv);
    CHECK_EQ_INT(wire_tls_new(sub, sv[0], &s), WH_OK);
    wh_buf hello = WH_BUF_INIT;
    wire_put_heartbeat(&hello, 1);
    CHECK((size_t)write(sv[1], hello.data, hello.len) == hello.len);
    bool w;
    CHECK_EQ_INT(wire_tls_handshake(s, &w, err, sizeof err), WH_ERR_PROTOCOL);
    CHECK(strstr(err, "does not speak TLS") != NULL);
    wh_buf_free(&hello);
    wire_tls_free(s);
    close(sv[0]);
    close(sv[1]);

    wire_tls_ctx_free(sub);
    wire_tls_ctx_free(pub);
    wire_tls_ctx_free(pub_old);
    wire_tls_ctx_free(pub_other);
}

static void test_files(void)
{
    char ca[128], cert[128], key[128], err[600];
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    snprintf(cert, sizeof cert, "%s/publisher-s1.pem", dir);
    snprintf(key, sizeof key, "%s/publisher-s1.key", dir);
    wire_tls_ctx *c = NULL;
    wire_tls_files f = { ca, cert, NULL };
    CHECK_EQ_INT(wire_tls_ctx_new(&f, false, &c, err, sizeof err), WH_ERR_CONFIG);
    CHECK(strstr(err, "key file is required") != NULL);
    /* A key others can read is refused like a password file. */
    f.key_file = key;
    CHECK_EQ_INT(chmod(key, 0644), 0);
    CHECK_EQ_INT(wire_tls_ctx_new(&f, false, &c, err, sizeof err), WH_ERR_CONFIG);
    CHECK(strstr(err, "chmod 600") != NULL);
    CHECK_EQ_INT(chmod(key, 0600), 0);
    /* A key of another certificate. */
    char other[128];
    snprintf(other, sizeof other, "%s/subscriber-a.key", dir);
    f.key_file = other;
    CHECK_EQ_INT(wire_tls_ctx_new(&f, false, &c, err, sizeof err), WH_ERR_CONFIG);
    CHECK(strstr(err, "does not match") != NULL);
    /* Refresh: unchanged is 0; a renewed file reloads (1). */
    f.key_file = key;
    CHECK_EQ_INT(wire_tls_ctx_new(&f, false, &c, err, sizeof err), WH_OK);
    CHECK_EQ_INT(wire_tls_ctx_refresh(c, err, sizeof err), 0);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp %s/publisher-s2.pem %s && cp %s/publisher-s2.key %s", dir,
             cert, dir, key);
    CHECK_EQ_INT(system(cmd), 0);
    CHECK_EQ_INT(wire_tls_ctx_refresh(c, err, sizeof err), 1);
    CHECK(strstr(wire_tls_ctx_subject(c), "publisher.s2.wormhole") != NULL);
    wire_tls_ctx_free(c);
}

int main(int argc, char **argv)
{
    test_names();
    if (argc < 2 || system("command -v openssl >/dev/null") != 0) {
        printf("skip: no openssl command (or no gen-certs.sh given)\n");
        check_done("test_wire_tls");
        return 77;
    }
    snprintf(dir, sizeof dir, "/tmp/wh-tls-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    char other[80], cmd[512];
    snprintf(other, sizeof other, "%s/other", dir);
    snprintf(cmd, sizeof cmd, "sh %s %s --shard s1 --shard s2 --app a "
             "--expired expired=publisher.s1.wormhole >/dev/null && sh %s %s --shard s1 >/dev/null",
             argv[1], dir, argv[1], other);
    CHECK_EQ_INT(system(cmd), 0);
    test_handshakes(other);
    test_files();
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
    return check_done("test_wire_tls");
}
