#!/usr/bin/env python3
"""Run the same lie scenarios in every world that can tell them, side by side.

    compare_lies.py [--scenario FILE ...] [--worlds mock,vnet,linux]
                    [--seconds N] [--device BIN] [--mock BIN] [--guest-image ELF]
                    [--markdown OUT] [--json OUT] [--keep DIR] [--expect-vnet-survives]

One scenario file (docs/scenarios.md) -- a lie the device tells and when --
runs in up to three worlds:

  mock   in process: our driver against the mock device (vnet-mock), the
         scenario's own expectations checked and its verdict graded
  vnet   our bare-metal guest under QEMU, its virtio-net device served by
         vnet-vhost-device over vhost-user (vhost_guest.py --guest vnet):
         the same device model, the same lie, told to the same driver
         across a real hypervisor
  linux  Linux's virtio_net under QEMU against vnet-vhost-device
         (vhost_guest.py --guest linux): the same lie told to a driver
         nobody here wrote

In the two QEMU worlds the device pings the guest all along (every
--ping-ms, default 200 ms), so what a lie did shows as traffic: the echo
replies the guest sent before the first lie and after it. The lie's own
evidence comes from the device (faults applied, configuration interrupts it
could not deliver) and the guest (our guest's driver lines; Linux's kernel
messages, its interface's error counters, whether it hung).

Output: a table (markdown with --markdown, and on stdout) with one row per
scenario and one column per world, and a JSON report with everything each
run said. Exit 0 when every run ran (a guest that hung under a lie is an
outcome, not a failure), 1 otherwise -- and, with --expect-vnet-survives,
when our guest answered no ping after a lie that was told, or a lie was
told to no guest at all.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RUNNER = os.path.join(ROOT, "tools", "vnet-vhost-device", "vhost_guest.py")
DEFAULT_SCENARIOS = [
    "mock_device/scenarios/misbehave_used_id_out_of_range.json",
    "mock_device/scenarios/misbehave_used_len_over.json",
    "mock_device/scenarios/misbehave_used_double_complete.json",
    "mock_device/scenarios/irq_storm.json",
]
WORLDS = ("mock", "vnet", "linux")
# Linux's interface error counters worth showing when they moved
# (rx_dropped is not among them: the stack drops the scenario's raw test
# frames, which carry no protocol it speaks, lie or no lie).
LINUX_ERROR_STATS = ("rx_errors", "rx_length_errors", "rx_frame_errors", "rx_over_errors",
                     "tx_errors", "tx_dropped")


def log(msg):
    print("compare_lies: " + msg, file=sys.stderr, flush=True)


def run_mock(args, scenario, tmp):
    out = os.path.join(tmp, "mock.json")
    p = subprocess.run([args.mock, "--json", out, scenario], capture_output=True, text=True,
                       timeout=120)
    try:
        s = json.load(open(out))["scenarios"][0]
    except (OSError, ValueError, KeyError, IndexError):
        return {"ran": False, "error": f"vnet-mock exit {p.returncode}: {p.stderr.strip()[-300:]}"}
    cell = f"{s['verdict']}: {s['verdict_reason']}"
    if s["result"] != "PASS":
        cell += f" (scenario {s['result']}: {'; '.join(s.get('failures', []))})"
    return {"ran": True, "cell": cell, "verdict": s["verdict"], "result": s["result"],
            "counters": s.get("counters", {}), "violations": s.get("violations", [])}


def lie_steps(report):
    """The device's steps that told a lie (not frames, not skipped driver steps)."""
    return [s for s in report.get("steps", [])
            if not s["what"].startswith("skipped") and "frame(s) for the guest" not in s["what"]]


def traffic_around_lie(report):
    t = report.get("traffic", {})
    lies = lie_steps(report)
    if not lies:
        return None
    first = lies[0]
    return {"lie_t": round(first["t"], 1), "lie": first["what"],
            "before": [first["ping_replies"], first["pings_sent"]],
            "after": [t.get("ping_replies", 0) - first["ping_replies"],
                      t.get("pings_sent", 0) - first["pings_sent"]]}


