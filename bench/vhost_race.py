#!/usr/bin/env python3
"""The race (issue 17): vnetkit's driver against DPDK's own virtio driver
(the virtio-user PMD), each forwarding against the very same back end,
DPDK's vhost library in dpdk-testpmd, on the same two cores.

    back end   dpdk-testpmd --vdev net_vhost0  on core 0 (both its lcores)
               `set fwd mac`, `set txpkts SIZE`, `start tx_first 32`: it
               injects 32 bursts, then forwards back whatever returns
    driver A   vnet-vhost --mode fwd --fwd mac  on core 1
    driver B   dpdk-testpmd --vdev net_virtio_user0, `set fwd mac`, on core 1

The figure is the back end's Rx-pps (testpmd's own rate since the previous
`show port stats`): frames per second the driver under test forwarded back,
measured by the same instrument for both drivers. Runs alternate A B A B
in one invocation; every pair's ratio A/B is printed, and the median.

    bench/vhost_race.py --vnet-vhost build/default/bin/vnet-vhost \\
        [--rounds 3] [--seconds 5] [--sizes 64,1518] [--kinds split,packed,in_order]
        [--json out.json]

Needs dpdk-testpmd (Debian: dpdk-dev) and taskset; runs as root or as a
user allowed to lock memory. Every process it starts is reaped, every
socket removed, even on Ctrl-C.
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools",
                                "vnet-vhost"))
from testpmd import TESTPMD, Proc, stop_all, testpmd  # noqa: E402

KIND_OPTS = {
    # vnet-vhost flags, virtio-user devargs
    "split": ([], "in_order=0,packed_vq=0"),
    "packed": (["--packed"], "in_order=0,packed_vq=1"),
    "in_order": (["--in-order"], "in_order=1,packed_vq=0"),
    "packed_in_order": (["--packed", "--in-order"], "in_order=1,packed_vq=1"),
}


def cleanup(*_):
    stop_all()
    sys.exit(130)


def backend(sock, prefix):
    return testpmd(prefix, [f"net_vhost0,iface={sock},queues=1"], "0@0,1@0")


def measure(args, driver, kind, size, n):
    """One run: returns the back end's Rx-pps (frames/s forwarded back)."""
    tmp = tempfile.mkdtemp(prefix="vnet-race-")
    sock = os.path.join(tmp, "vhost.sock")
    tag = f"vnet-race-{os.getpid()}-{n}"
    procs = []
    try:
        be = backend(sock, tag + "-be")
        procs.append(be)
        flags, devargs = KIND_OPTS[kind]
        total = args.warmup + args.seconds + 10
        if driver == "vnet":
            drv = Proc(["taskset", "-c", "1", args.vnet_vhost, "--socket", sock, "--mode", "fwd",
                        "--fwd", "mac", "--quiet", "--no-mrg-rxbuf", "--ring", "1024",
                        "--max-frame", "1518",
                        "--burst", "32", "--seconds", str(total), "--json",
                        os.path.join(tmp, "vnet.json")] + flags, "vnet")
            procs.append(drv)
        else:
            drv = testpmd(f"{tag}-vu",
                          [f"net_virtio_user0,mac=00:01:02:03:04:05,path={sock},queues=1,"
                           f"mrg_rxbuf=0,{devargs},queue_size=1024"], "0@1,1@1")
            procs.append(drv)
        if driver == "dpdk":
            drv.send("set fwd mac")
            drv.send("start")
        if not be.wait_for(r"virtio is now ready", 30):
            raise RuntimeError(f"{driver} never connected:\n" + drv.text()[-2000:])
        if driver == "vnet" and not drv.wait_for(r"attached:", 10):
            raise RuntimeError("vnet-vhost did not attach:\n" + drv.text()[-2000:])
        time.sleep(0.5)
        be.send("set fwd mac")
        be.send(f"set txpkts {size}")
        be.send("start tx_first 32")
        time.sleep(args.warmup)
        be.send("show port stats 0")
        time.sleep(args.seconds)
        mark = len(be.text())
        be.send("show port stats 0")
        if not be.wait_for(r"Rx-pps:\s+\d+[\s\S]*Rx-pps:\s+\d+", 5):
            raise RuntimeError("no port stats:\n" + be.text()[-1500:])
        tail = be.text()[mark:]
        m = re.search(r"Rx-pps:\s+(\d+)", tail)
        if not m:
            raise RuntimeError("no Rx-pps in:\n" + tail)
        return int(m.group(1))
    finally:
        for p in reversed(procs):
            p.stop("quit" if p.name == "testpmd" else None)
        if driver == "vnet":
            # What the driver counted against the back end (anything but
            # the plain traffic counters).
            try:
                with open(os.path.join(tmp, "vnet.json")) as f:
                    c = json.load(f)["counters"]
                odd = {k: v for k, v in c.items() if not re.fullmatch(
                    r"(rx|tx)_(packets|bytes|kicks|completed)", k)}
                if odd:
                    print(f"    vnet-vhost counted: {odd}", flush=True)
            except (OSError, ValueError, KeyError):
                pass
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vnet-vhost", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--sizes", default="64,1518")
    ap.add_argument("--kinds", default="split,packed,in_order")
    ap.add_argument("--json")
    args = ap.parse_args()
    if shutil.which(TESTPMD) is None:
        sys.exit(f"vhost_race: {TESTPMD} not found (Debian package dpdk-dev)")
    if not os.access(args.vnet_vhost, os.X_OK):
        sys.exit(f"vhost_race: {args.vnet_vhost} is not an executable")
    kinds = args.kinds.split(",")
    for k in kinds:
        if k not in KIND_OPTS:
            sys.exit(f"vhost_race: unknown kind {k} (one of {', '.join(KIND_OPTS)})")
    sizes = [int(s) for s in args.sizes.split(",")]
    signal.signal(signal.SIGINT, cleanup)
    signal.signal(signal.SIGTERM, cleanup)
    load = os.getloadavg()[0]
    print(f"vhost race: {args.rounds} round(s) of {args.seconds:g} s (after {args.warmup:g} s "
          f"warm-up) per driver, load average {load:.2f}", flush=True)
    results = []
    n = 0
    for kind in kinds:
        for size in sizes:
            pairs = []
            for r in range(args.rounds):
                row = {}
                for driver in ("vnet", "dpdk"):
                    n += 1
                    row[driver] = measure(args, driver, kind, size, n)
                ratio = row["vnet"] / row["dpdk"] if row["dpdk"] else float("nan")
                pairs.append((row["vnet"], row["dpdk"], ratio))
                print(f"  {kind:>15} {size:>5} B  round {r + 1}: vnet {row['vnet'] / 1e6:6.3f} Mpps"
                      f"  dpdk {row['dpdk'] / 1e6:6.3f} Mpps  ratio {ratio:5.2f}", flush=True)
            med = statistics.median(p[2] for p in pairs)
            results.append({"kind": kind, "size": size, "pairs": pairs, "median_ratio": med,
                            "vnet_median_mpps": statistics.median(p[0] for p in pairs) / 1e6,
                            "dpdk_median_mpps": statistics.median(p[1] for p in pairs) / 1e6})
    print("\n| kind | size | vnet Mpps (median) | DPDK virtio-user Mpps (median) | "
          "ratio per pair | median ratio |")
    print("|---|---|---|---|---|---|")
    for r in results:
        ratios = ", ".join(f"{p[2]:.2f}" for p in r["pairs"])
        print(f"| {r['kind']} | {r['size']} B | {r['vnet_median_mpps']:.2f} | "
              f"{r['dpdk_median_mpps']:.2f} | {ratios} | **{r['median_ratio']:.2f}** |")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "load_start": load}, f, indent=2)


if __name__ == "__main__":
    main()
