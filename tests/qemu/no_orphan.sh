#!/bin/bash
# Starts a long vnet-qemu run, sends it SIGTERM mid-run, and fails if the
# QEMU child it started outlives it. Usage: no_orphan.sh VNET_QEMU GUEST_IMAGE
set -u
runner=$1
image=$2
"$runner" --kernel "$image" -q -n 100000000 --timeout 60 >/dev/null 2>&1 &
rpid=$!
qpid=""
for _ in $(seq 1 100); do
  qpid=$(pgrep -P "$rpid" | head -n 1)
  [ -n "$qpid" ] && break
  sleep 0.1
done
if [ -z "$qpid" ]; then
  echo "runner $rpid started no QEMU"
  kill -KILL "$rpid" 2>/dev/null
  exit 1
fi
sleep 1
kill -TERM "$rpid"
wait "$rpid"
rc=$?
for _ in $(seq 1 50); do
  kill -0 "$qpid" 2>/dev/null || { echo "runner exited ($rc), QEMU $qpid gone"; exit 0; }
  sleep 0.1
done
echo "QEMU $qpid survived the runner"
kill -KILL "$qpid"
exit 1
