# SPDX-License-Identifier: Apache-2.0
"""docs/events.md against the collector it documents: every ```json block
parses, and the ECS examples use only fields the collector emits. What the
collector emits is learned here, not listed: one wire record of every kind
and variant, every field filled, encoded by wire_produce, produced to the
mock cluster and written by the real nhiscope-collector. No BPF needed."""

import json
import os
import re
import shutil
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nhtest import ROOT, Suite, wait_until  # noqa: E402
import test_collector as tc  # noqa: E402

suite = Suite("docs")
EVENTS = os.path.join(ROOT, "docs", "events.md")
# Maps whose keys are data (counter names, the agent's own event), not schema.
OPEN_MAPS = ("nhiscope.loss.counts", "nhiscope.loss.totals", "nhiscope.heartbeat.counters",
             "nhiscope.activity.event")


def json_blocks(path):
    """(line number, text) of every ```json block."""
    with open(path) as f:
        text = f.read()
    return [(text.count("\n", 0, m.start()) + 2, m.group(1))
            for m in re.finditer(r"^```json\n(.*?)^```$", text, re.S | re.M)]


def ecs_examples(path):
    out = []
    for line, block in json_blocks(path):
        try:
            doc = json.loads(block)
        except ValueError:
            continue  # every_json_block_parses reports it
        if isinstance(doc, dict) and "@timestamp" in doc and "ecs" in doc:
            out.append((line, doc))
    return out


def paths(doc, prefix=""):
    """Dotted paths of the leaves; open maps count as one leaf."""
    out = set()
    for k, v in doc.items():
        p = prefix + k
        if isinstance(v, dict) and p not in OPEN_MAPS:
            out |= paths(v, p + ".")
        else:
            out.add(p)
    return out


def full_records():
    """One record per kind and variant with every field the wire has."""
    node, boot = "node-" + uuid.uuid4().hex[:6], str(uuid.uuid4()) + "-6571f0a2000001c8-1f4"
    seq = [0]

    def rec(kind, body, process=True, **ident):
        seq[0] += 1
        identity = {"key": "k8s:sa/docs/check", "pod_uid": str(uuid.uuid4()),
                    "pod_name": "check-0", "namespace": "docs", "service_account": "check",
                    "container_id": uuid.uuid4().hex + uuid.uuid4().hex,
                    "unit": "check.service", "workload_kind": "StatefulSet",
                    "workload_name": "check", "node": node, "source": "kubelet-volume",
                    "verified": True,
                    "context": {"cgroup": "/kubepods.slice/x/cri-containerd-1.scope",
                                "cgroup_kind": "pod", "runtime": "containerd"}}
        identity.update(ident)
        r = {"kind": kind, "node": node, "boot_id": boot, "seq": seq[0],
             "time_ns": time.time_ns(), "identity": identity, kind: body,
             "cluster": "docs-cluster", "labels": {"env": "docs"}}
        if process:
            r["process"] = {"pid": 4242, "ppid": 1, "uid": 1000, "user": "app",
                            "comm": "cat", "exe": "/usr/bin/cat"}
        return r

    anomaly = {"category": "file", "severity": "high", "value": "/etc/shadow",
               "technique_id": "T1003.008", "technique_name": "/etc/passwd and /etc/shadow",
               "explanation": "first file", "baseline_age_ns": 10 ** 12,
               "baseline_items": 3}
    rate = dict(anomaly, rate=True, value="file", rate_observed=500.0, rate_mean=2.0,
                rate_stddev=1.5)
    return [
        rec("anomaly", anomaly),
        rec("anomaly", rate, process=False),
        rec("credential_use", {"credential_kind": "sa_token",
                               "credential": "/var/run/secrets/kubernetes.io/serviceaccount/token",
                               "via": "openat", "result": -13, "count": 2}),
        rec("finding", {"type": "secret_exposure", "secret_kind": "jwt",
                        "fingerprint": "eyJ*:hmac-sha256:3f9a0c1e:0123456789abcdef01234567",
                        "fingerprint_previous":
                            "eyJ*:hmac-sha256:7d2e5b90:76543210fedcba9876543210",
                        "argument": "--token=[REDACTED:jwt]", "path": "/usr/bin/curl",
                        "arg_index": 1}),
        rec("finding", {"type": "human_use", "reason": "terminal", "path": "/bin/sh"}),
        rec("finding", {"type": "credential_reuse", "credential_kind": "pgpass",
                        "credential": "/home/app/.pgpass",
                        "identities": ["k8s:sa/docs/check", "user:app"]}),
        rec("finding", {"type": "identity_conflict",
                        "claimed_identity": "k8s:sa/kube-system/admin",
                        "believed_identity": "k8s:sa/docs/check",
                        "reason": "the token in the pod's own root contradicts the "
                                  "kubelet's copy"}),
        rec("finding", {"type": "monitoring_tampered",
                        "reason": "kernel counters of kind 1 went backwards (emitted 812 -> 0, "
                                  "lost 0 -> 0): changed by another process"},
            process=False, key="agent:nhiscope"),
        rec("activity", {"event": "open", "syscall": "openat", "path": "/etc/hosts",
                         "flags": 0o2000000, "result": 3, "deduplicated": True}),
        rec("activity", {"event": "exec", "path": "/bin/true", "args": ["/bin/true", "-x"],
                         "ns_pid": 7, "tty": True, "args_truncated": True,
                         "args_bytes": 40000}),
        rec("activity", {"event": "connect", "address": "fd00::1", "ipv6": True, "port": 443,
                         "fd": 4, "result": -111}),
        rec("activity", {"event": "summary", "of": "open", "count": 5, "object": "/etc/hosts",
                         "window_start_ns": 1}),
        rec("loss", {"what": "kernel ring buffer full: events lost before the agent",
                     "source": "kernel", "counts": {"open": 3}, "totals": {"open": 7},
                     "window_start_ns": 1, "window_end_ns": 2},
            process=False),
        rec("heartbeat", {"agent_version": "0.1.0", "probes_attached": 27,
                          "counters": {"events_received": 1}}, process=False),
    ]


