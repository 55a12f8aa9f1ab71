# SPDX-License-Identifier: Apache-2.0
"""nhiscope-collector end to end, no BPF needed: a librdkafka mock cluster
(the real Kafka protocol on loopback), wire records produced by a helper,
the collector writing ECS JSON lines and syslog to a real rsyslog that the
test starts, kcat as an independent client. Faults: a broker down and up,
the collector killed with SIGKILL between writing and committing, garbage
on the topic, an HTTP sink that fails before it accepts."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nhtest import (BUILD, Mock, QuietHandler, Suite, free_port, serve_http,  # noqa: E402
                    wait_until)

suite = Suite("collector")
COLLECTOR = os.path.join(BUILD, "nhiscope-collector")
PRODUCE = os.path.join(BUILD, "tests", "wire_produce")
TOPIC = "nhiscope.anomalies"
DLQ = "nhiscope.deadletter"
# The mock cluster's group coordinator: a member killed with SIGKILL is
# dropped after its session timeout, so keep that short; and reconnect
# to a broker that is back within a second.
FAST = ("-X", "session.timeout.ms=3000", "-X", "heartbeat.interval.ms=500",
        "-X", "reconnect.backoff.max.ms=500")


class Rsyslog:
    """A real rsyslogd on loopback: imtcp in, one line per message out."""

    def __init__(self, tmp, port=None):
        self.dir = os.path.join(tmp, "rsyslog-%s" % uuid.uuid4().hex[:8])
        os.makedirs(os.path.join(self.dir, "work"))
        self.out = os.path.join(self.dir, "messages")
        self.pidfile = os.path.join(self.dir, "rsyslogd.pid")
        self.port = port or free_port()
        conf = os.path.join(self.dir, "rsyslog.conf")
        with open(conf, "w") as f:
            f.write("""global(workDirectory="%s" maxMessageSize="256k")
