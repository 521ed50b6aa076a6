/* minimal_subscriber.c -- the smallest useful wormhole subscriber app: copy it to start your own.
 *
 * Build outside this tree:  cc minimal_subscriber.c $(pkg-config --cflags --libs libwormhole)
 * Run:  ./minimal_subscriber 127.0.0.1:2181 myapp
 * Joins app "myapp" as one instance, prints each update's op, table and
 * position, and acknowledges every batch after it was handled (manual ack:
 * acknowledge only what your side has made durable). Ctrl-C stops it. */
#include <signal.h>
#include <stdio.h>

#include <wormhole/subscriber.h>

static wh_subscriber *sub;

static void on_signal(int sig)
{
    (void)sig;
    wh_subscriber_stop(sub);           /* async-signal-safe */
}

/* Called by the library's loop, one batch at a time, in log order per shard.
 * Everything passed in is valid only during the call. */
static int on_batch(void *opaque, const wh_update *ups, size_t n, const wh_sub_delivery *d)
{
    (void)opaque;
    for (size_t i = 0; i < n; i++) {
        const wh_update *u = &ups[i];
        printf("%s %s.%s at %s%s%llu/%u (logical %s)\n", wh_op_name(u->op),
               u->db ? u->db : "-", u->table ? u->table : "-",
               u->pos.log_name ? u->pos.log_name : "", u->pos.log_name ? ":" : "",
               (unsigned long long)u->pos.offset, u->pos.index,
               u->pos.logical ? u->pos.logical : "none");
    }
    if (fflush(stdout) != 0)
        return -1;                     /* not handled: the publisher delivers it again */
    return wh_subscriber_ack(sub, d);  /* everything up to d->seq is done */
}

int main(int argc, char **argv)
{
    char err[512];
    wh_sub_options o;
    if (argc != 3) {
        fprintf(stderr, "usage: %s ZK_HOST:PORT APP\n", argv[0]);
        return 2;
    }
    wh_sub_options_init(&o);
    o.zk_connect = argv[1];
    o.app = argv[2];
    o.manual_ack = true;
    o.on_batch = on_batch;
    if (wh_subscriber_new(&o, &sub, err, sizeof err) != WH_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    int rc = wh_subscriber_run(sub, err, sizeof err);   /* until wh_subscriber_stop */
    if (rc != WH_OK)
        fprintf(stderr, "%s\n", err);
    wh_subscriber_free(sub);
    return rc == WH_OK ? 0 : 1;
}
