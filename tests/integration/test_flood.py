# SPDX-License-Identifier: Apache-2.0
"""Floods and gaps (issue 19): one identity's flood is counted in the
kernel beyond its budget and never costs another identity an event; the
flood record's counts are exact; a restart leaves one monitoring_gap."""

import os
import signal
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_kafka  # noqa: E402
from test_kafka import Mock, kafka_agent, read_topic  # noqa: E402
from nhtest import (BUILD, TOKEN_PATH, WORKLOAD, Agent, Pod, SaPod, Suite,  # noqa: E402
                    Tail, cgroup2_mount, running, sa_token, wait_until)

os.rmdir(test_kafka.suite.tmp)  # its suite is not run here
suite = Suite("flood")
STORM = os.path.join(BUILD, "tests", "nh_storm")


def scope(s):
    """A cgroup directory for this test's pods, and the agent flags that
    trace only it: other processes on the host (another test's pods)
    neither add events nor make the agent read their files."""
    under = "nh-flood-%s" % uuid.uuid4().hex[:8]
    return under, ("--scope-cgroup", "/" + under)


def sa_pod(namespace, name, pod_name, under):
    """SaPod, built below `under`."""
    pod = SaPod.__new__(SaPod)
    Pod.__init__(pod, under=under)
    pod.namespace, pod.sa, pod.pod_name = namespace, name, pod_name
    pod.token = sa_token(namespace, name, pod_name, pod.uid)
    pod.key = "k8s:sa/%s/%s" % (namespace, name)
    return pod


def flood_counts(tail, key):
    """Sum of the flood records' counts for identity key, by kind."""
    total = {}
    for e in tail.matching(lambda e: e["kind"] == "flood" and e.get("identity") == key):
        for k, v in e["counts"].items():
            total[k] = total.get(k, 0) + v
    return total


def lost_for(tail, key):
    """Ring-buffer losses attributed to identity key, by kind."""
    total = {}
    for e in tail.matching(lambda e: e["kind"] == "loss" and e.get("identity") == key):
        total[e["of"]] = total.get(e["of"], 0) + e["count"]
    return total


def cgroup_ids(pod):
    """The cgroup ids (directory inodes) of a pod, its container and the
    cgroups below it."""
    ids = set()
    for root, _, _ in os.walk(pod.pod_dir):
        ids.add(os.stat(root).st_ino)
    return ids


def storm_opens(out):
    return int(out.split("storm opens=")[1].split()[0])


