// SPDX-License-Identifier: GPL-2.0-only
/*
 * The snapshot_aggregate record: the data (ima-buf "buf" field) of the IMA
 * entry the helper appends after each trim. Little-endian, version 2, laid
 * out in docs/formats.md ("The snapshot_aggregate entry"):
 *
 *   header (64 bytes)
 *     0  char magic[8]      "imasnap\0"
 *     8  le16 version       2 (1 is read too)
 *    10  le16 header_size   64: offset of the bank table
 *    12  le16 nr_banks
 *    14  le16 nr_pcrs
 *    16  u8   epoch[16]
 *    32  le64 trimmed       entries removed from the list so far, this one
 *                           included
 *    40  u8   head[20]      with HEAD_SET: SHA-1 template digest of the
 *                           list's first entry once this trim completed
 *                           (zero when that entry is a violation); else 0
 *    60  le32 flags         bit 0 HEAD_SET; without it the trim removed
 *                           every entry listed when it was asked, and the
 *                           new first entry is the first listed after them
 *                           (this record, or a measurement made meanwhile).
 *                           Version 1 had "le32 reserved 0" here, and a
 *                           non-zero head meant HEAD_SET.
 *   bank table, nr_banks times (8 bytes)
 *     le16 tpm_alg_id, le16 digest_size, le16 flags (bit 0: unavailable,
 *     the values of this bank are zero and mean nothing), le16 reserved 0
 *   PCR records, nr_pcrs times, ascending PCR index
 *     le32 pcr, then one value per bank in bank table order (digest_size
 *     bytes each): the PCR's value just before the list's first entry.
 *     PCRs without a record have the value zero in every bank.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <linux/string.h>
#include "unaligned.h"

#include "imasnap.h"

#define AGG_MAGIC "imasnap"	/* 8 bytes with its NUL */
#define AGG_VERSION 2
#define AGG_VERSION_1 1
#define AGG_HEADER_SIZE 64
#define AGG_BANK_SIZE 8
#define AGG_BANK_UNAVAILABLE 0x1

static size_t pcr_record_size(const struct pcr_banks *banks)
{
	size_t size = sizeof(__le32);
	int i;

	for (i = 0; i < banks->nr; i++)
		size += banks->bank[i].digest_size;
	return size;
}

void *aggregate_encode(const struct pcr_banks *banks,
		       const struct aggregate *agg, size_t *len)
{
	int nr_pcrs = hweight32(agg->base->mask), pcr, i;
	u8 *buf, *p;

	*len = AGG_HEADER_SIZE + banks->nr * AGG_BANK_SIZE +
	       nr_pcrs * pcr_record_size(banks);
	buf = kzalloc(*len, GFP_KERNEL);
	if (!buf)
		return NULL;
	memcpy(buf, AGG_MAGIC, sizeof(AGG_MAGIC));
	put_unaligned_le16(AGG_VERSION, buf + 8);
	put_unaligned_le16(AGG_HEADER_SIZE, buf + 10);
	put_unaligned_le16(banks->nr, buf + 12);
	put_unaligned_le16(nr_pcrs, buf + 14);
	memcpy(buf + 16, agg->epoch, IMASNAP_EPOCH_SIZE);
	put_unaligned_le64(agg->trimmed, buf + 32);
	memcpy(buf + 40, agg->head, SHA1_DIGEST_SIZE);
	put_unaligned_le32(agg->flags, buf + 60);

	p = buf + AGG_HEADER_SIZE;
	for (i = 0; i < banks->nr; i++, p += AGG_BANK_SIZE) {
		put_unaligned_le16(banks->bank[i].alg_id, p);
		put_unaligned_le16(banks->bank[i].digest_size, p + 2);
		put_unaligned_le16(banks->bank[i].available ?
				   0 : AGG_BANK_UNAVAILABLE, p + 4);
	}
	for (pcr = 0; pcr < IMASNAP_NR_PCRS; pcr++) {
		if (!(agg->base->mask & BIT(pcr)))
			continue;
		put_unaligned_le32(pcr, p);
		p += sizeof(__le32);
		for (i = 0; i < banks->nr; i++) {
			if (banks->bank[i].available)
				memcpy(p, agg->base->value[pcr][i],
				       banks->bank[i].digest_size);
			p += banks->bank[i].digest_size;
		}
	}
	return buf;
}

