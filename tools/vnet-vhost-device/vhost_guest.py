#!/usr/bin/env python3
"""Boot a real guest on QEMU against vnet-vhost-device and report both sides.

vnet-vhost-device is vnetkit's mock virtio-net device served as a vhost-user
back end: QEMU's virtio-net device forwards the guest's virtqueues to it, so
a real guest driver (Linux's, our own bare-metal guest's, iPXE's) runs
against the mock device and its conformance checker.

    vhost_guest.py [--guest linux|vnet|ipxe] [--machine q35|microvm] [--packed]
                   [--scenario FILE] [--device BIN] [--guest-image ELF]
                   [--seconds N] [--json OUT] [--keep DIR] [--verbose]
                   [--expect-traffic] [--ping-ms N] [--msix] [--install]

    vnet-vhost-device --socket S  <--- vhost-user (unix socket S) ---  QEMU (TCG)
      plays 10.0.2.2 (52:55:0a:00:02:02)                                guest 10.0.2.15
      answers ARP and echo requests                                     virtio-net-pci (q35)
      pings 10.0.2.15 every --ping-ms                                   virtio-net-device (microvm)

QEMU wiring (QEMU 7.2; a vhost-user back end maps all guest RAM, so RAM
must be a shared file descriptor):

    -object memory-backend-memfd,id=mem,size=<RAM>M,share=on
    -M <machine>,memory-backend=mem -m <RAM>
    -chardev socket,id=c0,path=S          (QEMU is the client; the device listens)
    -netdev vhost-user,id=n0,chardev=c0
    q35:     -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,romfile=,vectors=0
    microvm: -M microvm,x-option-roms=off,isa-serial=on,rtc=on,memory-backend=mem
             -global virtio-mmio.force-legacy=false   (virtio-mmio version 2)
             -device virtio-net-device,netdev=n0,mac=52:54:00:12:34:56

`-machine memory-backend=` works on both machines and needs no NUMA node
(`-numa node,memdev=mem` is accepted on both by QEMU 7.2 as well; either
way `info mtree -f` shows RAM as the memfd region "mem").

vectors=0 on q35: QEMU 7.2 under TCG segfaults in msix_set_vector_notifiers
(from vhost_net_start, when the guest sets DRIVER_OK) on a vhost-user
virtio-net-pci with MSI-X, whatever the back end (dpdk-testpmd's too);
with vectors=0 the NIC has no MSI-X capability and the guest takes its
INTx line. --msix keeps QEMU's MSI-X vectors (to see whether a QEMU still
crashes). For our guest, microvm gets acpi=off,pit=on,pic=off as vnet-qemu
boots it (QEMU appends the virtio_mmio.device= entry the guest reads); the
ipxe guest keeps QEMU's default romfile (efi-virtio.rom) and graphics=off
(SeaBIOS and iPXE on the serial port). --packed adds packed=on and fails
the run unless RING_PACKED was negotiated with the device.

Guests:
  linux  the installed Debian kernel and an initramfs built by
         tools/capture-linux/linux-initramfs.sh; /init brings eth0 up as
         10.0.2.15/24, prints "VHOST-UP <mac>", pings 10.0.2.2 five times,
         stays up --seconds while the device pings it, prints the dmesg
         lines naming virtio or eth0, the interface's statistics and
         "VHOST-DONE", and powers off. microvm adds tsc_early_khz= (TCG).
  vnet   our bare-metal guest (build/default/bin/vnet-guest.elf, PVH
         -kernel, isa-debug-exit) serving: its responder answers the
         device's ARP and echo requests; stopped after --seconds.
  ipxe   SeaBIOS and iPXE's virtio-net option ROM (Debian's ipxe-qemu) on
         q35: iPXE asks DHCP on the NIC, the device offers 10.0.2.15, and
         iPXE answers the device's pings while it looks for something to
         boot; stopped after --seconds.

The device ends when QEMU disconnects; its text report (stdout) is shown
verbatim and its JSON report (--json) is merged into ours. Everything runs
in a fresh temporary directory (the socket too); the device and QEMU are
each in a session of their own and killed and reaped on every exit path.

--expect-traffic fails the run unless the device got echo replies from the
guest (traffic.ping_replies > 0) and, for linux, the guest's own pings to
10.0.2.2 were answered; for ipxe, iPXE took the address the device's DHCP
offered (the device sent an ACK).

Exit 0 pass, 1 fail (a guest that did not come up, a device that failed, a
missing kernel or binary, an expectation not met), 2 usage.
"""
import argparse
import ctypes
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
INITRAMFS = os.path.join(ROOT, "tools", "capture-linux", "linux-initramfs.sh")
QEMU = "qemu-system-x86_64"
GUEST_MAC = "52:54:00:12:34:56"
# Where Debian's ipxe-qemu puts the ROM QEMU loads by default for virtio-net-pci.
IPXE_ROMS = ["/usr/lib/ipxe/qemu/efi-virtio.rom", "/usr/share/qemu/efi-virtio.rom"]
# How long each step may take (seconds). TCG on a loaded two-core machine
# boots Linux in 10-40 s.
BOOT_BUDGET = {"linux": 150, "vnet": 60, "ipxe": 60}
LISTEN_TIMEOUT = 15
# What a Linux guest's kernel says when it is in trouble: a lockup or a
# panic ends the run early (the outcome is known; waiting the whole budget
# for a power-off that never comes would not change it).
KERNEL_TROUBLE = (r"watchdog: BUG: soft lockup|Kernel panic|rcu: INFO: rcu_\w+ detected stall|"
                  r"^\[[ \d.]+\] BUG: ")
