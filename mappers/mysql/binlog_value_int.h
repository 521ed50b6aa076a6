/* binlog_value_int.h -- what binlog_value.c uses of binlog_json.c beyond the
 * contract in binlog_value.h; not part of the mapper contract. The value
 * decoder depends on the JSON decoder, never the other way: what both use
 * (DECIMAL and temporal encodings) is in binlog_numeric.h. */
#ifndef BINLOG_VALUE_INT_H
#define BINLOG_VALUE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"

/* binlog_json_to_text into the arena: *out is valid until the arena is reset. */
int binlog_json_to_arena(const uint8_t *p, size_t len, wh_arena *arena, const char **out,
                         size_t *out_len, char *errbuf, size_t errlen);

#endif
