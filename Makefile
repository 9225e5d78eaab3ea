# flowyard - GNU Makefile (GNU make 4.x; no autotools, no cmake).
#
#   make                 library and programs into build/ (never installs)
#   make run             install missing Debian packages, build, run the main job
#   make check           install missing Debian packages, build, run all tests
#   make test            the same tests without the package step
#   make fuzz            each fuzz target for FUZZ_SECONDS (clang + libFuzzer)
#   make soak            the full chain for SOAK_SECONDS (bench/soak.sh)
#   make install         PREFIX=/usr/local DESTDIR= BINDIR= SBINDIR= MANDIR=
#                        SYSCONFDIR= UNITDIR= SYSUSERSDIR= TMPFILESDIR=
#   make uninstall       the same variables
#   make help            every target and variable
#
# Everything built goes under $(BUILD). Sources are found by wildcard: lib/*.c,
# proto/*.proto, <program>/*.c, tests/unit/test_*.c, tests/fuzz/fuzz_*.c and
# executable tests/integration/*.sh; any of them may be absent.

MAKEFLAGS += --no-builtin-rules
.SUFFIXES:
.DELETE_ON_ERROR:
# Keep every file made through a pattern rule (generated code, objects).
.SECONDARY:
.DEFAULT_GOAL := all

# ---------------------------------------------------------------------------
# Variables you may override on the command line

CC          ?= cc
FUZZ_CC     ?= clang
AR          ?= ar
PKG_CONFIG  ?= pkg-config
PROTOC_C    ?= protoc-c
CLANG_FORMAT ?= clang-format
BUILD       ?= build

CFLAGS      ?= -O2 -g
WARNINGS    ?= -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	       -Wmissing-prototypes
SAN_FLAGS   ?= -fsanitize=address,undefined -fno-omit-frame-pointer \
	       -fno-sanitize-recover=all
LDFLAGS     ?=
LDLIBS      ?=

PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
DESTDIR     ?=

FUZZ_SECONDS       ?= 300
FUZZ_SMOKE_SECONDS ?= 20
# libFuzzer's limit for one input, in seconds (a slower input is a finding).
FUZZ_TIMEOUT       ?= 10
# Integration scripts that also run against the ASan/UBSan programs in
# `make test`: those that feed the daemons and nfq hostile or broken input,
# faults, control clients and every test capture, about 3 minutes on 2
# idle cores. "all" runs every script but those that bring their own
# checker (valgrind) or test no program (install): 2 minutes more, which
# would take `make check` near its 15-minute budget.
ASAN_INTEG_SCRIPTS ?= collectord_basic.sh collectord_ctl.sh \
		      collectord_diskfull.sh collectord_flood.sh \
		      collectord_import.sh collectord_seq.sh \
		      collectord_threads.sh exporterd_ctl.sh \
		      exporterd_live.sh exporterd_netns.sh exporterd_nfcapd.sh \
		      exporterd_replay.sh exporterd_truth.sh \
		      exporterd_unreach.sh nfq_basic.sh nfq_corrupt.sh \
		      nfq_ctl.sh privileges.sh
ASAN_INTEG_NEVER   := valgrind_daemons.sh install.sh
# Limit for one unit test program or integration script, in seconds.
TEST_TIMEOUT       ?= 600

# Debian packages: `make deps` installs the missing ones.
BUILD_DEPS := libpcap-dev libev-dev liblz4-dev libprotobuf-c-dev \
	      protobuf-c-compiler libcmocka-dev pkg-config
TEST_DEPS  := tshark nfdump softflowd clang libclang-rt-14-dev valgrind \
	      iproute2 python3 chromium strace clang-format

# pkg-config module names (overridable, e.g. to try the "missing" path).
PCAP_PC    ?= libpcap
LZ4_PC     ?= liblz4
PROTOBUF_PC ?= libprotobuf-c
CMOCKA_PC  ?= cmocka
# libev ships no .pc file on Debian: found by preprocessing this header.
LIBEV_H    ?= ev.h

