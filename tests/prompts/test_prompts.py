#!/usr/bin/env python3
"""Every prompt's text, got with every plugin loaded and again with plugins
disabled, names only what exists in that daemon:

- every URI (scheme://...) is in resources/list, or is a template of
  resources/templates/list, or an instance of one (stats://process/1234);
- every tool name it mentions (any tool of the full build, any tool scxtop
  users know, and any word written as a call: `name {...}`) is in tools/list;
- every field written in backquotes is a key some resource answers with, a
  tool argument, or a string the plugin sources emit (so a renamed field
  fails here);
- a prompt whose plugins are gone says what is missing and why.

The steps come from plugins (host API register_prompt_step): a third-party
plugin's (step_fixture.c) appear in the topics they name, in order, with
their placeholders and renders, and never once that plugin is disabled or
failed its init.

Also: argument validation (pid, focus_area, scheduler_name, duration_secs,
window) with clear errors, and completion of PIDs, focus areas, scheduler
names and windows (pids and scheduler names come from the scheduler
plugin)."""
import glob
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("SMCP_SOURCE_DIR", os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("SMCP_BUILD_DIR", os.path.join(SRC, "build"))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))

import smcp_test  # noqa: E402
from smcp_test import Checker  # noqa: E402

ck = Checker("prompts")

# Tools scxtop's users know (SURFACE.md); a prompt must not send the model to
# one of these unless this daemon has it.
SCXTOP_TOOLS = {
    "query_stats", "get_topology", "list_event_subsystems", "list_events",
    "start_perf_profiling", "stop_perf_profiling", "get_perf_results",
    "control_event_tracking", "control_stats_collection", "control_analyzers",
    "analyze_waker_wakee", "analyze_softirq", "load_perfetto_trace", "run_all_analyzers",
}

# Fields of external schedulers' stats (scx_layered's LayerStats): not emitted by
# our sources, named in investigate_scheduler_behavior's scheduler notes.
EXTERNAL_FIELDS = {"util", "util_frac", "tasks", "cur_nr_cpus", "min_nr_cpus", "max_nr_cpus",
                   "preempt", "preempt_fail", "affn_viol", "xllc_migration"}

ARG_VARIANTS = {
    "analyze_scheduler_performance": [{}, {"focus_area": "latency"},
                                      {"focus_area": "throughput"},
                                      {"focus_area": "balance"}, {"focus_area": "General"}],
    "debug_high_latency": [{}, "SELF"],
    "analyze_cpu_imbalance": [{}],
    "investigate_scheduler_behavior": [{}, {"scheduler_name": "scx_layered"},
                                       {"scheduler_name": "EEVDF"}],
    "summarize_system": [{}],
    "profile_system": [{}, {"duration_secs": "120"}],
    "diagnose_regression": [{}, {"window": "5m"}],
}

