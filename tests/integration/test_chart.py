# SPDX-License-Identifier: Apache-2.0
"""The Helm chart (helm/nhiscope) without helm: yamllint on its static YAML,
and structural checks of the templates that need no template engine.
Rendering is not checked here (no helm binary, no network); what is checked
is what a typo or a stale value would break: every value a template reads
exists in values.yaml, every value in values.yaml is read by a template,
template actions are balanced, and the config maps use camelCase keys.
PyYAML comes with yamllint (Makefile DEPS)."""

import os
import re
import subprocess
import sys

try:
    import yaml
except ImportError:  # a python3 other than Debian's: use Debian's python3-yaml
    sys.path.append("/usr/lib/python3/dist-packages")
    import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nhtest import ROOT, Suite  # noqa: E402

suite = Suite("chart")
CHART = os.path.join(ROOT, "helm", "nhiscope")
TEMPLATES = os.path.join(CHART, "templates")
# Maps whose keys are not ours: librdkafka property names, Kubernetes
# objects passed through with toYaml.
FREE_FORM = {("kafka", "properties"), ("kafka", "propertyFiles")}


def values():
    with open(os.path.join(CHART, "values.yaml")) as f:
        return yaml.safe_load(f)


def template_files():
    return sorted(os.path.join(TEMPLATES, n) for n in os.listdir(TEMPLATES)
                  if n.endswith((".yaml", ".tpl", ".txt")))


def actions(text):
    """The contents of every {{ ... }} action, comments dropped."""
    text = re.sub(r"\{\{-?\s*/\*.*?\*/\s*-?\}\}", "", text, flags=re.S)
    return re.findall(r"\{\{-?(.*?)-?\}\}", text, flags=re.S)


VAR_ASSIGN = re.compile(
    r"(\$[A-Za-z_]\w*)\s*:?=\s*\$?(\.Values(?:\.\w+)*|\$[A-Za-z_]\w*(?:\.\w+)+)")
# .Values.a.b, $.Values.a.b (the root from anywhere) or $var.a.b
REF = re.compile(r"(?<![\w.])\$?(\.Values(?:\.\w+)+|\$[A-Za-z_]\w*(?:\.\w+)+)")


def value_refs(path):
    """Dotted value paths ("agent.config.metrics.listen") a template reads,
    through .Values directly or through a variable bound to a part of it
    ($agent := .Values.agent; $agent.hostPaths.btf)."""
    with open(path) as f:
        acts = actions(f.read())
    bound = {}
    refs = set()

    def resolve(expr):
        if not expr.startswith("$"):
            return expr[len(".Values."):]
        head, _, rest = expr.partition(".")
        if head not in bound:
            return None  # $port, $_ ...: not a values alias
        return ".".join(p for p in (bound[head], rest) if p)

    for a in acts:
        for var, expr in VAR_ASSIGN.findall(a):
            r = resolve(expr) if expr != ".Values" else ""
            if r is not None:
                bound[var] = r
        # binding an alias is not reading the value: $agent := .Values.agent
        # must not count as a read of everything under agent
        for expr in REF.findall(VAR_ASSIGN.sub("", a)):
            r = resolve(expr)
            if r:
                refs.add(r)
    return refs


def lookup(tree, dotted):
    node = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def leaves(tree, prefix=""):
    """Every leaf path of values.yaml; an empty map or list is a leaf."""
    if isinstance(tree, dict) and tree:
        for k, v in tree.items():
            yield from leaves(v, prefix + "." + k if prefix else k)
    else:
        yield prefix


