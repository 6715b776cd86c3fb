#!/usr/bin/env bash
# Does TorchSharp's native bridge (libLibTorchSharp.so of the TorchSharp NuGet package) resolve against this libtorch?
# Prints the number of its undefined dynamic symbols that none of libtorch's libraries (libtorch_cpu, libtorch, libc10,
# libtorch_cuda, libc10_cuda in LIBTORCH_LIB) nor the system libraries it needs (libstdc++, libc, ...; versioned
# symbols must match their version) define.
#   check-symbols.sh BRIDGE.so LIBTORCH_LIB [UNRESOLVED_LIST]
# Exit status 0 when all resolve, 1 when some do not, 2 when the check cannot run. Names only: a symbol that resolves
# can still have changed meaning (PyTorch has no C++ ABI promise across minor versions), so 0 is necessary, not enough.
set -uo pipefail
BRIDGE="${1:?usage: $0 BRIDGE.so LIBTORCH_LIB [UNRESOLVED_LIST]}"; LIB="${2:?}"; LIST="${3:-/dev/null}"
command -v nm >/dev/null || { echo "check-symbols: nm not found" >&2; exit 2; }
[ -f "$BRIDGE" ] && [ -d "$LIB" ] || { echo "check-symbols: no $BRIDGE or $LIB" >&2; exit 2; }
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
# Undefined: 'U' only (weak 'w' ones may stay unresolved); "name@VERSION" for versioned ones.
nm -D --undefined-only "$BRIDGE" | awk '$1 == "U" { print $2 }' | sort -u > "$TMP/undef"
LIBS=()
for n in libtorch_cpu.so libtorch.so libc10.so libtorch_cuda.so libc10_cuda.so; do [ -e "$LIB/$n" ] && LIBS+=("$LIB/$n"); done
# The bridge's other NEEDED libraries, where the loader finds them (with libtorch's folder first).
while read -r path; do LIBS+=("$path"); done < <(LD_LIBRARY_PATH="$LIB:${LD_LIBRARY_PATH:-}" ldd "$BRIDGE" 2>/dev/null \
  | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | grep -vE '/lib(torch|torch_cpu|c10|torch_cuda|c10_cuda)\.so$')
# SYMBOL_CACHE=FILE keeps the defined symbols between calls (same libtorch, same system libraries).
if [ -n "${SYMBOL_CACHE:-}" ] && [ -s "$SYMBOL_CACHE" ]; then cp "$SYMBOL_CACHE" "$TMP/def"; else
  for l in "${LIBS[@]}"; do
    # "name@@VER" (default version) satisfies "name@VER" and unversioned "name"; "name@VER" only "name@VER".
    nm -D --defined-only "$l" 2>/dev/null | awk 'NF >= 3 { s = $3; if (index(s, "@@")) { split(s, p, "@@"); print p[1] "@" p[2]; print p[1] } else print s }'
  done | sort -u > "$TMP/def"
  [ -n "${SYMBOL_CACHE:-}" ] && cp "$TMP/def" "$SYMBOL_CACHE"
fi
comm -23 "$TMP/undef" "$TMP/def" > "$TMP/unresolved"
cp "$TMP/unresolved" "$LIST" 2>/dev/null || true
echo "$(wc -l < "$TMP/unresolved") unresolved of $(wc -l < "$TMP/undef") undefined symbols ($(grep -c '^_ZN2at4_ops' "$TMP/undef") at::_ops) against ${#LIBS[@]} libraries"
[ -s "$TMP/unresolved" ] && exit 1 || exit 0
