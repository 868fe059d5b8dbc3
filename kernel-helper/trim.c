// SPDX-License-Identifier: GPL-2.0-only
/*
 * Trimming the head of IMA's measurement list.
 *
 * Only IMA appends to the list (at its tail, under ima_extend_list_mutex) and
 * only this helper removes from it (at its head, under snap.lock), so while a
 * trim holds snap.lock the first N entries cannot change or go away: the
 * helper walks them without IMA's mutex, and takes the mutex only to unlink
 * entries, a bounded batch at a time.
 *
 * Order of a trim, each step only once the previous one succeeded:
 *  1. find entry N and compare its SHA-1 template digest (-ERANGE, -ESTALE);
 *  2. replay entries 1..N into a copy of the base PCR values (a rebase
 *     instead brings its own values, checked against the TPM: -EBADMSG);
 *  3. wait for readers of the list files to close them, and take the kexec
 *     lock on CONFIG_IMA_KEXEC kernels (-EBUSY);
 *  4. append the snapshot_aggregate entry through IMA (extends the PCR);
 *  5. unlink entries 1..N from the list and the hash table, in batches;
 *  6. let readers in again, wait for an RCU grace period, free the entries.
 * Steps 1-4 change nothing when they fail; step 5 cannot fail.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ktime.h>
#include <linux/rculist.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "imasnap.h"

struct imasnap_state snap;

/*
 * The list is walked without IMA's mutex: entries are never freed while
 * snap.lock is held, and IMA publishes new ones with list_add_tail_rcu.
 */
#define for_each_entry_from(qe, start)					\
	for (qe = (start); &qe->later != ima.measurements;		\
	     qe = list_entry_rcu(qe->later.next, struct ima_queue_entry, later))
static struct ima_queue_entry *list_head_entry(void)
{
	return list_entry_rcu(ima.measurements->next, struct ima_queue_entry,
			      later);
}

/* Bytes of @entry in binary_runtime_measurements (ima_measurements_show). */
u32 entry_binary_size(const struct ima_template_entry *entry)
{
	const struct ima_template_desc *desc = entry->template_desc;
	const char *name = desc->name[0] ? desc->name : desc->fmt;
	u32 size = sizeof(u32) + TPM_DIGEST_SIZE + sizeof(u32) + strlen(name);
	int i;

	if (strcmp(name, "ima"))
		return size + sizeof(u32) + entry->template_data_len;
	/* the legacy template: no data length, no "d" length, "n" as string */
	for (i = 0; i < desc->num_fields; i++) {
		const struct ima_field_data *f = &entry->template_data[i];

		if (!strcmp(desc->fields[i]->field_id, "d"))
			size += f->len;
		else if (!strcmp(desc->fields[i]->field_id, "n"))
			size += sizeof(u32) + strnlen(f->data, f->len);
		else
			size += sizeof(u32) + f->len;
	}
	return size;
}

/*
 * Kernel memory the entry holds, all of it freed by a trim: the queue entry
 * (with its hash-table node), the template entry, its digests and each
 * field's data (ima_api.c, ima_template_lib.c, ima_queue.c: one kmalloc
 * each). ksize(): what the slab gives, not what was asked for.
 */
size_t entry_kmem(const struct ima_queue_entry *qe)
{
	const struct ima_template_entry *e = qe->entry;
	size_t size = ksize(qe) + ksize(e) + ksize(e->digests);
	int i;

	for (i = 0; i < e->template_desc->num_fields; i++)
		size += ksize(e->template_data[i].data);
	return size;
}

/*
 * The state file's count of the list. Any user may read it, under snap.lock:
 * walk only the entries added since the last read, from the last one counted
 * (a trim keeps the cache right, see stats_trimmed()).
 */
void list_stats(struct list_stats *stats)
{
	struct ima_queue_entry *qe = snap.stats_last;
	u64 n = 0;

	lockdep_assert_held(&snap.lock);
	qe = qe ? list_entry_rcu(qe->later.next, struct ima_queue_entry, later) :
		  list_head_entry();
	for_each_entry_from(qe, qe) {
		snap.stats.entries++;
		snap.stats.bytes += entry_binary_size(qe->entry);
		snap.stats.kmem += entry_kmem(qe);
		snap.stats_last = qe;
		if (!(++n % 4096))
			cond_resched();
	}
	*stats = snap.stats;
}

/*
 * @removed (@n entries from the head) left the list: the cache keeps counting
 * what is left, or, if it had not reached past the cut, starts again.
 */
static void stats_trimmed(const struct list_stats *removed)
{
	if (snap.stats.entries <= removed->entries) {
		snap.stats = (struct list_stats){};
		snap.stats_last = NULL;
		return;
	}
	snap.stats.entries -= removed->entries;
	snap.stats.bytes -= removed->bytes;
	snap.stats.kmem -= removed->kmem;
}

/*
 * Unlink @qe from IMA's hash table (under IMA's mutex) if it is there: the
 * list's first snap.unhashed entries, carried over kexec, never were (and
 * their hnext was never initialized), every later one was, unless the
 * kernel keeps no table at all.
 */
