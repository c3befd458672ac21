#!/usr/bin/env bash
# The driver archive must be freestanding: every symbol it needs from
# outside itself is one of the allowed few, and nothing in driver/ includes
# a header from outside driver/ other than the compiler's own stdint/stddef.
# Usage: check_driver_archive.sh ARCHIVE SOURCE_DIR [NM]
set -euo pipefail
archive=$1 src=$2 nm=${3:-llvm-nm-14}
allowed='^(memcpy|memmove|memset|memcmp|__cxa_pure_virtual)$'

defined=$("$nm" --defined-only --format=just-symbols "$archive" 2>/dev/null | sort -u)
undefined=$("$nm" --undefined-only --format=just-symbols "$archive" 2>/dev/null | sort -u)
outside=$(comm -23 <(echo "$undefined") <(echo "$defined") | grep -v '^$' || true)
bad=$(echo "$outside" | grep -vE "$allowed" | grep -v '^$' || true)
if [ -n "$bad" ]; then
  echo "driver archive needs symbols outside the allowed list:"; echo "$bad"; exit 1
fi
echo "external symbols: $(echo $outside)"

includes=$(grep -rhoE '#include [<"][^>"]+[>"]' "$src/driver" | sort -u)
bad_inc=$(echo "$includes" | grep -vE '#include ("driver/[^"]+"|<stdint\.h>|<stddef\.h>)' || true)
if [ -n "$bad_inc" ]; then
  echo "driver/ includes headers from outside driver/:"; echo "$bad_inc"; exit 1
fi
echo "driver includes: only driver/ headers, <stdint.h>, <stddef.h>"
