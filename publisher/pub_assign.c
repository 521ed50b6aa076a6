/* pub_assign.c -- applying ZooKeeper's assignment to the flows: which app goes to which instance. */
#include <string.h>

#include "core/log.h"
#include "publisher/pub.h"
#include "publisher/pub_bootstrap.h"
#include "publisher/pub_caravan.h"
#include "publisher/pub_flow.h"

/* The flow already delivers a as assigned: same instance, endpoint and
 * filter; a flow that failed for a reason its app can fix
 * (pub_flow_failed_retryable: refused, an update too large, a filter that
 * does not fit) also needs the same registration of the instance: one that
 * registered anew (restarted) may take what it refused: it gets a new flow. */
static bool flow_matches(const pub_flow *f, const pub_assign *a)
{
    if (strcmp(f->instance, a->instance) != 0 || strcmp(f->endpoint, a->endpoint) != 0 ||
        (pub_flow_failed_retryable(f) && f->instance_czxid != a->instance_czxid))
        return false;
    /* A new bootstrap request (another id) makes a new flow that serves it;
     * a flow whose bootstrap is done has none and needs no new one. */
    if (f->boot ? !pub_boot_same_request(f->boot, a->boot_request)
                : pub_boot_needed(a->boot_request, a->boot_progress))
        return false;
    if (!f->filter_json || !a->filter_json)
        return !f->filter_json && !a->filter_json;
    return strcmp(f->filter_json, a->filter_json) == 0;
}

/* Why the same instance gets a new flow (flow_matches said no), for the log. */
static const char *new_flow_why(const pub_flow *f, const pub_assign *a)
{
    if (strcmp(f->endpoint, a->endpoint) != 0)
        return "moved";
    if (pub_flow_failed_retryable(f) && f->instance_czxid != a->instance_czxid)
        return "registered again";
    bool same_filter = f->filter_json && a->filter_json
                           ? strcmp(f->filter_json, a->filter_json) == 0
                           : !f->filter_json && !a->filter_json;
    return same_filter ? "has a new bootstrap request" : "has a new filter";
}

/* Closes a flow that is no longer assigned (telling a streaming instance
 * that the shard is released) and frees it. */
static void flow_stop(publisher *p, pub_flow *f)
{
    pub_caravan_leave(p->caravans, f);   /* first: the notice is the last frame sent */
    if (f->state == FLOW_STREAMING)
        pub_flow_release(f);
    wh_info(WH_AREA_PUBLISHER, "app %s: stops delivering shard %s to instance %s", f->app,
            p->cfg.shard, f->instance);
    pub_flow_reset(f, NULL, true);
    pub_flow_free(f);
}

/* The new flow of a starts from the newest position f knows: its
 * acknowledged one, or its recorded start (which f's caravan may be writing). */
static void newest_known(pub_flow *f, pub_assign *a)
{
    pub_mutex_lock(&f->mu);
    a->pos = f->acked;
    a->pos_start = f->acked_start;
    pub_mutex_unlock(&f->mu);
}

void pub_assign_apply(publisher *p, pub_assign *as, int n)
{
    for (pub_flow *f = p->flows; f; f = f->next)
        f->doomed = true;
    for (int i = 0; i < n; i++) {
        pub_flow *f = p->flows;
        while (f && strcmp(f->app, as[i].app) != 0)
            f = f->next;
        if (f && flow_matches(f, &as[i]) &&
            (f->state != FLOW_FAILED || f->reset_gen == as[i].reset_gen)) {
            f->doomed = false;
            f->instance_czxid = as[i].instance_czxid;
            f->on_purged_oldest = as[i].on_purged_oldest;
            continue;
        }
        if (f && f->state == FLOW_FAILED && f->reset_gen != as[i].reset_gen) {
            wh_info(WH_AREA_PUBLISHER, "app %s: failed flow of shard %s starts again from its "
                    "reset position", as[i].app, p->cfg.shard);
        } else if (f) {
            if (pub_flow_failed_retryable(f))
                pub_zk_note_revived(p->zk, f->app);   /* the new flow tries again */
            if (strcmp(f->instance, as[i].instance) != 0)
                wh_info(WH_AREA_PUBLISHER, "app %s: shard %s moves from instance %s to %s",
                        as[i].app, p->cfg.shard, f->instance, as[i].instance);
            else
                wh_info(WH_AREA_PUBLISHER, "app %s: instance %s %s; a new flow of shard %s "
                        "starts", as[i].app, as[i].instance, new_flow_why(f, &as[i]),
                        p->cfg.shard);
            newest_known(f, &as[i]);
        }
        pub_flow *nf = pub_flow_new(p, &as[i]);
        if (nf) {
            nf->next = p->flows;
            p->flows = nf;
        }
    }
    for (pub_flow **pp = &p->flows; *pp;) {
        pub_flow *f = *pp;
        if (!f->doomed) {
            pp = &f->next;
            continue;
        }
        *pp = f->next;
        flow_stop(p, f);
    }
}
