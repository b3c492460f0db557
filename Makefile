# libbullc - build, test and install. See README.md.
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR ?=

CC ?= cc
CFLAGS ?= -O2 -g
LDFLAGS ?=
SANITIZE ?=
B ?= build

VERSION := $(shell sed -n 's/^\#define BULLC_VERSION_STRING "\(.*\)"/\1/p' include/bullc.h)
# While the version is 0.x every minor release may break the ABI: the SONAME carries it.
SOVERSION := $(word 1,$(subst ., ,$(VERSION))).$(word 2,$(subst ., ,$(VERSION)))

WARN := -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
        -Wno-format-nonliteral -Werror
REAL_CFLAGS := $(CFLAGS) $(WARN) -D_GNU_SOURCE -pthread -fPIC -fvisibility=hidden \
               -Iinclude -Ilibbullc -I$(B)/gen -MMD -MP $(SANITIZE) $(CURL_CFLAGS)
REAL_LDFLAGS := $(LDFLAGS) -pthread $(SANITIZE)
# libcurl posts the OTLP trace export (libbullc/trace/): its headers only. The library is not
# linked; a tracer loads libcurl.so.4 when tracing is configured (libbullc/trace/curl_api.c), with
# glibc's dlopen, which lives in libc itself (glibc >= 2.34: no -ldl).
CURL_CFLAGS := $(shell pkg-config --cflags libcurl 2>/dev/null)
LIBS := -lhiredis -lcjson -lssl -lcrypto -lm

