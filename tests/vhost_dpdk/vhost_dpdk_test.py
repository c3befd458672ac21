#!/usr/bin/env python3
"""The driver against DPDK's vhost back end (issue 17; docs/vhost-user.md):
two instances of vnet-vhost joined through dpdk-testpmd's two net_vhost
ports (io forwarding, port 0 <-> port 1), one generating stamped frames,
the other checking every one byte for byte.

    vnet-vhost --mode gen  --socket a.sock  --+
                                               |  dpdk-testpmd (io)
    vnet-vhost --mode sink --socket b.sock  <--+  net_vhost0 a, net_vhost1 b

Each case negotiates one ring kind or feature, asserts it was negotiated on
both instances (--expect-features), and passes when the sink saw every
frame exactly as sent (sizes 60..1514, or as the case says) with no bad
one, the generator sent them all, and every buffer came back to its pool.
Case "record" also records both instances' runs as traces and replays
them with vnet-replay.

    vhost_dpdk_test.py --vnet-vhost BIN --vnet-replay BIN --case NAME

Exit 0 pass, 1 fail. Every process is reaped and every socket removed.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "vnet-vhost"))
from testpmd import TESTPMD, Proc, stop_all, testpmd  # noqa: E402

# name: (vnet-vhost flags for both ends, features both must negotiate,
#        gen-only flags, queue pairs)
CASES = {
    "split": ([], ["VERSION_1", "MRG_RXBUF", "EVENT_IDX"], [], 1),
    "split_no_mrg_no_event_idx": (["--no-mrg-rxbuf", "--no-event-idx"], ["VERSION_1"], [], 1),
    "packed": (["--packed"], ["RING_PACKED"], [], 1),
    "in_order": (["--in-order"], ["IN_ORDER"], [], 1),
    "packed_in_order": (["--packed", "--in-order"], ["RING_PACKED", "IN_ORDER"], [], 1),
    # tx scatter-gather in 3 buffers: every frame an indirect table
    "indirect": (["--indirect"], ["INDIRECT_DESC"], ["--frags", "3"], 1),
    "packed_indirect": (["--packed", "--indirect"], ["RING_PACKED", "INDIRECT_DESC"],
                        ["--frags", "3"], 1),
    "mq": (["--queues", "2"], ["MQ", "CTRL_VQ"], [], 2),
    "packed_mq": (["--packed", "--queues", "2"], ["RING_PACKED", "MQ", "CTRL_VQ"], [], 2),
    "record": ([], ["VERSION_1"], [], 1),
    "record_packed": (["--packed"], ["RING_PACKED"], [], 1),
    # The back end is killed (SIGKILL) mid-traffic: both drivers notice
    # within a second or two, stop cleanly (every buffer back) and fail.
    "backend_killed": ([], ["VERSION_1"], [], 1),
}


def fail(msg):
    print("FAIL: " + msg, flush=True)
    stop_all()
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vnet-vhost", required=True)
    ap.add_argument("--vnet-replay")
    ap.add_argument("--case", required=True, choices=sorted(CASES))
    ap.add_argument("--frames", type=int, default=4000)
    ap.add_argument("--pps", type=int, default=100000)
    ap.add_argument("--save-traces", help="record cases: copy the traces into this directory")
    args = ap.parse_args()
    if shutil.which(TESTPMD) is None:
        print(f"FAIL: {TESTPMD} not found: install Debian's dpdk-dev (scripts/setup.sh does)")
        return 1
    signal.signal(signal.SIGTERM, lambda *_: fail("terminated"))
    flags, features, gen_flags, pairs = CASES[args.case]
    tmp = tempfile.mkdtemp(prefix="vnet-vhost-dpdk-")
    try:
        return run(args, tmp, flags, features, gen_flags, pairs)
    finally:
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, tmp, flags, features, gen_flags, pairs):
    a, b = os.path.join(tmp, "a.sock"), os.path.join(tmp, "b.sock")
    q = f",queues={pairs}"
    be = testpmd(f"vnet-vhost-dpdk-{os.getpid()}", [f"net_vhost0,iface={a}{q}",
                                                   f"net_vhost1,iface={b}{q}"],
                 "0@0,1@0", [f"--rxq={pairs}", f"--txq={pairs}"])
    # io forwarding with retry: a frame the sink has no room for yet is
    # retried (up to 20 ms), not dropped.
    be.send("set burst tx delay 10 retry 2000")
    be.send("set fwd io retry")
    be.send("start")
    if args.case == "backend_killed":
        return backend_killed(args, be, a, b, flags)
    common = ["--ring", "256", "--idle-sleep-us", "50", "--expect-features", ",".join(features), "--quiet"] + flags
    n = args.frames if not args.case.startswith("record") else 64
    sink_json, gen_json = os.path.join(tmp, "sink.json"), os.path.join(tmp, "gen.json")
    sink_trace, gen_trace = os.path.join(tmp, "sink.jsonl"), os.path.join(tmp, "gen.jsonl")
    sink_argv = [args.vnet_vhost, "--socket", b, "--mode", "sink", "--verify", "--expect", str(n),
                 "--seconds", "60", "--mac", "02:00:00:76:6e:02", "--json", sink_json] + common
    if args.case.startswith("record"):
        # Recorded runs: the sink's trace holds every frame the back end wrote.
        sink_argv = [args.vnet_vhost, "--socket", b, "--mode", "sink", "--frames", str(n),
                     "--seconds", "60", "--record", sink_trace, "--ring", "256"] + flags
    sink = Proc(sink_argv, "sink")
    if not sink.wait_for(r"attached:", 60):
        fail("the sink did not attach:\n" + sink.text())
    gen_argv = [args.vnet_vhost, "--socket", a, "--mode", "gen", "--frames", str(n),
                "--size", "60", "--max-size", "1514", "--pps", str(args.pps),
                "--seconds", "60", "--json", gen_json] + common + gen_flags
    if args.case.startswith("record"):
        gen_argv = [args.vnet_vhost, "--socket", a, "--mode", "gen", "--frames", str(n),
                    "--size", "60", "--burst", "8", "--record", gen_trace, "--ring", "256"] + flags
    gen = Proc(gen_argv, "gen")
    gen_rc = gen.wait(90)
    sink_rc = sink.wait(90)
    print("---- gen\n" + gen.text() + "---- sink\n" + sink.text(), flush=True)
    be.send("show port stats all")
    be.wait_for(r"NIC statistics for port 1[\s\S]*Tx-pps", 10)
    be.stop("quit")
    if gen_rc != 0:
        fail(f"gen exited {gen_rc}")
    if sink_rc != 0:
        fail(f"sink exited {sink_rc}")
    if args.case.startswith("record"):
        for trace in (gen_trace, sink_trace):
            replay = subprocess.run([args.vnet_replay, "--no-progress", trace],
                                    capture_output=True, text=True)
            print("---- vnet-replay\n" + replay.stdout + replay.stderr)
            if replay.returncode != 0:
                fail(f"the recorded trace {os.path.basename(trace)} does not replay")
        if args.save_traces:
            os.makedirs(args.save_traces, exist_ok=True)
            for trace, side in ((gen_trace, "gen"), (sink_trace, "sink")):
                shutil.copy(trace, os.path.join(args.save_traces, f"dpdk-{args.case[len('record_'):] or 'split'}-{side}.jsonl"))
        print(f"PASS: {n} frames recorded through DPDK's vhost back end and replayed")
        return 0
    with open(sink_json) as f:
        s = json.load(f)
    with open(gen_json) as f:
        g = json.load(f)
    if s["bad_size"] or s["bad_bytes"]:
        fail(f"corrupted frames: {s['bad_size']} bad size, {s['bad_bytes']} bad bytes")
    if s["distinct"] != n:
        fail(f"the sink saw {s['distinct']} distinct frames of {n}")
    if g["tx"] != n:
        fail(f"gen sent {g['tx']} of {n}")
    for side, j in (("gen", g), ("sink", s)):
        if j["pairs"] != pairs:
            fail(f"{side} runs {j['pairs']} pair(s), not {pairs}")
    if pairs > 1:
        if any(x == 0 for x in s["pair_rx"][:pairs]):
            fail(f"a pair carried nothing: sink rx per pair {s['pair_rx']}")
        if g["ctrl_commands"] < 1 or s["ctrl_commands"] < 1:
            fail("no VQ_PAIRS_SET reached the emulated control queue")
    print(f"PASS: {n} frames byte for byte through DPDK's vhost back end; negotiated "
          f"{s['negotiated']}; sink rx per pair {s['pair_rx']}")
    return 0


def backend_killed(args, be, a, b, flags):
    sink = Proc([args.vnet_vhost, "--socket", b, "--mode", "sink", "--seconds", "60",
                 "--idle-sleep-us", "50"] + flags, "sink")
    if not sink.wait_for(r"attached:", 60):
        fail("the sink did not attach:\n" + sink.text())
    gen = Proc([args.vnet_vhost, "--socket", a, "--mode", "gen", "--seconds", "60", "--pps",
                "200000", "--idle-sleep-us", "50"] + flags, "gen")
    if not gen.wait_for(r"attached:", 60):
        fail("the generator did not attach:\n" + gen.text())
    time.sleep(1.5)
    os.killpg(be.p.pid, signal.SIGKILL)  # no goodbye: the host just goes away
    be.wait(5)
    start = time.monotonic()
    rcs = {p.name: p.wait(10) for p in (gen, sink)}
    took = time.monotonic() - start
    print("---- gen\n" + gen.text() + "---- sink\n" + sink.text(), flush=True)
    for p in (gen, sink):
        out = p.text()
        if rcs[p.name] is None:
            fail(f"{p.name} did not notice the back end was gone within 10 s")
        if rcs[p.name] != 1:
            fail(f"{p.name} exited {rcs[p.name]}, not 1")
        if "the back end closed the connection" not in out:
            fail(f"{p.name} did not say why it stopped")
        if "not returned" in out or "ERROR: AddressSanitizer" in out or "runtime error" in out:
            fail(f"{p.name} did not stop cleanly")
    print(f"PASS: both drivers saw the back end die and stopped cleanly within {took:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
