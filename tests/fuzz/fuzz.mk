# SPDX-License-Identifier: GPL-2.0
# libFuzzer targets.  Include from the top-level Makefile after its build
# section (after the `endif` that closes it), so that both the forwarding
# side and the build side see these rules:
#
#   fuzz-bin  build $(O)/tests/bin/fuzz/fuzz_rack (clang, ASan + UBSan +
#             libFuzzer); needs clang's runtime (libclang-rt-*-dev)
#   fuzz      build, then fuzz for FUZZ_TIME seconds (default 600)
#
# tests/run's bounded run is the same command with FUZZ_SMOKE_TIME (20 s):
#   $(FUZZ_BIN) $(FUZZ_ARGS) -max_total_time=20 $(FUZZ_WORK) $(FUZZ_SEEDS)
# New inputs go to FUZZ_WORK, never into the checked-in seed corpus; a crash
# leaves its input in FUZZ_ARTIFACTS.  Both live under tests/bin, so
# `make clean` empties them.

FUZZ_BIN := $(O)/tests/bin/fuzz/fuzz_rack
FUZZ_SEEDS := $(SRC)/tests/unit/rack-corpus/valid $(SRC)/tests/unit/rack-corpus/invalid
FUZZ_WORK := $(O)/tests/bin/fuzz/work
FUZZ_ARTIFACTS := $(O)/tests/bin/fuzz/artifacts/
FUZZ_TIME ?= 600
FUZZ_SMOKE_TIME ?= 20
FUZZ_ARGS := -dict=$(SRC)/tests/fuzz/rack.dict -artifact_prefix=$(FUZZ_ARTIFACTS) \
	-max_len=65536 -timeout=10 -rss_limit_mb=2048

ifneq ($(WS_MODE)-$(WS_INSIDE),buildroot-)
# ---- build side (inside the build root, or a native host) -----------------
FUZZ_CFLAGS := -g -O1 -fno-omit-frame-pointer -std=gnu11 -D_GNU_SOURCE \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	-I$(SRC)/include -I$(SRC)/user
FUZZ_RACK_SRCS := $(SRC)/tests/fuzz/fuzz_rack.c $(SRC)/user/core/rack.c $(SRC)/user/lib/util.c \
	$(SRC)/user/lib/names.c

fuzz-bin: $(FUZZ_BIN)

# Built from sources, not from user/*.o: everything under test must carry
# the fuzzer's coverage instrumentation.
$(FUZZ_BIN): $(FUZZ_RACK_SRCS) $(SRC)/user/core/rack.h $(SRC)/user/lib/util.h $(SRC)/include/wattsched.h
	$(Q)mkdir -p $(@D)
	$(call msg,CLANG,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -o $@ $(FUZZ_RACK_SRCS) -ljson-c -lm
endif

# ---- run (from the host; scripts/in-root runs directly on a native host) --
fuzz: deps
	$(Q)$(MAKE) --no-print-directory fuzz-bin
	$(Q)mkdir -p $(FUZZ_WORK) $(FUZZ_ARTIFACTS)
	$(Q)WS_BIND=$(SRC) $(SRC)/scripts/in-root $(FUZZ_BIN) $(FUZZ_ARGS) \
		-max_total_time=$(FUZZ_TIME) $(FUZZ_WORK) $(FUZZ_SEEDS)
