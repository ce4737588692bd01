# Makefile for Reflector, written by hand in git's manner: ./configure
# (made from configure.ac by scripts/bootstrap) writes config.mk, which is
# included below and says where things go and how to compile.
#
#   make                 the library, reflectord, the unit tests and the fuzz
#                        replay programs
#   make check           the same, then every t/NNNN-*.t under prove;
#                        T=t/2001-foo.t runs a subset, PROVE_FLAGS=-v is passed
#   make install         DESTDIR=/tmp/root for a staged install
#   make uninstall       removes what install put there (not a changed config)
#   make fuzz            libFuzzer targets t/fuzz/fuzz-NAME, built with clang
#   make lint-man        mandoc -Tlint over man/
#   make clean           removes what make built
#   make distclean       also what ./configure made (config.mk, config.status...)
#   make print-VAR       the value of a make variable (make print-sbindir)
#
# V=1 shows the whole commands.  Sources are found by wildcard: a new
# common/*.c, server/*.c, agent/*.c, t/unit/NAME-test.c or t/fuzz/fuzz-NAME.c
# needs no edit here.

all::

# Goals that need no config.mk.
NOCONFIG_GOALS := clean distclean lint-man

ifeq ($(wildcard config.mk),)
ifneq ($(or $(filter-out $(NOCONFIG_GOALS),$(MAKECMDGOALS)),$(if $(MAKECMDGOALS),,all)),)
$(error run ./configure first (./configure is made by: autoconf))
endif
else
include config.mk
endif

# --- Sources and products ---------------------------------------------------

