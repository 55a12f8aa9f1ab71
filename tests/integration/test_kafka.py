# SPDX-License-Identifier: Apache-2.0
"""The agent's Kafka producer against librdkafka's mock cluster (real Kafka
protocol on loopback), checked with kcat, an independent client: findings
and credential uses arrive as wire records; a broker outage and a kill -9
of the agent lose nothing."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nhtest  # noqa: E402
from nhtest import (BUILD, CLI, ROOT, TOKEN_PATH, Agent, SaPod, Suite, run_alive,  # noqa: E402
                    wait_until)

suite = Suite("kafka")
WIRE = os.path.join(BUILD, "tests", "wire_produce")
TOPICS = ("nhiscope.anomalies", "nhiscope.activity", "nhiscope.heartbeats")


class Mock(nhtest.Mock):
    """A mock Kafka cluster with the agent's topics; `down`/`up` on stdin."""

    def __init__(self):
        super().__init__(*TOPICS)


def read_topic(mock, topic):
    """Every record on topic, read by kcat and unpacked: (records, raw bytes)."""
    r = subprocess.run(["kcat", "-C", "-b", mock.bootstrap, "-t", topic, "-o", "beginning",
                        "-e", "-q", "-f", "%R%s"], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    d = subprocess.run([WIRE, "--decode"], input=r.stdout, capture_output=True, timeout=60)
    assert d.returncode == 0, d.stderr
    recs = [json.loads(l) for l in d.stdout.decode().splitlines() if l.strip()]
    assert not [x for x in recs if "error" in x], recs
    return recs, r.stdout


def kafka_agent(s, mock, spool, *extra):
    return Agent(s.tmp, "--kafka-brokers", mock.bootstrap, "--spool-dir", spool, *extra)


def findings_of(recs, key, kind):
    return [r for r in recs if r.get("kind") == kind and r["identity"]["key"] == key]


@suite.test
def findings_and_credential_use_reach_kafka(s):
    mock = Mock()
    pod = SaPod("kafka", "producer", "producer-0")
    spool = os.path.join(s.tmp, "spool-" + uuid.uuid4().hex[:6])
    agent = kafka_agent(s, mock, spool)
    secret = "ghp_" + uuid.uuid4().hex + "abcd"
    try:
        run_alive(pod, ["sh", "-c", "cat %s >/dev/null; /bin/true --token %s" %
                        (TOKEN_PATH, secret)])
        wait_until(lambda: agent.status()["kafka"]["delivered"] >= 3, timeout=20,
                   what="records delivered")
        # Acknowledged records about kernel events are timed (heartbeats not).
        lat = wait_until(lambda: (lambda l: l if l["count"] > 0 else None)(
            agent.status()["kafka"]["delivery_latency_us"]), what="a timed delivery")
        assert 0 < lat["p50"] <= lat["p99"] <= lat["max"], lat
        assert lat["count"] <= agent.status()["kafka"]["delivered"], lat
        recs, raw = read_topic(mock, "nhiscope.anomalies")
        uses = [r for r in findings_of(recs, pod.key, "credential_use")
                if r["credential_use"]["credential_kind"] == "sa_token"]
        assert len(uses) == 1, recs
        assert uses[0]["identity"]["namespace"] == "kafka", uses[0]
        assert uses[0]["identity"]["pod_uid"] == pod.uid, uses[0]
        fs = findings_of(recs, pod.key, "finding")
        assert [f for f in fs if f["finding"]["type"] == "secret_exposure"], fs
        ids = {(r["node"], r["boot_id"], r["seq"]) for r in recs}
        assert len(ids) == len(recs), "record ids are unique"
        assert secret.encode() not in raw
        hb = wait_until(lambda: read_topic(mock, "nhiscope.heartbeats")[0], what="heartbeat")
        assert hb[0]["kind"] == "heartbeat" and hb[0]["heartbeat"]["probes_attached"] > 20, hb
    finally:
        agent.stop()
        pod.remove()
        mock.stop()


@suite.test
def activity_reaches_kafka_typed(s):
    """Activity streaming: each event a typed record (format 2), its fields
    as the kernel reported them, argv redacted, the pod's context along."""
    mock = Mock()
    pod = SaPod("kafka", "streamer", "streamer-0")
    spool = os.path.join(s.tmp, "spool-" + uuid.uuid4().hex[:6])
    agent = kafka_agent(s, mock, spool, "--kafka-activity")
    secret = "ghp_" + uuid.uuid4().hex + "wxyz"
    marker = "/nonexistent-" + uuid.uuid4().hex[:8]
    try:
        # processes forked from here on start after this (a tick's slack:
        # the agent counts starts in whole clock ticks)
        t0_ms = time.clock_gettime(time.CLOCK_MONOTONIC) * 1000 - 10
        # the marker's open fails; the command must not (Alive checks it)
        run_alive(pod, ["sh", "-c", "cat %s >/dev/null; /bin/true --token %s; cat %s 2>/dev/null;"
                        " true" % (TOKEN_PATH, secret, marker)])

        def pod_activity():
            recs, raw = read_topic(mock, "nhiscope.activity")
            mine = [r for r in recs if r["kind"] == "activity" and r["identity"]["key"] == pod.key]
            if any(r["activity"]["event"] == "open" and r["activity"].get("path") == marker
                   for r in mine):
                return mine, raw
            return None
        mine, raw = wait_until(pod_activity, timeout=30, what="the marker open on Kafka")
        assert all(r["format"] == 2 for r in mine), mine
        assert "legacy_json" not in str(mine)
        opens = [r for r in mine if r["activity"]["event"] == "open"
                 and r["activity"].get("path") == TOKEN_PATH]
        assert opens and opens[0]["activity"]["result"] >= 0, mine
        assert opens[0]["activity"]["syscall"].startswith("open"), opens[0]
        miss = [r for r in mine if r["activity"].get("path") == marker][0]
        assert miss["activity"]["result"] == -2, miss  # -ENOENT
        ctx = opens[0]["identity"]["context"]
        assert ctx["cgroup_kind"] == "pod" and ctx["token"]["fingerprint"], ctx
        assert opens[0]["identity"]["pod_uid"] == pod.uid, opens[0]
        assert opens[0]["process"]["tid"] > 0 and opens[0]["process"]["cgroup_id"] > 0
        execs = [r for r in mine if r["activity"]["event"] == "exec"
                 and r["activity"]["path"] == "/bin/true"]
        assert execs and execs[0]["activity"]["args"][0:2] == ["/bin/true", "--token"], execs
        assert execs[0]["activity"]["secrets_redacted"] >= 1, execs[0]
        assert secret.encode() not in raw
        # a process's start (for ECS process.entity_id): one per pid, and
        # a new process's is when it was forked
        starts = {}
        for r in mine:
            starts.setdefault(r["process"]["pid"], set()).add(r["process"]["start_ms"])
        assert all(len(v) == 1 for v in starts.values()), starts
        now_ms = time.clock_gettime(time.CLOCK_MONOTONIC) * 1000
        for r in (execs[0], miss):
            assert t0_ms <= r["process"]["start_ms"] <= now_ms, (t0_ms, now_ms, r["process"])
    finally:
        agent.stop()
        pod.remove()
        mock.stop()


def expose(pod, n, tag):
    """n distinct secret_exposure findings."""
    secrets = ["ghp_%s%04d%s" % (tag, i, uuid.uuid4().hex[:24]) for i in range(n)]
    run_alive(pod, ["sh", "-c", "; ".join("/bin/true --token %s" % x for x in secrets)])
    return secrets


def exposures(recs, key):
    return [r for r in findings_of(recs, key, "finding")
            if r["finding"]["type"] == "secret_exposure"]


@suite.test
def broker_outage_loses_nothing(s):
    mock = Mock()
    pod = SaPod("kafka", "outage", "outage-0")
    spool = os.path.join(s.tmp, "spool-" + uuid.uuid4().hex[:6])
    agent = kafka_agent(s, mock, spool)
    try:
        mock.command("down")
        expose(pod, 20, "a")
        wait_until(lambda: agent.status()["kafka"]["spool_pending"] >= 20, what="spooled")
        time.sleep(2)  # the outage lasts a while: a lower bound, not a wait for something
        st = agent.status()["kafka"]
        assert st["spool_pending"] >= 20, st  # nothing acknowledged while it is down
        mock.command("up")
        wait_until(lambda: agent.status()["kafka"]["spool_pending"] == 0, timeout=60,
                   what="spool drained")
        recs, _ = read_topic(mock, "nhiscope.anomalies")
        ex = exposures(recs, pod.key)
        fps = {r["finding"]["fingerprint"] for r in ex}
        assert len(fps) == 20, (len(fps), len(ex))
    finally:
        agent.stop()
        pod.remove()
        mock.stop()


@suite.test
def broker_outage_end_to_end_no_loss_no_duplicate(s):
    """Agent and collector both through one outage: every record reaches
    the ECS file once."""
    from test_collector import Collector, ecs_lines

    mock = Mock()
    ecs = os.path.join(s.tmp, "ecs-%s.jsonl" % uuid.uuid4().hex[:6])
    col = Collector(s.tmp, mock, "--topic", "nhiscope.anomalies", "--ecs-file", ecs)
    pod = SaPod("kafka", "e2e-outage", "e2e-outage-0")
    spool = os.path.join(s.tmp, "spool-" + uuid.uuid4().hex[:6])
    agent = kafka_agent(s, mock, spool)
    try:
        expose(pod, 5, "c")  # some before the outage
        mock.command("down")
        expose(pod, 20, "d")
        wait_until(lambda: agent.status()["kafka"]["spool_pending"] >= 20, what="spooled")
        time.sleep(3)  # a lower bound: both clients see the brokers gone
        mock.command("up")

        def exposed():
            return [d for d in ecs_lines(ecs)
                    if d.get("nhiscope", {}).get("identity", {}).get("key") == pod.key and
                    d["nhiscope"].get("finding", {}).get("type") == "secret_exposure"]
        wait_until(lambda: len({d["nhiscope"]["finding"]["fingerprint"]
                                for d in exposed()}) >= 25,
                   timeout=60, what="all 25 findings in the ECS file")
        wait_until(lambda: agent.status()["kafka"]["spool_pending"] == 0, timeout=30,
                   what="spool drained")
        # A marker finding after the drain: one partition, consumed in
        # order, so once it is in the file anything resent before it is too.
        expose(pod, 1, "e")
        wait_until(lambda: len({d["nhiscope"]["finding"]["fingerprint"]
                                for d in exposed()}) >= 26,
                   timeout=60, what="the marker finding in the ECS file")
        docs = exposed()
        fps = [d["nhiscope"]["finding"]["fingerprint"] for d in docs]
        ids = [d["event"]["id"] for d in docs]
        assert len(set(fps)) == 26, len(set(fps))
        assert len(ids) == len(set(ids)) == 26, "duplicates in the sink: %d docs" % len(ids)
    finally:
        agent.stop()
        col.stop()
        pod.remove()
        mock.stop()


@suite.test
def kill_9_with_spooled_records_delivers_after_restart(s):
    mock = Mock()
    pod = SaPod("kafka", "crash", "crash-0")
    spool = os.path.join(s.tmp, "spool-" + uuid.uuid4().hex[:6])
    agent = kafka_agent(s, mock, spool, "--spool-sync", "always")
    try:
        mock.command("down")
        expose(pod, 10, "b")
        wait_until(lambda: agent.status()["kafka"]["spool_pending"] >= 10, what="spooled")
        agent.proc.send_signal(signal.SIGKILL)
        agent.proc.wait()
        mock.command("up")
        agent = kafka_agent(s, mock, spool)
        wait_until(lambda: agent.status()["kafka"]["spool_pending"] == 0, timeout=60,
                   what="spool drained after the restart")
        recs, _ = read_topic(mock, "nhiscope.anomalies")
        fps = {r["finding"]["fingerprint"] for r in exposures(recs, pod.key)}
        assert len(fps) == 10, fps
    finally:
        agent.stop()
        pod.remove()
        mock.stop()


@suite.test
def upgraded_agent_drains_the_previous_releases_spool(s):
    """A spool written by release 1 (tests/fixtures/v1/spool): this release's
    agent delivers every record in it, as it was written, and the
    collector's decoder reads them."""
    mock = Mock()
    spool = os.path.join(s.tmp, "spool-v1-" + uuid.uuid4().hex[:6])
    shutil.copytree(os.path.join(ROOT, "tests", "fixtures", "v1", "spool"), spool)
    agent = kafka_agent(s, mock, spool, "--kafka-activity")
    try:
        wait_until(lambda: agent.status()["kafka"]["spool_pending"] == 0, timeout=60,
                   what="the old spool drained")
        anomalies = wait_until(lambda: (lambda r: r if len(r) >= 4 else None)(
            [x for x in read_topic(mock, "nhiscope.anomalies")[0] if x.get("format") == 1]),
            timeout=30, what="release 1's records on the anomalies topic")
        kinds = sorted(x["finding"]["type"] if x["kind"] == "finding" else x["kind"]
                       for x in anomalies)
        assert kinds == ["anomaly", "credential_use", "loss", "secret_exposure"], kinds
        an = [x for x in anomalies if x["kind"] == "anomaly"][0]
        assert an["anomaly"]["baseline_age_ns"] == 90061 * 10 ** 9, an
        activity = [x for x in read_topic(mock, "nhiscope.activity")[0] if x.get("format") == 1]
        assert sorted(x["activity"]["event"] for x in activity) == ["connect", "open"], activity
        assert all(x["activity"]["legacy_json"].startswith("{") for x in activity), activity
    finally:
        agent.stop()
        mock.stop()


@suite.test
def pod_anomaly_and_credential_use_reach_ecs_file_and_rsyslog(s):
    """The whole way: kernel -> agent -> Kafka -> collector -> SIEM sinks."""
    from test_collector import Collector, Rsyslog, ecs_lines, syslog_docs
    import socket as so

    mock = Mock()
    rs = Rsyslog(s.tmp)
    ecs = os.path.join(s.tmp, "ecs-%s.jsonl" % uuid.uuid4().hex[:6])
    col = Collector(s.tmp, mock, "--topic", "nhiscope.anomalies", "--ecs-file", ecs,
                    "--syslog", rs.address)
    pod = SaPod("e2e", "web", "web-0")
    spool = os.path.join(s.tmp, "spool-" + uuid.uuid4().hex[:6])
    agent = kafka_agent(s, mock, spool, "--learn-window", "1500", "--quiet-period", "1000")
    known, new = so.socket(), so.socket()
    try:
        for l in (known, new):
            l.bind(("127.0.0.1", 0))
            l.listen(16)
        run_alive(pod, ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/%d" %
                        known.getsockname()[1]])

        def stable():
            r = subprocess.run([CLI, "-s", agent.sock, "profiles", "-o", "json"],
                               capture_output=True, text=True)
            return any(p["identity"] == pod.key and p["state"] == "stable"
                       for p in json.loads(r.stdout)["profiles"])
        wait_until(stable, timeout=30, interval=0.2, what="stable profile")
        run_alive(pod, ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/%d; cat %s >/dev/null" %
                        (new.getsockname()[1], TOKEN_PATH)])

        def docs(kind):
            return [d for d in ecs_lines(ecs)
                    if d.get("nhiscope", {}).get("record", {}).get("kind") == kind and
                    d["nhiscope"].get("identity", {}).get("key") == pod.key]
        an = wait_until(lambda: [d for d in docs("anomaly")
                                 if d["nhiscope"]["anomaly"]["category"] == "egress"],
                        timeout=30, what="egress anomaly in the ECS file")[0]
        cu = wait_until(lambda: [d for d in docs("credential_use")
                                 if d["nhiscope"]["credential"]["kind"] == "sa_token"],
                        timeout=30, what="credential use in the ECS file")[0]
        for d in (an, cu):
            ident = d["nhiscope"]["identity"]
            assert ident["pod_uid"] == pod.uid and ident["service_account"] == "web", d
            assert d["process"]["pid"] > 0, d
        assert an["threat"]["technique"]["id"] == "T1071", an

        def in_syslog():
            got = [doc for _, _, _, doc in syslog_docs(rs)
                   if doc.get("nhiscope", {}).get("identity", {}).get("key") == pod.key]
            return {doc["event"]["id"] for doc in got} >= {an["event"]["id"], cu["event"]["id"]}
        wait_until(in_syslog, timeout=30, what="the same records in rsyslog")
    finally:
        agent.stop()
        col.stop()
        rs.stop()
        pod.remove()
        mock.stop()
        known.close()
        new.close()


if __name__ == "__main__":
    sys.exit(suite.run(sys.argv))