_emitted = []


def emitted(s):
    """The collector's documents for full_records(), produced once."""
    if _emitted:
        return _emitted
    mock = tc.Mock("nhiscope.anomalies", "nhiscope.deadletter")
    out = os.path.join(s.tmp, "docs-%s.jsonl" % uuid.uuid4().hex[:6])
    col = None
    try:
        records = full_records()
        tc.produce(mock, records)
        col = tc.Collector(s.tmp, mock, "--ecs-file", out)
        wait_until(lambda: len(tc.ecs_lines(out)) >= len(records), timeout=60,
                   what="%d documents from the collector" % len(records))
        _emitted.extend(tc.ecs_lines(out))
    finally:
        if col:
            col.stop()
        mock.stop()
    return _emitted


@suite.test
def every_json_block_parses(s):
    blocks = json_blocks(EVENTS)
    assert len(blocks) >= 8, "expected an example per record kind, found %d" % len(blocks)
    bad = []
    for line, block in blocks:
        try:
            json.loads(block)
        except ValueError as e:
            bad.append("events.md:%d: %s" % (line, e))
    assert not bad, "\n".join(bad)


@suite.test
def ecs_examples_use_only_groups_the_collector_emits(s):
    groups = set().union(*(set(d) for d in emitted(s)))
    nh_groups = set().union(*(set(d["nhiscope"]) for d in emitted(s)))
    examples = ecs_examples(EVENTS)
    assert examples, "no ECS example in events.md"
    bad = []
    for line, doc in examples:
        for g in sorted(set(doc) - groups):
            bad.append("events.md:%d: top-level %s is not emitted" % (line, g))
        for g in sorted(set(doc.get("nhiscope", {})) - nh_groups):
            bad.append("events.md:%d: nhiscope.%s is not emitted" % (line, g))
    assert not bad, "\n".join(bad) + "\nthe collector emits: %s" % sorted(groups)


@suite.test
def ecs_example_fields_are_fields_the_collector_emits(s):
    known = set().union(*(paths(d) for d in emitted(s)))
    bad = []
    for line, doc in ecs_examples(EVENTS):
        for p in sorted(paths(doc) - known):
            bad.append("events.md:%d: %s is not a field the collector writes" % (line, p))
    assert not bad, "\n".join(bad)


@suite.test
def every_record_kind_has_an_ecs_example(s):
    def variants(docs):
        out = set()
        for d in docs:
            kind = d["nhiscope"]["record"]["kind"]
            out.add(d["nhiscope"]["finding"]["type"] if kind == "finding" else kind)
        return out
    want = variants(emitted(s))
    have = variants(d for _, d in ecs_examples(EVENTS))
    assert want - have == set(), "no example of %s" % sorted(want - have)


if __name__ == "__main__":
    rc = suite.run(sys.argv)
    shutil.rmtree(tc.suite.tmp, ignore_errors=True)  # the imported suite's scratch directory
    sys.exit(rc)
