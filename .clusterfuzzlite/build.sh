#!/bin/bash -eu
# ClusterFuzzLite / OSS-Fuzz entry point: the project's own build script.
exec "$SRC/vnetkit/fuzz/build.sh"
