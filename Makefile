# edgehook build. Flavours share one rule set and differ in CC and flags:
#   release  -O2, the binary ./edgehook
#   asan     ASan + UBSan, used by `make test`
#   static   musl-gcc -static, stripped
# Third-party sources are fetched by vendor/fetch.sh into build/vendor.

BUILD    := build
VENDOR   := $(BUILD)/vendor
FLAVOUR  ?= release
VERSION  := 0.1.0

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
BASEFLAGS := -std=c11 -pthread -D_GNU_SOURCE -DEDGEHOOK_VERSION='"$(VERSION)"' -fno-strict-aliasing
CC_release := cc
CF_release := -O2 -g
LD_release :=
CC_asan  := gcc
CF_asan  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
LD_asan  := -fsanitize=address,undefined
CC_static := musl-gcc
CF_static := -Os -ffunction-sections -fdata-sections
LD_static := -static -s -Wl,--gc-sections

CC_fuzz  := clang
CF_fuzz  := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined
LD_fuzz  := -fsanitize=address,undefined

CC       := $(CC_$(FLAVOUR))
OUT      := $(BUILD)/$(FLAVOUR)
CFLAGS_ALL := $(BASEFLAGS) $(CF_$(FLAVOUR)) -Iinclude -I$(VENDOR)/bearssl/inc -I$(VENDOR)/jsmn
# UBSan stops at BearSSL's unaligned 64-bit loads on x86 (ChaCha20-Poly1305
# records): under the sanitizers it reads words byte by byte instead.
BEARSSL_CFLAGS := $(CF_$(FLAVOUR)) -fno-strict-aliasing \
	$(if $(filter asan fuzz,$(FLAVOUR)),-DBR_LE_UNALIGNED=0 -DBR_BE_UNALIGNED=0)
LDFLAGS_ALL := $(LD_$(FLAVOUR)) -pthread

