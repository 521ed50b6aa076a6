/* zk_client.c -- helpers around the ZooKeeper C client (see zk_client.h). */
#include <string.h>

#include "core/log.h"
#include "protocol/zk_client.h"

const char *zku_state_name(int state)
{
    if (state == ZOO_CONNECTED_STATE) return "connected";
    if (state == ZOO_CONNECTING_STATE) return "connecting";
    if (state == ZOO_ASSOCIATING_STATE) return "associating";
    if (state == ZOO_EXPIRED_SESSION_STATE) return "session expired";
    if (state == ZOO_AUTH_FAILED_STATE) return "authentication failed";
    if (state == 0) return "not connected";
    return "unknown";
}

void zku_quiet(void)
{
    if (WH_LOG_ENABLED(WH_LOG_DEBUG, WH_AREA_ZK))
        zoo_set_debug_level(ZOO_LOG_LEVEL_INFO);
    else
        zoo_set_debug_level((ZooLogLevel)0);
}

int zku_create_parents(zhandle_t *zh, const char *path, bool include_last)
{
    char buf[1024];
    size_t n = strlen(path);
    if (n >= sizeof buf || path[0] != '/')
        return ZBADARGUMENTS;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        if (buf[i] == '\0' && !include_last)
            break;
        char save = buf[i];
        buf[i] = '\0';
        int rc = zoo_create(zh, buf, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
        buf[i] = save;
        if (rc != ZOK && rc != ZNODEEXISTS)
            return rc;
    }
    return ZOK;
}