@suite.test
def yamllint_passes_on_the_static_yaml(s):
    files = [os.path.join(CHART, "Chart.yaml"), os.path.join(CHART, "values.yaml"),
             os.path.join(ROOT, ".yamllint")]
    r = subprocess.run(["yamllint", "-s", "-c", os.path.join(ROOT, ".yamllint"), *files],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@suite.test
def chart_metadata_is_a_helm3_application(s):
    with open(os.path.join(CHART, "Chart.yaml")) as f:
        chart = yaml.safe_load(f)
    assert chart["apiVersion"] == "v2", chart
    assert chart["name"] == os.path.basename(CHART), chart
    assert chart.get("type", "application") == "application", chart
    for key in ("version", "appVersion"):
        assert isinstance(chart.get(key), str) and re.fullmatch(r"\d+\.\d+\.\d+.*", chart[key]), \
            (key, chart.get(key))


@suite.test
def template_actions_are_balanced(s):
    """Each if/with/range/define/block has its end; a missing one is a
    parse error helm would report only at install time."""
    opener = re.compile(r"^\s*(if|with|range|define|block)\b")
    bad = []
    for path in template_files():
        with open(path) as f:
            text = f.read()
        stripped = re.sub(r"\{\{-?\s*/\*.*?\*/\s*-?\}\}", "", text, flags=re.S)
        if stripped.count("{{") != stripped.count("}}"):
            bad.append("%s: %d '{{' but %d '}}'" % (os.path.basename(path), stripped.count("{{"),
                                                  stripped.count("}}")))
            continue
        depth = 0
        for a in actions(text):
            if opener.match(a):
                depth += 1
            elif re.match(r"^\s*end\s*$", a):
                depth -= 1
                if depth < 0:
                    break
        if depth != 0:
            bad.append("%s: %+d unclosed blocks" % (os.path.basename(path), depth))
    assert not bad, bad


@suite.test
def every_value_a_template_reads_exists(s):
    vals = values()
    missing = []
    nrefs = 0
    for path in template_files():
        for ref in sorted(value_refs(path)):
            nrefs += 1
            if not lookup(vals, ref):
                missing.append("%s: .Values.%s" % (os.path.basename(path), ref))
    assert nrefs > 0, "no .Values reference found: the scanner is broken"
    assert not missing, missing


@suite.test
def every_value_is_read_by_a_template(s):
    """A documented value no template uses is a lie in values.yaml. A value
    counts as read when it or a map above it is (toYaml of a whole map)."""
    refs = set()
    for path in template_files():
        refs |= value_refs(path)
    unread = []
    for leaf in leaves(values()):
        parts = leaf.split(".")
        if not any(".".join(parts[:i]) in refs for i in range(1, len(parts) + 1)):
            unread.append(leaf)
    assert not unread, unread


@suite.test
def config_maps_use_camel_case_keys(s):
    """agent.config and collector.config are the binaries' config files,
    whose keys are camelCase and nested."""
    bad = []

    def walk(node, path):
        if not isinstance(node, dict):
            return
        for k, v in node.items():
            if not re.fullmatch(r"[a-z][a-zA-Z0-9]*", str(k)):
                bad.append(".".join(path + [str(k)]))
            if tuple(path[-1:] + [str(k)]) in FREE_FORM:
                continue
            walk(v, path + [str(k)])

    vals = values()
    for comp in ("agent", "collector"):
        cfg = vals[comp]["config"]
        assert isinstance(cfg, dict) and cfg, comp
        walk(cfg, [comp, "config"])
    assert not bad, bad


@suite.test
def agent_writes_only_below_its_host_path_mounts(s):
    """The agent's root filesystem is read-only: the profile directory, the
    spool and the socket must lie below the writable hostPath mounts."""
    vals = values()
    with open(os.path.join(TEMPLATES, "agent-daemonset.yaml")) as f:
        text = f.read()
    # list entries: "- name: X" and the lines indented under it (nested
    # entries too: the lookahead does not consume them)
    entries = re.findall(r"^( *)- name: (\S+)\n(?=((?:\1  .*\n)*))", text, flags=re.M)
    host_volumes = {n for _, n, body in entries if re.search(r"^\s+hostPath:", body, flags=re.M)}
    writable = []
    for _, name, body in entries:
        m = re.search(r"^\s+mountPath: (\S+)", body, flags=re.M)
        if m and name in host_volumes and not re.search(r"^\s+readOnly: true", body, flags=re.M):
            writable.append(m.group(1).rstrip("/"))
    assert writable, "no writable hostPath mount found in agent-daemonset.yaml"
    cfg = vals["agent"]["config"]
    paths = [cfg["baseline"]["profileDir"], cfg["spool"]["dir"],
             os.path.dirname(cfg["socket"]["path"])]
    outside = [p for p in paths if p and not any(p == w or p.startswith(w + "/") for w in writable)]
    assert not outside, (outside, writable)


@suite.test
def config_files_are_rendered_verbatim(s):
    """Each ConfigMap holds its component's config map as toYaml gives it,
    nothing added or filtered."""
    for comp in ("agent", "collector"):
        with open(os.path.join(TEMPLATES, "%s-configmap.yaml" % comp)) as f:
            text = f.read()
        body = [a.strip() for a in actions(text) if "config" in a and "Values" in a]
        want = "toYaml .Values.%s.config | nindent 4" % comp
        assert body == [want], (comp, body)
        assert re.search(r"^  %s\.yaml: \|\n\s+\{\{-" % comp, text, flags=re.M), comp


if __name__ == "__main__":
    sys.exit(suite.run(sys.argv))
