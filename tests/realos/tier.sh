#!/usr/bin/env bash
# `make test-real`: build (or reuse) .realos-venv, start the real OpenStack of ../shared/realos into a state dir,
# run `pytest -m realos`, and always stop the stack again, whatever the tests did.
#   REALOS_STATE  state dir (default: a fresh temp dir, removed afterwards unless REALOS_KEEP=1)
#   REALOS_SHARED the realos scripts (default: <repo>/../shared/realos, read-only in CI)
#   REALOS_VENV   the services' venv (default: <repo>/.realos-venv)
#   PYTEST_ARGS   extra pytest arguments (e.g. "-k fidelity")
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO"
SHARED=${REALOS_SHARED:-$REPO/../shared/realos}
VENV=${REALOS_VENV:-$REPO/.realos-venv}
PY=$REPO/.venv/bin/python
t0=$(date +%s)
say() { echo "test-real [$(( $(date +%s) - t0 ))s] $*"; }

[ -x "$SHARED/realos-up.sh" ] || [ -f "$SHARED/realos-up.sh" ] || { echo "test-real: no $SHARED/realos-up.sh" >&2; exit 2; }

# ---- the venv: rebuilt only when the pins or the fakes change (the stamp holds their digest)
UV_FLAGS="--compile-bytecode"
want=$( { cat tests/realos/requirements.txt "$SHARED"/realos_fakes/pyproject.toml "$SHARED"/realos_fakes/realos_fakes/*.py
          echo "$UV_FLAGS"; } | sha256sum | cut -d' ' -f1)
if [ "$(cat "$VENV/.pins-stamp" 2>/dev/null)" != "$want" ]; then
  say "building $VENV"
  rm -rf "$VENV"
  "$PY" -m uv venv -q --python python3 "$VENV"
  # ../shared is read-only: build the fakes from a writable copy (setuptools writes egg-info beside the source)
  fakes=$(mktemp -d)
  cp -r "$SHARED/realos_fakes/." "$fakes/"
  rm -rf "$fakes/build" "$fakes"/*.egg-info
  # Compiled bytecode: the machine sets PYTHONDONTWRITEBYTECODE, so without it each of the ~15 service processes
  # parses nova/neutron/cinder from source at every start (start-up then takes minutes on 2 busy cores).
  "$PY" -m uv pip install -q $UV_FLAGS --python "$VENV/bin/python" -r tests/realos/requirements.txt "$fakes"
  rm -rf "$fakes"
  echo "$want" > "$VENV/.pins-stamp"
  say "venv built"
else
  say "reusing $VENV (pins unchanged)"
fi
[ "${REALOS_BUILD_ONLY:-0}" = 1 ] && exit 0

# ---- the stack
# The ports are fixed: with another stack (or Debian's own rabbitmq/mariadb) up, starting would fail half-way,
# and stopping "ours" would stop theirs (realos-down.sh stops rabbit@localhost by name).
busy=$(ss -ltnH '( sport = :5000 or sport = :5672 or sport = :3306 or sport = :8774 )' 2>/dev/null | wc -l)
if [ "$busy" != 0 ]; then
  echo "test-real: ports 5000/5672/3306/8774 are taken: another realos stack (or Debian's rabbitmq or" \
       "mariadb) runs; stop it first (realos-down.sh STATE_DIR)" >&2
  exit 2
fi
# realos-up.sh opens the state dir's parent to the rabbitmq user (chmod 755): give it a parent of its own.
if [ -n "${REALOS_STATE:-}" ]; then
  STATE=$REALOS_STATE; own_state=0
else
  STATE=$(mktemp -d /tmp/pf9wb-realos.XXXXXX)/state; own_state=1
fi
mkdir -p "$STATE"
stop() {
  rc=$?
  if [ -s "$STATE/run/pids" ]; then
    t_down=$(date +%s)
    bash "$SHARED/realos-down.sh" "$STATE" > "$STATE/down.log" 2>&1 || true
    say "stack stopped in $(( $(date +%s) - t_down ))s"
  fi
  if [ "$own_state" = 1 ] && [ "${REALOS_KEEP:-0}" != 1 ]; then rm -rf "$(dirname "$STATE")"; fi
  exit $rc
}
trap stop EXIT
trap 'exit 130' INT TERM
up() {
  t_up=$(date +%s)
  say "starting the stack in $STATE"
  bash "$SHARED/realos-up.sh" "$STATE" "$VENV" > "$STATE/up.log" 2>&1
}
# One more try from scratch if start-up fails: on a loaded machine cinder-volume can report to the scheduler
# after the seeding script asked for the first volume (seen once here: "No valid backend was found").
if ! up; then
  say "start-up failed ($(grep FAILED "$STATE/run/timeline" 2>/dev/null | tail -1)); starting again from scratch"
  bash "$SHARED/realos-down.sh" "$STATE" > "$STATE/down-retry.log" 2>&1 || true
  find "$STATE" -mindepth 1 -delete
  if ! up; then
    tail -n 20 "$STATE/up.log" >&2
    exit 1
  fi
fi
say "stack up in $(( $(date +%s) - t_up ))s"

# ---- the tests (REALOS_STATE tells the conftest where adminrc, demorc, etc/ and samples/ are)
t_tests=$(date +%s)
set +e
REALOS_STATE=$STATE REALOS_VENV=$VENV "$REPO/.venv/bin/pytest" -m realos -p no:cacheprovider ${PYTEST_ARGS:-} tests/realos
rc=$?
set -e
say "tests done in $(( $(date +%s) - t_tests ))s (pytest exit $rc)"
exit $rc
