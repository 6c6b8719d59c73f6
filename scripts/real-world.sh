#!/usr/bin/env bash
# Runs cargo sockcheck on the unmodified test suites of published crates and
# measures how stable its verdicts are and what it costs. See
# docs/real-world.md for what it found and how to read the summary.
#
#   scripts/real-world.sh [all|fetch|build|verdicts|timing|summary|platforms|ports] [CRATE...]
#
# Steps (default `all`, in this order):
#   fetch     get each crate's packaged source from crates.io (through a
#             scratch project and `cargo fetch`) into $RW_DIR/<crate>
#   build     build cargo-sockcheck (release) and each suite (`cargo test --no-run`)
#   verdicts  $RUNS runs of sockcheck per crate in three settings:
#             a = --linger 0, b = default linger, c = default linger + --rerun-leaks 2;
#             JSON reports in $RW_DIR/results/<crate>/<setting>-<n>.json
#   timing    $TIMING_RUNS alternating wall-time runs of: sockcheck (default),
#             sockcheck --linger 0, cargo nextest run, cargo test --tests
#   summary   tables from the reports and timings (also written to
#             $RW_DIR/results/summary.md)
#   platforms one run per suite as on GitHub Actions with --sarif and
#             --gitlab: annotations printed (by level) against one per
#             leak, SARIF results, Code Quality issues (not part of `all`)
#   ports     one run per suite: the tests that created the most sockets
#             (with their connections closed first and peak open sockets)
#             and every port finding (churn, fixed ports, address in use),
#             see docs/ports.md (not part of `all`)
#
# Environment:
#   RW_DIR        where crates, their build dirs and results go (default
#                 ${TMPDIR:-/tmp}/sockcheck-real-world; keep it outside the
#                 repository: cargo would take the crates for members of
#                 sockcheck's workspace)
#   SOCKCHECK     a cargo-sockcheck binary to use instead of building one
#   SOCKCHECK_TARGET_DIR  target dir for building it (default
#                 target/real-world in the repository)
#   RUNS          runs per verdict setting (default 5)
#   TIMING_RUNS   runs per timing command (default 5)
#   JOBS          -j for sockcheck and nextest (default: number of CPUs)
#   TIMEOUT       sockcheck's --timeout, seconds (default 300: one httpmock
#                 test makes 1000 HTTP requests, 75-130 s on a busy machine)
#   RW_SETTINGS   the verdict settings to run, of a b c (default "a b c")
#   RW_PROFILE_DEBUG  build and run the suites with this `debug` setting in
#                 the dev and test profiles (CARGO_PROFILE_{DEV,TEST}_DEBUG:
#                 line-tables-only, false, ...); unset, as each crate says
#                 (full debug info). Set, the suites build into
#                 $RW_DIR/target-debug-<value>/ and results go to
#                 $RW_DIR/results-debug-<value>/, beside the default ones.
#
# Needs: cargo, python3, cargo-nextest (timing only; skipped when missing),
# ptrace allowed. Touches the network only for crates.io (fetch/build).
set -uo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
RW_DIR="${RW_DIR:-${TMPDIR:-/tmp}/sockcheck-real-world}"
RUNS="${RUNS:-5}"
TIMING_RUNS="${TIMING_RUNS:-5}"
JOBS="${JOBS:-$(nproc)}"
TIMEOUT="${TIMEOUT:-300}"
SOCKCHECK_TARGET_DIR="${SOCKCHECK_TARGET_DIR:-$REPO/target/real-world}"
SOCKCHECK="${SOCKCHECK:-$SOCKCHECK_TARGET_DIR/release/cargo-sockcheck}"
RW_SETTINGS="${RW_SETTINGS:-a b c}"
TARGETS="$RW_DIR/target"
RESULTS="$RW_DIR/results"
if [ -n "${RW_PROFILE_DEBUG:-}" ]; then
  # Cargo reads these for every crate of the suite; the release build of
  # cargo-sockcheck is not affected.
  export CARGO_PROFILE_DEV_DEBUG="$RW_PROFILE_DEBUG" CARGO_PROFILE_TEST_DEBUG="$RW_PROFILE_DEBUG"
  TARGETS+="-debug-$RW_PROFILE_DEBUG"
  RESULTS+="-debug-$RW_PROFILE_DEBUG"
