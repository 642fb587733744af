#!/usr/bin/env python3
"""pidx's traces, end to end (issue 19, docs/OBSERVABILITY.md).

An OTLP/HTTP receiver on loopback (written here, as the OTLP specification defines OTLP/JSON:
lowerCamelCase fields, trace and span ids as lower-case hex, enums as integers, 64-bit integers
as decimal strings) collects what the real binary exports. The checks: the trace id is
TRACEPARENT's and the root is a child of its span; the spans form one tree whose children lie
inside their parents' time; every shard of a build has a span with its attributes; a failed
rebuild-shard (lock timeout) gives the documented tree with ERROR spans; a refused publish
names the missing shards; log lines carry the span they were written in; --trace-file holds the
same spans; and a refusing, a hanging or an absent collector is a warning with the exit code and
result unchanged.

usage: otlp_test.py PIDX
"""
import fcntl
import http.server
import json
import os
import re
import shutil
import socket
import signal
import subprocess
import sys
import tempfile
import threading
import time

PIDX = sys.argv[1]
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT}-01"
HEX = re.compile(r"^[0-9a-f]+$")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


# ---------------------------------------------------------------- receivers


class Receiver:
    """mode: ok (200 {}), refuse (503), hang (accept, never answer)."""

    def __init__(self, mode="ok"):
        self.requests = []  # (path, headers, body)
        self.mode = mode
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                outer.requests.append((self.path, dict(self.headers), body))
                if outer.mode == "hang":
                    time.sleep(5)
                    return
                code = 200 if outer.mode == "ok" else 503
                payload = b"{}"
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------- OTLP/JSON decoding


def any_value(v):
    """An AnyValue as the specification encodes it in JSON."""
    (kind, x), = v.items()
    if kind == "stringValue":
        return x
    if kind == "boolValue":
        assert isinstance(x, bool)
        return x
    if kind == "intValue":
        return int(x)  # a decimal string (or a number)
    if kind == "doubleValue":
        return float(x)
    if kind == "arrayValue":
        return [any_value(e) for e in x.get("values", [])]
    raise AssertionError("unknown AnyValue " + kind)


def attrs(kvs):
    return {kv["key"]: any_value(kv["value"]) for kv in kvs or []}


def decode(body):
    """ExportTraceServiceRequest -> (resource attributes, [span dicts])."""
    req = json.loads(body)
    spans, resource = [], {}
    for rs in req["resourceSpans"]:
        resource = attrs(rs["resource"]["attributes"])
        for ss in rs["scopeSpans"]:
            assert ss["scope"]["name"] == "pidx"
            for s in ss["spans"]:
                assert HEX.match(s["traceId"]) and len(s["traceId"]) == 32, s["traceId"]
                assert HEX.match(s["spanId"]) and len(s["spanId"]) == 16, s["spanId"]
                if "parentSpanId" in s:
                    assert HEX.match(s["parentSpanId"]) and len(s["parentSpanId"]) == 16
                assert isinstance(s["kind"], int) and s["kind"] == 1  # SPAN_KIND_INTERNAL
                assert isinstance(s["startTimeUnixNano"], str) and s["startTimeUnixNano"].isdigit()
                assert isinstance(s["endTimeUnixNano"], str) and s["endTimeUnixNano"].isdigit()
                status = s.get("status", {})
                code = status.get("code", 0)
                assert isinstance(code, int) and code in (0, 1, 2)
                spans.append({
                    "trace": s["traceId"],
                    "id": s["spanId"],
                    "parent": s.get("parentSpanId", ""),
                    "name": s["name"],
                    "start": int(s["startTimeUnixNano"]),
                    "end": int(s["endTimeUnixNano"]),
                    "attrs": attrs(s.get("attributes")),
                    "code": code,
                    "message": status.get("message", ""),
                })
    return resource, spans


