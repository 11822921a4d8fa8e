#!/usr/bin/env python3
"""What a client can name: an audit of the live surface of a full build.

 - No tool takes a file, directory, socket, command or URL argument (the
   names in every input schema, at any depth, are checked), and no resource
   template variable is one; the one path-like argument, measure_latency's
   cgroup, is confined to /sys/fs/cgroup.
 - Hostile values in every string argument of every tool and in every
   template variable ("../" walks to a canary file, /etc/passwd, NUL bytes,
   percent-encoded slashes) never bring back a file's content: no tool or
   resource reads a file a client names.
 - Nothing a client sends is logged: with the daemon at debug level (stderr
   and notifications/message), no value from those requests shows up.
Runs as any user; as root it covers the BPF and perf tools too."""
import json
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from smcp_test import BUILD, Checker, Daemon, plugin_dir, result  # noqa: E402

T = Checker("fault/surface-audit")
PLUGINS = os.path.join(BUILD, "plugins")
PATHY = re.compile(r"(path|file|dir|folder|directory|output|dest|socket|url|uri|cmd|command|"
                   r"exec|script|program_path|log)", re.I)
# argument -> why it is acceptable
ALLOWED = {
    "measure_latency.cgroup": "a cgroup v2 path: refused unless absolute, without '..' or '//', "
                              "and only stat()ed below /sys/fs/cgroup",
    "analyze_waker_wakee.cgroup": "as measure_latency.cgroup",
    "trace_load.file": "a name inside [plugin trace_analysis] dir, opened beneath that "
                       "directory's fd (RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS): absolute "
                       "paths, '..' and symlinks refused (trace_analysis/test_hostile.py)",
    "trace_unload.file": "names a loaded trace (traces://loaded); opens nothing",
    "trace_analyze.file": "as trace_unload.file",
}
MARK = "zq9CANARYq9z"


def all_pages(d, method, key):
    out, cursor = [], None
    while True:
        r = result(d.request(method, {"cursor": cursor} if cursor else {}))
        out += r[key]
        cursor = r.get("nextCursor")
        if not cursor:
            return out


def walk_props(schema, prefix=""):
    """(dotted name, property schema) for every property at any depth."""
    for name, p in (schema or {}).get("properties", {}).items():
        full = prefix + name
        yield full, p
        if isinstance(p, dict):
            yield from walk_props(p, full + ".")
            if isinstance(p.get("items"), dict):
                yield from walk_props(p["items"], full + "[].")


def template_vars(uri):
    return re.findall(r"\{([^}]+)\}", uri)


def canary():
    fd, path = tempfile.mkstemp(prefix="smcp-canary-")
    secret = MARK + os.urandom(6).hex()
    os.write(fd, secret.encode())
    os.close(fd)
    os.chmod(path, 0o644)
    return path, secret


def hostile_values(path):
    rel = "../" * 12 + path.lstrip("/")
    return [path, rel, "/etc/passwd", "../../../../../../etc/passwd", "..", "../..",
            "..%2F..%2Fetc%2Fpasswd", "%2e%2e/%2e%2e/etc/passwd", "a\u0000b", MARK + "-value",
            "/proc/self/environ", "$(touch /tmp/" + MARK + ")", "`id`", "x" * 300]


def minimal_args(schema):
    """Required arguments filled with harmless values, durations short."""
    args = {}
    props = (schema or {}).get("properties", {})
    for name, p in props.items():
        t = p.get("type")
        if name in ("duration_s", "duration_secs"):
            args[name] = 1
        elif name == "wait":
            args[name] = False
        elif name in (schema or {}).get("required", []):
            if "enum" in p:
                args[name] = p["enum"][0]
            elif t == "integer" or t == "number":
                args[name] = max(1, p.get("minimum", 1))
            elif t == "boolean":
                args[name] = False
            else:
                args[name] = "x"
    return args


def leaked(text, secret):
    return secret in text or "root:x:0:0" in text


@T.case
def test_no_path_arguments():
    with Daemon(plugin_dir_=PLUGINS) as d:
        tools = all_pages(d, "tools/list", "tools")
        flagged = []
        for t in tools:
            for name, _ in walk_props(t.get("inputSchema")):
                full = t["name"] + "." + name
                if PATHY.search(name.split(".")[-1]) and full not in ALLOWED:
                    flagged.append(full)
        T.eq(flagged, [], f"no tool argument names a file, socket, command or URL "
                          f"({len(tools)} tools audited)")
        templates = all_pages(d, "resources/templates/list", "resourceTemplates")
        tv = [t["uriTemplate"] + ":" + v for t in templates for v in template_vars(t["uriTemplate"])
              if PATHY.search(v)]
        T.eq(tv, [], f"no template variable is a path ({len(templates)} templates audited)")
        names = {t["name"] for t in tools}
        if "measure_latency" in names:
            for bad in ["/../../etc", "/system.slice/../../../etc", "etc", "//etc"]:
                r = d.call_tool("measure_latency", {"cgroup": bad, "duration_s": 1}, timeout=30)
                text = " ".join(c.get("text", "") for c in result(r)["content"])
                T.check(result(r).get("isError"),
                        f"measure_latency refuses cgroup {bad!r}: {text[:200]}")


