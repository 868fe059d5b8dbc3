# SPDX-License-Identifier: GPL-2.0-only
#
# One `make` builds the BPF objects and skeletons, ./imasnap-load, ./imasnap
# and kernel-helper/imasnap.ko; `make test` runs every test (host unit tests,
# then the bats suites in a VM with the target kernel and a software TPM).

OUTPUT := .output
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= gcc
ARCH := x86

# The target kernel: the Debian kernel the test bed boots, resolved from the
# archive by test/vm/kernel.sh. Override KVER or KDIR to build elsewhere.
KVER ?= $(shell test/vm/kernel.sh version 2>/dev/null)
KDIR ?= /usr/src/linux-headers-$(KVER)

CFLAGS ?= -g -O2
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
	  -Wshadow -Wformat=2 -D_GNU_SOURCE -I$(OUTPUT) -Iuser -Ibpf
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	      -I$(OUTPUT) -I. -Ibpf
# libbpf is linked statically (the loader runs on hosts without libbpf.so)
LIBBPF_LIBS := -Wl,-Bstatic -lbpf -Wl,-Bdynamic -lelf -lz
TSS_LIBS := -ltss2-esys -ltss2-tctildr -ltss2-rc
CRYPTO_LIBS := -lcrypto

LIB_SRCS := user/config.c user/service.c user/log.c user/replay.c user/stream.c user/pcrfile.c \
	    user/store.c user/kernel_log.c user/snapshot.c user/view.c \
	    user/status.c user/control.c user/epoch.c user/tpm.c
LIB_OBJS := $(patsubst user/%.c,$(OUTPUT)/%.o,$(LIB_SRCS))
BPF_PROGS := imasnap protect
UNIT_TESTS := $(patsubst test/unit/%.c,$(OUTPUT)/unit/%,$(wildcard test/unit/test_*.c))

.PHONY: all clean test test-all test-host unit-test prereq-test module test-kmod vmlinux.h-regen \
	custom-kernel custom-kernel-module \
	install uninstall deb pkg-test
all: imasnap-load imasnap module test-kmod $(OUTPUT)/measure

$(OUTPUT) $(OUTPUT)/unit:
	mkdir -p $@

# BPF: compile, link with bpftool (as libbpf-bootstrap), generate skeleton
$(OUTPUT)/%.tmp.bpf.o: bpf/%.bpf.c bpf/%.h vmlinux.h | $(OUTPUT)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
$(OUTPUT)/%.bpf.o: $(OUTPUT)/%.tmp.bpf.o
	$(BPFTOOL) gen object $@ $<
$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@

