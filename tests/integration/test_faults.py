# SPDX-License-Identifier: Apache-2.0
"""Faults, and nothing lost silently.

Collector (no BPF): a fake Elastic on loopback that rejects one item per
batch for good (the rest indexed, the rejected one on the dead-letter topic
with the sink and its reason, offsets advance); a Splunk HEC answering 400
for one bad event; a sink that is down holds the offsets and turns /readyz
false while /healthz stays true; slow clients holding the collector's HTTP
port do not starve /healthz.

Agent (kernel, run under the lock): a spool on a small tmpfs with the
broker down until the disk is full (no anomaly lost, every shed record
counted and reported once the broker is back); a record corrupted in the
middle of a spool segment (only it is lost); a topic briefly unauthorised
(mock cluster error injection: retried, nothing lost); a spool on a FUSE
file system whose syncs of full segments hang (fusegate.py): the agent's
loop never waits for them, and nothing is lost once they are done."""

import glob
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nhtest import (CLI, Agent, Mock, QuietHandler, SaPod, Suite, free_port,  # noqa: E402
                    http_request, keeps_connection, run_alive, serve_http, slow_clients_are_cut,
                    wait_until)
from test_collector import DLQ, TOPIC, Collector, Records, cleanup, produce  # noqa: E402

suite = Suite("faults")


def request(host, port, path, timeout=5):
    """(status, body)"""
    code, _, body = http_request(host, port, path, timeout=timeout)
    return code, body


def status_of(port, path):
    """The status of GET path, None while nothing listens."""
    try:
        return request("127.0.0.1", port, path, timeout=2)[0]
    except OSError:
        return None


