#!/bin/bash
# Starts a long vnet-qemu run, sends it SIGTERM mid-run, and fails if the
# QEMU child it started outlives it -- or, with --net tap, if the network
# namespace it created (vnetq-<runner pid>) is still there.
# Usage: no_orphan.sh VNET_QEMU GUEST_IMAGE [runner options...]
# Exits 77 (skipped) for --net tap without root.
set -u
runner=$1
image=$2
shift 2
tap=0
for a in "$@"; do [ "$a" = tap ] && tap=1; done
if [ $tap = 1 ] && [ "$(id -u)" != 0 ]; then
  echo "--net tap needs root: skipped"
  exit 77
fi
"$runner" --kernel "$image" -q -n 100000000 --timeout 60 "$@" >/dev/null 2>&1 &
rpid=$!
qpid=""
for _ in $(seq 1 100); do
  qpid=$(pgrep -P "$rpid" -x qemu-system-x86 | head -n 1)
  [ -z "$qpid" ] && qpid=$(pgrep -P "$rpid" | head -n 1)
  [ -n "$qpid" ] && break
  sleep 0.1
done
if [ -z "$qpid" ]; then
  echo "runner $rpid started no QEMU"
  kill -KILL "$rpid" 2>/dev/null
  exit 1
fi
sleep 1
if [ $tap = 1 ] && ! ip netns list | grep -q "^vnetq-$rpid\b"; then
  echo "runner $rpid made no namespace vnetq-$rpid"
  kill -KILL "$rpid" "$qpid" 2>/dev/null
  exit 1
fi
kill -TERM "$rpid"
wait "$rpid"
rc=$?
for _ in $(seq 1 50); do
  if ! kill -0 "$qpid" 2>/dev/null; then
    if [ $tap = 1 ] && ip netns list | grep -q "^vnetq-$rpid\b"; then
      echo "runner exited ($rc), QEMU $qpid gone, but namespace vnetq-$rpid survived"
      ip netns del "vnetq-$rpid"
      exit 1
    fi
    echo "runner exited ($rc), QEMU $qpid gone$([ $tap = 1 ] && echo ", namespace vnetq-$rpid gone")"
    exit 0
  fi
  sleep 0.1
done
echo "QEMU $qpid survived the runner"
kill -KILL "$qpid"
exit 1
