/* mon_rundir.c -- run directory lock, records and process identity (see mon_rundir.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/errbuf.h"
#include "core/file.h"
#include "monitor/mon_rundir.h"

int mon_mkdirs(const char *path, char *errbuf, size_t errlen)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return wh_seterr(errbuf, errlen, WH_ERR_INVALID, "directory path '%s' is empty or too long",
                         path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0700) < 0 && errno != EEXIST)
            return wh_seterr(errbuf, errlen, WH_ERR_IO, "cannot create directory %s: %s", buf,
                             strerror(errno));
        buf[i] = c;
    }
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return wh_seterr(errbuf, errlen, WH_ERR_IO, "%s is not a directory", path);
    return WH_OK;
}

bool mon_peer_allowed(uid_t peer_uid, gid_t peer_gid, uid_t self, bool has_group, gid_t group)
{
    if (peer_uid == 0 || peer_uid == self)
        return true;
    if (!has_group)
        return false;
    if (peer_gid == group)
        return true;
    char pwbuf[4096];
    struct passwd pw, *pwp = NULL;
    if (getpwuid_r(peer_uid, &pw, pwbuf, sizeof pwbuf, &pwp) != 0 || !pwp)
        return false;
    gid_t groups[256];
    int n = 256;
    if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
        return false;
    for (int i = 0; i < n; i++)
        if (groups[i] == group)
            return true;
    return false;
}

int mon_group_resolve(const char *name, gid_t *gid, char *errbuf, size_t errlen)
{
    char buf[4096], *end;
    struct group gr, *grp = NULL;
    if (getgrnam_r(name, &gr, buf, sizeof buf, &grp) == 0 && grp) {
        *gid = gr.gr_gid;
        return WH_OK;
    }
    unsigned long v = strtoul(name, &end, 10);
    if (*name && !*end && v < 0xffffffffUL) {
        *gid = (gid_t)v;
        return WH_OK;
    }
    return wh_seterr(errbuf, errlen, WH_ERR_NOT_FOUND, "control group '%s': no such group",
                     name);
}

const char *mon_find_inline_secret(const json_t *doc)
{
    const char *k, *found;
    size_t i;
    json_t *v;
    if (json_is_object(doc)) {
        json_object_foreach((json_t *)doc, k, v) {
            if (strcmp(k, "password") == 0 && json_is_string(v) && json_string_length(v) > 0)
                return k;
            if ((found = mon_find_inline_secret(v)))
                return found;
        }
    } else if (json_is_array(doc)) {
        json_array_foreach(doc, i, v)
            if ((found = mon_find_inline_secret(v)))
                return found;
    }
    return NULL;
}

int mon_rundir_lock(const char *run_dir, int *lockfd, char *errbuf, size_t errlen)
{
    char path[4096];
    *lockfd = -1;
    snprintf(path, sizeof path, "%s/instances", run_dir);
    int rc = mon_mkdirs(path, errbuf, errlen);
    if (rc)
        return rc;
    snprintf(path, sizeof path, "%s/monitor.lock", run_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return wh_seterr(errbuf, errlen, WH_ERR_IO, "cannot open lock file %s: %s", path,
                         strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        char other[32] = "";
        ssize_t r = pread(fd, other, sizeof other - 1, 0);
        other[r > 0 ? r : 0] = '\0';
        other[strcspn(other, "\n")] = '\0';
        close(fd);
        if (e == EWOULDBLOCK)
            return wh_seterr(errbuf, errlen, WH_ERR_INVALID,
                             "another monitor (pid %s) is running on run directory %s",
                             other[0] ? other : "unknown", run_dir);
        return wh_seterr(errbuf, errlen, WH_ERR_IO, "cannot lock %s: %s", path, strerror(e));
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        int e = errno;
        close(fd);
        return wh_seterr(errbuf, errlen, WH_ERR_IO, "cannot write lock file %s: %s", path,
                         strerror(e));
    }
    *lockfd = fd;
    return WH_OK;
}

int mon_proc_stat(pid_t pid, unsigned long long *starttime, char *state)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return WH_ERR_NOT_FOUND;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return WH_ERR_NOT_FOUND;
    buf[n] = '\0';
    /* The command name may contain spaces and parentheses: fields start
     * after the last ')'. Field 3 is the state, field 22 the start time. */
    char *p = strrchr(buf, ')');
    if (!p)
        return WH_ERR_CORRUPT;
    p++;
    char st = '?';
    unsigned long long start = 0;
    int field = 2;
    char *save = NULL;
    for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        field++;
        if (field == 3)
            st = tok[0];
        if (field == 22) {
            start = strtoull(tok, NULL, 10);
            break;
        }
    }
    if (field != 22)
        return WH_ERR_CORRUPT;
    if (starttime)
        *starttime = start;
    if (state)
        *state = st;
    return WH_OK;
}

