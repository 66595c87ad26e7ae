#!/usr/bin/env bash
# Benchmarks opl on a generated repository against a baseline measured in the same run:
# a single-threaded program that only reads and parses every TOML file.
#
#   bench/run.sh [AGENTS] [CLIENTS]      (default 10000 200)
#
# Prints the median wall time of 5 runs of each command, the ratio to the baseline, and the peak
# resident memory of opl.
set -euo pipefail
cd "$(dirname "$0")/.."
agents=${1:-10000}
clients=${2:-200}
out=bench/out/repo-$agents-$clients
cargo build --release -q --examples --bin opl
if [ ! -f "$out/opl.toml" ]; then
  rm -rf "$out"
  target/release/examples/gen_repo --agents "$agents" --clients "$clients" "$out" >/dev/null
fi
render_dir=$(mktemp -d)
trap 'rm -rf "$render_dir"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# time_cmd NAME CMD... : median wall seconds over 5 runs, and the max peak RSS in MB
time_cmd() {
  local name=$1; shift
  local times=() rss=0
  for _ in 1 2 3 4 5; do
    rm -rf "$render_dir"/*
    /usr/bin/time -f "%e %M" -o /tmp/opl-bench-time "$@" >/dev/null 2>&1 || true
    read -r t m < /tmp/opl-bench-time
    times+=("$t")
    [ "$m" -gt "$rss" ] && rss=$m
  done
  local med
  med=$(printf '%s\n' "${times[@]}" | median)
  echo "$name $med $((rss / 1024))"
}

base=$(time_cmd baseline target/release/examples/parse_baseline "$out")
val=$(time_cmd validate target/release/opl -C "$out" validate)
val1=$(taskset -c 0 true 2>/dev/null && time_cmd validate-1-core taskset -c 0 target/release/opl -C "$out" validate || echo "validate-1-core n/a 0")
ren=$(time_cmd render-all target/release/opl -C "$out" render --all --force --out "$render_dir")
b=$(echo "$base" | awk '{print $2}')
echo "repository: $agents agents, $clients clients ($(find "$out" -name '*.toml' | wc -l) TOML files)"
printf '%-16s %8s %8s %10s\n' command seconds ratio peak_MB
for line in "$base" "$val" "$val1" "$ren"; do
  set -- $line
  ratio=$(awk -v t="$2" -v b="$b" 'BEGIN { if (b > 0 && t != "n/a") printf "%.2fx", t / b; else print "-" }')
  printf '%-16s %8s %8s %10s\n' "$1" "$2" "$ratio" "$3"
done
