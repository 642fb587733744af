#!/usr/bin/env python3
"""Segment format 2 end to end, on the real binary (issue 16):

1. an independent decoder (decode_seg2.py, no lib/ code) reads every segment of a built index and
   agrees with `pidx query --json` on the total and the ids of sampled terms;
2. a flipped byte in each section of a segment (several offsets each) makes `pidx query` on a
   query that touches it fail naming the shard, and `pidx verify` fail naming the shard.

    seg2_cli_test.py --pidx PIDX --gen PIDX_GEN
Exit 0 passed, 1 failed, 77 skipped (python3-xxhash or python3-zstandard missing).
"""
import argparse
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import decode_seg2 as seg2
except ImportError as e:  # python3-xxhash, python3-zstandard: Debian's, another python3 lacks them
    if os.path.exists("/usr/bin/python3") and sys.executable != "/usr/bin/python3":
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("skipped:", e)
    sys.exit(77)

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(args):
    return subprocess.run(args, capture_output=True, text=True)


def manifest(index):
    vname = open(os.path.join(index, "CURRENT")).read().split("\n")[0]
    text = open(os.path.join(index, "versions", vname + ".manifest")).read()
    return json.loads(text[:text.rfind("xxh3 ")])


QUERYABLE = re.compile(rb"^(title|description):[a-z0-9]+$")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pidx", required=True)
    ap.add_argument("--gen", required=True)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="seg2-test-")
    try:
        catalog = os.path.join(tmp, "c.jsonl")
        index = os.path.join(tmp, "idx")
        r = run([a.gen, "--products", "4000", "--seed", "5", "--out", catalog])
        assert r.returncode == 0, r.stderr
        r = run([a.pidx, "build", "--catalog", catalog, "--index", index, "--shards-per-category",
                 "2", "--log-level", "warn"])
        assert r.returncode == 0, r.stderr
        m = manifest(index)
        segs = {}
        terms = {}  # term -> list of external ids over all shards
        for e in m["shards"]:
            path = os.path.join(index, "segments", e["segment"])
            s = seg2.Segment(open(path, "rb").read())
            check(s.shard == e["shard"], "shard name of " + e["segment"])
            check(s.doc_codec == 1, "doc blocks of %s are zstd (doc_codec 1)" % e["shard"])
            check(s.docs == e["docs"] and s.terms == e["terms"] and s.postings == e["postings"],
                  "counts of " + e["shard"])
            docs = list(s.doc_records())
            check(len(docs) == s.docs, "doc records of " + e["shard"])
            check(all(len(d[3]) == len(m["schema"]["fields"]) for d in docs),
                  "one field hash per schema field in " + e["shard"])
            ids = [d[0] for d in docs]
            check(ids == sorted(ids, key=lambda x: x.encode()), "docs in external id order")
            entries = list(s.dictionary())
            check(len(entries) == s.terms, "term count of " + e["shard"])
            check([t for t, _ in entries] == sorted(t for t, _ in entries), "terms sorted")
            for t, local in entries:
                terms.setdefault(t, []).extend(ids[d] for d in local)
            segs[e["shard"]] = (path, s, entries, ids)

        # 1. Agreement with pidx query on sampled terms (rare, medium and common ones).
        rng = random.Random(7)
        queryable = sorted(t for t in terms if QUERYABLE.match(t))
        by_df = sorted(queryable, key=lambda t: (len(terms[t]), t))
        sample = set(rng.sample(queryable, 40)) | set(by_df[-10:]) | set(by_df[:5])
        for t in sorted(sample):
            q = t.decode()
            r = run([a.pidx, "query", "--index", index, "--json", "--limit", "100000", "--", q])
            check(r.returncode == 0, "query " + q + ": " + r.stderr)
            if r.returncode:
                continue
            j = json.loads(r.stdout)
            want = sorted(terms[t], key=lambda x: x.encode())
            check(j["total"] == len(want), "total of %s: pidx %d, decoder %d" %
                  (q, j["total"], len(want)))
            check([h["id"] for h in j["hits"]] == want, "ids of " + q)
        print("decoder agrees with pidx query on %d terms" % len(sample))

        # 2. Flipped bytes, each section, several offsets.
        shard = max(segs, key=lambda k: os.path.getsize(segs[k][0]))
        path, s, entries, ids = segs[shard]
        data = open(path, "rb").read()
        f = len(data) - seg2.FOOTER
        table = [struct.unpack_from("<QQ", data, f + 16 * i) for i in range(7)]
        q_entries = [(t, local) for t, local in entries if QUERYABLE.match(t)]

        # Which dictionary block, roaring list and doc block each byte belongs to.
        block_of_term = {}
        index_bytes = s.sections[2]
        pos, at, left, b = 0, 0, s.terms, 0
        block_ranges = []
        while left:
            size, pos2 = seg2.varint(index_bytes, pos + 8)
            n, pos2 = seg2.varint(index_bytes, pos2)
            pos = pos2 + n
            block_ranges.append((at, at + size))
            at += size
            left -= min(left, s.term_block)
        for i, (t, local) in enumerate(entries):
            block_of_term[t] = i // s.term_block
        doc_block_ranges = []
        pos, at, left = 0, 0, s.docs
        while left:
            size, pos = seg2.varint(s.sections[6], pos + 8)
            doc_block_ranges.append((at, at + size))
            at += size
            left -= min(left, s.doc_block)

        def query_for(section, rel):
            """A query (and --limit) that reads the byte at `rel` of `section`."""
            if section == 1:
                blk = next(i for i, (x, y) in enumerate(block_ranges) if x <= rel < y)
                cands = [t for t, _ in q_entries if block_of_term[t] == blk]
                return (cands[0].decode(), "1") if cands else None
            if section == 3:
                # Reading any Roaring list of a 64 KiB chunk checks the whole chunk: an OR of
                # every queryable term with a Roaring list reads them all.
                big = [t for t, local in q_entries if len(local) > s.inline_max]
                return (" OR ".join(t.decode() for t in big), "1") if big else None
            if section == 5:
                blk = next(i for i, (x, y) in enumerate(doc_block_ranges) if x <= rel < y)
                doc = blk * s.doc_block
                cands = [t for t, local in q_entries if doc in local]
                return (cands[0].decode(), "100000") if cands else None
            return (q_entries[0][0].decode(), "1")

        flips = 0
        regions = [(i, table[i][0], table[i][1]) for i in range(7)]
        regions.append(("footer", f, seg2.FOOTER))
        regions.append(("header", 0, 16))
        for sec, start, size in regions:
            if size == 0:
                continue
            offsets = sorted({0, size - 1} | {rng.randrange(size) for _ in range(4)})
            for rel in offsets:
                q = query_for(sec if isinstance(sec, int) else -1, rel)
                if q is None:
                    continue
                name = seg2.SECTIONS[sec] if isinstance(sec, int) else sec
                bad = bytearray(data)
                bad[start + rel] ^= 1 << rng.randrange(8)
                os.chmod(path, 0o644)
                open(path, "wb").write(bytes(bad))
                r = run([a.pidx, "query", "--index", index, "--limit", q[1], "--", q[0]])
                check(r.returncode != 0 and shard in r.stderr,
                      "query %r after a flip in %s at %d: exit %d, %s" %
                      (q[0][:60], name, rel, r.returncode, r.stderr.strip()[-300:]))
                v = run([a.pidx, "verify", "--index", index])
                check(v.returncode != 0 and shard in (v.stdout + v.stderr),
                      "verify after a flip in %s at %d: exit %d" % (name, rel, v.returncode))
                flips += 1
                open(path, "wb").write(data)
        check(flips >= 30, "at least 30 flips tried (%d)" % flips)
        r = run([a.pidx, "verify", "--index", index])
        check(r.returncode == 0, "verify of the restored index: " + r.stdout + r.stderr)
        print("%d flipped bytes, each failed query and verify naming %s" % (flips, shard))
    finally:
        shutil.rmtree(tmp)
    if failures:
        print("%d failures" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
