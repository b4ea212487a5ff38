#!/usr/bin/env bash
# Packs the package in the current directory as pnpm publishes it (publishConfig applied) and checks
# the tarball with publint and @arethetypeswrong/cli.
set -euo pipefail
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
pnpm pack --pack-destination "$out" >/dev/null
tgz=$(ls "$out"/*.tgz)
publint run "$tgz" --strict
attw "$tgz" --profile esm-only
