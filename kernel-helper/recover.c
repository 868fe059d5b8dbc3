// SPDX-License-Identifier: GPL-2.0-only
/*
 * At load, the helper finds its state in IMA's list itself, so a reload (or a
 * kexec that carried the list over) continues where the last trim left off:
 *
 *  - trimmed: IMA counts every entry it ever added (ima_htable.len; 7.x:
 *    ima_num_records[BINARY]) and the helper never lowers that counter, so
 *    the entries removed from this kernel's list are that count minus the
 *    entries in the list;
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
#include "unaligned.h"

#include "imasnap.h"

#define TPM2_CC_READ_CLOCK_CODE 0x00000181
/* response: header (10), time (8), clock (8), resetCount (4), ... */
#define READ_CLOCK_RESET_COUNT 26
#define READ_CLOCK_RESPONSE_SIZE 35

/*
 * TPM2_ReadClock's resetCount: changes on every TPM reset, not on kexec.
 * tpm_transmit_cmd, as tpm_send (gone in 6.12) did, with the chip's ops held.
 */
static int tpm_reset_count(struct tpm_chip *chip, u32 *count)
{
	struct tpm_buf buf;
	ssize_t rc;

	if (!chip || !(chip->flags & TPM_CHIP_FLAG_TPM2))
		return -ENODEV;
	rc = tpm_try_get_ops(chip);
	if (rc)
		return rc;
	rc = tpm_buf_init(&buf, TPM2_ST_NO_SESSIONS, TPM2_CC_READ_CLOCK_CODE);
	if (!rc) {
		tpm_command_check();
		rc = tpm_transmit_cmd(chip, &buf, READ_CLOCK_RESPONSE_SIZE - TPM_HEADER_SIZE,
				      "reading the TPM's reset counter");
		if (!rc)
			*count = get_unaligned_be32(buf.data + READ_CLOCK_RESET_COUNT);
		else if (rc > 0)
			rc = -EIO;	/* a TPM error code */
		tpm_buf_destroy(&buf);
	}
	tpm_put_ops(chip);
	return rc;
}