def metric(port, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        body = r.read().decode()
    for line in body.splitlines():
        if line.startswith(name + " "):
            return int(line.split()[1])
    return None


def dead_letters(mock):
    """(headers, value) of every record on the dead-letter topic, by kcat."""
    res = subprocess.run(["kcat", "-b", mock.bootstrap, "-C", "-t", DLQ, "-e", "-q",
                          "-f", "%h\t%k\n"], capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr
    out = []
    for line in res.stdout.decode(errors="replace").splitlines():
        if not line:
            continue
        h, k = line.split("\t", 1)
        out.append((dict(kv.split("=", 1) for kv in h.split(",")), k))
    return out


class PickyElastic(QuietHandler):
    """Elastic _bulk that rejects the first new item of every request with
    an item-level 400 (a mapping conflict, as dynamic mapping produces when
    a field once seen as a number later comes as a hex string); the others
    are created (or 409 when seen before). down: answer 503 to everything."""
    lock = threading.Lock()
    indexed, rejected, down, picky, posts = {}, [], False, True, 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode().splitlines()
        with PickyElastic.lock:
            PickyElastic.posts += 1
            if PickyElastic.down:
                self.answer(503, {"error": "unavailable", "status": 503})
                return
            items, bad_done = [], False
            for action, doc in zip(body[0::2], body[1::2]):
                _id = json.loads(action)["create"]["_id"]
                if _id in PickyElastic.indexed:
                    items.append({"create": {"_id": _id, "status": 409}})
                elif not bad_done and PickyElastic.picky:
                    bad_done = True
                    PickyElastic.rejected.append(_id)
                    items.append({"create": {"_id": _id, "status": 400, "error": {
                        "type": "mapper_parsing_exception",
                        "reason": "failed to parse field [process.cap.effective] of type "
                                  "[long] in document with id '%s'" % _id}}})
                else:
                    PickyElastic.indexed[_id] = json.loads(doc)
                    items.append({"create": {"_id": _id, "status": 201}})
        self.answer(200, {"errors": True, "items": items})


@suite.test
def elastic_item_rejection_goes_to_dead_letter(s):
    """One item per _bulk request rejected for good: the others are indexed,
    the rejected one is on the dead-letter topic with the sink and the
    reason, and the partition goes on (lag 0, a later record indexed)."""
    mock = Mock(TOPIC, DLQ)
    server = serve_http(PickyElastic)
    PickyElastic.indexed, PickyElastic.rejected, PickyElastic.down = {}, [], False
    PickyElastic.picky = True
    port = free_port()
    col = None
    try:
        recs = Records()
        first = recs.mixed(10)
        produce(mock, first)
        col = Collector(s.tmp, mock, "--elastic", "http://127.0.0.1:%d" % server.server_port,
                        "--metrics", "127.0.0.1:%d" % port)
        want = {Records.id(r) for r in first}

        def settled():
            with PickyElastic.lock:
                return want <= set(PickyElastic.indexed) | set(PickyElastic.rejected)
        wait_until(settled, timeout=30, what="every record indexed or rejected")
        # the partition goes on: a record produced afterwards is indexed too
        later = recs.anomaly("10.9.9.9:443")
        produce(mock, [later])
        wait_until(lambda: Records.id(later) in PickyElastic.indexed or
                   Records.id(later) in PickyElastic.rejected, timeout=30,
                   what="the later record")
        with PickyElastic.lock:
            rejected = list(PickyElastic.rejected)
            indexed = set(PickyElastic.indexed)
        assert rejected and not set(rejected) & indexed, (rejected, indexed)
        assert len(set(rejected)) == len(rejected), "a rejected record was sent again"
        assert len(indexed) + len(rejected) == 11, (len(indexed), rejected)
        wait_until(lambda: len(dead_letters(mock)) >= len(rejected), timeout=30,
                   what="the rejected records on the dead-letter topic")
        dl = dead_letters(mock)
        assert sorted(k for _, k in dl) == sorted(rejected), (dl, rejected)
        for h, k in dl:
            assert h["nhiscope.sink"] == "elastic", h
            assert h["nhiscope.record.id"] == k, h
            assert "mapper_parsing_exception" in h["nhiscope.reason"], h
            assert h["nhiscope.reason"].startswith("elastic sink: HTTP 400"), h
            assert h["nhiscope.source.topic"] == TOPIC, h
        wait_until(lambda: metric(port, "nhiscope_collector_lag") == 0, timeout=15,
                   what="lag 0: offsets advanced past the rejected records")
        assert metric(port, "nhiscope_collector_sink_rejected_total") == len(rejected)
        assert request("127.0.0.1", port, "/readyz")[0] == 200
        assert col.stop() == 0
    finally:
        if col:
            col.stop()
        server.shutdown()
        mock.stop()


@suite.test
def elastic_rejection_offsets_committed(s):
    """After a rejection the group's committed offset is past it: a new
    collector of the same group sends only what came after."""
    mock = Mock(TOPIC, DLQ)
    server = serve_http(PickyElastic)
    PickyElastic.indexed, PickyElastic.rejected, PickyElastic.down = {}, [], False
    PickyElastic.picky = True
    group = "g-" + uuid.uuid4().hex[:8]
    col = None
    try:
        recs = Records()
        batch = recs.mixed(5)
        produce(mock, batch)
        col = Collector(s.tmp, mock, "--elastic", "http://127.0.0.1:%d" % server.server_port,
                        group=group)
        want = {Records.id(r) for r in batch}
        wait_until(lambda: want <= set(PickyElastic.indexed) | set(PickyElastic.rejected),
                   timeout=30, what="the batch settled")
        assert col.stop() == 0
        col = None
        before = dict(PickyElastic.indexed), list(PickyElastic.rejected)
        marker = recs.anomaly("10.8.8.8:443")
        produce(mock, [marker])
        col = Collector(s.tmp, mock, "--elastic", "http://127.0.0.1:%d" % server.server_port,
                        group=group)
        wait_until(lambda: Records.id(marker) in PickyElastic.indexed or
                   Records.id(marker) in PickyElastic.rejected, timeout=30, what="the marker")
        # only the marker was new: nothing before it was sent again
        new_ids = (set(PickyElastic.indexed) - set(before[0])) | \
            (set(PickyElastic.rejected) - set(before[1]))
        assert new_ids == {Records.id(marker)}, new_ids
    finally:
        if col:
            col.stop()
        server.shutdown()
        mock.stop()


class PickyHec(QuietHandler):
    """Splunk HEC that answers 400 for a batch holding an event whose
    anomaly value is "bad", naming its position; the events before it are
    indexed, those after it are not (as Splunk does)."""
    lock = threading.Lock()
    events = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode().splitlines()
        with PickyHec.lock:
            for i, line in enumerate(body):
                ev = json.loads(line)
                if ev["event"].get("nhiscope", {}).get("anomaly", {}).get("value") == "bad":
                    self.answer(400, {"text": "Invalid data format", "code": 6,
                                      "invalid-event-number": i})
                    return
                PickyHec.events.append(ev)
        self.answer(200, {"text": "Success", "code": 0})


@suite.test
def hec_400_goes_to_dead_letter(s):
    mock = Mock(TOPIC, DLQ)
    server = serve_http(PickyHec)
    PickyHec.events = []
    token_file = os.path.join(s.tmp, "hec-token")
    with open(token_file, "w") as f:
        f.write("tok-%s\n" % uuid.uuid4().hex)
    col = None
    try:
        recs = Records()
        batch = [recs.anomaly("10.0.0.%d:443" % i) for i in range(3)] + [recs.anomaly("bad")] + \
            [recs.anomaly("10.0.1.%d:443" % i) for i in range(3)]
        produce(mock, batch)
        col = Collector(s.tmp, mock, "--splunk-hec",
                        "http://127.0.0.1:%d/services/collector/event" % server.server_port,
                        "--splunk-token-file", token_file)
        good = [Records.id(r) for r in batch if r["anomaly"]["value"] != "bad"]
        wait_until(lambda: set(good) <= {e["event"]["event"]["id"] for e in PickyHec.events},
                   timeout=30, what="the good events")
        ids = [e["event"]["event"]["id"] for e in PickyHec.events]
        assert sorted(ids) == sorted(good), "each good event once: %r" % ids
        dl = wait_until(lambda: dead_letters(mock), timeout=30, what="the dead letter")
        assert len(dl) == 1 and dl[0][1] == Records.id(batch[3]), dl
        assert dl[0][0]["nhiscope.sink"] == "splunk", dl
        assert "Invalid data format" in dl[0][0]["nhiscope.reason"], dl
    finally:
        if col:
            col.stop()
        server.shutdown()
        mock.stop()


@suite.test
def sink_down_holds_offsets_not_ready_but_alive(s):
    """Elastic answering 503: nothing is dead-lettered or lost, /readyz says
    not ready while /healthz says ok; once it is back everything is
    indexed and the collector is ready again."""
    mock = Mock(TOPIC, DLQ)
    server = serve_http(PickyElastic)
    PickyElastic.indexed, PickyElastic.rejected, PickyElastic.down = {}, [], True
    PickyElastic.picky = False  # only the outage here
    port = free_port()
    col = None
    try:
        recs = Records()
        batch = recs.mixed(6)
        produce(mock, batch)
        col = Collector(s.tmp, mock, "--elastic", "http://127.0.0.1:%d" % server.server_port,
                        "--metrics", "127.0.0.1:%d" % port)
        wait_until(lambda: status_of(port, "/readyz") == 503, timeout=30,
                   what="not ready while the sink is down")
        assert request("127.0.0.1", port, "/healthz") == (200, "ok\n")
        assert metric(port, "nhiscope_collector_commits_total") == 0
        assert metric(port, "nhiscope_collector_lag") != 0
        PickyElastic.down = False
        want = {Records.id(r) for r in batch}
        wait_until(lambda: want <= set(PickyElastic.indexed), timeout=30, what="all indexed")
        wait_until(lambda: status_of(port, "/readyz") == 200, timeout=15,
                   what="ready again")
        wait_until(lambda: metric(port, "nhiscope_collector_lag") == 0, timeout=15,
                   what="lag 0")
        assert dead_letters(mock) == []
        assert metric(port, "nhiscope_collector_sink_rejected_total") == 0
    finally:
        if col:
            col.stop()
        server.shutdown()
        mock.stop()


@suite.test
def slow_clients_cannot_starve_collector_healthz(s):
    """Many connections from one address sending a header byte now and then:
    that address gets a few slots, each is cut at its deadline, and
    /healthz from another address keeps answering."""
    mock = Mock(TOPIC, DLQ)
    port = free_port()
    col = Collector(s.tmp, mock, "--ecs-file", os.path.join(s.tmp, "slow.jsonl"),
                    "--metrics", "127.0.0.1:%d" % port)
    try:
        wait_until(lambda: status_of(port, "/healthz") == 200, timeout=20,
                   what="the collector's HTTP server")
        keeps_connection(port, ("/healthz", "/readyz", "/metrics"))
        slow_clients_are_cut(port, 100)
        assert metric(port, "nhiscope_collector_http_deadline_cut_total") >= 1
        assert col.proc.poll() is None
    finally:
        col.stop()
        mock.stop()


# --- the agent's spool and producer (kernel: run under the lock) ---

AGENT_TOPICS = ("nhiscope.anomalies", "nhiscope.activity", "nhiscope.heartbeats")


def agent_mock():
    return Mock(*AGENT_TOPICS)


def kafka_agent(s, mock, spool, pod, *extra):
    """An agent tracing the test's pod only: nothing else on the host can
    fill its spool, take its time or stall it."""
    return Agent(s.tmp, "--kafka-brokers", mock.bootstrap, "--spool-dir", spool,
                 "--scope-cgroup", pod.cgroup_path, *extra)


def topic_records(mock, topic):
    from test_kafka import read_topic
    return read_topic(mock, topic)[0]


def expose(pod, n, tag):
    """n distinct secret_exposure findings (anomaly class)."""
    secrets = ["ghp_%s%04d%s" % (tag, i, uuid.uuid4().hex[:24]) for i in range(n)]
    run_alive(pod, ["sh", "-c", "; ".join("/bin/true --token %s" % x for x in secrets)],
              timeout=30)
    return secrets


def exposure_fps(recs, key):
    return {r["finding"]["fingerprint"] for r in recs
            if r.get("kind") == "finding" and r["identity"]["key"] == key and
            r["finding"]["type"] == "secret_exposure"}


def loss_counts(recs):
    """Sum of the spool's loss reports by counter name."""
    out = {}
    for r in recs:
        if r.get("kind") == "loss" and r["loss"].get("source") == "spool":
            for k, v in r["loss"]["counts"].items():
                out[k] = out.get(k, 0) + v
    return out


def agent_metric(agent, name, labels):
    from test_metrics import parse_sample
    with urllib.request.urlopen("http://%s/metrics" % agent.metrics, timeout=30) as r:
        body = r.read().decode()
    for line in body.splitlines():
        if line.startswith(name + "{"):
            n, ls, v = parse_sample(line)
            if dict(ls) == labels:
                return float(v)
    return None


@suite.test
def spool_disk_full_sheds_activity_keeps_anomalies(s):
    """The spool on a 1 MiB tmpfs, far below its bound, with the broker
    down while activity streams: the disk fills (write errors, by cause);
    anomalies that come then still get in (activity is shed for them); once
    the broker is back every anomaly arrives and the loss reports add up to
    exactly the activity the agent shed or could not write."""
    mock = agent_mock()
    spool = os.path.join(s.tmp, "spool-full-" + uuid.uuid4().hex[:6])
    os.makedirs(spool)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", spool],
                   check=True)
    pod = SaPod("faults", "filler", "filler-0")
    port = free_port()
    agent = None
    try:
        mock.command("down")
        agent = kafka_agent(s, mock, spool, pod, "--kafka-activity", "--spool-size", "64Mi",
                            "--metrics-listen", "127.0.0.1:%d" % port)
        agent.metrics = "127.0.0.1:%d" % port
        # distinct failed opens: each one an activity record
        filler = pod.popen(["sh", "-c", "i=0; while [ $i -lt 200000 ]; do "
                            "cat /nonexistent-fill-$i 2>/dev/null; i=$((i+1)); done"])
        try:
            wait_until(lambda: agent.status()["kafka"]["spool_write_errors"] > 0,
                       timeout=120, interval=0.5, what="the tmpfs full")
            secrets = expose(pod, 20, "full")
            wait_until(lambda: agent.status()["kafka"]["spool_pending"] >= 20, timeout=30,
                       what="spooled")
        finally:
            filler.kill()
            filler.wait()
        st = agent.status()["kafka"]
        assert st["spool_lost_anomaly"] == 0 and st["spool_shed_anomaly"] == 0, st
        assert st["spool_shed_activity"] + st["spool_lost_activity"] > 0, st
        assert agent_metric(agent, "nhiscope_spool_write_errors_total", {"cause": "nospc"}) > 0
        mock.command("up")
        wait_until(lambda: len(exposure_fps(topic_records(mock, "nhiscope.anomalies"),
                                            pod.key)) >= 20,
                   timeout=90, interval=1, what="all 20 findings on Kafka")
        assert len(secrets) == 20

        def reported():
            st = agent.status()["kafka"]
            lost = st["spool_shed_activity"] + st["spool_lost_activity"]
            c = loss_counts(topic_records(mock, "nhiscope.anomalies"))
            return (c, st) if c.get("activity", 0) == lost and lost > 0 else None
        try:
            c, st = wait_until(reported, timeout=60, interval=1,
                               what="every shed activity record reported")
        except AssertionError:
            print(agent.status()["kafka"], loss_counts(topic_records(mock, "nhiscope.anomalies")))
            log = [line for line in agent.read_log().splitlines() if "refused" not in line]
            print("\n".join(log[-40:]))
            raise
        assert c.get("anomaly", 0) == 0, c
        assert c.get("spool_full", 0) + c.get("disk_error", 0) == c["activity"], c
        assert c.get("disk_error", 0) == st["spool_lost_activity"], (c, st)
        assert agent.proc.poll() is None
    finally:
        if agent:
            agent.stop()
        subprocess.run(["umount", "-l", spool])
        pod.remove()
        mock.stop()


def status_within(agent, seconds=1.0):
    """The agent's status, or None when it does not answer in time (a
    stalled loop must fail the test, not hang it)."""
    try:
        r = subprocess.run([CLI, "-s", agent.sock, "status", "-o", "json"],
                           capture_output=True, text=True, timeout=seconds)
    except subprocess.TimeoutExpired:
        return None
    return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else None


class StatusProbe:
    """Asks for the status every 50 ms, each with a one-second deadline."""

    def __init__(self, agent):
        self.agent, self.answers, self.misses = agent, 0, []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.done.wait(0.05):
            t0 = time.monotonic()
            if status_within(self.agent):
                self.answers += 1
            else:
                self.misses.append("no answer within 1s (at %.1f)" % t0)

    def close(self):
        self.done.set()
        self.thread.join(timeout=5)


@suite.test
def spool_rollover_sync_never_stalls_the_loop(s):
    """The spool on a FUSE file system (fusegate.py) that takes writes but
    never answers the fsync of a full segment, as a disk whose flushes do
    not complete; 128 KiB segments (--spool-size 1Mi). Activity fills
    segments one after another while their syncs hang: `nhiscope status`
    answers within a second throughout, a marker made then reaches Kafka,
    and the full segments waiting for their sync are counted. Then the
    workload floods: the spool, full of acknowledged segments that no
    flush could delete, makes room from them, the one whose sync hangs
    included, whose unlink the loop leaves to the worker instead of
    waiting on it; secrets exposed then reach Kafka; the agent holds no
    descriptor per segment. Once the disk answers the syncs are done, the
    dropped segment goes, everything spooled reaches Kafka and whatever is
    missing was counted as shed. (Before: the append that rolled a segment
    over fdatasynced it on the loop; a spool full of acknowledged records
    refused new ones.)"""
    mock = agent_mock()
    spool = os.path.join(s.tmp, "spool-gate-" + uuid.uuid4().hex[:6])
    back, state = spool + "-back", spool + ".state"
    first = os.path.join(back, "activity", "%016x.seg" % 1)
    os.makedirs(back)
    os.makedirs(spool)
    gate = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "fusegate.py"), back, spool, state, str(128 << 10)])
    pod = SaPod("faults", "roller", "roller-0")
    agent = filler = probe = None

    def gate_state():
        with open(state) as f:
            return json.load(f)

    def segments():
        return sorted(glob.glob(os.path.join(back, "activity", "*.seg")))

    def fill(paced):
        # paced: about 200 records a second, a segment every few seconds
        return pod.popen(["sh", "-c", "i=0; while [ $i -lt 100000 ]; do "
                          "cat /nonexistent-roll-$i 2>/dev/null; i=$((i+1)); %s done"
                          % ("[ $((i % 20)) -ne 0 ] || sleep 0.1;" if paced else "")])

    def stop(p):
        p.kill()
        p.wait()

    def answering():
        """Fails at once when a status went unanswered, saying where the
        agent's loop (its main thread) waits in the kernel."""
        if probe.misses:
            try:
                with open("/proc/%d/stack" % agent.proc.pid) as f:
                    where = f.read()
            except OSError:
                where = "?"
            raise AssertionError("status did not answer within 1s (%s); the loop is in:\n%s"
                                 % (probe.misses[0], where))
        return True

    def spool_fds():
        n = 0
        for fd in glob.glob("/proc/%d/fd/*" % agent.proc.pid):
            try:
                n += os.readlink(fd).startswith(spool + "/")
            except OSError:
                pass
        return n
    try:
        wait_until(lambda: os.path.ismount(spool), what="the FUSE spool mounted")
        agent = kafka_agent(s, mock, spool, pod, "--kafka-activity", "--spool-size", "1Mi")
        probe = StatusProbe(agent)
        filler = fill(True)
        # a full segment's sync hangs, and two more segments are begun after it
        wait_until(lambda: answering() and gate_state()["held"] >= 1 and len(segments()) >= 3,
                   timeout=60,
                   interval=0.1, what="segments rolled over while a sync hangs")
        stop(filler)
        st = status_within(agent, 5)
        assert st and st["kafka"]["spool_unsynced_segments"] >= 2, st and st["kafka"]
        marker = "/nonexistent-marker-" + uuid.uuid4().hex[:8]
        run_alive(pod, ["sh", "-c", "cat %s 2>/dev/null; true" % marker])
        wait_until(lambda: answering() and [r for r in topic_records(mock, "nhiscope.activity")
                                            if r.get("activity", {}).get("path") == marker],
                   timeout=30, interval=0.5, what="the marker on Kafka while syncs hang")
        # the flood, until the segment whose sync hangs is dropped to make
        # room (and those after it unlinked)
        filler = fill(False)
        fds = []
        names = []

        def first_dropped():
            answering()
            fds.append(spool_fds())
            names.append([os.path.basename(p) for p in segments()])
            return names[-1][:1] == ["%016x.seg" % 1] and "%016x.seg" % 2 not in names[-1]
        wait_until(first_dropped, timeout=60, interval=0.2,
                   what="the spool full, its oldest segments dropped")
        secrets = expose(pod, 5, "held")
        wait_until(lambda: answering() and len(exposure_fps(
                   topic_records(mock, "nhiscope.anomalies"), pod.key)) >= 5,
                   timeout=30, interval=0.5, what="the findings on Kafka while syncs hang")
        stop(filler)
        g = gate_state()
        assert g["held"] >= 1 and g["closed"], g  # the syncs still hang
        # two tails, a flush's copies or a read, the segment whose sync
        # hangs: none per segment, however many rolled over
        rolled = max(int(n[:16], 16) for ns in names for n in ns)
        assert rolled >= 8 and max(fds) <= 5, (rolled, fds)
        probe.close()
        assert probe.answers > 0 and not probe.misses, (probe.answers, probe.misses[:3])
        gate.send_signal(signal.SIGUSR2)  # the disk answers again
        last = {}

        def settled():
            st, g = status_within(agent, 5)["kafka"], gate_state()
            last.update(st=st, gate=g, first=os.path.exists(first))
            return (st["spool_unsynced_segments"] == 0 and st["spool_pending"] == 0 and
                    g["held"] == 0 and not last["first"])
        try:
            wait_until(settled, timeout=60, interval=0.5,
                       what="the held syncs done, the dropped segment gone, the spool sent")
        except AssertionError:
            print(last)
            raise
        st = last["st"]
        recs = [r for t in AGENT_TOPICS for r in topic_records(mock, t)]
        boots = {r["boot_id"] for r in recs if r.get("activity", {}).get("path") == marker}
        seqs = {r["seq"] for r in recs if r.get("boot_id") in boots}
        missing = set(range(1, max(seqs) + 1)) - seqs
        assert len(exposure_fps(recs, pod.key)) == len(secrets)
        for k in ("spool_shed_anomaly", "spool_lost_anomaly", "spool_write_errors",
                  "spool_corrupt", "dropped"):
            assert st[k] == 0, (k, st)
        # only what the full spool shed can be missing (some of it may have
        # been on Kafka already when shed)
        assert len(missing) <= st["spool_shed_activity"] + st["spool_lost_activity"], (
            len(missing), st)
        assert agent.proc.poll() is None
        print("  %d status answers, none late; %d syncs held; %d segments, at most %d spool "
              "descriptors; %d records, %d shed, %d missing" % (
                  probe.answers, last["gate"]["held_total"], rolled, max(fds), len(seqs),
                  st["spool_shed_activity"], len(missing)))
    finally:
        if probe:
            probe.close()
        if filler and filler.poll() is None:
            stop(filler)
        gate.send_signal(signal.SIGUSR2)
        if agent:
            agent.stop()
        subprocess.run(["umount", "-l", spool])
        try:
            gate.wait(timeout=10)
        except subprocess.TimeoutExpired:
            gate.kill()
            gate.wait()
        pod.remove()
        mock.stop()


