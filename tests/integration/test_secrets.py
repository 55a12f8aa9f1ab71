# SPDX-License-Identifier: Apache-2.0
"""Secrets on command lines, end to end: every form the redactor knows,
planted in workloads of a fabricated pod, is a secret_exposure finding
whose fingerprint is the HMAC-SHA-256 of the secret under the cluster key
(computed here with Python's hmac, independently of the agent), and the
secret appears in no output: the agent's --tail stdout, `nhiscope tail`
(JSON and compact), the agent's debug log, status, the Kafka records
(findings and activity), the collector's ECS file and rsyslog. Keys: one
key gives the same fingerprint on two agents, two keys two; a rotation
carries both; no key file warns; a bad one is a clear error. argv past
1 KiB of padding is scanned, and a secret cut by the copy bound is
redacted."""

import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nhtest import (AGENT, CLI, ROOT, Agent, SaPod, Suite, Tail, run_alive,  # noqa: E402
                    wait_until)

suite = Suite("secrets")
KEY_ID_LABEL = b"nhiscope fingerprint key id v1"


def key_file(s, key):
    path = os.path.join(s.tmp, "fpkey-" + uuid.uuid4().hex[:8])
    with open(path, "w") as f:
        f.write(key + "\n")  # as a Secret written by hand often is
    os.chmod(path, 0o400)
    return path


def key_id(key):
    return hmac.new(key.encode(), KEY_ID_LABEL, hashlib.sha256).hexdigest()[:8]


def fingerprint(key, value):
    """What the agent must write for a password-like secret (no prefix)."""
    mac = hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()[:24]
    return "*:hmac-sha256:%s:%s" % (key_id(key), mac)


def planted():
    """(argv, secret, the span the agent fingerprints) for every form."""
    def sec(tag):
        return "Pl4nt%s%s" % (tag, uuid.uuid4().hex[:12])
    forms = []

    def add(argv, secret, span=None):
        forms.append((argv, secret, span or secret))
    s = sec("my")
    add(["/bin/true", "mysql", "-uroot", "-p" + s, "-h", "db"], s)
    s = sec("mysh")
    add(["/bin/sh", "-c", "true mysql -uroot -p%s -e 'select 1'" % s], s)
    s = sec("sshp")
    add(["/bin/true", "sshpass", "-p", s, "ssh", "deploy@10.0.0.5"], s)
    s = sec("dock")
    add(["/bin/true", "docker", "login", "-u", "bot", "-p", s, "registry.example"], s)
    s = sec("redis")
    add(["/bin/true", "redis-cli", "-h", "cache", "-a", s, "ping"], s)
    s = sec("ossl")
    add(["/bin/true", "openssl", "pkcs12", "-in", "a.p12", "-passin", "pass:" + s], s)
    s = sec("htp")
    add(["/bin/true", "htpasswd", "-b", "/etc/nginx/htpasswd", "bob", s], s)
    s = sec("dbp")
    add(["/bin/true", "DB_PASS=" + s], s)
    s = sec("pwd")
    add(["/bin/true", "MYSQL_PWD=" + s], s)
    s = sec("passwd")
    add(["/bin/true", "LDAP_PASSWD=" + s], s)
    s = sec("apikey")
    add(["/bin/true", "-H", "X-API-Key: " + s, "https://api.example"], s)
    s = sec("cookie")
    add(["/bin/true", "-H", "Cookie: session=" + s], s, "session=" + s)
    s = sec("bearer")
    add(["/bin/true", "-H", "Authorization:Bearer " + s], s)
    s = sec("json")
    add(["/bin/true", "-d", '{"user":"bob","password":"%s"}' % s], s)
    s = "Pl4nt/url/" + uuid.uuid4().hex[:12]
    add(["/bin/true", "clone", "https://deploy:%s@git.example/r.git" % s], s)
    s = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" + uuid.uuid4().hex * 6
    add(["/bin/true", "--key", "-----BEGIN PRIVATE KEY-----", s, "-----END PRIVATE KEY-----"], s)
    s = sec("pad")
    add(["/bin/true", "x" * 3000, "--password=" + s], s)
    return forms


def read_all(path):
    with open(path, "rb") as f:
        return f.read()


def exposures(tail, key):
    return [e for e in tail.poll()
            if e["kind"] == "secret_exposure" and e["identity"] == key]


