// SPDX-License-Identifier: GPL-2.0-only
/*
 * Load-time check of the helper's view of IMA against the running kernel's
 * own BTF (the data behind /sys/kernel/btf/vmlinux): the size and member
 * offsets of every private IMA type it dereferences, and the prototypes of
 * the unexported IMA functions it calls. Any difference, or a type or
 * function missing from BTF, makes the module refuse to load.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/btf.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "imasnap.h"

struct btf_index {
	const struct btf_header *hdr;
	const char *strings;
	u32 str_len;
	const struct btf_type **types;	/* by type id; [0] is void */
	u32 nr_types;
};

static const char *btf_str(const struct btf_index *btf, u32 off)
{
	return off < btf->str_len ? btf->strings + off : "";
}

/* Bytes that follow struct btf_type for each kind (uapi/linux/btf.h). */
static long btf_type_extra(const struct btf_type *t)
{
	u16 vlen = btf_type_vlen(t);

	switch (BTF_INFO_KIND(t->info)) {
	case BTF_KIND_INT:
		return sizeof(u32);
	case BTF_KIND_ARRAY:
		return sizeof(struct btf_array);
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		return vlen * sizeof(struct btf_member);
	case BTF_KIND_ENUM:
		return vlen * sizeof(struct btf_enum);
	case BTF_KIND_FUNC_PROTO:
		return vlen * sizeof(struct btf_param);
	case BTF_KIND_VAR:
		return sizeof(struct btf_var);
	case BTF_KIND_DATASEC:
		return vlen * sizeof(struct btf_var_secinfo);
	case BTF_KIND_DECL_TAG:
		return sizeof(struct btf_decl_tag);
	case BTF_KIND_ENUM64:
		return vlen * sizeof(struct btf_enum64);
	case BTF_KIND_PTR:
	case BTF_KIND_FWD:
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_FUNC:
	case BTF_KIND_FLOAT:
	case BTF_KIND_TYPE_TAG:
		return 0;
	default:
		return -1;
	}
}

static int btf_index_build(struct btf_index *btf)
{
	const u8 *start = ima.btf_start, *end = ima.btf_end;
	const struct btf_header *hdr = (const void *)start;
	const u8 *p, *types_end;
	u32 n;
	int pass;

	if (end - start < (long)sizeof(*hdr) || hdr->magic != BTF_MAGIC ||
	    hdr->hdr_len < sizeof(*hdr) ||
	    (u64)hdr->hdr_len + hdr->type_off + hdr->type_len > end - start ||
	    (u64)hdr->hdr_len + hdr->str_off + hdr->str_len > end - start) {
		pr_err("the kernel's BTF (__start_BTF) has no valid header; refusing to load\n");
		return -EINVAL;
	}
	btf->hdr = hdr;
	btf->strings = (const char *)start + hdr->hdr_len + hdr->str_off;
	btf->str_len = hdr->str_len;
	types_end = start + hdr->hdr_len + hdr->type_off + hdr->type_len;

	/* pass 0 counts the types, pass 1 indexes them */
	for (pass = 0; pass < 2; pass++) {
		p = start + hdr->hdr_len + hdr->type_off;
		for (n = 1; p < types_end; n++) {
			const struct btf_type *t = (const void *)p;
			long extra;

			if (types_end - p < (long)sizeof(*t))
				goto corrupt;
			extra = btf_type_extra(t);
			if (extra < 0 ||
			    types_end - p < (long)sizeof(*t) + extra)
				goto corrupt;
			if (pass)
				btf->types[n] = t;
			p += sizeof(*t) + extra;
		}
		if (!pass) {
			btf->nr_types = n;
			btf->types = kvcalloc(n, sizeof(*btf->types),
					      GFP_KERNEL);
			if (!btf->types)
				return -ENOMEM;
		}
	}
	return 0;
corrupt:
	pr_err("cannot parse the kernel's BTF (unknown kind or truncated type %u); refusing to load\n",
	       n);
	kvfree(btf->types);
	btf->types = NULL;
	return -EINVAL;
}

static const struct btf_type *btf_find(const struct btf_index *btf, u32 kind,
				       const char *name)
{
	u32 id;

	for (id = 1; id < btf->nr_types; id++) {
		const struct btf_type *t = btf->types[id];

		if (BTF_INFO_KIND(t->info) == kind &&
		    !strcmp(btf_str(btf, t->name_off), name))
			return t;
	}
	return NULL;
}

static const struct btf_type *btf_by_id(const struct btf_index *btf, u32 id)
{
	return id && id < btf->nr_types ? btf->types[id] : NULL;
}

/*
 * A C-like spelling of a type, qualifiers dropped and typedefs kept by name:
 * "struct inode *", "size_t", "enum ima_hooks".
 */
