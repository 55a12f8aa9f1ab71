#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Kafka pipeline benchmark, run by `make bench` (tests/bench/run) as root.

1. Event-to-acknowledged-produce latency of the agent. A librdkafka mock
   cluster on loopback, nhiscope-agent with --kafka-brokers and
   --kafka-activity (every event is a record), scoped to a cgroup of its
   own so only the workload's events are streamed. The workload opens
   files it has never opened before (each one a first-seen object, so an
   event and a record each) at fixed rates. The latency is the agent's own
   measurement (status: kafka.delivery_latency_us): from the kernel
   event's timestamp to the delivery report of its record (acks=all), with
   two status snapshots around each rate so that start-up is left out.
   A few librdkafka/agent settings are varied at one rate to show what
   the latency is made of.

2. Collector throughput. A topic pre-filled with N realistic wire records
   (tests/helpers/wire_produce), nhiscope-collector with only --ecs-file
   to a file on tmpfs; records/s and records per CPU-second of the
   collector (utime+stime) from the first record delivered to the last
   (its /metrics `delivered` counter), with the smallest dedup window and
   with the default one.

Writes OUT/kafka.json for tests/bench/report.py. Knobs (environment):
  BENCH_KAFKA_RATES [100 1000 10000]  BENCH_KAFKA_SECONDS [10]
  BENCH_KAFKA_ROUNDS [3] (each rate this many times; the quantiles pool them)
  BENCH_KAFKA_RECORDS [300000]  BENCH_KAFKA_RUNS [3] (collector runs per configuration)
  BENCH_KAFKA_VARIANTS [1] (0: default agent settings only)
  BENCH_KAFKA_PARTS [latency collector]
  BENCH_BASE_COLLECTOR: another build's nhiscope-collector (tests/bench/run sets it
    with BENCH_BASE=<revision>), measured in the same rounds as this build's, one
    run of each configuration after the other, and compared in the log
"""
import argparse
import json
import math
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from nhtest import free_port  # noqa: E402
TOPICS = ("nhiscope.anomalies", "nhiscope.activity", "nhiscope.heartbeats",
          "nhiscope.deadletter")
BENCH_TOPIC = "nhiscope.bench"
# librdkafka's mock cluster keeps at most 5 MiB per partition and drops
# the oldest batches beyond that: the pre-filled topic gets a partition
# per this many records (about 1 KB each), so nothing is dropped.
RECORDS_PER_PARTITION = 2500
TICK = os.sysconf("SC_CLK_TCK")

# (name, extra agent flags, rates): the first runs every rate; the others
# change one setting at one rate, to show which ones the latency is made of.
LATENCY_CONFIGS = [
    ("default", [], None),
    ("linger.ms=0", ["-X", "linger.ms=0"], [1000]),
    ("linger.ms=0, --batch-ms 1", ["-X", "linger.ms=0", "--batch-ms", "1"], [1000]),
    ("--spool-sync none", ["--spool-sync", "none"], [10000]),
    ("--dedup-window 0", ["--dedup-window", "0"], [10000]),
]


def log(msg):
    print("[kafka-bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise RuntimeError("timed out after %.0fs waiting for %s" % (timeout, what))
        time.sleep(0.05)


def cpu_seconds(pid):
    """utime + stime of the whole process (every thread, live or gone)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0] == "cgroup2":
                return left.split()[4]
    raise RuntimeError("no cgroup2 mount")


def stop(proc, sig=signal.SIGTERM, timeout=20):
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class Mock:
    """tests/helpers/kafka_mock: one broker in a helper process."""

    def __init__(self, build, partitions):
        args = [os.path.join(build, "tests", "kafka_mock")]
        for t in TOPICS:
            args += ["--topic", t]
        args += ["--topic", "%s:%d" % (BENCH_TOPIC, partitions)]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("bootstrap="):
            raise RuntimeError("kafka_mock: " + line)
        self.bootstrap = line.split("=", 1)[1]

    def stop(self):
        stop(self.proc)


