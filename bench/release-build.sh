# release-build.sh -- sourced by bench/*/run.sh: sets $root (the source tree)
# and $build (the release build: $WH_BENCH_BUILD, or build-release at the
# source root), configuring it when it does not exist yet, with link-time
# optimisation (b_lto: the build a production package should use; it moved the
# real pipeline from 1.73-1.78 to 1.91-2.41 M row changes/s on the 2-core VM,
# bench/pipeline). A run.sh deeper than bench/NAME/ (bench/apps/NAME/run.sh)
# sets $bench_root to the source tree first.
root=${bench_root:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${WH_BENCH_BUILD:-$root/build-release}
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$root" --buildtype=release -Db_lto=true >/dev/null
elif ! grep -q '"name": "b_lto", "value": true' "$build/meson-info/intro-buildoptions.json" \
        2>/dev/null; then
    meson configure "$build" -Db_lto=true >/dev/null   # a build dir made before LTO
fi