def flood_and_victim(s, agent_args, reopen_after=0):
    """One pod storms novel opens from a cgroup it made below its own
    container (a workload with a writable cgroupfs); another reads its
    token, execs a binary and opens 40 files one by one meanwhile; with
    reopen_after, once the storm has sent that many more opens, it opens
    the 40 files again.
    Returns the agent (running), a tail of the calm pod, a tail of the
    flooder's opens, floods and losses, both pods, the storm's directory
    and opens, the calm pod's paths and its exec's tag."""
    under, scoped = scope(s)
    flooder = sa_pod("flood", "storm", "storm-0", under)
    victim = sa_pod("calm", "worker", "worker-0", under)
    # A leaf the workload made: its budget is still the pod's.
    container = flooder.dir
    flooder.dir = os.path.join(container, "made-by-the-workload")
    os.mkdir(flooder.dir)

    def remove(leaf=flooder.dir):
        try:
            os.rmdir(leaf)
        except OSError:
            pass
        flooder.dir = container
        Pod.remove(flooder)
    flooder.remove = remove
    flood_dir = os.path.join(s.tmp, "storm-%s" % uuid.uuid4().hex[:6])
    os.mkdir(flood_dir)
    victim_dir = os.path.join(s.tmp, "calm-%s" % uuid.uuid4().hex[:6])
    os.mkdir(victim_dir)
    paths = [os.path.join(victim_dir, "f%02d" % i) for i in range(40)]
    for p in paths:
        open(p, "w").close()
    stop = os.path.join(s.tmp, "stop-%s" % uuid.uuid4().hex[:6])
    tag = "nh-victim-" + uuid.uuid4().hex
    agent = Agent(s.tmp, *agent_args, *scoped)
    vt = Tail(agent, "--identity", victim.key)
    ft = Tail(agent, "--identity", flooder.key, "--kind", "open,flood,loss")
    storm = flooder.popen([STORM, "-p", "2", "-t", "30", "-s", stop, flood_dir],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert storm.stdout.readline().startswith("started="), "nh_storm did not start"
        wait_until(lambda: ft.matching(lambda e: e["kind"] == "open" and
                                       e["path"].startswith(flood_dir + "/")),
                   timeout=30, what="the storm's first opens")
        script = "cat %s >/dev/null; %s exec /bin/true %s; " % (TOKEN_PATH, WORKLOAD, tag)
        script += "".join("%s open %s >/dev/null; sleep 0.02; " % (WORKLOAD, p) for p in paths)
        p = victim.popen(["sh", "-c", script], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        if reopen_after:
            def sent():
                return len(ft.matching(lambda e: e["kind"] == "open" and
                                       e["path"].startswith(flood_dir + "/")))
            before = sent()
            wait_until(lambda: sent() >= before + reopen_after, timeout=60,
                       what="%d more opens of the storm" % reopen_after)
            p = victim.popen(["sh", "-c", "".join("%s open %s >/dev/null; " % (WORKLOAD, q)
                                                  for q in paths)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
        assert storm.poll() is None, "the storm ended before the victim did: make it longer"
    finally:
        open(stop, "w").close()
        out, err = storm.communicate(timeout=60)
    assert storm.returncode == 0, err
    return agent, vt, ft, flooder, victim, flood_dir, storm_opens(out), paths, tag


@suite.test
def flood_counted_exactly_and_other_pod_loses_nothing(s):
    """Also the dedup map (issue 16): with 2,048 entries, the storm sends
    twice as many novel opens between the calm pod's first and second
    pass over its files; its quota (256) keeps it from evicting the calm
    pod's entries, so the second pass stays repeats (no new open event).
    The quota leaves the calm pod room: its 40 files, 80 workload execs
    and their libraries come to about 140 entries."""
    agent, vt, ft, flooder, victim, flood_dir, opens, paths, tag = flood_and_victim(
        s, ("--flood-budget", "2000", "--flood-window", "1s", "--ringbuf-size", "1Mi",
            "--dedup-entries", "2048", "--dedup-quota", "256"), reopen_after=4096)
    with running(flooder, victim, agent, vt, ft):
        # Every event of the calm pod arrives: its token read, its exec, its 40 opens.
        vt.wait_for(lambda e: e["kind"] == "credential_use" and e["credential"] == TOKEN_PATH,
                    timeout=30, what="the calm pod's token read")
        vt.wait_for(lambda e: e["kind"] == "exec" and tag in e.get("args", []), timeout=30,
                    what="the calm pod's exec")

        def victim_opens():
            return {e["path"] for e in vt.matching(lambda e: e["kind"] == "open")}
        wait_until(lambda: set(paths) <= victim_opens(), timeout=30,
                   what="all 40 opens of the calm pod")

        def delivered():
            return len(ft.matching(lambda e: e["kind"] == "open" and
                                   e["path"].startswith(flood_dir + "/")))
        # The storm's opens: the ones sent within the budget plus the ones the
        # flood records count (they come with the next flush, within a second).
        wait_until(lambda: delivered() + flood_counts(ft, flooder.key).get("open", 0) +
                   lost_for(ft, flooder.key).get("open", 0) >= opens, timeout=30,
                   what="flood records covering the storm")
        vt.sync(victim)  # nothing more is coming
        assert not lost_for(vt, victim.key), lost_for(vt, victim.key)
        assert not vt.matching(lambda e: e["kind"] == "flood"), "the calm pod flooded?"
        counted = flood_counts(ft, flooder.key).get("open", 0)
        lost = lost_for(ft, flooder.key).get("open", 0)
        assert counted > 0, "no flood record"
        assert delivered() + counted + lost == opens, \
            "storm %d opens != %d sent + %d counted as flood + %d lost" % (
                opens, delivered(), counted, lost)
        assert delivered() < opens / 2, (delivered(), opens)
        rec = ft.matching(lambda e: e["kind"] == "flood")
        assert rec[0]["budget"] == 2000 and rec[0]["budget_window_ms"] == 1000, rec[0]
        assert rec[0]["window_start"] <= rec[0]["window_end"], rec[0]
        st = agent.status()
        mine = {i["key"]: i for i in st["floods"]["identities"]}
        assert mine[flooder.key]["flooded"] >= counted, st["floods"]
        assert victim.key not in mine, st["floods"]
        assert st["kinds"]["open"]["flooded"] >= counted, st["kinds"]["open"]
        print("  storm: %d opens, %d sent, %d counted in %d flood records, %d lost" % (
            opens, delivered(), counted, len(rec), lost))
        # The calm pod's second pass was deduplicated: one open event per file.
        per_path = {}
        for e in vt.matching(lambda e: e["kind"] == "open" and e["path"] in paths):
            per_path[e["path"]] = per_path.get(e["path"], 0) + 1
        again = sorted(p for p, n in per_path.items() if n > 1)
        dd = st["dedup"]
        assert not [i for i in dd["identities"] if i["cgroup_id"] in cgroup_ids(victim)
                    and i["refused"]], dd["identities"]
        assert not again, "the storm evicted the calm pod's dedup entries: %d of 40 " \
            "re-sent, e.g. %s" % (len(again), again[:3])
        assert dd["quota"] == 256 and dd["refused"] > 0, dd
        mine = [i for i in dd["identities"] if i["cgroup_id"] in cgroup_ids(flooder)]
        assert mine and sum(i["refused"] for i in mine) > 0, dd["identities"]
        assert all(i["entries"] <= 256 for i in mine), mine
        # Before the agent named the flooder's identity its first entries
        # counted against its own cgroup; the flush moved them onto the
        # pod's quota, so the pod holds one quota, not one per cgroup.
        assert sum(i["entries"] for i in mine) <= 256, mine
        print("  dedup: %d refused at the quota; the flooder holds %d entries (%s)" % (
            dd["refused"], sum(i["entries"] for i in mine),
            ", ".join(str(i["entries"]) for i in mine)))


@suite.test
def ring_losses_name_the_identity_that_lost_them(s):
    """With no budget and a stalled reader the ring fills: every lost open
    is counted for the pod whose open it was, in loss records and status,
    and sent + lost is exactly what the pod did."""
    under, scoped = scope(s)
    pod = sa_pod("flood", "stalled", "stalled-0", under)
    flood_dir = os.path.join(s.tmp, "stall-%s" % uuid.uuid4().hex[:6])
    os.mkdir(flood_dir)
    go = os.path.join(s.tmp, "go-%s" % uuid.uuid4().hex[:6])
    agent = Agent(s.tmp, "--flood-budget", "0", "--ringbuf-size", "64Ki", *scoped)
    ft = Tail(agent, "--identity", pod.key, "--kind", "open,loss")
    with running(pod, agent, ft):
        w = pod.popen([STORM, "-w", go, "-t", "0.3", flood_dir],
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert w.stdout.readline().startswith("started="), "nh_storm did not start"
        assert w.stdout.readline().strip() == "waiting=" + go, "nh_storm is not waiting"
        # Attributed while it lives (its token is read through it).
        wait_until(lambda: pod.key in {i["key"] for i in agent.status()["identities"]["top"]},
                   timeout=30, what="the agent to attribute the pod")
        agent.proc.send_signal(signal.SIGSTOP)  # the reader stalls
        try:
            open(go, "w").close()
            out, err = w.communicate(timeout=60)
            assert w.returncode == 0, err
        finally:
            agent.proc.send_signal(signal.SIGCONT)
        opens = storm_opens(out)

        def delivered():
            return len(ft.matching(lambda e: e["kind"] == "open" and
                                   e["path"].startswith(flood_dir + "/")))
        try:
            wait_until(lambda: delivered() + lost_for(ft, pod.key).get("open", 0) >= opens,
                       timeout=30, what="loss records naming the pod")
        except AssertionError:
            print("  opens %d, sent %d, losses %s; status %s; records %s" % (
                opens, delivered(), lost_for(ft, pod.key), agent.status()["floods"],
                ft.matching(lambda e: e["kind"] == "loss")))
            raise
        ft.sync(pod)
        lost = lost_for(ft, pod.key).get("open", 0)
        assert lost > 0, "a 64 KiB ring with a stalled reader must lose events"
        assert delivered() + lost == opens, "sent %d + lost %d != %d opens" % (
            delivered(), lost, opens)
        rec = ft.matching(lambda e: e["kind"] == "loss" and e.get("identity") == pod.key)
        assert all(e["source"] == "kernel" and e["identity_cgroup_id"] > 0 for e in rec), rec
        st = agent.status()
        mine = {i["key"]: i for i in st["floods"]["identities"]}
        # status counts every kind the pod lost (its exit too), as the records do
        assert mine[pod.key]["lost"] == sum(lost_for(ft, pod.key).values()), st["floods"]
        assert st["floods"]["lost_attributed"] >= lost, st["floods"]
        print("  stalled reader: %d opens, %d sent, %d lost, all named" % (
            opens, delivered(), lost))


def gaps(mock):
    """The monitoring_gap bodies on Kafka, each once: a record the killed
    agent had sent but not yet seen acknowledged is sent again by the
    next run (at least once; the collector drops repeats by record id),
    so copies are told apart by id, and a copy must be identical."""
    recs, _ = read_topic(mock, "nhiscope.anomalies")
    by_id = {}
    for r in recs:
        if r.get("kind") != "monitoring_gap":
            continue
        body = r.get("monitoring_gap", r)
        prev = by_id.setdefault((r["boot_id"], r["seq"]), body)
        assert prev == body, ("two records with one id", prev, body)
    return list(by_id.values())


@suite.test
def restart_leaves_one_monitoring_gap_with_its_window(s):
    """A first start finds no earlier run: no gap. A clean stop records
    when monitoring ended; the next start reports one monitoring_gap
    from that stop to its own start, on Kafka and in status. A kill -9
    leaves no stop: the gap starts at the last sign of life (checked in
    status)."""
    mock = Mock()
    state = os.path.join(s.tmp, "state-" + uuid.uuid4().hex[:6])
    spool = os.path.join(s.tmp, "spool-" + uuid.uuid4().hex[:6])

    under, scoped = scope(s)  # an empty cgroup: nothing is traced
    empty = os.path.join(cgroup2_mount(), under)
    os.mkdir(empty)

    def start():
        return kafka_agent(s, mock, spool, "--profile-dir", state, *scoped)
    agent = None
    try:
        agent = start()
        assert "monitoring_gap" not in agent.status(), "a first start has no gap"
        wait_until(lambda: agent.status()["kafka"]["spool_pending"] == 0 and
                   agent.status()["kafka"]["delivered"] > 0, timeout=30, what="a heartbeat")
        t0 = time.time_ns()
        assert agent.stop() == 0
        t1 = time.time_ns()
        time.sleep(1.0)  # the gap's length: a lower bound, asserted as such
        t2 = time.time_ns()
        agent = start()
        t3 = time.time_ns()
        st = agent.status()["monitoring_gap"]
        assert t0 <= st["start_ns"] <= t1 and t2 <= st["end_ns"] <= t3, (st, t0, t1, t2, t3)
        assert st["clean_stop"] is True, st
        got = wait_until(lambda: gaps(mock), timeout=30, what="the gap record on Kafka")
        assert len(got) == 1, got
        g = got[0]
        assert g["start_ns"] == st["start_ns"] and g["end_ns"] == st["end_ns"], (g, st)
        assert g["clean_stop"] is True and g["end_ns"] - g["start_ns"] >= 10**9, g

        # A crash: no stop recorded; the gap starts at the last sign of life
        # (this start, or a later beat), before the kill.
        t4 = time.time_ns()
        agent.proc.kill()
        agent.proc.wait()
        agent.stop()
        agent = start()
        t5 = time.time_ns()
        st2 = agent.status()["monitoring_gap"]
        assert t2 <= st2["start_ns"] <= t4 and t4 <= st2["end_ns"] <= t5, (st2, t2, t4, t5)
        assert st2["clean_stop"] is False, st2
        # ... and reaches Kafka too, with that window, next to the first.
        got = wait_until(lambda: [g for g in gaps(mock) if not g.get("clean_stop")],
                         timeout=30, what="the gap record of the kill -9 on Kafka")
        assert len(got) == 1, got
        g = got[0]
        assert g["start_ns"] == st2["start_ns"] and g["end_ns"] == st2["end_ns"], (g, st2)
        assert len(gaps(mock)) == 2, gaps(mock)
    finally:
        if agent:
            agent.stop()
        mock.stop()
        os.rmdir(empty)


if __name__ == "__main__":
    sys.exit(suite.run(sys.argv))
