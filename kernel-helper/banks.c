// SPDX-License-Identifier: GPL-2.0-only
/*
 * The TPM's PCR banks as IMA extends them, and the replay of IMA entries into
 * PCR values: for each bank, new = H_bank(old || entry digest for that bank),
 * where a violation (all-zero template digest) extends all 0xff bytes, as
 * ima_add_template_entry does. The entry's in-memory per-bank digests are
 * exactly what IMA sent to the TPM (for banks IMA could not hash, a SHA-1
 * digest padded with zeros), so no TPM read is needed.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <crypto/hash.h>
#include <crypto/hash_info.h>
#include <linux/err.h>
#include <linux/string.h>

#include "imasnap.h"

static bool builtin_sha512(u16 crypto_id)
{
	return crypto_id == HASH_ALGO_SHA384 || crypto_id == HASH_ALGO_SHA512;
}

int banks_init(struct pcr_banks *banks, struct tpm_chip *chip)
{
	int i;

	memset(banks, 0, sizeof(*banks));
	if (!chip) {
		pr_info("IMA runs without a TPM: no PCR values to keep\n");
		return 0;
	}
	banks->nr = chip->nr_allocated_banks;
	for (i = 0; i < banks->nr; i++) {
		struct pcr_bank *b = &banks->bank[i];
		struct crypto_shash *tfm;

		b->alg_id = chip->allocated_banks[i].alg_id;
		b->digest_size = chip->allocated_banks[i].digest_size;
		b->crypto_id = chip->allocated_banks[i].crypto_id;
		if (b->crypto_id >= HASH_ALGO__LAST ||
		    b->digest_size > TPM2_MAX_DIGEST_SIZE ||
		    b->digest_size != hash_digest_size[b->crypto_id]) {
			pr_warn("PCR bank 0x%04x: hash unknown to the kernel; its base values are not kept (marked unavailable)\n",
				b->alg_id);
			continue;
		}
		tfm = crypto_alloc_shash(hash_algo_name[b->crypto_id], 0, 0);
		if (!IS_ERR(tfm)) {
			b->tfm = tfm;
			b->available = true;
		} else if (builtin_sha512(b->crypto_id)) {
			b->available = true;	/* sha512.c */
		} else {
			pr_warn("PCR bank %s: cannot allocate the hash (%ld); its base values are not kept (marked unavailable)\n",
				hash_algo_name[b->crypto_id], PTR_ERR(tfm));
		}
	}
	return 0;
}

void banks_free(struct pcr_banks *banks)
{
	int i;

	for (i = 0; i < banks->nr; i++)
		if (banks->bank[i].tfm)
			crypto_free_shash(banks->bank[i].tfm);
	memset(banks, 0, sizeof(*banks));
}

const char *bank_name(const struct pcr_bank *bank)
{
	return bank->crypto_id < HASH_ALGO__LAST ?
		hash_algo_name[bank->crypto_id] : "unknown";
}

const u8 *entry_sha1(const struct ima_template_entry *entry)
{
	return entry->digests[*ima.sha1_idx].digest;
}

bool entry_is_violation(const struct ima_template_entry *entry)
{
	return !memchr_inv(entry_sha1(entry), 0, SHA1_DIGEST_SIZE);
}

static int bank_extend(const struct pcr_bank *b, u8 *pcr, const u8 *digest)
{
	SHASH_DESC_ON_STACK(desc, b->tfm);
	int err;

	if (!b->tfm) {
		sha512_extend(b->digest_size, pcr, digest);
		return 0;
	}
	desc->tfm = b->tfm;
	err = crypto_shash_init(desc);
	if (!err)
		err = crypto_shash_update(desc, pcr, b->digest_size);
	if (!err)
		err = crypto_shash_update(desc, digest, b->digest_size);
	if (!err)
		err = crypto_shash_final(desc, pcr);
	shash_desc_zero(desc);
	return err;
}

int pcr_replay_entry(const struct pcr_banks *banks, struct pcr_values *values,
		     const struct ima_template_entry *entry)
{
	static const u8 invalid[TPM2_MAX_DIGEST_SIZE] = {
		[0 ... TPM2_MAX_DIGEST_SIZE - 1] = 0xff
	};
	bool violation = entry_is_violation(entry);
	int i, err;

	if (entry->pcr < 0 || entry->pcr >= IMASNAP_NR_PCRS) {
		pr_err("an IMA entry names PCR %d, outside 0..%d; cannot keep its base value\n",
		       entry->pcr, IMASNAP_NR_PCRS - 1);
		return -EINVAL;
	}
	for (i = 0; i < banks->nr; i++) {
		if (!banks->bank[i].available)
			continue;
		err = bank_extend(&banks->bank[i], values->value[entry->pcr][i],
				  violation ? invalid :
					      entry->digests[i].digest);
		if (err) {
			pr_err("hashing for PCR bank %s failed: %d\n",
			       bank_name(&banks->bank[i]), err);
			return err;
		}
	}
	values->mask |= BIT(entry->pcr);
	return 0;
}
