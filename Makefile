# promo — build, run, test. `make` builds build/promo; `make run` starts the
# server on ./promo.db; `make test` runs every test (unit, API, sanitizers).
# Missing Debian packages are installed by scripts/deps.sh first.

CC      ?= cc
# Build folder: `make B=/tmp/mybuild` keeps a parallel build apart.
B       ?= build
PKGS    := libmicrohttpd jansson yajl sqlite3 libsodium libcurl gnutls
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-missing-field-initializers
BASE    := -std=c11 -D_GNU_SOURCE -pthread -Isrc -I$(B)/gen -g $(WARN)
CFLAGS  ?= -O2
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lmicrohttpd -ljansson -lyajl -lsqlite3 -lsodium -lcurl -lgnutls) -lcsv -linih -lm -pthread
SAN     := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
# The PostgreSQL store (src/store/pg_*.c) links libpq.
BASE    += $(shell pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)
LDLIBS  += $(shell pkg-config --libs libpq 2>/dev/null || echo -lpq)

SRCS    := $(wildcard src/*.c src/util/*.c src/core/*.c src/store/*.c src/http/*.c src/api/*.c src/jobs/*.c src/cli/*.c)
CORE    := $(wildcard src/util/*.c src/core/*.c)
MIGS    := $(sort $(wildcard src/store/migrations/*.sql))
GEN     := $(B)/gen/migrations.c
UNITS   := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
# notify/: templates and signatures are pure (unit-tested); smtp/webhook senders use libcurl.
SRCS    += $(wildcard src/notify/*.c)
CORE    += src/notify/template.c src/notify/sign.c src/notify/retry.c

OBJS     = $(patsubst src/%.c,$(B)/obj/%.o,$(SRCS)) $(B)/obj/gen/migrations.o
SOBJS    = $(patsubst src/%.c,$(B)/san/%.o,$(SRCS)) $(B)/san/gen/migrations.o
COREOBJ  = $(patsubst src/%.c,$(B)/obj/%.o,$(CORE))
CORESAN  = $(patsubst src/%.c,$(B)/san/%.o,$(CORE))

.PHONY: all deps run test unit asan bench clean fmt fuzz fuzz-regress
all: deps $(B)/promo

deps:
	@scripts/deps.sh build

$(B)/promo: $(OBJS)
	$(CC) $(BASE) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/san/promo: $(SOBJS)
	$(CC) $(BASE) $(SAN) -o $@ $^ $(LDLIBS)

$(B)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B)/san/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(SAN) -MMD -MP -c -o $@ $<

# The list of migration files, rewritten only when it changes, so that a
# migration removed or renamed also rebuilds the embedded set.
$(B)/gen/migrations.list: FORCE
	@mkdir -p $(B)/gen
	@echo '$(MIGS)' | cmp -s - $@ || echo '$(MIGS)' > $@

FORCE:

$(GEN): $(MIGS) $(B)/gen/migrations.list scripts/embed_sql.sh
	@mkdir -p $(B)/gen
	scripts/embed_sql.sh $(MIGS) > $@

$(B)/obj/gen/migrations.o: $(GEN)
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(CFLAGS) -c -o $@ $<

$(B)/san/gen/migrations.o: $(GEN)
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(SAN) -c -o $@ $<

# Unit tests: each tests/unit/test_X.c links the pure layers (core, util).
$(B)/tests/%: tests/unit/%.c $(COREOBJ)
	@mkdir -p $(B)/tests
	$(CC) $(BASE) $(CFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(B)/tests-san/%: tests/unit/%.c $(CORESAN)
	@mkdir -p $(B)/tests-san
	$(CC) $(BASE) $(SAN) -o $@ $^ $(LDLIBS) -lcmocka

unit: deps $(addprefix $(B)/tests/,$(UNITS)) $(addprefix $(B)/tests-san/,$(UNITS))

asan: deps $(B)/san/promo

# ---- fuzzing --------------------------------------------------------------------
# `make fuzz`: each tests/fuzz/fuzz_X.c built with clang's libFuzzer and run
# for FUZZ_SECONDS from its seeds in tests/fuzz/corpus/X. `make test` replays
# tests/fuzz/corpus/X and tests/fuzz/regress/X once through the same harness
# linked with tests/fuzz/driver.c and the ASan/UBSan objects, so the replay
# needs no clang. The harnesses link api/, store/, core/ and util/ from an
# archive (only what they call is pulled in) and never open a database.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
LIBSRCS      := $(wildcard src/util/*.c src/core/*.c src/store/*.c src/api/*.c)
LIBSRCS      += $(wildcard src/notify/*.c)
LIBSAN        = $(patsubst src/%.c,$(B)/san/%.o,$(LIBSRCS)) $(B)/san/gen/migrations.o
LIBFUZZ       = $(patsubst src/%.c,$(B)/fuzz/obj/%.o,$(LIBSRCS)) $(B)/fuzz/obj/gen/migrations.o

$(B)/san/libpromo.a: $(LIBSAN)
	rm -f $@ && ar rcs $@ $^

$(B)/fuzz/libpromo.a: $(LIBFUZZ)
	rm -f $@ && ar rcs $@ $^

$(B)/fuzz/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(BASE) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(B)/fuzz/obj/gen/migrations.o: $(GEN)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(BASE) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c -o $@ $<

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(B)/fuzz/libpromo.a
	$(FUZZ_CC) $(BASE) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< $(B)/fuzz/libpromo.a $(LDLIBS)

$(B)/fuzz-regress/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/driver.c tests/fuzz/fuzz.h $(B)/san/libpromo.a
	@mkdir -p $(B)/fuzz-regress
	$(CC) $(BASE) $(SAN) -o $@ $< tests/fuzz/driver.c $(B)/san/libpromo.a $(LDLIBS)

fuzz-regress: deps $(addprefix $(B)/fuzz-regress/fuzz_,$(FUZZ_TARGETS))

fuzz:
	@scripts/deps.sh test
	@$(MAKE) -s $(addprefix $(B)/fuzz/fuzz_,$(FUZZ_TARGETS))
	@B=$(B) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh fuzz $(FUZZ_TARGETS)

run: all
	$(B)/promo serve

test:
	@scripts/deps.sh test
	@$(MAKE) -s all asan unit fuzz-regress
	@B=$(B) tests/run.sh

bench: all
	@scripts/deps.sh test
	@bench/run.sh

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
