#!/usr/bin/env python3
"""Every command's --json output against its JSON Schema in docs/schemas/ (issue 18, "Stable
machine output"), with the real binary on a small generated catalog.

For each run: stdout is exactly one JSON object, it validates against the command's schema (or,
for a failure, against error.schema.json), and its exit code is the one expected. Across all
runs, a key has one JSON type wherever it appears (null aside, which means "none"): a script
that reads `shard_count` or `parent` in one command can read it the same way in every other.

Usage: json_schema_test.py --pidx BIN --gen PIDX_GEN --schemas DIR
Needs python3-jsonschema (Debian); exit 77 (ctest's skip) without it.
"""

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile

try:
    import jsonschema
except ImportError:
    print("SKIP: python3-jsonschema is not installed")
    sys.exit(77)

FAILURES = []
TYPES = {}  # key -> {json type: first "command/path" where seen}
RUNS = [0]


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg, flush=True)


def json_type(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        kinds = sorted({json_type(x) for x in v} - {None})
        return "array of " + ("/".join(kinds) if kinds else "anything")
    return "object"


def collect_types(value, where):
    if isinstance(value, dict):
        for k, v in value.items():
            t = json_type(v)
            if t is not None and t != "array of anything":
                seen = TYPES.setdefault(k, {})
                seen.setdefault(t, where + "." + k)
            collect_types(v, where + "." + k)
    elif isinstance(value, list):
        for x in value:
            collect_types(x, where + "[]")


class Pidx:
    def __init__(self, binary, schemas):
        self.binary = binary
        self.validators = {}
        for name in os.listdir(schemas):
            if name.endswith(".schema.json"):
                with open(os.path.join(schemas, name)) as f:
                    schema = json.load(f)
                jsonschema.Draft202012Validator.check_schema(schema)
                self.validators[name[:-len(".schema.json")]] = \
                    jsonschema.Draft202012Validator(schema)

    def run(self, args, expect, schema=None, env=None, what=None):
        """Runs pidx ARGS; checks exit code `expect` (int or tuple) and that stdout is one
        object valid against `schema` (the command's by default, "error" for a failure)."""
        RUNS[0] += 1
        what = what or " ".join(args)
        full_env = dict(os.environ, **(env or {}))
        r = subprocess.run([self.binary] + args, capture_output=True, text=True, env=full_env,
                           timeout=120)
        expects = expect if isinstance(expect, tuple) else (expect,)
        if r.returncode not in expects:
            fail("%s: exit %d, expected %s; stderr: %s" % (what, r.returncode, expects,
                                                           r.stderr[-400:]))
        try:
            obj = json.loads(r.stdout)
        except ValueError as e:
            fail("%s: stdout is not one JSON object (%s): %r" % (what, e, r.stdout[:300]))
            return None
        if not isinstance(obj, dict):
            fail("%s: stdout is JSON but not an object" % what)
            return None
        if schema is None:
            schema = "error" if obj.get("ok") is False and "error" in obj and \
                "exit_code" in obj else args[0]
        validator = self.validators.get(schema)
        if validator is None:
            fail("%s: no schema %s.schema.json in docs/schemas" % (what, schema))
            return obj
        errors = sorted(validator.iter_errors(obj), key=lambda e: list(e.path))
        for e in errors[:5]:
            fail("%s: not valid against %s.schema.json at %s: %s" % (
                what, schema, "/".join(str(p) for p in e.path), e.message))
        if schema == "error" and obj.get("exit_code") != r.returncode:
            fail("%s: error object says exit_code %s, the process exited %d" % (
                what, obj.get("exit_code"), r.returncode))
        collect_types(obj, args[0])
        return obj


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pidx", required=True)
    ap.add_argument("--gen", required=True)
    ap.add_argument("--schemas", required=True)
    a = ap.parse_args()
    p = Pidx(a.pidx, a.schemas)
    tmp = tempfile.mkdtemp(prefix="pidx-schema-")
    try:
        cat = os.path.join(tmp, "cat.jsonl")
        queries = os.path.join(tmp, "golden.jsonl")
        subprocess.run([a.gen, "--products", "300", "--seed", "3", "--out", cat, "--queries",
                        queries, "--query-count", "5"], check=True, capture_output=True)
        idx = os.path.join(tmp, "idx")
        J = ["--json", "--log-format", "json", "--quiet"]

        # Successes, one or more shapes per command.
        b1 = p.run(["build", "--catalog", cat, "--index", idx, "--shards-per-category", "2"] +
                   J, 0)
        if b1 and b1.get("parent") is not None:
            fail("a first build's parent is %r, not null" % b1.get("parent"))
        b2 = p.run(["build", "--catalog", cat, "--index", idx, "--shards-per-category", "2"] +
                   J, 0, what="build again (unchanged)")
        if b2 and (b2.get("unchanged") is not True or b2.get("version") != b1.get("version")):
            fail("a second build of the same catalog is not unchanged: %r" % b2)
        p.run(["build", "--catalog", cat, "--index", idx, "--shards-per-category", "2",
               "--force"] + J, 0, what="build --force")
        st = p.run(["stats", "--index", idx, "--top-terms", "3"] + J, 0)
        shard = st["shards"][0]["shard"] if st and st.get("shards") else "x_000"
        p.run(["stats", "--index", idx, "--shard", shard] + J, 0)
        p.run(["rebuild-shard", shard, "--catalog", cat, "--index", idx] + J, 0)
        p.run(["rebuild-shard", shard, "--catalog", cat, "--index", idx, "--force"] + J, 0)
        p.run(["verify", "--index", idx] + J, 0)
        p.run(["verify", "--index", idx, "--catalog", cat, "--all-versions"] + J, 0)
        p.run(["query", "--index", idx, "the"] + J, 0)
        p.run(["recall", "--index", idx, "--queries", queries] + J, 0)
        p.run(["recall", "--index", idx, "--queries", queries, "--min", "1"] + J, (0, 1))
        p.run(["versions", "--index", idx] + J, 0)
        p.run(["diff", "--index", idx, "1", "2"] + J, 0)
        p.run(["rollback", "--index", idx, "1"] + J, 0)
        p.run(["gc", "--index", idx, "--keep", "1", "--dry-run"] + J, 0)
        p.run(["gc", "--index", idx, "--keep", "1", "--grace", "0"] + J, 0)

        # A different catalog: findings and differences are results, not errors (exit 1).
        other = os.path.join(tmp, "other.jsonl")
        with open(cat) as src, open(other, "w") as dst:
            lines = src.read().splitlines()
            dst.write("\n".join(lines[20:]) + "\n")
        idx2 = os.path.join(tmp, "idx2")
        p.run(["build", "--catalog", other, "--index", idx2, "--shards-per-category", "2"] + J,
              0)
        p.run(["diff", idx, idx2] + J, 1)
        p.run(["diff", idx, idx2, "--summary"] + J, 1)
        v = p.run(["verify", "--index", idx2, "--catalog", cat] + J, 1)
        if v and (v.get("ok") is not False or v.get("findings_total", 0) < 20):
            fail("verify against a catalog with 20 more products: %r" % {
                k: v.get(k) for k in ("ok", "findings_total", "findings_listed", "truncated")})

        # Scale-out: plan, one worker, publish (twice: the second is unchanged).
        plan = os.path.join(tmp, "plan.json")
        stage = os.path.join(tmp, "stage")
        idx3 = os.path.join(tmp, "idx3")
        p.run(["plan", "--catalog", cat, "--index", idx3, "--workers", "1", "--out", plan,
               "--shards-per-category", "2"] + J, 0)
        p.run(["build", "--plan", plan, "--worker", "0", "--stage", stage] + J, 0,
              what="build --plan (a worker)")
        p.run(["publish", "--index", idx3, "--stage", stage, "--plan", plan] + J, 0)
        p.run(["publish", "--index", idx3, "--stage", stage, "--plan", plan] + J, 0,
              what="publish again (unchanged)")

        # Failures: one error object each, with the exit code the process returned.
        p.run(["build", "--bogus-flag"] + J, 64, schema="error", what="bad flag")
        p.run(["biuld", "--json"], 64, schema="error", what="unknown command")
        p.run(["verify", "--index", os.path.join(tmp, "nope")] + J, 66, schema="error",
              what="missing index")
        p.run(["stats", "--index", idx, "--version", "999"] + J, 66, schema="error",
              what="missing version")
        p.run(["query", "--index", idx, "(unclosed"] + J, 64, schema="error",
              what="query syntax error")
        p.run(["build", "--catalog", cat, "--index", idx] + J, 78, schema="error",
                  env={"PIDX_THREADS": "nan"}, what="bad PIDX_THREADS with --json")
        bad = os.path.join(tmp, "bad.jsonl")
        with open(bad, "w") as f:
            f.write('{"id":"a","category":"Books","title":"t"}\n{"id":"b","title":"no category"}\n')
        p.run(["build", "--catalog", bad, "--index", os.path.join(tmp, "idx-bad")] + J, 65,
              schema="error", what="corrupt catalog")
        if os.path.exists(os.path.join(tmp, "idx-bad")):
            fail("a failed first build left its index directory behind")
        lock = os.path.join(idx, "locks", "publish.lock")
        fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            e = p.run(["build", "--catalog", other, "--index", idx, "--lock-timeout", "100ms",
                       "--allow-shrink"] + J, 75, schema="error", what="lock timeout")
            if e and e.get("reason") != "lock_timeout":
                fail("lock timeout: reason %r" % e.get("reason"))
        finally:
            os.close(fd)
        with open(os.path.join(idx, "CURRENT"), "w") as f:
            f.write("v000001\nnot-a-checksum\n")
        p.run(["build", "--catalog", cat, "--index", idx] + J, 1, schema="error",
              what="damaged CURRENT")

        # One type per key, across every output above.
        if len(TYPES) < 80:
            fail("only %d distinct keys seen: the outputs were not collected" % len(TYPES))
        for key, types in sorted(TYPES.items()):
            if len(types) > 1:
                fail("key %r has %d types: %s" % (key, len(types), ", ".join(
                    "%s at %s" % (t, w) for t, w in sorted(types.items()))))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("json schema test: %d runs of pidx, %d problems" % (RUNS[0], len(FAILURES)))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