$(OUTPUT)/%.o: user/%.c $(wildcard user/*.h) bpf/imasnap.h | $(OUTPUT)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(OUTPUT)/imasnap-load.o: $(OUTPUT)/imasnap.skel.h $(OUTPUT)/protect.skel.h

# BPF LSM protection of the store (the loader only: it needs libbpf)
$(OUTPUT)/protect.o: $(OUTPUT)/protect.skel.h bpf/protect.h
# The kernel's prerequisites (both programs; it reads BTF with libbpf)
LOADER_OBJS := $(OUTPUT)/protect.o $(OUTPUT)/prereq.o

imasnap-load: $(OUTPUT)/imasnap-load.o $(LOADER_OBJS) $(LIB_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LIBBPF_LIBS) $(TSS_LIBS) $(CRYPTO_LIBS) -o $@

imasnap: $(OUTPUT)/imasnap.o $(OUTPUT)/prereq.o $(LIB_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LIBBPF_LIBS) $(TSS_LIBS) $(CRYPTO_LIBS) -o $@

$(OUTPUT)/measure: test/tools/measure.c | $(OUTPUT)
	$(CC) $(CFLAGS) $< -o $@

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR)/kernel-helper modules

# modules for the tests only (test/kmod), for the same kernel
test-kmod:
	$(MAKE) -C $(KDIR) M=$(CURDIR)/test/kmod modules

# The test bed's second kernel: CONFIG_IMA_KEXEC, lockdep, KASAN and list
# debugging (test/vm/custom-kernel.sh; ~35 minutes on 2 cores the first time,
# then cached outside the checkout, keyed by test/kernel/kexec.config), and
# the helper built for it in $(OUTPUT)/kernel-helper-<release>/, its layout
# checked against that kernel's own BTF.
CUSTOM_KERNEL := test/vm/custom-kernel.sh
HELPER_SRCS := kernel-helper/Kbuild $(filter-out %.mod.c,$(wildcard kernel-helper/*.c)) \
	       $(filter-out %/btf_layout.h,$(wildcard kernel-helper/*.h))
custom-kernel:
	$(CUSTOM_KERNEL) build
# A copy of the helper's sources in $$out with the target's BTF as vmlinux.h
# (from the ELF $$vmlinux), for a build against another kernel
HELPER_COPY = mkdir -p $$out; cp $(HELPER_SRCS) $$out/; \
	$(BPFTOOL) btf dump file $$vmlinux format c > $$out/vmlinux.h
custom-kernel-module: custom-kernel
	set -e; rel=$$($(CUSTOM_KERNEL) release); kdir=$$($(CUSTOM_KERNEL) kdir); \
	out=$(OUTPUT)/kernel-helper-$$rel; vmlinux=$$kdir/vmlinux; $(HELPER_COPY); \
	$(MAKE) -C $$kdir M=$(CURDIR)/$$out IMASNAP_VMLINUX_H=$(CURDIR)/$$out/vmlinux.h modules

# The helper for Debian's newer kernels (test/vm/kernel.sh -k NAME: trixie,
# sid) in $(OUTPUT)/kernel-helper-<release>/, built in that suite's build
# root (test/vm/buildroot.sh: its gcc and linux-headers, as DKMS would).
NEWER_KERNELS := trixie sid
.PHONY: $(addprefix kernel-module-,$(NEWER_KERNELS))
$(addprefix kernel-module-,$(NEWER_KERNELS)): kernel-module-%:
	set -e; rel=$$(test/vm/kernel.sh -k $* version); vmlinux=$$(test/vm/kernel.sh -k $* vmlinux); \
	out=$(OUTPUT)/kernel-helper-$$rel; $(HELPER_COPY); test/vm/buildroot.sh -k $* build $$out

# vmlinux.h is committed; this regenerates it from the target kernel's BTF
vmlinux.h-regen:
	$(BPFTOOL) btf dump file $$(test/vm/kernel.sh vmlinux) format c > vmlinux.h

# Host unit tests: one binary per test/unit/test_*.c
$(OUTPUT)/unit/%: test/unit/%.c test/unit/unit.h $(LIB_OBJS) | $(OUTPUT)/unit
	$(CC) $(CFLAGS) -Itest/unit $< $(LIB_OBJS) $(TSS_LIBS) $(CRYPTO_LIBS) -o $@

unit-test: $(UNIT_TESTS)
	@test/unit/run.sh $(UNIT_TESTS)

# The kernel prerequisite checks on this host's own kernel (no IMA here)
prereq-test: imasnap imasnap-load
	@test/prereq/check.sh

# `make test` is CI's set and the README's test command: unit tests, every
# suite and the kexec chain on Debian's kernel, smoke and capture on Debian
# 13's 6.12 and sid's 7.2; it must finish within CI's budget on a fresh
# machine. `make test-all` adds what does not fit there: the CONFIG_IMA_KEXEC
# + lockdep + KASAN kernel (built once, cached), the kexec chain and the
# helper's own suite on it, and every suite and the chain on 6.12 and 7.2
# with the helper built for each.
test: all
	IMASNAP_KERNELS=$${IMASNAP_KERNELS:-debian} test/run-tests.sh

test-all: all custom-kernel-module $(addprefix kernel-module-,$(NEWER_KERNELS))
	IMASNAP_KERNELS="debian ima-kexec $(NEWER_KERNELS)" IMASNAP_CUSTOM_MODULE_SUITE=1 \
		IMASNAP_ALL=1 test/run-tests.sh

# `make install` (docs/install.md): PREFIX for the programs, units and man
# pages (packages use /usr), DESTDIR for a staging root. The configuration
# lives in /etc and the helper's DKMS source in /usr/src whatever PREFIX is:
# that is where the loader and DKMS look.
VERSION := $(shell sed -n '1s/^imasnap (\([^-)]*\).*/\1/p' debian/changelog)
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/lib/imasnap
MANDIR ?= $(PREFIX)/share/man
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
DKMSDIR ?= /usr/src/imasnap-$(VERSION)
STATEDIR ?= /var/lib/imasnap
INSTALL ?= install
UNITS := systemd/imasnap.service systemd/imasnap-kexec-load.service
LIBEXEC_SCRIPTS := kexec-load release-protection
DKMS_SRCS := $(HELPER_SRCS) dkms/dkms-build dkms/extract-vmlinux

install: imasnap-load imasnap
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSCONFDIR)/imasnap $(DESTDIR)$(DKMSDIR) \
		$(DESTDIR)$(STATEDIR)
	$(INSTALL) -m 0755 imasnap-load imasnap $(DESTDIR)$(SBINDIR)/
	for f in $(LIBEXEC_SCRIPTS); do \
		sed 's|@SBINDIR@|$(SBINDIR)|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' systemd/$$f > $(DESTDIR)$(LIBEXECDIR)/$$f && \
		chmod 0755 $(DESTDIR)$(LIBEXECDIR)/$$f || exit 1; done
	$(INSTALL) -m 0644 man/imasnap.8 man/imasnap-load.8 $(DESTDIR)$(MANDIR)/man8/
	for u in $(UNITS); do \
		sed 's|@SBINDIR@|$(SBINDIR)|g; s|@LIBEXECDIR@|$(LIBEXECDIR)|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
			$$u > $(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/} || exit 1; done
	test -e $(DESTDIR)$(SYSCONFDIR)/imasnap/imasnap.conf || \
		$(INSTALL) -m 0644 config/imasnap.conf $(DESTDIR)$(SYSCONFDIR)/imasnap/imasnap.conf
	$(INSTALL) -m 0644 $(filter-out dkms/%,$(DKMS_SRCS)) $(DESTDIR)$(DKMSDIR)/
	$(INSTALL) -m 0755 dkms/dkms-build dkms/extract-vmlinux $(DESTDIR)$(DKMSDIR)/
	sed 's/@VERSION@/$(VERSION)/' dkms/dkms.conf.in > $(DESTDIR)$(DKMSDIR)/dkms.conf