def segment_records(path):
    """(offset, payload) of each record in a spool segment file."""
    import struct
    data = open(path, "rb").read()
    out, off = [], 0
    while off + 16 <= len(data):
        magic, length, _, tl, _ = struct.unpack_from("<IIIHH", data, off)
        assert magic == 0x5253484e, "unexpected bytes at %d" % off
        out.append((off, data[off + 16 + tl:off + 16 + tl + length]))
        off += 16 + tl + length
    return out


def decode_payloads(payloads):
    import struct
    from nhtest import BUILD
    stream = b"".join(struct.pack(">i", len(p)) + p for p in payloads)
    d = subprocess.run([os.path.join(BUILD, "tests", "wire_produce"), "--decode"],
                       input=stream, capture_output=True, timeout=60, check=True)
    return [json.loads(line) for line in d.stdout.decode().splitlines() if line.strip()]


def rid(r):
    return (r["node"], r["boot_id"], r["seq"])


@suite.test
def corrupt_record_mid_segment_costs_only_itself(s):
    """Records spooled while the broker is down; with the agent stopped, the
    header of one in the middle of the segment is overwritten. The next
    agent delivers every other record, before and after it, and counts one
    damaged record."""
    mock = agent_mock()
    spool = os.path.join(s.tmp, "spool-bad-" + uuid.uuid4().hex[:6])
    pod = SaPod("faults", "corrupt", "corrupt-0")
    agent = None
    try:
        mock.command("down")
        agent = kafka_agent(s, mock, spool, pod, "--spool-sync", "always")
        expose(pod, 12, "bad")
        wait_until(lambda: agent.status()["kafka"]["spool_pending"] >= 12, what="spooled")
        agent.stop()
        segs = sorted(glob.glob(os.path.join(spool, "anomaly", "*.seg")))
        recs = segment_records(segs[-1])
        assert len(recs) >= 12, len(recs)
        decoded = decode_payloads([p for _, p in recs])
        mid = len(recs) // 2
        victim = rid(decoded[mid])
        with open(segs[-1], "r+b") as f:
            f.seek(recs[mid][0])
            f.write(b"\xde\xad\xbe\xef\xff\xff\x0f\x00")  # magic and length
        mock.command("up")
        agent = kafka_agent(s, mock, spool, pod)
        wait_until(lambda: agent.status()["kafka"]["spool_pending"] == 0, timeout=60,
                   what="spool drained")
        assert agent.status()["kafka"]["spool_corrupt"] == 1
        want = {rid(r) for r in decoded} - {victim}
        got = wait_until(lambda: (lambda g: g if want <= g else None)(
            {rid(r) for r in topic_records(mock, "nhiscope.anomalies")}),
            timeout=30, what="every other record on Kafka")
        assert victim not in got
    finally:
        if agent:
            agent.stop()
        pod.remove()
        mock.stop()