static void htable_remove(struct ima_queue_entry *qe)
{
	if (snap.unhashed) {
		snap.unhashed--;
		return;
	}
	if (!IS_ENABLED(CONFIG_IMA_DISABLE_HTABLE))
		hlist_del_rcu(&qe->hnext);
}

/* IMA's own size bookkeeping (ima_queue.c: get_binary_runtime_size). */
static void runtime_size_remove(const struct ima_template_entry *entry)
{
	unsigned long size;

	if (*ima.binary_runtime_size == ULONG_MAX)
		return;	/* not tracked (no CONFIG_IMA_KEXEC), or saturated */
	size = sizeof(u32) + TPM_DIGEST_SIZE + sizeof(int) +
	       strlen(entry->template_desc->name) +
	       sizeof(entry->template_data_len) + entry->template_data_len;
	*ima.binary_runtime_size -= min(size, *ima.binary_runtime_size);
}

/* A batch ends after trim_hold_us; the clock is read every few entries. */
#define HOLD_CHECK_EVERY 4

/*
 * Unlinks the first @n entries, which start with @first, holding IMA's mutex
 * for at most trim_hold_us (and trim_batch entries) at a time: the bound is
 * time, so that it holds however slow the machine (emulation, cache misses).
 * Between batches IMA may only have appended at the tail; the head is
 * checked again at each entry. Unlinked entries keep their ->later.next, so
 * they stay chained for free_entries().
 */
static u64 unlink_entries(struct ima_queue_entry *first, u64 n)
{
	struct ima_queue_entry *qe, *expect = first;
	unsigned int batch = clamp(READ_ONCE(trim_batch), 1U, 4096U), i;
	u64 hold_ns = clamp(READ_ONCE(trim_hold_us), 1U, 100000U) * NSEC_PER_USEC;
	u64 done = 0, start;

	while (done < n) {
		start = list_lock();
		for (i = 0; i < batch && done < n; i++, done++) {
			if (i && !(i % HOLD_CHECK_EVERY) &&
			    ktime_get_ns() - start >= hold_ns)
				break;
			qe = list_first_entry(ima.measurements,
					      struct ima_queue_entry, later);
			/* only this helper removes entries: cannot happen */
			if (WARN_ON_ONCE(qe != expect)) {
				list_unlock(HOLD_TRIM, start);
				return done;
			}
			expect = list_entry(qe->later.next,
					    struct ima_queue_entry, later);
			list_del_rcu(&qe->later);
			htable_remove(qe);
			runtime_size_remove(qe->entry);
		}
		list_unlock(HOLD_TRIM, start);
		cond_resched();
	}
	return done;
}

static void free_entries(struct ima_queue_entry *qe, u64 n)
{
	struct ima_queue_entry *next;
	u64 i;

	/* IMA's hash lookups walk buckets under rcu_read_lock() */
	synchronize_rcu();
	for (i = 0; i < n; i++, qe = next) {
		next = list_entry(qe->later.next, struct ima_queue_entry,
				  later);
		ima.free_template_entry(qe->entry);
		kfree(qe);
		if (!(i % 1024))
			cond_resched();
	}
}

/*
 * With CONFIG_IMA_KEXEC, kexec_file_load() copies the list for the next
 * kernel (ima_dump_measurement_list) without IMA's mutex, under the kexec
 * lock: hold that lock while entries are unlinked.
 */
static bool kexec_block(u64 *start)
{
	*start = ktime_get_ns();
	return !IS_ENABLED(CONFIG_IMA_KEXEC) ||
	       atomic_cmpxchg_acquire(ima.kexec_lock, 0, 1) == 0;
}

static void kexec_unblock(u64 start)
{
	if (!IS_ENABLED(CONFIG_IMA_KEXEC))
		return;
	hold_record(HOLD_KEXEC, start);
	atomic_set_release(ima.kexec_lock, 0);
}

static int append_aggregate(const struct aggregate *agg)
{
	size_t len;
	void *buf = aggregate_encode(&snap.banks, agg, &len);
	u64 start;
	int err;

	if (!buf)
		return -ENOMEM;
	/* no hook: no policy lookup, always measured into this PCR */
	start = ktime_get_ns();
	err = ima.process_buffer_measurement(NULL, NULL, buf, len,
					     IMASNAP_EVENT_NAME, IMA_HOOK_NONE,
					     CONFIG_IMA_MEASURE_PCR_IDX, NULL,
					     false, NULL, 0);
	hold_record(HOLD_APPEND, start);
	kfree(buf);
	if (err == -ENOENT || err == 1) {
		/* IMA measures nothing at all: its policy is empty */
		pr_err("IMA did not record the snapshot_aggregate (empty IMA policy); trim refused, nothing changed\n");
		return -ENOENT;
	}
	if (err)
		pr_err("IMA could not record the snapshot_aggregate (%d); trim refused, nothing changed\n",
		       err);
	return err;
}

