// SPDX-License-Identifier: GPL-2.0-only
/*
 * The loader's configuration file: `key = value` lines (config.h). Strict on
 * purpose: an unknown key, a key given twice or a value out of range is an
 * error naming the file and line, never a silent default, so a typo cannot
 * leave the store unprotected or somewhere else than the operator meant.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "config.h"
#include "tpm.h"

bool config_ring_size_ok(uint64_t size)
{
	return size >= 4096 && size <= (1ull << 30) && !(size & (size - 1));
}

bool config_group_ok(const char *name)
{
	size_t i, len = strlen(name);

	if (!len || len > CONFIG_GROUP_MAX || !(name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z')))
		return false;
	for (i = 1; i < len; i++)
		if (!(name[i] == '_' || name[i] == '-' || (name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= '0' && name[i] <= '9')))
			return false;
	return true;
}

struct parser {
	const char *file;
	unsigned int line;
	char *err;
	size_t err_size;
};

static int __attribute__((format(printf, 2, 3))) fail(struct parser *p, const char *fmt, ...)
{
	size_t n = snprintf(p->err, p->err_size, "%s:%u: ", p->file, p->line);
	va_list ap;

	if (n < p->err_size) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->err_size - n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int parse_bool(struct parser *p, const char *key, const char *val, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (!strcmp(val, yes[i]) || !strcmp(val, no[i])) {
			*out = !strcmp(val, yes[i]);
			return 0;
		}
	}
	return fail(p, "%s = %s: not yes or no", key, val);
}

static int parse_string(struct parser *p, const char *key, const char *val, char *out,
			size_t size)
{
	if (strlen(val) >= size)
		return fail(p, "%s: value too long", key);
	strcpy(out, val);
	return 0;
}

static const struct {
	const char *key;
	unsigned int bit;
} keys[] = {
	{ "store", CONFIG_SET_STORE },
	{ "ring_size", CONFIG_SET_RING_SIZE },
	{ "snapshot_entries", CONFIG_SET_SNAPSHOT_ENTRIES },
	{ "snapshot_bytes", CONFIG_SET_SNAPSHOT_BYTES },
	{ "snapshot_kmem", CONFIG_SET_SNAPSHOT_KMEM },
	{ "protect", CONFIG_SET_PROTECT },
	{ "tcti", CONFIG_SET_TCTI },
	{ "store_group", CONFIG_SET_STORE_GROUP },
};

/* One key's value, checked, into cfg */
static int set_value(struct parser *p, unsigned int bit, const char *key, const char *val,
		     struct config *cfg)
{
	const char *conf;
	char lib[64];

	switch (bit) {
	case CONFIG_SET_STORE:
		if (val[0] != '/')
			return fail(p, "store = %s: not an absolute path", val);
		return parse_string(p, key, val, cfg->store_dir, sizeof(cfg->store_dir));
	case CONFIG_SET_RING_SIZE:
		if (parse_count(val, true, &cfg->ring_size) || !config_ring_size_ok(cfg->ring_size))
			return fail(p, "ring_size = %s: not a power of two from 4096 to 1G", val);
		return 0;
	case CONFIG_SET_SNAPSHOT_ENTRIES:
	case CONFIG_SET_SNAPSHOT_BYTES:
	case CONFIG_SET_SNAPSHOT_KMEM:
		if (parse_count(val, true, bit == CONFIG_SET_SNAPSHOT_ENTRIES ? &cfg->snapshot_entries :
				bit == CONFIG_SET_SNAPSHOT_BYTES ? &cfg->snapshot_bytes :
				&cfg->snapshot_kmem))
			return fail(p, "%s = %s: not a number", key, val);
		return 0;
	case CONFIG_SET_PROTECT:
		return parse_bool(p, key, val, &cfg->protect);
	case CONFIG_SET_TCTI:
		/* checked as the command line's: a library is never named by path */
		if (tcti_resolve(val, lib, sizeof(lib), &conf))
			return fail(p, "tcti = %s: use device[:PATH], mssim[:CONF], swtpm[:CONF] or tabrmd[:CONF]",
				    val);
		return parse_string(p, key, val, cfg->tcti, sizeof(cfg->tcti));
	default:
		if (!config_group_ok(val))
			return fail(p, "store_group = %s: not a group name", val);
		return parse_string(p, key, val, cfg->store_group, sizeof(cfg->store_group));
	}
}