fi

# The suites: name|version|cargo feature args|libtest --skip patterns (space-separated)|note|crate
# (crate: the crates.io package, when it is not the name: one crate can be
# run as two suites, each in its own $RW_DIR/<name>)
# tiny_http: thread-based HTTP server; its tests start servers on 0.0.0.0:0
#   and talk to them over loopback.
# hyper-util: tokio-based; its suite needs --features full (as its CI runs it).
#   test_socks_v5_with_locally_resolved_domain_works resolves hyper.rs in DNS
#   (no network here), so it is skipped.
# tokio: its own networking tests (the tcp_* and udp targets, --features full,
#   as its CI builds them); the other ~170 targets open no IP socket.
# mockito: HTTP mocking; its tests share a static pool of mock servers
#   (mockito::server_pool) that serve for the life of the process on purpose.
# wiremock: HTTP mocking on tokio; MockServer::start() takes a server from a
#   static pool (MOCK_SERVER_POOL) that is kept for the life of the process.
TOKIO_TESTS="tcp_accept tcp_accept_ready tcp_connect tcp_echo tcp_into_split tcp_into_std tcp_peek tcp_shutdown tcp_socket tcp_split tcp_stream udp"
# tokio-uds: tokio's unix-domain socket tests (the uds_* targets and
#   unix_shutdown, --features full): listeners on temp paths, streams,
#   datagrams, socketpairs, peer credentials.
TOKIO_UDS_TESTS="uds_cred uds_datagram uds_socket uds_split uds_stream unix_shutdown"
# tokio-signal: tokio's signal tests (--features full): the signal driver
#   makes one unix socketpair per process and keeps it (a built-in allowed
#   entry).
TOKIO_SIGNAL_TESTS="signal_ctrl_c signal_drop_recv signal_drop_rt signal_drop_signal signal_multi_rt signal_no_rt signal_notify_both signal_twice signal_usr1"
# httptest: HTTP mocking; its tests' servers come from a static ServerPool
#   and are kept for the life of the process (a built-in allowed entry).
# mockito-0: mockito's older major version (0.x, still widely used): one
#   global server per process, started on first use and never stopped
#   (issue 20: recognized as shared by design, without a rule).
# httpmock: HTTP mocking; MockServer::start() takes a server from a static
#   pool (LOCAL_SERVER_POOL_REF) whose servers serve until the process exits.
# httpmock-0.7: the same pool in the older line still widely used
#   (lazy_static, a hyper 0.14 server).
# wiremock-0.5: wiremock's older major version (still widely used): the
#   same static pool as 0.6, on deadpool 0.9.
CRATES=(
  "tiny_http|0.12.0|||thread-based"
  "hyper-util|0.1.21|--features full|test_socks_v5_with_locally_resolved_domain_works|tokio"
  "tokio|1.54.1|--features full$(printf ' --test %s' $TOKIO_TESTS)||tokio"
  "tokio-uds|1.54.1|--features full$(printf ' --test %s' $TOKIO_UDS_TESTS)||tokio, unix sockets|tokio"
  "mockito|1.7.2|||pooled servers"
  "wiremock|0.6.5|||pooled servers"
  "tokio-signal|1.54.1|--features full$(printf ' --test %s' $TOKIO_SIGNAL_TESTS)||tokio, signals|tokio"
  "httptest|0.16.4|||pooled servers"
  "mockito-0|0.31.1|||one global server|mockito"
  "httpmock|0.9.0|||pooled servers"
  "httpmock-0.7|0.7.0|||pooled servers|httpmock"
  "wiremock-0.5|0.5.22|||pooled servers|wiremock"
)

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'real-world.sh: %s\n' "$*" >&2; exit 2; }

