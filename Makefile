# promo — build, run, test. `make` builds build/promo; `make run` starts the
# server on ./promo.db; `make test` runs every test (unit, API, sanitizers).
# Missing Debian packages are installed by scripts/deps.sh first.

CC      ?= cc
PKGS    := libmicrohttpd jansson sqlite3 libsodium libcurl
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-missing-field-initializers
BASE    := -std=c11 -D_GNU_SOURCE -pthread -Isrc -Ibuild/gen -g $(WARN)
CFLAGS  ?= -O2
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lmicrohttpd -ljansson -lsqlite3 -lsodium -lcurl) -lcsv -lm -pthread
SAN     := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all

SRCS    := $(wildcard src/*.c src/util/*.c src/core/*.c src/store/*.c src/http/*.c src/api/*.c src/jobs/*.c src/cli/*.c)
CORE    := $(wildcard src/util/*.c src/core/*.c)
MIGS    := $(sort $(wildcard src/store/migrations/*.sql))
GEN     := build/gen/migrations.c
UNITS   := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))

OBJS     = $(patsubst src/%.c,build/obj/%.o,$(SRCS)) build/obj/gen/migrations.o
SOBJS    = $(patsubst src/%.c,build/san/%.o,$(SRCS)) build/san/gen/migrations.o
COREOBJ  = $(patsubst src/%.c,build/obj/%.o,$(CORE))
CORESAN  = $(patsubst src/%.c,build/san/%.o,$(CORE))

.PHONY: all deps run test unit asan bench clean fmt
all: deps build/promo

deps:
	@scripts/deps.sh build

build/promo: $(OBJS)
	$(CC) $(BASE) $(CFLAGS) -o $@ $^ $(LDLIBS)

build/san/promo: $(SOBJS)
	$(CC) $(BASE) $(SAN) -o $@ $^ $(LDLIBS)

build/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(CFLAGS) -MMD -MP -c -o $@ $<

build/san/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(SAN) -MMD -MP -c -o $@ $<

$(GEN): $(MIGS) scripts/embed_sql.sh
	@mkdir -p build/gen
	scripts/embed_sql.sh $(MIGS) > $@

build/obj/gen/migrations.o: $(GEN)
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(CFLAGS) -c -o $@ $<

build/san/gen/migrations.o: $(GEN)
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(SAN) -c -o $@ $<

# Unit tests: each tests/unit/test_X.c links the pure layers (core, util).
build/tests/%: tests/unit/%.c $(COREOBJ)
	@mkdir -p build/tests
	$(CC) $(BASE) $(CFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

build/tests-san/%: tests/unit/%.c $(CORESAN)
	@mkdir -p build/tests-san
	$(CC) $(BASE) $(SAN) -o $@ $^ $(LDLIBS) -lcmocka

unit: deps $(addprefix build/tests/,$(UNITS)) $(addprefix build/tests-san/,$(UNITS))

asan: deps build/san/promo

run: all
	build/promo serve

test:
	@scripts/deps.sh test
	@$(MAKE) -s all asan unit
	@tests/run.sh

bench: all
	@scripts/deps.sh test
	@bench/run.sh

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