def check_tree(spans, label, parent=PARENT, trace=TRACE_ID):
    """One trace, one root (TRACEPARENT's child), every parent known, children inside parents."""
    by_id = {s["id"]: s for s in spans}
    check(len(by_id) == len(spans), f"{label}: span ids are unique")
    if trace is None and spans:
        trace = spans[0]["trace"]
    check(all(s["trace"] == trace for s in spans), f"{label}: every span has the trace id {trace}")
    roots = [s for s in spans if s["parent"] not in by_id]
    check(len(roots) == 1, f"{label}: one root span (found {len(roots)})")
    if not roots:
        return None
    root = roots[0]
    check(root["parent"] == parent, f"{label}: the root is a child of TRACEPARENT's span")
    for s in spans:
        check(s["start"] <= s["end"], f"{label}: {s['name']} ends after it starts")
        p = by_id.get(s["parent"])
        if p is not None:
            check(p["start"] <= s["start"] and s["end"] <= p["end"],
                  f"{label}: {s['name']} lies inside its parent {p['name']}")
    return root


def names(spans, name):
    return [s for s in spans if s["name"] == name]


# ---------------------------------------------------------------- running pidx


def catalog(path, categories, per_category):
    with open(path, "w") as f:
        n = 0
        for c in categories:
            for i in range(per_category):
                n += 1
                f.write(json.dumps({"id": f"P{n:05d}", "category": c,
                                    "title": f"{c} item {i} steel", "brand": "Acme"}) + "\n")


def run(args, env_extra=None, timeout=60):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PIDX_", "TRACEPARENT"))}
    env.update(env_extra or {})
    t0 = time.monotonic()
    p = subprocess.run([PIDX] + args, env=env, capture_output=True, text=True, timeout=timeout)
    p.seconds = time.monotonic() - t0
    p.events = []
    for line in p.stderr.splitlines():
        try:
            p.events.append(json.loads(line))
        except ValueError:
            pass
    return p


def traced(receiver_url, extra=None):
    env = {"TRACEPARENT": TRACEPARENT, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver_url,
           "PIDX_LOG_FORMAT": "json"}
    env.update(extra or {})
    return env


def stable(result_json):
    """A --json result without what differs between two runs."""
    j = json.loads(result_json)
    for k in ("trace_id", "duration_ms"):
        j.pop(k, None)
    return j


