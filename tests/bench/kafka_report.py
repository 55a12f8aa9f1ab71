# SPDX-License-Identifier: Apache-2.0
"""The "Kafka pipeline" section of docs/performance.md, from OUT/kafka.json
(tests/bench/kafka_bench.py), with its chart (gnuplot, when installed).
Used by tests/bench/report.py, for the whole report or, with
`--section kafka`, to replace this section alone in an existing one."""
import json
import os
import shutil
import subprocess
import sys

HEADING = "## Kafka pipeline"


def load(out):
    try:
        with open(os.path.join(out, "kafka.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def ms(us):
    return "—" if us is None else f"{us / 1000:.1f}"


def label(r):
    return f"{r['config']} @ {r['rate']:,}/s"


def plot(k, out, doc_dir):
    """p50 and p99 per run as clustered bars. Returns the PNG path or None."""
    gp = shutil.which("gnuplot")
    rows = [r for r in k.get("latency", []) if r.get("p50_us") is not None]
    if not gp or not rows:
        return None
    data = os.path.join(out, "kafka-latency.dat")
    with open(data, "w") as f:
        for r in rows:
            f.write('"%s" %.3f %.3f\n' % (label(r), r["p50_us"] / 1000, r["p99_us"] / 1000))
    png = os.path.join(doc_dir, "performance-kafka-latency.png")
    script = f"""
set terminal pngcairo noenhanced size 1000,540 font 'DejaVu Sans,10'
set rmargin 12
set output '{png}'
set title 'Kernel event to acknowledged produce (mock cluster on loopback; a lower bound)'
set ylabel 'ms'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set yrange [0:*]
set xtics rotate by -20 scale 0
set key top right
plot '{data}' using 2:xtic(1) title 'p50' lc rgb '#4477aa', \\
     '' using 3 title 'p99' lc rgb '#cc6677'
"""
    gp_path = os.path.join(out, "kafka-latency.gp")
    with open(gp_path, "w") as f:
        f.write(script)
    r = subprocess.run([gp, gp_path], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"report: gnuplot failed: {r.stderr.strip()}", file=sys.stderr)
        return None
    return png


def section(out, doc_dir):
    """The section's lines, or [] without results."""
    k = load(out)
    if not k:
        return []
    env = k.get("env", {})
    lat = k.get("latency", [])
    col = k.get("collector", [])
    fill = k.get("prefill", {})
    png = plot(k, out, doc_dir)
    L = [HEADING, ""]
    L.append(
        f"Measured on {env.get('date', '?')} by `tests/bench/kafka_bench.py` (part of `make bench`) "
        f"on this {env.get('cpus', '?')}-vCPU VM ({env.get('cpu', '?')}, {env.get('memory', '?')}, "
        f"kernel {env.get('kernel', '?')}, librdkafka {env.get('librdkafka', '?')}, commit "
        f"{env.get('commit', '?')}). Kafka is librdkafka's mock cluster "
        "(`tests/helpers/kafka_mock.c`): the real Kafka protocol over loopback, but one in-memory "
        "broker with no disk, no replication and no network between the machines. The agent, "
        "the collector, the broker and the workload share the same two vCPUs. The numbers are "
        "therefore lower bounds for a real cluster: what the agent and the collector themselves "
        "cost, not what a broker adds. Load average at the start and the end: "
        f"{env.get('load_start', '?')} / {env.get('load_end', '?')} (other users' jobs on the "
        "machine show up here).")
    L.append("")

    if lat:
        L.append("### Event to acknowledged produce (agent)")
        L.append("")
        L.append(
            "The agent's own measurement, `nhiscope status` → `kafka.delivery_latency_us`: for "
            "every record about a kernel event, the time from the event's kernel timestamp "
            "(`bpf_ktime_get_ns`, `CLOCK_MONOTONIC`) to the moment the agent handles the broker's "
            "acknowledgement of that record (idempotent producer, `acks=all`) and drops it from "
            "its spool. That covers the ring buffer, decoding and attribution, rendering, the "
            "spool write, the producer's batching, the broker round trip and the wait until the "
            "agent's loop serves the delivery report. Heartbeats and loss reports have no kernel "
            "event and are not counted, nor are records left in the spool by an earlier run. "
            "The histogram is log-linear (buckets at most 6.25% wide); a quantile is the upper "
            "bound of its bucket.")
        L.append("")
        L.append(
            "Workload: the agent runs with `--kafka-activity` (every event is a record, on "
            "`nhiscope.activity`) and `--scope-cgroup` on a cgroup that holds only a paced "
            "process opening files it has never opened before, so each open is a first-seen "
            "object: one event, one record. Each rate runs "
            f"{lat[0].get('rounds', 1)} times for {lat[0]['seconds']:.0f} s, after a warm-up "
            "(the first records to a topic wait about 0.4 s for its metadata). The quantiles are "
            "those of the records of these runs alone, from the difference of two status "
            "snapshots around each run, pooled; the p99 of each run on its own shows the spread. "
            f"The spool is on the VM's disk ({env.get('spool_fs', '?')}), with the default "
            "`--spool-sync flush`.")
        L.append("")
        L.append("| agent settings | rate (achieved) | records | p50 ms | p90 ms | p99 ms | "
                 "p99 ms of each run | p99.9 ms | max ms (bucket) | agent CPU µs/record | "
                 "lost / shed / failed |")
        L.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in lat:
            flags = f"`{r['flags']}`" if r.get("flags") else "defaults"
            cpu = r.get("agent_cpu_us_per_record")
            L.append(
                f"| {flags} | {r['rate']:,}/s ({r['achieved_rate']:,.0f}) | {r['timed']:,} | "
                f"{ms(r['p50_us'])} | {ms(r['p90_us'])} | **{ms(r['p99_us'])}** | "
                f"{', '.join(ms(v) for v in r.get('p99_us_rounds', []))} | "
                f"{ms(r['p999_us'])} | ≤ {ms(r['max_bucket_us'])} | "
                f"{'—' if cpu is None else f'{cpu:.0f}'} | "
                f"{r['lost']} / {r['shed']} / {r['failed']} |")
        L.append("")
        if png:
            L.append(f"![Event to acknowledged produce]({os.path.relpath(png, doc_dir)})")
            L.append("")
        L.append(
            "What the latency is made of: the agent's settings, each one a wait that a record "
            "may spend in full or in part.")
        L.append("")
        L.append(
            "- `--batch-ms 20` (default): the kernel ring buffer wakes the agent once per 20 ms "
            "batch (or as soon as an eighth of it is full), so an event may sit up to 20 ms in the "
            "ring before the agent reads it.")
        L.append(
            "- `linger.ms=20` (set in `agent/kafka.c`): librdkafka holds a record up to 20 ms "
            "to fill a batch before it sends it.")
        L.append(
            "- The delivery report is handed over by `rd_kafka_poll` in the agent's loop, which "
            "runs when a ring-buffer batch, the tick or the `--batch-ms` timeout wakes it: an "
            "acknowledgement may wait up to another 20 ms to be counted and to leave the spool.")
        L.append(
            "- `acks=all` with `enable.idempotence=true`: one round trip to the partition leader, "
            "which answers once the in-sync replicas have the batch. On the mock cluster this is "
            "a loopback round trip to a broker without disk or followers; on a real cluster it "
            "adds the network and the replication (and the brokers' flush policy) on top of the "
            "numbers here.")
        L.append(
            "- `--spool-sync flush` (default): the spool is fsynced every tick (≤ 1 s), on the "
            "agent's I/O worker (the tail segment, and by path every segment that filled since "
            "the last tick), so a slow disk does not hold the loop that reads events and serves "
            "reports. `compression.type=lz4` costs CPU only, and "
            "`message.timeout.ms=30000` matters only when the broker is away.")
        variants = [r for r in lat if r["config"] != "default"]
        if variants:
            L.append("")
            L.append("The rows with other settings change one thing at a time, against the "
                     "defaults at the same rate:")
            L.append("")
            for r in variants:
                b = next((x for x in lat if x["config"] == "default" and
                          x["rate"] == r["rate"]), None)
                if not b:
                    continue
                L.append(f"- `{r['flags']}` at {r['rate']:,}/s: p50 {ms(r['p50_us'])} ms "
                         f"(defaults {ms(b['p50_us'])}), p99 {ms(r['p99_us'])} ms (defaults "
                         f"{ms(b['p99_us'])}), {r['agent_cpu_us_per_record']:.0f} µs of agent "
                         f"CPU per record (defaults {b['agent_cpu_us_per_record']:.0f}).")
            fast = next((r for r in variants if "--batch-ms" in r["flags"]), None)
            nolinger = next((r for r in variants if r["flags"] == "-X linger.ms=0"), None)
            base = next((x for x in lat if x["config"] == "default" and fast and
                         x["rate"] == fast["rate"]), None)
            text = []
            if fast and base and fast["p50_us"] < base["p50_us"] / 4:
                text.append(
                    f"With `{fast['flags']}` the whole path, broker round trip included, takes "
                    f"{ms(fast['p50_us'])} ms at the median: most of the {ms(base['p50_us'])} ms "
                    "with the defaults is waiting, not work, and the broker is not where the time "
                    "goes on this machine.")
            if nolinger and base and nolinger["p50_us"] > 0.7 * base["p50_us"]:
                text.append(
                    f"`linger.ms=0` alone moves the median little ({ms(nolinger['p50_us'])} ms): "
                    "the acknowledgement comes back sooner, but it is still only counted at the "
                    "agent's next wake-up, up to `--batch-ms` later.")
            text.append(
                "Shorter waits are paid for in agent CPU per record (more wake-ups, smaller "
                "batches). `--spool-sync none` takes the spool's fsync out of the loop and "
                "`--dedup-window 0` the in-kernel dedup map (this workload opens only new paths, "
                "so at 10,000/s the map's 65,536 entries are full within seconds and every "
                "tick's flush walks all of them; real workloads mostly repeat themselves): "
                "compare their tails with the defaults at the same rate, minding the spread "
                "between runs. The tail at high rates varies from run to run because the VM's "
                "two vCPUs are shared by the agent, the broker, the workload and other users' "
                "jobs.")
            L.append("")
            L.append(" ".join(text))
        L.append("")

    if col:
        kinds = fill.get("kinds", {})
        n = fill.get("records", 0)
        mix = ", ".join((f"{100 * v / n:.0f}% {kk}" if 100 * v >= n else f"{v} {kk}s")
                        for kk, v in sorted(kinds.items(), key=lambda x: -x[1])) if n else "?"
        L.append("### Collector throughput (ECS file sink)")
        L.append("")
        L.append(
            f"A topic pre-filled with {n:,} wire records ({mix}; "
            f"{fill.get('wire_bytes_per_record', 0):.0f} bytes each on average, packed, "
            "uncompressed) from 500 fabricated pods on 20 nodes, spread over "
            f"{k.get('partitions', '?')} partitions (the mock keeps at most 5 MiB per partition). "
            "Each run is a fresh consumer group reading it from the beginning with only "
            "`--ecs-file`, to a file on tmpfs (`/dev/shm`), so writing and the sink's fsync cost "
            "only the page cache. The clock runs from the first record delivered to the last "
            "(the collector's `/metrics` `delivered` counter, polled every 20 ms): joining the "
            "group is left out. CPU is the collector's utime+stime over the same interval, all "
            "threads (the consume loop and librdkafka's); every run must leave exactly one ECS "
            "line per record. Dedup cannot be switched off: window 1 is its cheapest setting, "
            "100,000 the default; all record ids are distinct, so the difference is the cost of "
            "remembering them.")
        L.append("")
        L.append("| configuration | records/s (median; all runs) | collector CPU s | "
                 "records per CPU-second | broker CPU s | ECS bytes/record |")
        L.append("| --- | --- | --- | --- | --- | --- |")
        for r in col:
            runs = ", ".join(f"{v / 1000:.1f} k" for v in r.get("records_per_s_all", []))
            L.append(
                f"| {r['config']} | **{r['records_per_s'] / 1000:.1f} k** ({runs}) | "
                f"{r['cpu_s']:.2f} | **{r['records_per_cpu_s_median'] / 1000:.1f} k** | "
                f"{r['broker_cpu_s']:.2f} | {r['ecs_bytes_per_record']:.0f} |")
        L.append("")
        # BENCH_BASE_COLLECTOR: the base's rows follow this build's, same order
        base = [r for r in col if ": " in r["config"]]
        if base and len(base) * 2 == len(col):
            mine = col[:len(base)]
            L.append("Against " + base[0]["config"].split(": ")[0] + " in the same rounds "
                     "(records per CPU-second, median): " + "; ".join(
                         f"{m['config']} {m['records_per_cpu_s_median'] / 1000:.1f} k against "
                         f"{b['records_per_cpu_s_median'] / 1000:.1f} k, "
                         f"{m['records_per_cpu_s_median'] / b['records_per_cpu_s_median']:.2f}x"
                         for m, b in zip(mine, base)) + ".")
            L.append("")
        cores = " and ".join(f"{r['cpu_s'] / r['elapsed_s']:.2f}" for r in col if r["elapsed_s"])
        L.append(
            f"In the median runs the collector kept {cores} of a core busy on average (in the "
            "order of the table). Its "
            "consume loop is one thread (librdkafka fetches on threads of its own), and on a "
            "two-vCPU machine shared with the broker and other jobs records/s depends on what "
            "else runs, while records per CPU-second hardly does: that is the number to size "
            "collectors with. Replicas in one consumer group share the partitions.")
        L.append("")

    L.append("To run this part alone and replace only this section:")
    L.append("")
    L.append("```sh")
    L.append("make all build/tests/wire_produce")
    L.append("python3 tests/bench/kafka_bench.py --out build/bench")
    L.append("python3 tests/bench/report.py --out build/bench --section kafka")
    L.append("```")
    L.append("")
    L.append("`BENCH_KAFKA_RATES`, `BENCH_KAFKA_SECONDS`, `BENCH_KAFKA_ROUNDS`, "
             "`BENCH_KAFKA_RECORDS`, `BENCH_KAFKA_RUNS`, `BENCH_KAFKA_VARIANTS` and "
             "`BENCH_KAFKA_PARTS` change the run (see the top of "
             "`tests/bench/kafka_bench.py`); `BENCH_KAFKA=0` leaves it out of `make bench`.")
    L.append("")
    return L


def splice(doc, lines, heading=HEADING):
    """doc with this section replaced by lines (inserted before the
    Environment section, or appended, when it is not there yet)."""
    text = "\n".join(lines).rstrip("\n") + "\n\n"
    start = doc.find("\n" + heading + "\n")
    if start >= 0:
        end = doc.find("\n## ", start + 1)
        if end < 0:
            return doc[:start + 1] + text.rstrip("\n") + "\n"
        return doc[:start + 1] + text + doc[end + 1:]
    env = doc.find("\n## Environment\n")
    if env >= 0:
        return doc[:env + 1] + text + doc[env + 1:]
    return doc.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