static void btf_type_name(const struct btf_index *btf, u32 id, char *buf,
			  size_t size, int depth)
{
	const struct btf_type *t = btf_by_id(btf, id);
	const char *name;
	size_t len;

	if (!id) {
		strscpy(buf, "void", size);
		return;
	}
	if (!t || depth > 8) {
		strscpy(buf, "?", size);
		return;
	}
	name = btf_str(btf, t->name_off);
	switch (BTF_INFO_KIND(t->info)) {
	case BTF_KIND_PTR:
		btf_type_name(btf, t->type, buf, size, depth + 1);
		len = strlen(buf);
		if (len + 2 < size)
			strcpy(buf + len, " *");
		return;
	case BTF_KIND_CONST:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_TYPE_TAG:
		btf_type_name(btf, t->type, buf, size, depth + 1);
		return;
	case BTF_KIND_STRUCT:
		snprintf(buf, size, "struct %s", name);
		return;
	case BTF_KIND_UNION:
		snprintf(buf, size, "union %s", name);
		return;
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
		snprintf(buf, size, "enum %s", name);
		return;
	case BTF_KIND_FWD:
		snprintf(buf, size, "%s %s",
			 btf_type_kflag(t) ? "union" : "struct", name);
		return;
	default:
		strscpy(buf, name, size);
		return;
	}
}

struct member_layout {
	const char *type;
	const char *member;	/* NULL: check the type's size */
	u32 value;		/* size, or offset in bytes */
};

#define SIZE_OF(s) { #s, NULL, sizeof(struct s) }
#define OFFSET_OF(s, m) { #s, #m, offsetof(struct s, m) }
static const struct member_layout layouts[] = {
	SIZE_OF(ima_field_data),
	OFFSET_OF(ima_field_data, data),
	OFFSET_OF(ima_field_data, len),
	SIZE_OF(ima_template_field),
	OFFSET_OF(ima_template_field, field_id),
	OFFSET_OF(ima_template_field, field_init),
	OFFSET_OF(ima_template_field, field_show),
	SIZE_OF(ima_template_desc),
	OFFSET_OF(ima_template_desc, list),
	OFFSET_OF(ima_template_desc, name),
	OFFSET_OF(ima_template_desc, fmt),
	OFFSET_OF(ima_template_desc, num_fields),
	OFFSET_OF(ima_template_desc, fields),
	SIZE_OF(ima_template_entry),
	OFFSET_OF(ima_template_entry, pcr),
	OFFSET_OF(ima_template_entry, digests),
	OFFSET_OF(ima_template_entry, template_desc),
	OFFSET_OF(ima_template_entry, template_data_len),
	OFFSET_OF(ima_template_entry, template_data),
	SIZE_OF(ima_queue_entry),
	OFFSET_OF(ima_queue_entry, hnext),
	OFFSET_OF(ima_queue_entry, later),
	OFFSET_OF(ima_queue_entry, entry),
#ifdef IMASNAP_IMA_H_TABLE
	SIZE_OF(ima_h_table),
	OFFSET_OF(ima_h_table, len),
	OFFSET_OF(ima_h_table, violations),
	OFFSET_OF(ima_h_table, queue),
#endif
	SIZE_OF(tpm_digest),
	OFFSET_OF(tpm_digest, alg_id),
	OFFSET_OF(tpm_digest, digest),
};

static int check_layout(const struct btf_index *btf,
			const struct member_layout *l)
{
	const struct btf_type *t = btf_find(btf, BTF_KIND_STRUCT, l->type);
	const struct btf_member *m;
	u32 i, bits;

	if (!t) {
		pr_err("struct %s is not in the kernel's BTF; refusing to load\n",
		       l->type);
		return -ENOENT;
	}
	if (!l->member) {
		if (t->size == l->value)
			return 0;
		pr_err("struct %s is %u bytes in the kernel's BTF, the helper expects %u: IMA's layout differs from the one the helper was built for; refusing to load\n",
		       l->type, t->size, l->value);
		return -EINVAL;
	}
	m = btf_members(t);
	for (i = 0; i < btf_type_vlen(t); i++, m++) {
		if (strcmp(btf_str(btf, m->name_off), l->member))
			continue;
		bits = btf_type_kflag(t) ? BTF_MEMBER_BIT_OFFSET(m->offset) :
					   m->offset;
		if (bits == l->value * 8)
			return 0;
		pr_err("%s.%s is at bit %u in the kernel's BTF, the helper expects byte %u: IMA's layout differs from the one the helper was built for; refusing to load\n",
		       l->type, l->member, bits, l->value);
		return -EINVAL;
	}
	pr_err("struct %s has no member %s in the kernel's BTF; refusing to load\n",
	       l->type, l->member);
	return -EINVAL;
}

struct function_prototype {
	const char *name;
	const char *ret;
	const char *params[12];	/* NULL-terminated */
};

