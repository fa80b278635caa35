# SPDX-License-Identifier: GPL-2.0
# Test binaries.  Included by the top-level Makefile inside the build
# environment, so $(O), $(SRC), $(CC) and USER_* are defined.
#
#  tests/unit/test_*.c   host unit tests: one TAP program each, linked with
#                        the loader's objects except main.o
#  tests/vm/*.c          the VM test runner, wstest (one binary, registered
#                        tests), run inside the guest by tests/run

TEST_BIN := $(O)/tests/bin
USER_LIB_OBJS := $(filter-out $(O)/user/main.o,$(USER_OBJS))

UNIT_SRCS := $(wildcard $(SRC)/tests/unit/test_*.c)
UNIT_BINS := $(patsubst $(SRC)/tests/unit/%.c,$(TEST_BIN)/unit/%,$(UNIT_SRCS))

VM_SRCS := $(wildcard $(SRC)/tests/vm/*.c)
VM_BIN := $(TEST_BIN)/wstest

tests-bin: $(UNIT_BINS) $(VM_BIN) user

# libnuma's answers replaced by the test's own (test_libnuma.c)
$(TEST_BIN)/unit/test_libnuma: USER_LIBS += \
	-Wl,--wrap=numa_available,--wrap=numa_node_of_cpu,--wrap=numa_distance

$(TEST_BIN)/unit/%: $(SRC)/tests/unit/%.c $(USER_LIB_OBJS) $(wildcard $(SRC)/tests/unit/*.h)
	$(Q)mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) -I$(SRC)/tests/unit -o $@ $< $(USER_LIB_OBJS) $(USER_LIBS) -lm

$(VM_BIN): $(VM_SRCS) $(wildcard $(SRC)/tests/vm/*.h) $(SRC)/tests/unit/promcheck.h \
		$(SRC)/tests/unit/rackdoc.h $(SRC)/include/wattsched.h
	$(Q)mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) -I$(SRC)/tests/vm -o $@ $(VM_SRCS) -lm