/*
 * Cuts the first @n entries (the n-th has SHA-1 @digest; none for n = 0) and
 * appends the snapshot_aggregate for the new head. Without @rebase the new
 * base values are the old ones with the cut entries replayed into them; with
 * it they are rebase->base, accepted only if replaying the rest of the list
 * from them gives the TPM's values, and rebase->count entries of the epoch
 * come before the new head.
 */
static int cut_list(u64 n, const u8 digest[SHA1_DIGEST_SIZE],
		    const struct rebase *rebase)
{
	struct ima_queue_entry *qe, *first, *last = NULL;
	struct list_stats removed = {};
	struct aggregate agg = {};
	struct list_head *after;
	u64 i = 0, unlinked, kexec_start;
	int err;

	lockdep_assert_held(&snap.lock);
	if (snap.suspended)
		return -ESHUTDOWN;

	/* 1. entry N and its digest */
	first = list_head_entry();
	if (n) {
		for_each_entry_from(qe, first) {
			removed.bytes += entry_binary_size(qe->entry);
			removed.kmem += entry_kmem(qe);
			if (++i == n) {
				last = qe;
				break;
			}
			if (!(i % 4096))
				cond_resched();
		}
		if (!last)
			return -ERANGE;
		if (memcmp(entry_sha1(last->entry), digest, SHA1_DIGEST_SIZE))
			return -ESTALE;
	}
	after = last ? READ_ONCE(last->later.next) : &first->later;
	/* C = 0 begins a new epoch at the new head; otherwise C counts the cut */
	if (rebase && rebase->count && rebase->count < snap.trimmed + n)
		return -EINVAL;

	/* 2. base values at the cut, and the record that carries them */
	agg.base = kmemdup(rebase ? rebase->base : snap.base,
			   sizeof(*snap.base), GFP_KERNEL);
	if (!agg.base)
		return -ENOMEM;
	if (rebase) {
		err = list_matches_tpm(agg.base, after, false);
		if (err)
			goto out;
	} else {
		i = 0;
		for_each_entry_from(qe, first) {
			err = pcr_replay_entry(&snap.banks, agg.base, qe->entry);
			if (err)
				goto out;
			if (qe == last)
				break;
			if (!(++i % 1024))
				cond_resched();
		}
	}
	memcpy(agg.epoch, snap.epoch, sizeof(agg.epoch));
	agg.trimmed = rebase ? rebase->count :
			       snap.trimmed_before + snap.trimmed + n;
	/*
	 * The new head, if one was listed already: its digest (zero for a
	 * violation). Otherwise the new head is the first entry listed after
	 * the cut: this record, or a measurement that lands before it.
	 */
	if (after != ima.measurements) {
		agg.flags = AGG_HEAD_SET;
		memcpy(agg.head, entry_sha1(list_entry(after,
				struct ima_queue_entry, later)->entry),
		       SHA1_DIGEST_SIZE);
	}

	/* 3. no reader may hold an entry pointer or a position */
	err = readers_block(READ_ONCE(reader_wait_ms));
	if (err)
		goto out;

	if (!kexec_block(&kexec_start)) {
		readers_unblock();
		pr_info("trim refused: a kexec image is being loaded; nothing changed, retry\n");
		err = -EBUSY;
		goto out;
	}

	/* 4. the record goes in first: if IMA refuses it, nothing changed */
	err = append_aggregate(&agg);
	if (err) {
		kexec_unblock(kexec_start);
		readers_unblock();
		goto out;
	}

	/* 5. cannot fail */
	unlinked = unlink_entries(first, n);
	kexec_unblock(kexec_start);
	readers_unblock();

	/* 6. */
	if (unlinked)
		free_entries(first, unlinked);
	snap.trimmed += unlinked;
	removed.entries = unlinked;
	if (unlinked != n)	/* cannot happen (WARN above): count again */
		removed.entries = ~0ULL;
	stats_trimmed(&removed);
	/*
	 * The head's epoch index is trimmed_before + trimmed. For a new epoch
	 * (C = 0) this kernel's earlier entries come before the epoch: the u64
	 * wraps below zero, and every sum with it wraps back.
	 */
	if (rebase)
		snap.trimmed_before = rebase->count - snap.trimmed;
	swap(snap.base, agg.base);
	cut_counted(rebase != NULL);
	pr_debug("trimmed %llu entries (%llu so far); snapshot_aggregate appended\n",
		 unlinked, snap.trimmed);
out:
	kfree(agg.base);
	return err;
}

/*
 * A trim that names the head's epoch index (H) acts only on the list its
 * writer read: counts and digests alone are not unique.
 */
int trim_entries(const struct trim_cmd *t)
{
	lockdep_assert_held(&snap.lock);
	if (t->head_given && t->head != head_index())
		return -ESTALE;
	return cut_list(t->n, t->digest, NULL);
}

int rebase_entries(u64 n, const u8 digest[SHA1_DIGEST_SIZE],
		   const struct rebase *rebase)
{
	int err = cut_list(n, digest, rebase);

	if (!err)
		pr_info("rebased: %llu carried entries cut, %llu entries of this epoch before the list\n",
			n, rebase->count);
	return err;
}
