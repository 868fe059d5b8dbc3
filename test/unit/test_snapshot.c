// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of user/snapshot.c: the snapshot_aggregate decoder (buf versions 1
 * and 2, a violation at the head) and the trim command.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fixtures.h"
#include "log.h"
#include "replay.h"
#include "snapshot.h"
#include "unit.h"

static const uint16_t two_banks[] = { ALG_SHA1, ALG_SHA256 };

static void some_base(struct replay *base)
{
	if (replay_init(base, two_banks, 2))
		abort();
	memset(base->bank[0].pcr[10], 0x11, 20);
	memset(base->bank[1].pcr[10], 0x22, 32);
	base->pcrs_used = 1u << 10;
}

/* decodes one aggregate record: what aggregate_parse says, and *agg */
static int parse(uint16_t version, uint32_t word60, const uint8_t *head, struct aggregate *agg)
{
	struct log_record rec;
	struct replay base;
	struct buf b = {0};
	int err;

	some_base(&base);
	fx_aggregate(&b, 10, version, word60, head, 42, &base);
	err = log_parse(b.data, b.len, &rec, NULL) == (ssize_t)b.len ? 0 : -EIO;
	err = err ?: aggregate_parse(&rec, agg);
	buf_free(&b);
	return err;
}

static void test_versions(void)
{
	static const uint8_t zero[LOG_SHA1_SIZE];
	uint8_t head[LOG_SHA1_SIZE];
	struct aggregate agg;

	memset(head, 0xab, sizeof(head));
	/* version 1: a non-zero head is set; the word at 60 is reserved, 0 */
	CHECK_INT(parse(1, 0, head, &agg), 0);
	CHECK(agg.head_set);
	CHECK_MEM(agg.head, head, LOG_SHA1_SIZE);
	CHECK_INT(agg.trimmed, 42);
	CHECK_MEM(agg.base.bank[1].pcr[10], "\x22\x22\x22\x22", 4);
	CHECK_INT(parse(1, 0, zero, &agg), 0);
	CHECK(!agg.head_set);
	CHECK_INT(parse(1, 1, head, &agg), -EINVAL);
	/* version 2: the flags say; a set head may be a violation's (zero) */
	CHECK_INT(parse(2, 1, head, &agg), 0);
	CHECK(agg.head_set);
	CHECK_MEM(agg.head, head, LOG_SHA1_SIZE);
	CHECK_INT(parse(2, 1, zero, &agg), 0);
	CHECK(agg.head_set);
	CHECK_MEM(agg.head, zero, LOG_SHA1_SIZE);
	CHECK_INT(parse(2, 0, zero, &agg), 0);
	CHECK(!agg.head_set);
	/* clear, yet a head; unknown flags; unknown versions */
	CHECK_INT(parse(2, 0, head, &agg), -EINVAL);
	CHECK_INT(parse(2, 3, head, &agg), -EINVAL);
	CHECK_INT(parse(2, 0x80000001, head, &agg), -EINVAL);
	CHECK_INT(parse(0, 0, head, &agg), -EINVAL);
	CHECK_INT(parse(3, 1, head, &agg), -EINVAL);
}

static void test_trim_command(void)
{
	uint8_t digest[LOG_SHA1_SIZE];
	uint64_t head = 1234;
	char cmd[96];

	memset(digest, 0x5a, sizeof(digest));
	CHECK_INT(trim_command(cmd, sizeof(cmd), 17, digest, &head), 49);
	CHECK_STR(cmd, "17 5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a 1234\n");
	CHECK_INT(trim_command(cmd, sizeof(cmd), 17, digest, NULL), 44);
	CHECK_STR(cmd, "17 5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a\n");
	head = UINT64_MAX;
	CHECK_INT(trim_command(cmd, sizeof(cmd), UINT64_MAX, digest, &head), 83);
	CHECK_INT(trim_command(cmd, 60, 17, digest, &head), -ENAMETOOLONG);
}

int main(void)
{
	test_versions();
	test_trim_command();
	UNIT_DONE();
}
