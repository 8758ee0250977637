#!/bin/sh
# Runs every libFuzzer harness for SECONDS each on its committed corpus
# (new inputs go to fuzz/out/<name>, never into the committed corpus).
# Exits non-zero when any harness finds a crash, leak or timeout: every
# harness still runs, and the failing ones are named at the end.
set -eu
bins=$1
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
failed=""
for bin in "$bins"/fuzz_*; do
	name=$(basename "$bin")
	corpus=$here/corpus/${name#fuzz_}
	out=$here/out/${name#fuzz_}
	mkdir -p "$out"
	dict=""
	[ -f "$here/${name#fuzz_}.dict" ] && dict="-dict=$here/${name#fuzz_}.dict"
	echo "== $name for ${seconds}s"
	log=$out.log
	# crash-*/leak-*/timeout-* files land in $out beside the new inputs
	# shellcheck disable=SC2086
	if "$bin" -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 -artifact_prefix="$out/" $dict \
		"$out" "$corpus" >"$log" 2>&1; then
		status=0
	else
		status=$?
	fi
	grep -E '^(stat::number_of_executed_units|stat::new_units_added|#[0-9]+ *DONE)|ERROR|SUMMARY' "$log" || :
	if [ "$status" -ne 0 ]; then
		echo "$name: exit $status, full log in $log"
		failed="$failed $name"
	fi
done
if [ -n "$failed" ]; then
	echo "fuzz: findings in:$failed"
	exit 1
fi