V ?= 0
ifeq ($(V),0)
Q := @
msg = @printf '  %-7s %s\n' $(1) $(2);
else
Q :=
msg =
endif

# ---------------------------------------------------------------------------
# Sources

PROGRAM_DIRS := exporterd collectord nfq
DAEMONS      := exporterd collectord

LIB_SRC   := $(sort $(wildcard lib/*.c))
PROTOS    := $(sort $(wildcard proto/*.proto))
GEN_C     := $(PROTOS:proto/%.proto=$(BUILD)/gen/%.pb-c.c)
GEN_H     := $(GEN_C:.c=.h)
PROGS     := $(foreach d,$(PROGRAM_DIRS),$(if $(wildcard $(d)/*.c),$(d)))
UNIT      := $(sort $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c)))
FUZZ      := $(sort $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c)))
INTEG     := $(sort $(wildcard tests/integration/*.sh))

LIB_OBJ      := $(LIB_SRC:%.c=$(BUILD)/%.o) $(GEN_C:.c=.o)
ASAN_LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/asan/%.o) \
		$(GEN_C:$(BUILD)/gen/%.c=$(BUILD)/asan/gen/%.o)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/fuzz/%.o) \
		$(GEN_C:$(BUILD)/gen/%.c=$(BUILD)/fuzz/gen/%.o)
PROG_OBJ     := $(foreach d,$(PROGS),$(patsubst %.c,$(BUILD)/%.o,$(wildcard $(d)/*.c)))
UNIT_OBJ     := $(UNIT:%=$(BUILD)/tests/unit/%.o)
ASAN_UNIT_OBJ := $(UNIT:%=$(BUILD)/asan/tests/unit/%.o)
FUZZ_OBJ     := $(FUZZ:%=$(BUILD)/fuzz/tests/fuzz/%.o)

LIBA       := $(BUILD)/libflowyard.a
ASAN_LIBA  := $(BUILD)/asan/libflowyard.a
FUZZ_LIBA  := $(BUILD)/fuzz/libflowyard.a
BIN_FILES  := $(PROGS:%=$(BUILD)/bin/%)
# Test and benchmark tools (load generators...): tests/tools/*.c, one each.
TOOL_BINS  := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(wildcard tests/tools/*.c))
UNIT_BINS  := $(UNIT:%=$(BUILD)/tests/%)
ASAN_BINS  := $(UNIT:%=$(BUILD)/asan/tests/%)
# The programs built with the sanitizers, for the integration scripts; not
# in $(BUILD)/asan/bin: a script that takes BIN's parent for a BUILD (to
# run make there) would then build plain objects over the sanitizer ones.
ASAN_BIN_FILES := $(PROGS:%=$(BUILD)/asan-bin/%)
ASAN_PROG_OBJ  := $(foreach d,$(PROGS),$(patsubst %.c,$(BUILD)/asan/%.o,$(wildcard $(d)/*.c)))
ASAN_INTEG     := $(filter-out $(addprefix tests/integration/,$(ASAN_INTEG_NEVER)), \
		  $(if $(filter all,$(ASAN_INTEG_SCRIPTS)),$(INTEG), \
		  $(filter $(addprefix tests/integration/,$(ASAN_INTEG_SCRIPTS)),$(INTEG))))
FUZZ_BINS  := $(FUZZ:%=$(BUILD)/fuzz/%)

FORMAT_FILES = $(sort $(wildcard lib/*.[ch] exporterd/*.[ch] collectord/*.[ch] \
	       nfq/*.[ch]) $(shell find tests -name '*.[ch]' 2>/dev/null))

# ---------------------------------------------------------------------------
# Dependency detection (at parse time, only for goals that compile)

# Goals that need no library: never fail because one is missing.
NOLIB_GOALS  := clean deps deps-build help format format-check check run \
		uninstall
# Goals that also need cmocka.
CMOCKA_GOALS := test tests asan-tests check-build-tests
GOALS        := $(if $(MAKECMDGOALS),$(MAKECMDGOALS),all)

have_pc = $(shell $(PKG_CONFIG) --exists $(1) 2>/dev/null && echo yes)
missing_msg = flowyard: $(1) not found (Debian package: $(2)); run 'make deps' as root

ifneq ($(filter-out $(NOLIB_GOALS),$(GOALS)),)
  MISSING :=
  ifeq ($(shell command -v $(PKG_CONFIG) 2>/dev/null),)
    $(info $(call missing_msg,$(PKG_CONFIG),pkg-config))
    MISSING += pkg-config
  else
    ifeq ($(call have_pc,$(PCAP_PC)),)
      $(info $(call missing_msg,libpcap,libpcap-dev))
      MISSING += libpcap-dev
    endif
    ifeq ($(call have_pc,$(LZ4_PC)),)
      $(info $(call missing_msg,liblz4,liblz4-dev))
      MISSING += liblz4-dev
    endif
    ifeq ($(call have_pc,$(PROTOBUF_PC)),)
      $(info $(call missing_msg,libprotobuf-c,libprotobuf-c-dev))
      MISSING += libprotobuf-c-dev
    endif
    ifneq ($(filter $(CMOCKA_GOALS),$(GOALS)),)
      ifeq ($(call have_pc,$(CMOCKA_PC)),)
        $(info $(call missing_msg,cmocka,libcmocka-dev))
        MISSING += libcmocka-dev
      endif
    endif
  endif
  ifeq ($(shell printf '\043include <$(LIBEV_H)>\n' | \
		$(CC) -E -x c - >/dev/null 2>&1 && echo yes),)
    $(info $(call missing_msg,libev ($(LIBEV_H)),libev-dev))
    MISSING += libev-dev
  endif
  ifneq ($(PROTOS),)
    ifeq ($(shell command -v $(PROTOC_C) 2>/dev/null),)
      $(info $(call missing_msg,$(PROTOC_C),protobuf-c-compiler))
      MISSING += protobuf-c-compiler
    endif
  endif
  ifneq ($(strip $(MISSING)),)
    $(error flowyard: missing build dependencies: $(strip $(MISSING)))
  endif

  DEP_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PCAP_PC) $(LZ4_PC) $(PROTOBUF_PC))
  DEP_LIBS   := $(shell $(PKG_CONFIG) --libs $(PCAP_PC) $(LZ4_PC) $(PROTOBUF_PC)) -lev -lm -pthread
  ifneq ($(filter $(CMOCKA_GOALS),$(GOALS)),)
    CMOCKA_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(CMOCKA_PC))
    CMOCKA_LIBS   := $(shell $(PKG_CONFIG) --libs $(CMOCKA_PC))
  endif
endif

# clang with a usable libFuzzer? Tried once, and only where FUZZ_OK is used.
FUZZ_OK = $(eval FUZZ_OK := $(fuzz_ok))$(FUZZ_OK)
fuzz_ok = $(shell t=$$(mktemp) && \
	printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' | \
	$(FUZZ_CC) -fsanitize=fuzzer -x c - -o $$t >/dev/null 2>&1 && echo yes; rm -f $$t)

# ---------------------------------------------------------------------------
# Flags

FY_CPPFLAGS := -Ilib -I$(BUILD)/gen $(DEP_CFLAGS) $(CPPFLAGS)
FY_CFLAGS    = -std=c11 -D_GNU_SOURCE $(CFLAGS) $(WARNINGS)
FUZZ_CFLAGS  = -fsanitize=fuzzer-no-link,address,undefined \
	       -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_LDFLAGS = -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
DEPFLAGS     = -MMD -MP

# Objects are rebuilt when the compiler or a flag changes (e.g. `make` then
# `make CC=clang`): this file holds the flags of the last build.
FLAGS_STAMP := $(BUILD)/.flags
FLAGS_NOW    = $(CC) $(FY_CPPFLAGS) $(FY_CFLAGS) $(SAN_FLAGS) $(FUZZ_CC)

# ---------------------------------------------------------------------------
# Main targets

# (`@:` keeps make from saying "Nothing to be done" for an empty list.)
.PHONY: all lib programs tests asan-tests asan-programs fuzz-build
all: lib programs
	@:
lib: $(LIBA)
	@:
programs: $(BIN_FILES) $(TOOL_BINS)
	@:
tests: $(UNIT_BINS)
	@:
asan-tests: $(ASAN_BINS)
	@:
asan-programs: $(ASAN_BIN_FILES)
	@:
fuzz-build: $(FUZZ_BINS)
	@:

.PHONY: FORCE
FORCE:

$(FLAGS_STAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(strip $(FLAGS_NOW))' | cmp -s - $@ || \
		echo '$(strip $(FLAGS_NOW))' > $@

# Protobuf: one rule makes both the .c and the .h (grouped pattern rule).
$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto
	$(call msg,PROTOC,$<)mkdir -p $(@D)
	$(Q)$(PROTOC_C) --proto_path=proto --c_out=$(BUILD)/gen $<

# Plain objects: lib/, program folders, tests/unit/.
$(BUILD)/gen/%.o: $(BUILD)/gen/%.c $(FLAGS_STAMP)
	$(call msg,CC,$<)$(CC) $(FY_CPPFLAGS) $(FY_CFLAGS) $(DEPFLAGS) -c -o $@ $<
$(BUILD)/%.o: %.c $(FLAGS_STAMP) | $(GEN_H)
	$(call msg,CC,$<)mkdir -p $(@D)
	$(Q)$(CC) $(FY_CPPFLAGS) $(FY_CFLAGS) $(DEPFLAGS) -c -o $@ $<
$(BUILD)/tests/unit/%.o: private FY_CPPFLAGS += $(CMOCKA_CFLAGS)

# Sanitizer objects: the same sources, in $(BUILD)/asan/.
$(BUILD)/asan/gen/%.o: $(BUILD)/gen/%.c $(FLAGS_STAMP)
	$(call msg,CC-ASAN,$<)mkdir -p $(@D)
	$(Q)$(CC) $(FY_CPPFLAGS) $(FY_CFLAGS) $(SAN_FLAGS) $(DEPFLAGS) -c -o $@ $<
$(BUILD)/asan/%.o: %.c $(FLAGS_STAMP) | $(GEN_H)
	$(call msg,CC-ASAN,$<)mkdir -p $(@D)
	$(Q)$(CC) $(FY_CPPFLAGS) $(FY_CFLAGS) $(SAN_FLAGS) $(DEPFLAGS) -c -o $@ $<
$(BUILD)/asan/tests/unit/%.o: private FY_CPPFLAGS += $(CMOCKA_CFLAGS)

# Fuzz objects: clang, libFuzzer instrumentation, in $(BUILD)/fuzz/.
$(BUILD)/fuzz/gen/%.o: $(BUILD)/gen/%.c $(FLAGS_STAMP)
	$(call msg,CC-FUZZ,$<)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FY_CPPFLAGS) $(FY_CFLAGS) $(FUZZ_CFLAGS) $(DEPFLAGS) -c -o $@ $<
$(BUILD)/fuzz/%.o: %.c $(FLAGS_STAMP) | $(GEN_H)
	$(call msg,CC-FUZZ,$<)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FY_CPPFLAGS) $(FY_CFLAGS) $(FUZZ_CFLAGS) $(DEPFLAGS) -c -o $@ $<
# A fuzz target defines LLVMFuzzerTestOneInput without a prototype of its own.
$(BUILD)/fuzz/tests/fuzz/%.o: private FY_CFLAGS += -Wno-missing-prototypes

# Libraries (recreated, so a deleted source leaves no stale member).
$(LIBA): $(LIB_OBJ)
	$(call msg,AR,$@)rm -f $@
	$(Q)$(AR) rcs $@ $^
$(ASAN_LIBA): $(ASAN_LIB_OBJ)
	$(call msg,AR,$@)mkdir -p $(@D) && rm -f $@
	$(Q)$(AR) rcs $@ $^
$(FUZZ_LIBA): $(FUZZ_LIB_OBJ)
	$(call msg,AR,$@)mkdir -p $(@D) && rm -f $@
	$(Q)$(AR) rcs $@ $^

# Programs: build/bin/<dir> from <dir>/*.c and libflowyard.a.
define program_rule
$(BUILD)/bin/$(1): $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(1)/*.c)) $(LIBA)
	$$(call msg,LD,$$@)mkdir -p $$(@D)
	$$(Q)$$(CC) $$(CFLAGS) $$(LDFLAGS) -o $$@ $$(filter %.o,$$^) $(LIBA) $$(DEP_LIBS) $$(LDLIBS)
endef
$(foreach p,$(PROGS),$(eval $(call program_rule,$(p))))

# The same programs with ASan/UBSan: $(BUILD)/asan-bin/<dir>.
define asan_program_rule
$(BUILD)/asan-bin/$(1): $(patsubst %.c,$(BUILD)/asan/%.o,$(wildcard $(1)/*.c)) $(ASAN_LIBA)
	$$(call msg,LD-ASAN,$$@)mkdir -p $$(@D)
	$$(Q)$$(CC) $$(CFLAGS) $$(SAN_FLAGS) $$(LDFLAGS) -o $$@ $$(filter %.o,$$^) $(ASAN_LIBA) $$(DEP_LIBS) $$(LDLIBS)
endef
$(foreach p,$(PROGS),$(eval $(call asan_program_rule,$(p))))

$(BUILD)/tools/%: $(BUILD)/tests/tools/%.o $(LIBA)
	$(call msg,LD,$@)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBA) $(DEP_LIBS) $(LDLIBS)

# Unit tests: build/tests/test_x from tests/unit/test_x.c.
$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(LIBA)
	$(call msg,LD,$@)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBA) \
		$(CMOCKA_LIBS) $(DEP_LIBS) $(LDLIBS)
$(BUILD)/asan/tests/test_%: $(BUILD)/asan/tests/unit/test_%.o $(ASAN_LIBA)
	$(call msg,LD-ASAN,$@)$(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS) -o $@ $< \
		$(ASAN_LIBA) $(CMOCKA_LIBS) $(DEP_LIBS) $(LDLIBS)
$(BUILD)/fuzz/fuzz_%: $(BUILD)/fuzz/tests/fuzz/fuzz_%.o $(FUZZ_LIBA)
	$(call msg,LD-FUZZ,$@)$(FUZZ_CC) $(CFLAGS) $(FUZZ_LDFLAGS) $(LDFLAGS) -o $@ $< \
		$(FUZZ_LIBA) $(DEP_LIBS) $(LDLIBS)

-include $(LIB_OBJ:.o=.d) $(ASAN_LIB_OBJ:.o=.d) $(FUZZ_LIB_OBJ:.o=.d) \
	$(PROG_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) $(ASAN_UNIT_OBJ:.o=.d) \
	$(ASAN_PROG_OBJ:.o=.d) \
	$(FUZZ_OBJ:.o=.d)

# ---------------------------------------------------------------------------
# Tests
#
# `make test` builds with -k, so one broken test does not hide the others:
# a marker $(BUILD)/ok/<kind>/<name> is made only when that binary built.
# tests/check.sh then runs what built, counts what did not as failed, and
# closes with "N passed, N failed".

OK := $(BUILD)/ok
RESULTS := $(BUILD)/results.txt
CHECK_ENV = BUILD='$(BUILD)' OK='$(OK)' RESULTS='$(RESULTS)' TOP='$(CURDIR)' \
	    BIN='$(abspath $(BUILD)/bin)' TOOLS='$(abspath $(BUILD)/tools)' \
	    TEST_TIMEOUT='$(TEST_TIMEOUT)' \
	    FUZZ_TIMEOUT='$(FUZZ_TIMEOUT)'
CHECK = $(CHECK_ENV) bash tests/check.sh

$(OK)/unit/%: $(BUILD)/tests/%
	@mkdir -p $(@D) && touch $@
$(OK)/asan/%: $(BUILD)/asan/tests/%
	@mkdir -p $(@D) && touch $@
$(OK)/fuzz/%: $(BUILD)/fuzz/%
	@mkdir -p $(@D) && touch $@

.PHONY: check-build-tests check-build-fuzz
check-build-tests: $(UNIT:%=$(OK)/unit/%) $(UNIT:%=$(OK)/asan/%)
	@:
check-build-fuzz: $(FUZZ:%=$(OK)/fuzz/%)
	@:

.PHONY: check test run deps deps-build fuzz fuzz-smoke
check: deps
	@$(MAKE) --no-print-directory test

test:
	@rm -rf $(OK) $(RESULTS) && mkdir -p $(OK)
	@if $(MAKE) --no-print-directory -k lib; then \
		touch $(OK)/lib; \
		$(MAKE) --no-print-directory -k programs && touch $(OK)/programs || \
			$(CHECK) fail build "programs did not build"; \
		$(MAKE) --no-print-directory -k check-build-tests || true; \
		$(MAKE) --no-print-directory -k asan-programs && \
			touch $(OK)/asan-programs || \
			$(CHECK) fail build-asan "the ASan/UBSan programs did not build"; \
	else \
		$(CHECK) fail build "libflowyard.a did not build: no test can run"; \
	fi
	@$(CHECK) unit $(UNIT)
	@$(CHECK) asan $(UNIT)
	@$(CHECK) integration $(INTEG)
	@$(CHECK) asan-integration $(ASAN_INTEG)
	@if [ -z "$(FUZZ)" ]; then \
		echo "==> fuzz smoke: no fuzz target (tests/fuzz/fuzz_*.c)"; \
	elif [ -z "$(FUZZ_OK)" ]; then \
		echo "==> fuzz smoke: skipped: $(FUZZ_CC) with libFuzzer not found" \
		     "(Debian packages: clang libclang-rt-14-dev)"; \
	else \
		if [ -e $(OK)/lib ]; then \
			$(MAKE) --no-print-directory -k check-build-fuzz || true; \
		fi; \
		$(CHECK) fuzz $(FUZZ_SMOKE_SECONDS) $(FUZZ); \
	fi
	@$(CHECK) summary

fuzz:
	@$(MAKE) --no-print-directory fuzz-run FUZZ_RUN_SECONDS=$(FUZZ_SECONDS)
fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz-run FUZZ_RUN_SECONDS=$(FUZZ_SMOKE_SECONDS)

.PHONY: fuzz-run
fuzz-run:
	@if [ -n "$(FUZZ)" ] && [ -z "$(FUZZ_OK)" ]; then \
		echo "flowyard: $(FUZZ_CC) with libFuzzer not found (Debian packages:" \
		     "clang libclang-rt-14-dev); run 'make deps' as root" >&2; \
		exit 1; \
	fi
	@rm -rf $(OK)/fuzz $(RESULTS) && mkdir -p $(OK)
	@$(MAKE) --no-print-directory -k check-build-fuzz || true
	@$(CHECK) fuzz $(FUZZ_RUN_SECONDS) $(FUZZ)
	@$(CHECK) summary

# Benchmarks against the real peers (nfcapd/nfdump, softflowd): not part of
# `make check`; about 25 minutes. BENCH="ingest disk" runs a subset.
.PHONY: bench
bench: deps
	@$(MAKE) --no-print-directory all
	BIN='$(abspath $(BUILD)/bin)' TOOLS='$(abspath $(BUILD)/tools)' bash bench/run.sh $(BENCH)

# The soak (bench/soak.sh): the full chain for SOAK_SECONDS (default 600)
# at a steady rate; not part of `make check` nor of `make bench`.
.PHONY: soak
soak:
	@$(MAKE) --no-print-directory all
	BIN='$(abspath $(BUILD)/bin)' TOOLS='$(abspath $(BUILD)/tools)' bash bench/soak.sh

run: deps
	@$(MAKE) --no-print-directory all
	@if [ -f tests/run-main.sh ]; then \
		BIN='$(abspath $(BUILD)/bin)' TOOLS='$(abspath $(BUILD)/tools)' TOP='$(CURDIR)' bash tests/run-main.sh; \
	else \
		echo "flowyard: tests/run-main.sh not found; built: $(BIN_FILES)"; \
	fi

deps:
	@sh tests/deps.sh $(BUILD_DEPS) $(TEST_DEPS)
deps-build:
	@sh tests/deps.sh $(BUILD_DEPS)

# ---------------------------------------------------------------------------
# Install, uninstall, format, clean
#
# Paths are overridable; DESTDIR goes in front of each, for staging. Nothing
# here needs root: no chown, no useradd, no systemctl. After an install on
# the running system: systemd-sysusers, systemd-tmpfiles --create,
# systemctl daemon-reload (README, "Install as services").
#
# Config files (SYSCONFDIR/flowyard/collectord.conf, SYSCONFDIR/default/
# exporterd) are installed only when absent: an existing one is never
# overwritten (the new example stays in the source tree). `make uninstall`
# removes what install put, except those files; never the data or the user.

SYSCONFDIR  ?= /etc
ifeq ($(PREFIX),/usr)
UNITDIR     ?= /lib/systemd/system
else
UNITDIR     ?= $(PREFIX)/lib/systemd/system
endif
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d

# <daemon>/<daemon>.service of the daemons that are built.
UNIT_FILES := $(foreach d,$(filter $(DAEMONS),$(PROGS)),$(wildcard $(d)/$(d).service))
# source:installed-path pairs of the config files.
CONF_FILES := $(if $(filter collectord,$(PROGS)),collectord/collectord.conf:$(SYSCONFDIR)/flowyard/collectord.conf) \
	      $(if $(filter exporterd,$(PROGS)),exporterd/exporterd.default:$(SYSCONFDIR)/default/exporterd)
MAN_FILES  := $(wildcard docs/*.1 docs/*.8)
UNIT_SED   := -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
	      -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'

.PHONY: install uninstall format format-check clean help
install: all
	@set -e; \
	for p in $(PROGS); do \
		case " $(DAEMONS) " in \
		*" $$p "*) dir='$(DESTDIR)$(SBINDIR)' ;; \
		*) dir='$(DESTDIR)$(BINDIR)' ;; \
		esac; \
		echo "  INSTALL $$dir/$$p"; \
		install -d "$$dir"; \
		install -m 0755 $(BUILD)/bin/$$p "$$dir/$$p"; \
	done; \
	for m in $(MAN_FILES); do \
		dir='$(DESTDIR)$(MANDIR)'/man$${m##*.}; \
		echo "  INSTALL $$dir/$${m##*/}"; \
		install -d "$$dir"; \
		install -m 0644 "$$m" "$$dir/"; \
	done; \
	for u in $(UNIT_FILES); do \
		dst='$(DESTDIR)$(UNITDIR)'/$${u##*/}; \
		echo "  INSTALL $$dst"; \
		install -d '$(DESTDIR)$(UNITDIR)'; \
		sed $(UNIT_SED) "$$u" >"$$dst.tmp"; \
		chmod 0644 "$$dst.tmp"; \
		mv -f "$$dst.tmp" "$$dst"; \
	done; \
	for f in docs/flowyard.sysusers.conf:'$(SYSUSERSDIR)' \
		 docs/flowyard.tmpfiles.conf:'$(TMPFILESDIR)'; do \
		dir='$(DESTDIR)'$${f#*:}; \
		echo "  INSTALL $$dir/flowyard.conf"; \
		install -d "$$dir"; \
		install -m 0644 "$${f%%:*}" "$$dir/flowyard.conf"; \
	done; \
	for f in $(CONF_FILES); do \
		dst='$(DESTDIR)'$${f#*:}; \
		if [ -e "$$dst" ]; then \
			echo "  KEEP    $$dst (exists; new example: $${f%%:*})"; \
		else \
			echo "  INSTALL $$dst"; \
			install -d "$${dst%/*}"; \
			install -m 0644 "$${f%%:*}" "$$dst"; \
		fi; \
	done

# Every program, man page and unit flowyard has, built here or not.
uninstall:
	@for f in $(foreach p,$(PROGRAM_DIRS),'$(DESTDIR)$(if $(filter $(p),$(DAEMONS)),$(SBINDIR),$(BINDIR))/$(p)') \
		  $(foreach m,$(MAN_FILES),'$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m))') \
		  $(foreach d,$(DAEMONS),'$(DESTDIR)$(UNITDIR)/$(d).service') \
		  '$(DESTDIR)$(SYSUSERSDIR)/flowyard.conf' \
		  '$(DESTDIR)$(TMPFILESDIR)/flowyard.conf'; do \
		if [ -e "$$f" ] || [ -L "$$f" ]; then \
			echo "  RM      $$f"; rm -f "$$f" || exit 1; \
		fi; \
	done; \
	echo "  kept    $(SYSCONFDIR)/flowyard/collectord.conf," \
	     "$(SYSCONFDIR)/default/exporterd, /var/lib/flowyard, the user flowyard"

format:
	@if [ -n "$(FORMAT_FILES)" ]; then $(CLANG_FORMAT) -i $(FORMAT_FILES); fi

format-check:
	@if [ -n "$(FORMAT_FILES)" ]; then \
		$(CLANG_FORMAT) --dry-run --Werror $(FORMAT_FILES); fi

clean:
	rm -rf $(BUILD)

help:
	@echo 'Targets:'
	@echo '  all (default)  libflowyard.a and the programs into $(BUILD)/ (never installs)'
	@echo '  run            deps, build, then tests/run-main.sh (the main job)'
	@echo '  check          deps, then test'
	@echo '  test           unit tests and integration tests, both also under'
	@echo '                 ASan/UBSan; fuzz smoke when clang+libFuzzer exist'
	@echo '  tests          build the unit tests only ($(BUILD)/tests/)'
	@echo '  asan-tests     build the sanitizer unit tests only ($(BUILD)/asan/tests/)'
	@echo '  asan-programs  build the programs with ASan/UBSan ($(BUILD)/asan-bin/);'
	@echo '                 test runs ASAN_INTEG_SCRIPTS against them ("all": every'
	@echo '                 script but $(ASAN_INTEG_NEVER))'
	@echo '  fuzz           run each fuzz target FUZZ_SECONDS ($(FUZZ_SECONDS))'
	@echo '  fuzz-smoke     run each fuzz target FUZZ_SMOKE_SECONDS ($(FUZZ_SMOKE_SECONDS))'
	@echo '  fuzz-build     build the fuzz targets only ($(BUILD)/fuzz/)'
	@echo '  soak           bench/soak.sh: the full chain for SOAK_SECONDS (600), checked'
	@echo '  deps           install missing Debian packages (build and test; root)'
	@echo '  deps-build     install missing build packages only (root)'
	@echo '  install        PREFIX=$(PREFIX) DESTDIR= BINDIR=$(BINDIR) SBINDIR=$(SBINDIR) MANDIR=$(MANDIR)'
	@echo '                 SYSCONFDIR=$(SYSCONFDIR) UNITDIR=$(UNITDIR)'
	@echo '                 SYSUSERSDIR=$(SYSUSERSDIR) TMPFILESDIR=$(TMPFILESDIR)'
	@echo '                 programs, man pages, systemd units, sysusers.d, tmpfiles.d,'
	@echo '                 config files (only when absent)'
	@echo '  uninstall      remove what install put, except config files (same variables)'
	@echo '  format         clang-format -i the C sources'
	@echo '  format-check   check formatting, change nothing'
	@echo '  clean          rm -rf $(BUILD)'
	@echo 'Variables: CC=$(CC) FUZZ_CC=$(FUZZ_CC) BUILD=$(BUILD) CFLAGS="$(CFLAGS)"'
	@echo '  WARNINGS, SAN_FLAGS, LDFLAGS, LDLIBS, TEST_TIMEOUT=$(TEST_TIMEOUT),'
	@echo '  FUZZ_TIMEOUT=$(FUZZ_TIMEOUT), V=1 (show commands)'
