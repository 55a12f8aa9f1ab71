# SPDX-License-Identifier: Apache-2.0
"""/metrics, /healthz and /readyz of the real agent: the exposition format
parsed strictly, every number checked against `nhiscope status` taken just
before and just after the scrape (the same source in the agent), no token
or secret in a scrape, the HTTP surface, liveness when the loop is stuck,
and a port in use as a clear start-up error."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nhtest import (AGENT, CLI, ROOT, TOKEN_PATH, WORKLOAD, Agent, Pod, Suite, free_port,  # noqa: E402
                    http_request, keeps_connection, run_alive, sa_token, slow_clients_are_cut,
                    wait_until)

suite = Suite("metrics")
DOC = os.path.join(ROOT, "docs", "metrics.md")
NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
# Labels come from fixed vocabularies only: never an identity or a path.
LABELS = {"kind", "probe", "tracepoint", "version", "state", "category", "severity", "class", "le",
          "cause"}
LEARN = ("--learn-window", "2000", "--quiet-period", "1500", "--dedup-window", "500")


request = http_request


def parse_sample(line):
    """name{l="v",...} value -> (name, ((l, v), ...), value); values unescaped."""
    i = 0
    while i < len(line) and line[i] not in "{ ":
        i += 1
    name, labels = line[:i], []
    assert NAME.match(name), line
    if line[i] == "{":
        i += 1
        while line[i] != "}":
            eq = line.index("=", i)
            lname = line[i:eq]
            assert LABEL.match(lname) and not lname.startswith("__"), line
            assert lname in LABELS, "unexpected label %r: %s" % (lname, line)
            assert line[eq + 1] == '"', line
            i, val = eq + 2, []
            while line[i] != '"':
                if line[i] == "\\":
                    esc = line[i + 1]
                    assert esc in '\\"n', "bad escape: " + line
                    val.append("\n" if esc == "n" else esc)
                    i += 2
                else:
                    val.append(line[i])
                    i += 1
            labels.append((lname, "".join(val)))
            i += 1
            if line[i] == ",":
                i += 1
            else:
                assert line[i] == "}", line
        i += 1
    assert line[i] == " " and " " not in line[i + 1:], line
    return name, tuple(sorted(labels)), float(line[i + 1:])


def parse_exposition(text):
    """Strictly: every family has HELP then TYPE before its samples, which
    follow together; names valid and prefixed; counters, and only
    counters, end in _total; no series twice. Returns (types, samples)."""
    assert text.endswith("\n"), "no final newline"
    types, helps, samples, current, seen = {}, {}, {}, None, set()
    for line in text[:-1].split("\n"):
        assert line, "an empty line"
        if line.startswith("# HELP "):
            name, _, help_ = line[7:].partition(" ")
            assert NAME.match(name) and name not in helps, line
            assert help_.strip(), "empty HELP: " + line
            helps[name], current = help_, name
        elif line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            assert name == current and name not in types, "TYPE not after its HELP: " + line
            assert typ in ("counter", "gauge", "histogram"), line
            types[name] = typ
        else:
            assert not line.startswith("#"), "unexpected comment: " + line
            name, labels, value = parse_sample(line)
            family = name
            if types.get(current) == "histogram":
                assert name in (current + "_bucket", current + "_sum", current + "_count"), line
                family = current
            assert family == current and family in types, "sample without HELP/TYPE: " + line
            assert (name, labels) not in samples, "series twice: " + line
            samples[(name, labels)] = value
            seen.add(family)
    for name, typ in types.items():
        assert name.startswith("nhiscope_"), name
        if typ == "histogram":
            # cumulative buckets in increasing le, the last +Inf equal to _count
            buckets = sorted(((float(dict(l)["le"]), v) for (n, l), v in samples.items()
                              if n == name + "_bucket"), key=lambda b: b[0])
            assert buckets and buckets[-1][0] == float("inf"), buckets
            assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), buckets
            assert buckets[-1][1] == samples[(name + "_count", ())], name
            continue
        assert (typ == "counter") == name.endswith("_total"), name
        assert name in seen, "family without samples: " + name
    assert set(helps) == set(types), set(helps) ^ set(types)
    return types, samples


def scrape(port, host="127.0.0.1"):
    code, headers, body = request(host, port, "/metrics")
    assert code == 200, (code, body)
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers
    return body


def expected(st):
    """What each number of `nhiscope status` says the scrape must hold:
    {key: value}, key a series (name, labels) or ("sum", name) for a
    status total that the metric splits by label."""
    e = {}

    def one(name, value, **labels):
        e[(name, tuple(sorted(labels.items())))] = float(value)

    for k, v in st["kinds"].items():
        one("nhiscope_events_received_total", v["received"], kind=k)
        one("nhiscope_events_observed_total", v["observed"], kind=k)
        one("nhiscope_kernel_events_emitted_total", v["emitted"], kind=k)
        one("nhiscope_kernel_events_deduplicated_total", v["deduplicated"], kind=k)
        one("nhiscope_kernel_events_lost_total", v["lost"], kind=k)
    e[("sum", "nhiscope_events_received_total")] = st["received"]
    e[("sum", "nhiscope_kernel_events_deduplicated_total")] = st["deduplicated"]
    e[("sum", "nhiscope_kernel_events_lost_total")] = st["lost"]
    for p in st["probes"]:
        one("nhiscope_probe_attached", int(p["attached"]), probe=p["program"],
            tracepoint=p["tracepoint"])
    e[("sum", "nhiscope_probe_attached")] = st["probes_attached"]
    one("nhiscope_build_info", 1, version=st["version"])
    one("nhiscope_decode_errors_total", st["decode_errors"])
    one("nhiscope_dedup_flush_errors_total", st["flush_errors"])
    one("nhiscope_dedup_entries", st["dedup"]["entries"])
    one("nhiscope_dedup_entries_max", st["dedup"]["max_entries"])
    one("nhiscope_dedup_window_seconds", st["dedup"]["window_ms"] / 1000)
    one("nhiscope_ringbuf_bytes", st["ringbuf_bytes"])
    one("nhiscope_processes", st["processes"])
    one("nhiscope_cgroups_cached", st["cgroups_cached"])
    one("nhiscope_identities", st["identities"]["count"])
    one("nhiscope_subscribers", st["subscribers"])
    one("nhiscope_subscriber_dropped_total", st["subscriber_drops"])
    c = st["credentials"]
    one("nhiscope_credentials", c["known"])
    one("nhiscope_credentials_reused", c["reused"])
    one("nhiscope_sa_token_reads_total", c["sa_tokens_read"])
    one("nhiscope_sa_token_rotations_total", c["sa_token_rotations"])
    one("nhiscope_sa_token_failures_total", c["sa_token_failures"])
    one("nhiscope_sa_tokens_verified_total", c["sa_tokens_verified"])
    one("nhiscope_sa_tokens_rejected_total", c["sa_tokens_rejected"])
    one("nhiscope_sa_token_keys", c["sa_token_keys"])
    for k in ("credential_use", "credential_reuse", "secret_exposure", "human_use"):
        one("nhiscope_findings_total", c["findings"][k], kind=k)
    e[("sum", "nhiscope_anomalies_total", "findings")] = c["findings"]["anomaly"]
    if "pod_records" in c:
        one("nhiscope_pod_records", c["pod_records"])
    b = st["baselines"]
    one("nhiscope_profiles", b["profiles"] - b["stable"], state="learning")
    one("nhiscope_profiles", b["stable"], state="stable")
    one("nhiscope_profile_bytes", b["bytes"])
    e[("sum", "nhiscope_anomalies_total")] = b["anomalies"]
    one("nhiscope_pinned_total", b["pinned_in_kernel"])
    one("nhiscope_pin_errors_total", b["pin_errors"])
    one("nhiscope_profile_observations_dropped_total", b["dropped"])
    for k in ("loaded", "corrupt", "saved"):
        if "snapshots_" + k in b:
            one("nhiscope_snapshots_%s_total" % k, b["snapshots_" + k])
    if "kafka" in st:
        k = st["kafka"]
        one("nhiscope_kafka_broker_up", int(k["broker_up"]))
        one("nhiscope_kafka_produced_total", k["produced"])
        one("nhiscope_kafka_delivered_total", k["delivered"])
        one("nhiscope_kafka_delivery_latency_seconds_count", k["delivery_latency_us"]["count"])
        one("nhiscope_kafka_delivery_failures_total", k["failed"])
        one("nhiscope_kafka_queue_full_total", k["queue_full"])
        one("nhiscope_kafka_queued", k["queued"])
        one("nhiscope_kafka_send_errors_total", k["errors"])
        e[("sum", "nhiscope_kafka_dropped_total")] = k["dropped"]
        e[("sum", "nhiscope_spool_records")] = k["spool_pending"]
        e[("sum", "nhiscope_spool_bytes")] = k["spool_bytes"]
        one("nhiscope_spool_shed_total", k["spool_shed_anomaly"], **{"class": "anomaly"})
        one("nhiscope_spool_shed_total", k["spool_shed_activity"], **{"class": "activity"})
        one("nhiscope_spool_unsynced_segments", k["spool_unsynced_segments"])
    return e


def metric(samples, key):
    if key[0] == "sum":
        vals = [v for (n, _), v in samples.items() if n == key[1]]
        assert vals, "no series of " + key[1]
        return sum(vals)
    assert key in samples, "missing series %s%s" % key
    return samples[key]


def is_counter(key):
    return (key[1] if key[0] == "sum" else key[0]).endswith(("_total", "_count"))


def check_against_status(agent, port, t0, quiet, host="127.0.0.1"):
    """status, scrape, status. Counters must lie between the two status
    values every time. Gauges must equal both once things are quiet; they
    can move between the three reads, so that is retried until a round is
    still (a wrong source never is). While a workload runs, gauges are
    only required to be there. Returns the last scrape."""
    result = {}

    def round_():
        before = expected(agent.status())
        text = scrape(port, host)
        after = expected(agent.status())
        types, samples = parse_exposition(text)
        assert set(before) == set(after), set(before) ^ set(after)
        moved = []
        for key in before:
            m, lo, hi = metric(samples, key), before[key], after[key]
            if is_counter(key):
                assert lo <= m <= hi, "%s: status %s, metric %s, status %s" % (key, lo, m, hi)
            elif not lo == hi == m:
                moved.append((key, lo, m, hi))
        start = samples[("nhiscope_start_time_seconds", ())]
        assert t0 - 0.001 <= start <= time.time(), (t0, start)
        result.update(text=text, samples=samples, types=types, moved=moved)
        return not moved or not quiet

    try:
        wait_until(round_, timeout=30, interval=0.2, what="a still round")
    except AssertionError:
        raise AssertionError("gauges never matched status (status, metric, status): %s" %
                             result.get("moved"))
    return result


def profile_state(agent, key):
    r = subprocess.run([CLI, "-s", agent.sock, "profiles", "-o", "json"], capture_output=True,
                       text=True)
    for p in json.loads(r.stdout)["profiles"] if r.returncode == 0 else []:
        if p["identity"] == key:
            return p["state"]
    return None


def sa_pod(under, namespace, name, pod_name):
    pod = Pod(under=under)
    pod.token = sa_token(namespace, name, pod_name, pod.uid)
    pod.key = "k8s:sa/%s/%s" % (namespace, name)
    return pod


def no_secret_in(text, secrets):
    for s in secrets:
        assert s not in text, "a secret in the scrape"


@suite.test
def metrics_match_status_through_a_workload(s):
    under = "nh-metrics-%d-%s" % (os.getpid(), uuid.uuid4().hex[:6])
    pa = sa_pod(under, "shop", "cart", "cart-5d8f7b9c4-q2w3e")
    pb = sa_pod(under, "shop", "billing", "billing-0")
    port = free_port()
    go = os.path.join(s.tmp, "go-" + uuid.uuid4().hex[:6])
    pgdir = os.path.join(s.tmp, "pg-" + uuid.uuid4().hex[:6])
    os.makedirs(pgdir)
    pgpass = os.path.join(pgdir, ".pgpass")
    with open(pgpass, "w") as f:
        f.write("db:5432:*:app:not-a-real-password\n")
    github = "ghp_" + uuid.uuid4().hex[:32] + "AbCd"
    password = "pw-" + uuid.uuid4().hex
    secrets = [github, password, "not-a-real-password"]
    for pod in (pa, pb):
        header, payload, signature = pod.token.split(".")
        secrets += [pod.token, payload, signature]
    t0 = time.time()
    agent = Agent(s.tmp, "--scope-cgroup", "/" + under, "--metrics-listen",
                  "127.0.0.1:%d" % port, *LEARN)
    scrapes = []
    w = None
    try:
        # The endpoints.
        code, _, body = request("127.0.0.1", port, "/healthz")
        assert (code, body) == (200, "ok\n"), (code, body)
        code, _, body = request("127.0.0.1", port, "/readyz")
        assert (code, body) == (200, "ok\n"), (code, body)
        code, _, body = request("127.0.0.1", port, "/nope")
        assert code == 404, (code, body)
        code, _, body = request("127.0.0.1", port, "/metricsx")
        assert code == 404, (code, body)
        code, headers, body = request("127.0.0.1", port, "/metrics", method="POST")
        assert code == 405 and "GET" in headers.get("Allow", ""), (code, headers)
        code, headers, body = request("127.0.0.1", port, "/metrics", method="HEAD")
        assert code == 200 and body == "" and int(headers["Content-Length"]) > 1000, headers

        # During a run: the pod's workload opened a file over and over and
        # waits, alive, for the go file.
        w = pa.popen(["sh", "-c", 'cat %s >/dev/null; cat %s >/dev/null; '
                      '/bin/true --header %s --password=%s; exec "$@"' %
                      (TOKEN_PATH, pgpass, github, password),
                      "sh", WORKLOAD, "open-loop", "/etc/hostname", "3000", "wait", go],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: agent.status()["kinds"]["open"]["received"] > 0, what="opens")
        r = check_against_status(agent, port, t0, quiet=False)
        scrapes.append(r["text"])
        assert r["samples"][("nhiscope_processes", ())] > 0
        open(go, "w").close()
        assert w.wait(timeout=60) == 0
        run_alive(pb, ["cat", pgpass])
        wait_until(lambda: agent.status()["credentials"]["findings"]["credential_reuse"] >= 1,
                   what="credential reuse")

        # Learned, then something new: an anomaly.
        wait_until(lambda: profile_state(agent, pa.key) == "stable", timeout=30,
                   interval=0.2, what="a stable profile")
        run_alive(pa, ["/usr/bin/id"])
        wait_until(lambda: agent.status()["baselines"]["anomalies"] >= 1, what="an anomaly")

        # Quiet: every gauge equal, every counter in between.
        r = check_against_status(agent, port, t0, quiet=True)
        scrapes.append(r["text"])
        m = r["samples"]

        def get(name, **labels):
            return m[(name, tuple(sorted(labels.items())))]
        assert get("nhiscope_kernel_events_deduplicated_total", kind="open") > 0
        assert (get("nhiscope_events_observed_total", kind="open") >
                get("nhiscope_events_received_total", kind="open"))
        assert get("nhiscope_events_received_total", kind="summary") > 0
        for k in ("credential_use", "credential_reuse", "secret_exposure"):
            assert get("nhiscope_findings_total", kind=k) >= 1, k
        assert sum(v for (n, l), v in m.items() if n == "nhiscope_anomalies_total" and
                   ("category", "exec") in l) >= 1
        assert get("nhiscope_profiles", state="stable") >= 1
        assert get("nhiscope_identities") >= 2
        probes = [v for (n, _), v in m.items() if n == "nhiscope_probe_attached"]
        assert len(probes) > 20 and all(v == 1 for v in probes), probes
        assert not [n for (n, _) in m if n.startswith("nhiscope_kafka_")]

        # Every metric is documented.
        with open(DOC) as f:
            doc = f.read()
        missing = [n for n in r["types"] if "`%s`" % n not in doc]
        assert not missing, "not in docs/metrics.md: %s" % missing
    finally:
        if w and w.poll() is None:
            w.kill()
            w.wait()
        agent.stop()
        pa.remove()
        pb.remove()
    for text in scrapes:
        no_secret_in(text, secrets)
    no_secret_in(agent.read_log(), secrets)


@suite.test
def healthz_fails_while_the_loop_is_stuck(s):
    """Answered from the event loop itself: a stopped loop answers nothing."""
    port = free_port()
    agent = Agent(s.tmp, "--metrics-listen", "127.0.0.1:%d" % port)
    try:
        assert request("127.0.0.1", port, "/healthz")[0] == 200
        agent.proc.send_signal(signal.SIGSTOP)
        try:
            try:
                code = request("127.0.0.1", port, "/healthz", timeout=2)[0]
            except (socket.timeout, TimeoutError):
                code = None
            assert code is None, "a stopped agent answered %s" % code
        finally:
            agent.proc.send_signal(signal.SIGCONT)
        assert request("127.0.0.1", port, "/healthz")[0] == 200
    finally:
        assert agent.stop() == 0


@suite.test
def ipv6_listener_and_readyz_with_kafka(s):
    """[::1]:PORT, and with Kafka configured the producer is part of
    readiness and its numbers are metrics like the rest."""
    import test_kafka
    # Only its mock cluster is used: its suite's directory is not needed.
    shutil.rmtree(test_kafka.suite.tmp, ignore_errors=True)
    mock = test_kafka.Mock()
    port = free_port("::1")
    spool = os.path.join(s.tmp, "spool-" + uuid.uuid4().hex[:6])
    under = "nh-metrics-k-%d-%s" % (os.getpid(), uuid.uuid4().hex[:6])
    pod = sa_pod(under, "kafka", "metrics", "metrics-0")
    t0 = time.time()
    agent = Agent(s.tmp, "--scope-cgroup", "/" + under, "--metrics-listen", "[::1]:%d" % port,
                  "--kafka-brokers", mock.bootstrap, "--spool-dir", spool)
    try:
        code, _, body = request("::1", port, "/readyz")
        assert (code, body) == (200, "ok\n"), (code, body)
        run_alive(pod, ["cat", TOKEN_PATH])
        wait_until(lambda: agent.status()["kafka"]["delivered"] >= 1, timeout=60,
                   what="a delivery")

        m = check_against_status(agent, port, t0, quiet=True, host="::1")["samples"]
        assert m[("nhiscope_kafka_delivered_total", ())] >= 1
        assert m[("nhiscope_kafka_broker_up", ())] == 1
        for c in ("anomaly", "activity"):
            assert ("nhiscope_spool_records", (("class", c),)) in m
        assert m[("nhiscope_spool_bytes_max", ())] > 0
    finally:
        agent.stop()
        pod.remove()
        mock.stop()


@suite.test
def port_in_use_and_bad_address_are_start_up_errors(s):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        addr = "127.0.0.1:%d" % busy.getsockname()[1]
        r = subprocess.run([AGENT, "-s", os.path.join(s.tmp, "busy.sock"), "--profile-dir", "",
                            "--metrics-listen", addr], capture_output=True, text=True, timeout=60)
        assert r.returncode == 1, (r.returncode, r.stderr)
        assert addr in r.stderr and "in use" in r.stderr, r.stderr
        assert r.stderr.count("\n") == 1, "one line: %r" % r.stderr
    for bad in ("127.0.0.1", "localhost:9464", "127.0.0.1:0", "127.0.0.1:70000", "[::1:9464",
                "::1:9464", "127.0.0.1:94x"):
        r = subprocess.run([AGENT, "-s", os.path.join(s.tmp, "bad.sock"), "--profile-dir", "",
                            "--metrics-listen", bad], capture_output=True, text=True, timeout=60)
        assert r.returncode == 1 and '"%s"' % bad in r.stderr, (bad, r.returncode, r.stderr)
        assert "metrics.listen" in r.stderr, r.stderr


@suite.test
def slow_clients_cannot_starve_healthz(s):
    """Many connections from one client that send a header byte now and then
    (idle timeouts never fire): the client gets a few slots, each is cut
    after its deadline, and /healthz from elsewhere keeps answering."""
    port = free_port()
    agent = Agent(s.tmp, "--metrics-listen", "127.0.0.1:%d" % port)
    try:
        keeps_connection(port, ("/healthz", "/readyz", "/metrics", "/healthz"))
        slow_clients_are_cut(port, 20)
        assert agent.proc.poll() is None
    finally:
        agent.stop()


if __name__ == "__main__":
    sys.exit(suite.run(sys.argv))