LIB_SRC := $(wildcard libbullc/*/*.c libbullc/*/*/*.c)
# Each protocol's Lua scripts become one generated C file (script texts, typed call builders):
# lua/bullmq/ (prefix bmq) and lua/bull/ (prefix bull).
GEN_C := $(B)/gen/bullmq_scripts.c $(B)/gen/bull_scripts.c
GEN_H := $(B)/gen/bullmq_scripts.h $(B)/gen/bull_scripts.h
LIB_OBJ := $(patsubst libbullc/%.c,$(B)/obj/%.o,$(LIB_SRC)) $(B)/obj/gen/bullmq_scripts.o \
           $(B)/obj/gen/bull_scripts.o
BULLMQ_LUA := $(wildcard lua/bullmq/*.lua lua/bullmq/include/*.lua)
BULL_LUA := $(wildcard lua/bull/*.lua lua/bull/include/*.lua)

EXAMPLES := echo_worker bullc_enqueue inventory_worker
EXAMPLE_BINS := $(addprefix $(B)/bin/,$(EXAMPLES))
# inventory_worker: its own files, plus libpq (pkg-config, else pg_config)
INV_SRC := $(wildcard examples/inventory/*.c)
INV_OBJ := $(patsubst examples/inventory/%.c,$(B)/obj/inventory/%.o,$(INV_SRC)) \
           $(B)/obj/inventory/inventory_worker.o
PQ_CFLAGS := $(shell pkg-config --cflags libpq 2>/dev/null || echo "-I$$(pg_config --includedir)")
PQ_LIBS := $(shell pkg-config --libs libpq 2>/dev/null || echo "-L$$(pg_config --libdir) -lpq")
# examples/common/: the HTTP endpoints and log lines the example workers share; linked into
# those examples only, never into the library. libmicrohttpd is not linked: http.c dlopen()s it
# when HTTP is asked for (its header is still needed to build); -ldl for a libc before 2.34
EX_COMMON_SRC := $(wildcard examples/common/*.c)
EX_COMMON_OBJ := $(patsubst examples/common/%.c,$(B)/obj/excommon/%.o,$(EX_COMMON_SRC))
DL_LIBS := -ldl
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
# helper programs the interop tests run (not cmocka suites)
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BINS := $(patsubst tests/tools/%.c,$(B)/tests/tools/%,$(TOOL_SRC))

.PHONY: all lib examples tools test unit asan ubsan tsan install uninstall clean deps bench demo

all: lib examples tools $(B)/bullc.pc

lib: $(B)/libbullc.a $(B)/libbullc.so

examples: $(EXAMPLE_BINS)

tools: $(TOOL_BINS)

# every object may include the generated header: it exists before any compiles
$(B)/obj/%.o: libbullc/%.c | $(GEN_H)
	@mkdir -p $(@D)
	$(CC) $(REAL_CFLAGS) -c $< -o $@

$(B)/gen/bullmq_scripts.h: $(B)/gen/bullmq_scripts.c
$(B)/gen/bull_scripts.h: $(B)/gen/bull_scripts.c
# the folders too: removing a script changes only its folder's time
$(B)/gen/bullmq_scripts.c: $(BULLMQ_LUA) lua/bullmq lua/bullmq/include lua/luagen.sh | $(B)/gen
	sh lua/luagen.sh lua/bullmq bmq $(B)/gen/bullmq_scripts.h $@
$(B)/gen/bull_scripts.c: $(BULL_LUA) lua/bull lua/bull/include lua/luagen.sh | $(B)/gen
	sh lua/luagen.sh lua/bull bull $(B)/gen/bull_scripts.h $@

$(B)/obj/gen/%.o: $(B)/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(REAL_CFLAGS) -c $< -o $@

$(B)/libbullc.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(B)/libbullc.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libbullc.so.$(SOVERSION) -o $(B)/libbullc.so.$(VERSION) $^ \
	    $(REAL_LDFLAGS) $(LIBS)
	ln -sf libbullc.so.$(VERSION) $(B)/libbullc.so.$(SOVERSION)
	ln -sf libbullc.so.$(VERSION) $@

# pkg-config file for the given PREFIX/LIBDIR/INCLUDEDIR (written again by install)
# libcurl (tracing's exporter) is not named at all: a tracer loads it at run time, so neither a
# program linking libbullc.so nor one linking libbullc.a links it.
define write_pc
	printf 'prefix=%s\nlibdir=%s\nincludedir=%s\n\nName: libbullc\nDescription: %s\nVersion: %s\nRequires.private: hiredis libcjson libssl libcrypto\nLibs: -L$${libdir} -lbullc\nLibs.private: -pthread -lm\nCflags: -I$${includedir}\n' \
	    '$(PREFIX)' '$(LIBDIR)' '$(INCLUDEDIR)' 'Process BullMQ jobs from C' '$(VERSION)' > $(1)
endef

$(B)/bullc.pc: Makefile include/bullc.h | $(B)
	$(call write_pc,$@)

$(B)/obj/inventory/%.o: examples/inventory/%.c | $(B)/obj/inventory
	$(CC) $(REAL_CFLAGS) $(PQ_CFLAGS) -c $< -o $@

$(B)/obj/inventory/inventory_worker.o: examples/inventory_worker.c | $(B)/obj/inventory
	$(CC) $(REAL_CFLAGS) $(PQ_CFLAGS) -c $< -o $@

$(B)/bin/inventory_worker: $(INV_OBJ) $(B)/libbullc.a | $(B)/bin
	$(CC) $(INV_OBJ) -o $@ $(B)/libbullc.a $(REAL_LDFLAGS) $(LIBS) $(PQ_LIBS)

$(B)/bin/%: examples/%.c $(B)/libbullc.a | $(B)/bin
	$(CC) $(REAL_CFLAGS) $< -o $@ $(B)/libbullc.a $(REAL_LDFLAGS) $(LIBS)

# the producer CLI (examples/enqueue.c) is installed under a prefixed name
$(B)/bin/bullc_enqueue: examples/enqueue.c $(B)/libbullc.a | $(B)/bin
	$(CC) $(REAL_CFLAGS) $< -o $@ $(B)/libbullc.a $(REAL_LDFLAGS) $(LIBS)

$(B)/tests/%: tests/unit/%.c $(B)/libbullc.a | $(B)/tests
	$(CC) $(REAL_CFLAGS) $< -o $@ $(B)/libbullc.a $(REAL_LDFLAGS) $(LIBS) -lcmocka

$(B)/tests/tools/%: tests/tools/%.c $(B)/libbullc.a | $(B)/tests/tools
	$(CC) $(REAL_CFLAGS) $< -o $@ $(B)/libbullc.a $(REAL_LDFLAGS) $(LIBS)

$(B)/obj/excommon/%.o: examples/common/%.c | $(B)/obj/excommon
	$(CC) $(REAL_CFLAGS) -c $< -o $@

# the shared objects come before the library again, so that what they use of it is linked
$(B)/bin/echo_worker $(B)/bin/inventory_worker: $(EX_COMMON_OBJ)
$(B)/bin/echo_worker $(B)/bin/inventory_worker: LIBS := $(EX_COMMON_OBJ) $(B)/libbullc.a $(LIBS) \
    $(DL_LIBS)

$(B)/obj/excommon:
	mkdir -p $@

$(B) $(B)/obj $(B)/obj/inventory $(B)/gen $(B)/bin $(B)/tests $(B)/tests/tools:
	mkdir -p $@

unit: $(UNIT_BINS)

# Installs what the build and tests need (Debian packages, the pinned npm packages).
deps:
	sh tests/deps.sh

test: deps
	$(MAKE) all unit
	BULLC_BUILD=$(B) bash tests/run.sh

# Sanitizer builds live in their own folders, so they never mix with the normal build.
asan: deps
	$(MAKE) B=build/asan CFLAGS="-O1 -g" \
	    SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    all unit
	BULLC_SANITIZER=asan BULLC_BUILD=build/asan BULLC_BIN_DIR=$(CURDIR)/build/asan/bin \
	    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 bash tests/run.sh

ubsan: deps
	$(MAKE) B=build/ubsan CFLAGS="-O1 -g" SANITIZE="-fsanitize=undefined -fno-sanitize-recover=all" \
	    all unit
	BULLC_SANITIZER=ubsan BULLC_BUILD=build/ubsan BULLC_BIN_DIR=$(CURDIR)/build/ubsan/bin bash tests/run.sh

tsan: deps
	$(MAKE) B=build/tsan CFLAGS="-O1 -g" SANITIZE="-fsanitize=thread" all unit
	BULLC_SANITIZER=tsan BULLC_BUILD=build/tsan BULLC_BIN_DIR=$(CURDIR)/build/tsan/bin bash tests/run.sh

bench: deps
	$(MAKE) all
	bash tests/bench/run.sh

install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 include/bullc.h $(DESTDIR)$(INCLUDEDIR)/bullc.h
	install -m 644 $(B)/libbullc.a $(DESTDIR)$(LIBDIR)/libbullc.a
	install -m 755 $(B)/libbullc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libbullc.so.$(VERSION)
	ln -sf libbullc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libbullc.so.$(SOVERSION)
	ln -sf libbullc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libbullc.so
	$(call write_pc,$(DESTDIR)$(PKGCONFIGDIR)/bullc.pc)

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/bullc.h $(DESTDIR)$(LIBDIR)/libbullc.a \
	    $(DESTDIR)$(LIBDIR)/libbullc.so $(DESTDIR)$(LIBDIR)/libbullc.so.$(SOVERSION) \
	    $(DESTDIR)$(LIBDIR)/libbullc.so.$(VERSION) $(DESTDIR)$(PKGCONFIGDIR)/bullc.pc

clean:
	rm -rf $(B)

-include $(wildcard $(B)/obj/*.d $(B)/obj/*/*.d $(B)/obj/*/*/*.d $(B)/bin/*.d $(B)/tests/*.d)

# The admin tool bullc (examples/bullc.c; README "The bullc tool"), installed in BINDIR.
BINDIR ?= $(PREFIX)/bin
all examples: $(B)/bin/bullc
$(B)/bin/bullc: examples/bullc_fmt.h
install: install-bullc
uninstall: uninstall-bullc
.PHONY: install-bullc uninstall-bullc
install-bullc: all
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(B)/bin/bullc $(DESTDIR)$(BINDIR)/bullc
uninstall-bullc:
	rm -f $(DESTDIR)$(BINDIR)/bullc

# The inventory worker end to end: private Redis + PostgreSQL, the Node producer's story.
demo: deps
	$(MAKE) all
	bash examples/demo/demo.sh

# libFuzzer targets for the parsers of outside input (make fuzz; tests/fuzz/run.sh runs them)
include tests/fuzz/fuzz.mk
