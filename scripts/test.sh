#!/usr/bin/env bash
# test.sh -- the one command that installs, builds (ASan+UBSan) and runs every wormhole test.
#
# Usage: scripts/test.sh [meson test args...]
#   scripts/test.sh                      # both suites, unit and integration
#   scripts/test.sh --suite unit         # only the unit suite
#   scripts/test.sh harness_mariadb      # one test by name
# The build directory is build-test (sanitized, reconfigured when it exists).
# The last line printed is "N passed, N failed" (", N skipped" when any were
# skipped); the exit status is non-zero when any test failed or the build did.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build-test

bash scripts/install-deps.sh

SETUP_OPTS=(-Db_sanitize=address,undefined -Db_lundef=false)
if [ -f "$BUILD/meson-private/coredata.dat" ]; then
  if ! meson setup --reconfigure "$BUILD" "${SETUP_OPTS[@]}" >"$BUILD/reconfigure.log" 2>&1; then
    echo "test.sh: reconfiguring $BUILD failed; setting it up from scratch" >&2
    meson setup --wipe "$BUILD" "${SETUP_OPTS[@]}"
  fi
else
  rm -rf "$BUILD"
  meson setup "$BUILD" "${SETUP_OPTS[@]}"
fi
if ! ninja -C "$BUILD"; then
  echo "test.sh: the build failed (errors above); no test was run" >&2
  exit 1
fi

# Sanitized code and servers started under a loaded 2-core machine are slow:
# stretch the harness's own waits and meson's per-test timeouts.
export WH_TIMEOUT_SCALE="${WH_TIMEOUT_SCALE:-3}"
LOG="$BUILD/meson-logs/testlog.json"
rm -f "$LOG"
set +e
meson test -C "$BUILD" --print-errorlogs --timeout-multiplier 3 "$@"
rc=$?
set -e

if [ ! -f "$LOG" ]; then
  [ "$rc" -eq 0 ] && exit 0       # e.g. --list: nothing was run
  echo "test.sh: meson test wrote no $LOG (exit status $rc)" >&2
  exit $(( rc == 0 ? 1 : rc ))
fi
summary=$(python3 - "$LOG" <<'EOF'
import json, sys
passed = failed = skipped = 0
with open(sys.argv[1]) as f:
    for line in f:
        line = line.strip()
        if not line:
            continue
        r = json.loads(line).get("result", "")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
s = "%d passed, %d failed" % (passed, failed)
if skipped:
    s += ", %d skipped" % skipped
print(s)
sys.exit(1 if failed else 0)
EOF
) && counted=0 || counted=$?
echo
echo "$summary"
if [ "$rc" -ne 0 ] || [ "$counted" -ne 0 ]; then
  exit 1
fi