LIB := common/libreflector.a
LIB_SRCS := $(wildcard common/*.c)
LIB_OBJS := $(LIB_SRCS:.c=.o)

# server/reflectorctl*.c make a program of their own, which shares the
# password and secret hashes of server/auth.c with reflectord.
SERVER_SRCS := $(filter-out server/reflectorctl%.c,$(wildcard server/*.c))
SERVER_OBJS := $(SERVER_SRCS:.c=.o)
CTL_OBJS := $(patsubst %.c,%.o,$(wildcard server/reflectorctl*.c)) server/auth.o

# The agent is a library firmware can embed (every agent/*.c but main.c
# and client*.c) and the program reflector-agent built on it; the user's
# reflector-client (agent/client*.c) is built on the same library.
AGENT_LIB := agent/librfagent.a
AGENT_LIB_SRCS := $(filter-out agent/main.c agent/client%.c,$(wildcard agent/*.c))
AGENT_LIB_OBJS := $(AGENT_LIB_SRCS:.c=.o)
AGENT_OBJS := agent/main.o
CLIENT_OBJS := $(patsubst %.c,%.o,$(wildcard agent/client*.c))

PROGRAMS := server/reflectord agent/reflector-agent server/reflectorctl
# Installed in bindir: programs for users rather than administrators.
USER_PROGRAMS := agent/reflector-client

UNIT_SRCS := $(wildcard t/unit/*-test.c)
UNIT_PROGS := $(UNIT_SRCS:.c=)

# t/fuzz/fuzz-NAME.c defines LLVMFuzzerTestOneInput.  For make check it is
# linked with fuzz-main.c (a main that replays files) by the normal compiler
# into fuzz-NAME-replay; make fuzz links it with libFuzzer into fuzz-NAME.
# Both link the agent's library too (fuzz-wslink), then common's.
FUZZ_SRCS := $(filter-out t/fuzz/fuzz-main.c,$(wildcard t/fuzz/fuzz-*.c))
FUZZ_REPLAY := $(FUZZ_SRCS:.c=-replay)
FUZZ_PROGS := $(FUZZ_SRCS:.c=)
FUZZ_OBJDIR := t/fuzz/obj
FUZZ_LIB := $(FUZZ_OBJDIR)/libreflector.a
FUZZ_LIB_OBJS := $(addprefix $(FUZZ_OBJDIR)/,$(LIB_OBJS))
FUZZ_AGENT_LIB := $(FUZZ_OBJDIR)/agent/librfagent.a
FUZZ_AGENT_LIB_OBJS := $(addprefix $(FUZZ_OBJDIR)/,$(AGENT_LIB_OBJS))
FUZZ_OBJS := $(addprefix $(FUZZ_OBJDIR)/,$(FUZZ_SRCS:.c=.o))

OBJS := $(LIB_OBJS) $(SERVER_OBJS) $(CTL_OBJS) $(AGENT_LIB_OBJS) $(AGENT_OBJS) \
	$(CLIENT_OBJS) \
	$(UNIT_SRCS:.c=.o) $(FUZZ_SRCS:.c=.o) \
	t/fuzz/fuzz-main.o

MAN_PAGES := $(wildcard man/*.[1-8])

# --- Flags ------------------------------------------------------------------

# Single quotes for the shell, so that a path with a space survives.
RF_DEFS = -DRF_VERSION='"$(VERSION)"' \
	-DRF_SYSCONFDIR='"$(sysconfdir)"' \
	-DRF_LOCALSTATEDIR='"$(localstatedir)"' \
	-DRF_RUNSTATEDIR='"$(runstatedir)"'

ALL_CPPFLAGS = -I. -Icommon $(RF_DEFS) \
	$(LWS_CFLAGS) $(SSL_CFLAGS) $(LMDB_CFLAGS) $(YAML_CFLAGS) $(CPPFLAGS)
# The C tests include t/lib/tap.h, and may test the agent library.
TEST_OBJS = $(UNIT_SRCS:.c=.o) $(FUZZ_SRCS:.c=.o) t/fuzz/fuzz-main.o $(FUZZ_OBJS)
$(TEST_OBJS): ALL_CPPFLAGS += -It/lib -Iagent

ALL_CFLAGS = $(STD_CFLAGS) $(CFLAGS) $(WARN_CFLAGS) $(HARDEN_CFLAGS) $(SAN_FLAGS)
ALL_LDFLAGS = $(LDFLAGS) $(SAN_FLAGS)
ALL_LIBS = $(LWS_LIBS) $(EV_LIBS) $(SSL_LIBS) $(LMDB_LIBS) $(YAML_LIBS) $(LIBS)

# The fuzzers: clang, its sanitizers, never -Werror (clang warns differently).
FUZZ_SAN = address,undefined
FUZZ_CFLAGS = $(STD_CFLAGS) -g -O1 -fno-omit-frame-pointer \
	$(filter-out -Werror,$(WARN_CFLAGS)) -fsanitize=fuzzer-no-link,$(FUZZ_SAN)
FUZZ_LDFLAGS = -fsanitize=fuzzer,$(FUZZ_SAN)

# Every object depends on a file that holds the flags it was built with and
# that changes only when they do (git's GIT-CFLAGS): reconfiguring with
# --enable-asan, or "make prefix=...", rebuilds everything, and nothing else
# does.  The header dependencies come from -MMD -MP.
BUILD_FLAGS := .build-flags
FUZZ_BUILD_FLAGS := $(FUZZ_OBJDIR)/.build-flags
TRACK_FLAGS = $(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) : $(ALL_LDFLAGS) $(ALL_LIBS)
TRACK_FUZZ_FLAGS = $(FUZZ_CC) $(ALL_CPPFLAGS) $(FUZZ_CFLAGS) : $(FUZZ_LDFLAGS) $(ALL_LIBS)

PROVE = prove
INSTALL = install
MANDOC = mandoc

# Test runs see the tree through RF_TOP and RF_BUILD (t/lib/test-lib.sh).
# Under sanitizers: leaks and errors fail the test, library-internal leaks are
# suppressed in t/lsan.supp, and timeouts are stretched.
CHECK_ENV = RF_TOP='$(CURDIR)' RF_BUILD='$(CURDIR)'
ifneq ($(SANITIZERS),)
CHECK_ENV += RF_TEST_TIMEOUT_MULT="$${RF_TEST_TIMEOUT_MULT:-3}" \
	ASAN_OPTIONS="$${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}" \
	LSAN_OPTIONS="$${LSAN_OPTIONS:-suppressions=$(CURDIR)/t/lsan.supp:print_suppressions=0}" \
	UBSAN_OPTIONS="$${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
endif
T = $(sort $(wildcard t/[0-9]*.t))

# Substitutions for the installed unit and example config.
SUBST = sed -e 's|@SBINDIR@|$(sbindir)|g' \
	-e 's|@SYSCONFDIR@|$(sysconfdir)|g' \
	-e 's|@LOCALSTATEDIR@|$(localstatedir)|g' \
	-e 's|@RUNSTATEDIR@|$(runstatedir)|g' \
	-e 's|@VERSION@|$(VERSION)|g'

# --- Quiet output (V=1 for the commands) ------------------------------------

ifneq ($(V),1)
QUIET_CC = @echo '  CC      ' $@;
QUIET_AR = @echo '  AR      ' $@;
QUIET_LINK = @echo '  LINK    ' $@;
QUIET_FUZZCC = @echo '  FUZZCC  ' $@;
QUIET_FUZZLD = @echo '  FUZZLD  ' $@;
QUIET_GEN = @echo '  GEN     ' $@;
endif

# No built-in rules: every product here has a rule of its own.
.SUFFIXES:
MAKEFLAGS += --no-builtin-rules
.DELETE_ON_ERROR:

# --- Building ---------------------------------------------------------------

all:: $(LIB) $(AGENT_LIB) $(PROGRAMS) $(USER_PROGRAMS) $(UNIT_PROGS) $(FUZZ_REPLAY)

$(BUILD_FLAGS): FORCE
	@flags='$(subst ','\'',$(TRACK_FLAGS))'; \
	if test x"$$flags" != x"`cat $@ 2>/dev/null`"; then \
		if test -f $@; then echo '  * new build flags: rebuilding'; fi; \
		printf '%s\n' "$$flags" >$@; \
	fi

%.o: %.c $(BUILD_FLAGS)
	$(QUIET_CC)$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(LIB_OBJS)
	$(QUIET_AR)rm -f $@ && $(AR) rcs $@ $^

server/reflectord: $(SERVER_OBJS) $(LIB)
	$(QUIET_LINK)$(CC) $(ALL_LDFLAGS) -o $@ $(SERVER_OBJS) $(LIB) $(ALL_LIBS)

server/reflectorctl: $(CTL_OBJS) $(LIB)
	$(QUIET_LINK)$(CC) $(ALL_LDFLAGS) -o $@ $(CTL_OBJS) $(LIB) $(ALL_LIBS)

$(AGENT_LIB): $(AGENT_LIB_OBJS)
	$(QUIET_AR)rm -f $@ && $(AR) rcs $@ $^

# Test helpers for the end-to-end tests (t/4001-browser.t): a device web
# server and a WebSocket client.  Built with everything, never installed.
HELPERS := t/helpers/device-httpd t/helpers/ws-client
OBJS += $(HELPERS:=.o)
all:: $(HELPERS)

$(HELPERS): %: %.o
	$(QUIET_LINK)$(CC) $(ALL_LDFLAGS) -o $@ $< $(SSL_LIBS)

# scripts/bench's load generator: thousands of device tunnels, parsing
# what the reflector sends with the library's own HTTP and WebSocket code.
LOADGEN := t/helpers/loadgen
OBJS += $(LOADGEN).o
all:: $(LOADGEN)
$(LOADGEN).o: ALL_CPPFLAGS += -Icommon
$(LOADGEN): $(LOADGEN).o $(LIB)
	$(QUIET_LINK)$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(SSL_LIBS)

agent/reflector-agent: $(AGENT_OBJS) $(AGENT_LIB) $(LIB)
	$(QUIET_LINK)$(CC) $(ALL_LDFLAGS) -o $@ $(AGENT_OBJS) $(AGENT_LIB) $(LIB) $(ALL_LIBS)

agent/reflector-client: $(CLIENT_OBJS) $(AGENT_LIB) $(LIB)
	$(QUIET_LINK)$(CC) $(ALL_LDFLAGS) -o $@ $(CLIENT_OBJS) $(AGENT_LIB) $(LIB) $(ALL_LIBS)

$(UNIT_PROGS): %: %.o $(AGENT_LIB) $(LIB)
	$(QUIET_LINK)$(CC) $(ALL_LDFLAGS) -o $@ $< $(AGENT_LIB) $(LIB) $(ALL_LIBS)

$(FUZZ_REPLAY): %-replay: %.o t/fuzz/fuzz-main.o $(AGENT_LIB) $(LIB)
	$(QUIET_LINK)$(CC) $(ALL_LDFLAGS) -o $@ $*.o t/fuzz/fuzz-main.o $(AGENT_LIB) $(LIB) $(ALL_LIBS)

# --- Fuzzing ----------------------------------------------------------------

fuzz: $(FUZZ_PROGS)

$(FUZZ_BUILD_FLAGS): FORCE
	@if test -z '$(FUZZ_CC)'; then \
		echo 'clang not found: apt-get install clang libclang-rt-14-dev, then ./configure' >&2; \
		exit 1; \
	fi
	@mkdir -p $(@D); \
	flags='$(subst ','\'',$(TRACK_FUZZ_FLAGS))'; \
	if test x"$$flags" != x"`cat $@ 2>/dev/null`"; then \
		printf '%s\n' "$$flags" >$@; \
	fi

$(FUZZ_OBJDIR)/%.o: %.c $(FUZZ_BUILD_FLAGS)
	@mkdir -p $(@D)
	$(QUIET_FUZZCC)$(FUZZ_CC) $(ALL_CPPFLAGS) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_LIB_OBJS)
	$(QUIET_AR)rm -f $@ && $(AR) rcs $@ $^

$(FUZZ_AGENT_LIB): $(FUZZ_AGENT_LIB_OBJS)
	$(QUIET_AR)rm -f $@ && $(AR) rcs $@ $^

$(FUZZ_PROGS): t/fuzz/%: $(FUZZ_OBJDIR)/t/fuzz/%.o $(FUZZ_AGENT_LIB) $(FUZZ_LIB)
	$(QUIET_FUZZLD)$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $@ $< $(FUZZ_AGENT_LIB) $(FUZZ_LIB) $(ALL_LIBS)

# --- Tests ------------------------------------------------------------------

check: all
	$(CHECK_ENV) $(PROVE) -f $(PROVE_FLAGS) $(T)

lint-man:
ifeq ($(MAN_PAGES),)
	@echo 'lint-man: no man pages in man/'
else
	$(MANDOC) -Tlint -Wwarning $(MAN_PAGES)
endif

# --- Installing -------------------------------------------------------------

install: $(PROGRAMS) $(USER_PROGRAMS) conf/reflector.yml conf/reflector-agent.yml conf/reflectord.service
	$(INSTALL) -d -m 755 '$(DESTDIR)$(sbindir)' '$(DESTDIR)$(bindir)'
	$(INSTALL) -m 755 $(PROGRAMS) '$(DESTDIR)$(sbindir)/'
	$(INSTALL) -m 755 $(USER_PROGRAMS) '$(DESTDIR)$(bindir)/'
	@set -e; for page in $(MAN_PAGES); do \
		dir='$(DESTDIR)$(mandir)'/man$${page##*.}; \
		echo "$(INSTALL) -m 644 $$page $$dir/"; \
		$(INSTALL) -d -m 755 "$$dir"; \
		$(INSTALL) -m 644 "$$page" "$$dir/"; \
	done
	$(INSTALL) -d -m 755 '$(DESTDIR)$(sysconfdir)/reflector'
	$(SUBST) conf/reflector.yml >'$(DESTDIR)$(sysconfdir)/reflector/reflector.yml.example'
	chmod 644 '$(DESTDIR)$(sysconfdir)/reflector/reflector.yml.example'
	$(SUBST) conf/reflector-agent.yml >'$(DESTDIR)$(sysconfdir)/reflector/reflector-agent.yml.example'
	chmod 644 '$(DESTDIR)$(sysconfdir)/reflector/reflector-agent.yml.example'
	@# The live config is the admin's: written once, never overwritten.
	@conf='$(DESTDIR)$(sysconfdir)/reflector/reflector.yml'; \
	if test -e "$$conf"; then \
		echo "keeping $$conf"; \
	else \
		echo "$(INSTALL) -m 640 reflector.yml.example $$conf"; \
		$(INSTALL) -m 640 "$$conf.example" "$$conf"; \
	fi
	$(INSTALL) -d -m 755 '$(DESTDIR)$(systemdsystemunitdir)'
	$(SUBST) conf/reflectord.service >'$(DESTDIR)$(systemdsystemunitdir)/reflectord.service'
	chmod 644 '$(DESTDIR)$(systemdsystemunitdir)/reflectord.service'
	$(INSTALL) -d -m 750 '$(DESTDIR)$(localstatedir)/lib/reflector'

uninstall:
	rm -f $(addprefix '$(DESTDIR)$(sbindir)'/,$(notdir $(PROGRAMS)))
	rm -f $(addprefix '$(DESTDIR)$(bindir)'/,$(notdir $(USER_PROGRAMS)))
	@set -e; for page in $(MAN_PAGES); do \
		f='$(DESTDIR)$(mandir)'/man$${page##*.}/$${page##*/}; \
		echo "rm -f $$f"; rm -f "$$f"; \
	done
	@# The live config goes only if nobody changed it.
	@conf='$(DESTDIR)$(sysconfdir)/reflector/reflector.yml'; \
	if test -e "$$conf" && ! cmp -s "$$conf" "$$conf.example"; then \
		echo "keeping $$conf: it differs from the example"; \
	else \
		echo "rm -f $$conf"; rm -f "$$conf"; \
	fi
	rm -f '$(DESTDIR)$(sysconfdir)/reflector/reflector.yml.example'
	rm -f '$(DESTDIR)$(sysconfdir)/reflector/reflector-agent.yml.example'
	rm -f '$(DESTDIR)$(systemdsystemunitdir)/reflectord.service'
	@# Directories go only when empty: the state directory holds the registry.
	-@rmdir '$(DESTDIR)$(sysconfdir)/reflector' \
		'$(DESTDIR)$(localstatedir)/lib/reflector' 2>/dev/null || :