# The console lines worth reporting from a Linux guest: its virtio drivers'
# complaints and the kernel's reports.
KERNEL_LINES = (r"^.*(?:virtio_net|virtio_ring|virtio\d+:|soft lockup|Kernel panic|"
                r"detected stall|\] BUG: |\] RIP: |\] Call Trace).*$")
DEVICE_END_TIMEOUT = 20

VERBOSE = False


def log(msg):
    print("vhost_guest: " + msg, file=sys.stderr, flush=True)


def vlog(msg):
    if VERBOSE:
        log(msg)


class Failure(Exception):
    pass


class Terminated(BaseException):
    pass


def _on_signal(sig, _frame):
    # Once: the cleanup that follows must not be interrupted again.
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)
    raise Terminated(signal.Signals(sig).name)


def _pdeathsig():
    # Child side, before exec: die with the runner (SIGKILL) should it be
    # killed outright; the session of its own is start_new_session's.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort
        pass


class Child:
    """A process in a session of its own, its output in files."""

    def __init__(self, name, argv, stdout_path, stderr_path):
        self.name = name
        self.argv = argv
        self.stdout_path = stdout_path
        self.stderr_path = stderr_path
        vlog(f"start {name}: {' '.join(argv)}")
        with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
            self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                      start_new_session=True, preexec_fn=_pdeathsig)
        self.started = time.monotonic()

    def running(self):
        return self.p.poll() is None

    def wait(self, timeout):
        try:
            return self.p.wait(timeout=max(0.0, timeout))
        except subprocess.TimeoutExpired:
            return None

    def signal_group(self, sig):
        try:
            os.killpg(self.p.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, grace=10.0):
        """SIGTERM to the group, then SIGKILL; always reaped."""
        if self.running():
            vlog(f"stop {self.name} (SIGTERM)")
            self.signal_group(signal.SIGTERM)
            if self.wait(grace) is None:
                log(f"{self.name} ignored SIGTERM for {grace:.0f} s: SIGKILL")
                self.signal_group(signal.SIGKILL)
                self.wait(10)
        # Anything left in its group (it should have none).
        self.signal_group(signal.SIGKILL)
        return self.p.returncode

    def stdout(self):
        return read_text(self.stdout_path)

    def stderr(self):
        return read_text(self.stderr_path)


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace").replace("\r", "")
    except FileNotFoundError:
        return ""


def exit_text(rc):
    if rc is None:
        return "still running"
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit {rc}"


# ---- guests ---------------------------------------------------------------

LINUX_BODY = """\
[ -e /sys/class/net/eth0 ] || echo "VHOST-FAIL no eth0 after 5 s"
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
echo "VHOST-UP $(cat /sys/class/net/eth0/address)"
ping -c 5 -i 0.5 -W 2 10.0.2.2
echo "VHOST-PING-DONE"
sleep {seconds}
echo VHOST-DMESG-BEGIN
dmesg | grep -iE 'virtio|eth0'
echo VHOST-DMESG-END
grep -iE 'virtio|CPU0' /proc/interrupts | sed 's/^/VHOST-IRQ /'
for s in rx_packets tx_packets rx_bytes tx_bytes rx_errors tx_errors rx_dropped tx_dropped \\
         rx_length_errors rx_frame_errors rx_over_errors; do
  echo "VHOST-STAT $s $(cat /sys/class/net/eth0/statistics/$s)"
done
echo VHOST-DONE
poweroff -f
"""