field() { # field LINE N
  local IFS='|'
  # shellcheck disable=SC2206
  local parts=($1)
  printf '%s' "${parts[$2]:-}"
}

crate_of() { # crate_of LINE: the crates.io package of a suite
  local crate
  crate="$(field "$1" 5)"
  printf '%s' "${crate:-$(field "$1" 0)}"
}

selected() { # selected NAME: true when NAME was asked for (or none was)
  [ ${#ONLY[@]} -eq 0 ] && return 0
  local c
  for c in "${ONLY[@]}"; do [ "$c" = "$1" ] && return 0; done
  return 1
}

skip_args() { # skip_args "PAT PAT": --skip PAT ...
  local p
  for p in $1; do printf -- '--skip\n%s\n' "$p"; done
}

# --- fetch -------------------------------------------------------------------

fetch() {
  local scratch="$RW_DIR/fetch" line name version deps=""
  mkdir -p "$scratch/src"
  for line in "${CRATES[@]}"; do
    version="$(field "$line" 1)"
    local dep crate
    # Keyed by crate and version: two major versions of one crate can be
    # fetched side by side.
    crate="$(crate_of "$line")"
    dep="${crate}_${version//[.-]/_} = { package = \"$crate\", version = \"=$version\" }"
    case "$deps" in *"$dep"*) ;; *) deps+="$dep"$'\n' ;; esac
  done
  cat >"$scratch/Cargo.toml" <<EOF
[package]
name = "rw-fetch"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
$deps
[workspace]
EOF
  : >"$scratch/src/lib.rs"
  log "cargo fetch (crates.io)"
  (cd "$scratch" && cargo fetch) || die "cargo fetch failed"
  local cargo_home="${CARGO_HOME:-$HOME/.cargo}"
  for line in "${CRATES[@]}"; do
    name="$(field "$line" 0)"; version="$(field "$line" 1)"
    selected "$name" || continue
    local crate_file
    crate_file="$(ls "$cargo_home"/registry/cache/*/"$(crate_of "$line")-$version.crate" 2>/dev/null | head -1)"
    [ -n "$crate_file" ] || die "$(crate_of "$line")-$version.crate not in $cargo_home/registry/cache"
    log "unpack $name $version -> $RW_DIR/$name"
    rm -rf "${RW_DIR:?}/$name"
    mkdir -p "$RW_DIR/$name"
    tar xzf "$crate_file" -C "$RW_DIR/$name" --strip-components=1 || die "cannot unpack $crate_file"
    [ -d "$RW_DIR/$name/tests" ] || log "warning: $name's package has no tests/ directory"
    case "$name" in
      tiny_http)
        # The packaged Cargo.lock pins rustc-serialize 0.3.24, which no
        # longer compiles (E0310 on current rustc); 0.3.25 is the fix.
        # Only the lock file changes, not the crate's code.
        (cd "$RW_DIR/$name" && cargo update -p rustc-serialize --precise 0.3.25) ||
          die "cannot update rustc-serialize in $name's Cargo.lock"
        ;;
    esac
  done
}

# --- build -------------------------------------------------------------------

build() {
  if [ ! -x "$SOCKCHECK" ] || [ "$SOCKCHECK" = "$SOCKCHECK_TARGET_DIR/release/cargo-sockcheck" ]; then
    log "build cargo-sockcheck (release) into $SOCKCHECK_TARGET_DIR"
    (cd "$REPO" && CARGO_TARGET_DIR="$SOCKCHECK_TARGET_DIR" cargo build --release -p cargo-sockcheck) ||
      die "cannot build cargo-sockcheck"
  fi
  local line name features
  for line in "${CRATES[@]}"; do
    name="$(field "$line" 0)"; features="$(field "$line" 2)"
    selected "$name" || continue
    [ -d "$RW_DIR/$name" ] || die "$RW_DIR/$name missing: run the fetch step first"
    log "build $name's tests"
    # shellcheck disable=SC2086
    (cd "$RW_DIR/$name" && CARGO_TARGET_DIR="$TARGETS/$name" cargo test --no-run $features) ||
      die "cannot build $name's tests"
  done
}

