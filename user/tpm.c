// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reads PCR values from the TPM through tpm2-tss ESAPI, for every allocated
 * bank, so that verify can compare them with a replay of the log.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "tpm.h"

#define READ_TRIES	100	/* reads of all PCRs, each spoiled by an extend */

struct tpm {
	const char *tcti_conf;
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
};

static int tss_error(const struct tpm *tpm, const char *call, TSS2_RC rc)
{
	fprintf(stderr, "imasnap: TPM through TCTI \"%s\": %s failed: %s\n",
		tpm->tcti_conf, call, Tss2_RC_Decode(rc));
	return -EIO;
}

int tcti_resolve(const char *tcti, char *lib, size_t lib_size, const char **conf)
{
	static const char *const known[] = { "device", "mssim", "swtpm", "tabrmd" };
	const char *colon = strchr(tcti, ':');
	size_t len = colon ? (size_t)(colon - tcti) : strlen(tcti), i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (len != strlen(known[i]) || strncmp(tcti, known[i], len))
			continue;
		*conf = colon && colon[1] ? colon + 1 : NULL;
		return snprintf(lib, lib_size, "libtss2-tcti-%s.so.0", known[i]) <
		       (int)lib_size ? 0 : -ENAMETOOLONG;
	}
	return -EINVAL;
}

static int tpm_open(struct tpm *tpm)
{
	const char *conf;
	char lib[64];
	TSS2_RC rc;

	if (tcti_resolve(tpm->tcti_conf, lib, sizeof(lib), &conf)) {
		fprintf(stderr, "imasnap: TCTI \"%s\": not device, mssim, swtpm or tabrmd (with \":CONF\"); a library path is not accepted\n",
			tpm->tcti_conf);
		return -EINVAL;
	}
	rc = Tss2_TctiLdr_Initialize_Ex(lib, conf, &tpm->tcti);
	if (rc != TSS2_RC_SUCCESS) {
		tss_error(tpm, "Tss2_TctiLdr_Initialize_Ex", rc);
		fprintf(stderr, "imasnap: is the TPM there and may this user open it (root, or the tss group)? Another TPM can be named with a TCTI string such as \"swtpm:port=2321\".\n");
		return -ENODEV;
	}
	rc = Esys_Initialize(&tpm->esys, tpm->tcti, NULL);
	if (rc != TSS2_RC_SUCCESS)
		return tss_error(tpm, "Esys_Initialize", rc);
	return 0;
}

/* Safe on a partly opened tpm: the one cleanup path */
static void tpm_close(struct tpm *tpm)
{
	if (tpm->esys)
		Esys_Finalize(&tpm->esys);
	if (tpm->tcti)
		Tss2_TctiLdr_Finalize(&tpm->tcti);
}

static bool pcr_selected(const TPMS_PCR_SELECTION *sel, unsigned int pcr)
{
	return pcr / 8 < sel->sizeofSelect &&
	       sel->pcrSelect[pcr / 8] & (1u << (pcr % 8));
}

static bool selection_empty(const TPMS_PCR_SELECTION *sel)
{
	unsigned int i;

	for (i = 0; i < sel->sizeofSelect && i < TPM2_PCR_SELECT_MAX; i++)
		if (sel->pcrSelect[i])
			return false;
	return true;
}

/* The banks the TPM has allocated: those with some PCR selected */
static int read_banks(struct tpm *tpm, TPML_PCR_SELECTION *banks)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	TSS2_RC rc;
	UINT32 i;

	rc = Esys_GetCapability(tpm->esys, ESYS_TR_NONE, ESYS_TR_NONE,
				ESYS_TR_NONE, TPM2_CAP_PCRS, 0, 1, &more, &cap);
	if (rc != TSS2_RC_SUCCESS)
		return tss_error(tpm, "Esys_GetCapability(TPM2_CAP_PCRS)", rc);
	memset(banks, 0, sizeof(*banks));
	for (i = 0; i < cap->data.assignedPCR.count &&
		    i < TPM2_NUM_PCR_BANKS; i++) {
		if (selection_empty(&cap->data.assignedPCR.pcrSelections[i]))
			continue;
		banks->pcrSelections[banks->count++] =
			cap->data.assignedPCR.pcrSelections[i];
	}
	Esys_Free(cap);
	return 0;
}

/*
 * Sets up pcrs with the allocated banks and fills want with the PCRs to
 * read: those of pcr_mask allocated in a bank that replay supports.
 */
