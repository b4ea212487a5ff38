#!/usr/bin/env bash
# Builds every published package of the workspace (packages/* and the hvsim command line) and packs
# each as pnpm publishes it (publishConfig applied, workspace: ranges rewritten) into DEST, so that a
# project outside the repository can install them as it will install them from npm:
#
#   bash scripts/pack-packages.sh DEST
#   cd my-project && npm install DEST/*.tgz
#
# Prints the tarballs it wrote. PNPM, when set, is the command that runs pnpm (default: pnpm).
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: scripts/pack-packages.sh DEST (a folder for the tarballs; made if missing)" >&2
  exit 2
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$1"
dest="$(cd "$1" && pwd)"
cd "$root"
# Every package.json of packages/ and apps/ without "private": true.
filters=()
for manifest in packages/*/package.json apps/*/package.json; do
  if ! node -e 'process.exit(require(process.argv[1]).private === true ? 0 : 1)' "$root/$manifest"; then
    filters+=(--filter "./$(dirname "$manifest")")
  fi
done
read -r -a pnpm <<<"${PNPM:-pnpm}"
"${pnpm[@]}" -r "${filters[@]}" build >/dev/null
"${pnpm[@]}" -r "${filters[@]}" pack --pack-destination "$dest" >/dev/null
ls "$dest"/*.tgz
