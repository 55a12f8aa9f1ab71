# SPDX-License-Identifier: Apache-2.0
"""The collector's ECS documents against ECS itself: every field outside the
custom set "nhiscope" is an ECS field with the JSON type its ECS type needs
(tests/fixtures/ecs/fields.tsv, the ECS reference as data), categorization
values are ECS's allowed values (allowed.tsv), and no field changes JSON
type from one record to another (one mapping in Elasticsearch). Records of
every kind and variant, with a cluster and labels, are produced to the mock
cluster and written by the real nhiscope-collector. No BPF needed."""

import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nhtest import BUILD, ROOT, Suite, wait_until  # noqa: E402
import test_collector as tc  # noqa: E402
import test_docs as td  # noqa: E402

suite = Suite("ecs")
DATA = os.path.join(ROOT, "tests", "fixtures", "ecs")
# Maps whose keys are data, not schema: map them as flattened/object in a SIEM.
OPEN_MAPS = ("nhiscope.loss.counts", "nhiscope.loss.totals", "nhiscope.heartbeat.counters",
             "nhiscope.activity.event")
JSON_OF = {"keyword": str, "wildcard": str, "match_only_text": str, "date": str, "ip": str,
           "long": int}


def table(name):
    rows = []
    with open(os.path.join(DATA, name)) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                rows.append(line.rstrip("\n").split("\t"))
    return rows


def ecs_fields():
    return {r[0]: (r[1], len(r) > 2 and r[2] == "array") for r in table("fields.tsv")}


def records():
    """test_docs' records of every kind, with a site, plus the variants
    that fill source/destination, process args and file fields."""
    recs = td.full_records()
    node, boot = recs[0]["node"], str(uuid.uuid4()) + "-6571f0a2000001c8-1f4"
    extra = [
        ("activity", {"event": "accept", "syscall": "accept4", "address": "10.1.2.3",
                      "port": 51234, "local_port": 8443, "fd": 5, "result": 6}),
        ("activity", {"event": "connect", "address": "192.0.2.7", "port": 443, "fd": 4,
                      "result": -115}),
        ("activity", {"event": "exec", "path": "/usr/bin/curl",
                      "args": ["curl", "-H", "Authorization: [REDACTED:bearer]",
                               "https://example.com/a b"]}),
        ("activity", {"event": "summary", "of": "connect", "count": 3,
                      "object": "10.0.0.9:5432", "window_start_ns": 1}),
        ("activity", {"event": "setuid", "syscall": "setuid", "result": 0,
                      "old_ids": {"real": 1000, "effective": 1000, "saved": 1000},
                      "new_ids": {"real": 0, "effective": 0, "saved": 0}}),
        ("activity", {"event": "capset", "result": 0, "old_caps": {"effective": 0},
                      "new_caps": {"effective": 1 << 21}}),
        ("activity", {"event": "exec", "path": "/usr/bin/passwd", "args": ["passwd"],
                      "privileged_exec": True, "euid": 0, "egid": 1000,
                      "cap_permitted": 0, "cap_effective": 0}),
        ("activity", {"event": "send", "syscall": "sendto", "address": "10.0.0.53",
                      "port": 53, "fd": 3, "result": 40}),
        ("activity", {"event": "unix_connect", "path": "/run/containerd/containerd.sock",
                      "sock_type": "stream", "device": 25, "inode": 1234, "fd": 3,
                      "result": 0}),
        ("activity", {"event": "ptrace", "syscall": "ptrace", "op": 16,
                      "op_name": "attach", "target_pid": 4321, "result": 0}),
        ("activity", {"event": "module", "syscall": "finit_module", "op": 0,
                      "path": "evil.ko", "result": -1}),
        # opened by another name (issue 16's path as written, matched by inode)
        ("credential_use", {"credential_kind": "sa_token",
                            "credential": "/var/lib/kubelet/pods/p1/volumes/"
                                          "kubernetes.io~projected/kube-api-access-x/token",
                            "path": "/proc/self/root/var/run/secrets/kubernetes.io/"
                                    "serviceaccount/token",
                            "matched_by": "inode", "via": "open", "result": 3, "count": 1}),
        ("credential_use", {"credential_kind": "ssh_key", "credential": "/root/.ssh/id_ed25519",
                            "path": "../.ssh/id_ed25519", "matched_by": "inode",
                            "via": "open", "result": 3, "count": 1}),
        ("credential_use", {"credential_kind": "cloud_metadata",
                            "credential": "169.254.169.254:80", "via": "connect",
                            "result": 0, "count": 1}),
        ("anomaly", {"category": "egress", "severity": "medium", "value": "10.9.8.7:443",
                     "technique_id": "T1071", "technique_name": "Application Layer Protocol",
                     "explanation": "first destination", "baseline_age_ns": 1,
                     "baseline_items": 1}),
        ("anomaly", {"category": "credential", "severity": "critical",
                     "value": "sa_token:/var/run/secrets/kubernetes.io/serviceaccount/token",
                     "technique_id": "T1528", "technique_name": "Steal Application Access Token",
                     "explanation": "first use", "baseline_age_ns": 1, "baseline_items": 1}),
    ]
    seq = 1000
    for kind, body in extra:
        seq += 1
        r = dict(recs[0], kind=kind, seq=seq, time_ns=time.time_ns(), boot_id=boot)
        for k in ("anomaly", "activity", "credential_use"):
            r.pop(k, None)
        r[kind] = body
        r["process"] = dict(recs[0]["process"], tid=4243)
        r["identity"] = dict(recs[0]["identity"], context={
            "cgroup": "/kubepods.slice/x/cri-containerd-1.scope", "cgroup_kind": "container",
            "runtime": "containerd"})
        recs.append(r)
    for i, r in enumerate(recs):
        if i % 2 == 0:  # half with a site, half as an agent without one writes them
            r["cluster"] = "prod-eu-1"
            r["labels"] = {"env": "prod", "region": "eu-west-1"}
        else:
            r.pop("cluster", None)
            r.pop("labels", None)
    return recs