def build_linux(args, tmp):
    body = os.path.join(tmp, "init-body.sh")
    with open(body, "w") as f:
        f.write(LINUX_BODY.format(seconds=int(args.seconds)))
    argv = ["bash", INITRAMFS, "--out", os.path.join(tmp, "image"), "--machine", args.machine,
            "--init-body", body, "--fail-marker", "VHOST-FAIL"]
    if args.install:
        argv += ["--install", "--also-install", "qemu-system-x86"]
    vlog("building the initramfs: " + " ".join(argv))
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=1200 if args.install else 300)
    except subprocess.TimeoutExpired:
        raise Failure("linux-initramfs.sh did not finish in time")
    if VERBOSE or r.returncode != 0:
        sys.stderr.write(r.stderr)
    if r.returncode != 0:
        raise Failure("could not build the Linux guest (linux-initramfs.sh exited "
                      f"{r.returncode}): {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ''}"
                      " -- scripts/setup.sh installs linux-image-amd64, busybox-static and cpio")
    env = {}
    for line in r.stdout.splitlines():
        k, sep, v = line.partition("=")
        if sep:
            env[k] = v
    for k in ("KERNEL", "INITRD", "APPEND"):
        if k not in env:
            raise Failure(f"linux-initramfs.sh printed no {k}= line:\n{r.stdout}")
    return env


def parse_linux(console):
    g = {"kind": "linux", "up": None, "done": "VHOST-DONE" in console, "fail": [],
         "ping": None, "ping_lines": [], "dmesg": [], "interrupts": [], "stats": {}}
    m = re.search(r"^VHOST-UP (\S+)", console, re.M)
    if m:
        g["up"] = m.group(1)
    g["fail"] = re.findall(r"^VHOST-FAIL (.*)$", console, re.M)
    m = re.search(r"^(\d+) packets transmitted, (\d+) packets received(?:, (\d+) errors)?"
                  r"(?:, \+?\d+ \w+)*, (\d+)% packet loss", console, re.M)
    if m:
        g["ping"] = {"transmitted": int(m.group(1)), "received": int(m.group(2)),
                     "loss_percent": int(m.group(4))}
    g["ping_lines"] = re.findall(r"^(?:\d+ bytes from .*|.*packets transmitted.*|"
                                 r"round-trip .*|PING .*)$", console, re.M)
    m = re.search(r"^VHOST-DMESG-BEGIN\n(.*?)^VHOST-DMESG-END", console, re.M | re.S)
    if m:
        g["dmesg"] = [line for line in m.group(1).splitlines() if line.strip()]
    g["interrupts"] = [" ".join(x.split()) for x in re.findall(r"^VHOST-IRQ (.*)$", console, re.M)]
    for k, v in re.findall(r"^VHOST-STAT (\w+) (\d+)", console, re.M):
        g["stats"][k] = int(v)
    # From the whole console, also when the guest never reached its dmesg
    # dump (a hung guest): each distinct line once, timestamps dropped.
    seen, g["kernel_reports"] = set(), []
    for line in re.findall(KERNEL_LINES, console, re.M):
        text = re.sub(r"^\[[ \d.]+\] ", "", line.strip())
        if text not in seen and len(g["kernel_reports"]) < 30:
            seen.add(text)
            g["kernel_reports"].append(text)
    g["kernel_trouble"] = bool(re.search(KERNEL_TROUBLE, console, re.M))
    return g


def parse_fields(line):
    return dict(re.findall(r"(\w+)=(\S+)", line))


def parse_vnet(console):
    g = {"kind": "vnet", "ready": None, "ready_line": None, "lines": [], "counters": {}}
    lines = [x for x in console.splitlines() if x.startswith("vnet-guest: ")]
    g["lines"] = lines
    for x in lines:
        if x.startswith("vnet-guest: ready "):
            g["ready_line"] = x
            g["ready"] = parse_fields(x)
    # The counter block, should the guest have printed it (it does at exit).
    m = re.search(r"^vnet-guest: counters\n(.*?)^vnet-guest: end counters", console, re.M | re.S)
    if m:
        for k, v in re.findall(r"(\w+)[=:]\s*(\d+)", m.group(1)):
            g["counters"][k] = int(v)
    g["failed"] = [x for x in lines if re.search(r"failed|bad command line|no virtio-net", x)]
    return g


