# cerbere: one Makefile.  `make` builds, `make deps` installs what is missing
# from Debian, `make test` / `make run` do both first.  See README.md.
#
# Warnings: -Wall -Wextra -Werror plus the list below.  Left out, on purpose:
#   -Wconversion  (int64/size_t/int mixing in shape code drowns real findings)
#   -Wdouble-promotion (we compute in double; float only appears in file I/O)
#   -Wmissing-field-initializers (from -Wextra): a positional initialiser
#     zeroes the fields it leaves out (C11 6.7.9p21), and a field added at
#     the end of a struct (cb_set.w, per-feature radii) is designed so that
#     zero means "off"; fifty {norm, eps, n, x, lo, hi} sets stay as they are

CC      ?= gcc
B       ?= build
OPT     ?= -O2
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wold-style-definition -Wundef -Wpointer-arith -Wvla -Wno-missing-field-initializers
OMPFLAG ?= -fopenmp
# -fPIC on every object: the same library objects make libcerbere.a and
# libcerbere.so (position-independent code costs nothing measurable on x86-64).
PICFLAG ?= -fPIC
CFLAGS  := -std=c11 $(OPT) -g $(WARN) -D_POSIX_C_SOURCE=200809L $(OMPFLAG) $(PICFLAG) $(EXTRA_CFLAGS)
# Each object also writes its header dependencies (build/src/net.d...).
DEPFLAGS:= -MMD -MP
LDLIBS  := -lprotobuf-c -lcjson -llapacke -lopenblas -lglpk -lgmp -lcrypto -lpng -lz -lm $(OMPFLAG) $(EXTRA_LDLIBS)

# Debian packages the build, the tests and `make run` need (checked by `make deps`).
DEB_PKGS := gcc make protobuf-c-compiler libprotobuf-c-dev libonnx-dev libopenblas-dev \
            liblapacke-dev libglpk-dev libcjson-dev libcmocka-dev libssl-dev zlib1g-dev libpng-dev valgrind libgmp-dev jq chromium \
            pkg-config poppler-utils openmpi-bin libopenmpi-dev
# The fuzzing build (`make fuzz`, and the smoke run inside `make test`):
# clang and its compiler-rt (libFuzzer, ASan, UBSan runtimes) on Debian 12.
FUZZ_PKGS := clang libclang-rt-14-dev

# Floors, bottom to top: src/ <- bounds/ <- lip/ <- certify/ <- cli/.  A file
# is compiled with the include paths of its own floor and the floors below
# (plus include/ and the generated headers), so an #include of a header from
# a floor above is a compile error.  cli/ is the command line (main, the
# commands, argument parsing, the JSON and HTML reports): it builds the
# cerbere binary and is not part of libcerbere.a, which is the four floors
# below it.
INC_src     := -Isrc
INC_bounds  := $(INC_src) -Ibounds
INC_lip     := $(INC_bounds) -Ilip
INC_certify := $(INC_lip) -Icertify
INC_cli     := $(INC_certify) -Icli
# check/ (the proof checker) sees src/ only: it must not trust the code whose
# answers it checks (build/cerbere-check links check/ and src/ objects alone).
INC_check   := $(INC_src) -Icheck
LIB_FLOORS  := src bounds lip certify
FLOORS      := $(LIB_FLOORS) $(wildcard cli)
floor_cppflags = -Iinclude $(INC_$(1)) -I$(B)/gen -I/usr/include/x86_64-linux-gnu
# tests, examples, fuzzers and benchmarks see every floor
CPPFLAGS    := $(call floor_cppflags,$(lastword $(FLOORS)))

