// SPDX-License-Identifier: GPL-2.0-only
/*
 * imasnap loads no code a caller names: a TCTI is one of the system's own,
 * never a library path, and OpenSSL reads no configuration (which can load
 * provider modules). A module that leaves a marker file when loaded
 * (evil_module.c, built here with cc) stands for the caller's code.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay.h"
#include "tpm.h"
#include "unit.h"

static char top[64], module[128], marker[128];

static void test_tcti_names(void)
{
	static const char *const good[][3] = {
		{ "device:/dev/tpmrm0", "libtss2-tcti-device.so.0", "/dev/tpmrm0" },
		{ "device", "libtss2-tcti-device.so.0", NULL },
		{ "mssim:host=localhost,port=2321", "libtss2-tcti-mssim.so.0",
		  "host=localhost,port=2321" },
		{ "swtpm:port=2321", "libtss2-tcti-swtpm.so.0", "port=2321" },
		{ "tabrmd:", "libtss2-tcti-tabrmd.so.0", NULL },
	};
	static const char *const bad[] = {
		"/tmp/evil.so", "./evil.so", "evil.so:x", "libtss2-tcti-device.so.0",
		"device/../../tmp/evil", "devices:/dev/tpm0", "", ":conf", "DEVICE",
		"/usr/lib/x86_64-linux-gnu/libtss2-tcti-device.so.0:/dev/tpm0",
	};
	const char *conf;
	char lib[64];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		conf = "unset";
		CHECK_INT(tcti_resolve(good[i][0], lib, sizeof(lib), &conf), 0);
		CHECK_STR(lib, good[i][1]);
		if (good[i][2])
			CHECK_STR(conf, good[i][2]);
		else
			CHECK(conf == NULL);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(tcti_resolve(bad[i], lib, sizeof(lib), &conf), -EINVAL);
}

/* a TCTI naming a library path is refused before tpm2-tss sees it */
static void test_tcti_path_is_not_loaded(void)
{
	struct replay pcrs;

	CHECK_INT(tpm_read_pcrs(&pcrs, 1u << 10, module), -EINVAL);
	CHECK(access(marker, F_OK) && errno == ENOENT);
}

/* an OpenSSL configuration that names a provider module is not read */
static void test_openssl_conf_is_not_read(void)
{
	static const uint16_t algs[] = { ALG_SHA256 };
	char conf[128];
	struct replay r;
	FILE *f;

	unlink(marker);
	snprintf(conf, sizeof(conf), "%s/openssl.cnf", top);
	f = fopen(conf, "w");
	if (!f)
		exit(2);
	fprintf(f, "openssl_conf = init\n[init]\nproviders = providers\n"
		"[providers]\nevil = evil\ndefault = default\n[default]\nactivate = 1\n"
		"[evil]\nmodule = %s\nactivate = 1\n", module);
	fclose(f);
	setenv("OPENSSL_CONF", conf, 1);
	setenv("OPENSSL_MODULES", top, 1);
	CHECK_INT(replay_crypto_init(), 0);
	CHECK(!getenv("OPENSSL_CONF") && !getenv("OPENSSL_MODULES"));
	/* the first digest is where OpenSSL would load its configuration */
	CHECK_INT(replay_init(&r, algs, 1), 0);
	CHECK_INT(r.bank[0].size, 32);
	CHECK(access(marker, F_OK) && errno == ENOENT);
}

int main(void)
{
	char cmd[512], src[256];

	if (unit_tmpdir(top, sizeof(top)))
		return 2;
	snprintf(src, sizeof(src), "%s", __FILE__);
	snprintf(module, sizeof(module), "%s/evil.so", top);
	snprintf(marker, sizeof(marker), "%s/loaded", top);
	snprintf(cmd, sizeof(cmd), "${CC:-cc} -shared -fPIC -o %s %s/evil_module.c", module,
		 dirname(src));
	if (system(cmd))
		return 2;
	setenv("EVIL_MARKER", marker, 1);

	test_tcti_names();
	test_tcti_path_is_not_loaded();
	test_openssl_conf_is_not_read();

	if (unit_rmtree(top))
		return 2;
	UNIT_DONE();
}
