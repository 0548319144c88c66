#!/bin/bash
# Run (or resume) a replica scan with plain mpiexec: a workstation, or a cluster without SLURM
# (inside a PBS / SGE / LSF job script, or interactively), then merge and report.
#
#   jobs/mpirun_scan.sh
#   NP=8 SPEC=jobs/speciation_gmm.toml OUT=results/speciation jobs/mpirun_scan.sh
#   NP=64 TIME_LIMIT=3h50m SPEC=... OUT=... jobs/mpirun_scan.sh      (inside a 4-hour batch job)
#
# ===================== placeholders: edit these, or set them in the environment ================
NP=${NP:-2}                          # MPI ranks (one per core)
SPEC=${SPEC:-jobs/demo.toml}         # scan specification (TOML)
OUT=${OUT:-results/$(basename "$SPEC" .toml)}   # output directory
PYTHON=${PYTHON:-python}             # the environment's python
MPIEXEC=${MPIEXEC:-mpiexec}          # the launcher of the MPI that mpi4py was built with
MPIEXEC_ARGS=${MPIEXEC_ARGS:-}       # extra launcher options, e.g. "-hostfile hosts" or "-ppn 32"
TIME_LIMIT=${TIME_LIMIT:-}           # optional, e.g. 3h50m: send the warning SIGTERM after this long
GRACE=${GRACE:-120}                  # seconds from that SIGTERM to SIGKILL
# ===============================================================================================

set -uo pipefail   # no -e: the scan's exit status is examined below

# One thread per rank and a node-local Numba cache (`replica scan` sets the same defaults when
# they are unset; exported here so that they are visible and easy to change).
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
export MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
export NUMBA_NUM_THREADS=${NUMBA_NUM_THREADS:-1}

# Numba's cache must be writable by this user alone: Numba loads its index files with pickle, so
# anyone who can write into the cache directory (or who created it first under its predictable
# name) could run code as this user. The directory is created with mode 700; an existing one is
# used only if it is a real directory owned by this user and not writable by group or others,
# otherwise a fresh private directory is used (and removed at the end) and a warning says so.
# `replica scan` repeats the check on every node before Numba starts.
private_numba_cache() {
    local dir=$1 owner_mode owner mode reason fresh
    mkdir -p "$(dirname "$dir")" 2>/dev/null
    mkdir -m 700 "$dir" 2>/dev/null
    owner_mode=$(stat -c '%u %a' "$dir" 2>/dev/null || stat -f '%u %Lp' "$dir" 2>/dev/null)
    read -r owner mode <<< "$owner_mode"
    if [ ! -L "$dir" ] && [ -d "$dir" ] && [ "${owner:-}" = "$(id -u)" ] && [ -n "${mode:-}" ] \
       && [ $(( 8#$mode & 8#022 )) -eq 0 ]; then
        NUMBA_CACHE_DIR=$dir
        return 0
    fi
    if [ -L "$dir" ]; then reason="a symbolic link"
    elif [ ! -d "$dir" ]; then reason="missing or not a directory"
    else reason="owner uid ${owner:-?}, mode ${mode:-?}; it must be owned by uid $(id -u) and not writable by others"
    fi
    fresh=$(mktemp -d "${TMPDIR:-/tmp}/numba-cache-$(id -u)-XXXXXX") || return 1
    echo "warning: NUMBA_CACHE_DIR: refusing $dir ($reason): Numba loads its cache with pickle;" \
         "using the private directory $fresh for this job" >&2
    NUMBA_CACHE_DIR=$fresh
    trap 'rm -rf "$NUMBA_CACHE_DIR"' EXIT
}
private_numba_cache "${NUMBA_CACHE_DIR:-${TMPDIR:-/tmp}/numba-cache-$(id -u)}" || exit 2
export NUMBA_CACHE_DIR

read -r -a launcher_args <<< "$MPIEXEC_ARGS"
launch=("$MPIEXEC" -n "$NP" "${launcher_args[@]}")

echo "replica scan: spec $SPEC, output $OUT, $NP ranks"

# Preflight: the ranks must form one MPI world (a launcher from another MPI than mpi4py's starts
# NP independent processes of size 1, each of which would run the whole scan).
world=$("${launch[@]}" "$PYTHON" -c \
    'from mpi4py import MPI; c = MPI.COMM_WORLD; print(c.Get_size()) if c.Get_rank() == 0 else None')
world=${world%%$'\n'*}   # first line: with a broken setup every rank prints 1
if [ "${world:-0}" != "$NP" ]; then
    echo "replica scan: $MPIEXEC started $NP ranks but MPI sees a world of size ${world:-?}:" \
         "use the mpiexec of the MPI that mpi4py was built with (MPIEXEC=...)" >&2
    exit 2
fi

cmd=("${launch[@]}" "$PYTHON" -m replica.cli scan "$SPEC" --out "$OUT" --resume)
if [ -n "$TIME_LIMIT" ]; then
    # GNU timeout sends SIGTERM after TIME_LIMIT and SIGKILL GRACE seconds later; with
    # --preserve-status it returns the scan's own status (3 when interrupted).
    cmd=(timeout --preserve-status --signal=TERM --kill-after="$GRACE" "$TIME_LIMIT" "${cmd[@]}")
fi

# The launcher runs in the background so that this shell can pass SIGINT (Ctrl-C) and SIGTERM
# (a batch system's warning) on as SIGTERM; mpiexec forwards it to the ranks. First signal: each
# rank finishes the task it is running and exits with status 3. Second: it abandons that task.
"${cmd[@]}" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null' INT TERM
wait "$pid"
while kill -0 "$pid" 2>/dev/null; do   # a signal interrupted `wait`; the ranks are finishing
    wait "$pid"
done
wait "$pid"   # the scan's own exit status (the shell keeps it after the process has ended)
status=$?
trap - INT TERM

# Exit status of the scan: 0 done; 1 some tasks failed (the others finished); 2 bad spec or
# arguments, nothing run; 3 interrupted: run this script again (it always passes --resume).
case $status in
    0) echo "replica scan: all tasks done" ;;
    1) echo "replica scan: some tasks failed; see $OUT/tasks/*.error.json" ;;
    2) echo "replica scan: bad spec or arguments; nothing was run" >&2; exit 2 ;;
    3) echo "replica scan: interrupted; run the same command again to resume" ;;
    *) echo "replica scan: ranks ended with status $status (killed?); finished tasks are kept," \
            "run the same command again to resume" >&2 ;;
esac

# Merged tables (OUT/merged/*.parquet) from the complete tasks, then the summary (and plots when
# matplotlib is installed).
"$PYTHON" -m replica.cli merge "$OUT" || echo "replica merge: incomplete scan (status $?)" >&2
"$PYTHON" -m replica.cli report "$OUT" || echo "replica report: failed (status $?)" >&2
exit "$status"