@suite.test
def topic_briefly_unauthorised_loses_nothing(s):
    """The broker refuses produce requests with TOPIC_AUTHORIZATION_FAILED
    for a while (an ACL being fixed): the records stay spooled, are sent
    again, and every one arrives; nothing is counted lost."""
    mock = agent_mock()
    spool = os.path.join(s.tmp, "spool-acl-" + uuid.uuid4().hex[:6])
    pod = SaPod("faults", "acl", "acl-0")
    agent = kafka_agent(s, mock, spool, pod)
    try:
        # the agent's first heartbeat is through: the producer is connected
        wait_until(lambda: agent.status()["kafka"]["delivered"] >= 1, timeout=30,
                   what="a first delivery")
        mock.command("produce-errors 4 29")
        expose(pod, 10, "acl")
        wait_until(lambda: len(exposure_fps(topic_records(mock, "nhiscope.anomalies"),
                                            pod.key)) >= 10,
                   timeout=60, interval=1, what="all 10 findings on Kafka")
        st = agent.status()["kafka"]
        assert st["failed"] >= 1, st  # the refusals did happen
        assert st["dropped"] == 0, st
        assert "uthoriz" in agent.read_log(), "no refusal logged"
    finally:
        agent.stop()
        pod.remove()
        mock.stop()



