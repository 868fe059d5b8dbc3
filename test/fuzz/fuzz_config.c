// SPDX-License-Identifier: GPL-2.0-only
/*
 * The loader's configuration file (user/config.c: config_parse). Input: the
 * file's bytes. Invariants:
 * - an error leaves the settings exactly as they were, and its message
 *   starts with "FILE:LINE: " for a line the input has;
 * - a success sets only valid values (ring size a power of two in range, an
 *   absolute store path, a group name, a TCTI that names no library path);
 * - what config_print writes parses back to the same settings.
 */
#include "fuzz.h"
#include "config.h"
#include "tpm.h"

static const struct config defaults = CONFIG_DEFAULTS;

static void check_valid(const struct config *cfg)
{
	const char *conf;
	char lib[64];

	FUZZ_ASSERT(config_ring_size_ok(cfg->ring_size));
	FUZZ_ASSERT(cfg->store_dir[0] == '/');
	FUZZ_ASSERT(!cfg->store_group[0] || config_group_ok(cfg->store_group));
	FUZZ_ASSERT(!cfg->tcti[0] || !tcti_resolve(cfg->tcti, lib, sizeof(lib), &conf));
}

static void check_round_trip(const struct config *cfg)
{
	struct config again = defaults;
	char err[2048], *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	FUZZ_SETUP(f);
	config_print(cfg, TPM_DEFAULT_TCTI, f);
	FUZZ_SETUP(!fclose(f));
	FUZZ_ASSERT(!config_parse(out, len, "printed", &again, err, sizeof(err)));
	FUZZ_ASSERT(!strcmp(again.store_dir, cfg->store_dir));
	FUZZ_ASSERT(again.ring_size == cfg->ring_size);
	FUZZ_ASSERT(again.snapshot_entries == cfg->snapshot_entries);
	FUZZ_ASSERT(again.snapshot_bytes == cfg->snapshot_bytes);
	FUZZ_ASSERT(again.snapshot_kmem == cfg->snapshot_kmem);
	FUZZ_ASSERT(again.protect == cfg->protect);
	FUZZ_ASSERT(!strcmp(again.tcti, cfg->tcti[0] ? cfg->tcti : TPM_DEFAULT_TCTI));
	FUZZ_ASSERT(!strcmp(again.store_group, cfg->store_group));
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg = defaults;
	char err[2048], *colon;
	unsigned long line, lines = 1;
	size_t i;

	for (i = 0; i < size; i++)
		lines += data[i] == '\n';
	if (config_parse((const char *)data, size, "fuzz", &cfg, err, sizeof(err))) {
		FUZZ_ASSERT(!memcmp(&cfg, &defaults, sizeof(cfg)));
		FUZZ_ASSERT(!strncmp(err, "fuzz:", 5));
		line = strtoul(err + 5, &colon, 10);
		FUZZ_ASSERT(*colon == ':' && line >= 1 && line <= lines);
		return 0;
	}
	check_valid(&cfg);
	check_round_trip(&cfg);
	return 0;
}