_docs = []


def documents(s):
    """(record, its ECS document) for records(), written once."""
    if _docs:
        return _docs
    mock = tc.Mock("nhiscope.anomalies", "nhiscope.deadletter")
    out = os.path.join(s.tmp, "ecs-%s.jsonl" % uuid.uuid4().hex[:6])
    col = None
    try:
        recs = records()
        tc.produce(mock, recs)
        col = tc.Collector(s.tmp, mock, "--ecs-file", out)
        wait_until(lambda: len(tc.ecs_lines(out)) >= len(recs), timeout=60,
                   what="%d documents from the collector" % len(recs))
        by_seq = {r["seq"]: r for r in recs}
        _docs.extend((by_seq[d["nhiscope"]["record"]["seq"]], d) for d in tc.ecs_lines(out))
        # the file, as bytes: never an escaped slash
        with open(out, "rb") as f:
            raw = f.read()
        assert b"\\/" not in raw, "an escaped slash in the ECS file"
    finally:
        if col:
            col.stop()
        mock.stop()
    return _docs


def leaves(doc, prefix=""):
    """(dotted path, value) of every leaf; open maps are one leaf."""
    for k, v in doc.items():
        p = prefix + k
        if isinstance(v, dict) and p not in OPEN_MAPS:
            yield from leaves(v, p + ".")
        else:
            yield p, v


def json_type(v):
    return "bool" if isinstance(v, bool) else "list" if isinstance(v, list) else \
        type(v).__name__


def ecs_name(path):
    return "labels.*" if path.startswith("labels.") else path


@suite.test
def every_field_is_ecs_with_its_type(s):
    fields = ecs_fields()
    bad, seen = [], set()
    for rec, doc in documents(s):
        for path, v in leaves(doc):
            if path == "nhiscope" or path.startswith("nhiscope."):
                continue
            name = ecs_name(path)
            seen.add(name)
            if name not in fields:
                bad.append("%s (%s): not an ECS field" % (path, rec["kind"]))
                continue
            etype, array = fields[name]
            vals = v if isinstance(v, list) else [v]
            if isinstance(v, list) and not array:
                bad.append("%s: an array, ECS has one value" % path)
            for x in vals:
                if json_type(x) != JSON_OF[etype].__name__:
                    bad.append("%s: %r is %s, ECS %s needs %s" % (
                        path, x, json_type(x), etype, JSON_OF[etype].__name__))
                elif etype == "ip":
                    ipaddress.ip_address(x)  # raises on a hostname
                elif etype == "date":
                    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", x), x
    assert not bad, "\n".join(sorted(set(bad)))
    # the list is not padding: every entry is written by some record
    unused = set(fields) - seen
    assert not unused, "fields.tsv lists fields no record fills: %s" % sorted(unused)


@suite.test
def one_field_one_type_across_records(s):
    types = {}
    for rec, doc in documents(s):
        for path, v in leaves(doc):
            t = json_type(v)
            if t == "list":
                t = "list of " + ",".join(sorted({json_type(x) for x in v})) if v else "list"
            types.setdefault(path, {}).setdefault(t, rec["kind"])
    bad = ["%s: %s" % (p, t) for p, t in sorted(types.items()) if len(t) > 1]
    assert not bad, "fields of more than one JSON type:\n" + "\n".join(bad)


@suite.test
def categorization_uses_ecs_allowed_values(s):
    allowed = {}
    for field, value in table("allowed.tsv"):
        allowed.setdefault(field, set()).add(value)
    bad = []
    for rec, doc in documents(s):
        ev = doc["event"]
        for field in ("kind", "category", "type", "outcome"):
            for v in ev.get(field, []) if isinstance(ev.get(field), list) else \
                    ([ev[field]] if field in ev else []):
                if v not in allowed["event." + field]:
                    bad.append("event.%s %r (%s)" % (field, v, rec["kind"]))
    assert not bad, bad