# --- 1. agent latency ---------------------------------------------------------

# The paced workload, in its own process so it can be moved into the
# agent's scope: pre-creates its files with mknod (not traced), says
# "ready", waits for "go", then opens each file once at the given rate and
# prints how many it opened and in how long.
WORKLOAD = r"""
import os, sys, time
d, rate, n = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
paths = ["%s/f%d" % (d, i) for i in range(n)]
for p in paths:
    os.mknod(p)
print("ready", flush=True)
sys.stdin.readline()
t0 = time.monotonic()
i = 0
while i < n:
    due = min(n, int((time.monotonic() - t0) * rate) + 1)
    while i < due:
        os.close(os.open(paths[i], os.O_RDONLY))
        i += 1
    ahead = t0 + i / rate - time.monotonic()
    if ahead > 0:
        time.sleep(ahead)
print("ops=%d elapsed=%.6f" % (n, time.monotonic() - t0), flush=True)
"""


class Agent:
    def __init__(self, build, out, mock, scope, extra):
        self.cli = os.path.join(build, "nhiscope")
        self.sock = os.path.join(out, "agent-%d.sock" % os.getpid())
        self.spool = os.path.join(out, "spool")
        shutil.rmtree(self.spool, ignore_errors=True)
        self.log = open(os.path.join(out, "agent.log"), "a")
        self.proc = subprocess.Popen(
            [os.path.join(build, "nhiscope-agent"), "-s", self.sock, "--kafka-brokers",
             mock.bootstrap, "--kafka-activity", "--spool-dir", self.spool, "--profile-dir", "",
             "--scope-cgroup", scope, *extra], stdout=subprocess.DEVNULL, stderr=self.log)
        wait_until(lambda: self.proc.poll() is not None or self.status_or_none(), 60,
                   "the agent to attach")
        if self.proc.poll() is not None:
            raise RuntimeError("agent exited %d (see %s)" % (self.proc.returncode, self.log.name))

    def status_or_none(self):
        r = subprocess.run([self.cli, "-s", self.sock, "status", "-o", "json"],
                           capture_output=True, text=True)
        return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else None

    def status(self):
        st = self.status_or_none()
        if st is None:
            raise RuntimeError("no status from the agent")
        return st

    def stop(self):
        stop(self.proc)
        self.log.close()
        shutil.rmtree(self.spool, ignore_errors=True)


def bucket_diff(b0, b1):
    """The samples added between two bucket snapshots ([[upper, count], ...])."""
    before = {u: c for u, c in b0}
    return {u: c - before.get(u, 0) for u, c in b1 if c - before.get(u, 0) > 0}


def quantiles(diff, qs):
    """Quantiles of bucketed samples: the upper bound of the bucket holding
    each, as the agent reports them. Returns (count, {q: value}, top bucket)."""
    items = sorted(diff.items())
    total = sum(c for _, c in items)
    res = {}
    for q in qs:
        rank, seen = max(1, math.ceil(q * total - 1e-9)), 0
        for u, c in items:
            seen += c
            if seen >= rank:
                res[q] = u
                break
    return total, res, (items[-1][0] if items else None)


def counters(st):
    k = st["kafka"]
    return {
        "received": sum(v["received"] for v in st["kinds"].values()),
        "open": st["kinds"]["open"]["received"],
        "lost": st["lost"],
        "produced": k["produced"],
        "delivered": k["delivered"],
        "failed": k["failed"],
        "shed": k["spool_shed_activity"] + k["spool_shed_anomaly"],
    }