@suite.test
def topic_refused_past_message_timeout_is_reported_lost(s):
    """The activity topic refused for longer than message.timeout.ms (2 s
    here) while the anomaly topic takes records: the records of that window
    are dropped and reported as loss (kafka_timeout), exactly as many as the
    sequence numbers missing on Kafka; once the topic is back new records
    flow again (a marker arrives). The refusal is the broker's metadata
    answering UNKNOWN_TOPIC_OR_PART (a topic deleted and being created
    again). The mock's TOPIC_AUTHORIZATION_FAILED in metadata keeps the
    partitions, unlike a broker, and reaches the producer only as
    timeouts, which are retried without loss; the authorisation refusal is
    in the produce-error test above."""
    mock = agent_mock()
    spool = os.path.join(s.tmp, "spool-gone-" + uuid.uuid4().hex[:6])
    pod = SaPod("faults", "gone", "gone-0")
    agent = kafka_agent(s, mock, spool, pod, "--kafka-activity", "-X", "message.timeout.ms=2000",
                        "-X", "topic.metadata.refresh.interval.ms=1000")
    try:
        def activity(tag):
            path = "/nonexistent-%s-%s" % (tag, uuid.uuid4().hex[:8])
            run_alive(pod, ["sh", "-c", "cat %s 2>/dev/null; true" % path])
            return path

        def on_kafka(paths):
            return [r for r in topic_records(mock, "nhiscope.activity")
                    if r.get("kind") == "activity" and r["activity"].get("path") in paths]

        def arrives(tag, what):
            """Activity records made until one of them is on Kafka."""
            made = []
            return wait_until(lambda: made.append(activity(tag)) or on_kafka(made),
                              timeout=90, interval=1, what=what)[0]

        # the topic is known to the producer before it goes
        first = arrives("first", "a first activity record on Kafka")
        mock.command("topic-error nhiscope.activity 3")

        def dropped():
            activity("gone")
            return agent.status()["kafka"]["dropped"] > 0
        wait_until(dropped, timeout=60, interval=0.5, what="records dropped after the timeout")
        assert "message.timeout.ms" in agent.read_log()
        mock.command("topic-error nhiscope.activity 0")
        # the producer learns the topic is back at its next metadata
        # refresh: a record made before that is still refused (and lost)
        try:
            arrives("after", "activity records again after the refusal")
        except AssertionError:
            print(agent.status()["kafka"])
            raise

        last = {}

        def accounted():
            st = agent.status()["kafka"]
            recs = [r for t in AGENT_TOPICS for r in topic_records(mock, t)
                    if r.get("boot_id") == first["boot_id"]]
            seqs = {r["seq"] for r in recs}
            missing = set(range(1, max(seqs) + 1)) - seqs
            c = loss_counts(recs)
            last.update(st=st, counts=c, missing=sorted(missing), seqs=len(seqs), n=len(recs))
            if st["spool_pending"] == 0 and c.get("kafka_timeout") == st["dropped"] == \
                    len(missing):
                return c, st
            return None
        try:
            c, st = wait_until(accounted, timeout=60, interval=1,
                               what="every record missing on Kafka reported as lost")
        except AssertionError:
            print(last)
            raise
        assert st["dropped"] > 0, st
        assert c["activity"] == st["dropped"] and c.get("anomaly", 0) == 0, c
        assert c.get("kafka_refused", 0) == 0, c
        assert agent.proc.poll() is None
    finally:
        agent.stop()
        pod.remove()
        mock.stop()


if __name__ == "__main__":
    try:
        sys.exit(suite.run(sys.argv))
    finally:
        cleanup()
