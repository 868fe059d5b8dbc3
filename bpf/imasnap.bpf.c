// SPDX-License-Identifier: GPL-2.0-only
/*
 * Capture of IMA measurements.
 *
 * ima_add_digest_entry() runs under ima_extend_list_mutex and is the one
 * place every entry enters the kernel's list, so an fexit program on it sees
 * entries in exactly the order IMA extends the PCR (ima_add_template_entry
 * returns after the mutex is released, where two measurements can overtake
 * each other). Each event carries IMA's count of entries minus one, read
 * under that mutex: the entry's index among all entries since boot, which
 * lets the loader spot any gap (ring full, missed run) and fill it from the
 * kernel's list.
 *
 * One object for every supported kernel (CO-RE): up to 6.12 that count is
 * ima_htable.len (struct ima_h_table); 7.x replaced the struct with a bare
 * hash table pointer and per-list counters, ima_num_records[BINARY__LAST],
 * whose BINARY slot ima_add_digest_entry increments.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "imasnap.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * IMA globals that are not in BTF; libbpf resolves them from kallsyms. Weak:
 * each kernel has only one of the two counters.
 */
extern const void ima_htable __ksym __weak;
extern const void ima_num_records __ksym __weak;
extern const void ima_sha1_idx __ksym;
extern const void ima_extra_slots __ksym;
extern const void ima_tpm_chip __ksym;

/* Sized by the loader (--ring-size) before load */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} ring SEC(".maps");

/*
 * An event is built here and then copied into the ring at its real size.
 * The spare half lets the verifier accept copies at masked offsets.
 */
struct scratch {
	struct imasnap_event ev;
	unsigned char spare[IMASNAP_DATA_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

/* Counters the loader reports; asserted by the tests */
__u64 events_sent;
__u64 events_dropped;
__u64 events_truncated;

static int read_int(const void *kaddr)
{
	int val = 0;

	bpf_probe_read_kernel(&val, sizeof(val), kaddr);
	return val;
}

/* enum binary_lists of 7.x (security/integrity/ima/ima.h): the live list */
#define IMA_BINARY_LIST 0

/* How many entries IMA added since boot (the helper's trims do not count down) */
static long entries_since_boot(void)
{
	long count = 0;

	if (bpf_core_type_exists(struct ima_h_table)) {
		struct ima_h_table *htable = (struct ima_h_table *)&ima_htable;

		return BPF_CORE_READ(htable, len.counter);
	}
	bpf_probe_read_kernel(&count, sizeof(count),
			      (const long *)&ima_num_records + IMA_BINARY_LIST);
	return count;
}

static void copy_banks(struct imasnap_event *ev, struct ima_template_entry *entry)
{
	struct tpm_chip *chip = NULL;
	struct tpm_digest *digests;
	unsigned int nr, i;

	/* entry->digests has NR_BANKS(ima_tpm_chip) + ima_extra_slots slots */
	bpf_probe_read_kernel(&chip, sizeof(chip), &ima_tpm_chip);
	nr = chip ? BPF_CORE_READ(chip, nr_allocated_banks) : 0;
	nr += read_int(&ima_extra_slots);
	if (nr > IMASNAP_MAX_BANKS)
		nr = IMASNAP_MAX_BANKS;
	ev->nr_banks = nr;
	ev->sha1_slot = read_int(&ima_sha1_idx);
	digests = BPF_CORE_READ(entry, digests);
	for (i = 0; i < IMASNAP_MAX_BANKS && i < nr; i++)
		bpf_probe_read_kernel(&ev->bank[i], sizeof(ev->bank[i]), &digests[i]);
}

/* Copies every field as "u32 len | bytes"; returns false if they do not fit */
static bool copy_fields(struct imasnap_event *ev, struct ima_template_entry *entry,
			int num_fields)
{
	struct ima_field_data field;
	__u32 off = 0;
	int i;

	for (i = 0; i < IMASNAP_MAX_FIELDS && i < num_fields; i++) {
		if (bpf_core_read(&field, sizeof(field), &entry->template_data[i]))
			return false;
		if (field.len > IMASNAP_DATA_MAX - 4 ||
		    off + 4 + field.len > IMASNAP_DATA_MAX)
			return false;
		__builtin_memcpy(&ev->data[off & (IMASNAP_DATA_MAX - 1)],
				 &field.len, 4);
		off += 4;
		if (bpf_probe_read_kernel(&ev->data[off & (IMASNAP_DATA_MAX - 1)],
					  field.len & (IMASNAP_DATA_MAX - 1),
					  field.data))
			return false;
		off += field.len;
	}
	ev->data_len = off;
	return true;
}

static void copy_name(struct imasnap_event *ev, struct ima_template_desc *desc)
{
	const char *name = BPF_CORE_READ(desc, name);
	long len;

	/* Custom templates have an empty name; IMA then logs their format */
	len = bpf_probe_read_kernel_str(ev->name, sizeof(ev->name), name);
	if (len <= 1)
		len = bpf_probe_read_kernel_str(ev->name, sizeof(ev->name),
						BPF_CORE_READ(desc, fmt));
	if (len < 0 || len >= (long)sizeof(ev->name))
		ev->flags |= IMASNAP_EV_TRUNCATED;
}

SEC("fexit/ima_add_digest_entry")
int BPF_PROG(capture_entry, struct ima_template_entry *entry, bool update_htable,
	     int ret)
{
	struct ima_template_desc *desc;
	struct imasnap_event *ev;
	__u32 zero = 0;
	__u64 size;

	if (ret)
		return 0;
	/* fill: a per-CPU scratch event, since events exceed the stack */
	ev = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!ev)
		goto drop;	/* cannot happen for a 1-entry array; counted if it does */
	ev->seq = entries_since_boot() - 1;
	ev->pcr = BPF_CORE_READ(entry, pcr);
	ev->flags = 0;
	ev->template_data_len = BPF_CORE_READ(entry, template_data_len);
	desc = BPF_CORE_READ(entry, template_desc);
	copy_name(ev, desc);
	copy_banks(ev, entry);
	if (!copy_fields(ev, entry, BPF_CORE_READ(desc, num_fields))) {
		ev->flags |= IMASNAP_EV_TRUNCATED;
		ev->data_len = 0;
	}
	if (ev->flags & IMASNAP_EV_TRUNCATED)
		__sync_fetch_and_add(&events_truncated, 1);

	/* submit: copy the used part into the ring; a full ring is a drop */
	size = ev->data_len;
	if (size > IMASNAP_DATA_MAX)
		goto drop;
	size += __builtin_offsetof(struct imasnap_event, data);
	if (bpf_ringbuf_output(&ring, ev, size, 0))
		goto drop;
	__sync_fetch_and_add(&events_sent, 1);
	return 0;
drop:
	/* every entry that does not reach the ring is a drop the loader repairs */
	__sync_fetch_and_add(&events_dropped, 1);
	return 0;
}
