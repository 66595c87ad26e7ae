#!/usr/bin/env bash
# Benchmarks opl over git on a generated repository: a commit that changes one global value
# (every agent changes) and one that changes one agent file, each `opl diff A B` measured in the
# same run as `opl render --all` at one revision and `git diff --stat A B`; and
# `opl validate --staged` with one staged agent file and with one staged global value, as the
# pre-commit hook runs it. The diff of one global value is measured without the agents store
# (`<git dir>/opl/agents-v1.json`, removed before each run: what a fresh clone's first diff
# costs) and with it, for the same pair again and for a new global value staged each run
# (`opl diff --staged`, a pre-commit check of an edit no run has seen); and `opl validate --staged`
# of one client's file staged (its agents only), without the store, with it, and with --all.
#
#   bench/git.sh [AGENTS] [CLIENTS]      (default 10000 200)
set -euo pipefail
cd "$(dirname "$0")/.."
agents=${1:-10000}
clients=${2:-200}
out=bench/out/git-$agents-$clients
cargo build --release -q --examples --bin opl
opl=$PWD/target/release/opl
export GIT_CONFIG_GLOBAL=/dev/null GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=b@example.com GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=b@example.com
if [ ! -d "$out/.git" ]; then
  rm -rf "$out"
  target/release/examples/gen_repo --agents "$agents" --clients "$clients" "$out" >/dev/null
  (
    cd "$out"
    git init -q && git add -A && git commit -qm base
    sed -i 's/max_output_tokens = 8192/max_output_tokens = 16384/' global/policy.toml
    git commit -qam "global: raise max_output_tokens"
    sed -i 's/temperature = 0.[0-9]/temperature = 0.7/' agents/a00042.toml
    git commit -qam "agent a00042: temperature"
  )
fi
render_dir=$(mktemp -d)
trap 'rm -rf "$render_dir"' EXIT
cd "$out"
A=HEAD~2 B=HEAD~1 C=HEAD

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_ms() { # median wall milliseconds of 5 runs
  local t=()
  for _ in 1 2 3 4 5; do
    local s e
    s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N)
    t+=($(( (e - s) / 1000000 )))
  done
  printf '%s\n' "${t[@]}" | median
}
store=$(git rev-parse --git-common-dir)/opl/agents-v1.json
without_store() { rm -f "$store"; "$@"; }
git_stat=$(time_ms git diff --stat $A $B)
diff_global_first=$(time_ms without_store "$opl" diff $A $B)
render=$(time_ms "$opl" render --all --force --rev $B --out "$render_dir")
diff_global=$(time_ms "$opl" diff $A $B)
diff_global_json=$(time_ms "$opl" diff $A $B --format json)
"$opl" diff $A $B >/dev/null
t=()
for v in 12001 12002 12003 12004 12005; do
  sed -i "s/max_output_tokens = [0-9]*/max_output_tokens = $v/" global/policy.toml
  git add global/policy.toml
  s=$(date +%s%N); "$opl" diff --staged >/dev/null 2>&1 || true; e=$(date +%s%N)
  t+=($(( (e - s) / 1000000 )))
done
diff_staged_global=$(printf '%s\n' "${t[@]}" | median)
git reset -q && git checkout -q global/policy.toml
diff_agent=$(time_ms "$opl" diff $B $C --format json)
sed -i 's/temperature = 0.[0-9]/temperature = 0.6/' agents/a00043.toml
git add agents/a00043.toml
staged=$(time_ms "$opl" validate --staged)
git reset -q && git checkout -q agents/a00043.toml
sed -i 's/max_output_tokens = 16384/max_output_tokens = 12288/' global/policy.toml
git add global/policy.toml
staged_global=$(time_ms "$opl" validate --staged)
git reset -q && git checkout -q global/policy.toml
client=clients/$(ls clients | head -1)/client.toml
sed -i 's/user = [0-9]*/user = 3/' "$client"
git add "$client"
staged_client_first=$(time_ms without_store "$opl" validate --staged)
staged_client=$(time_ms "$opl" validate --staged)
staged_client_all=$(time_ms "$opl" validate --staged --all)
git reset -q && git checkout -q "$client"
echo "repository: $agents agents, $clients clients, 3 commits"
printf '%-38s %8s\n' command ms
printf '%-38s %8s\n' "git diff --stat A B" "$git_stat"
printf '%-38s %8s\n' "opl render --all --rev B" "$render"
printf '%-38s %8s\n' "opl diff A B (one global value)" "$diff_global_first"
printf '%-38s %8s\n' "  again (agents store kept)" "$diff_global"
printf '%-38s %8s\n' "  diff --staged, a new global value" "$diff_staged_global"
printf '%-38s %8s\n' "  --format json (digests: full render)" "$diff_global_json"
printf '%-38s %8s\n' "opl diff B C (one agent file)" "$diff_agent"
printf '%-38s %8s\n' "opl validate --staged (one agent)" "$staged"
printf '%-38s %8s\n' "opl validate --staged (global value)" "$staged_global"
printf '%-38s %8s\n' "opl validate --staged (one client)" "$staged_client_first"
printf '%-38s %8s\n' "  again (agents store kept)" "$staged_client"
printf '%-38s %8s\n' "  --all (every agent)" "$staged_client_all"
awk -v a="$diff_agent" -v g="$diff_global_first" 'BEGIN { printf "one-agent diff / all-agents diff: %.1f%%\n", 100 * a / g }'
