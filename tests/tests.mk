# SPDX-License-Identifier: GPL-2.0
# Test binaries.  Included by the top-level Makefile inside the build
# environment, so $(O), $(SRC), $(CC) and USER_* are defined.
#
#  tests/unit/test_*.c   host unit tests: one TAP program each, linked with
#                        the loader's objects except main.o
#  tests/selftests/      the VM tests: kselftest_harness.h programs built with
#                        the kernel's selftests lib.mk (from the linux-source
#                        tree `make deps` extracted) and installed, with
#                        run_kselftest.sh, into $(O)/tests/kselftest for
#                        tests/run to run in the guest
#  tests/tools/          helpers the VM tests and benchmarks run: pcie_probe
#                        and its BPF program, which read the module's PCIe
#                        kfuncs; capstep, the cap steps of `make bench-cap`

TEST_BIN := $(O)/tests/bin
USER_LIB_OBJS := $(filter-out $(O)/user/main.o,$(USER_OBJS))

UNIT_SRCS := $(wildcard $(SRC)/tests/unit/test_*.c)
UNIT_BINS := $(patsubst $(SRC)/tests/unit/%.c,$(TEST_BIN)/unit/%,$(UNIT_SRCS))

KSFT_DIR := $(KSRC)/tools/testing/selftests
KSFT_INSTALL := $(O)/tests/kselftest
SELFTEST_SRCS := $(wildcard $(SRC)/tests/selftests/*)

TOOL_BINS := $(TEST_BIN)/pcie_probe $(TEST_BIN)/pcie_probe.bpf.o $(TEST_BIN)/capstep

tests-bin: $(UNIT_BINS) $(TOOL_BINS) $(KSFT_INSTALL)/run_kselftest.sh user

$(TEST_BIN)/%.bpf.o: $(SRC)/tests/tools/%.bpf.c $(O)/bpf/vmlinux.h
	$(Q)mkdir -p $(@D)
	$(call msg,CLANG,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(TEST_BIN)/pcie_probe: $(SRC)/tests/tools/pcie_probe.c $(SRC)/include/wattsched_telemetry.h
	$(Q)mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) -o $@ $< -lbpf -lelf -lz

$(TEST_BIN)/capstep: $(SRC)/tests/tools/capstep.c $(USER_LIB_OBJS)
	$(Q)mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) -o $@ $< $(USER_LIB_OBJS) $(USER_LIBS) -lm

# libnuma's answers replaced by the test's own (test_libnuma.c)
$(TEST_BIN)/unit/test_libnuma: USER_LIBS += \
	-Wl,--wrap=numa_available,--wrap=numa_node_of_cpu,--wrap=numa_distance

$(TEST_BIN)/unit/%: $(SRC)/tests/unit/%.c $(USER_LIB_OBJS) $(wildcard $(SRC)/tests/unit/*.h)
	$(Q)mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) -I$(SRC)/tests/unit -o $@ $< $(USER_LIB_OBJS) $(USER_LIBS) -lm

$(KSFT_INSTALL)/run_kselftest.sh: $(SELFTEST_SRCS) $(SRC)/tests/unit/promcheck.h \
		$(SRC)/tests/unit/rackdoc.h
	$(call msg,KSFT,$(KSFT_INSTALL))
	$(Q)rm -rf $(KSFT_INSTALL) && mkdir -p $(O)/tests/selftests
	$(Q)$(MAKE) -s --no-print-directory -C $(SRC)/tests/selftests KSFT_DIR=$(KSFT_DIR) \
		OUTPUT=$(O)/tests/selftests WS_SRC=$(SRC) install INSTALL_PATH=$(KSFT_INSTALL) >/dev/null
