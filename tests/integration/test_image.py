# SPDX-License-Identifier: Apache-2.0
"""The Dockerfile without docker: its build stage installs what `make all`
needs (the Makefile's DEPS less the test-only tools), its runtime stage
installs the Debian package of every shared library the built binaries
load (ldd, then dpkg -S), and every package it names exists in Debian
(apt-cache policy). Needs `make all` first, like the other suites."""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nhtest import BUILD, ROOT, Suite  # noqa: E402

suite = Suite("image")
DOCKERFILE = os.path.join(ROOT, "Dockerfile")
BINARIES = ("nhiscope-agent", "nhiscope", "nhiscope-collector")
# DEPS that only tests use (python suites, network namespaces, Kafka and
# syslog peers, sanitizer runtimes, test certificates, yamllint, the CPU
# load of make test-under-load): not
# needed to build the image. Anything else in DEPS must be in the build
# stage, so a new build dependency cannot be forgotten there.
TEST_ONLY = {"python3", "iproute2", "util-linux", "libclang-rt-14-dev", "openssl", "kcat",
             "rsyslog", "yamllint", "python3-yaml", "python3-cryptography", "stress-ng",
             "libcap2-bin"}
# In every Debian image (Priority: required), under every other library.
BASE = {"libc6"}


def stages():
    """[(FROM line, [packages of its apt-get install lines])]."""
    with open(DOCKERFILE) as f:
        text = f.read()
    text = re.sub(r"\\\n", " ", text)  # join continuation lines
    out = []
    for line in text.splitlines():
        line = line.strip()
        if re.match(r"FROM\s", line, flags=re.I):
            out.append((line, []))
        elif re.match(r"RUN\s", line, flags=re.I) and out:
            for cmd in re.split(r"&&|;", line[3:]):
                words = cmd.split()
                if "apt-get" in words and "install" in words:
                    args = words[words.index("install") + 1:]
                    out[-1][1].extend(w for w in args if not w.startswith("-"))
    return out


def makefile_deps():
    with open(os.path.join(ROOT, "Makefile")) as f:
        text = re.sub(r"\\\n", " ", f.read())
    m = re.search(r"^DEPS\s*:?=(.*)$", text, flags=re.M)
    assert m, "no DEPS in the Makefile"
    return m.group(1).split()


def path_variants(lib):
    """The paths usrmerge and symlinks may make dpkg know lib under."""
    out = []
    for p in (lib, os.path.realpath(lib)):
        out.append(p)
        if p.startswith("/usr/lib/"):
            out.append(p[len("/usr"):])
        elif p.startswith("/lib/"):
            out.append("/usr" + p)
    return out


def packages_of(libs):
    """{library path: the Debian package that ships it}, one dpkg -S call."""
    variants = {lib: path_variants(lib) for lib in libs}
    r = subprocess.run(["dpkg", "-S", *sorted({v for vs in variants.values() for v in vs})],
                       capture_output=True, text=True)  # exit 1 when a variant is unknown
    owner = {}
    for line in r.stdout.splitlines():
        pkgs, _, path = line.partition(": ")
        owner[path.strip()] = pkgs.split(",")[0].split(":")[0].strip()
    out = {}
    for lib, vs in variants.items():
        found = [owner[v] for v in vs if v in owner]
        assert found, "no package ships %s (tried %s)" % (lib, vs)
        out[lib] = found[0]
    return out


def libraries(binary):
    """(direct, all): sonames the binary names itself (DT_NEEDED), and
    every library path ldd resolves."""
    r = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, check=True)
    direct = set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", r.stdout))
    r = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True)
    paths = {}
    for line in r.stdout.splitlines():
        m = re.match(r"\s*(\S+) => (\S+) \(", line)
        if m:
            assert m.group(2) != "not", "%s: %s not found" % (binary, m.group(1))
            paths[m.group(1)] = m.group(2)
        else:
            m = re.match(r"\s*(/\S+) \(", line)  # the dynamic loader
            if m:
                paths[os.path.basename(m.group(1))] = m.group(1)
    missing = direct - set(paths)
    assert not missing, "%s: ldd did not resolve %s" % (binary, missing)
    return direct, paths


