#!/usr/bin/env bash
# Installs the browser the end-to-end tests of apps/web drive: Debian's chromium at /usr/bin/chromium
# (Playwright's own browser download cannot work without its download host). Does nothing when it is
# already there. Needs root (or sudo) for apt-get.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "setup-browser: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) already installed"
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "setup-browser: installing Debian's chromium"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version 2>/dev/null