# --- runs --------------------------------------------------------------------

# run_sockcheck NAME FEATURES SKIPS REPORT [OPTIONS...]: one sockcheck run;
# its stdout/stderr go to REPORT.log. Prints the exit status.
run_sockcheck() {
  local name="$1" features="$2" skips="$3" report="$4"
  shift 4
  local -a skip
  mapfile -t skip < <(skip_args "$skips")
  # shellcheck disable=SC2086
  (cd "$RW_DIR/$name" && CARGO_TARGET_DIR="$TARGETS/$name" \
    "$SOCKCHECK" sockcheck $features -j "$JOBS" --timeout "$TIMEOUT" "${skip[@]}" \
    --report "$report" "$@" >"$report.log" 2>&1)
  echo $?
}

verdicts() {
  [ -x "$SOCKCHECK" ] || die "no cargo-sockcheck at $SOCKCHECK: run the build step"
  local line name features skips setting i
  for line in "${CRATES[@]}"; do
    name="$(field "$line" 0)"; features="$(field "$line" 2)"; skips="$(field "$line" 3)"
    selected "$name" || continue
    mkdir -p "$RESULTS/$name"
    # The summary reads every <setting>-<n>.json: none may be left from an
    # earlier series (other settings, more runs).
    rm -f "$RESULTS/$name"/[abc]-*.json "$RESULTS/$name"/[abc]-*.json.log
    printf 'run\tsetting\tseconds\texit\n' >"$RESULTS/$name/verdict-times.tsv"
    for i in $(seq 1 "$RUNS"); do
      # Interleave the settings so that a slow spell of the machine hits all three.
      for setting in $RW_SETTINGS; do
        local -a options=()
        case "$setting" in
          a) options=(--linger 0) ;;
          b) options=() ;;
          c) options=(--rerun-leaks 2) ;;
          *) die "unknown setting '$setting' in RW_SETTINGS (a, b or c)" ;;
        esac
        local rc start end
        start="$(now)"
        rc="$(run_sockcheck "$name" "$features" "$skips" "$RESULTS/$name/$setting-$i.json" "${options[@]}")"
        end="$(now)"
        printf '%s\t%s\t%s\t%s\n' "$i" "$setting" "$(python3 -c "print(f'{$end - $start:.3f}')")" "$rc" \
          >>"$RESULTS/$name/verdict-times.tsv"
        log "$name setting $setting run $i: exit $rc"
        [ -s "$RESULTS/$name/$setting-$i.json" ] ||
          log "warning: no report from $name $setting-$i (see $RESULTS/$name/$setting-$i.json.log)"
      done
    done
  done
}

# now: seconds since the epoch, with microseconds
now() { printf '%s' "$EPOCHREALTIME"; }