/* Reads a whole /proc file (at most 16 MiB). Caller frees *out. */
static int read_proc_file(const char *path, char **out, size_t *outlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    *out = NULL;
    *outlen = 0;
    if (fd < 0)
        return -1;
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        if (len == cap) {
            char *nb = cap < (16u << 20) ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    close(fd);
    if (!buf)
        return -1;
    *out = buf;
    *outlen = len;
    return 0;
}

json_t *mon_proc_cmdline(pid_t pid)
{
    char path[64], *buf;
    size_t len;
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    if (read_proc_file(path, &buf, &len) < 0)
        return NULL;
    json_t *argv = json_array();
    for (size_t off = 0; argv && off < len;) {
        size_t k = strnlen(buf + off, len - off);
        json_t *s = json_stringn(buf + off, k);
        if (!s || json_array_append_new(argv, s) < 0) {
            json_decref(argv);
            argv = NULL;
        }
        off += k + 1;
    }
    free(buf);
    return argv;
}

void mon_proc_scan_env(const char *prefix, void (*fn)(void *ctx, pid_t pid, const char *rest),
                       void *ctx)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    size_t plen = strlen(prefix);
    pid_t self = getpid();
    while (d && (de = readdir(d))) {
        char *end, path[64], *buf, state;
        long pid = strtol(de->d_name, &end, 10);
        size_t len;
        if (*end || pid <= 0 || pid == self)
            continue;
        snprintf(path, sizeof path, "/proc/%ld/environ", pid);
        if (read_proc_file(path, &buf, &len) < 0)
            continue;
        for (size_t off = 0; off < len;) {
            size_t k = strnlen(buf + off, len - off);
            if (k > plen && off + k < len && memcmp(buf + off, prefix, plen) == 0) {
                if (mon_proc_stat((pid_t)pid, NULL, &state) == WH_OK && state != 'Z')
                    fn(ctx, (pid_t)pid, buf + off + plen);
                break;
            }
            off += k + 1;
        }
        free(buf);
    }
    if (d)
        closedir(d);
}

bool mon_proc_cmdline_is(pid_t pid, const json_t *argv)
{
    char path[64], *buf;
    size_t len;
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    if (read_proc_file(path, &buf, &len) != 0)
        return false;
    bool same = false;
    size_t off = 0, i;
    json_t *v;
    json_array_foreach(argv, i, v) {
        const char *s = json_string_value(v);
        if (!s)
            goto out;
        size_t k = strlen(s) + 1;
        if (off + k > len || memcmp(buf + off, s, k) != 0)
            goto out;
        off += k;
    }
    same = off == len && json_array_size(argv) > 0;
out:
    free(buf);
    return same;
}

void mon_boot_id(char out[40])
{
    out[0] = '\0';
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, out, 39);
    close(fd);
    out[n > 0 ? n : 0] = '\0';
    out[strcspn(out, "\n")] = '\0';
}

void mon_record_clear(mon_record *r)
{
    json_decref(r->argv);
    free(r->launch);
    memset(r, 0, sizeof *r);
}

int mon_record_save(const char *path, const mon_record *r, char *errbuf, size_t errlen)
{
    json_t *exits = json_array();
    for (unsigned i = 0; exits && i < r->nexits; i++)
        json_array_append_new(exits, mon_exit_to_json(&r->exits[i]));
    json_t *o = json_pack("{s:i, s:I, s:s, s:O?, s:s?, s:I, s:I, s:I, s:o?}",
                          "pid", (int)r->pid,
                          "starttime", (json_int_t)r->starttime,
                          "boot_id", r->boot_id,
                          "argv", r->argv,
                          "launch", r->launch,
                          "started_ms", (json_int_t)r->started_ms,
                          "restarts", (json_int_t)r->restarts,
                          "log_offset", (json_int_t)r->log_offset,
                          "exits", exits);
    char *text = o ? json_dumps(o, JSON_INDENT(1)) : NULL;
    json_decref(o);
    if (!text)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "%s: cannot encode the record", path);
    int rc = wh_file_replace(path, text, strlen(text), 0600, errbuf, errlen);
    free(text);
    return rc;
}

int mon_record_load(const char *path, mon_record *r, char *errbuf, size_t errlen)
{
    json_error_t jerr;
    memset(r, 0, sizeof *r);
    if (access(path, F_OK) < 0 && errno == ENOENT)
        return WH_ERR_NOT_FOUND;
    json_t *o = json_load_file(path, 0, &jerr);
    if (!o)
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT, "%s: %s", path, jerr.text);
    json_int_t pid = 0, st = 0, started = 0, restarts = 0, off = 0;
    const char *boot = "", *launch = NULL;
    json_t *argv = NULL, *exits = NULL;
    if (json_unpack_ex(o, &jerr, 0, "{s:I, s:I, s:s, s?o, s?s, s:I, s:I, s:I, s?o}",
                       "pid", &pid, "starttime", &st, "boot_id", &boot, "argv", &argv,
                       "launch", &launch, "started_ms", &started, "restarts", &restarts,
                       "log_offset", &off, "exits", &exits) < 0 ||
        pid < 0 || pid > 0x7fffffff || (argv && !json_is_array(argv))) {
        json_decref(o);
        return wh_seterr(errbuf, errlen, WH_ERR_CORRUPT, "%s: malformed record: %s", path,
                         jerr.text);
    }
    r->pid = (pid_t)pid;
    r->starttime = (unsigned long long)st;
    snprintf(r->boot_id, sizeof r->boot_id, "%s", boot);
    r->argv = argv ? json_incref(argv) : NULL;
    r->launch = launch ? strdup(launch) : NULL;
    r->started_ms = started;
    r->restarts = restarts > 0 ? (uint64_t)restarts : 0;
    r->log_offset = off > 0 ? (uint64_t)off : 0;
    size_t i;
    json_t *e;
    if (json_is_array(exits))
        json_array_foreach(exits, i, e) {
            if (r->nexits == MON_EXITS_KEPT)
                break;
            mon_exit_from_json(&r->exits[r->nexits++], e);
        }
    json_decref(o);
    return WH_OK;
}

bool mon_record_alive(const mon_record *r)
{
    char boot[40];
    unsigned long long st;
    char state;
    if (r->pid <= 0 || !r->argv)
        return false;
    mon_boot_id(boot);
    if (strcmp(boot, r->boot_id) != 0)
        return false;
    if (mon_proc_stat(r->pid, &st, &state) != WH_OK || st != r->starttime)
        return false;
    if (state == 'Z' || state == 'X' || state == 'x')
        return false;
    return mon_proc_cmdline_is(r->pid, r->argv);
}