# The configuration and the store stay (an operator's data), as with a
# package's removal; the store's directory goes only if it is empty.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/imasnap-load $(DESTDIR)$(SBINDIR)/imasnap \
		$(addprefix $(DESTDIR)$(LIBEXECDIR)/,$(LIBEXEC_SCRIPTS)) $(DESTDIR)$(MANDIR)/man8/imasnap.8 \
		$(DESTDIR)$(MANDIR)/man8/imasnap-load.8 $(addprefix $(DESTDIR)$(SYSTEMDUNITDIR)/,$(notdir $(UNITS)))
	rm -rf $(DESTDIR)$(DKMSDIR)
	-rmdir $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(STATEDIR) 2>/dev/null

# Debian packages (debian/), built from a copy of the tree, since
# dpkg-buildpackage writes its results to the parent directory:
# `make deb DEBDIR=/some/dir` leaves the .debs, .buildinfo and .changes there.
DEBDIR ?= $(CURDIR)/../imasnap-debs
deb:
	test/pkg/build-deb.sh $(DEBDIR)

# Host tests of the installed files, the units, the man pages, the DKMS
# build from /usr/src alone and the packages (test/pkg/run.sh); CI runs it.
pkg-test: imasnap-load imasnap
	@test/pkg/run.sh

# The host test bed alone (docs/testing-host.md): the packages from `make
# deb` in a Debian 12 image with systemd, a chain of boots with kexec and a
# reboot. `make test-all` runs it too.
test-host: all
	test/run-tests.sh test/host/*.bats

clean:
	rm -rf $(OUTPUT) imasnap-load imasnap
	-$(MAKE) -C $(KDIR) M=$(CURDIR)/kernel-helper clean
	-$(MAKE) -C $(KDIR) M=$(CURDIR)/test/kmod clean

# Sanitizer builds (docs/testing-fuzz.md): the library sources compiled again
# with clang and ASan+UBSan into object directories of their own, so they
# coexist with the normal build. `make fuzz` builds one libFuzzer binary per
# test/fuzz/fuzz_<name>.c; the library is an archive, so a target may
# #include a library (or kernel helper) source to reach its static functions
# and the archive's copy of that object is then not linked.
SAN_CC ?= clang
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -g -O1
SAN_CFLAGS = $(filter-out -g -O%,$(CFLAGS)) $(SAN_FLAGS) -MMD -MP
FUZZ := $(OUTPUT)/fuzz
SAN := $(OUTPUT)/san
FUZZ_TARGETS := $(patsubst test/fuzz/%.c,$(FUZZ)/%,$(wildcard test/fuzz/fuzz_*.c))
SAN_UNIT_TESTS := $(patsubst test/unit/%.c,$(SAN)/unit/%,$(wildcard test/unit/test_*.c))

.PHONY: fuzz fuzz-check unit-test-san
$(FUZZ)/obj $(SAN)/obj $(SAN)/unit:
	mkdir -p $@
# (one rule each: a pattern rule with two targets makes both at once)
$(FUZZ)/obj/%.o: user/%.c | $(FUZZ)/obj
	$(SAN_CC) $(SAN_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(SAN)/obj/%.o: user/%.c | $(SAN)/obj
	$(SAN_CC) $(SAN_CFLAGS) -c $< -o $@
$(FUZZ)/libimasnap.a: $(patsubst user/%.c,$(FUZZ)/obj/%.o,$(LIB_SRCS))
	rm -f $@ && $(AR) rcs $@ $^
$(SAN)/libimasnap.a: $(patsubst user/%.c,$(SAN)/obj/%.o,$(LIB_SRCS))
	rm -f $@ && $(AR) rcs $@ $^

# A target that needs sources beyond the library names them here: the
# kernel helper's command parsers, which build in user space too.
FUZZ_SRCS_helper_parse := kernel-helper/parse.c
.SECONDEXPANSION:
$(FUZZ)/fuzz_%: test/fuzz/fuzz_%.c $(FUZZ)/libimasnap.a $$(FUZZ_SRCS_$$*)
	$(SAN_CC) $(SAN_CFLAGS) -fsanitize=fuzzer -Itest/fuzz -Itest/unit -Ikernel-helper -I. \
		$< $(FUZZ_SRCS_$*) $(FUZZ)/libimasnap.a $(TSS_LIBS) $(CRYPTO_LIBS) -o $@
fuzz: $(FUZZ_TARGETS)
fuzz-check: fuzz
	@test/fuzz/run.sh

$(SAN)/unit/%: test/unit/%.c test/unit/unit.h $(SAN)/libimasnap.a | $(SAN)/unit
	$(SAN_CC) $(SAN_CFLAGS) -Itest/unit $< $(SAN)/libimasnap.a $(TSS_LIBS) $(CRYPTO_LIBS) -o $@
unit-test-san: $(SAN_UNIT_TESTS)
	@test/unit/run.sh --label san $(SAN_UNIT_TESTS)

-include $(wildcard $(FUZZ)/*.d $(FUZZ)/obj/*.d $(SAN)/obj/*.d $(SAN)/unit/*.d)