def run_rate(agent, cgroup_dir, files_dir, rate, seconds):
    n = int(rate * seconds)
    # Paths never used before: a repeat within the dedup window would be
    # suppressed in the kernel and never become a record.
    d = os.path.join(files_dir, uuid.uuid4().hex[:12])
    os.makedirs(d)
    w = subprocess.Popen([sys.executable, "-c", WORKLOAD, d, str(rate), str(n)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        if w.stdout.readline().strip() != "ready":
            raise RuntimeError("workload did not start")
        with open(os.path.join(cgroup_dir, "cgroup.procs"), "w") as f:
            f.write(str(w.pid))
        # Settle: the move and anything before it is acknowledged.
        wait_until(lambda: agent.status()["kafka"]["spool_pending"] == 0, 30, "a quiet spool")
        time.sleep(0.5)
        s0, cpu0 = agent.status(), cpu_seconds(agent.proc.pid)
        w.stdin.write("go\n")
        w.stdin.flush()
        res = w.stdout.readline().split()
        if w.wait(timeout=seconds * 3 + 60) != 0 or not res:
            raise RuntimeError("workload failed")
        kv = dict(x.split("=", 1) for x in res)
        c0 = counters(s0)
        wait_until(lambda: (lambda st: counters(st)["open"] - c0["open"] >= n and
                            st["kafka"]["spool_pending"] == 0)(agent.status()),
                   120, "every event acknowledged")
        time.sleep(0.3)
        s1, cpu1 = agent.status(), cpu_seconds(agent.proc.pid)
    finally:
        stop(w, signal.SIGKILL)
        shutil.rmtree(d, ignore_errors=True)
    c1 = counters(s1)
    lat0, lat1 = s0["kafka"]["delivery_latency_us"], s1["kafka"]["delivery_latency_us"]
    return {"ops": n, "elapsed_s": float(kv["elapsed"]),
            "diff": bucket_diff(lat0["buckets"], lat1["buckets"]),
            "events": c1["received"] - c0["received"],
            "records": c1["delivered"] - c0["delivered"],
            "lost": c1["lost"] - c0["lost"], "shed": c1["shed"] - c0["shed"],
            "failed": c1["failed"] - c0["failed"], "agent_cpu_s": cpu1 - cpu0}


QS = (0.5, 0.9, 0.99, 0.999)


def summarize(name, extra, rate, seconds, runs):
    """One row from the rounds of one rate: quantiles of all their records
    together, and each round's p50 and p99 to show the spread."""
    pooled = {}
    for r in runs:
        for u, c in r["diff"].items():
            pooled[u] = pooled.get(u, 0) + c
    timed, q, top = quantiles(pooled, QS)
    per_round = [quantiles(r["diff"], (0.5, 0.99))[1] for r in runs]
    tot = {k: sum(r[k] for r in runs) for k in ("ops", "elapsed_s", "events", "records", "lost",
                                                 "shed", "failed", "agent_cpu_s")}
    return {
        "config": name, "flags": " ".join(extra), "rate": rate, "seconds": seconds,
        "rounds": len(runs), "ops": tot["ops"],
        "achieved_rate": tot["ops"] / tot["elapsed_s"] if tot["elapsed_s"] else None,
        "events": tot["events"], "records": tot["records"], "timed": timed,
        "p50_us": q.get(0.5), "p90_us": q.get(0.9), "p99_us": q.get(0.99),
        "p999_us": q.get(0.999), "max_bucket_us": top,
        "p50_us_rounds": [x.get(0.5) for x in per_round],
        "p99_us_rounds": [x.get(0.99) for x in per_round],
        "lost": tot["lost"], "shed": tot["shed"], "failed": tot["failed"],
        "agent_cpu_s": tot["agent_cpu_s"],
        "agent_cpu_us_per_record": tot["agent_cpu_s"] * 1e6 / tot["records"]
        if tot["records"] else None,
    }


def latency(build, out, mock, rates, seconds, rounds, variants):
    mount = cgroup2_mount()
    scope = "/nhbench-kafka-%d" % os.getpid()
    cgroup_dir = mount + scope
    files_dir = "/dev/shm/nhbench-kafka-%d" % os.getpid() if os.path.isdir("/dev/shm") else \
        os.path.join(out, "files")
    os.makedirs(cgroup_dir, exist_ok=True)
    results = []
    try:
        for name, extra, only in LATENCY_CONFIGS if variants else LATENCY_CONFIGS[:1]:
            agent = Agent(build, out, mock, scope, extra)
            runs = {}
            try:
                # Warm up: the first records to a topic wait for its
                # metadata and the producer id; not steady state.
                wait_until(lambda: agent.status()["kafka"]["delivered"] > 0, 60,
                           "the first heartbeat acknowledged")
                run_rate(agent, cgroup_dir, files_dir, 200, 1)
                for i in range(rounds):
                    for rate in only or rates:
                        r = run_rate(agent, cgroup_dir, files_dir, rate, seconds)
                        runs.setdefault(rate, []).append(r)
                        _, q, _ = quantiles(r["diff"], (0.5, 0.99))
                        log("%s at %d/s, round %d: p50 %s µs, p99 %s µs" % (
                            name, rate, i + 1, q.get(0.5), q.get(0.99)))
            finally:
                agent.stop()
            for rate in only or rates:
                results.append(summarize(name, extra, rate, seconds, runs[rate]))
    finally:
        for _ in range(50):
            try:
                os.rmdir(cgroup_dir)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)  # the workload's exit is still being reaped
        shutil.rmtree(files_dir, ignore_errors=True)
    return results


# --- 2. collector throughput --------------------------------------------------

PATHS = ["/etc/ssl/certs/ca-certificates.crt", "/var/run/secrets/kubernetes.io/serviceaccount/token",
         "/app/config/settings.yaml", "/usr/lib/x86_64-linux-gnu/libssl.so.3", "/tmp/cache/%d.json",
         "/proc/self/status", "/app/data/orders-%d.parquet"]
EXES = ["/usr/bin/python3.11", "/usr/local/bin/api-server", "/usr/bin/curl", "/bin/sh",
        "/usr/bin/git"]


def record_stream(n, seed=1):
    """n wire_produce JSON lines: the mix a node streams with
    --kafka-activity (mostly activity; credential uses, anomalies, findings;
    a heartbeat now and then), from 500 pods on 20 nodes."""
    rnd = random.Random(seed)
    nodes = [("node-%02d" % i, str(uuid.UUID(int=rnd.getrandbits(128)))) for i in range(20)]
    seqs = [0] * len(nodes)
    pods = []
    for i in range(500):
        ns = ["payments", "checkout", "search", "ci", "monitoring"][i % 5]
        sa = "sa-%d" % (i % 40)
        pods.append({"key": "k8s:sa/%s/%s" % (ns, sa),
                     "pod_uid": str(uuid.UUID(int=rnd.getrandbits(128))),
                     "pod_name": "%s-7c9f8-%05d" % (sa, i), "namespace": ns,
                     "service_account": sa, "container_id": "%064x" % rnd.getrandbits(256),
                     "workload_kind": "Deployment", "workload_name": sa})
    t = time.time_ns()
    for i in range(n):
        ni = rnd.randrange(len(nodes))
        node, boot = nodes[ni]
        seqs[ni] += 1
        pod = pods[rnd.randrange(len(pods))]
        ident = dict(pod, node=node)
        pid = 1000 + rnd.randrange(60000)
        exe = EXES[rnd.randrange(len(EXES))]
        t += 2000
        rec = {"node": node, "boot_id": boot, "seq": seqs[ni], "time_ns": t, "identity": ident,
               "process": {"pid": pid, "ppid": 1, "uid": 1000, "user": "app",
                           "comm": os.path.basename(exe)[:15], "exe": exe}}
        x = rnd.random()
        if i % 10000 == 9999:
            rec["kind"] = "heartbeat"
            rec["heartbeat"] = {"agent_version": "0.1.0", "probes_attached": 27,
                                "counters": {"events_received": i, "kafka_delivered": i}}
        elif x < 0.85:
            kind = "open" if x < 0.55 else "connect" if x < 0.70 else "exec"
            # a typed activity record as the agent makes one (format 2)
            rec["process"].update(tid=pid, gid=1000, mntns=4026532301, cgroup_id=9000 + i % 500)
            rec["identity"] = dict(ident, context={
                "cgroup": "/kubepods.slice/kubepods-pod%s.slice" % pod["pod_uid"].replace("-", "_"),
                "cgroup_kind": "pod", "qos": "burstable", "runtime": "containerd",
                "token_state": "ok", "token": {"fingerprint": "eyJ*:sha256:%012x" % (i % 40),
                                               "issued_at": t // 10**9 - 600,
                                               "expires_at": t // 10**9 + 3000}})
            if kind == "open":
                p = PATHS[rnd.randrange(len(PATHS))]
                act = dict(syscall="openat", path=p % i if "%d" in p else p, flags=524288,
                           dirfd=-100, result=3, deduplicated=True)
            elif kind == "connect":
                act = dict(address="10.%d.%d.%d" % (i % 7, i % 251, i % 253), port=443, fd=5,
                           result=0, deduplicated=True)
            else:
                act = dict(path=exe, args=[exe, "--config", "/app/config/settings.yaml"],
                           ns_pid=7)
            rec["kind"] = "activity"
            rec["activity"] = dict(act, event=kind, kind=kind)
        elif x < 0.93:
            rec["kind"] = "credential_use"
            rec["credential_use"] = {"credential_kind": "sa_token",
                                     "credential": PATHS[1], "via": "open", "result": 3,
                                     "count": 1 + rnd.randrange(5)}
        elif x < 0.98:
            rec["kind"] = "anomaly"
            rec["anomaly"] = {"category": "egress", "severity": "high",
                              "value": "10.%d.%d.%d:443" % (i % 7, i % 251, i % 253),
                              "technique_id": "T1071",
                              "technique_name": "Application Layer Protocol",
                              "explanation": "first connection to this destination after the "
                                             "profile became stable",
                              "baseline_age_ns": 86400 * 10**9, "baseline_items": 143}
        else:
            rec["kind"] = "finding"
            rec["finding"] = {"type": "secret_exposure", "secret_kind": "github_token",
                              "fingerprint": "ghp_...%04d#3f2a" % (i % 10000),
                              "argument": "--token=[REDACTED:github]", "path": exe,
                              "arg_index": 2}
        yield rec["kind"], json.dumps(rec, separators=(",", ":")) + "\n"


def prefill(build, mock, n):
    t0 = time.monotonic()
    # Not sticky: every record to a random partition, so they fill evenly.
    # Its complaints go to a file: a pipe nobody reads while stdin is
    # being written fills up and stops both (a record the build's
    # wire_produce rejects is one line each).
    with tempfile.TemporaryFile(mode="w+") as errf:
        p = subprocess.Popen([os.path.join(build, "tests", "wire_produce"), "-b",
                              mock.bootstrap, "-t", BENCH_TOPIC, "-X", "linger.ms=50",
                              "-X", "sticky.partitioning.linger.ms=0"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=errf, text=True)
        kinds = {}
        try:
            for kind, line in record_stream(n):
                p.stdin.write(line)
                kinds[kind] = kinds.get(kind, 0) + 1
            p.stdin.close()
        except BrokenPipeError:
            pass
        out = p.stdout.read()
        rc = p.wait()
        errf.seek(0)
        err = errf.read(500)
    if rc != 0 or out.strip() != "delivered %d" % n:
        raise RuntimeError("wire_produce: %s %s" % (out.strip(), err.strip()))
    # Mean packed size, from a sample.
    sample = "".join(line for _, line in record_stream(10000))
    enc = subprocess.run([os.path.join(build, "tests", "wire_produce"), "--encode"],
                         input=sample.encode(), capture_output=True, check=True).stdout
    return {"records": n, "kinds": kinds, "seconds": time.monotonic() - t0,
            "wire_bytes_per_record": (len(enc) - 4 * 10000) / 10000}


def metric(port, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return int(line.split()[1])
    return None


def count_lines(path):
    n = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return n
            n += b.count(b"\n")


def run_collector(build, out, mock, n, name, extra, binary=None):
    ecs = ("/dev/shm" if os.path.isdir("/dev/shm") else out) + "/nhbench-ecs-%d.jsonl" % \
        os.getpid()
    if os.path.exists(ecs):
        os.unlink(ecs)
    port = free_port()
    logf = open(os.path.join(out, "collector.log"), "a")
    col = subprocess.Popen([binary or os.path.join(build, "nhiscope-collector"), "--brokers",
                            mock.bootstrap, "--group", "bench-" + uuid.uuid4().hex[:8],
                            "--topic", BENCH_TOPIC, "--ecs-file", ecs,
                            "--metrics", "127.0.0.1:%d" % port, *extra],
                           stdout=subprocess.DEVNULL, stderr=logf)
    try:
        def delivered():
            if col.poll() is not None:
                raise RuntimeError("collector exited %d (see %s)" % (col.returncode, logf.name))
            try:
                return metric(port, "nhiscope_collector_delivered_total")
            except OSError:
                return None
        # From the first record delivered: group join and assignment are
        # start-up, not throughput.
        first = wait_until(lambda: (lambda d: d and (d, time.monotonic(),
                                                     cpu_seconds(col.pid),
                                                     cpu_seconds(mock.proc.pid)))(delivered()),
                           60, "the collector's first record")
        d0, t0, cpu0, bcpu0 = first
        last, moved = d0, time.monotonic()
        while True:
            d = delivered()
            if d is not None and d >= n:
                t1, cpu1, bcpu1 = time.monotonic(), cpu_seconds(col.pid), \
                    cpu_seconds(mock.proc.pid)
                break
            if d != last:
                last, moved = d, time.monotonic()
            elif time.monotonic() - moved > 15:
                raise RuntimeError("collector stuck at %s of %d records (lag %s)" % (
                    d, n, metric(port, "nhiscope_collector_lag")))
            time.sleep(0.02)
        dedup = metric(port, "nhiscope_collector_deduplicated_total")
        rc = stop(col)
        lines = count_lines(ecs)
        size = os.path.getsize(ecs)
    finally:
        stop(col, signal.SIGKILL)
        logf.close()
        if os.path.exists(ecs):
            os.unlink(ecs)
    if rc != 0 or lines != n:
        raise RuntimeError("collector exit %s, %d of %d lines in the ECS file" % (rc, lines, n))
    recs = n - d0
    return {"config": name, "flags": " ".join(extra), "records": n, "measured": recs,
            "elapsed_s": t1 - t0, "records_per_s": recs / (t1 - t0),
            "cpu_s": cpu1 - cpu0, "records_per_cpu_s": recs / (cpu1 - cpu0) if cpu1 > cpu0
            else None, "broker_cpu_s": bcpu1 - bcpu0, "ecs_bytes_per_record": size / n,
            "deduplicated": dedup}


def collector(build, out, mock, n, runs):
    log("pre-filling %s with %d records" % (BENCH_TOPIC, n))
    fill = prefill(build, mock, n)
    log("pre-filled in %.1fs" % fill["seconds"])
    configs = [("ECS file, dedup window 1", ["--dedup-window", "1"], None),
               ("ECS file, dedup window 100000 (default)", [], None)]
    base = os.environ.get("BENCH_BASE_COLLECTOR", "")
    if base:
        if not os.access(base, os.X_OK):
            raise RuntimeError("BENCH_BASE_COLLECTOR %s is not executable" % base)
        name = os.environ.get("BENCH_BASE_NAME", "base")
        configs += [("%s: %s" % (name, c), extra, base) for c, extra, _ in list(configs)]
    res, by = [], {}
    # Interleaved, so drift of the shared machine does not land on one.
    for i in range(runs):
        for name, extra, binary in configs:
            r = run_collector(build, out, mock, n, name, extra, binary)
            log("collector, %s, run %d: %.0f records/s, %.0f records per CPU-second" % (
                name, i + 1, r["records_per_s"], r["records_per_cpu_s"] or 0))
            by.setdefault(name, []).append(r)
    for name, _, _ in configs:
        rs = by[name]
        med = sorted(rs, key=lambda r: r["records_per_s"])[len(rs) // 2]
        med = dict(med, runs=len(rs), records_per_s_all=[r["records_per_s"] for r in rs],
                   records_per_cpu_s_median=statistics.median(
                       r["records_per_cpu_s"] for r in rs if r["records_per_cpu_s"]))
        res.append(med)
    if base:
        half = len(res) // 2
        for mine, theirs in zip(res[:half], res[half:]):
            log("collector, %s: %.0f records per CPU-second, %s %.0f: %.2fx" % (
                mine["config"], mine["records_per_cpu_s_median"], theirs["config"],
                theirs["records_per_cpu_s_median"],
                mine["records_per_cpu_s_median"] / theirs["records_per_cpu_s_median"]))
    return fill, res


def env(build):
    def sh(*cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT).stdout.strip()
        except OSError:
            return ""
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) / 1048576
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "kernel": platform.release(), "cpu": cpu, "cpus": os.cpu_count(),
        "memory": "%.0f GiB" % mem,
        "librdkafka": sh("dpkg-query", "-W", "-f=${Version}", "librdkafka1") or "unknown",
        "commit": sh("git", "rev-parse", "--short", "HEAD") or "unknown",
        "spool_fs": sh("stat", "-f", "-c", "%T", build),
        "load_start": loadavg(),
    }


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    ap.add_argument("--out", required=True, help="where kafka.json and the logs go")
    a = ap.parse_args()
    # SIGTERM (make bench interrupted) unwinds: children stopped, files gone.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if os.geteuid() != 0:
        sys.exit("kafka_bench: run as root (the agent loads eBPF programs)")
    build = os.path.abspath(a.build)
    for f in ("nhiscope-agent", "nhiscope", "nhiscope-collector", "tests/kafka_mock",
              "tests/wire_produce"):
        if not os.access(os.path.join(build, f), os.X_OK):
            sys.exit("kafka_bench: %s missing: run 'make bench'" % os.path.join(build, f))
    out = os.path.abspath(os.path.join(a.out, "kafka"))
    os.makedirs(out, exist_ok=True)
    for f in ("agent.log", "collector.log"):
        if os.path.exists(os.path.join(out, f)):
            os.unlink(os.path.join(out, f))
    rates = [int(x) for x in os.environ.get("BENCH_KAFKA_RATES", "100 1000 10000").split()]
    seconds = float(os.environ.get("BENCH_KAFKA_SECONDS", "10"))
    n = int(os.environ.get("BENCH_KAFKA_RECORDS", "300000"))
    runs = int(os.environ.get("BENCH_KAFKA_RUNS", "3"))
    rounds = int(os.environ.get("BENCH_KAFKA_ROUNDS", "3"))
    variants = os.environ.get("BENCH_KAFKA_VARIANTS", "1") == "1"
    parts = os.environ.get("BENCH_KAFKA_PARTS", "latency collector").split()

    result = {"env": env(build)}
    mock = Mock(build, max(3, -(-n // RECORDS_PER_PARTITION)))
    result["partitions"] = max(3, -(-n // RECORDS_PER_PARTITION))
    try:
        log("mock cluster at %s" % mock.bootstrap)
        if "latency" in parts:
            result["latency"] = latency(build, out, mock, rates, seconds, rounds, variants)
        if "collector" in parts:
            result["prefill"], result["collector"] = collector(build, out, mock, n, runs)
    finally:
        mock.stop()
    result["env"]["load_end"] = loadavg()
    path = os.path.join(a.out, "kafka.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    log("wrote %s" % path)


if __name__ == "__main__":
    main()
