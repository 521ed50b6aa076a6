/* mon_spawn.c -- starting publisher processes (see mon_spawn.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/errbuf.h"
#include "monitor/mon_spawn.h"
#include "protocol/status_file.h"

extern char **environ;

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static bool executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static char *search_path(const char *name)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    char buf[PATH_MAX];
    while (*path) {
        size_t n = strcspn(path, ":");
        if (n > 0 && (size_t)snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, name) < sizeof buf &&
            executable(buf))
            return strdup(buf);
        path += n;
        if (*path == ':')
            path++;
    }
    return NULL;
}

char *mon_spawn_default_command(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash && (size_t)(slash - self) + sizeof "/wormhole-publisher" < sizeof self) {
            strcpy(slash, "/wormhole-publisher");
            if (executable(self))
                return strdup(self);
        }
    }
    return search_path("wormhole-publisher");
}

int mon_spawn_resolve(const char *command, const char *default_command, char **out,
                      char *errbuf, size_t errlen)
{
    *out = NULL;
    if (!command || !*command) {
        if (!default_command)
            return wh_seterr(errbuf, errlen, WH_ERR_NOT_FOUND,
                             "command: wormhole-publisher is neither next to wormhole-monitor "
                             "nor on PATH");
        command = default_command;
    }
    if (strchr(command, '/')) {
        if (!executable(command))
            return wh_seterr(errbuf, errlen, WH_ERR_NOT_FOUND,
                             "command: %s is not an executable file", command);
        *out = strdup(command);
    } else {
        *out = search_path(command);
        if (!*out)
            return wh_seterr(errbuf, errlen, WH_ERR_NOT_FOUND,
                             "command: '%s' was not found on PATH", command);
    }
    return *out ? WH_OK : wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "command: out of memory");
}

char *mon_spawn_expand(const char *s, const mon_spawn_ctx *ctx)
{
    const struct { const char *key; const char *val; } subs[] = {
        { "{config}", ctx->config },   { "{instance}", ctx->instance },
        { "{run_dir}", ctx->run_dir }, { "{status_file}", ctx->status_file },
    };
    size_t cap = strlen(s) + 1, len = 0;
    for (size_t i = 0; i < 4; i++)
        for (const char *p = strstr(s, subs[i].key); p; p = strstr(p + 1, subs[i].key))
            cap += strlen(subs[i].val ? subs[i].val : "");
    char *out = malloc(cap);
    if (!out)
        return NULL;
    while (*s) {
        size_t i;
        for (i = 0; i < 4; i++)
            if (strncmp(s, subs[i].key, strlen(subs[i].key)) == 0)
                break;
        if (i < 4) {
            const char *v = subs[i].val ? subs[i].val : "";
            memcpy(out + len, v, strlen(v));
            len += strlen(v);
            s += strlen(subs[i].key);
        } else {
            out[len++] = *s++;
        }
    }
    out[len] = '\0';
    return out;
}

json_t *mon_spawn_argv(const mon_spec *spec, const char *program, const mon_spawn_ctx *ctx)
{
    json_t *argv = json_array();
    if (!argv || json_array_append_new(argv, json_string(program)) < 0)
        goto err;
    size_t i;
    json_t *v;
    json_array_foreach(spec->args, i, v) {
        char *a = mon_spawn_expand(json_string_value(v), ctx);
        json_t *s = a ? json_string(a) : NULL;
        free(a);
        if (!s || json_array_append_new(argv, s) < 0)
            goto err;
    }
    return argv;
err:
    json_decref(argv);
    return NULL;
}

static bool dropped_var(const char *entry, const mon_spec *spec)
{
    static const char *const drop[] = { "NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS",
                                        "LISTEN_FDNAMES", "WATCHDOG_PID", "WATCHDOG_USEC" };
    size_t n = strcspn(entry, "=");
    if (n >= 9 && strncmp(entry, "WORMHOLE_", 9) == 0)
        return true;
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
        if (strlen(drop[i]) == n && strncmp(entry, drop[i], n) == 0)
            return true;
    const char *k;
    json_t *v;
    json_object_foreach(spec->environment, k, v)
        if (strlen(k) == n && strncmp(entry, k, n) == 0)
            return true;
    return false;
}

static int push(char ***env, size_t *n, size_t *cap, char *s)
{
    if (!s)
        return -1;
    if (*n + 2 > *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        char **ne = realloc(*env, nc * sizeof *ne);
        if (!ne) {
            free(s);
            return -1;
        }
        *env = ne;
        *cap = nc;
    }
    (*env)[(*n)++] = s;
    (*env)[*n] = NULL;
    return 0;
}

static char *kv(const char *k, const char *v)
{
    char *s = NULL;
    return asprintf(&s, "%s=%s", k, v ? v : "") < 0 ? NULL : s;
}

char **mon_spawn_env(const mon_spec *spec, const mon_spawn_ctx *ctx)
{
    char **env = NULL;
    size_t n = 0, cap = 0;
    char interval[32];
    snprintf(interval, sizeof interval, "%d", ctx->interval_ms);
    for (char **e = environ; e && *e; e++)
        if (!dropped_var(*e, spec) && push(&env, &n, &cap, strdup(*e)) < 0)
            goto err;
    const char *k;
    json_t *v;
    json_object_foreach(spec->environment, k, v)
        if (json_is_string(v) && push(&env, &n, &cap, kv(k, json_string_value(v))) < 0)
            goto err;
    if (push(&env, &n, &cap, kv("WORMHOLE_INSTANCE", ctx->instance)) < 0 ||
        push(&env, &n, &cap, kv("WORMHOLE_CONFIG", ctx->config)) < 0 ||
        push(&env, &n, &cap, kv("WORMHOLE_RUN_DIR", ctx->run_dir)) < 0 ||
        push(&env, &n, &cap, kv(STATUS_ENV_FILE, ctx->status_file)) < 0 ||
        push(&env, &n, &cap, kv(STATUS_ENV_INTERVAL, interval)) < 0)
        goto err;
    return env;
err:
    mon_spawn_free_env(env);
    return NULL;
}

void mon_spawn_free_env(char **env)
{
    for (char **e = env; e && *e; e++)
        free(*e);
    free(env);
}

int mon_spawn(const char *program, const json_t *argv, char **envp, const mon_spawn_ctx *ctx,
              pid_t *pid, char *errbuf, size_t errlen)
{
    int rc = WH_OK, logfd = -1, nullfd = -1, ep[2] = { -1, -1 };
    size_t argc = json_array_size(argv);
    char **av = calloc(argc + 1, sizeof *av);
    *pid = 0;
    if (!av)
        return wh_seterr(errbuf, errlen, WH_ERR_NOMEM, "spawn: out of memory");
    for (size_t i = 0; i < argc; i++)
        av[i] = (char *)json_string_value(json_array_get(argv, i));

    logfd = open(ctx->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logfd < 0) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_IO, "cannot open output file %s: %s",
                       ctx->log_file, strerror(errno));
        goto out;
    }
    nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (nullfd < 0 || pipe2(ep, O_CLOEXEC) < 0) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_IO, "spawn: %s", strerror(errno));
        goto out;
    }
    pid_t child = fork();
    if (child < 0) {
        rc = wh_seterr(errbuf, errlen, WH_ERR_IO, "fork failed: %s", strerror(errno));
        goto out;
    }
    if (child == 0) {
        /* Only async-signal-safe calls from here to exec. */
        int err;
        struct sigaction dfl;
        sigset_t none;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        setsid();
        for (int sig = 1; sig < NSIG; sig++)
            sigaction(sig, &dfl, NULL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0 ||
            chdir(ctx->run_dir) < 0)
            goto child_fail;
        /* Everything above 2 closes at exec (ep[1] stays open until then). */
        syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
        execve(program, av, envp);
    child_fail:
        err = errno;
        if (write(ep[1], &err, sizeof err) < 0)
            err = 0;
        _exit(127);
    }
    close(ep[1]);
    ep[1] = -1;
    int err = 0;
    ssize_t r;
    do
        r = read(ep[0], &err, sizeof err);
    while (r < 0 && errno == EINTR);
    if (r == (ssize_t)sizeof err) {
        int status;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR)
            ;
        rc = wh_seterr(errbuf, errlen, WH_ERR_IO, "cannot execute %s: %s", program,
                       strerror(err));
        goto out;
    }
    *pid = child;
out:
    if (ep[0] >= 0)
        close(ep[0]);
    if (ep[1] >= 0)
        close(ep[1]);
    if (nullfd >= 0)
        close(nullfd);
    if (logfd >= 0)
        close(logfd);
    free(av);
    return rc;
}