module(load="imtcp")
template(name="nh" type="string" string="%%HOSTNAME%% %%APP-NAME%% %%MSGID%% %%msg%%\\n")
ruleset(name="nh") {
    action(type="omfile" file="%s" template="nh")
}
input(type="imtcp" address="127.0.0.1" port="%d" ruleset="nh")
""" % (os.path.join(self.dir, "work"), self.out, self.port))
        self.log = open(os.path.join(self.dir, "rsyslogd.log"), "w")
        self.proc = subprocess.Popen(["rsyslogd", "-n", "-f", conf, "-i", self.pidfile],
                                     stdout=self.log, stderr=subprocess.STDOUT)

        def listening():
            assert self.proc.poll() is None, "rsyslogd exited: " + open(self.log.name).read()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_until(listening, timeout=15, what="rsyslogd to listen")
        self.address = "127.0.0.1:%d" % self.port

    def lines(self):
        try:
            with open(self.out) as f:
                return [line.rstrip("\n") for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Collector:
    started = []

    def __init__(self, tmp, mock, *args, group=None):
        self.log_path = os.path.join(tmp, "collector-%s.log" % uuid.uuid4().hex[:8])
        self.log = open(self.log_path, "w")
        group = group or "g-" + uuid.uuid4().hex[:8]
        self.proc = subprocess.Popen(
            [COLLECTOR, "--brokers", mock.bootstrap, "--group", group, *FAST, *args],
            stdout=subprocess.DEVNULL, stderr=self.log)
        Collector.started.append(self)

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def cleanup():
    for c in Collector.started:
        if c.proc.poll() is None:
            c.proc.kill()
            c.proc.wait()
    Collector.started.clear()


class Records:
    """Wire records of one fabricated pod on one node, as wire_produce JSON."""

    def __init__(self):
        self.node = "node-" + uuid.uuid4().hex[:6]
        self.boot = str(uuid.uuid4())
        self.pod_uid = str(uuid.uuid4())
        self.seq = 0

    def ident(self):
        return {"key": "k8s:sa/payments/api", "pod_uid": self.pod_uid,
                "pod_name": "api-7c9f8-x2k4q", "namespace": "payments", "service_account": "api",
                "container_id": uuid.uuid4().hex, "workload_kind": "Deployment",
                "workload_name": "api", "node": self.node}

    def record(self, kind, body):
        self.seq += 1
        return {"kind": kind, "node": self.node, "boot_id": self.boot, "seq": self.seq,
                "time_ns": time.time_ns(), "identity": self.ident(),
                "process": {"pid": 4000 + self.seq, "ppid": 1, "uid": 1000, "user": "app",
                            "comm": "curl", "exe": "/usr/bin/curl"},
                kind: body}

    def anomaly(self, value="169.254.169.254:80"):
        return self.record("anomaly", {"category": "egress", "severity": "high", "value": value,
                                       "technique_id": "T1552.005",
                                       "technique_name": "Cloud Instance Metadata API",
                                       "explanation": "first connection to this destination"})

    def credential_use(self):
        return self.record("credential_use", {
            "credential_kind": "sa_token",
            "credential": "/var/run/secrets/kubernetes.io/serviceaccount/token",
            "via": "open", "result": 3, "count": 1})

    def mixed(self, n):
        out = []
        for i in range(n):
            if i % 5 == 1:
                out.append(self.credential_use())
            elif i % 5 == 2:
                out.append(self.record("finding", {
                    "type": "secret_exposure", "secret_kind": "aws_access_key",
                    "fingerprint": "AKIA...MPLE#3f2a", "argument": "--key=[REDACTED:aws]",
                    "path": "/usr/bin/aws", "arg_index": 2}))
            elif i % 5 == 3:
                out.append(self.record("heartbeat", {"agent_version": "0.1.0",
                                                     "probes_attached": 14,
                                                     "counters": {"events": 10 * i}}))
            else:
                out.append(self.anomaly("10.0.%d.%d:443" % (i // 250, i % 250)))
        return out

    @staticmethod
    def id(r):
        return "%s/%s/%d" % (r["node"], r["boot_id"], r["seq"])


def produce(mock, records, topic=TOPIC, wait=True):
    data = "".join(json.dumps(r) + "\n" for r in records)
    p = subprocess.Popen([PRODUCE, "-b", mock.bootstrap, "-t", topic,
                          "-X", "reconnect.backoff.max.ms=500"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    p.stdin.write(data)
    p.stdin.close()
    if not wait:
        return p
    assert p.wait(timeout=60) == 0, p.stderr.read()
    return p


def ecs_lines(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def ecs_ids(path):
    return [d["event"]["id"] for d in ecs_lines(path)]


def syslog_docs(rs):
    """(hostname, app, msgid, ECS document) of each plain syslog line."""
    out = []
    for line in rs.lines():
        host, app, msgid, msg = line.split(" ", 3)
        out.append((host, app, msgid, json.loads(msg)))
    return out


def kcat_records(mock, topic):
    """Read the topic with kcat, independently of the collector, and
    unpack every value with the wire decoder."""
    raw = subprocess.run(["kcat", "-b", mock.bootstrap, "-C", "-t", topic, "-e", "-q",
                          "-f", "%R%s"], capture_output=True, timeout=30, check=True).stdout
    dec = subprocess.run([PRODUCE, "--decode"], input=raw, capture_output=True, timeout=30,
                         check=True).stdout.decode()
    return [json.loads(line) for line in dec.splitlines()]


def wait_ids(path, want, timeout=30):
    want = set(want)
    wait_until(lambda: want <= set(ecs_ids(path)), timeout=timeout,
               what="%d records in %s" % (len(want), os.path.basename(path)))


def exactly_once(ids, want):
    dups = sorted({i for i in ids if ids.count(i) > 1})
    assert not dups, "duplicated: %s" % dups[:5]
    missing = sorted(set(want) - set(ids))
    assert not missing, "missing: %s" % missing[:5]


@suite.test
def sinks_keep_identity(s):
    """Mixed records reach the ECS file and a real rsyslog with identity
    fields intact; kcat reads the topic on its own and the values decode."""
    mock = Mock(TOPIC + ":3", DLQ)
    rs = Rsyslog(s.tmp)
    out = os.path.join(s.tmp, "sinks.jsonl")
    col = None
    try:
        recs = Records()
        batch = recs.mixed(20)
        produce(mock, batch)
        col = Collector(s.tmp, mock, "--ecs-file", out, "--syslog", rs.address)
        want = [Records.id(r) for r in batch]
        wait_ids(out, want)
        wait_until(lambda: len(rs.lines()) >= 20, timeout=15, what="20 syslog messages")
        exactly_once(ecs_ids(out), want)

        by_id = {d["event"]["id"]: d for d in ecs_lines(out)}
        a = by_id[Records.id(batch[0])]
        assert a["event"]["kind"] == "alert" and a["event"]["severity"] == 73, a["event"]
        assert a["orchestrator"] == {"type": "kubernetes", "namespace": "payments",
                                     "resource": {"type": "pod", "name": "api-7c9f8-x2k4q",
                                                  "id": recs.pod_uid,
                                                  "parent": {"type": "Deployment"}}}, \
            a["orchestrator"]
        assert a["labels"]["nhiscope_identity"] == "k8s:sa/payments/api"
        assert a["nhiscope"]["identity"]["service_account"] == "api"
        assert a["nhiscope"]["identity"]["workload"] == {"kind": "Deployment", "name": "api"}
        assert a["host"]["name"] == recs.node
        assert a["process"]["pid"] == 4001 and a["process"]["executable"] == "/usr/bin/curl"
        assert a["user"] == {"id": "1000", "name": "app"}
        assert a["threat"]["technique"]["id"] == "T1552", a["threat"]
        assert a["threat"]["technique"]["subtechnique"]["id"] == "T1552.005", a["threat"]
        assert a["threat"]["tactic"] == {"id": "TA0006", "name": "Credential Access"}
        assert a["container"]["id"] == batch[0]["identity"]["container_id"]
        c = by_id[Records.id(batch[1])]
        assert c["nhiscope"]["credential"]["kind"] == "sa_token", c
        assert c["file"]["path"].endswith("serviceaccount/token")
        f = by_id[Records.id(batch[2])]
        assert f["nhiscope"]["finding"]["fingerprint"] == "AKIA...MPLE#3f2a", f

        docs = syslog_docs(rs)
        exactly_once([d["event"]["id"] for _, _, _, d in docs], want)
        for host, app, msgid, d in docs:
            assert host == recs.node and app == "nhiscope", (host, app)
            assert msgid == d["nhiscope"]["record"]["kind"]
            assert d["orchestrator"]["namespace"] == "payments"
            assert d["nhiscope"]["identity"]["key"] == "k8s:sa/payments/api"

        got = kcat_records(mock, TOPIC)
        assert sorted(Records.id(r) for r in got) == sorted(want), got[:2]
        for r in got:
            assert r["identity"]["key"] == "k8s:sa/payments/api"
            assert r["identity"]["pod_uid"] == recs.pod_uid
        assert col.stop() == 0
        assert "stopped" in col.read_log()
    finally:
        if col:
            col.stop()
        rs.stop()
        mock.stop()


@suite.test
def syslog_cef(s):
    """--syslog-format cef: one CEF:0 line per record, identity in cs1."""
    mock = Mock(TOPIC, DLQ)
    rs = Rsyslog(s.tmp)
    col = None
    try:
        recs = Records()
        batch = [recs.anomaly("/tmp/a=b|c"), recs.credential_use()]
        produce(mock, batch)
        col = Collector(s.tmp, mock, "--syslog", rs.address, "--syslog-format", "cef")
        wait_until(lambda: len(rs.lines()) >= 2, timeout=20, what="2 CEF messages")
        lines = rs.lines()
        assert len(lines) == 2, lines
        cef = [line.split(" ", 3)[3] for line in lines]
        assert all(c.startswith("CEF:0|nhiscope|nhiscope|") for c in cef), cef
        a = next(c for c in cef if "|anomaly:egress|" in c)
        assert "|8|" in a and "cs1Label=identity cs1=k8s:sa/payments/api" in a, a
        assert "cs6=/tmp/a\\=b|c" in a, a
        assert "externalId=" + Records.id(batch[0]) in a, a
        u = next(c for c in cef if "|credential_use:sa_token|" in c)
        assert "cs2Label=namespace cs2=payments" in u and "outcome=success" in u, u
    finally:
        if col:
            col.stop()
        rs.stop()
        mock.stop()


@suite.test
def broker_down_and_up(s):
    """The broker goes away for a few seconds while records are produced:
    afterwards every record is in both sinks exactly once."""
    mock = Mock(TOPIC + ":2", DLQ)
    rs = Rsyslog(s.tmp)
    out = os.path.join(s.tmp, "outage.jsonl")
    col = None
    try:
        recs = Records()
        first = recs.mixed(10)
        produce(mock, first)
        col = Collector(s.tmp, mock, "--ecs-file", out, "--syslog", rs.address,
                        "--commit-interval", "200")
        wait_ids(out, [Records.id(r) for r in first])
        # SIGHUP (log rotation) neither stops nor disturbs it
        col.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "SIGHUP: nothing to reload" in col.read_log(), what="SIGHUP logged")
        assert col.proc.poll() is None, col.read_log()
        mock.command("down")
        second = recs.mixed(15)
        p = produce(mock, second, wait=False)  # queued in the producer meanwhile
        time.sleep(4)  # the outage lasts a while: a lower bound, not a wait for something
        assert col.proc.poll() is None, col.read_log()
        mock.command("up")
        assert p.wait(timeout=60) == 0, p.stderr.read()
        want = [Records.id(r) for r in first + second]
        wait_ids(out, want, timeout=45)
        wait_until(lambda: len(rs.lines()) >= len(want), timeout=15, what="syslog catch-up")
        # Caught up already: each partition is consumed and written in
        # order, so a redelivery comes before its partition's last record,
        # and every record produced is in the file.
        exactly_once(ecs_ids(out), want)
        exactly_once([d["event"]["id"] for _, _, _, d in syslog_docs(rs)], want)
        assert col.stop() == 0
    finally:
        if col:
            col.stop()
        rs.stop()
        mock.stop()


@suite.test
def syslog_outage_holds_offsets(s):
    """The syslog receiver goes away: the collector retries instead of
    dropping, consumes nothing further meanwhile, and once a receiver is
    back every record reaches it; the file sink has each exactly once."""
    mock = Mock(TOPIC, DLQ)
    rs = Rsyslog(s.tmp)
    out = os.path.join(s.tmp, "syslog-outage.jsonl")
    col = rs2 = None
    try:
        recs = Records()
        first = recs.mixed(5)
        produce(mock, first)
        col = Collector(s.tmp, mock, "--ecs-file", out, "--syslog", rs.address,
                        "--commit-interval", "200")
        wait_ids(out, [Records.id(r) for r in first])
        wait_until(lambda: len(rs.lines()) >= 5, timeout=15, what="5 syslog messages")
        rs.stop()
        second = recs.mixed(10)
        produce(mock, second)
        # held back: at most the record being retried got past the file sink
        wait_until(lambda: "held back" in col.read_log(), timeout=15,
                   what="the collector to hold back")
        # A window for a wrong delivery to show: it can only make a slow
        # machine miss a bug, never fail a correct collector.
        time.sleep(2)
        assert len(ecs_ids(out)) <= 7, ecs_ids(out)
        rs2 = Rsyslog(s.tmp, port=rs.port)
        want = [Records.id(r) for r in first + second]
        wait_ids(out, want, timeout=30)
        later = [Records.id(r) for r in second]
        wait_until(lambda: set(later) <= {d["event"]["id"] for _, _, _, d in syslog_docs(rs2)},
                   timeout=20, what="the new receiver to get the held-back records")
        exactly_once(ecs_ids(out), want)
        assert col.stop() == 0
        assert "sinks accept records again" in col.read_log()
    finally:
        if col:
            col.stop()
        rs.stop()
        if rs2:
            rs2.stop()
        mock.stop()


@suite.test
def kill9_between_write_and_commit(s):
    """SIGKILL after five records were written and none committed (and a
    torn line): the restarted collector receives them again, and the file
    sink (which repaired and read back its own tail) holds every record
    exactly once. Syslog has no read-back: every record at least once."""
    mock = Mock(TOPIC, DLQ)
    rs = Rsyslog(s.tmp)
    out = os.path.join(s.tmp, "crash.jsonl")
    col = None
    try:
        recs = Records()
        batch = recs.mixed(12)
        want = [Records.id(r) for r in batch]
        produce(mock, batch)
        col = Collector(s.tmp, mock, "--ecs-file", out, "--syslog", rs.address,
                        "--commit-interval", "600000", "--test-crash-after-write", "5",
                        group="crash")
        assert col.proc.wait(timeout=30) == -signal.SIGKILL, col.read_log()
        written = ecs_ids(out)
        assert len(written) == 5, written
        col.stop()
        # and a sixth line torn by the crash: start-up cuts it
        with open(out, "a") as f:
            f.write('{"@timestamp":"2023-11-14T22:13:20Z","event":{"id":"torn')
        # uncommitted: the new member of the same group starts where the
        # group's committed offset is, before the first record
        col = Collector(s.tmp, mock, "--ecs-file", out, "--syslog", rs.address, group="crash")
        wait_until(lambda: "removing a torn last line" in col.read_log(), timeout=10,
                   what="the torn line to be cut")
        wait_ids(out, want, timeout=45)
        # Caught up already: one partition, consumed and written in order,
        # so a redelivery comes before the last record, which is in the file.
        exactly_once(ecs_ids(out), want)
        sys_ids = [d["event"]["id"] for _, _, _, d in syslog_docs(rs)]
        assert set(sys_ids) == set(want), sorted(set(want) - set(sys_ids))
        assert col.stop() == 0
        log = col.read_log()
        assert "5 records were already in the file" in log, log
    finally:
        if col:
            col.stop()
        rs.stop()
        mock.stop()


@suite.test
def garbage_to_dead_letter(s):
    """Bytes that are not a record go to the dead-letter topic with the
    reason and their origin in headers; consumption goes on."""
    mock = Mock(TOPIC, DLQ)
    out = os.path.join(s.tmp, "dlq.jsonl")
    port = free_port()
    col = None
    try:
        recs = Records()
        good1, good2 = recs.anomaly(), recs.credential_use()
        produce(mock, [good1, {"raw": "this is not protobuf"}, {"raw_hex": "1005"}, good2])
        col = Collector(s.tmp, mock, "--ecs-file", out, "--metrics", "127.0.0.1:%d" % port)
        wait_ids(out, [Records.id(good1), Records.id(good2)])
        res = subprocess.run(["kcat", "-b", mock.bootstrap, "-C", "-t", DLQ, "-e", "-q",
                              "-f", "%o\t%h\t%s\n"], capture_output=True, text=True,
                             timeout=30, check=True)
        rows = [line.split("\t") for line in res.stdout.splitlines() if line]
        assert len(rows) == 2, res.stdout
        h0 = dict(kv.split("=", 1) for kv in rows[0][1].split(","))
        assert h0["nhiscope.reason"] == "not a protobuf nhiscope.wire.Record", h0
        assert h0["nhiscope.source.topic"] == TOPIC and h0["nhiscope.source.offset"] == "1", h0
        assert rows[0][2] == "this is not protobuf", rows[0]
        h1 = dict(kv.split("=", 1) for kv in rows[1][1].split(","))
        assert h1["nhiscope.reason"] == "no record id", h1
        assert h1["nhiscope.source.offset"] == "2", h1
        exactly_once(ecs_ids(out), [Records.id(good1), Records.id(good2)])

        def metric(name):
            url = "http://127.0.0.1:%d/metrics" % port
            with urllib.request.urlopen(url, timeout=5) as r:
                body = r.read().decode()
            for line in body.splitlines():
                if line.startswith(name + " "):
                    return int(line.split()[1])
            return None
        wait_until(lambda: metric("nhiscope_collector_delivered_total") == 2, timeout=10,
                   what="delivered metric")
        assert metric("nhiscope_collector_dead_lettered_total") == 2
        assert metric("nhiscope_collector_consumed_total") == 4
        wait_until(lambda: metric("nhiscope_collector_lag") == 0, timeout=10, what="lag 0")
        assert col.stop() == 0
    finally:
        if col:
            col.stop()
        mock.stop()


class Hec(QuietHandler):
    """A Splunk HEC stand-in that refuses its first requests."""
    events = []
    auth = []
    refuse = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hec.auth.append(self.headers.get("Authorization"))
        if Hec.refuse > 0:
            Hec.refuse -= 1
            self.answer(503, {"text": "Server is busy", "code": 9})
            return
        for line in body.decode().splitlines():
            Hec.events.append(json.loads(line))
        self.answer(200, {"text": "Success", "code": 0})


@suite.test
def splunk_hec_retries(s):
    """Splunk HEC answering 503 twice: the batch is retried, then every
    record arrives once with the token in the header, never in the log."""
    mock = Mock(TOPIC, DLQ)
    server = serve_http(Hec)
    token = "tok-" + uuid.uuid4().hex
    token_file = os.path.join(s.tmp, "hec-token")
    with open(token_file, "w") as f:
        f.write(token + "\n")
    Hec.events, Hec.auth, Hec.refuse = [], [], 2
    col = None
    try:
        recs = Records()
        batch = recs.mixed(8)
        produce(mock, batch)
        col = Collector(s.tmp, mock, "--splunk-hec",
                        "http://127.0.0.1:%d/services/collector/event" % server.server_port,
                        "--splunk-token-file", token_file)
        want = [Records.id(r) for r in batch]
        wait_until(lambda: set(want) <= {e["event"]["event"]["id"] for e in Hec.events},
                   timeout=30, what="HEC events")
        exactly_once([e["event"]["event"]["id"] for e in Hec.events], want)
        assert all(a == "Splunk " + token for a in Hec.auth), Hec.auth
        assert len(Hec.auth) >= 3
        assert Hec.events[0]["sourcetype"] == "nhiscope:ecs"
        assert Hec.events[0]["host"] == recs.node
        assert col.stop() == 0
        log = col.read_log()
        assert "HTTP 503" in log, log
        assert token not in log
    finally:
        if col:
            col.stop()
        server.shutdown()
        mock.stop()


class Bulk(QuietHandler):
    """An Elasticsearch _bulk stand-in: the first answer has an item
    refused with 429, later ones see repeated ids as 409 conflicts."""
    docs = {}
    first = True

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode().splitlines()
        items = []
        for action, doc in zip(body[0::2], body[1::2]):
            meta = json.loads(action)["create"]
            if Bulk.first and not items:
                items.append({"create": {"_id": meta["_id"], "status": 429}})
                continue
            status = 409 if meta["_id"] in Bulk.docs else 201
            Bulk.docs.setdefault(meta["_id"], (meta["_index"], json.loads(doc)))
            items.append({"create": {"_id": meta["_id"], "status": status}})
        Bulk.first = False
        self.answer(200, {"errors": any(i["create"]["status"] >= 300 for i in items),
                          "items": items})


@suite.test
def elastic_bulk_retries(s):
    """Elastic _bulk with one item refused: the batch is sent again, the
    record id as _id makes the repeats harmless, every record is indexed."""
    mock = Mock(TOPIC, DLQ)
    server = serve_http(Bulk)
    Bulk.docs, Bulk.first = {}, True
    col = None
    try:
        recs = Records()
        batch = recs.mixed(6)
        produce(mock, batch)
        col = Collector(s.tmp, mock, "--elastic", "http://127.0.0.1:%d/" % server.server_port,
                        "--elastic-index", "nhiscope-test")
        want = {Records.id(r) for r in batch}
        wait_until(lambda: want <= set(Bulk.docs), timeout=30, what="documents indexed")
        for _id, (index, doc) in Bulk.docs.items():
            assert index == "nhiscope-test" and doc["event"]["id"] == _id, (index, doc)
        assert col.stop() == 0
        assert "an item failed" in col.read_log()
    finally:
        if col:
            col.stop()
        server.shutdown()
        mock.stop()


def run(argv):
    try:
        return suite.run(argv)
    finally:
        cleanup()


@suite.test
def sigterm_with_the_broker_gone_still_stops(s):
    """Leaving the group needs the broker; a stopping collector must not
    wait for it forever."""
    mock = Mock(TOPIC, DLQ)
    out = os.path.join(s.tmp, "gone.jsonl")
    col = None
    try:
        recs = Records()
        batch = recs.mixed(3)
        produce(mock, batch)
        # default group timeouts (no FAST): leaving would wait out the session
        log = open(os.path.join(s.tmp, "gone.log"), "w")
        proc = subprocess.Popen([COLLECTOR, "--brokers", mock.bootstrap, "--group",
                                 "g-" + uuid.uuid4().hex[:8], "--ecs-file", out],
                                stdout=subprocess.DEVNULL, stderr=log)
        col = proc
        wait_ids(out, [Records.id(r) for r in batch])
        mock.command("down")
        time.sleep(1)  # the broker gone for a while before the stop: a lower bound
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            rc = None
        took = time.monotonic() - t0
        assert rc == 0 and took < 15, (rc, took, open(log.name).read())
        col = None
    finally:
        if col:
            col.kill()
            col.wait()
        mock.stop()


if __name__ == "__main__":
    sys.exit(run(sys.argv))