/* Must agree with the typedefs in ima_private.h. */
static const struct function_prototype prototypes[] = {
	{ "process_buffer_measurement", "int",
	  { IMASNAP_PBM_MAPPING, "struct inode *", "void *", "int",
	    "char *", "enum ima_hooks", "int", "char *", "bool", "u8 *",
	    "size_t", NULL } },
	{ "ima_free_template_entry", "void",
	  { "struct ima_template_entry *", NULL } },
};

static int check_prototype(const struct btf_index *btf,
			   const struct function_prototype *f)
{
	const struct btf_type *func = btf_find(btf, BTF_KIND_FUNC, f->name);
	const struct btf_type *proto;
	const struct btf_param *p;
	char have[64];
	u32 i, n = 0;

	while (f->params[n])
		n++;
	if (!func) {
		pr_err("function %s is not in the kernel's BTF; refusing to load\n",
		       f->name);
		return -ENOENT;
	}
	proto = btf_by_id(btf, func->type);
	if (!proto || BTF_INFO_KIND(proto->info) != BTF_KIND_FUNC_PROTO) {
		pr_err("function %s has no prototype in the kernel's BTF; refusing to load\n",
		       f->name);
		return -EINVAL;
	}
	if (btf_type_vlen(proto) != n) {
		pr_err("%s takes %u arguments in this kernel, the helper expects %u; refusing to load\n",
		       f->name, btf_type_vlen(proto), n);
		return -EINVAL;
	}
	btf_type_name(btf, proto->type, have, sizeof(have), 0);
	if (strcmp(have, f->ret)) {
		pr_err("%s returns %s in this kernel, the helper expects %s; refusing to load\n",
		       f->name, have, f->ret);
		return -EINVAL;
	}
	p = btf_params(proto);
	for (i = 0; i < n; i++, p++) {
		btf_type_name(btf, p->type, have, sizeof(have), 0);
		if (strcmp(have, f->params[i])) {
			pr_err("argument %u of %s is %s in this kernel, the helper expects %s; refusing to load\n",
			       i + 1, f->name, have, f->params[i]);
			return -EINVAL;
		}
	}
	return 0;
}

/* An enum constant the helper passes or indexes with as a plain int */
struct enum_value {
	const char *type;
	const char *name;
	int value;
};

static const struct enum_value enum_values[] = {
	/* process_buffer_measurement(..., NONE, ...): no policy lookup */
	{ "ima_hooks", "NONE", IMA_HOOK_NONE },
#ifndef IMASNAP_IMA_H_TABLE
	/* ima_num_records[BINARY]: the live list's count */
	{ "binary_lists", "BINARY", IMA_BINARY_LIST },
#endif
};

static int check_enum_value(const struct btf_index *btf,
			    const struct enum_value *v)
{
	const struct btf_type *t = btf_find(btf, BTF_KIND_ENUM, v->type);
	const struct btf_enum *e;
	u32 i;

	if (!t) {
		pr_err("enum %s is not in the kernel's BTF; refusing to load\n",
		       v->type);
		return -ENOENT;
	}
	e = btf_enum(t);
	for (i = 0; i < btf_type_vlen(t); i++, e++)
		if (!strcmp(btf_str(btf, e->name_off), v->name) &&
		    e->val == v->value)
			return 0;
	pr_err("enum %s has no %s = %d in this kernel; refusing to load\n",
	       v->type, v->name, v->value);
	return -EINVAL;
}

/*
 * The hash table's form is chosen at build time: a helper built for one
 * refuses a kernel with the other rather than misread IMA's counters.
 */
static int check_htable_form(const struct btf_index *btf)
{
	bool has_struct = btf_find(btf, BTF_KIND_STRUCT, "ima_h_table");

	if (has_struct == IMASNAP_HAS_H_TABLE)
		return 0;
	pr_err("%s; refusing to load\n", has_struct ?
	       "this kernel has struct ima_h_table (IMA up to 6.x), the helper was built for ima_num_records (7.x)" :
	       "this kernel has no struct ima_h_table (IMA's counters are ima_num_records since 7.x), the helper was built for it (up to 6.x)");
	return -EINVAL;
}

int ima_layout_check(void)
{
	struct btf_index btf = {};
	int i, err;

	err = btf_index_build(&btf);
	if (err)
		return err;
	err = check_htable_form(&btf);
	for (i = 0; i < ARRAY_SIZE(layouts) && !err; i++)
		err = check_layout(&btf, &layouts[i]);
	for (i = 0; i < ARRAY_SIZE(prototypes) && !err; i++)
		err = check_prototype(&btf, &prototypes[i]);
	for (i = 0; i < ARRAY_SIZE(enum_values) && !err; i++)
		err = check_enum_value(&btf, &enum_values[i]);
	kvfree(btf.types);
	return err;
}
