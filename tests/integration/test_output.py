# SPDX-License-Identifier: Apache-2.0
"""What the agent writes as JSON, read as bytes the way an operator greps
it: `nhiscope tail -o json`, the agent's JSON logs and `nhiscope status -o
json` hold paths as plain text (json-c wrote '/' as '\\/', so `grep
/etc/shadow` found nothing), and every record carries the cluster name and
static labels its operator configured (--cluster-name, labels), on the
tail and on Kafka. Bad site settings are refused naming the key."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nhtest import (AGENT, CLI, WORKLOAD, Agent, Pod, Suite, Tail, running,  # noqa: E402
                    wait_until)
import test_kafka as tk  # noqa: E402

suite = Suite("output")
SITE = ("--cluster-name", "prod-eu-1", "--label", "env=prod", "--label", "team=sec-ops")


class RawTail:
    """`nhiscope tail -o json` as bytes, the way `| grep` sees it."""

    def __init__(self, agent):
        self.path = os.path.join(tempfile.gettempdir(), "nh-rawtail-" + uuid.uuid4().hex)
        self.out = open(self.path, "wb")
        self.proc = subprocess.Popen([CLI, "-s", agent.sock, "tail", "-o", "json"],
                                     stdout=self.out, stderr=subprocess.PIPE)

    def bytes(self):
        with open(self.path, "rb") as f:
            return f.read()

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.out.close()
        os.unlink(self.path)


@suite.test
def tail_json_greps_for_a_plain_path(s):
    pod = Pod()
    # scoped to the pod: other tests' workloads on the host are not ours
    agent = Agent(s.tmp, *SITE, "--log-format", "json", "--scope-cgroup", pod.cgroup_path)
    d = tempfile.mkdtemp(prefix="nh-plain-")
    path = os.path.join(d, "etc", "shadow")
    os.makedirs(os.path.dirname(path))
    open(path, "w").close()
    raw = RawTail(agent)
    tail = None
    try:
        with running(agent, pod):
            tail = Tail(agent)
            wait_until(lambda: agent.status()["subscribers"] >= 2, what="both tails")
            pod.run([WORKLOAD, "open", path])
            tail.sync(pod)
            ev = tail.wait_for(lambda e: e["kind"] == "open" and e.get("path") == path)[0]
            # the synced marker came after the open: the raw tail has it too
            marker = tail.sync(pod)
            tag = [a for a in marker["args"] if a.startswith("nh-marker-")][0].encode()
            wait_until(lambda: tag in raw.bytes(), what="the marker on the raw tail")
            data = raw.bytes()
            # what `nhiscope tail -o json | grep <path>` finds
            assert path.encode() in data, "the path is not plain text in the tail"
            assert ('"path":"%s"' % path).encode() in data
            assert b"\\/" not in data, "an escaped slash in the tail"
            # every record carries the site
            lines = [json.loads(x) for x in data.splitlines() if x.strip()]
            events = [e for e in lines if "kind" in e and "time" in e]
            assert len(events) >= 2, lines
            for e in events:
                assert e.get("cluster") == "prod-eu-1", e
                assert e.get("labels") == {"env": "prod", "team": "sec-ops"}, e
            assert ev["cluster"] == "prod-eu-1"
            # status and JSON logs: paths plain too
            st = subprocess.run([CLI, "-s", agent.sock, "status", "-o", "json"],
                                capture_output=True, check=True).stdout
            assert b"\\/" not in st and b"/" in st, st[:300]
    finally:
        raw.close()
        if tail:
            tail.close()
        pod.remove()
        shutil.rmtree(d, ignore_errors=True)
    log = agent.read_log().encode()
    logs = [json.loads(x) for x in log.splitlines() if x.startswith(b"{")]
    assert logs and any("/" in x["msg"] for x in logs), log[:500]
    assert b"\\/" not in log, "an escaped slash in the JSON log"


@suite.test
def the_site_reaches_kafka_on_every_record(s):
    mock = tk.Mock()
    spool = os.path.join(s.tmp, "spool-" + uuid.uuid4().hex[:6])
    pod = Pod()  # only to scope the agent to: the host's other workloads are not ours
    agent = tk.kafka_agent(s, mock, spool, *SITE, "--scope-cgroup", pod.cgroup_path)
    try:
        with running(agent, pod):
            # the heartbeat the agent sends at start, and whatever else it sent
            recs = wait_until(lambda: tk.read_topic(mock, "nhiscope.heartbeats")[0],
                              timeout=60, what="a heartbeat on Kafka")
            for r in recs:
                assert r.get("cluster") == "prod-eu-1", r
                assert r.get("labels") == {"env": "prod", "team": "sec-ops"}, r
    finally:
        mock.stop()


def check_config(*args):
    return subprocess.run([AGENT, "--check-config", *args], capture_output=True, text=True)


@suite.test
def bad_site_settings_are_refused_naming_the_key(s):
    ok = check_config(*SITE)
    assert ok.returncode == 0, ok.stderr
    for args, words in [
        (("--label", "bad.key=x"), ("labels", "bad.key")),
        (("--label", "nhiscope_identity=x"), ("labels", "nhiscope_identity")),
        (("--label", "k=" + "v" * 256), ("labels", "k", "255")),
        (("--cluster-name", "c" * 256), ("cluster.name",)),
    ]:
        r = check_config(*args)
        assert r.returncode != 0, (args, r.stdout)
        for w in words:
            assert w in r.stderr, (args, w, r.stderr)


if __name__ == "__main__":
    rc = suite.run(sys.argv)
    shutil.rmtree(tk.suite.tmp, ignore_errors=True)
    sys.exit(rc)