static int plan_read(const struct tpm *tpm, const TPML_PCR_SELECTION *banks,
		     uint32_t pcr_mask, struct replay *pcrs,
		     TPML_PCR_SELECTION *want)
{
	uint16_t alg_ids[REPLAY_MAX_BANKS];
	TPMS_PCR_SELECTION *sel;
	unsigned int i, pcr;

	if (banks->count > REPLAY_MAX_BANKS) {
		fprintf(stderr, "imasnap: TPM through TCTI \"%s\" has %u PCR banks, more than the %d imasnap handles\n",
			tpm->tcti_conf, banks->count, REPLAY_MAX_BANKS);
		return -E2BIG;
	}
	for (i = 0; i < banks->count; i++)
		alg_ids[i] = banks->pcrSelections[i].hash;
	replay_init(pcrs, alg_ids, banks->count);
	memset(want, 0, sizeof(*want));
	for (i = 0; i < banks->count; i++) {
		if (!pcrs->bank[i].size)
			continue;
		sel = &want->pcrSelections[want->count++];
		sel->hash = alg_ids[i];
		sel->sizeofSelect = REPLAY_NR_PCRS / 8;
		for (pcr = 0; pcr < REPLAY_NR_PCRS; pcr++)
			if (pcr_mask & (1u << pcr) &&
			    pcr_selected(&banks->pcrSelections[i], pcr))
				sel->pcrSelect[pcr / 8] |= 1u << (pcr % 8);
	}
	return 0;
}

static struct replay_bank *bank_of(struct replay *pcrs, TPMI_ALG_HASH alg)
{
	return (struct replay_bank *)replay_find_bank(pcrs, alg);
}

static void unselect(TPML_PCR_SELECTION *want, TPMI_ALG_HASH alg,
		     unsigned int pcr)
{
	unsigned int i;

	for (i = 0; i < want->count; i++)
		if (want->pcrSelections[i].hash == alg)
			want->pcrSelections[i].pcrSelect[pcr / 8] &=
				~(1u << (pcr % 8));
}

/*
 * Stores the digests of one PCR_Read, in the order of the selection it
 * returned (bank by bank, PCR by PCR), and takes them off want.
 * Returns the number stored, or -EPROTO when the answer does not fit.
 */
static int store_values(const TPML_PCR_SELECTION *got,
			const TPML_DIGEST *values, struct replay *pcrs,
			TPML_PCR_SELECTION *want)
{
	struct replay_bank *bank;
	unsigned int i, pcr, n = 0;

	for (i = 0; i < got->count; i++) {
		bank = bank_of(pcrs, got->pcrSelections[i].hash);
		for (pcr = 0; pcr < REPLAY_NR_PCRS; pcr++) {
			if (!pcr_selected(&got->pcrSelections[i], pcr))
				continue;
			if (!bank || n >= values->count ||
			    values->digests[n].size != bank->size)
				return -EPROTO;
			memcpy(bank->pcr[pcr], values->digests[n++].buffer,
			       bank->size);
			unselect(want, bank->alg_id, pcr);
		}
	}
	return n == values->count ? (int)n : -EPROTO;
}

static bool want_empty(const TPML_PCR_SELECTION *want)
{
	unsigned int i;

	for (i = 0; i < want->count; i++)
		if (!selection_empty(&want->pcrSelections[i]))
			return false;
	return true;
}

/*
 * A PCR_Read returns at most 8 digests: read until nothing is left. The
 * values must be of one moment, or no prefix of a log measured meanwhile
 * replays to all of them: -EAGAIN when the TPM's PCR update counter moved
 * between two reads (an extend came in between).
 */
static int read_values(struct tpm *tpm, struct replay *pcrs,
		       TPML_PCR_SELECTION *want)
{
	TPML_PCR_SELECTION *got;
	TPML_DIGEST *values;
	UINT32 update_counter, first_counter = 0;
	bool first = true;
	TSS2_RC rc;
	int n;

	while (!want_empty(want)) {
		rc = Esys_PCR_Read(tpm->esys, ESYS_TR_NONE, ESYS_TR_NONE,
				   ESYS_TR_NONE, want, &update_counter, &got,
				   &values);
		if (rc != TSS2_RC_SUCCESS)
			return tss_error(tpm, "Esys_PCR_Read", rc);
		if (!first && update_counter != first_counter) {
			Esys_Free(got);
			Esys_Free(values);
			return -EAGAIN;
		}
		first = false;
		first_counter = update_counter;
		n = store_values(got, values, pcrs, want);
		Esys_Free(got);
		Esys_Free(values);
		if (n <= 0) {
			fprintf(stderr, "imasnap: TPM through TCTI \"%s\": PCR_Read returned %s\n",
				tpm->tcti_conf, n ? "digests that do not match the selection" : "no digest");
			return -EPROTO;
		}
	}
	return 0;
}

int tpm_read_pcrs(struct replay *pcrs, uint32_t pcr_mask, const char *tcti)
{
	struct tpm tpm = { .tcti_conf = tcti ? tcti : TPM_DEFAULT_TCTI };
	TPML_PCR_SELECTION banks, want;
	int tries, err;

	err = tpm_open(&tpm);
	err = err ?: read_banks(&tpm, &banks);
	for (tries = 1; !err; tries++) {
		err = plan_read(&tpm, &banks, pcr_mask, pcrs, &want);
		err = err ?: read_values(&tpm, pcrs, &want);
		if (err != -EAGAIN)
			break;
		if (tries == READ_TRIES) {
			fprintf(stderr, "imasnap: TPM through TCTI \"%s\": PCRs changed during each of %d reads\n",
				tpm.tcti_conf, READ_TRIES);
			break;
		}
		err = 0;	/* an extend came in between: all again */
	}
	tpm_close(&tpm);
	return err;
}
