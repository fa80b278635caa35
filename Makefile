# SPDX-License-Identifier: GPL-2.0
#
# wattsched top-level Makefile.  `make help` lists the targets.
#
# Kernel-facing builds (BPF, module, loader) must use the target kernel's
# toolchain.  When `make deps` chose a build root, every build target below
# re-runs itself inside that root (scripts/in-root); with a native sched_ext
# host it runs here directly.

MAKEFLAGS += --no-builtin-rules
.SUFFIXES:

SRC := $(CURDIR)
WS_CACHE ?= $(or $(WATTSCHED_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/wattsched)
-include $(WS_CACHE)/env

# make ... KVER=X: build and test against another kernel that `make deps
# KVERS=...` or `make kernels` installed (scripts/lib.sh checks it is one),
# into kernels/X/ unless O says otherwise: the module for X, the BPF side
# with the BTF and sched_ext library of BPF_KVER (bpf_kver in
# scripts/lib.sh: X itself, or the default kernel for one older than the
# library's API).  KVER=X in the environment means the same: scripts/vm-run
# boots the kernel it names either way.
ifneq ($(filter command line environment,$(origin KVER)),)
ifneq ($(KVER),$(WS_KVER))
O ?= $(SRC)/kernels/$(KVER)
BPF_KVER := $(shell . $(SRC)/scripts/lib.sh && bpf_kver '$(WS_ROOT)' '$(KVER)' '$(WS_KVER)')
WS_KSRC := /usr/src/linux-source-$(shell . $(SRC)/scripts/lib.sh && kernel_mm '$(BPF_KVER)')
WS_KVER := $(KVER)
endif
export KVER
endif
O ?= $(SRC)
override O := $(abspath $(O))

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(patsubst $(O)/%,%,$(2))";
endif

.SECONDARY:

BUILD_TARGETS := all bpf user kmod tests-bin fuzz-bin
.PHONY: $(BUILD_TARGETS) deps kernels test test-unit test-vm test-deb demo bench bench-thermal bench-cap soak deb \
	fuzz check \
	install clean help

ifeq ($(WS_MODE)-$(WS_INSIDE),buildroot-)
# ---- outside the build root: forward build targets into it ---------------
$(BUILD_TARGETS) install: deps-present
	$(Q)WS_BIND=$(SRC) $(SRC)/scripts/in-root $(MAKE) --no-print-directory -C $(SRC) \
		WS_INSIDE=1 KVER=$(WS_KVER) BPF_KVER=$(or $(BPF_KVER),$(WS_KVER)) KSRC=$(WS_KSRC) O=$(O) V=$(V) DESTDIR=$(DESTDIR) PREFIX=$(PREFIX) $@
else
# ---- here is where things build -------------------------------------------
KVER ?= $(or $(WS_KVER),$(shell uname -r))
KDIR ?= /lib/modules/$(KVER)/build
BPF_KVER ?= $(KVER)
VMLINUX_BTF ?= $(firstword $(wildcard /lib/modules/$(BPF_KVER)/build/vmlinux /sys/kernel/btf/vmlinux))
CLANG ?= clang
BPFTOOL ?= $(or $(shell command -v bpftool 2>/dev/null),/usr/sbin/bpftool)
CC ?= gcc
PREFIX ?= /usr/local

# The kernel's sched_ext library (scx/common.bpf.h, the exit record, the
# compat macros), from the linux-source package `make deps` extracted.
KSRC ?= $(WS_KSRC)
SCX_INC := $(KSRC)/tools/sched_ext/include

ARCH_BPF := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
USER_CFLAGS := $(CFLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -I$(SRC)/include -I$(O)/bpf \
	-I$(SRC)/user -idirafter $(SCX_INC)
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH_BPF) -mcpu=v3 \
	-I$(O)/bpf -I$(SRC)/bpf -I$(SRC)/include -I$(SCX_INC) -Wall \
	-Wno-compare-distinct-pointer-types -Wno-missing-declarations

all: bpf user kmod tests-bin

# -- bpf --------------------------------------------------------------------
BPF_OBJ := $(O)/bpf/wattsched.bpf.o
BPF_SKEL := $(O)/bpf/wattsched.skel.h
bpf: $(BPF_SKEL)

$(SCX_INC)/scx/common.bpf.h:
	@echo "make: the kernel's sched_ext headers are missing ($(SCX_INC)); run 'make deps'" >&2; exit 1

$(O)/bpf/vmlinux.h: $(VMLINUX_BTF)
	$(Q)mkdir -p $(@D)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file $< format c > $@.tmp && mv $@.tmp $@

$(O)/bpf/%.bpf.tmp.o: $(SRC)/bpf/%.bpf.c $(O)/bpf/vmlinux.h \
		$(SRC)/include/wattsched.h $(SCX_INC)/scx/common.bpf.h
	$(call msg,CLANG,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(O)/bpf/%.bpf.o: $(O)/bpf/%.bpf.tmp.o
	$(call msg,GENOBJ,$@)
	$(Q)$(BPFTOOL) gen object $@ $<

$(O)/bpf/%.skel.h: $(O)/bpf/%.bpf.o
	$(call msg,GENSKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@.tmp && mv $@.tmp $@

# -- user -------------------------------------------------------------------
# user/ in layers, lowest first; a file includes only its own layer and those
# below (scripts/check-layout).
USER_LAYERS := lib core proto daemon cmd
USER_SRCS := $(foreach l,$(USER_LAYERS),$(wildcard $(SRC)/user/$(l)/*.c)) $(SRC)/user/main.c
USER_OBJS := $(patsubst $(SRC)/user/%.c,$(O)/user/%.o,$(USER_SRCS))
USER_LIBS := -lbpf -lelf -lz -ljson-c -lnuma -lm
WATTSCHED := $(O)/user/wattsched
user: $(WATTSCHED)

$(O)/user/%.o: $(SRC)/user/%.c $(BPF_SKEL) $(SRC)/include/wattsched.h
	$(Q)mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) -MMD -c $< -o $@

$(WATTSCHED): $(USER_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(USER_CFLAGS) -o $@ $^ $(USER_LIBS)

# -- kmod -------------------------------------------------------------------
# Kbuild builds in the directory it is given; for O= builds, mirror the
# sources there as symlinks.
KMOD_DIR := $(O)/kmod
# A kernel from a newer release (sid's, built with a newer gcc than this
# root has) gets the root's gcc: kbuild accepts it for an external module.
KERNEL_CC := $(shell sed -n 's/^CONFIG_CC_VERSION_TEXT="\([^ ]*\) .*/\1/p' $(KDIR)/.config 2>/dev/null)
KMOD_CC := $(if $(KERNEL_CC),$(if $(shell command -v $(KERNEL_CC)),,$(CC)))
kmod:
ifneq ($(O),$(SRC))
	$(Q)mkdir -p $(KMOD_DIR) && for f in $(SRC)/kmod/*.c $(SRC)/kmod/*.h $(SRC)/kmod/Kbuild; do \
		[ -e "$$f" ] && ln -sf "$$f" $(KMOD_DIR)/; done; true
endif
	$(call msg,KBUILD,$(KMOD_DIR))
	$(if $(KMOD_CC),@echo "  note     $(KVER) was built by $(KERNEL_CC) (not in this root): module built by $(KMOD_CC)")
	@# Our O= must not reach kbuild, where it means the kernel's output tree.
	$(Q)env -u MAKEFLAGS -u MAKEOVERRIDES -u MFLAGS $(MAKE) --no-print-directory -C $(KDIR) \
		M=$(KMOD_DIR) WS_INCLUDE=$(SRC)/include $(if $(KMOD_CC),CC=$(KMOD_CC)) \
		$(if $(filter 1,$(V)),V=1) modules

# -- tests ------------------------------------------------------------------
include $(SRC)/tests/tests.mk

install: $(WATTSCHED)
	install -D -m 0755 $(WATTSCHED) $(DESTDIR)$(PREFIX)/sbin/wattsched
	install -D -m 0644 $(SRC)/docs/wattsched.8 $(DESTDIR)$(PREFIX)/share/man/man8/wattsched.8
	install -D -m 0644 $(SRC)/configs/wattsched.bash-completion \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/wattsched
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	sed 's|/usr/local/sbin/wattsched|$(PREFIX)/sbin/wattsched|' $(SRC)/configs/wattsched.service \
		>$(DESTDIR)$(PREFIX)/lib/systemd/system/wattsched.service
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/wattsched $(SRC)/configs/power-model.conf \
		$(SRC)/configs/rack-example.json $(SRC)/configs/rack-schema.json

-include $(USER_OBJS:.o=.d)
endif

include $(SRC)/tests/fuzz/fuzz.mk

# ---- targets that run from the host ---------------------------------------
.PHONY: deps-present
deps-present:
	@[ -r $(WS_CACHE)/env ] || { echo "make: dependencies missing; run 'make deps' first" >&2; exit 1; }

deps:
	$(Q)$(SRC)/scripts/deps

kernels: deps
	$(Q)$(SRC)/scripts/kernels $(if $(SERIES),--series $(SERIES))

test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(SRC)/tests/run --out $(O)

test-unit: deps
	$(Q)$(MAKE) --no-print-directory tests-bin
	$(Q)$(SRC)/tests/run --out $(O) --unit-only

test-vm: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(SRC)/tests/run --out $(O) --vm-only

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(SRC)/scripts/demo --out $(O)

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(SRC)/scripts/bench --out $(O)

bench-thermal: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(SRC)/scripts/bench-thermal --out $(O)

bench-cap: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(SRC)/scripts/bench-cap --out $(O)

deb: deps
	$(Q)$(SRC)/scripts/deb --out $(O)

test-deb: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(SRC)/tests/run --out $(O) --vm-only --topo packages

soak: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(SRC)/scripts/soak --out $(O) --minutes $(or $(SOAK_MIN),60)

check: deps
	$(Q)$(SRC)/scripts/check-layout
	$(Q)$(SRC)/scripts/checkpatch
	$(Q)$(MAKE) --no-print-directory bpf
	$(Q)$(SRC)/scripts/check-kfuncs $(O)/bpf/wattsched.bpf.o

clean:
	$(Q)rm -rf $(O)/bpf/vmlinux.h $(O)/bpf/*.o $(O)/bpf/*.skel.h $(O)/bpf/*.tmp \
		$(O)/user/*.o $(O)/user/*.d $(O)/user/*/*.o $(O)/user/*/*.d $(O)/user/wattsched \
		$(O)/tests/bin $(O)/tests/kselftest
	$(Q)rm -f $(patsubst $(SRC)/tests/selftests/%.c,$(O)/tests/selftests/%,\
		$(filter-out %/ws_lib.c,$(wildcard $(SRC)/tests/selftests/*.c)))
	$(Q)rm -f $(O)/kmod/*.o $(O)/kmod/*.ko $(O)/kmod/*.mod* $(O)/kmod/.*.cmd \
		$(O)/kmod/modules.order $(O)/kmod/Module.symvers
	$(Q)rm -rf $(O)/kmod/.tmp_versions

help:
	@echo 'wattsched make targets:'
	@echo '  deps       install the toolchain and target kernel (build root or native); idempotent'
	@echo '  kernels    build an LTS kernel with sched_ext (SERIES=6.12) into the build root (~30 min)'
	@echo '  all        build bpf, user, kmod and the test binaries (default)'
	@echo '  bpf        vmlinux.h, the BPF scheduler object and its skeleton'
	@echo '  user       the wattsched loader and CLI (user/wattsched)'
	@echo '  kmod       the telemetry module (kmod/wattsched_telemetry.ko)'
	@echo '  test       host unit tests, then the VM tests; ends with "N passed, N failed"'
	@echo '  test-unit  host unit tests only'
	@echo '  test-vm    VM tests only'
	@echo '  demo       boot a VM: module, scheduler, workload, stats, detach'
	@echo '  bench      EEVDF vs wattsched vs scx_simple, cap vs cpu.max (one VM boot), device locality (a second)'
	@echo '  bench-thermal  hot-core reaction time, text path vs kfunc path, one VM boot'
	@echo '  bench-cap  power cap step response (settle, overshoot, error, a PNG), one VM boot'
	@echo '  soak       SOAK_MIN minutes (default 60) of load, cap steps, hotplug, module and'
	@echo '             loader restarts in the numa VM; fails on a stall, an exit or a warning'
	@echo '  deb        Debian packages wattsched and wattsched-telemetry-dkms (debhelper, dh-dkms) in O/deb/'
	@echo '  test-deb   build them and install them in a systemd VM: DKMS, the unit, purge (~15 min)'
	@echo '  check      the layout of user/ and bpf/ (scripts/check-layout), checkpatch on the module,'
	@echo '             the kfuncs the BPF object requires against 6.12 (scripts/check-kfuncs)'
	@echo '  install    install the CLI, man page, completion, systemd unit, configs (DESTDIR=, PREFIX=)'
	@echo '  clean      remove build outputs'
	@echo 'Variables: V=1 shows commands; O=DIR builds out of tree;'
	@echo '  WATTSCHED_CACHE=DIR moves the dependency cache (default ~/.cache/wattsched).'
