# fuzz.mk - libFuzzer targets for the parsers of outside input (tests/fuzz/fuzz_*.c).
#
# A fragment of the top Makefile: `make -f Makefile -f tests/fuzz/fuzz.mk fuzz` (or `make fuzz`
# once the Makefile includes it), then `bash tests/fuzz/run.sh`. The library's sources are
# compiled again with clang and the fuzzing sanitizers into their own folder, $(FUZZ_B), never
# mixing with the normal build; the embedded Lua scripts come from the Makefile's own
# generation rule: FUZZ_GEN_SRC names the generated sources the library links with.
ifndef BULLC_FUZZ_MK
BULLC_FUZZ_MK := 1

# this fragment names no default goal, wherever it is included
fuzz_saved_goal := $(.DEFAULT_GOAL)

B ?= build
FUZZ_B ?= build/fuzz
FUZZ_CC ?= clang
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c11 -g -O1 -Wall -Wextra -D_GNU_SOURCE -pthread -Iinclude -Ilibbullc \
               -I$(B)/gen -MMD -MP $(FUZZ_SAN)
FUZZ_LIBS := -lhiredis -lcjson -lssl -lcrypto -lm -pthread

# what the Makefile generates (the BullMQ scripts: their texts and typed call builders), made by
# its own rules: the sources the library links with, and the generated headers its sources
# include (made before compiling). The Makefile names them GEN_C and GEN_H.
FUZZ_GEN_SRC ?= $(or $(GEN_C),$(B)/gen/bullmq_scripts.c)
FUZZ_GEN_HDR ?= $(or $(GEN_H),$(B)/gen/bullmq_scripts.h)
FUZZ_LIB_SRC := $(wildcard libbullc/*.c libbullc/*/*.c libbullc/*/*/*.c)
FUZZ_LIB_OBJ := $(patsubst libbullc/%.c,$(FUZZ_B)/obj/%.o,$(FUZZ_LIB_SRC)) \
                $(patsubst $(B)/gen/%.c,$(FUZZ_B)/obj/gen/%.o,$(FUZZ_GEN_SRC))
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(FUZZ_B)/bin/%,$(FUZZ_SRC))

.PHONY: fuzz
fuzz: $(FUZZ_BINS)

# the library: instrumented for coverage (no libFuzzer main) and the sanitizers
$(FUZZ_B)/obj/%.o: libbullc/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_B)/obj/gen/%.o: $(B)/gen/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_LIB_OBJ): | $(FUZZ_GEN_SRC) $(FUZZ_GEN_HDR)

$(FUZZ_B)/libbullc-fuzz.a: $(FUZZ_LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

# the targets: warnings are errors here (the library's own flags are the Makefile's business)
$(FUZZ_B)/bin/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(FUZZ_B)/libbullc-fuzz.a
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -Itests/fuzz -fsanitize=fuzzer $< -o $@ \
	    $(FUZZ_B)/libbullc-fuzz.a $(FUZZ_LIBS)

-include $(wildcard $(FUZZ_B)/obj/*.d $(FUZZ_B)/obj/*/*.d $(FUZZ_B)/obj/*/*/*.d $(FUZZ_B)/bin/*.d)

.DEFAULT_GOAL := $(fuzz_saved_goal)
endif
