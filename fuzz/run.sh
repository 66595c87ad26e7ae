#!/usr/bin/env bash
# Runs every fuzz target for a while (default 600 s each), one after the other.
#   fuzz/run.sh [SECONDS] [TARGET...]
# Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable toolchain RUSTC_BOOTSTRAP=1 lets it
# pass the sanitizer flags. Findings land in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(load_file merge_stack render_digest key_path)
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O
status=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  if cargo fuzz run -O "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 > "/tmp/fuzz-$t.log" 2>&1; then
    echo "$t: ok ($(grep -c . "/tmp/fuzz-$t.log") log lines; $(tail -1 "/tmp/fuzz-$t.log"))"
  else
    echo "$t: FAILED (see /tmp/fuzz-$t.log and fuzz/artifacts/$t)"
    status=1
  fi
done
exit $status
