# SPDX-License-Identifier: Apache-2.0
"""Behaviour baselines with the real agent: a fabricated pod learns a workload
for a short window, turns stable, and then each deviation is one anomaly;
profiles survive an agent restart."""

import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nhtest import (CLI, TOKEN_PATH, Agent, SaPod, Suite, Tail, run_alive,  # noqa: E402
                    wait_until)

suite = Suite("baseline")
LEARN = ("--learn-window", "2000", "--quiet-period", "1500", "--dedup-window", "500")
# The marker binary that proves the tail caught up (Tail.sync). It is run
# while learning, so that later markers are known behaviour and never an
# anomaly themselves; /usr/bin/true stays novel for the exec anomaly.
MARKER = "/usr/bin/echo"


def profiles(agent, *args):
    r = subprocess.run([CLI, "-s", agent.sock, "profiles", *args, "-o", "json"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def profile_state(agent, key):
    for p in profiles(agent)["profiles"]:
        if p["identity"] == key:
            return p["state"]
    return None


class Listener:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


def workload(pod, port):
    """What the pod normally does: a connection and a file read."""
    run_alive(pod, ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/%d; cat /etc/hostname "
                    ">/dev/null" % port])


def anomalies(tail, key):
    return tail.matching(lambda e: e["kind"] == "anomaly" and e["identity"] == key)


def learn_until_stable(agent, pod, port, tail=None):
    workload(pod, port)
    workload(pod, port)
    if tail:
        tail.sync(pod, MARKER)
    wait_until(lambda: profile_state(agent, pod.key) == "stable", timeout=30,
               interval=0.2, what="profile to turn stable")


@suite.test
def stable_profile_reports_each_novelty_once(s):
    known, new = Listener(), Listener()
    pod = SaPod("shop", "cart", "cart-0")
    agent = Agent(s.tmp, *LEARN)
    try:
        tail = Tail(agent, "--identity", pod.key)
        learn_until_stable(agent, pod, known.port, tail)
        # nothing while learning
        tail.sync(pod, MARKER)
        assert not anomalies(tail, pod.key), anomalies(tail, pod.key)

        # known behaviour, again: nothing. Once learning's dedup entries
        # have expired (two idle 500 ms windows), a run's first reports come
        # up again, are found known and get pinned; run until the file's
        # open has come up once after stable.
        def hostname_opens():
            return len(tail.matching(lambda e: e["kind"] == "open" and
                                     e.get("path") == "/etc/hostname"))
        learned = hostname_opens()
        for _ in range(5):
            time.sleep(1.5)  # a lower bound: learning's entries idle out
            workload(pod, known.port)
            tail.sync(pod, MARKER)
            if hostname_opens() > learned:
                break
        assert hostname_opens() > learned, "the known open never came up again"
        assert not anomalies(tail, pod.key), anomalies(tail, pod.key)
        st = agent.status()["baselines"]
        assert st["stable"] >= 1 and st["pinned_in_kernel"] >= 1, st
        # pinned: a known repeat after the dedup window no longer comes up at all
        before = hostname_opens()
        time.sleep(1.2)  # a lower bound: longer than two dedup windows
        workload(pod, known.port)
        tail.sync(pod, MARKER)
        after = hostname_opens()
        assert after == before, (before, after)

        def by_cat(cat):
            return [e for e in anomalies(tail, pod.key) if e["category"] == cat]

        # a new destination
        run_alive(pod, ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/%d" % new.port])
        eg = wait_until(lambda: by_cat("egress"), what="egress anomaly")
        # a service-account token read
        run_alive(pod, ["cat", TOKEN_PATH])
        cr = wait_until(lambda: by_cat("credential"), what="credential anomaly")
        # a new binary
        run_alive(pod, ["/usr/bin/true"])
        ex = wait_until(lambda: [e for e in by_cat("exec") if e["value"] == "/usr/bin/true"],
                        what="exec anomaly")
        tail.sync(pod, MARKER)
        eg, cr = by_cat("egress"), by_cat("credential")
        ex = [e for e in by_cat("exec") if e["value"] == "/usr/bin/true"]
        assert len(eg) == 1 and eg[0]["value"] == "127.0.0.1:%d" % new.port, eg
        assert len(cr) == 1 and cr[0]["technique"] == "T1528", cr
        assert cr[0]["severity"] in ("high", "critical"), cr
        assert TOKEN_PATH in cr[0]["value"], cr
        assert len(ex) == 1 and ex[0]["severity"] in ("low", "medium", "high"), ex
        # the token read is a credential, not also a new file
        assert not [e for e in by_cat("file") if TOKEN_PATH in e["value"]], by_cat("file")
        for e in eg + cr + ex:
            assert e["explanation"] and e["baseline_items"] >= 0 and e["pid"] > 0, e
            assert e["context"]["pod_uid"] == pod.uid, e

        # the same novelties again: no more anomalies
        n = len(anomalies(tail, pod.key))
        run_alive(pod, ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/%d; cat %s >/dev/null; "
                        "/usr/bin/true" % (new.port, TOKEN_PATH)])
        tail.sync(pod, MARKER)
        assert len(anomalies(tail, pod.key)) == n, anomalies(tail, pod.key)[n:]

        # `profiles show` lists what was learned
        p = profiles(agent, "show", pod.key)
        values = {i["value"] for i in p["item_list"]}
        assert "127.0.0.1:%d" % known.port in values, values
        assert p["state"] == "stable" and p["bytes"] < 16384, p
        tail.close()
    finally:
        agent.stop()
        pod.remove()
        known.close()
        new.close()


@suite.test
def profiles_survive_a_restart_and_corrupt_snapshots_are_set_aside(s):
    known, new = Listener(), Listener()
    pod = SaPod("shop", "checkout", "checkout-0")
    pdir = os.path.join(s.tmp, "profiles-restart")
    agent = Agent(s.tmp, *LEARN, "--profile-dir", pdir)
    try:
        tail = Tail(agent, "--identity", pod.key)
        learn_until_stable(agent, pod, known.port, tail)
        tail.close()
    finally:
        assert agent.stop() == 0
    snaps = [f for f in os.listdir(pdir) if f.endswith(".nhp")]
    assert snaps, os.listdir(pdir)
    with open(os.path.join(pdir, "00000000deadbeef.nhp"), "wb") as f:
        f.write(b"NHPF" + os.urandom(60))
    agent = Agent(s.tmp, *LEARN, "--profile-dir", pdir)
    try:
        assert profile_state(agent, pod.key) == "stable"
        assert os.path.exists(os.path.join(pdir, "00000000deadbeef.nhp.corrupt"))
        log = agent.read_log()
        assert "00000000deadbeef.nhp is unusable" in log, log
        st = agent.status()["baselines"]
        assert st["snapshots_corrupt"] == 1 and st["snapshots_loaded"] >= 1, st
        tail = Tail(agent, "--identity", pod.key)
        workload(pod, known.port)
        tail.sync(pod, MARKER)
        assert not anomalies(tail, pod.key), anomalies(tail, pod.key)
        run_alive(pod, ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/%d" % new.port])
        eg = wait_until(lambda: [e for e in anomalies(tail, pod.key)
                                 if e["category"] == "egress"], what="egress anomaly")
        assert len(eg) == 1, eg
        # reset: learning again, so the next novelty is not an anomaly
        r = subprocess.run([CLI, "-s", agent.sock, "profiles", "reset", pod.key],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert profile_state(agent, pod.key) == "learning"
        r = subprocess.run([CLI, "-s", agent.sock, "profiles", "show", "k8s:sa/no/such"],
                           capture_output=True, text=True)
        assert r.returncode != 0 and "no profile" in r.stderr, r.stderr
        tail.close()
    finally:
        agent.stop()
        pod.remove()
        known.close()
        new.close()


if __name__ == "__main__":
    sys.exit(suite.run(sys.argv))