# MPI is optional: files named *_mpi.c (one per command that distributes
# work) are compiled by mpicc into a second binary, $(B)/cerbere-mpi, made
# only when mpicc is found (`make MPICC=` builds without it).  Each has a
# *_nompi.c twin with the same entry points, which refuse under mpirun:
# $(B)/cerbere links the twins, so the main binary, the library and every
# test build and run without MPI.
MPICC     ?= mpicc
HAVE_MPI  := $(if $(MPICC),$(shell command -v $(MPICC) >/dev/null 2>&1 && echo 1))
MPI_SRC   := $(wildcard */*_mpi.c)
MPI_OBJ   := $(patsubst %.c,$(B)/%.o,$(MPI_SRC))
NOMPI_OBJ := $(patsubst %.c,$(B)/%.o,$(wildcard */*_nompi.c))
MPI_INC   := $(if $(HAVE_MPI),$(shell $(MPICC) --showme:incdirs 2>/dev/null | sed 's/[^ ][^ ]*/-I&/g'))
CLI_SRC := $(filter-out $(MPI_SRC),$(wildcard cli/*.c))
CLI_OBJ := $(patsubst %.c,$(B)/%.o,$(CLI_SRC))
LIB_SRC := $(filter-out $(CLI_SRC) $(MPI_SRC),$(foreach d,$(LIB_FLOORS),$(wildcard $(d)/*.c)))
LIB_OBJ := $(B)/gen/onnx.pb-c.o $(patsubst %.c,$(B)/%.o,$(LIB_SRC))
SRC_OBJ := $(B)/gen/onnx.pb-c.o $(patsubst %.c,$(B)/%.o,$(wildcard src/*.c))
CHECK_OBJ := $(B)/check/check.o $(B)/check/certs.o
TESTS   := $(patsubst tests/%.c,$(B)/tests/%,$(wildcard tests/test_*.c))
EXAMPLES:= $(patsubst examples/%.c,$(B)/examples/%,$(wildcard examples/*.c))
# The library's version is CB_VERSION in the public header; the soname
# carries its major number.
VERSION  := $(shell sed -n 's/^\#define CB_VERSION "\(.*\)"/\1/p' include/cerbere.h)
SO_MAJOR := $(firstword $(subst ., ,$(VERSION)))
SO_NAME  := libcerbere.so.$(SO_MAJOR)
SO_REAL  := libcerbere.so.$(VERSION)
ONNX_PROTO = $(shell dpkg -L libonnx-dev 2>/dev/null | grep '/onnx\.proto$$' | head -n 1)

.PHONY: FORCE all install uninstall deps test run check check-fast deps-check deps-floors deps-cli asan valgrind bench bench-load bench-lip bench-jac bench-attr bench-perturb bench-audit clean _test _run fuzz fuzz-build _test_all _build _fuzz_bins
all: $(B)/cerbere $(B)/cerbere-check $(B)/libcerbere.a $(B)/$(SO_REAL) $(EXAMPLES) $(if $(HAVE_MPI),$(B)/cerbere-mpi)

# Installs only what is missing; runs apt-get update once, before installing.
deps:
	@missing=""; for p in $(DEB_PKGS) $(FUZZ_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "make deps: all Debian packages present"; fi

# test and run first install, then build in a fresh make (so the paths that
# depend on installed packages, like onnx.proto, are read after installing).
# `make test` is what CI runs: the normal suite, the unit tests again under
# ASan+UBSan (build-asan/), and a FUZZ_SMOKE-second run of each libFuzzer
# harness (build-fuzz/), all counted in one closing "N passed, N failed".
FUZZ_SMOKE ?= 30
test: deps
	@$(MAKE) --no-print-directory _test_all
run: deps
	@$(MAKE) --no-print-directory _run

_test: all $(TESTS)
	@sh tests/run_tests.sh $(B)
_build: all $(TESTS)
_test_all: all $(TESTS)
	@$(MAKE) --no-print-directory _build $(ASAN_MAKE)
	@$(MAKE) --no-print-directory _fuzz_bins $(FUZZ_MAKE)
	@CB_ASAN_B=build-asan CB_FUZZ_B=build-fuzz CB_FUZZ_SECONDS=$(FUZZ_SMOKE) sh tests/run_tests.sh $(B)

# make check: build, deps-check, then tests/run_tests.sh without its apt-get,
# sanitizer, fuzzing and browser parts: every unit test and every CLI test
# (bad inputs, CLI errors, certify interrupt/resume, the example, ulimit, the
# deps-check rule).  1 min 54 s here with the build up to date (2 cores,
# load average 3-4 from other work).
# make check T=NAME runs one test: a unit test (T=verify runs
# build/tests/test_verify) or a CLI test by its name in run_tests.sh
# (T=cli_errors, bad_inputs, proof_cli, npy_formats, formats_360, normalise_cifar, regression_bounds, certify_interrupt, certify_shard,
# certify_mpi and mpi_verify (SKIPPED without Open MPI's mpirun or build/cerbere-mpi), limits_ulimit, deps_check, install, python,
# report_browser, predict, verify_witness); an unknown name fails.
check: all $(if $(T),$(filter $(B)/tests/test_$(patsubst test_%,%,$(T)),$(TESTS)),$(TESTS) deps-check)
	@CB_RUN="$(T)" CB_BROWSER=$(if $(T),1,0) sh tests/run_tests.sh $(B)

# make check-fast: the inner loop, under 30 s (10 s with the build up to
# date, 16 s after touching one library file, load 3; touching src/net.h,
# which nearly every file includes, recompiles ~55 objects: 37 s, 31 s with
# make -j2).  The unit tests that
# take at most about 1.5 s of CPU each (measured with time; 0.1-3 s of wall
# time at load 3-5 on this shared machine): the loaders and ops (nnet_csv, ops, reference, benchmarks,
# limits, oom), forward, exact, grad, bounds, attack, adversarial, verify,
# beta (0.5 s), report; and the CLI's error paths (cli_errors, bad_inputs: 3-4 s each,
# mostly process start-up), ulimit and the example.  Left out, by time:
# test_vnnlib and test_lipschitz (2-6 s), test_attr, test_attr_cert and test_sound (5-6 s),
# test_patches and test_alpha (9-23 s), test_certify and test_jacobian
# (14-41 s), certify_interrupt (5 s) and deps_check (7 s).  make check
# runs them all.
CHECK_FAST := forward ops linalg nnet_csv npy oom limits reference exact grad bounds \
              attack adversarial verify beta report benchmarks \
              cli_errors bad_inputs npy_formats limits_ulimit predict verify_witness proof
check-fast: all $(filter $(TESTS),$(patsubst %,$(B)/tests/test_%,$(CHECK_FAST)))
	@CB_RUN="$(CHECK_FAST)" sh tests/run_tests.sh $(B)

DEFAULT_NET := nets/digits_mlp.onnx
# Certify the default network at two balls with radii, audit its saliency
# maps on 20 rows (L-inf 0.01), then merge the three reports into
# out/report.json + out/report.html.  certify exits 10/11 when
# some samples are falsified/unknown: that is a result, not a failure.
_run: all
	$(B)/cerbere info $(DEFAULT_NET)
	@for ball in "inf 0.01 linf" "2 0.1 l2"; do set -- $$ball; \
	  echo "$(B)/cerbere certify $(DEFAULT_NET) --data nets/digits_test.csv --norm $$1 --eps $$2 --radius --quiet --out out/$$3"; \
	  $(B)/cerbere certify $(DEFAULT_NET) --data nets/digits_test.csv --norm $$1 --eps $$2 --radius --quiet --out out/$$3; \
	  rc=$$?; [ $$rc = 0 ] || [ $$rc = 10 ] || [ $$rc = 11 ] || exit $$rc; done
	$(B)/cerbere audit $(DEFAULT_NET) --data nets/digits_test.csv --rows 0:20 --method saliency --norm inf --eps 0.01 --quiet --out out/audit
	$(B)/cerbere report --out out out/linf/report.json out/l2/report.json out/audit/report.json

# One protoc-c run makes both files (a grouped target: make -j runs it once).
$(B)/gen/onnx.pb-c.c $(B)/gen/onnx.pb-c.h &:
	@mkdir -p $(B)/gen
	@test -n "$(ONNX_PROTO)" || { echo "onnx.proto not found: run 'make deps' (libonnx-dev)"; exit 1; }
	protoc-c --c_out=$(B)/gen -I$(dir $(ONNX_PROTO)) $(ONNX_PROTO)

# The git commit the reports name; rewritten only when it changes.
$(B)/gen/commit.h: FORCE
	@mkdir -p $(B)/gen
	@c=$$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown); \
	 git diff --quiet HEAD -- 2>/dev/null || c="$$c-modified"; \
	 echo "#define CB_GIT_COMMIT \"$$c\"" > $@.tmp; \
	 cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
FORCE:
$(B)/cli/report_doc.o: $(B)/gen/commit.h

$(B)/gen/onnx.pb-c.o: $(B)/gen/onnx.pb-c.c
	$(CC) -std=c11 $(OPT) -g -fPIC -c $< -o $@ $(CPPFLAGS)

# Objects of a floor: that floor's include paths (the floor is the first
# folder of the source's path).  The headers an object includes come from its
# .d file; the generated onnx.pb-c.h only has to exist before the first
# compile (order-only: its .d entry rebuilds the objects that include it).
# $(B)/gen/cflags records the flags: an object built with other flags (before
# -fPIC, or another EXTRA_CFLAGS) is rebuilt instead of linked.
$(B)/gen/cflags: FORCE
	@mkdir -p $(B)/gen
	@echo "$(CC) $(CFLAGS)" > $@.tmp; cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
$(B)/%.o: %.c $(B)/gen/cflags | $(B)/gen/onnx.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) $(call floor_cppflags,$(firstword $(subst /, ,$<))) -c $< -o $@

# The archive is made afresh from its member list, which is rewritten only
# when it changes (a file added, moved to cli/ or removed): `ar r` alone keeps
# members whose source is gone, and the tests would link them.
$(B)/gen/libmembers: FORCE
	@mkdir -p $(B)/gen
	@echo "$(LIB_OBJ)" > $@.tmp; cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

$(B)/libcerbere.a: $(LIB_OBJ) $(B)/gen/libmembers
	rm -f $@
	ar rcs $@ $(LIB_OBJ)

# The shared library: the same objects, soname libcerbere.so.MAJOR, and only
# the public API (the functions include/cerbere.h declares) exported: the
# version script is generated from the header, so the internal functions of
# the floors stay out of a program's namespace.
$(B)/gen/cerbere.map: include/cerbere.h
	@mkdir -p $(B)/gen
	@{ echo "CERBERE_$(SO_MAJOR) {"; echo "  global:"; \
	   sed -n 's/^[a-z_ ]*[ *]\(cb_[a-z0-9_]*\)(.*/    \1;/p' $< | sort -u; \
	   echo "  local: *;"; echo "};"; } > $@

$(B)/$(SO_REAL): $(LIB_OBJ) $(B)/gen/libmembers $(B)/gen/cerbere.map
	$(CC) -shared -Wl,-soname,$(SO_NAME) -Wl,--version-script=$(B)/gen/cerbere.map -Wl,--no-undefined \
	  $(CFLAGS) -o $@ $(LIB_OBJ) $(LDLIBS)
	ln -sf $(SO_REAL) $(B)/$(SO_NAME)
	ln -sf $(SO_NAME) $(B)/libcerbere.so

$(B)/cerbere: $(CLI_OBJ) $(CHECK_OBJ) $(B)/libcerbere.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# The proof checker alone: check/ and src/ objects, nothing of bounds/, lip/,
# certify/ or cli/ (tests/run_proof.sh builds it and checks its symbols).
$(B)/cerbere-check: $(B)/check/main.o $(CHECK_OBJ) $(SRC_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# The MPI build: the same CLI objects with the *_mpi.o files for the
# *_nompi.o ones (and certify/vfy_mpi.o's definitions replacing the
# library's one-process certify/vfy_dist.o), compiled and linked by mpicc
# (wrapping $(CC); it adds Open MPI's include and library flags).
$(MPI_OBJ): $(B)/%.o: %.c $(B)/gen/cflags | $(B)/gen/onnx.pb-c.h
	@mkdir -p $(dir $@)
	OMPI_CC=$(CC) $(MPICC) $(CFLAGS) $(DEPFLAGS) $(call floor_cppflags,$(firstword $(subst /, ,$<))) -c $< -o $@
$(B)/cerbere-mpi: $(filter-out $(NOMPI_OBJ),$(CLI_OBJ)) $(CHECK_OBJ) $(MPI_OBJ) $(B)/libcerbere.a
	OMPI_CC=$(CC) $(MPICC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# A test is compiled once and relinked when the library changes.
$(B)/tests/%.o: tests/%.c $(B)/gen/cflags | $(B)/gen/onnx.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) $(CPPFLAGS) -Wno-missing-prototypes -c $< -o $@
$(TESTS): $(B)/tests/%: $(B)/tests/%.o $(B)/libcerbere.a
	$(CC) $(CFLAGS) -o $@ $< $(B)/libcerbere.a $(LDLIBS) -lcmocka -lgmp

$(B)/examples/%: examples/%.c $(B)/libcerbere.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -MF $@.d -Iinclude -o $@ $< $(B)/libcerbere.a $(LDLIBS)

# Sanitizer and valgrind runs of the whole suite, in their own build folders.
ASAN_MAKE := B=build-asan OPT=-O1 \
  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
  EXTRA_LDLIBS="-fsanitize=address,undefined"
asan: deps
	@$(MAKE) --no-print-directory _test $(ASAN_MAKE)
# valgrind memcheck (--error-exitcode=1 --leak-check=full) on a representative
# subset: the loaders, forward pass, bounds, gradients, limits and the exact
# adversarial tests; the long sampling/sweep ones (test_sound, test_certify,
# test_attack, test_lipschitz, test_benchmarks: 20-50x slower under memcheck)
# run under ASan in `make test` instead.  Plus the bad-input corpus, the CLI
# error cases and the example, all under memcheck.
VALGRIND_TESTS ?= oom nnet_csv forward ops reference limits bounds grad adversarial
valgrind: deps
	@$(MAKE) --no-print-directory all $(TESTS)
	@CB_VALGRIND=1 CB_ONLY="$(VALGRIND_TESTS)" sh tests/run_tests.sh $(B)

# libFuzzer harnesses fuzz/fuzz_NAME.c (one per parser; a new fuzz_*.c is
# picked up, e.g. fuzz_vnnlib.c once src/vnnlib.c lands, with its seeds listed
# in fuzz/run.sh).  clang, no OpenMP (one thread per fuzzer), ASan+UBSan.
# `make fuzz FUZZ_SECONDS=N` runs each for N s, one after the other.
FUZZ_SECONDS ?= 60
FUZZ_NAMES := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst fuzz/%.c,$(B)/fuzz/%,$(wildcard fuzz/fuzz_*.c))
FUZZ_MAKE := B=build-fuzz CC=clang OPT=-O1 OMPFLAG= \
  EXTRA_CFLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -Wno-unknown-pragmas" \
  EXTRA_LDLIBS="-fsanitize=address,undefined"
fuzz: deps
	@$(MAKE) --no-print-directory _fuzz_bins $(FUZZ_MAKE)
	@fail=0; for f in $(FUZZ_NAMES); do sh fuzz/run.sh $$f $(FUZZ_SECONDS) build-fuzz || fail=1; done; exit $$fail
fuzz-build: deps
	@$(MAKE) --no-print-directory _fuzz_bins $(FUZZ_MAKE)
_fuzz_bins: $(FUZZ_BINS)
$(B)/fuzz/%: fuzz/%.c fuzz/fuzz_util.h $(B)/libcerbere.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -MF $@.d $(CPPFLAGS) -Wno-missing-prototypes -fsanitize=fuzzer -o $@ $< $(B)/libcerbere.a $(LDLIBS)

# make install [PREFIX=/usr/local] [DESTDIR=]: the binary, the static and
# shared libraries, the public header, cerbere.pc and the man page.  Build
# first (`make`); install only copies.  make uninstall removes the same files.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
PCDIR      ?= $(LIBDIR)/pkgconfig
# Libraries a static link of libcerbere.a needs (cerbere.pc's Libs.private):
# LDLIBS with OpenMP's runtime named as a library.
PC_PRIVATE := $(filter-out -fopenmp,$(LDLIBS)) $(if $(OMPFLAG),-lgomp -lpthread)
$(B)/cerbere.pc: cerbere.pc.in include/cerbere.h FORCE
	@sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	     -e 's|@VERSION@|$(VERSION)|; s|@PRIVATE@|$(strip $(PC_PRIVATE))|' cerbere.pc.in > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
install: all $(B)/cerbere.pc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PCDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(B)/cerbere $(DESTDIR)$(BINDIR)/cerbere
	if [ -f $(B)/cerbere-mpi ]; then install -m 755 $(B)/cerbere-mpi $(DESTDIR)$(BINDIR)/cerbere-mpi; fi
	install -m 644 $(B)/libcerbere.a $(DESTDIR)$(LIBDIR)/libcerbere.a
	install -m 755 $(B)/$(SO_REAL) $(DESTDIR)$(LIBDIR)/$(SO_REAL)
	ln -sf $(SO_REAL) $(DESTDIR)$(LIBDIR)/$(SO_NAME)
	ln -sf $(SO_NAME) $(DESTDIR)$(LIBDIR)/libcerbere.so
	install -m 644 include/cerbere.h $(DESTDIR)$(INCLUDEDIR)/cerbere.h
	install -m 644 $(B)/cerbere.pc $(DESTDIR)$(PCDIR)/cerbere.pc
	install -m 644 man/cerbere.1 $(DESTDIR)$(MANDIR)/man1/cerbere.1
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/cerbere $(DESTDIR)$(BINDIR)/cerbere-mpi $(DESTDIR)$(LIBDIR)/libcerbere.a $(DESTDIR)$(LIBDIR)/$(SO_REAL) \
	  $(DESTDIR)$(LIBDIR)/$(SO_NAME) $(DESTDIR)$(LIBDIR)/libcerbere.so $(DESTDIR)$(INCLUDEDIR)/cerbere.h \
	  $(DESTDIR)$(PCDIR)/cerbere.pc $(DESTDIR)$(MANDIR)/man1/cerbere.1

bench: deps all
	@$(MAKE) --no-print-directory $(B)/bench/forward $(B)/bench/bounds
	$(B)/bench/forward
	$(B)/bench/bounds

bench-lip: deps all
	@$(MAKE) --no-print-directory $(B)/bench/lipschitz
	$(B)/bench/lipschitz

bench-jac: deps all
	@$(MAKE) --no-print-directory $(B)/bench/jacobian
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(B)/bench/jacobian

bench-attr: deps all
	@$(MAKE) --no-print-directory $(B)/bench/attributions
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(B)/bench/attributions

# Perturbation attributions (lime, kernelshap, sobol, hsic, rise, occlusion):
# cost in forward passes and batched forward rate against the same-run dgemm
# rate, on digits_cnn and mnist-net_256x6 (from /work/shared; SKIPPED
# without it).  Results in bench/RESULTS_attributions.md.
bench-perturb: deps all
	@$(MAKE) --no-print-directory $(B)/bench/perturb
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 nice $(B)/bench/perturb

# The audit's verdicts against 3,000 independent uniform samples per ball
# (bench/audit_undecided.c): make run's audit, then digits_cnn at L-inf 0.01
# and 0.03 (every row of nets/digits_test.csv), saliency and gradxinput.
# Exits non-zero when a row stays undecided (or stable) although sampling
# finds a top-k change.  Results in bench/RESULTS_attributions.md.
bench-audit: deps all
	@$(MAKE) --no-print-directory $(B)/bench/audit_undecided
	@set -e; d=$$(mktemp -d /tmp/cb_bench_audit_XXXXXX); \
	$(B)/cerbere audit $(DEFAULT_NET) --data nets/digits_test.csv --rows 0:20 --method saliency --norm inf --eps 0.01 --quiet --out $$d/run; \
	$(B)/bench/audit_undecided $(DEFAULT_NET) nets/digits_test.csv $$d/run; \
	for m in saliency gradxinput; do for e in 0.01 0.03; do \
	  $(B)/cerbere audit nets/digits_cnn.onnx --data nets/digits_test.csv --method $$m --norm inf --eps $$e --quiet --out $$d/$$m$$e; \
	  $(B)/bench/audit_undecided nets/digits_cnn.onnx nets/digits_test.csv $$d/$$m$$e; done; done; rm -rf $$d

# ONNX load time (issue 19: a 10 MB export with folded weight-only subgraphs
# under 0.2 s): bench/gen_fold_net.py writes the export under build/ (needs
# /usr/bin/python3 with torch: SKIPPED without), bench/load.c times
# cb_net_load (median wall and CPU of 7, load average).  bench/RESULTS.md.
bench-load: deps all
	@$(MAKE) --no-print-directory $(B)/bench/load
	@if [ ! -f $(B)/bench/fold10mb.onnx ]; then \
	  if /usr/bin/python3 -c 'import torch' 2>/dev/null; then nice /usr/bin/python3 bench/gen_fold_net.py $(B)/bench/fold10mb.onnx; \
	  else echo "bench-load: SKIPPED (no /usr/bin/python3 with torch to generate the export)"; exit 0; fi; fi; \
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 nice $(B)/bench/load $(B)/bench/fold10mb.onnx 7

$(B)/bench/%: bench/%.c $(B)/libcerbere.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -MF $@.d $(CPPFLAGS) -o $@ $< $(B)/libcerbere.a $(LDLIBS)

# deps-check: no file includes a header from a floor above its own, and no
# library object uses the CLI.  deps-floor-F runs F's .c and .h files through
# the preprocessor alone (gcc -MM, nothing is compiled) with F's include
# paths: a header of a floor above is not found by name; and of the headers
# found, none may sit in a floor above (a "../lip/x.h" spelling).  deps-cli
# builds the objects and fails when a library object has an undefined symbol
# that a CLI object defines (nm).  tests/run_deps.sh checks that this fails.
# (-MM prints "net.o: src/net.c src/net.h ...": the awk below reads the
# source after each "x.o:" and the folder of each header.)
floors_above = $(filter-out $(patsubst -I%,%,$(INC_$(1))),$(FLOORS))
DEPS_FLOORS := $(addprefix deps-floor-,$(FLOORS))
.PHONY: $(DEPS_FLOORS)
deps-check: deps-floors deps-cli
deps-floors: $(DEPS_FLOORS)
	@echo "deps-check: floors ok ($(strip $(FLOORS)))"
$(DEPS_FLOORS): deps-floor-%: $(B)/gen/onnx.pb-c.h $(B)/gen/commit.h
	@mkdir -p $(B)/deps
	@$(CC) -MM $(call floor_cppflags,$*) $(MPI_INC) $(filter-out $(if $(HAVE_MPI),,$(MPI_SRC)),$(wildcard $*/*.c $*/*.h)) > $(B)/deps/$*.mm || \
	  { echo "deps-check: a file in $*/ includes a header that $*/ may not see (floors above: $(or $(call floors_above,$*),none))"; exit 1; }
	@sed 's/\\$$//' $(B)/deps/$*.mm | awk -v floor=$* -v above=" $(call floors_above,$*) " ' \
	  { for (i = 1; i <= NF; i++) { \
	      if ($$i ~ /:$$/) { src = ""; continue } \
	      if (src == "") { src = $$i; continue } \
	      n = split($$i, part, "/"); \
	      if (n > 1 && index(above, " " part[n-1] " ")) { \
	        print "deps-check: " src " includes " $$i ", from " part[n-1] "/, a floor above " floor "/"; bad = 1 } } } \
	  END { exit bad }'
deps-cli: $(LIB_OBJ) $(CLI_OBJ)
	@mkdir -p $(B)/deps
	@nm -g --defined-only $(CLI_OBJ) | awk 'NF == 3 { print $$3 }' > $(B)/deps/cli.syms
	@nm -A -u $(LIB_OBJ) | awk 'NR == FNR { cli[$$1] = 1; next } \
	  ($$NF in cli) { sub(/:$$/, "", $$1); print "deps-check: library object " $$1 " uses " $$NF ", defined by the CLI ($(CLI_SRC))"; bad = 1 } \
	  END { exit bad }' $(B)/deps/cli.syms - && echo "deps-check: no library object uses the CLI ($(CLI_SRC))"

clean:
	rm -rf build build-asan build-fuzz out

-include $(wildcard $(foreach d,$(FLOORS) tests examples fuzz bench,$(B)/$(d)/*.d))