def parse_ipxe(console):
    keep = re.compile(r"iPXE|net\d|DHCP|dhcp|Configuring|link|virtio|No more network|"
                      r"Nothing to boot|PXE|Booting", re.I)
    lines = []
    for x in console.splitlines():
        x = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", x).strip()
        if x and keep.search(x) and x not in lines[-1:]:
            lines.append(x)
    # iPXE prints the address DHCP gave it (vnet-vhost-device answers DHCP).
    m = re.search(r"net\d+: (\d+\.\d+\.\d+\.\d+/\S+)( gw \S+)?", console)
    return {"kind": "ipxe", "ipxe_seen": "iPXE" in console, "lines": lines[-40:],
            "address": m.group(1) + (m.group(2) or "") if m else None}


# ---- QEMU ---------------------------------------------------------------------

def qemu_argv(args, tmp, sock, console_path, linux):
    ram = args.memory or (128 if args.guest == "vnet" else 256)
    a = [QEMU]
    if args.machine == "microvm":
        if args.guest == "vnet":
            # As vnet-qemu boots it: acpi=off, so QEMU appends the
            # virtio_mmio.device= entry the guest takes its window from.
            m = "microvm,acpi=off,pit=on,rtc=on,pic=off,isa-serial=on,x-option-roms=off"
        else:
            m = "microvm,x-option-roms=off,isa-serial=on,rtc=on"
    else:
        m = "q35"
    if args.guest == "ipxe":
        m += ",graphics=off"  # SeaBIOS and iPXE write to the serial port
    a += ["-M", m + ",memory-backend=mem", "-accel", "tcg", "-m", str(ram),
          "-object", f"memory-backend-memfd,id=mem,size={ram}M,share=on",
          "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
          "-chardev", f"file,id=con0,path={console_path}", "-serial", "chardev:con0",
          "-chardev", f"socket,id=c0,path={sock}",
          "-netdev", "vhost-user,id=n0,chardev=c0"]
    if args.machine == "microvm":
        a += ["-global", "virtio-mmio.force-legacy=false"]
        nic = f"virtio-net-device,netdev=n0,mac={GUEST_MAC}"
    else:
        nic = f"virtio-net-pci,netdev=n0,mac={GUEST_MAC}"
        if args.guest != "ipxe":
            nic += ",romfile="
        elif args.ipxe_rom:
            nic += ",romfile=" + args.ipxe_rom
        # else QEMU's default ROM, efi-virtio.rom, which Debian's QEMU finds
        # in ipxe-qemu's directory. Naming that same file in romfile= (by
        # path or by name) left SeaBIOS without a boot entry on the NIC on
        # QEMU 7.2 -- user networking too --, so the default is left alone.
        if not args.msix:
            nic += ",vectors=0"
    if args.packed:
        nic += ",packed=on"
    for p in args.prop:
        nic += "," + p
    a += ["-device", nic]
    if args.guest == "linux":
        append = linux["APPEND"]
        a += ["-kernel", linux["KERNEL"], "-initrd", linux["INITRD"], "-append", append]
    elif args.guest == "vnet":
        a += ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", args.guest_image]
        if args.guest_arg:
            a += ["-append", " ".join(args.guest_arg)]
    else:
        a += ["-boot", "n"]
    return a


# ---- the run ------------------------------------------------------------------