@suite.test
def planted_secrets_are_findings_and_appear_in_no_output(s):
    from test_collector import Collector, Rsyslog, syslog_docs
    from test_kafka import Mock, read_topic

    key = "cluster-key-" + uuid.uuid4().hex
    forms = planted()
    mock = Mock()
    rs = Rsyslog(s.tmp)
    ecs = os.path.join(s.tmp, "ecs-%s.jsonl" % uuid.uuid4().hex[:6])
    col = Collector(s.tmp, mock, "--topic", "nhiscope.anomalies", "--topic",
                    "nhiscope.activity", "--ecs-file", ecs, "--syslog", rs.address)
    pod = SaPod("secrets", "deployer", "deployer-0")
    stdout = os.path.join(s.tmp, "agent-stdout-%s" % uuid.uuid4().hex[:6])
    spool = os.path.join(s.tmp, "spool-" + uuid.uuid4().hex[:6])
    agent = Agent(s.tmp, "-v", "--tail", "--kafka-brokers", mock.bootstrap,
                  "--kafka-activity", "--spool-dir", spool,
                  "--fingerprint-key-file", key_file(s, key),
                  wrap=("sh", "-c", 'exec "$@" >"$0"', stdout))
    compact_path = os.path.join(s.tmp, "compact-%s" % uuid.uuid4().hex[:6])
    compact_file = open(compact_path, "wb")  # a file: a pipe nobody reads would stall it
    compact = subprocess.Popen([CLI, "-s", agent.sock, "tail"], stdout=compact_file,
                               stderr=subprocess.STDOUT)
    tail = Tail(agent)
    try:
        wait_until(lambda: agent.status()["subscribers"] >= 2, what="both tails")
        for argv, _, _ in forms:
            run_alive(pod, argv)
        want = {fingerprint(key, span): secret for _, secret, span in forms}

        def found():
            return {e["fingerprint"] for e in exposures(tail, pod.key)}
        try:
            wait_until(lambda: set(want) <= found(), timeout=30, what="every planted secret")
        except AssertionError:
            missing = [want[f][:9] for f in set(want) - found()]  # the tags, not the secrets
            raise AssertionError("no finding for the forms tagged %s" % missing)
        marker = tail.sync(pod)
        for e in exposures(tail, pod.key):
            assert "[REDACTED:" in e["argument"], e["secret_kind"]
        pad = [e for e in tail.poll() if e["kind"] == "exec" and len(e.get("args", [])) >= 2
               and e["args"][1].startswith("x" * 100)]
        assert pad and pad[0]["args_truncated"] is True and pad[0]["args_bytes"] > 3000, \
            {k: v for k, v in pad[0].items() if k != "args"} if pad else "no padded exec"

        # Kafka: every finding, and the activity stream up to the marker
        def on_kafka():
            recs, raw = read_topic(mock, "nhiscope.anomalies")
            fps = {r["finding"].get("fingerprint") for r in recs if r.get("kind") == "finding"}
            return raw if set(want) <= fps else None
        anomalies = wait_until(on_kafka, timeout=30, what="the findings on Kafka")
        tag = marker["args"][-1]
        activity = wait_until(lambda: (lambda r: r if tag.encode() in r else None)(
            read_topic(mock, "nhiscope.activity")[1]), timeout=30, what="the marker's activity")

        # the collector's sinks: every finding in the ECS file and in rsyslog
        def ecs_fps():
            fps = set()
            for line in read_all(ecs).decode().splitlines() if os.path.exists(ecs) else []:
                f = json.loads(line).get("nhiscope", {}).get("finding", {})
                fps.add(f.get("fingerprint"))
            return fps
        wait_until(lambda: set(want) <= ecs_fps(), timeout=30, what="the findings in ECS")
        wait_until(lambda: tag.encode() in read_all(ecs), timeout=30,
                   what="the marker's activity in ECS")

        def syslog_fps():
            return {d.get("nhiscope", {}).get("finding", {}).get("fingerprint")
                    for _, _, _, d in syslog_docs(rs)}
        wait_until(lambda: set(want) <= syslog_fps(), timeout=30, what="the findings in rsyslog")
        outputs = {
            "tail -o json": json.dumps(tail.events).encode(),
            "kafka anomalies": anomalies,
            "kafka activity": activity,
            "ecs file": read_all(ecs),
            "rsyslog": "\n".join(rs.lines()).encode(),
            "status": subprocess.run([CLI, "-s", agent.sock, "status"],
                                     capture_output=True).stdout,
            "status json": json.dumps(agent.status()).encode(),
            "credentials": subprocess.run([CLI, "-s", agent.sock, "credentials", "-o", "json"],
                                          capture_output=True).stdout,
        }
    finally:
        compact.terminate()
        compact.wait(timeout=10)
        compact_file.close()
        tail.close()
        agent.stop()
        col.stop()
        rs.stop()
        pod.remove()
        mock.stop()
    outputs["tail compact"] = read_all(compact_path)
    outputs["agent --tail stdout"] = read_all(stdout)
    outputs["agent log"] = agent.read_log().encode()
    outputs["collector log"] = col.read_log().encode()
    for where in ("tail compact", "agent --tail stdout"):
        assert tag.encode() in outputs[where], "%s (%d bytes) did not reach the marker" % (
            where, len(outputs[where]))
    for where, blob in outputs.items():
        assert blob, where
        for argv, secret, span in forms:
            assert secret.encode() not in blob, "the %s form leaked into %s" % (secret[:9], where)
            assert span.encode() not in blob, "the %s form leaked into %s" % (secret[:9], where)
            # nor its head, as a cut would leave it
            assert secret[:12].encode() not in blob or secret.startswith("MII"), \
                "the head of %s leaked into %s" % (secret[:9], where)


