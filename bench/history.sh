#!/usr/bin/env bash
# Benchmarks opl's history commands on a generated repository with a long history, against
# `git log --format=%H -- <the agent's paths>` measured in the same run.
#
#   bench/history.sh [AGENTS] [CLIENTS] [COMMITS]      (default 10000 200 100000)
#
# Generating 100,000 commits takes several minutes the first time (bench/out is reused). One
# commit in ten edits global/ or a client, one in fifty merges a side branch (examples/gen_repo.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
agents=${1:-10000}
clients=${2:-200}
commits=${3:-100000}
out=bench/out/hist-$agents-$clients-$commits
cargo build --release -q --examples --bin opl
opl=$PWD/target/release/opl
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
if [ ! -d "$out/.git" ]; then
  rm -rf "$out"
  target/release/examples/gen_repo --agents "$agents" --clients "$clients" --commits "$commits" "$out" >/dev/null
fi
cd "$out"
agent=a00042
client=c$(printf '%04d' $((42 % clients)))
seconds() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N); awk -v n=$((e - s)) 'BEGIN { printf "%.2f", n / 1e9 }'; }
base=$(seconds git log --format=%H -- opl.toml global "clients/$client" "agents/$agent.toml" "agents/$agent")
# First runs without the history cache, then the same calls again with it.
rm -rf .git/opl
log=$(seconds "$opl" log "$agent" -q --format json)
log2=$(seconds "$opl" log "$agent" -q --format json)
rm -rf .git/opl
blame=$(seconds "$opl" blame "$agent" --rev HEAD -q --format json)
blame2=$(seconds "$opl" blame "$agent" --rev HEAD -q --format json)
other=a00043
log_other=$(seconds "$opl" log "$other" -q --format json)
# whence: every commit whose document has the digest of 300 commits ago.
digest=$("$opl" render "$agent" --rev HEAD~300 --format json --explain | sed -n 's/.*"digest": "\(sha256:[0-9a-f]*\)".*/\1/p' | head -1)
rm -rf .git/opl
whence=$(seconds "$opl" whence "$agent" "$digest" -q --format json)
whence2=$(seconds "$opl" whence "$agent" "$digest" -q --format json)
stat=$(seconds git log --stat HEAD~1000..HEAD)
audit=$(seconds "$opl" audit HEAD~1000..HEAD -q --format json)
audit2=$(seconds "$opl" audit HEAD~1000..HEAD -q --format json)
# Every agent's last change: the baseline is git walking the whole history over every config path.
base_all=$(seconds git log --format=%H -- opl.toml global clients agents)
inv=$(seconds "$opl" inventory --format json)
inv2=$(seconds "$opl" inventory --format json)
inv1=$(seconds "$opl" inventory --rev HEAD~1 --format json)
echo "repository: $agents agents, $clients clients, $((commits + 1)) commits; agent $agent"
printf '%-44s %8s %8s\n' command seconds ratio
printf '%-44s %8s %8s\n' "git log --format=%H -- <agent's paths>" "$base" "1.00x"
for row in "opl log $agent (no cache):$log" "opl log $agent (cache):$log2" "opl blame $agent (no cache):$blame" "opl blame $agent (cache):$blame2" "opl log $other (cache of other walks):$log_other" "opl whence $agent (no cache):$whence" "opl whence $agent (cache):$whence2"; do
  printf '%-44s %8s %8s\n' "${row%%:*}" "${row##*:}" "$(awk -v t="${row##*:}" -v b="$base" 'BEGIN { printf "%.2fx", t / b }')"
done
printf '%-44s %8s %8s\n' "git log --stat HEAD~1000..HEAD" "$stat" "1.00x"
for row in "opl audit HEAD~1000..HEAD:$audit" "opl audit HEAD~1000..HEAD (cache):$audit2"; do
  printf '%-44s %8s %8s\n' "${row%%:*}" "${row##*:}" "$(awk -v t="${row##*:}" -v b="$stat" 'BEGIN { printf "%.2fx", t / b }')"
done
printf '%-44s %8s %8s\n' "git log --format=%H -- <every config path>" "$base_all" "1.00x"
for row in "opl inventory (last change of all agents):$inv" "opl inventory (cache):$inv2" "opl inventory --rev HEAD~1:$inv1"; do
  printf '%-44s %8s %8s\n' "${row%%:*}" "${row##*:}" "$(awk -v t="${row##*:}" -v b="$base_all" 'BEGIN { printf "%.2fx", t / b }')"
done
