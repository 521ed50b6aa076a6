# release-build.sh -- sourced by bench/*/run.sh: sets $root (the source tree)
# and $build (the release build: $WH_BENCH_BUILD, or build-release at the
# source root), configuring it when it does not exist yet. A run.sh deeper than
# bench/NAME/ (bench/apps/NAME/run.sh) sets $bench_root to the source tree first.
root=${bench_root:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${WH_BENCH_BUILD:-$root/build-release}
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$root" --buildtype=release >/dev/null
fi
