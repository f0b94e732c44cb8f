#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the interoperability peers when they are missing: Debian's postfix, swaks, msmtp,
# curl, python3-aiosmtpd, Node.js and npm, then nodemailer and smtp-server from the npm registry
# into tests/interop/node (package.json and package-lock.json pin the versions).
# Run by .ci/run; run it by hand (as root) to run the interop tests locally.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
need=
# swaks needs Net::SSLeay for TLS and Digest::HMAC_MD5 for AUTH CRAM-MD5 (only recommended,
# and we install without recommends).
for pkg in postfix swaks libnet-ssleay-perl libdigest-hmac-perl msmtp curl python3 python3-aiosmtpd; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
# Node.js may come from Debian (nodejs + npm) or from NodeSource (nodejs holds npm).
command -v node >/dev/null 2>&1 || need="$need nodejs"
command -v npm >/dev/null 2>&1 || dpkg -s nodejs 2>/dev/null | grep -q nodesource || need="$need npm"
if [ -n "$need" ]; then
    echo "== installing:$need"
    export DEBIAN_FRONTEND=noninteractive
    # Postfix is only run from a private configuration directory by the tests: no system setup.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $need
fi
if [ ! -d "$here/node/node_modules" ]; then
    echo "== npm ci in tests/interop/node"
    (cd "$here/node" && npm ci --no-audit --no-fund --loglevel=error)
fi