static int set_key(struct parser *p, const char *key, const char *val, struct config *cfg)
{
	size_t i;
	int err;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(key, keys[i].key))
			continue;
		if (cfg->set & keys[i].bit)
			return fail(p, "%s: given twice", key);
		err = set_value(p, keys[i].bit, key, val, cfg);
		if (!err)
			cfg->set |= keys[i].bit;
		return err;
	}
	return fail(p, "unknown key '%s'", key);
}

static char *trim(char *s)
{
	char *end = s + strlen(s);

	while (*s == ' ' || *s == '\t')
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* One line (NUL-terminated, no newline) */
static int parse_line(struct parser *p, char *line, struct config *cfg)
{
	char *eq, *key, *val;

	key = trim(line);
	if (!*key || *key == '#')
		return 0;
	eq = strchr(key, '=');
	if (!eq)
		return fail(p, "expected 'key = value'");
	*eq = '\0';
	key = trim(key);
	val = trim(eq + 1);
	if (!*key)
		return fail(p, "a value without a key");
	if (!*val)
		return fail(p, "%s: no value", key);
	return set_key(p, key, val, cfg);
}

int config_parse(const char *text, size_t len, const char *file, struct config *cfg,
		 char *err, size_t err_size)
{
	struct parser p = { .file = file, .line = 1, .err = err, .err_size = err_size };
	struct config out = *cfg;
	char line[CONFIG_LINE_MAX + 1];
	const char *nl;
	size_t n, off;
	int ret;

	if (memchr(text, '\0', len))
		return fail(&p, "a NUL byte: not a text file");
	for (off = 0; off < len; off += n + 1, p.line++) {
		nl = memchr(text + off, '\n', len - off);
		n = nl ? (size_t)(nl - (text + off)) : len - off;
		if (n > CONFIG_LINE_MAX)
			return fail(&p, "line longer than %d bytes", CONFIG_LINE_MAX);
		memcpy(line, text + off, n);
		line[n] = '\0';
		ret = parse_line(&p, line, &out);
		if (ret)
			return ret;
	}
	*cfg = out;
	return 0;
}

int config_load(const char *path, struct config *cfg, char *err, size_t err_size)
{
	char *text = malloc(CONFIG_MAX_SIZE + 1);
	ssize_t n;
	size_t len = 0;
	int fd, ret;

	if (!text)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, err_size, "%s: %s", path, strerror(-ret));
		free(text);
		return ret;
	}
	while ((n = read(fd, text + len, CONFIG_MAX_SIZE + 1 - len)) > 0 && len + n <= CONFIG_MAX_SIZE)
		len += n;
	ret = n < 0 ? -errno : 0;
	close(fd);
	if (ret)
		snprintf(err, err_size, "%s: %s", path, strerror(-ret));
	else if (n > 0)
		ret = -EFBIG, snprintf(err, err_size, "%s: larger than %d bytes", path, CONFIG_MAX_SIZE);
	else
		ret = config_parse(text, len, path, cfg, err, err_size);
	free(text);
	return ret;
}

void config_print(const struct config *cfg, const char *default_tcti, FILE *f)
{
	fprintf(f, "store = %s\n", cfg->store_dir);
	fprintf(f, "ring_size = %" PRIu64 "\n", cfg->ring_size);
	fprintf(f, "snapshot_entries = %" PRIu64 "\n", cfg->snapshot_entries);
	fprintf(f, "snapshot_bytes = %" PRIu64 "\n", cfg->snapshot_bytes);
	fprintf(f, "snapshot_kmem = %" PRIu64 "\n", cfg->snapshot_kmem);
	fprintf(f, "protect = %s\n", cfg->protect ? "yes" : "no");
	fprintf(f, "tcti = %s\n", cfg->tcti[0] ? cfg->tcti : default_tcti);
	if (cfg->store_group[0])
		fprintf(f, "store_group = %s\n", cfg->store_group);
	else
		fprintf(f, "# store_group: none (the store is readable as its files' modes say)\n");
}