SRCS     := $(wildcard src/*/*.c)
OBJS     := $(patsubst src/%.c,$(OUT)/obj/%.o,$(SRCS)) $(OUT)/obj/gen/ui_assets.o
# The status page (GET /ui), compiled in by mk/embed.sh.
UI_FILES := /ui 'text/html; charset=utf-8' ui/status.html \
	/ui/status.css 'text/css; charset=utf-8' ui/status.css \
	/ui/status.js 'text/javascript; charset=utf-8' ui/status.js
MAIN_OBJ := $(OUT)/obj/main.o
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))
FUZZ_SRCS := $(wildcard fuzz/fuzz_*.c)
REPLAY_BINS := $(patsubst fuzz/%.c,$(OUT)/fuzz/%,$(FUZZ_SRCS))
LIBBEARSSL := $(OUT)/bearssl/libbearssl.a
STAMP    := $(VENDOR)/.stamp

.PHONY: all run test static fuzz fuzz-build bench valgrind clean flavour deb
all: edgehook

edgehook: $(STAMP) FORCE
	@$(MAKE) --no-print-directory -j2 FLAVOUR=release $(BUILD)/release/edgehook.bin
	@cp $(BUILD)/release/edgehook.bin $@

$(STAMP): vendor/fetch.sh vendor/SHA256SUMS
	@if [ -f $@ ] && [ vendor/SHA256SUMS -nt $@ ]; then rm -f $@; fi
	sh vendor/fetch.sh $(VENDOR)
	@touch $@

# Build one flavour: make flavour FLAVOUR=asan
flavour: $(OUT)/edgehook.bin $(UNIT_BINS) $(REPLAY_BINS)

$(OUT)/edgehook.bin: $(OBJS) $(MAIN_OBJ) $(LIBBEARSSL)
	$(CC) $(LDFLAGS_ALL) -o $@ $(MAIN_OBJ) $(OBJS) $(LIBBEARSSL)

# BearSSL's objects only know their sources: when its compiler or flags
# change, the recorded line differs and the objects are thrown away, so an
# old build cannot run with stale flags (as the UBSan alignment fix showed).
BEARSSL_FLAGS := $(OUT)/bearssl/.flags
$(BEARSSL_FLAGS): FORCE
	@mkdir -p $(dir $@)
	@echo '$(CC) $(BEARSSL_CFLAGS)' | cmp -s - $@ || \
		{ rm -rf $(OUT)/bearssl && mkdir -p $(OUT)/bearssl && echo '$(CC) $(BEARSSL_CFLAGS)' > $@; }

$(LIBBEARSSL): $(STAMP) $(BEARSSL_FLAGS)
	@echo "building BearSSL ($(FLAVOUR))"
	@$(MAKE) --no-print-directory -f mk/bearssl.mk SRC=$(VENDOR)/bearssl OUT=$(OUT)/bearssl CC="$(CC)" CFLAGS="$(BEARSSL_CFLAGS)"

$(OUT)/obj/%.o: src/%.c $(STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(WARN) -MMD -MP -c -o $@ $<

$(OUT)/gen/ui_assets.c: ui/status.html ui/status.css ui/status.js mk/embed.sh
	@mkdir -p $(dir $@)
	@sh mk/embed.sh $@ $(UI_FILES)

$(OUT)/obj/gen/ui_assets.o: $(OUT)/gen/ui_assets.c include/edgehook/ui_assets.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(WARN) -c -o $@ $<

$(OUT)/tests/%: tests/unit/%.c $(OBJS) $(LIBBEARSSL) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(WARN) -Itests/unit $(LDFLAGS_ALL) -o $@ $< $(OBJS) $(LIBBEARSSL)

# Corpus replay driver: the libFuzzer entry point fed by a plain main().
$(OUT)/fuzz/%: fuzz/%.c fuzz/replay_main.c tests/unit/guard.h $(OBJS) $(LIBBEARSSL)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(WARN) $(LDFLAGS_ALL) -o $@ $< fuzz/replay_main.c $(OBJS) $(LIBBEARSSL)

# libFuzzer binaries (clang): make fuzz FUZZ_SECONDS=60
FUZZ_BINS := $(patsubst fuzz/%.c,$(BUILD)/fuzz/bin/%,$(FUZZ_SRCS))
fuzz-build: $(FUZZ_BINS)
$(BUILD)/fuzz/bin/%: fuzz/%.c $(OBJS) $(LIBBEARSSL)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(WARN) -fsanitize=fuzzer $(LDFLAGS_ALL) -o $@ $< $(OBJS) $(LIBBEARSSL)

$(OUT)/loadgen: bench/loadgen.c $(OBJS)
	$(CC) $(CFLAGS_ALL) -Wall -Wextra -Werror -o $@ $< $(OUT)/obj/http/parser.o $(OUT)/obj/http/chars.o $(OUT)/obj/core/url.o $(OUT)/obj/core/strutil.o

# the bench's floor: a bare epoll responder, not linked with edgehook
$(OUT)/floor: bench/floor.c
	$(CC) $(CFLAGS_ALL) -Wall -Wextra -Werror -o $@ $<

run: edgehook
	./edgehook

test:
	@sh tests/setup.sh
	@$(MAKE) --no-print-directory $(STAMP)
	@$(MAKE) --no-print-directory -j2 FLAVOUR=release flavour
	@$(MAKE) --no-print-directory -j2 FLAVOUR=asan flavour
	@$(MAKE) --no-print-directory -j2 FLAVOUR=static $(BUILD)/static/edgehook.bin
	@cp $(BUILD)/release/edgehook.bin edgehook
	python3 tests/run.py --build $(BUILD) --flavours release,asan

# The integration suite against the release binary under valgrind memcheck.
valgrind: $(STAMP)
	@command -v valgrind >/dev/null || apt-get install -y valgrind
	@$(MAKE) --no-print-directory -j2 FLAVOUR=release flavour
	@$(MAKE) --no-print-directory -j2 FLAVOUR=static $(BUILD)/static/edgehook.bin
	EDGEHOOK_VALGRIND=1 python3 tests/run.py --build $(BUILD) --flavours release --only integration -j 2

static: $(STAMP)
	@command -v musl-gcc >/dev/null || apt-get install -y musl-tools
	@$(MAKE) --no-print-directory -j2 FLAVOUR=static $(BUILD)/static/edgehook.bin
	@ls -l $(BUILD)/static/edgehook.bin

# Debian package from the static binary: build/edgehook_VERSION_ARCH.deb
deb: $(STAMP)
	@command -v musl-gcc >/dev/null || apt-get install -y musl-tools
	@$(MAKE) --no-print-directory -j2 FLAVOUR=static $(BUILD)/static/edgehook.bin
	@sh packaging/mkdeb.sh $(BUILD)/static/edgehook.bin $(VERSION) $(BUILD)

fuzz: $(STAMP)
	@command -v clang >/dev/null || apt-get install -y clang
	@$(MAKE) --no-print-directory -j2 FLAVOUR=fuzz fuzz-build
	@sh fuzz/run.sh $(BUILD)/fuzz/bin $(or $(FUZZ_SECONDS),30)

bench: edgehook
	@$(MAKE) --no-print-directory FLAVOUR=release $(BUILD)/release/loadgen $(BUILD)/release/floor
	@$(MAKE) --no-print-directory -j2 FLAVOUR=static $(BUILD)/static/edgehook.bin
	@sh bench/run.sh

clean:
	rm -rf $(BUILD)/release $(BUILD)/asan $(BUILD)/static $(BUILD)/fuzz edgehook

FORCE:

-include $(wildcard $(OUT)/obj/*/*.d $(OUT)/obj/*.d)