timing() {
  [ -x "$SOCKCHECK" ] || die "no cargo-sockcheck at $SOCKCHECK: run the build step"
  local have_nextest=1
  cargo nextest --version >/dev/null 2>&1 || { have_nextest=0; log "cargo-nextest missing: not timed"; }
  local line name features skips i
  for line in "${CRATES[@]}"; do
    name="$(field "$line" 0)"; features="$(field "$line" 2)"; skips="$(field "$line" 3)"
    selected "$name" || continue
    mkdir -p "$RESULTS/$name"
    local out="$RESULTS/$name/timing.tsv"
    printf 'run\tcommand\tseconds\texit\n' >"$out"
    local -a skip
    mapfile -t skip < <(skip_args "$skips")
    # Warm up: the suites are built already; this makes every cargo call a no-op build.
    # shellcheck disable=SC2086
    (cd "$RW_DIR/$name" && CARGO_TARGET_DIR="$TARGETS/$name" cargo test --no-run $features >/dev/null 2>&1)
    for i in $(seq 1 "$TIMING_RUNS"); do
      local start rc end
      for command in sockcheck sockcheck-linger0 nextest cargo-test; do
        start="$(now)"
        case "$command" in
          sockcheck)
            rc="$(run_sockcheck "$name" "$features" "$skips" "$RESULTS/$name/timing-default.json")" ;;
          sockcheck-linger0)
            rc="$(run_sockcheck "$name" "$features" "$skips" "$RESULTS/$name/timing-linger0.json" --linger 0)" ;;
          nextest)
            [ "$have_nextest" = 1 ] || continue
            # shellcheck disable=SC2086
            (cd "$RW_DIR/$name" && CARGO_TARGET_DIR="$TARGETS/$name" \
              cargo nextest run $features --no-fail-fast -j "$JOBS" -- "${skip[@]}" \
              >"$RESULTS/$name/timing-nextest.log" 2>&1)
            rc=$? ;;
          cargo-test)
            # --tests (unless targets are named): what sockcheck and nextest
            # run, without doctests.
            local tests_flag="--tests"
            case " $features " in *" --test "*) tests_flag="" ;; esac
            # shellcheck disable=SC2086
            (cd "$RW_DIR/$name" && CARGO_TARGET_DIR="$TARGETS/$name" \
              cargo test $features $tests_flag -- "${skip[@]}" \
              >"$RESULTS/$name/timing-cargo-test.log" 2>&1)
            rc=$? ;;
        esac
        end="$(now)"
        printf '%s\t%s\t%s\t%s\n' "$i" "$command" \
          "$(python3 -c "print(f'{$end - $start:.3f}')")" "$rc" >>"$out"
        log "$name timing run $i $command: exit $rc"
      done
    done
  done
}

# --- summary -----------------------------------------------------------------

