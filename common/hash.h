/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The string hash of the worker's in-memory tables (tunnels by device,
 * authentication failures by address): FNV-1a, 32 bits.  Not keyed:
 * tables using it are bounded or hold only authenticated names, so a
 * peer that chooses colliding keys makes at worst one chain longer.
 */
#ifndef RF_HASH_H
#define RF_HASH_H

#include <stdint.h>

static inline uint32_t
rf_hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

#endif
