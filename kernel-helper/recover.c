// SPDX-License-Identifier: GPL-2.0-only
/*
 * At load, the helper finds its state in IMA's list itself, so a reload (or a
 * kexec that carried the list over) continues where the last trim left off:
 *
 *  - trimmed: IMA counts every entry it ever added in ima_htable.len and the
 *    helper never lowers that counter, so the entries removed from this
 *    kernel's list are ima_htable.len minus the entries in the list;
 *  - base values, epoch, and the count before a kexec: from the last
 *    snapshot_aggregate record in the list, which must describe the list's
 *    current first entry. When entries were removed and no record describes
 *    the cut, the module refuses to load rather than guess.
 *  - when nothing was ever trimmed, the bases are zero and the epoch id is
 *    derived from the list's first entry and the TPM's reset counter.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <crypto/sha2.h>
#include <linux/gfp.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <asm/unaligned.h>

#include "imasnap.h"

#define TPM2_CC_READ_CLOCK_CODE 0x00000181
/* response: header (10), time (8), clock (8), resetCount (4), ... */
#define READ_CLOCK_RESET_COUNT 26
#define READ_CLOCK_RESPONSE_SIZE 35

/* TPM2_ReadClock's resetCount: changes on every TPM reset, not on kexec. */
static int tpm_reset_count(struct tpm_chip *chip, u32 *count)
{
	u8 *buf;
	int rc;

	if (!chip || !(chip->flags & TPM_CHIP_FLAG_TPM2))
		return -ENODEV;
	buf = (u8 *)__get_free_page(GFP_KERNEL);	/* tpm_send's size */
	if (!buf)
		return -ENOMEM;
	put_unaligned_be16(TPM2_ST_NO_SESSIONS, buf);
	put_unaligned_be32(10, buf + 2);
	put_unaligned_be32(TPM2_CC_READ_CLOCK_CODE, buf + 6);
	rc = tpm_send(chip, buf, 10);
	if (!rc && get_unaligned_be32(buf + 2) >= READ_CLOCK_RESPONSE_SIZE)
		*count = get_unaligned_be32(buf + READ_CLOCK_RESET_COUNT);
	else
		rc = rc < 0 ? rc : -EIO;
	free_page((unsigned long)buf);
	return rc;
}

static void epoch_compute(const struct ima_template_entry *first,
			  u8 epoch[IMASNAP_EPOCH_SIZE])
{
	static const char label[] = "imasnap epoch v1";
	struct sha256_state s;
	u8 digest[SHA256_DIGEST_SIZE], tail[5] = {};
	u32 count;
	int err = tpm_reset_count(*ima.tpm_chip, &count);

	if (!err) {
		put_unaligned_le32(count, tail);
		tail[4] = 1;
	} else if (*ima.tpm_chip) {
		pr_warn("cannot read the TPM's reset counter (%d); the epoch id depends on the boot_aggregate only\n",
			err);
	}
	sha256_init(&s);
	sha256_update(&s, label, sizeof(label) - 1);
	sha256_update(&s, entry_sha1(first), SHA1_DIGEST_SIZE);
	sha256_update(&s, tail, sizeof(tail));
	sha256_final(&s, digest);
	memcpy(epoch, digest, IMASNAP_EPOCH_SIZE);
}

/*
 * Replays the list from the recovered base values and compares the result
 * with the TPM for IMA's PCR. A mismatch is reported, not fatal: a kexec that
 * did not carry the list over, or a failed TPM extend, leaves the list short
 * of the PCR's history, and verifiers will see the same.
 */
static void verify_against_tpm(void)
{
	const int pcr = CONFIG_IMA_MEASURE_PCR_IDX;
	struct tpm_chip *chip = *ima.tpm_chip;
	struct ima_queue_entry *qe, *tail;
	struct tpm_digest *tpm;
	struct pcr_values *replay;
	int i, err = 0, mismatch = 0, checked = 0;
	u64 n = 0;

	if (!chip || !snap.banks.nr)
		return;
	tpm = kcalloc(snap.banks.nr, sizeof(*tpm), GFP_KERNEL);
	replay = kmemdup(snap.base, sizeof(*snap.base), GFP_KERNEL);
	if (!tpm || !replay)
		goto out;

	/* the TPM's value and the list's last entry at one moment */
	mutex_lock(ima.extend_list_mutex);
	tail = list_last_entry(ima.measurements, struct ima_queue_entry, later);
	for (i = 0; i < snap.banks.nr && !err; i++) {
		tpm[i].alg_id = snap.banks.bank[i].alg_id;
		err = tpm_pcr_read(chip, pcr, &tpm[i]);
	}
	mutex_unlock(ima.extend_list_mutex);
	if (err) {
		pr_warn("cannot read PCR %d from the TPM (%d); the recovered base values are not checked\n",
			pcr, err);
		goto out;
	}

	for (qe = list_entry_rcu(ima.measurements->next, struct ima_queue_entry,
				 later);
	     &qe->later != ima.measurements;
	     qe = list_entry_rcu(qe->later.next, struct ima_queue_entry,
				 later)) {
		if (qe->entry->pcr == pcr &&
		    pcr_replay_entry(&snap.banks, replay, qe->entry))
			goto out;
		if (qe == tail)
			break;
		if (!(++n % 1024))
			cond_resched();
	}
	for (i = 0; i < snap.banks.nr; i++) {
		const struct pcr_bank *b = &snap.banks.bank[i];

		if (!b->available)
			continue;
		checked++;
		if (memcmp(replay->value[pcr][i], tpm[i].digest,
			   b->digest_size)) {
			mismatch++;
			pr_warn("PCR %d %s: replaying the list from its base values gives %*phN, the TPM has %*phN (kexec without the list carried over, or a failed TPM extend?): verification of this list will fail\n",
				pcr, bank_name(b), b->digest_size,
				replay->value[pcr][i], b->digest_size,
				tpm[i].digest);
		}
	}
	if (checked && !mismatch)
		pr_info("PCR %d: the list replays from its base values to the TPM's value in all %d banks checked\n",
			pcr, checked);
out:
	kfree(tpm);
	kfree(replay);
}

