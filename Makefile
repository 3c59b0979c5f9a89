# pfrez / pthaw / pload: one Makefile.  `make`, `make check`, `make bench`,
# `make install PREFIX=/usr/local DESTDIR=`, `make uninstall`, `make clean`.
# `make SAN=1` builds into build-san/ with AddressSanitizer and UBSan
# (everything but pload, which is freestanding); `make check` uses that.
# `make fuzz FUZZ_TIME=600` fuzzes pthaw's stream parsing for that many
# seconds with libFuzzer (clang, `FUZZ=1` build in build-fuzz/).

VERSION  := 0.1.0
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
LIBEXEC  ?= $(PREFIX)/libexec/pfrez
MANDIR   ?= $(PREFIX)/share/man
BASHCOMP ?= $(PREFIX)/share/bash-completion/completions
LIBDIR   ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

CC       ?= cc
WARN     := -Wall -Wextra -Werror
CFLAGS   ?= -O2 -g
# lib/ has one folder per concern (DESIGN.md); headers are included by name.
LIB_INC  := -Ilib -Ilib/stream -Ilib/layer -Ilib/xport -Ilib/ptrace -Ilib/kind
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -D_GNU_SOURCE $(LIB_INC) \
	     -DPFREZ_VERSION='"$(VERSION)"' -DPFREZ_LIBEXEC='"$(LIBEXEC)"'
LDLIBS   := -lzstd -lsnappy -lz -lcrypto

ifeq ($(FUZZ),1)
# make fuzz's build: clang, coverage for libFuzzer, ASan and UBSan.
B        := build-fuzz
CC       := clang
ALL_CFLAGS += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
else ifeq ($(SAN),1)
B        := build-san
ALL_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
else
B        := build
endif

# Library sources, one line per concern.
LIB_CORE  := lib/err.c lib/crc32c.c lib/flags.c lib/progress.c lib/json.c lib/ckptdir.c
LIB_STREAM := lib/stream/record.c lib/stream/header.c lib/stream/stream.c lib/stream/selfexec.c
LIB_LAYER := lib/layer/layer.c lib/layer/layer_thread.c lib/layer/layer_hold.c lib/layer/layer_spool.c \
	     lib/layer/compress.c lib/layer/layer_gzip.c lib/layer/layer_snappy.c lib/layer/layer_zstd.c \
	     lib/layer/crypt.c lib/layer/layer_crypt.c lib/layer/crypt_gcm.c lib/layer/crypt_ctrmac.c
