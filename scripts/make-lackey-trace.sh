#!/usr/bin/env bash
# Makes a Valgrind lackey memory trace of a real program: `sort` on deterministic input lines, traced
# with `valgrind --tool=lackey --trace-mem=yes`. Installs valgrind with apt-get when it is missing
# (as root). Used for @hvsim/traces' shipped fixture and for its benchmarks.
#
#   scripts/make-lackey-trace.sh [OUT [LINES]]
#     OUT    default packages/traces/test-artifacts/sort.lackey (gitignored); `-` writes stdout
#     LINES  input lines to sort, default 2000 (about 7 million records, 105 MB)
#   scripts/make-lackey-trace.sh --fixture
#     regenerates packages/traces/fixtures/sort-small.lackey.gz: the trace of sorting 5 lines, cut
#     to its first 20000 lines and its closing ==PID== lines, gzipped (the tests' real sample)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

if ! command -v valgrind >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "make-lackey-trace: valgrind is missing; install it (apt-get install valgrind) as root" >&2
    exit 1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Deterministic input: LINES words from a linear congruential generator (no $RANDOM, so every run
# sorts the same lines).
make_input() {
  awk -v n="$1" 'BEGIN { x = 12345; for (i = 0; i < n; i++) { x = (x * 1103515245 + 12345) % 2147483648; printf "w%08x\n", x } }'
}

trace() { # trace INPUT_LINES LOG
  make_input "$1" >"$work/input.txt"
  valgrind --tool=lackey --trace-mem=yes --log-file="$2" /usr/bin/sort "$work/input.txt" >/dev/null
}

if [ "${1:-}" = "--fixture" ]; then
  out="$root/packages/traces/fixtures/sort-small.lackey.gz"
  trace 5 "$work/full.lackey"
  # The banner, the first 20000 lines of accesses, and the closing summary (all ==PID== lines).
  { head -n 20000 "$work/full.lackey"; grep '^==' "$work/full.lackey" | tail -n +7; } | gzip -9n >"$work/small.gz"
  mv "$work/small.gz" "$out"
  echo "make-lackey-trace: wrote $out ($(stat -c %s "$out") bytes)"
  exit 0
fi

out="${1:-$root/packages/traces/test-artifacts/sort.lackey}"
lines="${2:-2000}"
if [ "$out" = "-" ]; then
  trace "$lines" "$work/trace.lackey"
  cat "$work/trace.lackey"
else
  mkdir -p "$(dirname "$out")"
  trace "$lines" "$work/trace.lackey"
  mv "$work/trace.lackey" "$out"
  echo "make-lackey-trace: wrote $out ($(stat -c %s "$out") bytes, $(wc -l <"$out") lines)"
fi
