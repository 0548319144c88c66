#!/bin/bash
# SLURM batch job: run (or resume) a replica scan over MPI ranks, then merge and report.
#
#   sbatch jobs/slurm_scan.sh
#   SPEC=jobs/speciation_gmm.toml OUT=results/speciation sbatch --ntasks=64 --time=08:00:00 jobs/slurm_scan.sh
#
# (sbatch passes the submitting shell's environment to the job, so SPEC, OUT, ... can be given on
# the command line as above; options given to sbatch override the #SBATCH lines below.)
#
# ===================== placeholders: edit these for your cluster and scan =====================
#SBATCH --job-name=replica-scan
#SBATCH --nodes=1
#SBATCH --ntasks=32
#SBATCH --cpus-per-task=1
#SBATCH --time=02:00:00
##SBATCH --partition=PARTITION_NAME     (remove one '#' and set it, if your site needs a partition)
##SBATCH --account=ACCOUNT_NAME         (likewise)
#SBATCH --output=%x-%j.out
#
# Warning signal before the time limit: SIGTERM to the ranks 180 s before the end.
# --signal=TERM@180 (no "B:") signals the job steps, i.e. the ranks that srun started, directly;
# the batch shell is not signalled and stays free to resubmit, merge and report afterwards.
# With --signal=B:TERM@180 only this shell would get the signal and would have to trap it and
# pass it on to srun, adding a layer whose signal handling (and follow-up kill) differs between
# SLURM versions; signalling the steps avoids that. On the first SIGTERM each rank finishes the
# task it is running, writes it, and exits with status 3; a second one abandons the running task.
# Choose the lead time longer than the slowest single task plus about a minute for the merge
# (SLURM may also send the signal up to a minute earlier than asked).
#SBATCH --signal=TERM@180
#
# The scan (paths relative to the directory sbatch was called from):
SPEC=${SPEC:-jobs/demo.toml}                                  # scan specification (TOML)
OUT=${OUT:-results/${SLURM_JOB_NAME:-replica-scan}}            # output directory
PYTHON=${PYTHON:-python}                                      # the environment's python
SRUN_MPI=${SRUN_MPI:-}               # e.g. pmix or pmi2 if srun needs --mpi (see: srun --mpi=list)
MAX_RESUBMITS=${MAX_RESUBMITS:-5}    # resubmit an interrupted scan at most this many times (0: never)
RESUBMIT_COUNT=${RESUBMIT_COUNT:-0}  # set by the resubmission itself
# Load modules / activate the environment here, e.g.:
#   module load python
#   source "$HOME/venvs/replica/bin/activate"
# ===============================================================================================

set -uo pipefail   # no -e: the scan's exit status is examined below
cd "${SLURM_SUBMIT_DIR:-.}" || exit 2

# One thread per rank (ranks fill the cores) and a node-local Numba cache: each node compiles
# into its own disk instead of many ranks writing to one shared file system. `replica scan` sets
# the same defaults itself when they are unset; they are exported here so that they are visible
# in the job's environment and easy to change.
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

srun_args=()
if [ -n "$SRUN_MPI" ]; then
    srun_args+=(--mpi="$SRUN_MPI")
fi

echo "replica scan: spec $SPEC, output $OUT, ${SLURM_NTASKS:-?} ranks, job ${SLURM_JOB_ID:-?}" \
     "(submission $((RESUBMIT_COUNT + 1)))"

# Preflight: the ranks must form one MPI world. Without a working PMI between srun and the MPI
# library every rank sees a world of size 1 and would run the whole scan on its own.
world=$(srun "${srun_args[@]}" "$PYTHON" -c \
    'from mpi4py import MPI; c = MPI.COMM_WORLD; print(c.Get_size()) if c.Get_rank() == 0 else None')
world=${world%%$'\n'*}   # first line: with a broken setup every rank prints 1
if [ "${world:-0}" != "${SLURM_NTASKS:-1}" ]; then
    echo "replica scan: srun started ${SLURM_NTASKS:-?} ranks but MPI sees a world of size ${world:-?}:" \
         "set SRUN_MPI (srun --mpi=list) or build mpi4py against the site's MPI (see jobs/README.md)" >&2
    exit 2
fi

srun "${srun_args[@]}" "$PYTHON" -m replica.cli scan "$SPEC" --out "$OUT" --resume
status=$?

# Exit status of the scan: 0 done; 1 some tasks failed (the others finished); 2 bad spec or
# arguments, nothing run; 3 interrupted (the warning signal): continue with --resume.
case $status in
    0) echo "replica scan: all tasks done" ;;
    1) echo "replica scan: some tasks failed; see $OUT/tasks/*.error.json" ;;
    2) echo "replica scan: bad spec or arguments; nothing was run" >&2; exit 2 ;;
    3) echo "replica scan: interrupted before all tasks finished" ;;
    *) echo "replica scan: ranks ended with status $status (killed?); finished tasks are kept," \
            "resubmit to resume" >&2 ;;
esac

if [ "$status" -eq 3 ] && [ "$RESUBMIT_COUNT" -lt "$MAX_RESUBMITS" ]; then
    # The path this job was submitted with (sbatch keeps it); `SELF=... sbatch ...` overrides it.
    self=${SELF:-$(scontrol show job "${SLURM_JOB_ID:-0}" 2>/dev/null | sed -n 's/^ *Command=\([^ ]*\).*/\1/p' | head -n 1)}
    if [ -n "$self" ] && [ -f "$self" ]; then
        echo "replica scan: resubmitting $self (resubmission $((RESUBMIT_COUNT + 1)) of $MAX_RESUBMITS)"
        sbatch --export=ALL,SPEC="$SPEC",OUT="$OUT",SELF="$self",RESUBMIT_COUNT=$((RESUBMIT_COUNT + 1)) "$self"
        exit "$status"   # the next job merges and reports
    fi
    echo "replica scan: cannot find this script to resubmit it; run: SELF=path/to/slurm_scan.sh" \
         "SPEC=$SPEC OUT=$OUT sbatch path/to/slurm_scan.sh" >&2
fi

# Merged tables (OUT/merged/*.parquet) from the complete tasks, then the summary (and plots
# when matplotlib is installed). Both run on one core of the first node.
"$PYTHON" -m replica.cli merge "$OUT" || echo "replica merge: incomplete scan (status $?)" >&2
"$PYTHON" -m replica.cli report "$OUT" || echo "replica report: failed (status $?)" >&2
exit "$status"
