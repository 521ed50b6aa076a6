/* json.h -- an update as text: its JSON form (docs/UPDATES.md) for applications.
 *
 * The text is the JSON object that wormhole-tail and wormhole-logcat print
 * on each of their lines, without the line's '\n': keys in a fixed order,
 * exact 64-bit integers and decimals, temporal values in the server's text
 * form, bytes in base64, strings as valid UTF-8 (invalid bytes become
 * U+FFFD). Rendering is the same code the tools use.
 *
 * Threads: any thread, concurrently; the update is only read. Rendering
 * does not keep any pointer into the update, so an update received in a
 * subscriber callback can be rendered there and the text kept. */
#ifndef WORMHOLE_JSON_H
#define WORMHOLE_JSON_H

#include <stddef.h>

#include "wormhole/update.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Renders u into buf the way snprintf does: writes at most cap - 1 bytes of
 * the text and a terminating NUL (nothing at all if cap is 0, and buf may
 * then be NULL), and returns the length of the whole text, not counting the
 * NUL. A result >= cap means the text was cut: call again with a buffer of
 * result + 1 bytes.
 *
 * Allocates nothing when the text fits in buf; when it does not, the call
 * uses one temporary heap buffer and frees it before returning. The text is
 * never empty, so 0 means failure, with errno set: ENOMEM, or EINVAL if u is
 * NULL or buf is NULL with cap > 0 (buf then holds "" if cap > 0). */
size_t wh_update_json(const wh_update *u, char *buf, size_t cap);

/* Renders u into a new NUL-terminated buffer and returns it; stores the
 * text's length (without the NUL) in *len unless len is NULL. The caller
 * owns the buffer and frees it with free(). Returns NULL with errno set on
 * failure: ENOMEM, or EINVAL if u is NULL. */
char *wh_update_json_alloc(const wh_update *u, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
