# Postern: a thin wrapper over meson. The build lives in meson.build; this file
# only names the everyday commands.
#
#   make            build into build/
#   make run        build, create a dev instance in var/dev (once), serve it
#   make check      sanitizer build + unit + fuzz-regress + integration tests
#   make install    meson install (honours DESTDIR=...)
#   make lint       clang-format, cppcheck and clang-tidy (scripts/lint)
#   make fuzz       libFuzzer targets with clang into build-fuzz/
#   make clean      remove the build directories

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
DEV        ?= var/dev
# Debian's interpreter: the PATH may put a python3 without pytest first.
PYTHON     ?= /usr/bin/python3
PYTEST_ARGS ?=
# Bound on the whole integration run (seconds): SIGINT lets pytest write its
# report for the tests that ran; CI allows 90 minutes for everything.
PYTEST_TIMEOUT ?= 2700

ASAN_OPTS  := -Db_sanitize=address,undefined -Db_lundef=false
CHECK_OPTS := $(ASAN_OPTS) -Dwerror=true
FUZZ_OPTS  := -Dfuzz=true $(ASAN_OPTS)

# $(call meson_setup,DIR,OPTIONS): configure DIR unless it already is.
define meson_setup
	if [ ! -f $(1)/build.ninja ]; then \
		if [ -f $(1)/meson-private/coredata.dat ]; then \
			meson setup --reconfigure $(1) $(2); \
		else \
			meson setup $(1) $(2); \
		fi; \
	fi
endef

.PHONY: all build deps run check install lint fuzz clean

all: build

deps:
	@scripts/install-deps --check >/dev/null || scripts/install-deps

build:
	@$(call meson_setup,$(BUILD),)
	ninja -C $(BUILD)

run: deps build
	@if [ ! -f $(DEV)/postern.conf ]; then \
		mkdir -p $(dir $(DEV)); \
		$(BUILD)/postern init $(DEV); \
		(umask 077; openssl rand -base64 18 > $(DEV)/demo.password); \
		chmod 600 $(DEV)/demo.password; \
		$(BUILD)/postern user add -c $(DEV)/postern.conf demo@example.test \
			--password-stdin < $(DEV)/demo.password; \
	fi
	@echo
	@echo "Dev instance: $(DEV)/postern.conf"
	@echo "  user:      demo@example.test"
	@echo "  password:  $$(cat $(DEV)/demo.password)   (in $(DEV)/demo.password)"
	@echo
	@echo "Send a test message from another terminal:"
	@echo "  swaks --server 127.0.0.1:5870 --tls --auth PLAIN \\"
	@echo "    --auth-user demo@example.test --auth-password \"\$$(cat $(DEV)/demo.password)\" \\"
	@echo "    --to demo@example.test --from demo@example.test"
	@echo "  (implicit TLS: --server 127.0.0.1:4650 --tlsc)"
	@echo "It lands in $(DEV)/mail/example.test/demo/new/"
	@echo
	exec $(BUILD)/postern serve -c $(DEV)/postern.conf

# make check: every step runs even when an earlier one failed, so the closing
# line counts everything; scripts/summarize prints it and sets the exit code.
check: deps
	@build_failed=0; mrc=0; \
	rm -f $(ASAN_BUILD)/meson-logs/testlog.json $(ASAN_BUILD)/integration.xml \
		$(ASAN_BUILD)/check-summary.txt; \
	{ $(call meson_setup,$(ASAN_BUILD),$(CHECK_OPTS)); } && ninja -C $(ASAN_BUILD) || build_failed=1; \
	if [ $$build_failed -eq 0 ]; then \
		meson test -C $(ASAN_BUILD) --print-errorlogs --suite unit --suite fuzz-regress \
			|| mrc=$$?; \
		rc=0; \
		POSTERN="$(CURDIR)/$(ASAN_BUILD)/postern" \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		timeout -s INT -k 60 $(PYTEST_TIMEOUT) \
		$(PYTHON) -m pytest -q -rfEs -p no:cacheprovider \
			--junitxml=$(ASAN_BUILD)/integration.xml $(PYTEST_ARGS) tests/integration || rc=$$?; \
		case $$rc in \
		0|1) ;; \
		5) echo "make check: pytest collected no integration tests" ;; \
		124) echo "make check: integration tests stopped after $(PYTEST_TIMEOUT)s"; \
		   build_failed=1 ;; \
		*) echo "make check: pytest exited $$rc"; \
		   [ -f $(ASAN_BUILD)/integration.xml ] || build_failed=1 ;; \
		esac; \
	else \
		echo "make check: the sanitizer build failed"; \
	fi; \
	scripts/summarize --meson $(ASAN_BUILD)/meson-logs/testlog.json --meson-rc $$mrc \
		--junit $(ASAN_BUILD)/integration.xml --fail-extra $$build_failed \
		--out $(ASAN_BUILD)/check-summary.txt

install: build
	meson install -C $(BUILD) --no-rebuild $(if $(DESTDIR),--destdir "$(DESTDIR)")

lint:
	scripts/lint

fuzz:
	@if [ ! -f $(FUZZ_BUILD)/build.ninja ]; then \
		CC=clang meson setup $(FUZZ_BUILD) $(FUZZ_OPTS); \
	fi
	ninja -C $(FUZZ_BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
