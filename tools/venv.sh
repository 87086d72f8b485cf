#!/usr/bin/env bash
# tools/venv.sh <dir> <lock>: a new virtualenv at <dir> holding exactly the hash-pinned <lock>.
#
# The Makefile's venv targets call it when a lock changes. Every install is `--require-hashes
# --no-deps` from a complete lock (tests/test_locks.py), so nothing outside the lock is fetched.
#  1. The pinned pip and setuptools first (requirements-pip.txt). Without a pip of its own the venv
#     is created in a fraction of the time, and the bundled pip (ensurepip's wheel, run in place)
#     only installs the pinned one; a current pip resolves a lock about twice as fast.
#  2. The lock, with --no-build-isolation: the two providers published as sdists only are built
#     with the locked setuptools instead of unpinned, unhashed build dependencies.
#  3. Byte-compile in parallel (pip compiles on one core).
set -euo pipefail
dir=$1
lock=$2
python=${PYTHON:-python3}
flags=(--quiet --disable-pip-version-check --no-input --require-hashes --no-deps --no-compile)

rm -rf "$dir"
wheel=$("$python" -c 'import ensurepip, pathlib; print(next(pathlib.Path(ensurepip.__file__).parent.glob("_bundled/pip-*.whl"), ""))' 2>/dev/null || true)
if [[ -n $wheel ]]; then
    "$python" -m venv --without-pip "$dir"
    "$dir/bin/python" "$wheel/pip" install "${flags[@]}" -r requirements-pip.txt
else  # a distribution that unbundles ensurepip's wheels: its venv brings a pip
    "$python" -m venv "$dir"
    "$dir/bin/python" -m pip install "${flags[@]}" -r requirements-pip.txt
fi
"$dir/bin/python" -m pip install "${flags[@]}" --no-build-isolation -r "$lock"
"$dir/bin/python" -m compileall -q -j 0 -x '/pip/' "$dir/lib" >/dev/null