summary() {
  local names=() line name
  for line in "${CRATES[@]}"; do
    name="$(field "$line" 0)"
    selected "$name" && names+=("$name:$(field "$line" 1)")
  done
  python3 - "$RESULTS" "$RUNS" "${names[@]}" <<'PY' | tee "$RESULTS/summary.md"
import json, os, statistics, sys
from collections import Counter, defaultdict

results, runs, crates = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
SETTINGS = [("a", "--linger 0"), ("b", "default linger (100 ms)"), ("c", "default linger + --rerun-leaks 2")]

def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None

def verdict(test):
    leaks = sorted({(l["kind"], l["severity"]) for l in test["leaks"]})
    return (test["outcome"], tuple(leaks))

def gate(test):
    # What the exit status depends on: the outcome and the error-level kinds.
    leaks = sorted({l["kind"] for l in test["leaks"] if l["severity"] == "error"})
    return (test["outcome"], tuple((k, "error") for k in leaks))

def show(v):
    outcome, leaks = v
    text = ", ".join(f"{k}/{s}" for k, s in leaks) or "clean"
    return text if outcome == "passed" else f"{outcome}: {text}"

for crate in crates:
    name, version = crate.split(":")
    print(f"\n## {name} {version}\n")
    print("| setting | runs with a report | tests | leaking tests (min-max) | errors (min-max) | warnings (min-max) | allowed (min-max) | tests whose verdict changed | ... counting errors only | summed test time, median (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    details = {}
    kinds_by_setting = {}
    for key, label in SETTINGS:
        reports = [load(os.path.join(results, name, f"{key}-{i}.json")) for i in range(1, runs + 1)]
        reports = [r for r in reports if r]
        if not reports:
            print(f"| {key}: {label} | 0 | | | | | | | | |")
            continue
        seen, gates = defaultdict(list), defaultdict(list)
        for r in reports:
            for t in r["tests"]:
                seen[(t["binary"], t["name"])].append(verdict(t))
                gates[(t["binary"], t["name"])].append(gate(t))
        changed = {t: vs for t, vs in seen.items() if len(set(vs)) > 1 or len(vs) != len(reports)}
        gate_changed = [t for t, vs in gates.items() if len(set(vs)) > 1 or len(vs) != len(reports)]
        summed = statistics.median(sum(t.get("duration_ms") or 0 for t in r["tests"]) / 1000 for r in reports)
        details[key] = changed
        rng = lambda f: f"{min(map(f, reports))}-{max(map(f, reports))}"
        print(f"| {key}: {label} | {len(reports)} | {rng(lambda r: r['summary']['tests'])} "
              f"| {rng(lambda r: r['summary']['leaking_tests'])} | {rng(lambda r: r['summary']['errors'])} "
              f"| {rng(lambda r: r['summary']['warnings'])} | {rng(lambda r: r['summary'].get('allowed', 0))} "
              f"| {len(changed)} | {len(gate_changed)} | {summed:.2f} |")
        per_run = []
        for r in reports:
            c = Counter()
            for t in r["tests"]:
                for l in t["leaks"]:
                    c[f"{l['kind']}/{l['severity']}" + (f"/{l['stability']}" if l.get("stability") else "")] += 1
                for a in t.get("allowed", []):
                    c[f"{a['kind']}/allowed"] += 1
            per_run.append(c)
        kinds_by_setting[key] = per_run
    vt = os.path.join(results, name, "verdict-times.tsv")
    if os.path.exists(vt):
        walls = defaultdict(list)
        with open(vt) as f:
            next(f)
            for line in f:
                _, key, secs, _ = line.rstrip("\n").split("\t")
                walls[key].append(float(secs))
        print("\nWall time of these runs, median (s): " + ", ".join(
            f"{key} {statistics.median(v):.2f}" for key, v in sorted(walls.items())))
    print("\nLeaks by kind/severity[/stability] (count of leaks, min-max over the runs):\n")
    for key, label in SETTINGS:
        per_run = kinds_by_setting.get(key)
        if not per_run:
            continue
        kinds = sorted(set().union(*per_run))
        text = ", ".join(f"{k} {min(c[k] for c in per_run)}-{max(c[k] for c in per_run)}" for k in kinds) or "none"
        print(f"- {key}: {text}")
    for key, label in SETTINGS:
        changed = details.get(key)
        if changed:
            print(f"\nVerdicts that changed, setting {key} ({label}):\n")
            for (binary, test), vs in sorted(changed.items()):
                counts = Counter(map(show, vs))
                print(f"- `{binary}::{test}`: " + "; ".join(f"{v} ×{n}" for v, n in counts.most_common()))
    timing = os.path.join(results, name, "timing.tsv")
    if os.path.exists(timing):
        rows = defaultdict(list)
        with open(timing) as f:
            next(f)
            for line in f:
                _, command, secs, _ = line.rstrip("\n").split("\t")
                rows[command].append(float(secs))
        print("\nWall time (s), alternating runs:\n")
        print("| command | runs | median | min | max |")
        print("|---|---|---|---|---|")
        for command, secs in rows.items():
            print(f"| {command} | {len(secs)} | {statistics.median(secs):.2f} | {min(secs):.2f} | {max(secs):.2f} |")
        if rows.get("sockcheck") and rows.get("sockcheck-linger0"):
            extra = statistics.median(rows["sockcheck"]) - statistics.median(rows["sockcheck-linger0"])
            print(f"\nLinger cost (median default - median --linger 0): {extra:+.2f} s")
        if rows.get("sockcheck") and rows.get("nextest"):
            ratio = statistics.median(rows["sockcheck"]) / statistics.median(rows["nextest"])
            print(f"sockcheck / nextest (medians): {ratio:.2f}x")
PY
}

# platforms: what code hosts get from one run of each suite.
platforms() {
  [ -x "$SOCKCHECK" ] || die "no cargo-sockcheck at $SOCKCHECK: run the build step"
  local line name features skips out
  for line in "${CRATES[@]}"; do
    name="$(field "$line" 0)"; features="$(field "$line" 2)"; skips="$(field "$line" 3)"
    selected "$name" || continue
    out="$RESULTS/$name"
    mkdir -p "$out"
    log "platforms: $name"
    GITHUB_ACTIONS=true run_sockcheck "$name" "$features" "$skips" "$out/platforms.json" \
      --sarif "$out/platforms.sarif" --gitlab "$out/platforms-gitlab.json" >/dev/null
    python3 - "$name" "$out" <<'PY'
import json, sys
name, out = sys.argv[1], sys.argv[2]
report = json.load(open(f"{out}/platforms.json"))
levels = {"error": 0, "warning": 0, "notice": 0}
for line in open(f"{out}/platforms.json.log"):
    for level in levels:
        levels[level] += line.startswith(f"::{level} ")
failed = report["summary"]["failed"]
leaks = report["summary"]["errors"] + report["summary"]["warnings"]
results = len(json.load(open(f"{out}/platforms.sarif"))["runs"][0]["results"])
issues = len(json.load(open(f"{out}/platforms-gitlab.json")))
print(f"{name}: {leaks} leaks in {report['summary']['leaking_tests']} tests, {failed} failed tests; "
      f"annotations: {levels['error']} error, {levels['warning']} warning, {levels['notice']} notice "
      f"(one per leak and failed test would be {leaks + failed}); "
      f"SARIF results: {results}; Code Quality issues: {issues}")
PY
  done
}

ports() {
  [ -x "$SOCKCHECK" ] || die "no cargo-sockcheck at $SOCKCHECK: run the build step"
  local line name features skips
  for line in "${CRATES[@]}"; do
    name="$(field "$line" 0)"; features="$(field "$line" 2)"; skips="$(field "$line" 3)"
    selected "$name" || continue
    local out="$RESULTS/$name"
    mkdir -p "$out"
    log "ports: $name"
    run_sockcheck "$name" "$features" "$skips" "$out/ports.json" >/dev/null
    python3 - "$name" "$out/ports.json" <<'PY'
import json, sys
name, path = sys.argv[1], sys.argv[2]
tests = json.load(open(path))["tests"]
used = [t for t in tests if t.get("ports")]
created = lambda t: sum(t["ports"].get("created", {}).values())
print(f"{name}: {len(tests)} tests, {len(used)} made sockets, "
      f"{sum(created(t) for t in used)} sockets created, "
      f"{sum(t['ports'].get('active_closes', 0) for t in used)} connections closed first")
for t in sorted(used, key=created, reverse=True)[:5]:
    p = t["ports"]
    print(f"  {created(t):>6} sockets {p.get('connects', 0):>6} connects "
          f"{p.get('active_closes', 0):>6} closed first  peak {p.get('peak_open_sockets', 0):>4}  "
          f"{t['binary']}::{t['name']}")
for t in tests:
    for f in t.get("port_findings", []):
        print(f"  {f['kind']} ({f.get('severity', 'explains')}): {t['binary']}::{t['name']} "
              f"{f.get('address', '')} {f.get('active_closes', '')}".rstrip())
PY
  done
}

# --- main --------------------------------------------------------------------

STEP="${1:-all}"
[ $# -gt 0 ] && shift
ONLY=("$@")
mkdir -p "$RESULTS"
case "$STEP" in
  all) fetch && build && verdicts && timing && summary ;;
  fetch) fetch ;;
  build) build ;;
  verdicts) verdicts ;;
  timing) timing ;;
  summary) summary ;;
  platforms) platforms ;;
  ports) ports ;;
  *) die "unknown step '$STEP' (all|fetch|build|verdicts|timing|summary|platforms|ports)" ;;
esac
