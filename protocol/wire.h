/* wire.h -- the whole push protocol in one include (docs/PROTOCOL.md).
 *
 * The parts, each with its own contract (docs/PROTOCOL.md is the spec):
 *   protocol/wire_frame.h  frame layout, types, limits, CRC32C trailer
 *   protocol/msgpack.h     the MessagePack writer and reader (mp_*)
 *   protocol/wire_msg.h    HELLO ... SHARD_NOTICE and the wire position
 *   protocol/wire_batch.h  the UPDATES batch encoder and decoder
 *   protocol/wire_part.h   UPDATES_PART: an update too large for a frame
 *   protocol/wire_conn.h   receive and send buffers of a framed connection
 * Include the part you need; this umbrella is for the publisher and the
 * subscriber library, which use all of them. */
#ifndef WH_WIRE_H
#define WH_WIRE_H

#include "protocol/msgpack.h"
#include "protocol/wire_batch.h"
#include "protocol/wire_conn.h"
#include "protocol/wire_frame.h"
#include "protocol/wire_msg.h"
#include "protocol/wire_part.h"

#endif
