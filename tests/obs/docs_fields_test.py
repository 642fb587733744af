#!/usr/bin/env python3
"""Every field and event name docs/monitoring/loki.md queries exists in docs/CLI.md's event
table (issue 19): a query written against a field pidx does not log would match nothing, in
silence. Also checks that the parser below finds what it should (a query naming an unknown
field is refused).

usage: docs_fields_test.py SOURCE_DIR
"""
import os
import re
import sys

SOURCE = sys.argv[1]
STREAM_LABELS = {"job"}  # the selector's labels are Loki's, not pidx's


def cli_names(text):
    """(fields, events) of docs/CLI.md's "Events" section."""
    section = text.split("\n## Events", 1)[1].split("\n## ", 1)[0]
    fields, events = set(), set()
    common = section.split("| event |", 1)[0]
    fields.update(re.findall(r"`([a-z_]+)`", common))
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        events.update(re.findall(r"`([a-z_.]+)`", cells[0]))
        fields.update(re.findall(r"`([a-z_]+)`", cells[2] if len(cells) > 2 else ""))
    return fields, events


def query_names(query):
    """(fields, events) a LogQL query uses after its `| json` stage."""
    fields, events = set(), set()
    for stage in query.split("| json")[1:]:
        stage = stage.split("[")[0] if "unwrap" not in stage else stage
        for name, op, value in re.findall(r'\b([a-z_]+)\s*(=~|!=|=|>|<)\s*("[^"]*"|[^\s)]+)', stage):
            fields.add(name)
            if name == "event":
                v = value.strip('"')
                v = v.replace("\\", "")
                m = re.fullmatch(r"([a-z_.]*)\(([a-z_|]+)\)", v) if op == "=~" else None
                if m:
                    events.update(m.group(1) + alt for alt in m.group(2).split("|"))
                else:
                    events.add(v)
        fields.update(re.findall(r"\{\{\s*\.([a-z_]+)\s*\}\}", stage))
        fields.update(re.findall(r"\bunwrap\s+([a-z_]+)", stage))
    for group in re.findall(r"\bby\s*\(([^)]*)\)", query):
        fields.update(g.strip() for g in group.split(",") if g.strip())
    return fields - STREAM_LABELS, events


def main():
    with open(os.path.join(SOURCE, "docs", "CLI.md")) as f:
        cli_fields, cli_events = cli_names(f.read())
    with open(os.path.join(SOURCE, "docs", "monitoring", "loki.md")) as f:
        doc = f.read()
    queries = re.findall(r"```logql\n(.*?)```", doc, re.S)
    failures = []
    if len(queries) < 8:
        failures.append(f"loki.md has {len(queries)} LogQL queries, expected the documented ones")
    used_fields, used_events = set(), set()
    for q in queries:
        fl, ev = query_names(q)
        used_fields |= fl
        used_events |= ev
    for name in sorted(used_fields - cli_fields):
        failures.append(f"loki.md uses field {name!r}, which docs/CLI.md's event table does not list")
    for name in sorted(used_events - cli_events):
        failures.append(f"loki.md uses event {name!r}, which docs/CLI.md's event table does not list")
    # The parser itself: the fields of a known query, and an unknown field caught.
    fl, ev = query_names('{job="pidx"} | json | event=~"index.rebuild.(completed|failed)" | waited_ms > 5 '
                         '| line_format "{{.holder_pid}}"')
    if fl != {"event", "waited_ms", "holder_pid"} or ev != {"index.rebuild.completed", "index.rebuild.failed"}:
        failures.append(f"the query parser is wrong: {fl} {ev}")
    if "no_such_field" in cli_fields or not (query_names('{job="pidx"} | json | no_such_field="x"')[0] - cli_fields):
        failures.append("an unknown field is not caught")
    for must in ("shard", "lock", "holder_pid", "waited_ms", "reason", "trace_id", "span_id"):
        if must not in used_fields:
            failures.append(f"loki.md does not query {must!r}")
    for must in ("lock.timeout", "index.publish.refused", "index.rebuild.started"):
        if must not in used_events:
            failures.append(f"loki.md does not query {must!r}")
    for f_ in failures:
        print("FAIL:", f_)
    print(f"{len(queries)} queries, {len(used_fields)} fields, {len(used_events)} events checked")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
