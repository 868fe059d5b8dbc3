// SPDX-License-Identifier: GPL-2.0-only
/*
 * Prerequisites on the running kernel. Each check reads what the kernel
 * shows and changes nothing (no mount, no load), so it is safe before
 * install and on a kernel that lacks everything.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/btf.h>

#include "kernel_log.h"
#include "prereq.h"

#define BTF_VMLINUX	"/sys/kernel/btf/vmlinux"
#define CAPTURE_FUNC	"ima_add_digest_entry"
#define MSG_MAX		512

/* Each check fills `why` (what is missing and what to do) and returns false */
struct check {
	unsigned int bit;
	const char *what;
	bool (*run)(char *why, size_t size);
};

static bool ima_present(char *why, size_t size)
{
	static const char *const files[] = {
		"binary_runtime_measurements", "runtime_measurements_count",
	};
	char path[MSG_MAX];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		securityfs_file(path, sizeof(path), "ima", files[i]);
		if (access(path, R_OK)) {
			snprintf(why, size, "cannot read %s: %s (a kernel without CONFIG_IMA, or securityfs not mounted at %s)",
				 path, strerror(errno), securityfs_path());
			return false;
		}
	}
	return true;
}

static bool btf_present(char *why, size_t size)
{
	if (!access(BTF_VMLINUX, R_OK))
		return true;
	snprintf(why, size, "cannot read %s: %s (a kernel without CONFIG_DEBUG_INFO_BTF; the BPF programs need it to adapt to the kernel's types)",
		 BTF_VMLINUX, strerror(errno));
	return false;
}

/* Reads a whole small text file; NULL if it cannot (errno set) */
static char *read_text(const char *path)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "re");
	int c;

	if (!f)
		return NULL;
	text = malloc(MSG_MAX);
	while (text && (c = fgetc(f)) != EOF && len < MSG_MAX - 1)
		text[len++] = (char)c;
	if (text)
		text[len] = '\0';
	fclose(f);
	return text;
}

static bool bpf_lsm_active(char *why, size_t size)
{
	char path[MSG_MAX], *lsms, *list, *tok, *save = NULL;
	bool found = false;

	securityfs_file(path, sizeof(path), "lsm", "");
	lsms = read_text(path);
	if (!lsms) {
		snprintf(why, size, "cannot read %s: %s (securityfs not mounted at %s?)",
			 path, strerror(errno), securityfs_path());
		return false;
	}
	lsms[strcspn(lsms, "\n")] = '\0';
	list = strdup(lsms);	/* strtok_r cuts it; the message shows lsms whole */
	for (tok = list ? strtok_r(list, ",", &save) : NULL; tok && !found;
	     tok = strtok_r(NULL, ",", &save))
		found = !strcmp(tok, "bpf");
	free(list);
	if (!found)
		snprintf(why, size, "\"bpf\" is not among the active LSMs (%s): boot with lsm=%s%sbpf (CONFIG_BPF_LSM); --protect needs it",
			 lsms, lsms, *lsms ? "," : "");
	free(lsms);
	return found;
}

/*
 * Traceable: in tracefs' available_filter_functions where tracefs is
 * mounted; where it is not, the BTF test stands alone (fentry/fexit need
 * the function in BTF and ftrace-able, and IMA's is on every kernel seen).
 */
static bool traceable(const char *func, char *why, size_t size)
{
	static const char *const lists[] = {
		"/sys/kernel/tracing/available_filter_functions",
		"/sys/kernel/debug/tracing/available_filter_functions",
	};
	size_t i, flen = strlen(func), cap = 0;
	char *line = NULL;
	bool found = false;
	FILE *f = NULL;

	for (i = 0; i < sizeof(lists) / sizeof(lists[0]) && !f; i++)
		f = fopen(lists[i], "re");
	if (!f)
		return true;
	while (!found && getline(&line, &cap, f) > 0)
		found = !strncmp(line, func, flen) && (line[flen] == '\n' || line[flen] == ' ');
	free(line);
	fclose(f);
	if (!found)
		snprintf(why, size, "%s is not in %s: ftrace cannot attach to it, so neither can fexit",
			 func, lists[i - 1]);
	return found;
}

static bool fexit_target(char *why, size_t size)
{
	struct btf *btf = btf__load_vmlinux_btf();
	int id;

	if (!btf) {
		snprintf(why, size, "cannot look up %s: the kernel's BTF cannot be read (%s)",
			 CAPTURE_FUNC, strerror(errno));
		return false;
	}
	id = btf__find_by_name_kind(btf, CAPTURE_FUNC, BTF_KIND_FUNC);
	btf__free(btf);
	if (id < 0) {
		snprintf(why, size, "%s is not a function in the kernel's BTF: no fentry/fexit on it (no IMA, or IMA built differently); capture attaches there",
			 CAPTURE_FUNC);
		return false;
	}
	return traceable(CAPTURE_FUNC, why, size);
}

/*
 * The kernel helper finds IMA's list, hash table and mutex through
 * kallsyms; without CONFIG_KALLSYMS_ALL kallsyms lists functions only
 * (and a few section markers), never a local data ('d' or 'b') symbol.
 */
static bool kallsyms_all(char *why, size_t size)
{
	char *line = NULL, type;
	bool found = false;
	size_t cap = 0;
	FILE *f = fopen("/proc/kallsyms", "re");

	if (!f) {
		snprintf(why, size, "cannot read /proc/kallsyms: %s (the kernel helper needs it)",
			 strerror(errno));
		return false;
	}
	while (!found && getline(&line, &cap, f) > 0)
		found = sscanf(line, "%*s %c", &type) == 1 && (type == 'd' || type == 'b');
	free(line);
	fclose(f);
	if (!found)
		snprintf(why, size, "/proc/kallsyms lists no data symbols: a kernel without CONFIG_KALLSYMS_ALL; the kernel helper (trim, snapshot) cannot find IMA's list there");
	return found;
}

unsigned int prereq_check(unsigned int which, bool verbose, FILE *out)
{
	static const struct check checks[] = {
		{ PREREQ_IMA, "IMA", ima_present },
		{ PREREQ_BTF, "BTF", btf_present },
		{ PREREQ_FEXIT, "fexit on " CAPTURE_FUNC, fexit_target },
		{ PREREQ_BPF_LSM, "BPF LSM", bpf_lsm_active },
		{ PREREQ_KALLSYMS_ALL, "KALLSYMS_ALL", kallsyms_all },
	};
	unsigned int missing = 0;
	char why[MSG_MAX];
	size_t i;

	for (i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		if (!(which & checks[i].bit))
			continue;
		/* without BTF the fexit check would only repeat the BTF message */
		if (checks[i].bit == PREREQ_FEXIT && (missing & PREREQ_BTF))
			continue;
		if (checks[i].run(why, sizeof(why))) {
			if (verbose)
				fprintf(out, "ok: %s\n", checks[i].what);
			continue;
		}
		missing |= checks[i].bit;
		fprintf(out, "missing: %s: %s\n", checks[i].what, why);
	}
	return missing;
}