def main():
    tmp = tempfile.mkdtemp(prefix="pidx-otlp-")
    try:
        cat = os.path.join(tmp, "catalog.jsonl")
        catalog(cat, ["Books", "Garden", "Toys"], 40)
        idx = os.path.join(tmp, "idx")
        trace_file = os.path.join(tmp, "spans.jsonl")

        # ---- a traced build
        rx = Receiver()
        p = run(["build", "--catalog", cat, "--index", idx, "--shards-per-category", "3", "--json",
                 "--trace-file", trace_file],
                traced(rx.url(), {"OTEL_SERVICE_NAME": "catalog-indexer",
                                  "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=ci,team=search%20infra",
                                  "OTEL_EXPORTER_OTLP_HEADERS": "x-pidx-token=s3cr%3Dt"}))
        check(p.returncode == 0, f"traced build exits 0 (got {p.returncode}: {p.stderr[-500:]})")
        check(len(rx.requests) == 1, f"one OTLP request (got {len(rx.requests)})")
        if rx.requests:
            path, headers, body = rx.requests[0]
            check(path == "/v1/traces", f"POSTed to /v1/traces (got {path})")
            lower = {k.lower(): v for k, v in headers.items()}
            check(lower.get("content-type") == "application/json", "Content-Type application/json")
            check(lower.get("x-pidx-token") == "s3cr=t", "OTEL_EXPORTER_OTLP_HEADERS sent, decoded")
            resource, spans = decode(body)
            check(resource.get("service.name") == "catalog-indexer", "OTEL_SERVICE_NAME is service.name")
            check(resource.get("deployment.environment") == "ci" and resource.get("team") == "search infra",
                  "OTEL_RESOURCE_ATTRIBUTES are resource attributes")
            root = check_tree(spans, "build")
            check(root is not None and root["name"] == "build", "the root span is the command")
            if root:
                check(root["code"] != 2, "a successful build's root is not ERROR")
                check(root["attrs"].get("index.status") == "complete", "index.status complete")
                check(root["attrs"].get("process.exit_code") == 0, "root carries the exit code")
            for phase in ("catalog.read", "analysis", "shard.build", "segment.write",
                          "segment.readback", "index.publish", "lock.wait"):
                check(names(spans, phase), f"build has a {phase} span")
            built = {e["shard"]: e for e in p.events if e.get("event") == "shard.build.completed"}
            shard_spans = {s["attrs"].get("index.shard"): s for s in names(spans, "shard.build")}
            check(len(built) == 9 and set(built) == set(shard_spans),
                  f"every shard built has a span ({sorted(built)} vs {sorted(shard_spans)})")
            for sid, e in built.items():
                s = shard_spans.get(sid)
                if not s:
                    continue
                a = s["attrs"]
                check(a.get("index.docs") == e["docs"] and a.get("index.terms") == e["terms"]
                      and a.get("index.bytes") == e["bytes"], f"{sid}: docs, terms, bytes attributes")
                check(isinstance(a.get("index.category"), str), f"{sid}: index.category")
                check(e["span_id"] == s["id"], f"{sid}: its log line carries the shard span's id")
                kids = [c["name"] for c in spans if c["parent"] == s["id"]]
                check(sorted(kids) == ["segment.readback", "segment.write"],
                      f"{sid}: segment write and read-back under the shard span ({kids})")
            pub = names(spans, "index.publish")
            if pub:
                check(pub[0]["parent"] == root["id"], "publish is a child of the root")
                locks = [s for s in names(spans, "lock.wait") if s["parent"] == pub[0]["id"]]
                check(len(locks) == 1 and locks[0]["attrs"].get("lock.name") == "publish"
                      and "lock.waited_ms" in locks[0]["attrs"], "publish waits for publish.lock in a span")
            ids = {s["id"] for s in spans}
            check(all(e.get("span_id") in ids for e in p.events), "every log line names a span of the trace")
            check(all(e.get("trace_flags") == "01" and e.get("trace_id") == TRACE_ID for e in p.events),
                  "every log line carries trace_id and trace_flags 01")
            result = json.loads(p.stdout)
            check(result.get("trace_id") == TRACE_ID, "the --json result carries trace_id")
            # --trace-file: the same spans, as one OTLP/JSON line.
            with open(trace_file) as f:
                lines = f.read().splitlines()
            check(len(lines) == 1, "--trace-file holds one line per run")
            if lines:
                _, file_spans = decode(lines[0])
                check(sorted((s["id"], s["name"], s["parent"]) for s in file_spans)
                      == sorted((s["id"], s["name"], s["parent"]) for s in spans),
                      "--trace-file holds the spans the collector got")
        rx.close()

        # ---- verify: a span per shard checked; a damaged shard is an ERROR span
        rx = Receiver()
        p = run(["verify", "--index", idx, "--json"], traced(rx.url()))
        check(p.returncode == 0, f"verify exits 0 (got {p.returncode})")
        if rx.requests:
            _, spans = decode(rx.requests[0][2])
            check_tree(spans, "verify")
            check(len(names(spans, "shard.verify")) == 9, "verify: one span per shard checked")
        seg_dir = os.path.join(idx, "segments")
        victim = sorted(os.listdir(seg_dir))[0]
        with open(os.path.join(seg_dir, victim), "r+b") as f:
            f.seek(100)
            b = f.read(1)
            f.seek(100)
            f.write(bytes([b[0] ^ 0xFF]))
        rx.requests.clear()
        p = run(["verify", "--index", idx, "--json"], traced(rx.url()))
        check(p.returncode == 1, f"verify of a damaged segment exits 1 (got {p.returncode})")
        if rx.requests:
            _, spans = decode(rx.requests[0][2])
            bad = [s for s in names(spans, "shard.verify") if s["code"] == 2]
            check(len(bad) == 1 and victim.startswith(bad[0]["attrs"]["index.shard"]),
                  f"verify: the damaged shard's span is ERROR ({[s['attrs'] for s in bad]})")
        rx.close()
        shutil.rmtree(idx)
        p = run(["build", "--catalog", cat, "--index", idx, "--shards-per-category", "3"])
        check(p.returncode == 0, "rebuild of the index for the next checks")

        # ---- rebuild-shard failing by lock timeout: the documented tree
        rx = Receiver()
        shard = "books_001"
        lock_path = os.path.join(idx, "locks", f"shard-{shard}.lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        p = run(["rebuild-shard", shard, "--catalog", cat, "--index", idx, "--lock-timeout", "300ms"],
                traced(rx.url()))
        os.close(fd)
        check(p.returncode == 75, f"rebuild-shard with a held lock exits 75 (got {p.returncode})")
        check(len(rx.requests) == 1, "a failed run exports its spans too")
        if rx.requests:
            _, spans = decode(rx.requests[0][2])
            root = check_tree(spans, "rebuild-shard")
            if root:
                check(root["name"] == "rebuild-shard" and root["code"] == 2 and "could not lock" in root["message"],
                      f"rebuild-shard: the root is ERROR with the message ({root['code']}, {root['message']})")
                check(root["attrs"].get("index.shard") == shard, "rebuild-shard: root names the shard")
                check(root["attrs"].get("process.exit_code") == 75, "rebuild-shard: root carries exit 75")
            waits = names(spans, "lock.wait")
            check(len(waits) == 1, f"rebuild-shard: one lock wait ({len(waits)})")
            if waits and root:
                w = waits[0]
                check(w["parent"] == root["id"], "the lock wait is a child of the root")
                check(w["code"] == 2 and "could not lock" in w["message"], "the lock wait is ERROR with the message")
                check(w["attrs"].get("lock.name") == f"shard-{shard}", "lock.name")
                check(w["attrs"].get("lock.waited_ms", 0) >= 300, "lock.waited_ms is the wait")
                check(w["attrs"].get("lock.holder_pid") == os.getpid(), "lock.holder_pid is the holder")
            check(not names(spans, "shard.build") and not names(spans, "index.publish"),
                  "rebuild-shard: nothing built or published after the timeout")
            failed = [e for e in p.events if e.get("event") == "index.rebuild.failed"]
            if failed and waits and root:
                check(failed[0]["span_id"] == root["id"], "the .failed event is logged in the root span")
            timeout = [e for e in p.events if e.get("event") == "lock.timeout"]
            if timeout and waits:
                check(timeout[0]["span_id"] == waits[0]["id"], "lock.timeout is logged in the lock wait's span")
        rx.close()

        # ---- a refused publish names the missing shards; --allow-shrink makes it partial
        small = os.path.join(tmp, "small.jsonl")
        catalog(small, ["Books", "Garden"], 40)
        for extra, code, status in (([], 65, "refused"), (["--allow-shrink"], 0, "partial")):
            rx = Receiver()
            p = run(["build", "--catalog", small, "--index", idx, "--shards-per-category", "3"] + extra,
                    traced(rx.url()))
            check(p.returncode == code, f"build {extra} of a catalog without Toys exits {code} (got {p.returncode})")
            if rx.requests:
                _, spans = decode(rx.requests[0][2])
                root = check_tree(spans, f"build {status}")
                pub = names(spans, "index.publish")
                for s in [root] + pub[:1]:
                    if s is None:
                        continue
                    check(s["attrs"].get("index.status") == status, f"{s['name']}: index.status {status}")
                    check(sorted(s["attrs"].get("index.publish.missing_shards", [])) == ["toys_000", "toys_001", "toys_002"],
                          f"{s['name']}: index.publish.missing_shards ({s['attrs'].get('index.publish.missing_shards')})")
                if status == "refused" and pub and root:
                    check(pub[0]["code"] == 2 and root["code"] == 2, "a refused publish is ERROR on its span and the root")
            rx.close()

        # ---- telemetry never changes the result
        baseline = run(["verify", "--index", idx, "--json"])
        missing = run(["verify", "--index", os.path.join(tmp, "nope"), "--json"])
        check(baseline.returncode == 0 and missing.returncode == 66, "untraced verify: 0, and 66 for a missing index")
        refuse, hang = Receiver("refuse"), Receiver("hang")
        cases = [("refusing collector", refuse.url(), {}),
                 ("hanging collector", hang.url(), {"OTEL_EXPORTER_OTLP_TIMEOUT": "400"}),
                 ("closed port", f"http://127.0.0.1:{closed_port()}", {}),
                 ("unresolvable host", "http://no-such-host.invalid:4318", {"OTEL_EXPORTER_OTLP_TIMEOUT": "2000"})]
        for label, url, extra in cases:
            for base, args in ((baseline, ["verify", "--index", idx, "--json"]),
                               (missing, ["verify", "--index", os.path.join(tmp, "nope"), "--json"])):
                p = run(args, traced(url, extra))
                warn = [e for e in p.events if e.get("event") == "telemetry.export.failed"]
                check(p.returncode == base.returncode, f"{label}: exit code unchanged ({p.returncode})")
                check(len(warn) == 1 and warn[0]["level"] == "warn" and warn[0].get("endpoint", "").startswith(url)
                      and warn[0].get("reason"), f"{label}: one warning telemetry.export.failed ({warn})")
                if base.returncode == 0:
                    check(stable(p.stdout) == stable(base.stdout), f"{label}: the result is unchanged")
                if label == "hanging collector":
                    check(p.seconds < 3, f"hanging collector: bounded by OTEL_EXPORTER_OTLP_TIMEOUT ({p.seconds:.1f}s)")
        check(len(refuse.requests) == 2, "the refusing collector was asked")
        refuse.close()

        # ---- SIGTERM/SIGINT during the export stop it at once: the run's exit code and result
        # stand. It used to wait for the collector to the end of OTEL_EXPORTER_OTLP_TIMEOUT (up
        # to 10 minutes), past a supervisor's grace period, then exit 0 as if nothing came.
        for sig in (signal.SIGTERM, signal.SIGINT):
            hang.requests.clear()
            env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PIDX_", "TRACEPARENT"))}
            env.update(traced(hang.url(), {"OTEL_EXPORTER_OTLP_TIMEOUT": "60000"}))
            t0 = time.monotonic()
            proc = subprocess.Popen([PIDX, "verify", "--index", idx, "--json"], env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 20
            while len(hang.requests) == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            proc.send_signal(sig)
            try:
                out, err = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
            seconds = time.monotonic() - t0
            warn = [json.loads(l) for l in err.splitlines() if '"telemetry.export.failed"' in l]
            check(seconds < 3, f"{sig.name} during the export: stops at once ({seconds:.1f}s)")
            check(proc.returncode == 0 and stable(out) == stable(baseline.stdout),
                  f"{sig.name} during the export: verify's exit code and result stand ({proc.returncode})")
            check(len(warn) == 1 and "interrupted" in warn[0].get("reason", ""),
                  f"{sig.name} during the export: one warning saying it was interrupted ({warn})")
        hang.close()

        # ---- protocols and exporters pidx does not have; unsampled parents; a bad trace file
        rx = Receiver()
        p = run(["verify", "--index", idx], traced(rx.url(), {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}))
        warn = [e for e in p.events if e.get("event") == "telemetry.export.failed"]
        check(p.returncode == 0 and not rx.requests and len(warn) == 1 and "http/protobuf" in warn[0]["reason"],
              "http/protobuf: a warning, nothing exported")
        p = run(["verify", "--index", idx], traced(rx.url(), {"OTEL_TRACES_EXPORTER": "none"}))
        check(p.returncode == 0 and not rx.requests and not [e for e in p.events if e["event"].startswith("telemetry")],
              "OTEL_TRACES_EXPORTER=none: nothing exported, no warning")
        p = run(["verify", "--index", idx],
                traced(rx.url(), {"TRACEPARENT": f"00-{TRACE_ID}-{PARENT}-00"}))
        check(p.returncode == 0 and not rx.requests and all(e.get("trace_flags") == "00" for e in p.events),
              "an unsampled TRACEPARENT: trace_flags 00, nothing exported")
        p = run(["verify", "--index", idx, "--trace-file", "/dev/full"], {"PIDX_LOG_FORMAT": "json"})
        warn = [e for e in p.events if e.get("event") == "telemetry.export.failed"]
        check(p.returncode == 0 and len(warn) == 1 and warn[0].get("file") == "/dev/full",
              "--trace-file /dev/full: a warning, exit 0")
        p = run(["verify", "--index", idx], {"PIDX_TRACE_FILE": trace_file, "PIDX_LOG_FORMAT": "json"})
        with open(trace_file) as f:
            lines = f.read().splitlines()
        check(p.returncode == 0 and len(lines) == 2, "PIDX_TRACE_FILE appends a second line")
        if len(lines) == 2:
            _, spans = decode(lines[1])
            root = check_tree(spans, "trace file without TRACEPARENT", parent="", trace=None)
            check(root is not None and root["trace"] == p.events[0]["trace_id"],
                  "without TRACEPARENT the trace id is the log lines' own")
        rx.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} checks failed")
        return 1
    print("all OTLP checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