/*
 * Parses a record written by aggregate_encode on this boot's TPM banks; on
 * success fills @agg (including *agg->base). Anything else is -EINVAL.
 */
static int decode_flags(u16 version, const u8 *buf, u32 *flags)
{
	bool head = memchr_inv(buf + 40, 0, SHA1_DIGEST_SIZE);

	*flags = get_unaligned_le32(buf + 60);
	if (version == AGG_VERSION_1) {
		if (*flags)	/* reserved */
			return -EINVAL;
		*flags = head ? AGG_HEAD_SET : 0;
		return 0;
	}
	if (*flags & ~AGG_HEAD_SET || (!(*flags & AGG_HEAD_SET) && head))
		return -EINVAL;
	return 0;
}

int aggregate_decode(const struct pcr_banks *banks, const u8 *buf,
		     size_t len, struct aggregate *agg)
{
	const u8 *p;
	int nr_pcrs, n, i, last = -1;
	u16 version;
	u32 pcr;

	if (len < AGG_HEADER_SIZE || memcmp(buf, AGG_MAGIC, sizeof(AGG_MAGIC)))
		return -EINVAL;
	version = get_unaligned_le16(buf + 8);
	if ((version != AGG_VERSION && version != AGG_VERSION_1) ||
	    decode_flags(version, buf, &agg->flags) ||
	    get_unaligned_le16(buf + 10) != AGG_HEADER_SIZE ||
	    get_unaligned_le16(buf + 12) != banks->nr)
		return -EINVAL;
	nr_pcrs = get_unaligned_le16(buf + 14);
	if (nr_pcrs > IMASNAP_NR_PCRS ||
	    len != AGG_HEADER_SIZE + banks->nr * AGG_BANK_SIZE +
		   nr_pcrs * pcr_record_size(banks))
		return -EINVAL;

	p = buf + AGG_HEADER_SIZE;
	for (i = 0; i < banks->nr; i++, p += AGG_BANK_SIZE)
		if (get_unaligned_le16(p) != banks->bank[i].alg_id ||
		    get_unaligned_le16(p + 2) != banks->bank[i].digest_size)
			return -EINVAL;

	memcpy(agg->epoch, buf + 16, IMASNAP_EPOCH_SIZE);
	agg->trimmed = get_unaligned_le64(buf + 32);
	memcpy(agg->head, buf + 40, SHA1_DIGEST_SIZE);
	memset(agg->base, 0, sizeof(*agg->base));
	for (n = 0; n < nr_pcrs; n++) {
		pcr = get_unaligned_le32(p);
		p += sizeof(__le32);
		if (pcr >= IMASNAP_NR_PCRS || (int)pcr <= last)
			return -EINVAL;
		last = pcr;
		agg->base->mask |= BIT(pcr);
		for (i = 0; i < banks->nr; i++) {
			memcpy(agg->base->value[pcr][i], p,
			       banks->bank[i].digest_size);
			p += banks->bank[i].digest_size;
		}
	}
	return 0;
}

static int field_index(const struct ima_template_desc *desc, const char *id)
{
	int i;

	for (i = 0; i < desc->num_fields; i++)
		if (!strcmp(desc->fields[i]->field_id, id))
			return i;
	return -1;
}

/*
 * Whether @entry looks like a snapshot_aggregate: ima-buf template, event
 * name snapshot_aggregate, PCR CONFIG_IMA_MEASURE_PCR_IDX. Other IMA buffer
 * measurements (keys, critical data) could carry that name too, so callers
 * still decode and cross-check the data.
 */
bool entry_is_aggregate(const struct ima_template_entry *entry,
			const u8 **buf, u32 *len)
{
	const struct ima_template_desc *desc = entry->template_desc;
	const struct ima_field_data *name;
	int n, b;

	if (entry->pcr != CONFIG_IMA_MEASURE_PCR_IDX ||
	    strcmp(desc->name, "ima-buf"))
		return false;
	n = field_index(desc, "n-ng");
	b = field_index(desc, "buf");
	if (n < 0 || b < 0)
		return false;
	name = &entry->template_data[n];
	if (name->len != sizeof(IMASNAP_EVENT_NAME) ||
	    memcmp(name->data, IMASNAP_EVENT_NAME, sizeof(IMASNAP_EVENT_NAME)))
		return false;
	*buf = entry->template_data[b].data;
	*len = entry->template_data[b].len;
	return true;
}