URI_RE = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s`'\"),;]*")
CALL_RE = re.compile(r"\b([a-z][a-z0-9_]*) \{")
FIELD_RE = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")
WORD_RE = re.compile(r"[A-Za-z0-9_]+")


def built_plugin_files():
    return sorted(glob.glob(os.path.join(BUILD, "plugins", "*", "*.so")))


def built_plugins():
    return [os.path.basename(p)[:-3] for p in built_plugin_files()]


def list_all(c, method, key):
    out, cursor = [], None
    while True:
        r = c.request(method, {"cursor": cursor} if cursor else {})
        res = smcp_test.result(r)
        out += res[key]
        cursor = res.get("nextCursor")
        if not cursor:
            return out


def json_keys(v, acc):
    if isinstance(v, dict):
        for k, x in v.items():
            acc.add(k)
            json_keys(x, acc)
    elif isinstance(v, list):
        for x in v:
            json_keys(x, acc)


def source_strings():
    acc = set()
    for pat in ("plugins/*/*.c", "core/*.c", "examples/*/*.c"):
        for path in glob.glob(os.path.join(SRC, pat)):
            with open(path, errors="replace") as f:
                acc.update(re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)"', f.read()))
    return acc


def template_regex(tpl):
    parts = re.split(r"(\{\+?[A-Za-z0-9_]+\})", tpl)
    rx = ""
    for p in parts:
        if p.startswith("{+"):
            rx += ".+"
        elif p.startswith("{"):
            rx += "[^/]+"
        else:
            rx += re.escape(p)
    return re.compile("^" + rx + "$")


class Surface:
    def __init__(self, c):
        self.resources = {r["uri"] for r in list_all(c, "resources/list", "resources")}
        self.templates = {t["uriTemplate"] for t in
                          list_all(c, "resources/templates/list", "resourceTemplates")}
        tools = list_all(c, "tools/list", "tools")
        self.tools = {t["name"] for t in tools}
        self.args = set()
        for t in tools:
            props = t.get("inputSchema", {}).get("properties", {})
            self.args.update(props.keys())
            for p in props.values():
                self.args.update(str(e) for e in p.get("enum", []))
        self.prompts = {p["name"]: p for p in list_all(c, "prompts/list", "prompts")}
        self.rx = [template_regex(t) for t in self.templates]

    def uri_ok(self, uri):
        uri = uri.rstrip(".:")
        if uri in self.resources or uri in self.templates:
            return True
        return any(rx.match(uri) for rx in self.rx)


def get_prompt(c, name, args):
    r = c.request("prompts/get", {"name": name, "arguments": args})
    return r


def check_text(s, universe, keys, label, text):
    for uri in URI_RE.findall(text):
        ck.check(s.uri_ok(uri), "%s: names %s, which this daemon does not serve" % (label, uri))
    words = set(WORD_RE.findall(text))
    # a plugin may be named as its tool is (trace_record): prompts name the
    # plugins they miss, and such a word is not a call of the tool
    words -= set(FULL.get("plugins", ())) - s.tools
    for t in sorted((universe | SCXTOP_TOOLS) & words):
        ck.check(t in s.tools, "%s: names tool %s, which this daemon lacks" % (label, t))
    for t in set(CALL_RE.findall(text)):
        ck.check(t in s.tools, "%s: calls %s {...}, which is not a tool here" % (label, t))
    for f in set(FIELD_RE.findall(text)):
        ck.check(f in keys or f in s.args or f in EXTERNAL_FIELDS,
                 "%s: field `%s` is emitted by no resource or source" % (label, f))


def read_keys(c, s):
    keys = set()
    for uri in sorted(s.resources):
        r = c.request("resources/read", {"uri": uri}, timeout=30)
        if "result" not in r:
            continue
        for item in r["result"]["contents"]:
            try:
                json_keys(json.loads(item.get("text", "")), keys)
            except ValueError:
                pass
    return keys


def prompt_texts(c, s, label):
    texts = []
    for name in sorted(s.prompts):
        for args in ARG_VARIANTS.get(name, [{}]):
            if args == "SELF":
                args = {"pid": str(c.proc.pid)}
            r = get_prompt(c, name, args)
            if not ck.check("result" in r, "%s: %s %r answered: %r" % (label, name, args, r)):
                continue
            msgs = r["result"]["messages"]
            ck.check(msgs and msgs[0]["role"] == "user", "%s: %s: one user message" % (label, name))
            text = "\n".join(m["content"]["text"] for m in msgs)
            ck.check(len(text) < 12000, "%s: %s is bounded (%d chars)" % (label, name, len(text)))
            texts.append(("%s %s %s" % (label, name, json.dumps(args)), name, text))
    return texts


FULL = {}


@ck.case
def test_full():
    plugins = built_plugins()
    with smcp_test.Daemon(plugin_dir_=os.path.join(BUILD, "plugins")) as c:
        s = Surface(c)
        for name in ARG_VARIANTS:
            ck.check(name in s.prompts, "prompt %s registered" % name)
        ck.eq([a["name"] for a in s.prompts["debug_high_latency"]["arguments"]], ["pid"],
              "debug_high_latency(pid)")
        ck.eq([a["name"] for a in s.prompts["analyze_scheduler_performance"]["arguments"]],
              ["focus_area"], "analyze_scheduler_performance(focus_area)")
        ck.eq(s.prompts["analyze_cpu_imbalance"]["arguments"], [], "no arguments")
        keys = read_keys(c, s) | source_strings()
        FULL.update(tools=set(s.tools), keys=keys, plugins=plugins)
        for label, name, text in prompt_texts(c, s, "full"):
            check_text(s, s.tools, keys, label, text)
            # every plugin of this build is there: none may be called missing
            ck.check("not installed in this schedmcp" not in text,
                     "%s: reports a built plugin as not installed" % label)


def run_disabled(disabled):
    if not FULL:
        raise smcp_test.Skip("needs test_full")
    present = [p for p in disabled if p in FULL["plugins"]]
    if not present:
        raise smcp_test.Skip("none of %s built" % ",".join(disabled))
    with smcp_test.Daemon(args=["--disable", ",".join(present)],
                          plugin_dir_=os.path.join(BUILD, "plugins")) as c:
        s = Surface(c)
        texts = prompt_texts(c, s, "without " + ",".join(present))
        for label, name, text in texts:
            check_text(s, FULL["tools"], FULL["keys"], label, text)
        return s, texts, present


@ck.case
def test_without_latency():
    s, texts, _ = run_disabled(["sched_latency"])
    t = {name: text for label, name, text in texts if "{}" in label}
    ck.check("cannot measure run-queue latency" in t["debug_high_latency"],
             "debug_high_latency says latency cannot be measured")
    ck.check("the sched_latency plugin is disabled" in t["debug_high_latency"],
             "and which plugin, in what state")


@ck.case
def test_without_profiler_and_bpf():
    s, texts, present = run_disabled(["perf_profiler", "bpf_inventory"])
    t = {name: text for label, name, text in texts if "{}" in label}
    if len(present) == 2:
        ck.check("can neither sample call stacks nor measure BPF" in t["profile_system"],
                 "profile_system says what is missing")


@ck.case
def test_without_basics():
    run_disabled(["topology", "sysstat", "scheduler", "scx_stats"])


@ck.case
def test_core_only():
    if not FULL:
        raise smcp_test.Skip("needs test_full")
    s, texts, _ = run_disabled(FULL["plugins"])
    for label, name, text in texts:
        ck.check(len(text) > 200, "%s: still a workflow" % label)


@ck.case
def test_sched_ext_fixture():
    """With a fixture root where scx_layered runs, investigate_scheduler_behavior
    speaks of it (and of its layers when scx_stats is here)."""
    fx = os.path.join(SRC, "tests", "fixtures", "vm-2cpu")
    if not os.path.isdir(fx):
        raise smcp_test.Skip("no vm-2cpu fixture")
    tmp = tempfile.mkdtemp(prefix="smcp-prompts-")
    try:
        root = os.path.join(tmp, "root")
        shutil.copytree(fx, root, symlinks=True)
        scx = os.path.join(root, "sys", "kernel", "sched_ext")
        os.makedirs(os.path.join(scx, "root"), exist_ok=True)
        for rel, text in (("state", "enabled\n"), ("root/ops", "layered\n"),
                          ("switch_all", "1\n"), ("enable_seq", "1\n"),
                          ("nr_rejected", "0\n")):
            with open(os.path.join(scx, rel), "w") as f:
                f.write(text)
        with smcp_test.Daemon(args=["--fs-root", root],
                              plugin_dir_=os.path.join(BUILD, "plugins")) as c:
            s = Surface(c)
            r = get_prompt(c, "investigate_scheduler_behavior", {})
            text = r["result"]["messages"][0]["content"]["text"]
            check_text(s, FULL.get("tools", s.tools), FULL.get("keys", set()) | source_strings(),
                       "fixture", text)
            ck.check("ops name was layered" in text, "names the running scheduler")
            ck.check("LayerStats" in text, "with scx_layered's notes")
            if "stats://scheduler/raw/{target}" in s.templates:
                ck.check("stats://scheduler/raw/LayerStats" in text, "points at its layers")
            r = get_prompt(c, "investigate_scheduler_behavior", {"scheduler_name": "scx_lavd"})
            text = r["result"]["messages"][0]["content"]["text"]
            ck.check("not the scheduler asked about" in text, "says scx_lavd is not running")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@ck.case
def test_arguments():
    with smcp_test.Daemon(plugin_dir_=smcp_test.empty_dir_cached()) as c:
        def err(name, args, *needles):
            r = get_prompt(c, name, args)
            ok = ck.check(smcp_test.is_error(r, -32602), "%s %r refused: %r" % (name, args, r))
            msg = r.get("error", {}).get("message", "") if ok else ""
            for n in needles:
                ck.check(n in msg, "%s %r: message mentions %r: %r" % (name, args, n, msg))
        err("debug_high_latency", {"pid": "abc"}, "integer")
        err("debug_high_latency", {"pid": "12x"}, "integer")
        err("debug_high_latency", {"pid": "0"}, "pid must be")
        err("debug_high_latency", {"pid": "-5"}, "pid must be")
        err("debug_high_latency", {"pid": "999999999"}, "pid must be")
        with open("/proc/sys/kernel/pid_max") as f:
            top = int(f.read()) - 1
        gone = next(p for p in range(top, 1, -1) if not os.path.exists("/proc/%d" % p))
        err("debug_high_latency", {"pid": str(gone)}, "no process %d" % gone)
        err("debug_high_latency", {"process": "1"}, "unknown argument")
        err("analyze_scheduler_performance", {"focus_area": "speed"},
            "latency", "throughput", "balance", "general")
        err("investigate_scheduler_behavior", {"scheduler_name": "scx layered; rm"},
            "scheduler_name")
        err("profile_system", {"duration_secs": "0"}, "1 to 300")
        err("profile_system", {"duration_secs": "ten"}, "integer")
        err("diagnose_regression", {"window": "5 minutes"}, "30s, 5m")
        err("diagnose_regression", {"window": "48h"}, "24 h")
        r = get_prompt(c, "debug_high_latency", {"pid": str(os.getpid())})
        text = r["result"]["messages"][0]["content"]["text"]
        ck.check("task %d" % os.getpid() in text, "core only: names the task")
        ck.check("(python" not in text, "core only: reads nothing of it (/proc is a plugin's)")


@ck.case
def test_task_named_by_plugin():
    """What a pid names (process or thread, its name and policy) is the
    scheduler plugin's step."""
    if "scheduler" not in built_plugins():
        raise smcp_test.Skip("scheduler plugin not built")
    ev = threading.Event()
    tid = []

    def worker():
        with open("/proc/self/task/%d/comm" % threading.get_native_id(), "w") as f:
            f.write("steps-worker")
        tid.append(threading.get_native_id())
        ev.wait()
    t = threading.Thread(target=worker)
    t.start()
    try:
        while not tid:
            time.sleep(0.01)
        with smcp_test.Daemon(args=["--enable", "scheduler"],
                              plugin_dir_=os.path.join(BUILD, "plugins")) as c:
            r = get_prompt(c, "debug_high_latency", {"pid": str(os.getpid())})
            text = r["result"]["messages"][0]["content"]["text"]
            ck.check("process %d (python" % os.getpid() in text,
                     "names the process and its comm")
            ck.check(re.search(r"scheduled as SCHED_[A-Z]+ at nice -?\d+", text),
                     "and its policy")
            r = get_prompt(c, "debug_high_latency", {"pid": str(tid[0])})
            text = r["result"]["messages"][0]["content"]["text"]
            ck.check("thread %d (steps-worker) of process %d (python" % (tid[0], os.getpid())
                     in text, "a thread, with its process: %r" % text[:300])
    finally:
        ev.set()
        t.join()


def completer(c):
    def comp(prompt, arg, value):
        r = c.request("completion/complete", {"ref": {"type": "ref/prompt", "name": prompt},
                                              "argument": {"name": arg, "value": value}})
        return smcp_test.result(r)["completion"]
    return comp


@ck.case
def test_completion_core():
    """The core completes what it owns; pids and scheduler names only a
    plugin knows."""
    with smcp_test.Daemon(plugin_dir_=smcp_test.empty_dir_cached()) as c:
        comp = completer(c)
        ck.eq(comp("analyze_scheduler_performance", "focus_area", "l")["values"], ["latency"],
              "focus area by prefix")
        ck.eq(sorted(comp("analyze_scheduler_performance", "focus_area", "")["values"]),
              ["balance", "general", "latency", "throughput"], "every focus area")
        ck.check("5m" in comp("diagnose_regression", "window", "")["values"], "windows")
        ck.check("10" in comp("profile_system", "duration_secs", "1")["values"], "durations")
        ck.eq(comp("debug_high_latency", "pid", "")["values"], [], "no plugin: no pids")
        ck.eq(comp("investigate_scheduler_behavior", "scheduler_name", "")["values"], [],
              "no plugin: no scheduler names")


@ck.case
def test_completion():
    if "scheduler" not in built_plugins():
        raise smcp_test.Skip("scheduler plugin not built")
    with smcp_test.Daemon(args=["--enable", "scheduler"],
                          plugin_dir_=os.path.join(BUILD, "plugins")) as c:
        comp = completer(c)
        me = str(os.getpid())
        v = comp("debug_high_latency", "pid", me[:2])
        ck.check(all(x.startswith(me[:2]) for x in v["values"]), "pids by prefix")
        ck.check(me in v["values"] or v["hasMore"], "our pid offered (or more to come)")
        v = comp("debug_high_latency", "pid", me)
        ck.check(me in v["values"], "exact pid offered")
        v = comp("debug_high_latency", "pid", "")
        nums = [int(x) for x in v["values"]]
        ck.eq(nums, sorted(nums), "pids in order")
        ck.check(v["total"] >= len(v["values"]) and len(v["values"]) <= 100, "bounded list")
        with open("/proc/self/comm") as f:
            comm = f.read().strip()
        v = comp("debug_high_latency", "pid", comm[:4])
        ck.check(me in v["values"] or v["hasMore"], "pids by process name %r" % comm[:4])
        ck.eq(comp("analyze_scheduler_performance", "focus_area", "l")["values"], ["latency"],
              "focus area by prefix")
        ck.eq(sorted(comp("analyze_scheduler_performance", "focus_area", "")["values"]),
              ["balance", "general", "latency", "throughput"], "every focus area")
        v = comp("investigate_scheduler_behavior", "scheduler_name", "scx_la")["values"]
        ck.check({"scx_lavd", "scx_layered"} <= set(v), "scheduler names: %r" % v)
        ck.eq(comp("analyze_scheduler_performance", "focus_area", "l")["values"], ["latency"],
              "the core's own still there")


def fixture_dir():
    so = smcp_test.fixture("steps_fixture")
    if not os.path.exists(so):
        raise smcp_test.Skip("steps_fixture.so not built")
    return smcp_test.plugin_dir(files=built_plugin_files() + [so])


def all_texts(c):
    """Every prompt with every argument variant: {(name, args): text}."""
    s = Surface(c)
    return {(label, name): text for label, name, text in prompt_texts(c, s, "fixture")}


NUMBERED_RE = re.compile(r"\n(\d+)\. ")


@ck.case
def test_third_party_steps():
    """A plugin outside the tree appears in the workflows by the topics of its
    steps, in order, numbered with the rest; placeholders and renders get the
    prompt's arguments; what it cannot show is listed in its words."""
    d = fixture_dir()
    with smcp_test.Daemon(plugin_dir_=d) as c:
        rc = c.read_json("fixture://steps")
        for k in ("bad_topic", "no_text", "long_text", "uri_in_missing", "five_needs",
                  "small_sz", "completion_unknown_arg"):
            ck.eq(rc.get(k), -22, "refused with -EINVAL: %s" % k)
        ck.eq(rc.get("completion_twice"), -17, "a second completer for pid: -EEXIST")
        ck.eq(rc.get("outside_init"), -1, "registering after init: -EPERM")
        texts = all_texts(c)
        for (label, name), text in texts.items():
            for marker in ("FIXTURE-ZERO", "FIXTURE-FAILS", "FIXTURE-LONG", "FIXTURE-ABSENT",
                           "FIXTURE-NOWHERE", "FIXTURE-LATE", "FIXTURE-BAD"):
                ck.check(marker not in text, "%s: %s never shown" % (label, marker))
            nums = [int(n) for n in NUMBERED_RE.findall(text)]
            ck.eq(nums, list(range(1, len(nums) + 1)), "%s: steps numbered 1..n" % label)
            sched = "Read scheduler://current: `class` (sched_ext or fair)"
            if sched in text:
                ck.check(re.search(r"\n\d+\. FIXTURE-FIRST", text) and
                         text.index("FIXTURE-FIRST") < text.index(sched),
                         "%s: the fixture's step (order 5) comes first in its topic" % label)
                ck.check("- the fixture's absent thing: not offered" in text,
                         "%s: a step whose needs are missing is listed" % label)
                ck.check("- the fixture's failing render" in text and
                         "- the fixture's long render" in text,
                         "%s: renders that failed are listed" % label)
        t = {(name, label.split(" ", 2)[2]): text for (label, name), text in texts.items()}
        summary = t[("summarize_system", "{}")]
        ck.check("FIXTURE-TOP-5" in summary, "${top} from the workflow (5 in the summary)")
        ck.check("FIXTURE-ARGS focus=- top=5 pid=-1" in summary, "render gets the arguments")
        perf = t[("analyze_scheduler_performance", '{"focus_area": "latency"}')]
        ck.check("FIXTURE-ARGS focus=latency top=5" in perf, "render gets focus_area")
        for args in ('{}', '{"focus_area": "balance"}'):
            perf = t[("analyze_scheduler_performance", args)]
            ck.check("FIXTURE-BALANCE" in perf, "%s: the fixture's alternative" % args)
            ck.check("`busy_pct` per CPU. A spread" not in perf,
                     "%s: and only it: the others are alternatives" % args)
        ck.check("FIXTURE-BALANCE" not in t[("analyze_scheduler_performance",
                                             '{"focus_area": "latency"}')],
                 "balance steps only where balance is asked")
        anyone = t[("debug_high_latency", "{}")]
        ck.check("FIXTURE-PID" not in anyone and "FIXTURE-NOTE" not in anyone,
                 "no pid: the steps that need one are left out")
        r = get_prompt(c, "debug_high_latency", {"pid": str(os.getpid())})
        text = r["result"]["messages"][0]["content"]["text"]
        ck.check("FIXTURE-PID-%d" % os.getpid() in text, "${pid} filled in")
        ck.check(re.search(r"\n\nFIXTURE-NOTE about %d\.\n" % os.getpid(), text),
                 "a context topic is a paragraph, not a step")
        comp = completer(c)
        ck.check("4194303" in comp("debug_high_latency", "pid", "41943")["values"],
                 "the fixture completes pid")
        ck.check(os.path.exists("/proc/%s" % os.getpid()), "sanity")


@ck.case
def test_third_party_bulk():
    """However many steps plugins register, a prompt stays bounded and says
    that it left some out."""
    d = fixture_dir()
    path = smcp_test.write_config("[plugin steps_fixture]\nbulk = true\n")
    with smcp_test.Daemon(args=["--config", path], plugin_dir_=d) as c:
        for name, end in (("summarize_system", "Write the summary in this shape"),
                          ("debug_high_latency", "Answer with the verdict first")):
            text = get_prompt(c, name, {})["result"]["messages"][0]["content"]["text"]
            bulk = text.count("FIXTURE-BULK-")
            ck.check(len(text) < 40000, "%s: bounded (%d chars)" % (name, len(text)))
            ck.check(0 < bulk <= 13, "%s: some of the bulk only (%d)" % (name, bulk))
            ck.check("were left out to keep this prompt short" in text,
                     "%s: says steps were left out" % name)
            ck.check(end in text, "%s: the workflow's own text is all there" % name)


@ck.case
def test_third_party_gone():
    """A plugin that is disabled, or failed its init after registering its
    steps, leaves no step, completion or name of its steps behind."""
    d = fixture_dir()
    for how, args, conf, state in (
            ("disabled", ["--disable", "steps_fixture"], "", "disabled"),
            ("failed", [], "[plugin steps_fixture]\nfail_init = true\n", "failed")):
        path = smcp_test.write_config(conf or "[core]\n")
        with smcp_test.Daemon(args=["--config", path] + args, plugin_dir_=d) as c:
            for (label, name), text in all_texts(c).items():
                ck.check("FIXTURE" not in text and "fixture's" not in text,
                         "%s: %s: none of its steps" % (how, label))
                if name in ARG_VARIANTS:  # the workflows
                    ck.check("the steps_fixture plugin is %s" % state in text,
                             "%s: %s: says the plugin is %s" % (how, label, state))
            v = completer(c)("debug_high_latency", "pid", "41943")["values"]
            ck.check("4194303" not in v, "%s: its completion is gone: %r" % (how, v))
            ck.check(smcp_test.is_error(c.read("fixture://steps")), "%s: nothing left" % how)


if __name__ == "__main__":
    ck.main()