@suite.test
def records_fill_the_fields_rules_read(s):
    docs = documents(s)

    def find(kind, pred):
        got = [d for r, d in docs if r["kind"] == kind and pred(r)]
        assert got, "no %s document" % kind
        return got[0]

    # credential use: file or network with access, never iam
    d = find("credential_use", lambda r: r["credential_use"]["credential"].startswith("/"))
    assert d["event"]["category"] == ["file"] and d["event"]["type"] == ["access"], d["event"]
    assert d["file"]["path"].endswith("/token") and d["file"]["name"] == "token"
    # by another name: file.path what the process opened, target_path the
    # credential it reached, so a rule on either finds it
    d = find("credential_use", lambda r: r["credential_use"].get("path", "").startswith("/proc"))
    assert d["file"] == {"path": "/proc/self/root/var/run/secrets/kubernetes.io/"
                                 "serviceaccount/token", "name": "token",
                         "target_path": "/var/lib/kubelet/pods/p1/volumes/"
                                        "kubernetes.io~projected/kube-api-access-x/token"}, d
    assert d["nhiscope"]["credential"]["matched_by"] == "inode", d["nhiscope"]
    # a relative path: file.path is the credential, the path as written kept
    d = find("credential_use", lambda r: r["credential_use"].get("path", "").startswith(".."))
    assert d["file"] == {"path": "/root/.ssh/id_ed25519", "name": "id_ed25519"}, d["file"]
    assert d["nhiscope"]["credential"]["path"] == "../.ssh/id_ed25519", d["nhiscope"]
    d = find("credential_use", lambda r: r["credential_use"]["credential"][0].isdigit())
    assert d["event"]["category"] == ["network"] and d["event"]["type"] == ["access"]
    assert d["destination"] == {"address": "169.254.169.254", "ip": "169.254.169.254",
                                "port": 80}, d["destination"]
    assert "169.254.169.254" in d["related"]["ip"]
    # connect and accept: destination and source
    d = find("activity", lambda r: r["activity"]["event"] == "connect" and
             r["activity"]["address"] == "192.0.2.7")
    assert d["destination"] == {"address": "192.0.2.7", "ip": "192.0.2.7", "port": 443}
    assert d["event"]["outcome"] == "success"  # EINPROGRESS: a non-blocking connect
    d = find("activity", lambda r: r["activity"]["event"] == "accept")
    assert d["source"] == {"address": "10.1.2.3", "ip": "10.1.2.3", "port": 51234}
    assert d["destination"] == {"port": 8443}
    # exec: args, command line, executable
    d = find("activity", lambda r: r["activity"]["event"] == "exec" and
             r["activity"]["path"] == "/usr/bin/curl")
    assert d["process"]["args"][2] == "Authorization: [REDACTED:bearer]"
    assert d["process"]["command_line"] == \
        "curl -H Authorization: [REDACTED:bearer] https://example.com/a b"
    assert d["process"]["args_count"] == 4 and d["process"]["executable"] == "/usr/bin/curl"
    assert d["process"]["entity_id"] and d["process"]["parent"]["pid"] == 1
    # ATT&CK: tactic, technique and sub-technique
    d = find("anomaly", lambda r: r["anomaly"].get("technique_id") == "T1003.008")
    assert d["threat"]["tactic"] == {"id": "TA0006", "name": "Credential Access"}
    assert d["threat"]["technique"]["id"] == "T1003"
    assert d["threat"]["technique"]["subtechnique"] == {
        "id": "T1003.008", "name": "/etc/passwd and /etc/shadow"}
    assert d["rule"]["name"] == "nhiscope novel file"
    # a credential anomaly's value is "kind:object": the object is the file
    d = find("anomaly", lambda r: r["anomaly"]["category"] == "credential" and
             r["anomaly"]["value"].startswith("sa_token:"))
    assert d["event"]["category"] == ["file"], d["event"]
    assert d["file"]["path"] == "/var/run/secrets/kubernetes.io/serviceaccount/token", d
    assert d["threat"]["technique"] == {"id": "T1528", "name": "Steal Application Access Token"}
    # host.boot.id: the kernel's boot id, not the agent's run id
    for r, d in docs:
        if re.match(r"[0-9a-f-]{36}-", r["boot_id"]):
            assert d["host"]["boot"]["id"] == r["boot_id"][:36], d["host"]
            break
    else:
        raise AssertionError("no record with an agent's boot id")


@suite.test
def the_cluster_and_labels_on_every_record(s):
    with_site = without = 0
    for rec, doc in documents(s):
        if "cluster" in rec:
            with_site += 1
            assert doc["orchestrator"]["cluster"]["name"] == "prod-eu-1", (rec["kind"], doc)
            assert doc["labels"]["env"] == "prod" and doc["labels"]["region"] == "eu-west-1"
        else:
            without += 1
            assert "cluster" not in doc.get("orchestrator", {}), doc
            assert "env" not in doc.get("labels", {})
    assert with_site >= 10 and without >= 10, (with_site, without)


if __name__ == "__main__":
    rc = suite.run(sys.argv)
    shutil.rmtree(tc.suite.tmp, ignore_errors=True)
    shutil.rmtree(td.suite.tmp, ignore_errors=True)
    sys.exit(rc)