def closure(packages):
    """Package names apt installs for these (Depends and Pre-Depends,
    recursively; alternatives all counted)."""
    r = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
                        "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances",
                        *packages], capture_output=True, text=True, check=True)
    return {line.strip() for line in r.stdout.splitlines()
            if line and not line[0].isspace() and not line.startswith("<")}


def runtime_packages():
    st = stages()
    assert len(st) >= 2, "expected a build and a runtime stage: %s" % [s[0] for s in st]
    return st[-1][1]


@suite.test
def stages_are_debian_12(s):
    st = stages()
    assert len(st) == 2, [f for f, _ in st]
    assert re.match(r"FROM\s+debian:12\s+AS\s+build$", st[0][0], flags=re.I), st[0][0]
    assert re.match(r"FROM\s+debian:12-slim$", st[1][0], flags=re.I), st[1][0]
    assert st[0][1] and st[1][1], "a stage installs no package"


@suite.test
def every_package_named_exists_in_debian(s):
    # an empty package list on this machine would make everything "missing"
    r = subprocess.run(["apt-cache", "policy", "libc6"], capture_output=True, text=True)
    assert re.search(r"Candidate: (?!\(none\))", r.stdout), \
        "apt has no package lists (run apt-get update): " + r.stdout
    names = sorted({p for _, pkgs in stages() for p in pkgs})
    r = subprocess.run(["apt-cache", "policy", *names], capture_output=True, text=True)
    # one block per package: "NAME:" at column 0, then indented fields
    candidate = {}
    for block in re.split(r"^(?=\S)", r.stdout, flags=re.M):
        m = re.match(r"(\S+?):\n", block)
        if m:
            c = re.search(r"Candidate: (\S+)", block)
            candidate[m.group(1)] = c.group(1) if c else "(none)"
    missing = [p for p in names if candidate.get(p, "(none)") == "(none)"]
    assert not missing, missing


@suite.test
def build_stage_installs_the_build_deps(s):
    build = set(stages()[0][1])
    need = [p for p in makefile_deps() if p not in TEST_ONLY]
    missing = [p for p in need if p not in build]
    assert not missing, "Makefile DEPS missing from the Dockerfile build stage: %s" % missing


@suite.test
def runtime_stage_covers_every_loaded_library(s):
    """Each library a binary names itself comes from a package the runtime
    stage installs by name; each library ldd loads (those pulled in by
    libcurl, librdkafka...) from one that apt installs with them."""
    runtime = set(runtime_packages())
    installed = closure(sorted(runtime | BASE))
    unlisted, uncovered = [], []
    loaded = {}
    for name in BINARIES:
        binary = os.path.join(BUILD, name)
        assert os.access(binary, os.X_OK), "%s not built (make all)" % binary
        loaded[name] = libraries(binary)
    owner = packages_of({p for _, paths in loaded.values() for p in paths.values()})
    for name, (direct, paths) in loaded.items():
        for soname, path in sorted(paths.items()):
            pkg = owner[path]
            if soname in direct and pkg not in runtime | BASE:
                unlisted.append("%s: %s (%s)" % (name, soname, pkg))
            if pkg not in installed:
                uncovered.append("%s: %s (%s)" % (name, soname, pkg))
    assert not unlisted, "not on the runtime apt-get line: %s" % unlisted
    assert not uncovered, "not installed by the runtime stage: %s" % uncovered


@suite.test
def runtime_stage_copies_the_three_binaries(s):
    with open(DOCKERFILE) as f:
        text = re.sub(r"\\\n", " ", f.read())
    copies = [line.split() for line in text.splitlines()
              if re.match(r"\s*COPY\s+--from=build\s", line, flags=re.I)]
    copied = {os.path.basename(w) for c in copies for w in c[2:-1]}
    dest = {c[-1].rstrip("/") for c in copies}
    assert copied == set(BINARIES), copied
    assert dest == {"/usr/bin"}, dest


if __name__ == "__main__":
    sys.exit(suite.run(sys.argv))