struct recovery {
	struct aggregate scratch;
	struct aggregate last;	/* the last record that decoded */
	bool found;
	u64 entries;
};

static void consider(struct recovery *r, const struct ima_template_entry *e)
{
	const u8 *buf;
	u32 len;

	r->entries++;
	if (!entry_is_aggregate(e, &buf, &len))
		return;
	if (aggregate_decode(&snap.banks, buf, len, &r->scratch)) {
		pr_info("ignoring a snapshot_aggregate entry whose data is not this helper's format\n");
		return;
	}
	swap(r->scratch, r->last);
	r->found = true;
}

int recover_state(void)
{
	struct ima_queue_entry *qe, *first, *seen = NULL;
	struct recovery r = {};
	long since_boot;
	u64 trimmed;
	int err = -ENOMEM;

	r.scratch.base = kzalloc(sizeof(*r.scratch.base), GFP_KERNEL);
	r.last.base = kzalloc(sizeof(*r.last.base), GFP_KERNEL);
	if (!r.scratch.base || !r.last.base)
		goto out;

	/* the bulk without IMA's mutex, then the entries added meanwhile */
	first = list_entry_rcu(ima.measurements->next, struct ima_queue_entry,
			       later);
	for (qe = first; &qe->later != ima.measurements;
	     qe = list_entry_rcu(qe->later.next, struct ima_queue_entry,
				 later)) {
		consider(&r, qe->entry);
		seen = qe;
		if (!(r.entries % 4096))
			cond_resched();
	}
	mutex_lock(ima.extend_list_mutex);
	for (qe = list_entry_rcu(seen->later.next, struct ima_queue_entry,
				 later);
	     &qe->later != ima.measurements;
	     qe = list_entry_rcu(qe->later.next, struct ima_queue_entry,
				 later))
		consider(&r, qe->entry);
	since_boot = atomic_long_read(&ima.htable->len);
	mutex_unlock(ima.extend_list_mutex);

	err = -EINVAL;
	if (since_boot < 0 || r.entries > since_boot) {
		pr_err("IMA counts %ld measurements but its list holds %llu entries; refusing to load\n",
		       since_boot, r.entries);
		goto out;
	}
	trimmed = since_boot - r.entries;

	if (!r.found) {
		if (trimmed) {
			pr_err("%llu entries were removed from IMA's list, but no snapshot_aggregate in it describes the cut; refusing to load rather than guess the base PCR values\n",
			       trimmed);
			goto out;
		}
		snap.trimmed = 0;
		snap.trimmed_before = 0;
		memset(snap.base, 0, sizeof(*snap.base));
		epoch_compute(first->entry, snap.epoch);
		verify_against_tpm();
		err = 0;
		goto out;
	}

	/*
	 * The record must describe the current first entry: by its digest, or,
	 * when its trim emptied the list, by the count.
	 */
	if (memchr_inv(r.last.head, 0, SHA1_DIGEST_SIZE) ?
	    memcmp(r.last.head, entry_sha1(first->entry), SHA1_DIGEST_SIZE) ||
	    r.last.trimmed < trimmed :
	    r.last.trimmed != trimmed) {
		pr_err("the last snapshot_aggregate in IMA's list (%llu trimmed) does not describe the list's first entry (%llu entries removed); refusing to load rather than guess the base PCR values\n",
		       r.last.trimmed, trimmed);
		goto out;
	}
	snap.trimmed = trimmed;
	snap.trimmed_before = r.last.trimmed - trimmed;
	memcpy(snap.base, r.last.base, sizeof(*snap.base));
	memcpy(snap.epoch, r.last.epoch, IMASNAP_EPOCH_SIZE);
	pr_info("recovered from the list: %llu entries trimmed, base values from the last snapshot_aggregate\n",
		r.last.trimmed);
	verify_against_tpm();
	err = 0;
out:
	kfree(r.scratch.base);
	kfree(r.last.base);
	return err;
}
