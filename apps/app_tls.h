/* app_tls.h -- the subscriber.tls.* settings every subscriber app shares: their config keys and the library options they become.
 *
 * An app embeds an app_tls_config in its config struct, lists
 * APP_TLS_CONFIG_FIELDS(its struct, the member) in its wh_cfg_field table
 * (core/config.h reads and frees the strings with the rest of the table),
 * and copies them into its wh_sub_options with app_tls_options. The keys and
 * their meaning are documented once, here and in docs/SECURITY.md. */
#ifndef WH_APP_TLS_H
#define WH_APP_TLS_H

#include <stddef.h>

#include "core/config.h"
#include "wormhole/subscriber.h"

typedef struct app_tls_config {
    char *mode, *ca_file, *cert_file, *key_file, *publisher_names;
} app_tls_config;

/* The five wh_cfg_field entries of subscriber.tls.* for member m of struct type. */
#define APP_TLS_CONFIG_FIELDS(type, m)                                                            \
    { "subscriber.tls.mode", WH_CFG_STRING, offsetof(type, m.mode), "\"auto\"", 1, 0,             \
      "Mutual TLS with publishers: auto (TLS when the three files are set, else plaintext "       \
      "from loopback publishers only), on (required), off (plaintext, loopback only); "           \
      "docs/SECURITY.md." },                                                                      \
    { "subscriber.tls.ca_file", WH_CFG_STRING, offsetof(type, m.ca_file), "\"\"", 1, 0,           \
      "PEM CA that publishers' certificates must chain to." },                                    \
    { "subscriber.tls.cert_file", WH_CFG_STRING, offsetof(type, m.cert_file), "\"\"", 1, 0,       \
      "PEM certificate of this instance; publishers deliver the app only to a certificate "       \
      "named for it (by default subscriber.APP.wormhole)." },                                     \
    { "subscriber.tls.key_file", WH_CFG_STRING, offsetof(type, m.key_file), "\"\"", 1, 0,         \
      "Its PEM private key (mode 0600 or stricter). The three files are read again when "         \
      "they change." },                                                                           \
    { "subscriber.tls.publisher_names", WH_CFG_STRING, offsetof(type, m.publisher_names),         \
      "\"publisher.{shard}.wormhole\"", 1, 0,                                                     \
      "Comma-separated name patterns a publisher's certificate must match for its shard." }

/* Points o's TLS options at c's strings (borrowed: c must outlive the
 * subscriber created from o). */
static inline void app_tls_options(const app_tls_config *c, wh_sub_options *o)
{
    o->tls_mode = c->mode;
    o->tls_ca_file = c->ca_file;
    o->tls_cert_file = c->cert_file;
    o->tls_key_file = c->key_file;
    o->tls_publisher_names = c->publisher_names;
}

#endif
