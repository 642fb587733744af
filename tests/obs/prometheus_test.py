#!/usr/bin/env python3
"""pidx's metrics read by Prometheus's own tools (issue 19, docs/OBSERVABILITY.md).

Every --metrics-file that the real binary writes (build, rebuild-shard, verify with findings,
gc, recall, and a rebuild-shard that timed out on a lock) passes `promtool check metrics` (no
lint problem either); node_exporter, started here on a free loopback port with its own
textfile directory and only the textfile collector, serves pidx's series with
node_textfile_scrape_error 0; docs/monitoring/pidx-rules.yml passes `promtool check rules`
and its unit tests (`promtool test rules`, the seed's incident replayed).

Exit 77 (skipped) when promtool or node_exporter is not installed.

usage: prometheus_test.py PIDX SOURCE_DIR
"""
import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

PIDX, SOURCE = sys.argv[1], sys.argv[2]
PROMTOOL = shutil.which("promtool")
NODE_EXPORTER = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def run(args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PIDX_", "TRACEPARENT"))}
    env["PIDX_LOG_FORMAT"] = "json"
    env.update(env_extra or {})
    return subprocess.run([PIDX] + args, env=env, capture_output=True, text=True, timeout=60)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def parse_exposition(text):
    """name -> [(labels dict, value)] from the text format (simple, enough for our series)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        labels = {}
        if "{" in head:
            name, rest = head.split("{", 1)
            for part in rest.rstrip("}").split('",'):
                if part:
                    k, v = part.split("=", 1)
                    labels[k] = v.strip('"')
        else:
            name = head
        out.setdefault(name, []).append((labels, float(value)))
    return out


def main():
    if not PROMTOOL or not NODE_EXPORTER:
        print("skipped: promtool or node_exporter not installed (Debian prometheus, "
              "prometheus-node-exporter)")
        return 77
    monitoring = os.path.join(SOURCE, "docs", "monitoring")
    p = subprocess.run([PROMTOOL, "check", "rules", "pidx-rules.yml"], cwd=monitoring,
                       capture_output=True, text=True)
    check(p.returncode == 0, "promtool check rules: " + p.stdout + p.stderr)
    p = subprocess.run([PROMTOOL, "test", "rules", "pidx-rules.test.yml"], cwd=monitoring,
                       capture_output=True, text=True)
    check(p.returncode == 0 and "SUCCESS" in p.stdout, "promtool test rules: " + p.stdout + p.stderr)

    tmp = tempfile.mkdtemp(prefix="pidx-prom-")
    exporter = None
    try:
        textfiles = os.path.join(tmp, "textfile")
        os.mkdir(textfiles)
        cat = os.path.join(tmp, "catalog.jsonl")
        with open(cat, "w") as f:
            for i in range(60):
                c = ("Books", "Garden", "Toys")[i % 3]
                f.write(json.dumps({"id": f"P{i:04d}", "category": c, "title": f"steel {c} {i}"}) + "\n")
        queries = os.path.join(tmp, "queries.jsonl")
        with open(queries, "w") as f:
            f.write(json.dumps({"query": "steel", "expected": ["P0001", "P0002"]}) + "\n")
        idx = os.path.join(tmp, "idx")

        def prom(name):
            return os.path.join(textfiles, name + ".prom")

        steps = [
            ("build", ["build", "--catalog", cat, "--index", idx, "--shards-per-category", "2"], 0),
            ("rebuild", ["rebuild-shard", "books_000", "--catalog", cat, "--index", idx], 0),
            ("recall", ["recall", "--index", idx, "--queries", queries, "--min", "0.9"], 0),
            ("gc", ["gc", "--index", idx, "--keep", "2"], 0),
        ]
        for name, args, code in steps:
            p = run(args + ["--metrics-file", prom(name)])
            check(p.returncode == code, f"{name} exits {code} (got {p.returncode}: {p.stderr[-300:]})")
        # A rebuild that times out on its lock, and a verify that finds a damaged segment.
        lock = os.path.join(idx, "locks", "shard-toys_001.lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        p = run(["rebuild-shard", "toys_001", "--catalog", cat, "--index", idx, "--lock-timeout", "100ms",
                 "--metrics-file", os.path.join(tmp, "rebuild-timeout.prom")])
        os.close(fd)
        check(p.returncode == 75, f"rebuild-shard with a held lock exits 75 (got {p.returncode})")
        seg = os.path.join(idx, "segments", sorted(os.listdir(os.path.join(idx, "segments")))[0])
        with open(seg, "r+b") as f:
            f.seek(64)
            b = f.read(1)
            f.seek(64)
            f.write(bytes([b[0] ^ 0x55]))
        p = run(["verify", "--index", idx, "--metrics-file", prom("verify")])
        check(p.returncode == 1, f"verify of a damaged segment exits 1 (got {p.returncode})")

        # The timed-out rebuild's file lies outside the collector's directory: beside the clean
        # rebuild's, two files would carry the same series, which node_exporter refuses.
        files = sorted(os.listdir(textfiles))
        check(len(files) == 5, f"five textfiles written ({files})")
        paths = [os.path.join(textfiles, n) for n in files] + [os.path.join(tmp, "rebuild-timeout.prom")]
        with open(paths[-1]) as f:
            timeout_text = f.read()
        check("pidx_lock_timed_out{" in timeout_text and timeout_text.count("} 1\n") >= 1
              and 'pidx_command_success{command="rebuild-shard"' in timeout_text,
              "the timed-out rebuild says pidx_lock_timed_out 1")
        for path in paths:
            name = os.path.basename(path)
            with open(path, "rb") as f:
                data = f.read()
            p = subprocess.run([PROMTOOL, "check", "metrics"], input=data, capture_output=True)
            check(p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(),
                  f"promtool check metrics {name}: {p.stdout.decode()}{p.stderr.decode()}")

        port = free_port()
        exporter = subprocess.Popen(
            [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}", "--collector.disable-defaults",
             "--collector.textfile", f"--collector.textfile.directory={textfiles}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        text = None
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    text = r.read().decode()
                break
            except OSError:
                if exporter.poll() is not None:
                    break
                time.sleep(0.1)
        check(text is not None, "node_exporter answered a scrape")
        if text:
            m = parse_exposition(text)
            check(m.get("node_textfile_scrape_error") == [({}, 0.0)],
                  f"node_textfile_scrape_error 0 ({m.get('node_textfile_scrape_error')})")
            mtimes = {l.get("file") for l, _ in m.get("node_textfile_mtime_seconds", [])}
            check(len(mtimes) == 5, f"node_exporter read the five files ({mtimes})")

            def one(name, **labels):
                got = [v for l, v in m.get(name, []) if all(l.get(k) == x for k, x in labels.items())]
                check(len(got) == 1, f"one {name} {labels} in the scrape (got {got})")
                return got[0] if got else None

            check(one("pidx_command_success", command="build", index=idx) == 1, "build succeeded")
            check(one("pidx_command_success", command="rebuild-shard", index=idx) in (0, 1), "rebuild series")
            check(one("pidx_index_categories", command="build", index=idx) == 3, "three categories")
            for c in ("books", "garden", "toys"):
                check(one("pidx_index_shards", command="build", index=idx, category=c) == 2, f"{c}: 2 shards")
            docs = [v for l, v in m.get("pidx_index_docs", []) if l.get("command") == "build"]
            check(len(docs) == 6 and sum(docs) == 60, f"docs per shard of the build ({docs})")
            check(one("pidx_index_last_publish_timestamp_seconds", command="build", index=idx) > 1.6e9,
                  "the time of the last publish")
            check(one("pidx_recall_ratio", command="recall", index=idx) == 1.0, "the recall gate's recall")
            check(one("pidx_recall_min_ratio", command="recall", index=idx) == 0.9, "the recall gate's min")
            check(one("pidx_lock_timed_out", command="build", index=idx) == 0, "build: no lock timeout")
            check(one("pidx_lock_wait_seconds", command="gc", index=idx) is not None, "gc: lock wait")
            findings = [v for l, v in m.get("pidx_verify_findings", [])]
            check(findings and sum(findings) >= 1, f"verify findings by kind ({findings})")
    finally:
        if exporter is not None:
            exporter.terminate()
            exporter.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} checks failed")
        return 1
    print("all Prometheus checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
