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
CPPFLAGS   := -D_GNU_SOURCE -Ibpf -Iagent -I$(BUILD) -Imodels -I$(BUILD)/models
STD        := -std=gnu11
LDLIBS     := -lbpf -lelf -lz -ljson-c -lcurl -lprotobuf-c -lyaml -lcrypto
SAN        := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# Every build and test dependency, from Debian 12.
DEPS := make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libjson-c-dev \
	pkg-config python3 iproute2 util-linux libclang-rt-14-dev \
	libcurl4-openssl-dev openssl libssl-dev libprotobuf-c-dev protobuf-c-compiler \
	librdkafka-dev kcat rsyslog libmicrohttpd-dev libyaml-dev python3-yaml yamllint \
	libssl-dev python3-cryptography stress-ng

BPF_SRC    := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRC))
BPF_HDRS   := bpf/nhiscope.h bpf/maps.bpf.h

# Modules shared by the agent, the CLI and the unit tests.
AGENT_LIB  := u64map quotamap log decode cgpath cgroupfs identity proctable secrets render compact server \
	      jwt jwks tokenverify jwksfetch fingerprint catalogue workload kubelet satoken credentials findings \
	      baseline profilestore spool record dirs procroot config secretfile options metrics \
	      histogram
AGENT_MODS := $(AGENT_LIB) probes kafka privileges httpd agent main
CLI_MODS   := log decode compact
# models/: the pure behaviour-model library, with its protobuf schemas
# compiled by protoc-c into $(BUILD)/models.
MODELS_PROTO := $(wildcard models/*.proto)
MODELS_PBC := $(patsubst models/%.proto,$(BUILD)/models/%.pb-c.c,$(MODELS_PROTO))
MODELS_PBH := $(MODELS_PBC:.c=.h)
MODELS_SRC := $(wildcard models/*.c)
MODELS_OBJS := $(patsubst models/%.c,$(BUILD)/models/%.o,$(MODELS_SRC)) $(MODELS_PBC:.c=.o)
MODELS_SAN := $(patsubst models/%.c,$(BUILD)/models/san/%.o,$(MODELS_SRC)) \
	      $(patsubst $(BUILD)/models/%.c,$(BUILD)/models/san/%.o,$(MODELS_PBC))
AGENT_OBJS := $(patsubst %,$(BUILD)/agent/%.o,$(AGENT_MODS)) $(MODELS_OBJS)
CLI_OBJS   := $(patsubst %,$(BUILD)/agent/%.o,$(CLI_MODS)) $(BUILD)/agent/nhiscope.o
# collector/: nhiscope-collector, over the wire schema and the agent's logger.
# COLLECTOR_PURE are the modules without I/O, unit-tested in test_collector.
COLLECTOR_MODS := main collector options kafka dedup ecs syslogfmt sink_file sink_syslog \
	          sink_http metrics
COLLECTOR_PURE := dedup ecs syslogfmt options
COLLECTOR_SHARED := log config secretfile
WIRE_OBJS  := $(BUILD)/models/wire.o $(BUILD)/models/wire.pb-c.o
COLLECTOR_OBJS := $(patsubst %,$(BUILD)/collector/%.o,$(COLLECTOR_MODS)) \
	          $(patsubst %,$(BUILD)/agent/%.o,$(COLLECTOR_SHARED)) \
	          $(WIRE_OBJS)

UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
UNIT_BINS  := $(patsubst %,$(BUILD)/tests/%,$(UNIT_TESTS)) \
	      $(patsubst %,$(BUILD)/tests/%-san,$(UNIT_TESTS))
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,$(BUILD)/tests/%,$(FUZZ_SRC))
HELPERS    := $(patsubst tests/helpers/%.c,$(BUILD)/tests/%,$(wildcard tests/helpers/*.c))

.PHONY: all deps run test test-under-load bench demo docs clean format check-format
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

$(BUILD)/agent/%.o: agent/%.c $(wildcard agent/*.h models/*.h) bpf/nhiscope.h $(MODELS_PBH)
	@mkdir -p $(@D)
	$(CC) $(STD) $(CFLAGS) $(WARN) $(CPPFLAGS) -c $< -o $@

$(BUILD)/agent/san/%.o: agent/%.c $(wildcard agent/*.h models/*.h) bpf/nhiscope.h $(MODELS_PBH)
	@mkdir -p $(@D)
	$(CC) $(STD) -O1 -g $(SAN) $(WARN) $(CPPFLAGS) -c $< -o $@

$(BUILD)/models/%.pb-c.c $(BUILD)/models/%.pb-c.h: models/%.proto
	@mkdir -p $(@D)
	protoc-c --c_out=$(BUILD)/models --proto_path=models $<

$(BUILD)/models/%.pb-c.o: $(BUILD)/models/%.pb-c.c $(MODELS_PBH)
	$(CC) $(STD) $(CFLAGS) $(WARN) $(CPPFLAGS) -c $< -o $@

$(BUILD)/models/san/%.pb-c.o: $(BUILD)/models/%.pb-c.c $(MODELS_PBH)
	@mkdir -p $(@D)
	$(CC) $(STD) -O1 -g $(SAN) $(WARN) $(CPPFLAGS) -c $< -o $@

$(BUILD)/models/%.o: models/%.c $(wildcard models/*.h) $(MODELS_PBH)
	@mkdir -p $(@D)
	$(CC) $(STD) $(CFLAGS) $(WARN) $(CPPFLAGS) -c $< -o $@

$(BUILD)/models/san/%.o: models/%.c $(wildcard models/*.h) $(MODELS_PBH)
	@mkdir -p $(@D)
	$(CC) $(STD) -O1 -g $(SAN) $(WARN) $(CPPFLAGS) -c $< -o $@

$(BUILD)/nhiscope-agent: $(AGENT_OBJS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -lrdkafka -lmicrohttpd

$(BUILD)/nhiscope: $(CLI_OBJS)
	$(CC) $(CFLAGS) $^ -o $@ -ljson-c

# Unit tests link the pure modules, once plainly and once with ASan+UBSan.
$(BUILD)/tests/test_%: tests/unit/test_%.c tests/unit/check.h $(patsubst %,$(BUILD)/agent/%.o,$(AGENT_LIB)) $(MODELS_OBJS)
	@mkdir -p $(@D)
	$(CC) $(STD) $(CFLAGS) $(WARN) $(CPPFLAGS) -Itests/unit $< $(filter %.o,$^) -o $@ $(LDLIBS)

$(BUILD)/tests/test_%-san: tests/unit/test_%.c tests/unit/check.h $(patsubst %,$(BUILD)/agent/san/%.o,$(AGENT_LIB)) $(MODELS_SAN)
	@mkdir -p $(@D)
	$(CC) $(STD) -O1 -g $(SAN) $(WARN) $(CPPFLAGS) -Itests/unit $< $(filter %.o,$^) -o $@ $(LDLIBS)

$(BUILD)/tests/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard agent/*.c agent/*.h models/*.c models/*.h) $(MODELS_PBC) $(MODELS_PBH)
	@mkdir -p $(@D)
	$(CLANG) $(STD) -g -O1 -fsanitize=fuzzer,address,undefined $(CPPFLAGS) $< $(patsubst %,agent/%.c,$(AGENT_LIB)) $(MODELS_SRC) $(MODELS_PBC) -o $@ $(LDLIBS)

# Collector headers first: collector/kafka.h, not agent/kafka.h.
$(BUILD)/collector/%.o: collector/%.c $(wildcard collector/*.h) models/wire.h agent/log.h $(MODELS_PBH)
	@mkdir -p $(@D)
	$(CC) $(STD) $(CFLAGS) $(WARN) -Icollector $(CPPFLAGS) -c $< -o $@

$(BUILD)/collector/san/%.o: collector/%.c $(wildcard collector/*.h) models/wire.h agent/log.h $(MODELS_PBH)
	@mkdir -p $(@D)
	$(CC) $(STD) -O1 -g $(SAN) $(WARN) -Icollector $(CPPFLAGS) -c $< -o $@

$(BUILD)/nhiscope-collector: $(COLLECTOR_OBJS)
	$(CC) $(CFLAGS) $^ -o $@ -lrdkafka -lprotobuf-c -ljson-c -lcurl -lmicrohttpd -lyaml

$(BUILD)/tests/test_collector: tests/unit/test_collector.c tests/unit/check.h \
		$(patsubst %,$(BUILD)/collector/%.o,$(COLLECTOR_PURE)) \
		$(patsubst %,$(BUILD)/agent/%.o,$(COLLECTOR_SHARED)) $(WIRE_OBJS)
	@mkdir -p $(@D)
	$(CC) $(STD) $(CFLAGS) $(WARN) -Icollector $(CPPFLAGS) -Itests/unit $< $(filter %.o,$^) -o $@ \
		-ljson-c -lprotobuf-c -lyaml

$(BUILD)/tests/test_collector-san: tests/unit/test_collector.c tests/unit/check.h \
		$(patsubst %,$(BUILD)/collector/san/%.o,$(COLLECTOR_PURE)) \
		$(patsubst %,$(BUILD)/agent/san/%.o,$(COLLECTOR_SHARED)) \
		$(BUILD)/models/san/wire.o $(BUILD)/models/san/wire.pb-c.o
	@mkdir -p $(@D)
	$(CC) $(STD) -O1 -g $(SAN) $(WARN) -Icollector $(CPPFLAGS) -Itests/unit $< $(filter %.o,$^) \
		-o $@ -ljson-c -lprotobuf-c -lyaml

# Kafka helpers for the collector tests and the demo: a mock cluster, and
# wire records from JSON lines.
$(BUILD)/tests/kafka_mock: tests/helpers/kafka_mock.c
	@mkdir -p $(@D)
	$(CC) $(STD) $(CFLAGS) $(WARN) $(CPPFLAGS) $< -o $@ -lrdkafka

$(BUILD)/tests/wire_produce: tests/helpers/wire_produce.c $(WIRE_OBJS)
	@mkdir -p $(@D)
	$(CC) $(STD) $(CFLAGS) $(WARN) $(CPPFLAGS) $< $(WIRE_OBJS) -o $@ -lrdkafka -lprotobuf-c -ljson-c

$(BUILD)/tests/%: tests/helpers/%.c
	@mkdir -p $(@D)
	$(CC) $(STD) $(CFLAGS) $(WARN) $(CPPFLAGS) $< -o $@

run: deps all
	$(BUILD)/nhiscope-agent --tail

test: deps all $(UNIT_BINS) $(FUZZ_BINS) $(HELPERS)
	@BUILD=$(BUILD) bash tests/run

# The suite with both CPUs kept busy beside it, as on a shared CI machine:
# run it before submitting kernel tests. LOAD_RUNS=3 repeats it.
test-under-load: deps all $(UNIT_BINS) $(FUZZ_BINS) $(HELPERS)
	@BUILD=$(BUILD) LOAD_RUNS=$(or $(LOAD_RUNS),1) bash tests/under-load

# Throughput and memory of models/ alone (one core, replayed observations).
$(BUILD)/tests/models_bench: tests/bench/models_bench.c $(MODELS_OBJS)
	@mkdir -p $(@D)
	$(CC) $(STD) -O2 -g $(WARN) $(CPPFLAGS) $< $(MODELS_OBJS) -o $@ -lprotobuf-c -lz

# The agent's user-space path per record: decode -> identity -> baseline.
$(BUILD)/tests/pipeline_bench: tests/bench/pipeline_bench.c \
		$(patsubst %,$(BUILD)/agent/%.o,$(AGENT_LIB)) $(MODELS_OBJS)
	@mkdir -p $(@D)
	$(CC) $(STD) -O2 -g $(WARN) $(CPPFLAGS) $< $(filter %.o,$^) -o $@ $(LDLIBS)

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
	clang-format -i bpf/*.c bpf/*.h agent/*.c agent/*.h tests/unit/*.c tests/unit/*.h tests/helpers/*.c \
		collector/*.c collector/*.h

check-format:
	clang-format --dry-run --Werror bpf/*.c bpf/*.h agent/*.c agent/*.h collector/*.c collector/*.h

clean:
	rm -rf $(BUILD)
