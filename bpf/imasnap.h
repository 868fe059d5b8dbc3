/* SPDX-License-Identifier: GPL-2.0-only */
/* The event the BPF side sends for each IMA measurement, shared by both sides */
#ifndef IMASNAP_H
#define IMASNAP_H

#define IMASNAP_MAX_BANKS	8	/* TPM banks + IMA's extra slots we copy */
#define IMASNAP_DIGEST_MAX	64	/* TPM_MAX_DIGEST_SIZE */
#define IMASNAP_NAME_MAX	64	/* template name, or its format if unnamed */
#define IMASNAP_MAX_FIELDS	16	/* IMA_TEMPLATE_NUM_FIELDS_MAX is 15 */
/*
 * Template data bytes carried in the ring; larger entries are sent with
 * IMASNAP_EV_TRUNCATED and fetched from the kernel's list by the loader.
 * A power of two: the BPF side masks offsets with IMASNAP_DATA_MAX - 1.
 */
#define IMASNAP_DATA_MAX	4096

/* flags */
#define IMASNAP_EV_TRUNCATED	(1u << 0)	/* data or name did not fit */

struct imasnap_bank {
	unsigned short alg_id;			/* TPM2_ALG_*; 0 for extra slots */
	unsigned char digest[IMASNAP_DIGEST_MAX];
};

struct imasnap_event {
	unsigned long long seq;		/* global index: ima_htable.len - 1 */
	unsigned int pcr;
	unsigned int flags;
	unsigned int nr_banks;		/* entries used in bank[] */
	unsigned int sha1_slot;		/* ima_sha1_idx: the logged digest */
	unsigned int template_data_len;	/* as IMA accounts it */
	unsigned int data_len;		/* bytes used in data[] */
	char name[IMASNAP_NAME_MAX];	/* NUL-terminated */
	struct imasnap_bank bank[IMASNAP_MAX_BANKS];
	/* each template field as IMA holds it: u32 len | bytes */
	unsigned char data[IMASNAP_DATA_MAX];
};

#endif /* IMASNAP_H */
