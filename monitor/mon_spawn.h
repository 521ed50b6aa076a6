/* mon_spawn.h -- starting a publisher process: command lookup, argv, environment, fork and exec.
 *
 * The child becomes the leader of a new session and process group, gets
 * /dev/null as stdin and the instance's output file (O_APPEND) as stdout
 * and stderr, default signal dispositions, an empty signal mask, and no
 * other file descriptors (docs/MONITOR.md, "How the process is started"). */
#ifndef MON_SPAWN_H
#define MON_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "wormhole/error.h"

#include "monitor/mon_config.h"

/* Where the values of the placeholders and WORMHOLE_* variables come from. */
typedef struct mon_spawn_ctx {
    const char *instance;     /* {instance}, WORMHOLE_INSTANCE */
    const char *config;       /* {config}, WORMHOLE_CONFIG */
    const char *run_dir;      /* {run_dir}, WORMHOLE_RUN_DIR, the working directory */
    const char *status_file;  /* {status_file}, WORMHOLE_STATUS_FILE */
    const char *log_file;     /* stdout and stderr */
    int         interval_ms;  /* WORMHOLE_STATUS_INTERVAL_MS */
} mon_spawn_ctx;

/* Finds the program: "" means default_command (NULL if none was found);
 * a name without '/' is looked up on PATH; a path must be executable.
 * *out is a new string (caller frees). */
int mon_spawn_resolve(const char *command, const char *default_command, char **out,
                      char *errbuf, size_t errlen);

/* The default publisher: wormhole-publisher in the directory of the
 * running executable, else on PATH. New string or NULL. */
char *mon_spawn_default_command(void);

/* argv as a JSON array: program, then spec->args with placeholders
 * replaced. New reference, NULL on out of memory. */
json_t *mon_spawn_argv(const mon_spec *spec, const char *program, const mon_spawn_ctx *ctx);

/* Replaces {config}, {instance}, {run_dir} and {status_file} in s. New string. */
char *mon_spawn_expand(const char *s, const mon_spawn_ctx *ctx);

/* The child's environment: ours minus systemd's per-service variables and
 * WORMHOLE_*, then spec->environment, then WORMHOLE_*. A NULL-terminated
 * array of new strings; free with mon_spawn_free_env. */
char **mon_spawn_env(const mon_spec *spec, const mon_spawn_ctx *ctx);
void mon_spawn_free_env(char **env);

/* Forks and executes program with argv; waits only until exec succeeded or
 * failed. On success *pid is the child (its pgid equals its pid). On exec
 * failure the child has been reaped and the reason is in errbuf. */
int mon_spawn(const char *program, const json_t *argv, char **envp, const mon_spawn_ctx *ctx,
              pid_t *pid, char *errbuf, size_t errlen);

#endif