def run_guest(args, scenario, guest, tmp):
    out = os.path.join(tmp, guest + ".json")
    argv = [sys.executable, RUNNER, "--guest", guest, "--scenario", scenario,
            "--seconds", str(args.seconds), "--device", args.device, "--json", out]
    if guest == "vnet" and args.guest_image:
        argv += ["--guest-image", args.guest_image]
    if args.keep:
        argv += ["--keep", os.path.join(args.keep, os.path.basename(scenario) + "." + guest)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    try:
        j = json.load(open(out))
    except (OSError, ValueError):
        return {"ran": False, "error": f"vhost_guest.py exit {p.returncode}: "
                                       f"{(p.stderr or p.stdout).strip()[-400:]}"}
    dev = j.get("device", {}).get("report") or {}
    g = j.get("guest", {})
    counters = dev.get("device_counters", {})
    traffic = dev.get("traffic", {})
    around = traffic_around_lie(dev)
    told = counters.get("faults_applied", 0) + counters.get("descriptors_rewritten", 0)
    undelivered = traffic.get("config_changes_undelivered", 0)
    res = {"ran": p.returncode == 0, "failures": j.get("failures", []), "notes": j.get("notes", []),
           "around_lie": around, "faults_applied": told, "config_undelivered": undelivered,
           "violations": dev.get("conformance", {}).get("violations", []),
           "device_counters": counters, "traffic": traffic}
    parts = []
    if guest == "linux":
        reports = [x for x in g.get("kernel_reports", []) if "RIP:" not in x and
                   "Call Trace" not in x]
        res["kernel_reports"] = g.get("kernel_reports", [])
        if reports:
            parts.append("; ".join(f"`{x}`" for x in reports[:3]))
        if g.get("kernel_trouble"):
            parts.append("the guest hung (its kernel reported a lockup or stall)")
        stats = {k: v for k, v in g.get("stats", {}).items() if k in LINUX_ERROR_STATS and v}
        res["stats"] = g.get("stats", {})
        if stats:
            parts.append(", ".join(f"{k} {v}" for k, v in stats.items()))
    else:
        lines = [x[len("vnet-guest: "):] for x in g.get("lines", [])
                 if "driver" in x and not x.startswith("vnet-guest: ready")]
        res["guest_lines"] = lines
        if lines:
            parts.append("; ".join(f"`{x}`" for x in lines[:3]))
    if around:
        b, a = around["before"], around["after"]
        parts.append(f"pings answered before the lie {b[0]}/{b[1]}, after it {a[0]}/{a[1]}")
    if undelivered:
        parts.append(f"{undelivered} configuration interrupts never reached the guest "
                     "(QEMU's virtio-net takes none from a vhost-user back end)")
    elif not told:
        parts.append("the lie was never told (no fault applied)")
    if res["violations"]:
        parts.append("violations: " + ", ".join(v["id"] for v in res["violations"]))
    if not res["ran"]:
        parts.append("RUN FAILED: " + "; ".join(res["failures"]))
    res["cell"] = "; ".join(parts) if parts else "no visible effect"
    return res


def markdown(rows, worlds):
    head = {"mock": "our driver, in process (vnet-mock)",
            "vnet": "our guest, QEMU + vhost-user",
            "linux": "Linux 6.1 virtio_net, QEMU + vhost-user"}
    out = ["| scenario | " + " | ".join(head[w] for w in worlds) + " |",
           "|---|" + "---|" * len(worlds)]
    for r in rows:
        cells = [r["worlds"].get(w, {}).get("cell") or r["worlds"].get(w, {}).get("error", "")
                 for w in worlds]
        out.append(f"| `{os.path.basename(r['scenario'])}` | " +
                   " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", action="append", help="scenario file (repeatable; default: "
                    "four lies: used id out of range, used len over, double completion, "
                    "configuration interrupt storm)")
    ap.add_argument("--worlds", default=",".join(WORLDS))
    ap.add_argument("--seconds", type=int, default=10, help="guest time per QEMU run")
    ap.add_argument("--device", default=os.path.join(ROOT, "build/default/bin/vnet-vhost-device"))
    ap.add_argument("--mock", default=os.path.join(ROOT, "build/default/bin/vnet-mock"))
    ap.add_argument("--guest-image", help="our guest's image (vhost_guest.py's default if unset)")
    ap.add_argument("--markdown", help="write the table here")
    ap.add_argument("--json", help="write every run's outcome here")
    ap.add_argument("--keep", help="keep each QEMU run's logs under this directory")
    ap.add_argument("--expect-vnet-survives", action="store_true",
                    help="fail unless our guest answered pings after every lie told to it")
    args = ap.parse_args()
    worlds = [w for w in args.worlds.split(",") if w]
    bad_world = [w for w in worlds if w not in WORLDS]
    if bad_world:
        ap.error(f"unknown world(s) {bad_world}: choose from {','.join(WORLDS)}")
    scenarios = args.scenario or [os.path.join(ROOT, s) for s in DEFAULT_SCENARIOS]
    for s in scenarios:
        if not os.path.isfile(s):
            ap.error(f"no scenario file {s}")
    for w, binary in (("mock", args.mock), ("vnet", args.device), ("linux", args.device)):
        if w in worlds and not os.access(binary, os.X_OK):
            ap.error(f"world {w} needs {binary} (build it, or pass --mock/--device)")

    rows, failed = [], []
    with tempfile.TemporaryDirectory(prefix="vnet-lies-") as tmp:
        for s in scenarios:
            row = {"scenario": os.path.relpath(s, ROOT), "worlds": {}}
            for w in worlds:
                log(f"{os.path.basename(s)}: {w}")
                wt = os.path.join(tmp, f"{len(rows)}.{w}")
                os.makedirs(wt)
                res = run_mock(args, s, wt) if w == "mock" else run_guest(args, s, w, wt)
                row["worlds"][w] = res
                if not res.get("ran"):
                    failed.append(f"{row['scenario']} in {w}: " +
                                  (res.get("error") or "; ".join(res.get("failures", []))))
                if args.expect_vnet_survives and w == "vnet" and res.get("ran"):
                    around = res.get("around_lie")
                    if res.get("faults_applied") and around and around["after"][0] == 0:
                        failed.append(f"{row['scenario']}: our guest answered no ping after "
                                      f"the lie ({around['after'][1]} sent)")
                    if not res.get("faults_applied") and not res.get("config_undelivered"):
                        failed.append(f"{row['scenario']}: the lie was never told to our guest")
            rows.append(row)
    table = markdown(rows, worlds)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"worlds": worlds, "rows": rows, "failures": failed}, f, indent=2)
    for f in failed:
        print("FAIL: " + f)
    print("PASS" if not failed else "FAIL")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
