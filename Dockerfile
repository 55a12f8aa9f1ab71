# SPDX-License-Identifier: Apache-2.0
# One image with nhiscope-agent, nhiscope (CLI) and nhiscope-collector, for
# the Helm chart in helm/nhiscope. tests/integration/test_image.py checks
# that the build stage installs what the Makefile needs to build and that
# the runtime stage installs every shared library the built binaries load.
#
# The BPF programs are compiled against the build host's kernel BTF
# (/sys/kernel/btf/vmlinux, read by bpftool during `make`); CO-RE relocates
# them at load time, so the image runs on any kernel with BTF.

FROM debian:12 AS build
RUN apt-get update \
	&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		make gcc libc6-dev clang llvm bpftool pkg-config \
		libbpf-dev libelf-dev zlib1g-dev libjson-c-dev libcurl4-openssl-dev \
		libprotobuf-c-dev protobuf-c-compiler librdkafka-dev libmicrohttpd-dev \
		libyaml-dev libssl-dev \
	&& rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make BUILD=build all

FROM debian:12-slim
RUN apt-get update \
	&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		libbpf1 libelf1 zlib1g libjson-c5 libcurl4 libprotobuf-c1 librdkafka1 \
		libmicrohttpd12 libyaml-0-2 libssl3 ca-certificates \
	&& rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/nhiscope-agent /src/build/nhiscope /src/build/nhiscope-collector \
	/usr/bin/
LABEL org.opencontainers.image.title="nhiscope" \
	org.opencontainers.image.description="eBPF runtime monitor for machine identities" \
	org.opencontainers.image.licenses="Apache-2.0"
# No USER: the agent must run as uid 0 (with a few capabilities, see the
# chart) to load BPF and read other processes' /proc entries. The collector
# needs no privilege; the chart runs it as uid 65532 (runAsNonRoot).
CMD ["/usr/bin/nhiscope-agent", "--help"]
