#!/usr/bin/env python3
"""Device-facing line coverage of driver/ from an llvm-cov JSON export.

    coverage_device_facing.py EXPORT.json SHOW.txt EXCLUSIONS.txt ROOT

EXPORT.json is `llvm-cov export -format=text` (function bodies), SHOW.txt
`llvm-cov show -show-line-counts` (line counts) of the same profile.

Every executable driver line counts, except the lines of the functions that
EXCLUSIONS.txt names (a regular expression on the demangled name, then why
the device cannot reach it). Prints the percentage, every uncovered line
that counts (file:line, function, source), and the excluded functions with
their reasons. Exit 0; the caller decides what a figure means.
"""
import json
import re
import subprocess
import sys
from collections import defaultdict


def main():
    export_path, show_path, exclusions_path = sys.argv[1], sys.argv[2], sys.argv[3]
    root = sys.argv[4].rstrip("/") + "/"
    rules = []
    for raw in open(exclusions_path):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pattern, _, reason = line.partition(" ")
        rules.append((re.compile(pattern), reason.strip()))
    data = json.load(open(export_path))["data"][0]

    # Per file: line -> execution count, as llvm-cov show counts lines
    # (SHOW.txt: "  <line>|  <count>|<source>", no count on lines without code).
    counts = defaultdict(dict)
    current = None
    for raw in open(show_path):
        if raw.startswith("/") and raw.rstrip().endswith(":"):
            current = raw.rstrip()[:-1]
            continue
        parts = raw.split("|", 2)
        if current is None or "/driver/" not in current or len(parts) < 3:
            continue
        line_no, count = parts[0].strip(), parts[1].strip()
        if not line_no.isdigit() or not count:
            continue
        value = float(count[:-1]) * {"k": 1e3, "M": 1e6, "G": 1e9}[count[-1]] \
            if count[-1] in "kMG" else float(count)
        counts[current][int(line_no)] = value

    # Function bodies: names (demangled) and the line span of their first region.
    mangled = [fn["name"] for fn in data["functions"]]
    demangled = subprocess.run(["c++filt"], input="\n".join(mangled), capture_output=True,
                               text=True).stdout.split("\n")
    excluded_lines = defaultdict(set)
    excluded_fns = {}
    owner = defaultdict(dict)
    for fn, dname in zip(data["functions"], demangled):
        for fname in fn["filenames"]:
            if "/driver/" not in fname:
                continue
            regions = [r for r in fn["regions"] if fn["filenames"][r[5]] == fname]
            if not regions:
                continue
            lo = min(r[0] for r in regions)
            hi = max(r[2] for r in regions)
            for ln in range(lo, hi + 1):
                owner[fname].setdefault(ln, dname)
            for pattern, reason in rules:
                if pattern.search(dname):
                    excluded_lines[fname].update(range(lo, hi + 1))
                    excluded_fns[dname.split("(")[0]] = reason
                    break

    total = covered = 0
    missed = []
    for fname in sorted(counts):
        for ln, c in sorted(counts[fname].items()):
            if ln in excluded_lines[fname]:
                continue
            total += 1
            if c > 0:
                covered += 1
            else:
                missed.append((fname, ln))
    pct = 100.0 * covered / total if total else 0.0
    print(f"device-facing line coverage: {pct:.2f}% ({covered}/{total} lines; "
          f"{len(excluded_fns)} functions not device-facing, listed below)")
    if missed:
        print("uncovered device-facing lines:")
        sources = {}
        for fname, ln in missed:
            if fname not in sources:
                sources[fname] = open(fname).read().split("\n")
            text = sources[fname][ln - 1].strip() if ln - 1 < len(sources[fname]) else ""
            fn = owner[fname].get(ln, "?").split("(")[0]
            print(f"  {fname.replace(root, '')}:{ln}  [{fn}]  {text}")
    print("not device-facing (scripts/coverage-exclusions.txt):")
    for name in sorted(excluded_fns):
        print(f"  {name}: {excluded_fns[name]}")


if __name__ == "__main__":
    main()