def one_fingerprint(tail, key, secret_kind=None):
    es = wait_until(lambda: [e for e in exposures(tail, key)
                             if not secret_kind or e["secret_kind"] == secret_kind],
                    timeout=20, what="a secret_exposure")
    return es[0]


@suite.test
def one_key_one_fingerprint_two_keys_two(s):
    """Two agents sharing a key (two nodes of one cluster) agree; an agent
    with another key (another cluster) does not."""
    k1, k2 = "cluster-a-" + uuid.uuid4().hex, "cluster-b-" + uuid.uuid4().hex
    secret = "S3cretPass" + uuid.uuid4().hex[:6]
    pod = SaPod("keys", "app", "app-0")
    agents = [Agent(s.tmp, "--fingerprint-key-file", key_file(s, k)) for k in (k1, k1, k2)]
    tails = [Tail(a) for a in agents]
    try:
        run_alive(pod, ["/bin/true", "--password=" + secret])
        fa, fb, fc = (one_fingerprint(t, pod.key)["fingerprint"] for t in tails)
        assert fa == fb == fingerprint(k1, secret), (fa, fb)
        assert fc == fingerprint(k2, secret), fc
        assert fa != fc and key_id(k1) != key_id(k2)
        # the old unkeyed, guessable form is gone
        assert ":sha256:" not in fa and hashlib.sha256(secret.encode()).hexdigest()[:12] not in fa
        # the service-account token's fingerprint is keyed too, and is the
        # credential's id, so one token is one credential in the fleet
        for t, k in ((tails[0], k1), (tails[1], k1), (tails[2], k2)):
            tok = wait_until(lambda: [e for e in t.poll() if e["identity"] == pod.key and
                                      e.get("context", {}).get("token", {}).get("fingerprint")],
                             what="token context")[0]["context"]["token"]["fingerprint"]
            assert tok == fingerprint(k, pod.token), tok
    finally:
        for t in tails:
            t.close()
        for a in agents:
            a.stop()
        pod.remove()


@suite.test
def key_rotation_carries_both_fingerprints(s):
    from test_kafka import Mock, read_topic

    old, new = "old-key-" + uuid.uuid4().hex, "new-key-" + uuid.uuid4().hex
    secret = "R0tat3dPass" + uuid.uuid4().hex[:6]
    mock = Mock()
    pod = SaPod("rotate", "app", "app-0")
    spool = os.path.join(s.tmp, "spool-" + uuid.uuid4().hex[:6])
    rotating = Agent(s.tmp, "--fingerprint-key-file", key_file(s, new),
                     "--fingerprint-previous-key-file", key_file(s, old),
                     "--kafka-brokers", mock.bootstrap, "--spool-dir", spool)
    before = Agent(s.tmp, "--fingerprint-key-file", key_file(s, old))
    tails = [Tail(rotating), Tail(before)]
    try:
        run_alive(pod, ["/bin/true", "--password=" + secret])
        during = one_fingerprint(tails[0], pod.key)
        assert during["fingerprint"] == fingerprint(new, secret), during["fingerprint"]
        assert during["fingerprint_previous"] == fingerprint(old, secret), during
        # what a node still on the old key reports matches the overlap
        assert one_fingerprint(tails[1], pod.key)["fingerprint"] == during["fingerprint_previous"]
        assert "fingerprint_previous" not in one_fingerprint(tails[1], pod.key)
        assert "key %s, previous key %s" % (key_id(new), key_id(old)) in rotating.read_log()

        def on_kafka():
            recs, _ = read_topic(mock, "nhiscope.anomalies")
            return [r["finding"] for r in recs if r.get("kind") == "finding" and
                    r["finding"].get("fingerprint") == during["fingerprint"]]
        f = wait_until(on_kafka, timeout=30, what="the finding on Kafka")[0]
        assert f["fingerprint_previous"] == during["fingerprint_previous"], f
    finally:
        for t in tails:
            t.close()
        rotating.stop()
        before.stop()
        pod.remove()
        mock.stop()


