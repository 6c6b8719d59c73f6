#!/bin/sh
# Where `cargo sockcheck`'s per-test time goes, on the 400-test suite that
# `bench/run.sh` generates (run that first). Needs hyperfine, strace and perf.
#
#   bench/profile.sh [CARGO_SOCKCHECK]   (default: bench/target/sockcheck/release/cargo-sockcheck)
#
# Runs with -j1, so that each test's time is one after the other:
#   1. fixed cost: a run that selects no test (metadata, build check, listing)
#   2. the whole run, -j1; per test = (whole - fixed) / tests
#   3. the floor: one test binary started directly, untraced (fork, exec,
#      dynamic loading, libtest start, the test, exit, wait), via hyperfine -N
#   4. the tracer's own CPU time (its event-loop thread, perf stat -i)
#   5. the tracer's syscalls and ptrace stops per test (strace -c, and a
#      -j1 timeline of a few tests in $out/timeline.txt)
#   6. what the tracer's CPU time is spent on (perf record, call graphs),
#      as shares of its event-loop thread's samples
set -eu
bench=$(cd "$(dirname "$0")" && pwd)
sockcheck=${1:-$bench/target/sockcheck/release/cargo-sockcheck}
suite=$bench/target/suite-400
out=$bench/target/profile
mkdir -p "$out"
place="--manifest-path $suite/Cargo.toml --target-dir $suite/target"
tests=400
part1=$(ls "$suite"/target/debug/deps/part1-* | grep -v '\.d$' | head -n1)
run() { "$sockcheck" sockcheck $place "$@" >/dev/null 2>&1; }
# Median of hyperfine's runs, in ms.
median_ms() { python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['results']; print(' '.join('%.3f' % (x['median']*1000) for x in r))" "$1"; }

echo "== 1, 2: fixed cost and whole -j1 run (hyperfine, alternated by its own order)"
hyperfine -N --style none -w 1 -r 5 --export-json "$out/whole.json" \
    "$sockcheck sockcheck $place -j1 no_test_is_called_this" \
    "$sockcheck sockcheck $place -j1" >/dev/null
set -- $(median_ms "$out/whole.json")
fixed=$1 whole=$2
echo "fixed ${fixed} ms, whole ${whole} ms, per test $(echo "($whole - $fixed) / $tests" | bc -l | cut -c1-5) ms"

echo "== 3: floor: one test, untraced"
cd "$suite"
hyperfine -N --style none -w 20 -r 300 --export-json "$out/floor.json" \
    "$part1 --exact test_00100 --nocapture --test-threads=1" "/bin/true" >/dev/null
set -- $(median_ms "$out/floor.json")
echo "test binary, one test: $1 ms; /bin/true: $2 ms"

echo "== 4: the tracer's own CPU (event-loop thread), -j1"
perf stat -i -x, -e task-clock,context-switches -o "$out/perf-stat.txt" \
    "$sockcheck" sockcheck $place -j1 >/dev/null 2>&1
awk -F, -v n=$tests '/task-clock/ {printf "tracer CPU: %.3f ms per test\n", $1/n}
    /context-switches/ {printf "tracer context switches: %.1f per test\n", $1/n}' "$out/perf-stat.txt"

echo "== 5: the tracer's syscalls (strace -c, main thread only: strace -f would"
echo "      take the tests from sockcheck's tracer), -j1"
strace -c -o "$out/strace-c.txt" "$sockcheck" sockcheck $place -j1 >/dev/null 2>&1
awk -v n=$tests 'NR > 2 && $4 ~ /^[0-9]+$/ {
        calls = $4; name = $NF
        if (calls >= n) printf "  %-12s %5.1f per test\n", name, calls / n
    }' "$out/strace-c.txt"
strace -ttt -T -o "$out/timeline.txt" "$sockcheck" sockcheck $place -j1 test_0010 >/dev/null 2>&1
stops=$(grep -c 'WIFSTOPPED' "$out/timeline.txt" || true)
echo "ptrace stops per test: $(echo "$stops / 10" | bc -l | cut -c1-4) (timeline of 10 tests: $out/timeline.txt)"

echo "== 6: the tracer's CPU by function (perf record -i --call-graph dwarf), -j1"
perf record -q -F 5000 --call-graph dwarf,16384 -i -o "$out/perf.data" \
    "$sockcheck" sockcheck $place -j1 >/dev/null 2>&1
perf report -i "$out/perf.data" --children --sort sym --stdio -g none 2>/dev/null \
    > "$out/perf-report.txt"
echo "  (share of samples in the function and what it calls; full report: $out/perf-report.txt)"
for symbol in 'Command>::spawn$' '__libc_fork$' 'capture_env$' 'CStringArray>$' \
    'snapshot::os::process_sockets$' '__poll \(inlined\)$' '\] ptrace$' '__wait4$' \
    'Capture::read_available$' 'print_progress$' 'exc_page_fault$'; do
    grep -E "^ +[0-9.]+% +[0-9.]+% .*$symbol" "$out/perf-report.txt" | head -n1 |
        awk '{ $2 = ""; $3 = ""; print "  " $0 }'
done
