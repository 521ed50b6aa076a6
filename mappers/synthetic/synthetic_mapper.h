/* synthetic_mapper.h -- the "synthetic" mapper: generated updates for benchmarks and tests (no datastore). */
#ifndef WH_SYNTHETIC_MAPPER_H
#define WH_SYNTHETIC_MAPPER_H

#include "mappers/mapper.h"

extern const wh_mapper_ops wh_mapper_synthetic;

#endif