@suite.test
def no_key_file_warns_and_keys_per_run(s):
    pod = SaPod("nokey", "app", "app-0")
    a, b = Agent(s.tmp), Agent(s.tmp)
    ta, tb = Tail(a), Tail(b)
    try:
        for agent in (a, b):
            assert re.search(r"warn .*fingerprint.keyFile is not set.*will not match across "
                             r"nodes", agent.read_log()), agent.read_log()
        run_alive(pod, ["/bin/true", "--password=N0keyPass" + uuid.uuid4().hex[:6]])
        fa = one_fingerprint(ta, pod.key)["fingerprint"]
        fb = one_fingerprint(tb, pod.key)["fingerprint"]
        assert fa.startswith("*:hmac-sha256:") and fb.startswith("*:hmac-sha256:"), (fa, fb)
        assert fa != fb  # each node-local key is random
        assert "(id %s)" % fa.split(":")[2] in a.read_log()
    finally:
        ta.close()
        tb.close()
        a.stop()
        b.stop()
        pod.remove()


@suite.test
def bad_key_files_are_clear_errors(s):
    short = key_file(s, "short")
    empty = os.path.join(s.tmp, "empty-key")
    open(empty, "w").close()
    for args, want in ((("--fingerprint-key-file", short), "at least 16 bytes"),
                       (("--fingerprint-key-file", empty), "the key file is empty"),
                       (("--fingerprint-key-file", "/nonexistent/key"),
                        "cannot read the key file"),
                       (("--fingerprint-key-file", key_file(s, "k" * 32),
                         "--fingerprint-previous-key-file", "/nonexistent/old"),
                        "cannot read the previous key file")):
        r = subprocess.run([AGENT, "-s", os.path.join(s.tmp, "x.sock"), *args],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode != 0, args
        assert "fingerprint.keyFile" in r.stderr and want in r.stderr, r.stderr


@suite.test
def a_secret_cut_by_the_argv_bound_is_redacted(s):
    """--argv-max 1024: a token that straddles the bound arrives cut short,
    too short to recognise, and is still redacted."""
    pod = SaPod("cut", "app", "app-0")
    agent = Agent(s.tmp, "--argv-max", "1024")
    tail = Tail(agent)
    token = "ghp_" + uuid.uuid4().hex + "Zz9"
    # "/bin/true\0" + pad + "\0" + "--t=" puts the token 20 bytes before the end
    pad = "p" * (1024 - 10 - 1 - 4 - 20)
    try:
        run_alive(pod, ["/bin/true", pad, "--t=" + token])
        ev = tail.wait_for(lambda e: e["kind"] == "exec" and e["identity"] == pod.key and
                           len(e.get("args", [])) == 3 and e["args"][1] == pad,
                           what="the exec")[0]
        tail.sync(pod)
        assert ev["args_truncated"] is True and ev["args_bytes"] > 1024, ev["args_bytes"]
        assert ev["args"][2] == "--t=[REDACTED:cut]", ev["args"][2]
        assert token[:12].encode() not in json.dumps(tail.events).encode()
        # not a finding: nobody knows what the cut word was
        assert not [e for e in exposures(tail, pod.key) if e["secret_kind"] == "cut"]
    finally:
        tail.close()
        agent.stop()
        pod.remove()


@suite.test
def chart_key_secret_is_made_once_and_mounted_into_the_agent_only(s):
    import yaml
    chart = os.path.join(ROOT, "helm", "nhiscope")
    with open(os.path.join(chart, "templates", "agent-fingerprint-secret.yaml")) as f:
        secret = f.read()
    # kept across upgrades (lookup of the existing Secret) and uninstalls
    assert re.search(r'lookup "v1" "Secret" \.Release\.Namespace \$name', secret), secret
    assert "index $old.data \"key\"" in secret and "randAlphaNum 64" in secret
    assert "helm.sh/resource-policy: keep" in secret
    with open(os.path.join(chart, "values.yaml")) as f:
        values = yaml.safe_load(f)
    key_path = values["agent"]["config"]["fingerprint"]["keyFile"]
    with open(os.path.join(chart, "templates", "agent-daemonset.yaml")) as f:
        ds = f.read()
    m = re.search(r"- name: fingerprint-key\n\s+mountPath: (\S+)\n\s+readOnly: true", ds)
    assert m and key_path.startswith(m.group(1) + "/"), (m and m.group(1), key_path)
    assert re.search(r"- name: fingerprint-key\n\s+secret:\n\s+secretName: "
                     r"\{\{ include \"nhiscope.agent.fingerprintSecret\" \. \}\}\n"
                     r"\s+defaultMode: 256", ds), "the key Secret is not mounted 0400"
    for other in os.listdir(os.path.join(chart, "templates")):
        if other.startswith("collector"):
            with open(os.path.join(chart, "templates", other)) as f:
                assert "fingerprint" not in f.read(), other


if __name__ == "__main__":
    sys.exit(suite.run(sys.argv))
