#!/usr/bin/env bash
#
# Every fuzz target, built as a plain program (t/fuzz/fuzz-NAME-replay, made
# by "make"), replays its corpus t/fuzz/corpus/NAME/ without crashing: the
# inputs that once found bugs keep being tried on every make check, and under
# the sanitizers in the ASan build.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

shopt -s nullglob
targets=("$RF_TOP"/t/fuzz/fuzz-*.c)
[ ${#targets[@]} -gt 0 ] || skip_all "no fuzz targets in t/fuzz"

for src in "${targets[@]}"; do
	name=${src##*/fuzz-}
	name=${name%.c}
	[ "$name" = main ] && continue
	prog=$RF_BUILD/t/fuzz/fuzz-$name-replay
	corpus=$RF_TOP/t/fuzz/corpus/$name
	if [ ! -d "$corpus" ]; then
		skip "no corpus t/fuzz/corpus/$name"
		continue
	fi
	files=("$corpus"/*)
	if [ ${#files[@]} -eq 0 ]; then
		skip "t/fuzz/corpus/$name is empty"
		continue
	fi
	ok "fuzz-$name replays its ${#files[@]} corpus files" "$prog" "${files[@]}"
done

done_testing
