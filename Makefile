# mason build. `make` builds the operator, the webhook and mason-score, `make test` runs
# everything CI runs, `make demo` runs the main job on a local control plane. Knobs:
#   SANITIZE=address,undefined   build with those sanitizers (into build/<knob>/)
#   DEVELOPER=1                  turn warnings into errors
CC ?= cc
PKGS := libcurl jansson yaml-0.1 libcyaml openssl libmicrohttpd sqlite3
SANITIZE ?=
DEVELOPER ?=

comma := ,
VARIANT := $(if $(SANITIZE),$(subst $(comma),-,$(SANITIZE)),default)
B := build/$(VARIANT)

WARNINGS := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
	-Wvla -Wwrite-strings -Wno-missing-field-initializers
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARNINGS) $(CFLAGS) -Icommon -Ioperator -Iwebhook \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null) -MMD -MP
LDLIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
ifneq ($(DEVELOPER),)
ALL_CFLAGS += -Werror
endif
ifneq ($(SANITIZE),)
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

COMMON_SRC := $(wildcard common/*.c)
OPERATOR_SRC := $(filter-out operator/main.c,$(wildcard operator/*.c))
WEBHOOK_SRC := $(filter-out webhook/main.c,$(wildcard webhook/*.c))
TEST_SRC := $(wildcard tests/unit/test_*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz-*.c)

obj = $(patsubst %.c,$(B)/%.o,$(1))
LIBCOMMON := $(B)/libmason-common.a
LIBOPERATOR := $(B)/libmason-operator.a
LIBWEBHOOK := $(B)/libmason-webhook.a
# The webhook library calls the operator's secret policy, so it comes first.
LIBS := $(LIBWEBHOOK) $(LIBOPERATOR) $(LIBCOMMON)
OPERATOR := $(B)/bin/mason-operator
WEBHOOK := $(B)/bin/mason-webhook
TOOLS := $(patsubst tools/%.c,$(B)/bin/%,$(wildcard tools/*.c))
TESTS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(TEST_SRC))
FUZZ_REPLAY := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRC))

.PHONY: all check test unit valgrind e2e demo bench fuzz fuzz-replay fmt fmt-check lint clean \
	deps cluster-up cluster-down toolchain
all: $(OPERATOR) $(if $(wildcard webhook/main.c),$(WEBHOOK)) $(TOOLS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBCOMMON): $(call obj,$(COMMON_SRC))
$(LIBOPERATOR): $(call obj,$(OPERATOR_SRC))
$(LIBWEBHOOK): $(call obj,$(WEBHOOK_SRC))
$(LIBCOMMON) $(LIBOPERATOR) $(LIBWEBHOOK):
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(OPERATOR): $(call obj,operator/main.c) $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS)

$(WEBHOOK): $(call obj,webhook/main.c) $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS)

# Tools: every tools/NAME.c is one program, build/<variant>/bin/NAME.
$(B)/bin/%: $(B)/tools/%.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS)

$(B)/tests/%: $(B)/tests/unit/%.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS) -lcmocka

# Fuzz targets built with a replay driver, so every compiler can run the seed corpora.
$(B)/fuzz/%: $(B)/tests/fuzz/%.o $(B)/tests/fuzz/replay.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(B)/tests/fuzz/replay.o $(LIBS) $(LDLIBS)

# Unit tests: every tests/unit/test_*.c is one cmocka program.
unit: $(TESTS) $(FUZZ_REPLAY)
	@scripts/run-unit.sh $(TESTS)

check: unit

fuzz-replay: $(FUZZ_REPLAY)
	@scripts/run-fuzz.sh replay $(FUZZ_REPLAY)

# Everything CI runs: unit tests under ASan and UBSan, valgrind, fuzz corpora,
# and the end-to-end suites on the local control plane.
test:
	@scripts/test-all.sh

valgrind: $(TESTS)
	@scripts/run-unit.sh --valgrind $(TESTS)

e2e: all
	@scripts/run-e2e.sh

demo:
	@scripts/demo.sh

bench: all
	@bench/run.sh

fuzz:
	@scripts/run-fuzz.sh libfuzzer $(FUZZ_SRC)

deps:
	@scripts/deps.sh

toolchain:
	@e2e/toolchain/build.sh

cluster-up:
	@e2e/cluster.sh up

cluster-down:
	@e2e/cluster.sh down

FMT_FILES = $(wildcard common/*.[ch] operator/*.[ch] webhook/*.[ch] tools/*.[ch] tests/unit/*.[ch] tests/fuzz/*.[ch] bench/*.[ch])
fmt:
	clang-format -i $(FMT_FILES)

fmt-check:
	@clang-format --dry-run --Werror $(FMT_FILES)

lint:
	$(MAKE) -B DEVELOPER=1 all $(TESTS)
	@scripts/lint.sh

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
