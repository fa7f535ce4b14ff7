#!/usr/bin/env bash
# Run the test suite once per Keras backend, each in a separate process.
#
# Tests marked `backend_agnostic` run only in the first backend's pass.
# Extra arguments go to pytest, for example `bash tests/run_backends.sh -x`.
# ZOO_TEST_BACKENDS picks the backends, for example "jax torch".
set -uo pipefail
cd "$(dirname "$0")/.."

export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
reports="test-reports"
rm -rf "$reports"
mkdir -p "$reports"

first=1
for backend in ${ZOO_TEST_BACKENDS:-tensorflow jax torch}; do
    marker="not slow"
    if [ "$first" -eq 0 ]; then
        marker="not slow and not backend_agnostic"
    fi
    echo "=== KERAS_BACKEND=$backend: pytest -m '$marker' ==="
    KERAS_BACKEND="$backend" python -m pytest -m "$marker" --timeout=900 \
        --junitxml="$reports/$backend.xml" -q "$@"
    status=$?
    # pytest exits 5 when no test matched, which is not a failure here.
    if [ "$status" -ne 0 ] && [ "$status" -ne 5 ]; then
        echo "pytest under $backend exited with status $status"
    fi
    first=0
done

python tests/summarize_reports.py "$reports"/*.xml