static void epoch_compute(const struct ima_template_entry *first,
			  u8 epoch[IMASNAP_EPOCH_SIZE])
{
	static const char label[] = "imasnap epoch v1";
	struct imasnap_sha256 s;
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

/* The mask of PCRs named by the entries from @start to @tail (inclusive). */
static u32 pcrs_named(struct list_head *start, struct list_head *tail)
{
	struct list_head *pos;
	u32 mask = 0;
	u64 n = 0;

	for (pos = start; pos != ima.measurements; pos = READ_ONCE(pos->next)) {
		const struct ima_template_entry *e =
			list_entry(pos, struct ima_queue_entry, later)->entry;

		if (e->pcr >= 0 && e->pcr < IMASNAP_NR_PCRS)
			mask |= BIT(e->pcr);
		if (pos == tail)
			break;
		if (!(++n % 1024))
			cond_resched();
	}
	return mask;
}

/* PCR values of @mask, all banks, into @tpm; 0 or the TPM's error. */
static int tpm_read_pcrs(u32 mask, struct pcr_values *tpm)
{
	struct tpm_digest d;
	int pcr, i, err;

	for (pcr = 0; pcr < IMASNAP_NR_PCRS; pcr++) {
		if (!(mask & BIT(pcr)))
			continue;
		for (i = 0; i < snap.banks.nr; i++) {
			if (!snap.banks.bank[i].available)
				continue;
			d.alg_id = snap.banks.bank[i].alg_id;
			tpm_command_check();
			err = tpm_pcr_read(*ima.tpm_chip, pcr, &d);
			if (err)
				return err;
			memcpy(tpm->value[pcr][i], d.digest,
			       snap.banks.bank[i].digest_size);
		}
	}
	tpm->mask = mask;
	return 0;
}

/* The list's last entry, with every PCR extend for it and before it done. */
static struct list_head *list_tail(void)
{
	struct list_head *tail;
	/* IMA adds to the list and extends the PCR in one hold of its mutex */
	u64 start = list_lock();

	tail = ima.measurements->prev;
	list_unlock(HOLD_TAIL, start);
	return tail;
}

#define TPM_READ_TRIES 10

/*
 * The TPM's values of the PCRs that @base or the entries from @start to the
 * list's tail name, and that tail (*@tail), taken at one moment: between two
 * looks at the tail under IMA's mutex that found it unchanged, no entry was
 * added and so no PCR extended. The TPM is read outside the mutex (up to
 * 24 PCRs x 4 banks of commands must not stall measurements): a measurement
 * meanwhile means reading again, at most TPM_READ_TRIES times, then once
 * under the mutex.
 */
static int tpm_read_at_tail(const struct pcr_values *base,
			    struct list_head *start, struct pcr_values *tpm,
			    struct list_head **tail)
{
	struct list_head *seen = NULL, *now;
	u32 mask = base->mask;
	int try, err;

	for (try = 0; try < TPM_READ_TRIES; try++) {
		now = list_tail();
		mask |= pcrs_named(seen ? seen->next : start, now);
		seen = now;
		err = tpm_read_pcrs(mask, tpm);
		if (err)
			return err;
		if (list_tail() == now) {
			*tail = now;
			return 0;
		}
	}
	/*
	 * IMA measures without a pause (a steady writer under a slow TPM): a
	 * load or rebase must not fail for that. Once, read holding its mutex,
	 * in IMA's own lock order (list mutex, then the TPM): measurements
	 * wait for these few PCR reads, as they wait for each other's extend.
	 */
	pr_info("IMA kept measuring while the TPM was read (%d tries): reading it once more with measurements held\n",
		TPM_READ_TRIES);
	mutex_lock(ima.extend_list_mutex);
	now = ima.measurements->prev;
	mask |= pcrs_named(seen->next, now);
	err = tpm_read_pcrs(mask, tpm);
	mutex_unlock(ima.extend_list_mutex);
	if (!err)
		*tail = now;
	return err;
}

/*
 * Replays the list from @start (a ->later node, or the list head for none)
 * on, beginning at @base, and compares the result with the TPM, in every PCR
 * that @base or an entry names and in every bank. The TPM's values and the
 * list's last entry are taken at one moment (tpm_read_at_tail); the replay
 * runs without IMA's mutex (entries are not removed while snap.lock is held).
 * Returns 0 on a match, -EBADMSG on a mismatch (reported with @warn), or the
 * error that kept it from checking.
 */
int list_matches_tpm(const struct pcr_values *base, struct list_head *start,
		     bool warn)
{
	struct pcr_values *tpm, *replay;
	struct list_head *tail, *pos;
	int pcr, i, err = -ENOMEM;
	u64 n = 0;

	lockdep_assert_held(&snap.lock);
	if (!*ima.tpm_chip || !snap.banks.nr)
		return -ENODEV;
	tpm = kzalloc(sizeof(*tpm), GFP_KERNEL);
	replay = kmemdup(base, sizeof(*base), GFP_KERNEL);
	if (!tpm || !replay)
		goto out;

	err = tpm_read_at_tail(base, start, tpm, &tail);
	if (err)
		goto out;

	for (pos = start; pos != ima.measurements; pos = pos->next) {
		err = pcr_replay_entry(&snap.banks, replay,
				       list_entry(pos, struct ima_queue_entry,
						  later)->entry);
		if (err)
			goto out;
		if (pos == tail)
			break;
		if (!(++n % 1024))
			cond_resched();
	}
	for (pcr = 0; pcr < IMASNAP_NR_PCRS; pcr++) {
		if (!(tpm->mask & BIT(pcr)))
			continue;
		for (i = 0; i < snap.banks.nr; i++) {
			const struct pcr_bank *b = &snap.banks.bank[i];

			if (!b->available ||
			    !memcmp(replay->value[pcr][i], tpm->value[pcr][i],
				    b->digest_size))
				continue;
			/*
			 * Notice, not warning: every kexec into a kernel that
			 * does not carry the list (Debian's) starts here, and
			 * the loader's rebase then makes the list whole.
			 */
			if (warn)
				pr_notice("PCR %d %s: replaying the list from its base values gives %*phN, the TPM has %*phN: expected after a kexec that did not carry the list over, until imasnap-load rebases it; otherwise a TPM extend failed and verification of this list will fail\n",
					pcr, bank_name(b), b->digest_size,
					replay->value[pcr][i], b->digest_size,
					tpm->value[pcr][i]);
			err = -EBADMSG;
		}
	}
out:
	kfree(tpm);
	kfree(replay);
	return err;
}

/*
 * At load: the recovered base values must replay the list to the TPM. A
 * mismatch is reported, not fatal: a kexec that did not carry the list over
 * leaves the list short of the PCRs' history until the loader rebases it.
 */
static void verify_against_tpm(void)
{
	int err = list_matches_tpm(snap.base, ima.measurements->next, true);

	if (!err)
		pr_info("the list replays from its base values to the TPM's values\n");
	else if (err != -EBADMSG && err != -ENODEV)
		pr_warn("cannot check the list against the TPM (%d)\n", err);
}

/* Whether IMA's hash table holds @qe: its bucket, walked by node address. */
static bool entry_hashed(struct ima_queue_entry *qe)
{
	const u8 *digest = qe->entry->digests[*ima.hash_algo_idx].digest;
	struct hlist_node *node;
	bool found = false;

	rcu_read_lock();
	for (node = rcu_dereference(hlist_first_rcu(
			ima_hash_bucket(digest)));
	     node; node = rcu_dereference(hlist_next_rcu(node))) {
		if (node == &qe->hnext) {
			found = true;
			break;
		}
	}
	rcu_read_unlock();
	return found;
}

/* Leading entries from @qe on that are not hashed, up to the first that is. */
static u64 unhashed_from(struct ima_queue_entry *qe,
			 struct ima_queue_entry **last)
{
	u64 n = 0;

	*last = NULL;
	for (; &qe->later != ima.measurements;
	     qe = list_entry_rcu(qe->later.next, struct ima_queue_entry,
				 later)) {
		if (entry_hashed(qe))
			break;
		*last = qe;
		if (!(++n % 1024))
			cond_resched();
	}
	return n;
}

/*
 * How many of the list's first entries are not in IMA's hash table. Entries
 * carried over kexec are added unhashed (ima_restore_measurement_entry) at
 * init, before this kernel's boot_aggregate; every entry this kernel adds
 * later is hashed in the same hold of IMA's mutex that lists it: so the
 * unhashed entries are a prefix of the list, and whether one is hashed
 * never changes while this helper holds snap.lock. The buckets are walked
 * without IMA's mutex; only an entry being added right then can look
 * unhashed for a moment, so the last one counted is checked again under it.
 */
u64 count_unhashed(void)
{
	struct ima_queue_entry *last;
	u64 n, start;

	lockdep_assert_held(&snap.lock);
	if (IS_ENABLED(CONFIG_IMA_DISABLE_HTABLE))
		return 0;	/* nothing hashed, nothing to unhash */
	n = unhashed_from(list_entry_rcu(ima.measurements->next,
					 struct ima_queue_entry, later), &last);
	if (!n)
		return 0;
	start = list_lock();
	if (entry_hashed(last))	/* rare: count again, undisturbed */
		n = unhashed_from(list_first_entry(ima.measurements,
						   struct ima_queue_entry,
						   later), &last);
	list_unlock(HOLD_UNHASHED, start);
	return n;
}

struct recovery {
	struct aggregate scratch;
	struct aggregate last;	/* the last record that decoded */
	u64 last_pos;		/* its position in the list */
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
	r->last_pos = r->entries - 1;
	r->found = true;
}

/*
 * Whether the last record describes the list's first entry @first. HEAD_SET:
 * by its digest (zero for a violation). Otherwise its trim removed every
 * entry listed: the first entry is the record itself, or a measurement that
 * landed before it, and then the list from there replays from the record's
 * base values to the TPM.
 */
static bool record_describes_head(const struct recovery *r,
				  struct ima_queue_entry *first)
{
	int err;

	if (r->last.flags & AGG_HEAD_SET)
		return !memcmp(r->last.head, entry_sha1(first->entry),
			       SHA1_DIGEST_SIZE);
	if (r->last_pos == 0)
		return true;
	err = list_matches_tpm(r->last.base, &first->later, false);
	if (err)
		pr_err("the last snapshot_aggregate is entry %llu of the list; replaying the list from its base values to the TPM %s (%d)\n",
		       r->last_pos,
		       err == -EBADMSG ? "does not match" : "was not possible",
		       err);
	return !err;
}

int recover_state(void)
{
	struct ima_queue_entry *qe, *first, *seen = NULL;
	struct recovery r = {};
	long since_boot;
	u64 trimmed, start;
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
	start = list_lock();
	for (qe = list_entry_rcu(seen->later.next, struct ima_queue_entry,
				 later);
	     &qe->later != ima.measurements;
	     qe = list_entry_rcu(qe->later.next, struct ima_queue_entry,
				 later))
		consider(&r, qe->entry);
	since_boot = ima_listed_since_boot();
	list_unlock(HOLD_RECOVER, start);

	err = -EINVAL;
	if (since_boot < 0 || r.entries > since_boot) {
		pr_err("IMA counts %ld measurements but its list holds %llu entries; refusing to load\n",
		       since_boot, r.entries);
		goto out;
	}
	trimmed = since_boot - r.entries;
	snap.unhashed = count_unhashed();
	/*
	 * On 7.x the helper computes buckets in an array IMA allocates; the
	 * newest entry is always hashed, so not finding it means the helper's
	 * idea of the table is wrong, and trims would leave freed entries in it.
	 */
	if (!IMASNAP_HAS_H_TABLE && !IS_ENABLED(CONFIG_IMA_DISABLE_HTABLE) &&
	    r.entries && snap.unhashed == r.entries) {
		pr_err("IMA's hash table does not hold its newest entry where the helper looks (the 7.x table differs from what the helper was built for); refusing to load\n");
		goto out;
	}
	snap.stats = (struct list_stats){};
	snap.stats_last = NULL;
	if (snap.unhashed)
		pr_info("the list's first %llu entries were carried over kexec (not in IMA's hash table)\n",
			snap.unhashed);

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

	if (!record_describes_head(&r, first)) {
		pr_err("the last snapshot_aggregate in IMA's list (%llu trimmed) does not describe the list's first entry (%llu entries removed); refusing to load rather than guess the base PCR values\n",
		       r.last.trimmed, trimmed);
		goto out;
	}
	/*
	 * The record counts in the epoch, and this kernel's entries may have
	 * begun before it (a new epoch at a cut, rebase with C = 0): fewer
	 * than were removed is no contradiction, and the u64 wraps below zero.
	 */
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
