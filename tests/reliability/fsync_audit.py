#!/usr/bin/env python3
"""fsync audit of a publish, from an strace log.

Usage: fsync_audit.py STRACE_LOG INDEX_DIR

The log comes from
  strace -f -y -e trace=openat,write,fsync,fdatasync,rename,renameat,renameat2,close -o LOG pidx ...
(-y prints the path behind every file descriptor). For every successful rename into INDEX_DIR
the audit checks, in the order the kernel completed the calls:
  1. the renamed file (by its temporary name) was fsynced (fsync or fdatasync) before the rename,
     and its directory after that fsync and before the rename;
  2. the target directory was fsynced after the rename;
  3. for every rename other than CURRENT's, that directory fsync came before CURRENT was renamed
     into place (what CURRENT names must be durable before CURRENT names it).
It prints one line per violation and a summary, and exits 1 when anything is wrong or when the
log holds no rename at all (an audit that saw nothing proves nothing), 0 otherwise.
"""
import os
import re
import sys

# "1234 fsync(5</abs/path>) = 0", possibly split into "<unfinished ...>" and "<... resumed>".
LINE = re.compile(r"^(\d+)\s+(.*)$")
UNFINISHED = re.compile(r"^(\w+)\((.*) <unfinished \.\.\.>$")
RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$")
CALL = re.compile(r"^(\w+)\((.*)\)\s+=\s+(-?\d+)")
FD_PATH = re.compile(r"^-?\d+<(.*)>$")
STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def unescape(s):
    return s.encode("latin-1", "backslashreplace").decode("unicode_escape")


def events(lines):
    """Yields (pid, name, args, result) in completion order."""
    pending = {}
    for raw in lines:
        raw = raw.rstrip("\n")
        m = LINE.match(raw)
        if not m:
            continue
        pid, rest = m.group(1), m.group(2)
        u = UNFINISHED.match(rest)
        if u:
            pending[pid] = (u.group(1), u.group(2))
            continue
        r = RESUMED.match(rest)
        if r and pid in pending:
            name, head = pending.pop(pid)
            rest = "%s(%s%s" % (name, head, r.group(2))
        c = CALL.match(rest)
        if c:
            yield pid, c.group(1), c.group(2), int(c.group(3))


def fd_path(args):
    first = args.split(",", 1)[0].strip()
    m = FD_PATH.match(first)
    return m.group(1) if m else None


def rename_paths(name, args, cwd):
    strings = [unescape(s) for s in STRING.findall(args)]
    if len(strings) < 2:
        return None
    src, dst = strings[0], strings[1]
    if name in ("renameat", "renameat2"):
        # renameat(olddirfd<path>, "old", newdirfd<path>, "new"): resolve against the dirfds.
        dirs = re.findall(r"(?:^|,\s*)(-?\d+|AT_FDCWD)(?:<([^>]*)>)?\s*,\s*\"", args)
        if len(dirs) >= 2:
            if not src.startswith("/") and dirs[0][1]:
                src = os.path.join(dirs[0][1], src)
            if not dst.startswith("/") and dirs[1][1]:
                dst = os.path.join(dirs[1][1], dst)
    src = os.path.normpath(os.path.join(cwd, src))
    dst = os.path.normpath(os.path.join(cwd, dst))
    return src, dst


def audit(log_path, index_dir, cwd):
    index_dir = os.path.realpath(index_dir)
    with open(log_path, encoding="latin-1") as f:
        evs = list(events(f))
    synced_at = {}  # path -> list of event positions of a successful fsync/fdatasync
    renames = []  # (position, src, dst)
    for pos, (pid, name, args, result) in enumerate(evs):
        if result < 0:
            continue
        if name in ("fsync", "fdatasync"):
            p = fd_path(args)
            if p is not None:
                synced_at.setdefault(os.path.normpath(p), []).append(pos)
        elif name in ("rename", "renameat", "renameat2"):
            paths = rename_paths(name, args, cwd)
            if paths is None:
                continue
            src, dst = paths
            if os.path.realpath(os.path.dirname(dst)).startswith(index_dir):
                renames.append((pos, os.path.realpath(os.path.dirname(src)) + "/" +
                                os.path.basename(src),
                                os.path.realpath(os.path.dirname(dst)) + "/" +
                                os.path.basename(dst)))
    problems = []
    current_at = [pos for pos, _, dst in renames if os.path.basename(dst) == "CURRENT"]
    commit = current_at[-1] if current_at else None
    if not renames:
        problems.append("no rename into %s was traced" % index_dir)
    if commit is None:
        problems.append("CURRENT was never renamed into place")
    for pos, src, dst in renames:
        before = [p for p in synced_at.get(src, []) if p < pos]
        if not before:
            problems.append("%s renamed to %s without an fsync of it first" % (src, dst))
        d = os.path.dirname(dst)
        src_dir = os.path.dirname(src)
        if before and not [p for p in synced_at.get(src_dir, []) if before[-1] < p < pos]:
            problems.append("directory %s not fsynced between the fsync of %s and its rename" %
                            (src_dir, os.path.basename(src)))
        after = [p for p in synced_at.get(d, []) if p > pos]
        if not after:
            problems.append("directory %s not fsynced after renaming %s into it" %
                            (d, os.path.basename(dst)))
        elif commit is not None and pos != commit and pos < commit and min(after) > commit:
            problems.append("directory %s fsynced after %s only once CURRENT was renamed" %
                            (d, os.path.basename(dst)))
    for p in problems:
        print("fsync-audit: " + p)
    print("fsync-audit: %d renames, %d fsyncs, %d problems" %
          (len(renames), sum(len(v) for v in synced_at.values()), len(problems)))
    return 0 if not problems else 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__)
        sys.exit(64)
    sys.exit(audit(sys.argv[1], sys.argv[2], os.getcwd()))
