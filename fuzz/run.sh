#!/bin/sh
# Runs every libFuzzer harness for SECONDS each on its committed corpus
# (new inputs go to fuzz/out/<name>, never into the committed corpus).
set -eu
bins=$1
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
for bin in "$bins"/fuzz_*; do
	name=$(basename "$bin")
	corpus=$here/corpus/${name#fuzz_}
	out=$here/out/${name#fuzz_}
	mkdir -p "$out"
	dict=""
	[ -f "$here/${name#fuzz_}.dict" ] && dict="-dict=$here/${name#fuzz_}.dict"
	echo "== $name for ${seconds}s"
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 $dict "$out" "$corpus" 2>&1 |
		grep -E '^(stat::number_of_executed_units|stat::new_units_added|#[0-9]+ *DONE)|ERROR|SUMMARY' || true
done