LIB_XPORT := lib/xport/xport.c lib/xport/xport_inet.c lib/xport/xport_unix.c lib/xport/xport_udp.c
LIB_PTRACE := lib/ptrace/proc.c lib/ptrace/inject.c lib/ptrace/pload_ctl.c lib/ptrace/pidns.c lib/ptrace/why.c lib/ptrace/prefetch.c lib/ptrace/watch.c
LIB_KIND   := $(sort $(wildcard lib/kind/*.c))
LIB_ARCH  := lib/arch/x86_64/sigframe.c lib/arch/x86_64/regs.c
LIB_SRCS  := $(LIB_CORE) $(LIB_STREAM) $(LIB_LAYER) $(LIB_XPORT) $(LIB_PTRACE) $(LIB_KIND) $(LIB_ARCH)

PFREZ_SRCS := pfrez/main.c pfrez/capture.c pfrez/periodic.c pfrez/precopy.c
PTHAW_SRCS := pthaw/main.c pthaw/restore.c pthaw/pagepipe.c pthaw/supervise.c pthaw/newest.c pthaw/lazy.c
PLOAD_SRCS := pload/start.S pload/pload.c

# cmocka unit tests: tests/unit/test_NAME.c -> $(B)/test_NAME
UNIT_TESTS := test_flags test_crc32c test_compress test_xport test_crypt test_record test_proc \
	      test_sigframe test_json test_kind_caps test_kind_seccomp test_kind_locks test_kind_sched \
	      test_kind_membarrier test_kind_madvise test_kind_timers test_kind_fds test_kind_shmem test_kind_tty
UNIT_TESTS += test_kind_unix
UNIT_TESTS += test_selfexec
UNIT_TESTS += test_kind_pstree
UNIT_TESTS += test_prefetch

# Target programs for the end-to-end tests: tests/progs/NAME.c -> $(B)/progs/NAME
PROGS      := sock_listen tcp_echo counter files avx_tls brk sigusr getpid fdtable threads memhog vmread sysloop \
	      rmdir_open cwd_deleted dev_deleted proc_dead proc_self heldfiles highfd victim \
	      fd_log fd_shared fd_cloexec creds seccomp thp_disable subreaper pdeathsig dumpable \
	      prname timerslack membarrier personality oom_adj sched madvise posix_timer itimer sigactions \
	      sigaltstack umask rlimit cwd_dir lock_flock lock_posix lock_ofd lease lockprobe \
	      rseq_abort pipe_fd3 sigqueue mm_layout affinity ioprio dir_pos \
	      fd_pipe fd_fifo fd_eventfd fd_timerfd fd_signalfd fd_epoll epoll_stale selfpid \
	      shm_anon shm_devzero memfd posix_shm file_shared_rw deleted_file sysv_shm zdtm_page \
	      thread_tls thread_block thread_sig thread_loop thread_rseq thread_timer threadhog thread_nice
PROGS      += unix_pair unix_listen anon_fd inotify lazysum
PROGS      += tree_pipes tree_log tree_shm tree_clonefiles tree_fds tree_sysv
PROGS      += tree_zombie tree_stopped tree_groups tree_reaper tree_wait
PROGS      += gen_writer madv_flip precopy_discard watch_churn
PROGS      += splice_relay
PROGS_STATIC := counter_static

LIB_OBJS   := $(LIB_SRCS:%.c=$(B)/obj/%.o)
PFREZ_OBJS := $(PFREZ_SRCS:%.c=$(B)/obj/%.o)
PTHAW_OBJS := $(PTHAW_SRCS:%.c=$(B)/obj/%.o)

# pload: freestanding, linked at the address linker/pload.ld gives it.
PLOAD_CFLAGS := -std=gnu11 $(WARN) -O2 -g -ffreestanding -fno-stack-protector \
	-fno-builtin -fpie -mno-red-zone -fcf-protection=none \
	-fno-asynchronous-unwind-tables -nostdinc -isystem $(shell $(CC) -print-file-name=include) -Ilib
PLOAD_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,linker/pload.ld -Wl,--build-id=none -Wl,-z,noexecstack

# libpfrez (lib/api/, pfrez.h): what a program links to checkpoint or fork
# itself (pfrez_checkpoint(3)).  Built without the sanitizers, which a
# program linking it does not load; its own name in $(B)/api/, apart from
# $(B)/libpfrez.a, the code pfrez and pthaw share.
API_SOVER  := 0
API_SO     := libpfrez.so.$(VERSION)
API_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) -fPIC -fvisibility=hidden -DPFREZ_BINDIR='"$(BINDIR)"'
API_LIBS   := $(B)/api/$(API_SO) $(B)/api/libpfrez.a
API_MAN    := man/pfrez_checkpoint.3 man/pfrez_fork.3

$(B)/api/libpfrez.o: lib/api/libpfrez.c lib/api/pfrez.h
	@mkdir -p $(dir $@)
	$(CC) $(API_CFLAGS) -c -o $@ $<

$(B)/api/$(API_SO): $(B)/api/libpfrez.o
	$(CC) -shared $(filter-out -fsanitize=%,$(LDFLAGS)) -Wl,-soname,libpfrez.so.$(API_SOVER) \
		-Wl,-z,relro -Wl,-z,now -Wl,--no-undefined -o $@ $< -ldl

$(B)/api/libpfrez.a: $(B)/api/libpfrez.o
	rm -f $@
	ar rcs $@ $^

.PHONY: all check unit e2e bench install uninstall clean deb deb-check man-check install-check
all: $(B)/pfrez $(B)/pthaw $(B)/pload $(PROGS:%=$(B)/progs/%) $(PROGS_STATIC:%=$(B)/progs/%) \
	$(B)/progs/craft $(B)/pfrez-run $(API_LIBS)

# pfrez-run finds pfrez and pthaw beside it, in the build tree as installed.
$(B)/pfrez-run: scripts/pfrez-run
	@mkdir -p $(dir $@)
	install -m 755 $< $@

$(B)/obj/%.o: %.c $(wildcard lib/*.h lib/*/*.h lib/arch/x86_64/*.h pfrez/*.h pthaw/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/libpfrez.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(B)/pfrez: $(PFREZ_OBJS) $(B)/libpfrez.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/pthaw: $(PTHAW_OBJS) $(B)/libpfrez.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/pload: $(PLOAD_SRCS) linker/pload.ld $(wildcard pload/*.h) lib/pload_proto.h
	@mkdir -p $(B)
	$(CC) $(PLOAD_CFLAGS) $(PLOAD_LDFLAGS) -o $@ $(PLOAD_SRCS)

$(B)/test_%: tests/unit/test_%.c tests/unit/memlayer.c $(B)/libpfrez.a tests/unit/memlayer.h
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.a,$^) -lcmocka $(LDLIBS)

# craft writes hostile streams for the tests: it needs the library.
$(B)/progs/craft: tests/e2e/craft.c $(B)/libpfrez.a
	@mkdir -p $(B)/progs
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Their shared headers: a change rebuilds them.
$(PROGS:%=$(B)/progs/%) $(PROGS_STATIC:%=$(B)/progs/%): $(wildcard tests/progs/*.h)

$(B)/progs/%: tests/progs/%.c
	@mkdir -p $(B)/progs
	$(CC) -std=gnu11 -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE $(if $(filter $*,$(PROGS_STATIC)),-static) -o $@ $< -lm

# The fuzz harness (tests/fuzz/) over what pthaw does before pload: the
# libFuzzer program in the FUZZ=1 build, a replay program elsewhere.
FUZZ_TIME  ?= 600
.PHONY: fuzz fuzz-check fuzz-tools
FUZZ_OBJS  := $(filter-out $(B)/obj/pthaw/main.o,$(PTHAW_OBJS)) $(B)/libpfrez.a

$(B)/fuzz-pthaw: tests/fuzz/harness.c tests/fuzz/fuzz.h $(FUZZ_OBJS)
	$(CC) $(ALL_CFLAGS) -Ipthaw -DFUZZ_LIBFUZZER -fsanitize=fuzzer $(LDFLAGS) -o $@ $(filter %.c %.o %.a,$^) $(LDLIBS)

$(B)/fuzz-replay: tests/fuzz/replay.c tests/fuzz/harness.c tests/fuzz/fuzz.h $(FUZZ_OBJS)
	$(CC) $(ALL_CFLAGS) -Ipthaw $(LDFLAGS) -o $@ $(filter %.c %.o %.a,$^) $(LDLIBS)

$(B)/mkseeds: tests/fuzz/mkseeds.c tests/fuzz/fuzz.h $(B)/libpfrez.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.a,$^) $(LDLIBS)

fuzz-tools: $(B)/mkseeds $(if $(filter 1,$(FUZZ)),$(B)/fuzz-pthaw,$(B)/fuzz-replay)

unit: $(UNIT_TESTS:%=$(B)/%)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $(B)/$$t; done

check: man-check install-check fuzz-check
	$(MAKE) SAN=1 all unit kind-drop
	tests/e2e/run build-san

e2e: all kind-drop
	tests/e2e/run $(B)

# `make bench BASE=REV` also builds git revision REV in a temporary
# directory and measures both side by side (scripts/bench -base=REV).
bench: all
	scripts/bench $(if $(BASE),-base=$(BASE)) $(B)

# libFuzzer for FUZZ_TIME seconds, half with checksums repaired; crashes
# land in build-fuzz/fuzz/crashes/ and fail the target.
fuzz:
	$(MAKE) FUZZ=1 fuzz-tools
	tests/fuzz/run build-fuzz $(FUZZ_TIME)

# The seeds and tests/fuzz/regress/ through the harness under ASan/UBSan,
# and through pthaw -debug under valgrind.
fuzz-check: all
	$(MAKE) SAN=1 fuzz-tools
	tests/fuzz/check build-san build

# Issue 9: each kind of state is shown by its test programs failing when
# that kind is left out of the table.  For every `[KIND_X] = &kind_NAME,`
# line of lib/kind/kind.c, $(B)/drop/NAME/ holds a pfrez and a pthaw built
# with -DKIND_DROP=kind_NAME: only kind.c is compiled again,
# the rest is linked from $(B)/obj; pload is the normal one, symlinked
# (pthaw finds pload next to itself).  tests/e2e/kind_drop.test
# runs the programs of tests/e2e/kind_drop.map against them.
KIND_NAMES := $(shell sed -n 's/^[[:space:]]*\[KIND_[A-Z0-9_]*\][[:space:]]*=[[:space:]]*&kind_\([a-z0-9_]*\),$$/\1/p' lib/kind/kind.c)
DROP_OBJS  := $(filter-out $(B)/obj/lib/kind/kind.o,$(LIB_OBJS))
DROP_BINS  := $(foreach k,$(KIND_NAMES),$(B)/drop/$(k)/pfrez $(B)/drop/$(k)/pthaw)
.PHONY: kind-drop kind-drop-check
.PRECIOUS: $(B)/drop/%/kind.o

$(B)/drop/%/kind.o: lib/kind/kind.c $(wildcard lib/*.h lib/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DKIND_DROP=kind_$* -c -o $@ $<

$(B)/drop/%/pfrez: $(PFREZ_OBJS) $(B)/drop/%/kind.o $(DROP_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/drop/%/pthaw: $(PTHAW_OBJS) $(B)/drop/%/kind.o $(DROP_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
	ln -sfn ../../pload $(dir $@)pload

# pfrez-run under Slurm: daemons of its own on this host (scripts/slurm-check).
.PHONY: slurm-check
slurm-check: all
	scripts/slurm-check $(B)

kind-drop: $(DROP_BINS)

kind-drop-check: all kind-drop
	tests/e2e/run $(B) kind_drop

# The man pages and -h agree, and so does the bash completion.
man-check: all
	tests/man/check-flags $(B)

# An installed tree (a private build with PREFIX=/usr) restores on its own.
install-check: all
	tests/install-check $(B)

# pthaw finds pload at -loader, next to itself, in ../libexec/pfrez, or in $(LIBEXEC).
install: $(B)/pfrez $(B)/pthaw $(B)/pload $(API_LIBS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXEC) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(BASHCOMP)
	install -m 755 $(B)/pfrez $(B)/pthaw $(DESTDIR)$(BINDIR)/
	install -m 755 scripts/pfrez-run $(DESTDIR)$(BINDIR)/
	install -m 755 $(B)/pload $(DESTDIR)$(LIBEXEC)/
	install -m 644 man/pfrez.1 man/pthaw.1 man/pfrez-run.1 $(DESTDIR)$(MANDIR)/man1/
	$(if $(wildcard man/pfrez-stream.5),install -m 644 man/pfrez-stream.5 $(DESTDIR)$(MANDIR)/man5/)
	install -m 644 man/pload.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 644 completions/pfrez $(DESTDIR)$(BASHCOMP)/pfrez
	install -m 644 completions/pfrez $(DESTDIR)$(BASHCOMP)/pthaw
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man3
	install -m 644 $(B)/api/$(API_SO) $(DESTDIR)$(LIBDIR)/
	ln -sfn $(API_SO) $(DESTDIR)$(LIBDIR)/libpfrez.so.$(API_SOVER)
	ln -sfn libpfrez.so.$(API_SOVER) $(DESTDIR)$(LIBDIR)/libpfrez.so
	install -m 644 $(B)/api/libpfrez.a $(DESTDIR)$(LIBDIR)/
	install -m 644 lib/api/pfrez.h $(DESTDIR)$(INCLUDEDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)|; s|@VERSION@|$(VERSION)|' \
		lib/api/pfrez.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/pfrez.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/pfrez.pc
	install -m 644 $(API_MAN) $(DESTDIR)$(MANDIR)/man3/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pfrez $(DESTDIR)$(BINDIR)/pthaw $(DESTDIR)$(LIBEXEC)/pload \
		$(DESTDIR)$(BINDIR)/pfrez-run $(DESTDIR)$(MANDIR)/man1/pfrez-run.1 \
		$(DESTDIR)$(MANDIR)/man1/pfrez.1 $(DESTDIR)$(MANDIR)/man1/pthaw.1 \
		$(DESTDIR)$(MANDIR)/man5/pfrez-stream.5 $(DESTDIR)$(MANDIR)/man8/pload.8 \
		$(DESTDIR)$(BASHCOMP)/pfrez $(DESTDIR)$(BASHCOMP)/pthaw \
		$(DESTDIR)$(LIBDIR)/$(API_SO) $(DESTDIR)$(LIBDIR)/libpfrez.so.$(API_SOVER) \
		$(DESTDIR)$(LIBDIR)/libpfrez.so $(DESTDIR)$(LIBDIR)/libpfrez.a \
		$(DESTDIR)$(INCLUDEDIR)/pfrez.h $(DESTDIR)$(PKGCONFIGDIR)/pfrez.pc \
		$(API_MAN:man/%=$(DESTDIR)$(MANDIR)/man3/%)
	-rmdir $(DESTDIR)$(LIBEXEC)

# A Debian package (debian/) in build/deb/; deb-check installs, uses and
# removes it on this machine.
deb:
	scripts/build-deb build/deb

deb-check: deb all
	tests/deb-check build/deb $(B)

clean:
	rm -rf build build-san build-fuzz
