#!/usr/bin/env python3
"""Ratio table of a ring_kind_bench run (docs/benchmarks.md).

    ring_kind_bench --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true \
        --benchmark_out=ring_kind.json --benchmark_out_format=json
    python3 bench/ring_kind_ratios.py ring_kind.json

Per row, over its repetitions: the median frames/s (Mpps) and its spread
((max - min) / median); "vs split" is the row's median over the median of
the split row of the same direction and size, with in brackets the
conservative range min(row)/max(split) .. max(row)/min(split); "driver vs
split" is the same ratio on the driver side alone (median drv_ns of split
over the row's: > 1 is faster); "mock" is the median share of the sampled
time spent in the mock device; "indirect vs direct" compares an indirect
row with the direct-chain row of the same ring, size and fragment count.
Prints a Markdown table.
"""
import json
import statistics
import sys


def main(path):
    with open(path) as f:
        data = json.load(f)
    rows = {}
    order = []
    for b in data["benchmarks"]:
        if b.get("run_type") != "iteration" or b.get("error_occurred"):
            continue
        name = b["run_name"]
        if name not in rows:
            rows[name] = {"ips": [], "drv": [], "mock_frac": []}
            order.append(name)
        r = rows[name]
        r["ips"].append(b["items_per_second"] / 1e6)
        r["drv"].append(b.get("drv_ns", float("nan")))
        r["mock_frac"].append(b.get("mock_frac", float("nan")))

    def med(name, key):
        return statistics.median(rows[name][key])

    def baseline(name):
        d, size = name.split("/")[:2]
        return f"{d}/{size}/split"

    def direct_twin(name):
        parts = name.split("/")
        if "+indirect" not in parts[2] or len(parts) < 4:
            return None
        parts[2] = parts[2].replace("+indirect", "")
        return "/".join(parts)

    kinds = ["split", "packed", "split+in_order", "split+in_order_b1", "packed+in_order_b1",
             "split+indirect", "packed+indirect"]

    def key(name):
        parts = name.split("/")
        frags = int(parts[3].split(":")[1]) if len(parts) > 3 else 1
        kind = parts[2].replace("+indirect", "") if frags > 1 else parts[2]
        return (parts[0] != "tx", int(parts[1]), frags,
                kinds.index(kind) if kind in kinds else 99, "+indirect" in parts[2])

    order.sort(key=key)
    print("| row | Mpps | spread | vs split [range] | driver vs split | mock | indirect vs direct |")
    print("|-----|------|--------|------------------|-----------------|------|--------------------|")
    for name in order:
        r = rows[name]
        m = med(name, "ips")
        spread = (max(r["ips"]) - min(r["ips"])) / m * 100
        base = baseline(name)
        ratio = drv = "--"
        if base in rows and base != name:
            b = rows[base]["ips"]
            ratio = (f"{m / med(base, 'ips'):.2f} "
                     f"[{min(r['ips']) / max(b):.2f}..{max(r['ips']) / min(b):.2f}]")
            drv = f"{med(base, 'drv') / med(name, 'drv'):.2f}"
        elif base == name:
            ratio, drv = "1.00", "1.00"
        twin = direct_twin(name)
        ind = "--"
        if twin and twin in rows:
            ind = f"{m / med(twin, 'ips'):.2f} (driver {med(twin, 'drv') / med(name, 'drv'):.2f})"
        print(f"| {name} | {m:.2f} | {spread:.0f} % | {ratio} | {drv} | "
              f"{med(name, 'mock_frac') * 100:.0f} % | {ind} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
