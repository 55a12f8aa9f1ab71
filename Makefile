# SPDX-License-Identifier: Apache-2.0
# nhiscope build. `make` builds everything; `make run` and `make test` are
# the two set-up commands of the README and install their own dependencies.

BUILD      ?= build
CC         ?= gcc
CLANG      ?= clang
BPFTOOL    ?= bpftool
ARCH       := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' -e 's/ppc64le/powerpc/' -e 's/s390x/s390/')
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux

CFLAGS     ?= -O2 -g
WARN       := -Wall -Wextra -Werror
# Include paths per part: agent/lib sees only itself, models/ only itself
# (and its generated headers), the collector never sees agent/ outside lib.
LIB_INC    := -Iagent/lib -Imodels
MODELS_INC := -Imodels -I$(BUILD)/models
AGENT_INC  := -Ibpf -Iagent $(LIB_INC) -I$(BUILD) $(MODELS_INC)
COLL_INC   := -Icollector $(LIB_INC) $(MODELS_INC) -I$(BUILD)
CPPFLAGS   := -D_GNU_SOURCE $(AGENT_INC)
STD        := -std=gnu11
LDLIBS     := -lbpf -lelf -lz -ljson-c -lcurl -lprotobuf-c -lyaml -lcrypto
SAN        := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# Every build and test dependency, from Debian 12.
DEPS := make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libjson-c-dev \
	pkg-config python3 iproute2 util-linux libclang-rt-14-dev \
	libcurl4-openssl-dev openssl libssl-dev libprotobuf-c-dev protobuf-c-compiler \
	librdkafka-dev kcat rsyslog libmicrohttpd-dev libyaml-dev python3-yaml yamllint \
	libssl-dev python3-cryptography stress-ng libcap2-bin

BPF_SRC    := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRC))
BPF_HDRS   := bpf/nhiscope.h bpf/maps.bpf.h