def wait_listening(dev, sock, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        err = dev.stderr()
        if "listening on" in err:
            return True
        if not dev.running():
            return False
        time.sleep(0.05)
    return False


def wait_for_console(qemu, console_path, pattern, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if re.search(pattern, read_text(console_path), re.M):
            return True
        if not qemu.running():
            return bool(re.search(pattern, read_text(console_path), re.M))
        time.sleep(0.2)
    return False


def run(args, tmp, report):
    sock = os.path.join(tmp, "vhost.sock")
    console_path = os.path.join(tmp, "console.log")
    dev_json = os.path.join(tmp, "device.json")  # collect() reads it
    linux = build_linux(args, tmp) if args.guest == "linux" else None
    if linux:
        report["guest"]["kernel"] = linux.get("KVER")

    budget = BOOT_BUDGET[args.guest] + args.seconds + 30
    dev_argv = [args.device, "--socket", sock, "--json", dev_json, "--timeout", str(int(budget))]
    if args.scenario:
        dev_argv += ["--scenario", args.scenario]
    if args.ping_ms:
        dev_argv += ["--ping-ms", str(args.ping_ms)]
    if args.packed:
        dev_argv += ["--packed"]  # the device offers packed rings too
    report["device"]["argv"] = dev_argv
    dev = Child("vnet-vhost-device", dev_argv, os.path.join(tmp, "device.stdout"),
                os.path.join(tmp, "device.stderr"))
    children = [dev]
    qemu = None
    try:
        if not wait_listening(dev, sock, LISTEN_TIMEOUT):
            rc = dev.stop()
            raise Failure(f"vnet-vhost-device did not say it was listening within "
                          f"{LISTEN_TIMEOUT} s ({exit_text(rc)}); its stderr:\n{dev.stderr()}")
        if not (os.path.exists(sock) and stat.S_ISSOCK(os.stat(sock).st_mode)):
            raise Failure(f"vnet-vhost-device says it listens but {sock} is not a socket")
        vlog("device listening")

        qa = qemu_argv(args, tmp, sock, console_path, linux)
        report["qemu"]["argv"] = qa
        qemu = Child("qemu", qa, os.path.join(tmp, "qemu.stdout"), os.path.join(tmp, "qemu.stderr"))
        children.append(qemu)
        t0 = time.monotonic()

        if args.guest == "linux":
            # The guest powers itself off after --seconds -- unless its
            # kernel reports a lockup or a panic first: then the outcome is
            # known, and the run ends a few seconds later.
            if wait_for_console(qemu, console_path, KERNEL_TROUBLE,
                                BOOT_BUDGET["linux"] + args.seconds + 20):
                report["notes"].append("the Linux guest's kernel reported a lockup, stall or "
                                       "panic: QEMU stopped")
                qemu.wait(3)
            elif qemu.running():
                report["notes"].append("the Linux guest did not power off in time: QEMU stopped")
        elif args.guest == "vnet":
            if wait_for_console(qemu, console_path, r"^vnet-guest: ready ", BOOT_BUDGET["vnet"]):
                report["guest"]["ready_after_s"] = round(time.monotonic() - t0, 2)
                vlog(f"guest ready after {time.monotonic() - t0:.1f} s; serving {args.seconds} s")
                qemu.wait(args.seconds)
            else:
                report["notes"].append("our guest printed no ready line")
        else:
            qemu.wait(args.seconds + 10)  # firmware, iPXE, DHCP attempts
        report["qemu"]["ran_s"] = round(time.monotonic() - t0, 2)
        stopped_by_us = qemu.running()
        rc = qemu.stop()
        report["qemu"]["exit"] = rc
        report["qemu"]["stopped_by_runner"] = stopped_by_us
        if rc is not None and (rc < 0 and not stopped_by_us or rc > 0 and args.guest == "linux"):
            report["notes"].append(f"QEMU ended badly: {exit_text(rc)}")

        # QEMU gone: the device sees the connection close and ends by itself.
        drc = dev.wait(DEVICE_END_TIMEOUT)
        if drc is None:
            report["notes"].append(f"vnet-vhost-device did not end within {DEVICE_END_TIMEOUT} s "
                                   "of QEMU's exit: SIGTERM")
            drc = dev.stop()
        report["device"]["exit"] = drc
    finally:
        for c in reversed(children):
            c.stop()
        # What there is, also when a signal or a failure cut the run short.
        report["device"].setdefault("exit", dev.p.returncode)
        if qemu is not None:
            report["qemu"].setdefault("exit", qemu.p.returncode)
        collect(args, tmp, report, dev)


def collect(args, tmp, report, dev):
    console = read_text(os.path.join(tmp, "console.log"))
    report["guest"].update({"linux": parse_linux, "vnet": parse_vnet,
                            "ipxe": parse_ipxe}[args.guest](console))
    report["qemu"]["stderr"] = read_text(os.path.join(tmp, "qemu.stderr")).strip()
    report["device"]["stdout"] = dev.stdout()
    report["device"]["stderr"] = dev.stderr()
    try:
        with open(os.path.join(tmp, "device.json")) as f:
            report["device"]["report"] = json.load(f)
    except FileNotFoundError:
        report["device"]["report"] = None
    except json.JSONDecodeError as e:
        report["device"]["report"] = None
        report["notes"].append(f"the device's JSON report does not parse: {e}")


def check(args, report):
    """The run's verdict: a list of failures (empty: pass)."""
    bad = []
    g, d, q = report["guest"], report["device"], report["qemu"]
    qrc = q.get("exit")
    if qrc is not None and qrc < 0 and not q.get("stopped_by_runner"):
        hint = ""
        if qrc == -signal.SIGSEGV and args.msix:
            hint = (" -- QEMU 7.2 under TCG crashes in msix_set_vector_notifiers on a vhost-user "
                    "virtio-net-pci with MSI-X; run without --msix")
        bad.append(f"QEMU {exit_text(qrc)} (its stderr is in the summary above){hint}")
    if d.get("exit") != 0:
        bad.append(f"vnet-vhost-device {exit_text(d.get('exit'))}")
    dj = d.get("report")
    if dj is None:
        bad.append("no JSON report from vnet-vhost-device")
    if args.guest == "linux":
        if not g.get("up"):
            bad.append("the Linux guest never brought eth0 up (no VHOST-UP line)")
        if g.get("fail"):
            bad.append("the Linux guest: " + "; ".join(g["fail"]))
        if not g.get("done") and not (args.scenario and g.get("kernel_trouble")):
            # With a scenario, a guest kernel that locked up is an outcome
            # (the lie's), reported, not a failure of the run.
            bad.append("the Linux guest did not finish (no VHOST-DONE line)")
    elif args.guest == "vnet":
        if not g.get("ready"):
            bad.append("our guest printed no ready line")
        if g.get("failed"):
            bad.append("our guest: " + "; ".join(g["failed"]))
    elif args.guest == "ipxe":
        if not g.get("ipxe_seen"):
            bad.append("iPXE never ran (not on the console)")
        # iPXE prints its address only once its IPv6 autoconfiguration gives
        # up too; the device's own count of DHCP ACKs says it earlier.
        acks = ((dj or {}).get("traffic") or {}).get("dhcp_acks", 0)
        if args.expect_traffic and not acks:
            bad.append("expected traffic: iPXE never took the device's DHCP offer (no ACK)")
    if args.packed and dj is not None:
        try:
            negotiated = int(str(dj.get("negotiated_features", "0")), 16)
        except ValueError:
            negotiated = 0
        if not negotiated >> 34 & 1:
            bad.append("--packed (packed=on on the NIC), but RING_PACKED (bit 34) was not "
                       f"negotiated: the device offered {dj.get('offered_features', '?')}, "
                       f"negotiated {dj.get('negotiated_features')}; the rings were split")
    if args.expect_traffic:
        t = (dj or {}).get("traffic", {})
        if not t.get("ping_replies"):
            bad.append(f"expected traffic: the device got {t.get('ping_replies', 0)} echo replies "
                       f"from the guest ({t.get('pings_sent', 0)} requests sent)")
        if args.guest == "linux":
            p = g.get("ping") or {}
            if not p.get("received"):
                bad.append(f"expected traffic: the guest's pings to 10.0.2.2 got "
                           f"{p.get('received', 0)} of {p.get('transmitted', 0)} answers")
    return bad


# ---- the summary ----------------------------------------------------------------

def summary(args, report):
    g, d = report["guest"], report["device"]
    dj = d.get("report") or {}
    t = dj.get("traffic", {})
    conf = dj.get("conformance", {})
    out = []
    w = 78
    out.append("=" * w)
    out.append(f"vhost_guest: {args.guest} guest on {args.machine}"
               f"{' (packed)' if args.packed else ''} against vnet-vhost-device")
    out.append("=" * w)

    def na(v):
        return "-" if v is None else str(v)

    rows = []
    if args.guest == "linux":
        p = g.get("ping") or {}
        s = g.get("stats", {})
        rows = [
            ("guest -> 10.0.2.2 echo requests/answered", na(p.get("transmitted")),
             na(t.get("guest_pings_answered"))),
            ("  answered (guest received)", na(p.get("received")), ""),
            ("device -> guest echo requests", "", na(t.get("pings_sent"))),
            ("  replies from the guest", "", na(t.get("ping_replies"))),
            ("frames guest -> device", na(s.get("tx_packets")), na(t.get("guest_tx_frames"))),
            ("frames device -> guest", na(s.get("rx_packets")), na(t.get("rx_injected"))),
            ("guest rx/tx errors", f"{na(s.get('rx_errors'))}/{na(s.get('tx_errors'))}", ""),
            ("guest rx/tx dropped", f"{na(s.get('rx_dropped'))}/{na(s.get('tx_dropped'))}", ""),
        ]
    elif args.guest == "vnet":
        r = g.get("ready") or {}
        rows = [
            ("transport", na(r.get("transport")), ""),
            ("ring kind", na(r.get("ring")), ""),
            ("interrupts", na(r.get("irq_mode")), ""),
            ("features (guest: all, device: its part)", na(r.get("features")),
             na(dj.get("negotiated_features"))),
            ("device -> guest echo requests", "", na(t.get("pings_sent"))),
            ("  replies from the guest", "", na(t.get("ping_replies"))),
            ("frames guest -> device", "", na(t.get("guest_tx_frames"))),
            ("frames device -> guest", "", na(t.get("rx_injected"))),
        ]
    else:
        rows = [
            ("device -> guest echo requests", "", na(t.get("pings_sent"))),
            ("  replies from the guest", "", na(t.get("ping_replies"))),
            ("guest echo requests answered", "", na(t.get("guest_pings_answered"))),
            ("frames guest -> device", "", na(t.get("guest_tx_frames"))),
            ("frames device -> guest", "", na(t.get("rx_injected"))),
        ]
    rows.append(("spec violations (conformance)", "", na(conf.get("total"))))
    if args.guest != "vnet":
        rows.append(("negotiated features (device)", "", na(dj.get("negotiated_features"))))
    rows.append(("why the device ended", "", na(dj.get("end"))))
    out.append(f"{'':40} {'guest view':>14}   {'device view'}")
    for name, gv, dv in rows:
        out.append(f"{name:40} {gv:>14}   {dv}".rstrip())
    out.append("")

    out.append("---- guest view " + "-" * (w - 16))
    if args.guest == "linux":
        out.append(f"kernel {na(g.get('kernel'))}, eth0 up: {na(g.get('up'))}, "
                   f"finished: {'yes' if g.get('done') else 'NO'}")
        for x in g.get("fail", []):
            out.append("FAIL " + x)
        out.extend(g.get("ping_lines", []))
        if g.get("dmesg"):
            out.append("dmesg (virtio, eth0):")
            out.extend("  " + x for x in g["dmesg"])
        if g.get("kernel_reports"):
            out.append("kernel reports on the console (virtio drivers, lockups, panics):")
            out.extend("  " + x for x in g["kernel_reports"])
        if g.get("interrupts"):
            out.append("/proc/interrupts:")
            out.extend("  " + x for x in g["interrupts"])
        if g.get("stats"):
            out.append("eth0 statistics: " + " ".join(f"{k}={v}" for k, v in g["stats"].items()))
    elif args.guest == "vnet":
        if g.get("ready_after_s") is not None:
            out.append(f"ready after {g['ready_after_s']} s")
        out.extend(g.get("lines", [])[-30:])
        if g.get("counters"):
            out.append("counters: " + " ".join(f"{k}={v}" for k, v in g["counters"].items()))
    else:
        out.append("iPXE seen on the console: " + ("yes" if g.get("ipxe_seen") else "NO"))
        out.append("iPXE's address (DHCP): " + (g.get("address") or "none"))
        out.extend(g.get("lines", []))
    q = report["qemu"]
    out.append(f"QEMU: {exit_text(q.get('exit'))}"
               f"{' (stopped by the runner)' if q.get('stopped_by_runner') else ''}, ran {na(q.get('ran_s'))} s")
    if q.get("stderr"):
        out.extend("  qemu: " + x for x in q["stderr"].splitlines()[-10:])

    out.append("---- device view (vnet-vhost-device's report, verbatim) " + "-" * (w - 56))
    out.append(d.get("stdout", "").rstrip() or "(no report on stdout)")
    out.append(f"vnet-vhost-device: {exit_text(d.get('exit'))}")
    err_lines = [x for x in d.get("stderr", "").splitlines() if x.strip()]
    if err_lines and (VERBOSE or d.get("exit") != 0):
        out.append("its stderr:")
        out.extend("  " + x for x in err_lines[-40:])
    for n in report["notes"]:
        out.append("note: " + n)
    return "\n".join(out)


def main():
    global VERBOSE
    ap = argparse.ArgumentParser(description="Boot a guest on QEMU against vnet-vhost-device "
                                 "(vhost-user) and report both sides.")
    ap.add_argument("--guest", choices=["linux", "vnet", "ipxe"], default="linux")
    ap.add_argument("--machine", choices=["q35", "microvm"], default="q35")
    ap.add_argument("--packed", action="store_true", help="packed=on on the NIC")
    ap.add_argument("--scenario", help="passed to vnet-vhost-device --scenario")
    ap.add_argument("--device", default=os.path.join(ROOT, "build", "default", "bin", "vnet-vhost-device"),
                    help="vnet-vhost-device binary (default: build/default/bin/)")
    ap.add_argument("--guest-image", default=os.path.join(ROOT, "build", "default", "bin", "vnet-guest.elf"),
                    help="--guest vnet: our guest image (default: build/default/bin/vnet-guest.elf)")
    ap.add_argument("--guest-arg", action="append", default=[], metavar="KEY=VALUE",
                    help="--guest vnet: a key on the guest's command line (guest/main.cc)")
    ap.add_argument("--seconds", type=int, default=15,
                    help="how long the guest stays up exchanging traffic (default 15)")
    ap.add_argument("--ping-ms", type=int, help="passed to vnet-vhost-device --ping-ms")
    ap.add_argument("--memory", type=int, help="guest RAM in MiB (default 256; vnet 128)")
    ap.add_argument("--prop", action="append", default=[], metavar="PROP=V",
                    help="one more property on the NIC")
    ap.add_argument("--msix", action="store_true",
                    help="q35: keep the NIC's MSI-X vectors (QEMU 7.2 under TCG crashes; see the header)")
    ap.add_argument("--ipxe-rom", help="--guest ipxe: romfile= for the NIC (default: QEMU's, "
                    "efi-virtio.rom from Debian's ipxe-qemu)")
    ap.add_argument("--install", action="store_true",
                    help="--guest linux: apt-get the kernel, busybox-static, cpio first")
    ap.add_argument("--json", help="write the combined report (guest and device) here")
    ap.add_argument("--keep", help="copy the console log, device output and reports into DIR")
    ap.add_argument("--expect-traffic", action="store_true",
                    help="fail unless the guest answered the device's pings (and, linux, the device the guest's)")
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args()
    VERBOSE = args.verbose
    if args.seconds < 1 or args.seconds > 3600:
        ap.error("--seconds must be 1..3600")
    if args.guest == "ipxe" and args.machine != "q35":
        ap.error("--guest ipxe needs --machine q35 (an option ROM on a PCI NIC)")
    if args.msix and args.machine != "q35":
        ap.error("--msix is for --machine q35")

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)

    report = {"guest": {"kind": args.guest}, "device": {}, "qemu": {}, "notes": [],
              "config": {"guest": args.guest, "machine": args.machine, "packed": args.packed,
                         "seconds": args.seconds, "scenario": args.scenario, "msix": args.msix}}
    tmp = tempfile.mkdtemp(prefix="vnet-vhost-guest-")
    failures = []
    try:
        try:
            if not (os.path.isfile(args.device) and os.access(args.device, os.X_OK)):
                raise Failure(f"no vnet-vhost-device at {args.device} (build it: cmake --build "
                              "--preset default --target vnet-vhost-device, or pass --device)")
            if shutil.which(QEMU) is None:
                raise Failure(f"{QEMU} not found (scripts/setup.sh installs qemu-system-x86)")
            if args.guest == "vnet" and not os.path.isfile(args.guest_image):
                raise Failure(f"no guest image at {args.guest_image} (build target vnet_guest, "
                              "or pass --guest-image)")
            if args.guest == "ipxe" and not args.ipxe_rom:
                if not any(os.path.isfile(r) for r in IPXE_ROMS):
                    raise Failure("no iPXE virtio-net option ROM (install ipxe-qemu)")
            if args.ipxe_rom and not os.path.isfile(args.ipxe_rom):
                raise Failure(f"no option ROM {args.ipxe_rom}")
            if args.scenario and not os.path.isfile(args.scenario):
                raise Failure(f"no scenario file {args.scenario}")
            run(args, tmp, report)
            failures = check(args, report)
        except Failure as e:
            failures = [str(e)]
        except Terminated as e:
            failures = [f"interrupted ({e})"]
        report["result"] = "fail" if failures else "pass"
        report["failures"] = failures
        if report["device"].get("argv") is not None:
            print(summary(args, report), flush=True)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(report, f, indent=2)
                f.write("\n")
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            for name in ("console.log", "device.stdout", "device.stderr", "device.json",
                         "qemu.stderr", "init-body.sh"):
                src = os.path.join(tmp, name)
                if os.path.exists(src):
                    shutil.copy(src, os.path.join(args.keep, name))
            with open(os.path.join(args.keep, "report.json"), "w") as f:
                json.dump(report, f, indent=2)
                f.write("\n")
            with open(os.path.join(args.keep, "qemu.argv"), "w") as f:
                f.write(" ".join(report["qemu"].get("argv", [])) + "\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for f in failures:
        print("FAIL: " + f, flush=True)
    if not failures:
        print("PASS", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
