#!/usr/bin/env bash
# Times this checkout's opl against a build of REV, side by side in one run, on the generated
# history (bench/history.sh makes it) and the diff repository (bench/git.sh makes it):
# log and blame (without, then with the history cache), audit of the last 100 commits and a
# one-value global diff, with git's own figures as references.
#
#   bench/compare.sh REV [AGENTS] [CLIENTS] [COMMITS]      (default 10000 200 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: bench/compare.sh REV [AGENTS] [CLIENTS] [COMMITS]}
agents=${2:-10000}
clients=${3:-200}
commits=${4:-100000}
hist=$PWD/bench/out/hist-$agents-$clients-$commits
diffrepo=$PWD/bench/out/git-$agents-$clients
[ -d "$hist/.git" ] && [ -d "$diffrepo/.git" ] || { echo "run bench/history.sh and bench/git.sh first" >&2; exit 2; }
cargo build --release -q --bin opl
now=$PWD/target/release/opl
base_dir=$(mktemp -d)
trap 'git worktree remove --force "$base_dir/src" >/dev/null 2>&1 || true; rm -rf "$base_dir"' EXIT
git worktree add -q "$base_dir/src" "$rev"
(cd "$base_dir/src" && CARGO_TARGET_DIR="$base_dir/target" cargo build --release -q --bin opl)
before=$base_dir/target/release/opl
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
seconds() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N); awk -v n=$((e - s)) 'BEGIN { printf "%.2f", n / 1e9 }'; }
row() { printf '%-44s %10s %10s\n' "$@"; }
cd "$hist"
row job "$rev" now
row "git log --format=%H -- <a00042's paths>" "$(seconds git log --format=%H -- opl.toml global clients/c0042 agents/a00042.toml agents/a00042)" "(reference)"
rm -rf .git/opl
row "opl log a00042" "$(seconds "$before" log a00042 -q --format json)" "$(seconds "$now" log a00042 -q --format json)"
row "opl log a00042 (again)" "-" "$(seconds "$now" log a00042 -q --format json)"
rm -rf .git/opl
row "opl blame a00042" "$(seconds "$before" blame a00042 --rev HEAD -q --format json)" "$(seconds "$now" blame a00042 --rev HEAD -q --format json)"
row "opl blame a00042 (again)" "-" "$(seconds "$now" blame a00042 --rev HEAD -q --format json)"
row "git log --stat HEAD~100..HEAD" "$(seconds git log --stat HEAD~100..HEAD)" "(reference)"
row "opl audit HEAD~100..HEAD" "$(seconds "$before" audit HEAD~100..HEAD -q --format json)" "$(seconds "$now" audit HEAD~100..HEAD -q --format json)"
cd "$diffrepo"
row "opl diff HEAD~2 HEAD~1 (one global value)" "$(seconds "$before" diff HEAD~2 HEAD~1)" "$(seconds "$now" diff HEAD~2 HEAD~1)"
