/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Parsers of the commands written to the helper's securityfs control files.
 * They only parse: no lock, no allocation, no access to IMA, so the same code
 * compiles in the module and in user space (the fuzz target
 * test/fuzz/fuzz_helper_parse.c), where a small shim stands in for the
 * kernel's kstrtou64, hex2bin and isdigit.
 */
#ifndef IMASNAP_PARSE_H
#define IMASNAP_PARSE_H

#ifdef __KERNEL__
#include <linux/bits.h>
#include <linux/tpm.h>
#include <linux/types.h>
#include <crypto/sha1.h>
#else
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
#define BIT(n) (1UL << (n))
#define SHA1_DIGEST_SIZE 20
#define TPM2_MAX_DIGEST_SIZE 64		/* as linux/tpm.h */
#define TPM2_MAX_PCR_BANKS 8
#endif

/* TPM 2.0 PC client PCRs; IMA entries naming another PCR stop a trim. */
#define IMASNAP_NR_PCRS 24

/* PCR values per PCR and bank; PCRs outside @mask are all zero. */
struct pcr_values {
	u32 mask;
	u8 value[IMASNAP_NR_PCRS][TPM2_MAX_PCR_BANKS][TPM2_MAX_DIGEST_SIZE];
};

/* "<N> <sha1hex>[ <H>]" */
struct trim_cmd {
	u64 n;
	u8 digest[SHA1_DIGEST_SIZE];
	bool head_given;	/* H given: the writer's index of the list's head */
	u64 head;
};
#define TRIM_CMD_MAX 128

/* What the rebase parser needs to know of a PCR bank. */
struct parse_bank {
	const char *name;	/* as in the state file: sha1, sha256, ... */
	unsigned int digest_size;
	bool available;		/* false: lines for it are skipped */
};

/* "<N> <sha1hex or -> <C>\n" then "<pcr> <alg> <hex>\n" lines */
struct rebase_cmd {
	u64 n;
	u8 digest[SHA1_DIGEST_SIZE];	/* zero for N = 0 */
	u64 count;
	struct pcr_values *base;	/* the caller's, zeroed by the caller */
};
#define REBASE_CMD_MAX 16384

int parse_u64(const char *s, u64 *v);
int trim_parse(const char *cmd, size_t len, struct trim_cmd *t);
int rebase_parse(char *cmd, size_t len, const struct parse_bank *banks,
		 int nr_banks, struct rebase_cmd *rb);
int persisted_parse(char *cmd, size_t len, u64 *count);

#endif /* IMASNAP_PARSE_H */