# --- Cleaning ---------------------------------------------------------------

clean:
	rm -f common/*.[oad] server/*.[od] agent/*.[oad] t/unit/*.[od] t/fuzz/*.[od]
	rm -f t/helpers/*.[od] $(HELPERS) $(LOADGEN)
	rm -f $(PROGRAMS) $(USER_PROGRAMS) $(UNIT_PROGS) $(FUZZ_REPLAY) $(FUZZ_PROGS) $(BUILD_FLAGS)
	rm -rf $(FUZZ_OBJDIR) t/trash.*

distclean: clean
	rm -f config.mk config.status config.log
	rm -rf autom4te.cache

# "make print-sbindir": a variable's value, for scripts and tests.
print-%:
	@echo '$(subst ','\'',$($*))'

# --- Regenerating config.mk -------------------------------------------------

# Like automake's rules: a changed configure.ac or config.mk.in re-runs
# configure with the arguments it was last given.
ifneq ($(wildcard config.mk),)
configure: configure.ac
	$(QUIET_GEN)autoconf
	@rm -rf autom4te.cache configure~

config.status: configure
	./config.status --recheck

config.mk: config.mk.in config.status
	$(QUIET_GEN)./config.status --quiet config.mk
endif

-include $(OBJS:.o=.d) $(FUZZ_LIB_OBJS:.o=.d) $(FUZZ_AGENT_LIB_OBJS:.o=.d) \
	$(FUZZ_OBJS:.o=.d)

.PHONY: all check fuzz lint-man install uninstall clean distclean FORCE print-%