@T.case
def test_hostile_values_read_no_file():
    path, secret = canary()
    try:
        with Daemon(plugin_dir_=PLUGINS, args=["--log-level", "debug"]) as d:
            d.request("logging/setLevel", {"level": "debug"})
            values = hostile_values(path)
            answers = 0

            def probe(what, ask):
                """One hostile request: answered, and no file's content in
                the answer. Returns 1 when it was answered."""
                try:
                    r = ask()
                except TimeoutError:
                    T.check(False, f"{what} never answered")
                    return 0
                T.check(not leaked(json.dumps(r), secret), f"{what} brought back a file's content")
                return 1

            templates = all_pages(d, "resources/templates/list", "resourceTemplates")
            for t in templates:
                for v in values:
                    uri = t["uriTemplate"]
                    for var in template_vars(uri):
                        uri = uri.replace("{" + var + "}", v.replace("\u0000", "%00"))
                    answers += probe(f"read {uri!r}", lambda: d.read(uri, timeout=30))
            tools = all_pages(d, "tools/list", "tools")
            for t in tools:
                schema = t.get("inputSchema") or {}
                for name, p in schema.get("properties", {}).items():
                    if p.get("type") != "string" or "enum" in p:
                        continue
                    for v in values:
                        args = minimal_args(schema)
                        args[name] = v
                        answers += probe(f"{t['name']}({name}={v!r})",
                                         lambda: d.call_tool(t["name"], args, timeout=60))
                if t["name"] == "start_perf_profiling":
                    d.call_tool("stop_perf_profiling", {}, timeout=30)
            T.check(answers > 50, f"{answers} hostile requests answered")
            d.drain(quiet=0.3)
            log = d.stderr_text()
            T.check(MARK not in log, "no client value in the log: " +
                    next((ln for ln in log.splitlines() if MARK in ln), ""))
            notes = [m for m in d.messages if m.get("method") == "notifications/message"]
            T.check(not any(MARK in json.dumps(m) for m in notes),
                    "nor in log notifications")
            T.check(not os.path.exists("/tmp/" + MARK), "no command was run")
    finally:
        os.unlink(path)


@T.case
def test_protocol_fields_not_logged():
    """The marker in every protocol field a client fills (client info,
    ids, method and tool names, URIs, prompt and completion arguments,
    progress tokens, responses to requests never sent, malformed lines):
    none of it reaches stderr or notifications/message at debug level."""
    itest = os.environ.get("SMCP_ITEST") or os.path.join(BUILD, "tests", "integration", "itest.so")
    faulty = os.environ.get("SMCP_FAULTY") or os.path.join(BUILD, "tests", "fault", "faulty.so")
    m = MARK + "-field"
    with Daemon(plugin_dir_=plugin_dir([itest, faulty]), args=["--log-level", "debug"],
                initialize=False) as d:
        d.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {"x": m},
                                 "clientInfo": {"name": m, "version": m}})
        d.notify("notifications/initialized")
        d.request("logging/setLevel", {"level": "debug"})
        d.call_tool("itest_echo", {"pid": 1, "text": m})
        d.call_tool("itest_echo", {"pid": m})
        d.call_tool("itest_echo", {"pid": 1, m: 1})
        d.call_tool(m, {})
        d.call_tool("fault_tool", {"mode": m})
        d.read("itest://echo/" + m)
        d.read("nope://" + m)
        d.read("fault://read/" + m)
        d.request("prompts/get", {"name": "itest_prompt", "arguments": {"cpu": m}})
        d.request("prompts/get", {"name": m})
        d.request("completion/complete", {"ref": {"type": "ref/prompt", "name": "itest_prompt"},
                                          "argument": {"name": "cpu", "value": m}})
        d.request("resources/subscribe", {"uri": "itest://echo/" + m})
        d.request(m + "/method", {})
        d.send({"jsonrpc": "2.0", "id": m, "result": {"x": m}})
        d.send({"jsonrpc": "2.0", "id": "schedmcp-" + m, "error": {"code": 1, "message": m}})
        d.notify("notifications/cancelled", {"requestId": m, "reason": m})
        d.notify(m, {"x": m})
        d.send_raw(b'{"jsonrpc":"2.0","id":"x","method":"ping","params":' + m.encode() + b"}\n")
        d.send_raw(m.encode() + b"\n")
        d.send({"jsonrpc": "2.0", "id": "slow", "method": "tools/call",
                "params": {"name": "itest_slow", "arguments": {"delay_ms": 50},
                           "_meta": {"progressToken": m}}})
        d.send({"jsonrpc": "2.0", "id": m + "c", "method": "tools/call",
                "params": {"name": "itest_slow", "arguments": {"delay_ms": 5000}}})
        d.notify("notifications/cancelled", {"requestId": m + "c"})
        d.wait_response("slow", timeout=20)
        d.request("ping")
        d.drain(quiet=0.3)
        log = d.stderr_text()
        T.eq([ln for ln in log.splitlines() if MARK in ln], [], "no client value in the log")
        notes = [x for x in d.messages if x.get("method") == "notifications/message"]
        T.eq([x for x in notes if MARK in json.dumps(x)], [], "nor in log notifications")
        T.check(len(log.splitlines()) > 3, "the log was on (debug)")


if __name__ == "__main__":
    T.main()