# agent/lib: what both daemons use (static library libnhlib.a).
LIB_MODS   := log config secretfile clock kafkaconf http httpserver jsonw recordjson
MODELS_HDRS := $(wildcard models/*.h)
LIB_HDRS   := $(wildcard agent/lib/*.h) $(MODELS_HDRS)
# Agent modules without BPF or Kafka I/O, shared by the agent, the unit
# tests, the fuzzers and the benchmarks (libnhagent.a).
AGENT_LIB  := u64map quotamap decode opname sockets posture cgpath cgroupfs identity proctable secrets render compact server \
	      jwt jwks tokenverify jwksfetch fingerprint catalogue workload kubelet satoken credentials credinodes findings \
	      baseline profilestore spool record dirs procroot safefile worker options metrics \
	      histogram lifecycle
AGENT_MODS := probes selfwatch kafka privileges httpd agent pipeline status startup main
CLI_MODS   := decode nhiscope
AGENT_HDRS := $(wildcard agent/*.h) $(LIB_HDRS) bpf/nhiscope.h
# models/: the pure behaviour-model library, with its protobuf schemas
# compiled by protoc-c into $(BUILD)/models (libnhmodels.a).
MODELS_PROTO := $(wildcard models/*.proto)
MODELS_PBC := $(patsubst models/%.proto,$(BUILD)/models/%.pb-c.c,$(MODELS_PROTO))
MODELS_PBH := $(MODELS_PBC:.c=.h)
MODELS_SRC := $(wildcard models/*.c)
MODELS_MODS := $(patsubst models/%.c,%,$(MODELS_SRC)) $(patsubst models/%.proto,%.pb-c,$(MODELS_PROTO))
# collector/: nhiscope-collector; COLLECTOR_PURE are the modules without
# I/O, unit-tested in test_collector (libnhcollector.a).
COLLECTOR_PURE := dedup ecs syslogfmt options
COLLECTOR_MODS := main collector consumer sink_file sink_syslog sink_http telemetry
COLLECTOR_HDRS := $(wildcard collector/*.h) $(LIB_HDRS) $(MODELS_PBH)

# Static libraries, three flavours: plain, ASan+UBSan (unit tests) and
# clang with fuzzer instrumentation (fuzzers). Each source is compiled
# once per flavour, whatever links it.
lib_objs    = $(patsubst %,$(BUILD)/$(1)lib/%.o,$(LIB_MODS))
agent_objs  = $(patsubst %,$(BUILD)/$(1)agent/%.o,$(AGENT_LIB))
models_objs = $(patsubst %,$(BUILD)/$(1)models/%.o,$(MODELS_MODS))
coll_objs   = $(patsubst %,$(BUILD)/$(1)collector/%.o,$(COLLECTOR_PURE))
# Link order: users before what they use.
LIBS       := $(BUILD)/libnhagent.a $(BUILD)/libnhcollector.a $(BUILD)/libnhmodels.a $(BUILD)/libnhlib.a
SAN_LIBS   := $(patsubst $(BUILD)/%,$(BUILD)/san/%,$(LIBS))
FUZZ_LIBS  := $(patsubst $(BUILD)/%,$(BUILD)/fuzz/%,$(LIBS))
AGENT_OBJS := $(patsubst %,$(BUILD)/agent/%.o,$(AGENT_MODS))
CLI_OBJS   := $(patsubst %,$(BUILD)/agent/%.o,$(CLI_MODS))
COLLECTOR_OBJS := $(patsubst %,$(BUILD)/collector/%.o,$(COLLECTOR_MODS))

UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
UNIT_BINS  := $(patsubst %,$(BUILD)/tests/%,$(UNIT_TESTS)) \
	      $(patsubst %,$(BUILD)/tests/%-san,$(UNIT_TESTS))
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,$(BUILD)/tests/%,$(FUZZ_SRC))
HELPERS    := $(patsubst tests/helpers/%.c,$(BUILD)/tests/%,$(wildcard tests/helpers/*.c))

.PHONY: fuzz all deps run test test-under-load bench demo docs clean format check-format
# Keep the sanitizer objects between builds.
.SECONDARY:

all: $(BUILD)/nhiscope-agent $(BUILD)/nhiscope $(BUILD)/nhiscope-collector $(BUILD)/tests/kafka_mock

deps:
	@missing=""; for p in $(DEPS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

$(BUILD)/vmlinux.h:
	@mkdir -p $(@D)
	@test -r $(VMLINUX_BTF) || { echo "kernel BTF $(VMLINUX_BTF) not found: a kernel with CONFIG_DEBUG_INFO_BTF=y is required" >&2; exit 1; }
	$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@.tmp && mv $@.tmp $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) $(BUILD)/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) -g -O2 -Wall -Werror -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) \
		-I$(BUILD) -Ibpf -c $< -o $@

# One object from the per-hook files, then the skeleton that embeds it.
$(BUILD)/nhiscope.bpf.o: $(BPF_OBJS)
	$(BPFTOOL) gen object $@ $^

$(BUILD)/nhiscope.skel.h: $(BUILD)/nhiscope.bpf.o
	$(BPFTOOL) gen skeleton $< name nhiscope > $@.tmp && mv $@.tmp $@

$(BUILD)/agent/probes.o: $(BUILD)/nhiscope.skel.h

# Compile rules, per flavour ($(1): "" plain, "san/", "fuzz/").
define flavour
$(BUILD)/$(1)lib/%.o: agent/lib/%.c $(LIB_HDRS)
	@mkdir -p $$(@D)
	$$(call cc_$(or $(1:/=),plain)) -D_GNU_SOURCE $(LIB_INC) -c $$< -o $$@

$(BUILD)/$(1)agent/%.o: agent/%.c $(AGENT_HDRS) | $(MODELS_PBH)
	@mkdir -p $$(@D)
	$$(call cc_$(or $(1:/=),plain)) $(CPPFLAGS) -c $$< -o $$@

$(BUILD)/$(1)models/%.pb-c.o: $(BUILD)/models/%.pb-c.c $(MODELS_PBH)
	@mkdir -p $$(@D)
	$$(call cc_$(or $(1:/=),plain)) -D_GNU_SOURCE $(MODELS_INC) -c $$< -o $$@

$(BUILD)/$(1)models/%.o: models/%.c $(wildcard models/*.h) $(MODELS_PBH)
	@mkdir -p $$(@D)
	$$(call cc_$(or $(1:/=),plain)) -D_GNU_SOURCE $(MODELS_INC) -c $$< -o $$@

$(BUILD)/$(1)collector/%.o: collector/%.c $(COLLECTOR_HDRS)
	@mkdir -p $$(@D)
	$$(call cc_$(or $(1:/=),plain)) -D_GNU_SOURCE $(COLL_INC) -c $$< -o $$@

$(BUILD)/$(1)libnhlib.a: $(call lib_objs,$(1))
	rm -f $$@ && ar rcs $$@ $$^
$(BUILD)/$(1)libnhagent.a: $(call agent_objs,$(1))
	rm -f $$@ && ar rcs $$@ $$^
$(BUILD)/$(1)libnhmodels.a: $(call models_objs,$(1))
	rm -f $$@ && ar rcs $$@ $$^
$(BUILD)/$(1)libnhcollector.a: $(call coll_objs,$(1))
	rm -f $$@ && ar rcs $$@ $$^
endef
cc_plain = $(CC) $(STD) $(CFLAGS) $(WARN)
cc_san   = $(CC) $(STD) -O1 -g $(SAN) $(WARN)
cc_fuzz  = $(CLANG) $(STD) -g -O1 -fsanitize=fuzzer-no-link,address,undefined $(WARN)
$(eval $(call flavour,))
$(eval $(call flavour,san/))
$(eval $(call flavour,fuzz/))

$(BUILD)/models/%.pb-c.c $(BUILD)/models/%.pb-c.h: models/%.proto
	@mkdir -p $(@D)
	protoc-c --c_out=$(BUILD)/models --proto_path=models $<

$(BUILD)/agent/probes.o: $(BUILD)/nhiscope.skel.h

$(BUILD)/nhiscope-agent: $(AGENT_OBJS) $(LIBS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -lrdkafka -lmicrohttpd

$(BUILD)/nhiscope: $(CLI_OBJS) $(BUILD)/libnhlib.a
	$(CC) $(CFLAGS) $^ -o $@ -ljson-c

$(BUILD)/nhiscope-collector: $(COLLECTOR_OBJS) $(BUILD)/libnhcollector.a $(BUILD)/libnhmodels.a $(BUILD)/libnhlib.a
	$(CC) $(CFLAGS) $^ -o $@ -lrdkafka -lprotobuf-c -ljson-c -lcurl -lmicrohttpd -lyaml

# Unit tests link the static libraries, once plainly and once with
# ASan+UBSan; fuzzers link the fuzzer-instrumented ones.
TEST_LIBS := $(LDLIBS) -lrdkafka -lmicrohttpd
$(BUILD)/tests/test_collector: TEST_INC = $(COLL_INC)
$(BUILD)/tests/test_collector-san: TEST_INC = $(COLL_INC)
# Release 1's files through both daemons' modules.
$(BUILD)/tests/test_compat: TEST_INC = $(CPPFLAGS) -Icollector
$(BUILD)/tests/test_compat-san: TEST_INC = $(CPPFLAGS) -Icollector
TEST_INC ?= $(CPPFLAGS)
# The producer against librdkafka's mock cluster: kafka.o is no library's.
$(BUILD)/tests/test_kafka: $(BUILD)/agent/kafka.o
$(BUILD)/tests/test_kafka: TEST_OBJS = $(BUILD)/agent/kafka.o
$(BUILD)/tests/test_kafka-san: $(BUILD)/san/agent/kafka.o
$(BUILD)/tests/test_kafka-san: TEST_OBJS = $(BUILD)/san/agent/kafka.o
$(BUILD)/tests/test_%: tests/unit/test_%.c tests/unit/check.h $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(STD) $(CFLAGS) $(WARN) -D_GNU_SOURCE $(TEST_INC) -Itests/unit $< $(TEST_OBJS) $(LIBS) -o $@ $(TEST_LIBS)

$(BUILD)/tests/test_%-san: tests/unit/test_%.c tests/unit/check.h $(SAN_LIBS)
	@mkdir -p $(@D)
	$(CC) $(STD) -O1 -g $(SAN) $(WARN) -D_GNU_SOURCE $(TEST_INC) -Itests/unit $< $(TEST_OBJS) $(SAN_LIBS) -o $@ $(TEST_LIBS)

$(BUILD)/tests/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIBS)
	@mkdir -p $(@D)
	$(CLANG) $(STD) -g -O1 -fsanitize=fuzzer,address,undefined $(CPPFLAGS) $< $(FUZZ_LIBS) -o $@ $(TEST_LIBS)

# Kafka helpers for the collector tests and the demo: a mock cluster, and
# wire records from JSON lines.
$(BUILD)/tests/kafka_mock: tests/helpers/kafka_mock.c
	@mkdir -p $(@D)
	$(CC) $(STD) $(CFLAGS) $(WARN) $(CPPFLAGS) $< -o $@ -lrdkafka

$(BUILD)/tests/wire_produce: tests/helpers/wire_produce.c $(BUILD)/libnhmodels.a
	@mkdir -p $(@D)
	$(CC) $(STD) $(CFLAGS) $(WARN) $(CPPFLAGS) $^ -o $@ -lrdkafka -lprotobuf-c -ljson-c

$(BUILD)/tests/%: tests/helpers/%.c
	@mkdir -p $(@D)
	$(CC) $(STD) $(CFLAGS) $(WARN) $(CPPFLAGS) $< -o $@

run: deps all
	$(BUILD)/nhiscope-agent --tail

test: deps all $(UNIT_BINS) $(FUZZ_BINS) $(HELPERS)
	@BUILD=$(BUILD) bash tests/run

# Long fuzz runs (the suite's are 8 s smoke runs): FUZZ_SECONDS a fuzzer,
# 300 unless given; the corpus grows in $(BUILD)/fuzz-corpus from run to run.
fuzz: $(FUZZ_BINS)
	@fail=0; for fz in $(FUZZ_BINS); do \
		n=$$(basename $$fz); seeds=tests/fuzz/corpus/$${n#fuzz_}; \
		[ -d $$seeds ] || seeds=; mkdir -p $(BUILD)/fuzz-corpus/$$n; \
		echo "== $$n ($(or $(FUZZ_SECONDS),300)s)"; \
		$$fz -max_total_time=$(or $(FUZZ_SECONDS),300) -print_final_stats=1 \
			$(BUILD)/fuzz-corpus/$$n $$seeds || fail=1; \
	done; exit $$fail

# The suite with both CPUs kept busy beside it, as on a shared CI machine:
# run it before submitting kernel tests. LOAD_RUNS=3 repeats it.
test-under-load: deps all $(UNIT_BINS) $(FUZZ_BINS) $(HELPERS)
	@BUILD=$(BUILD) LOAD_RUNS=$(or $(LOAD_RUNS),1) bash tests/under-load

# Throughput and memory of models/ alone (one core, replayed observations).
$(BUILD)/tests/models_bench: tests/bench/models_bench.c $(BUILD)/libnhmodels.a
	@mkdir -p $(@D)
	$(CC) $(STD) -O2 -g $(WARN) -D_GNU_SOURCE $(MODELS_INC) $^ -o $@ -lprotobuf-c -lz

# The agent's user-space path per record: decode -> identity -> baseline.
$(BUILD)/tests/pipeline_bench: tests/bench/pipeline_bench.c $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(STD) -O2 -g $(WARN) $(CPPFLAGS) $< $(LIBS) -o $@ $(TEST_LIBS)

# docs/configuration.md: the hand-written part, then the option tables as
# the binaries describe them (tests/integration/test_config.py compares).
docs: $(BUILD)/nhiscope-agent $(BUILD)/nhiscope-collector
	@sed -n '1,/^<!-- generated by make docs/p' docs/configuration.md > $(BUILD)/configuration.md
	@{ echo; $(BUILD)/nhiscope-agent --print-config-reference; echo; \
	   $(BUILD)/nhiscope-collector --print-config-reference; } >> $(BUILD)/configuration.md
	@mv $(BUILD)/configuration.md docs/configuration.md
	@echo "docs/configuration.md regenerated"

# The whole pipeline on one host: Kafka mock cluster, agent, collector.
demo: deps all $(BUILD)/tests/wire_produce
	@BUILD=$(BUILD) bash tests/demo/run

bench: deps all $(HELPERS) $(BUILD)/tests/models_bench $(BUILD)/tests/pipeline_bench
	@BUILD=$(BUILD) bash tests/bench/run

format:
	clang-format -i bpf/*.c bpf/*.h agent/*.c agent/*.h agent/lib/*.c agent/lib/*.h \
		tests/unit/*.c tests/unit/*.h tests/helpers/*.c collector/*.c collector/*.h

check-format:
	clang-format --dry-run --Werror bpf/*.c bpf/*.h agent/*.c agent/*.h agent/lib/*.c agent/lib/*.h \
		collector/*.c collector/*.h

clean:
	rm -rf $(BUILD)
