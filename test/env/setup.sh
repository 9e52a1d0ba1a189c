#!/usr/bin/env bash
# SiteFlow real test environment (loopback only). Idempotent: safe to run many times; a run that
# finds everything up takes a second or two. Runs as root on Debian 12 (CI=true, no stdin is fine).
#
# Usage:
#   bash test/env/setup.sh            ensure everything is up, write .test-env/state.json
#   bash test/env/setup.sh --status   print the state file and whether the engine and registry answer
#   bash test/env/setup.sh --stop     stop only what this script started (dockerd, registry); refuses
#                                     while another live vitest run holds a lease in .test-env/leases/
#   bash test/env/setup.sh --stop --force   stop even when other runs hold leases
#   bash test/env/setup.sh --quiet    (with ensure) print only the final line and errors
#   bash test/env/setup.sh --help
#
# What "ensure" does:
#   - installs missing apt packages in ONE `apt-get update` + `apt-get install -y` (root only):
#     docker.io (only if no engine answers and dockerd is missing), docker-compose, busybox-static,
#     docker-registry, caddy, openssh-server, chromium, curl, debootstrap (the image test's stand-in
#     base images), python3-aiosmtpd (the SMTP server of the email alert tests). Daemons are never
#     started by the install.
#   - Docker engine: DOCKER_HOST if set and answering (starts nothing); else /var/run/docker.sock if it
#     answers; else starts `dockerd --host unix:///var/run/docker.sock` (log: .test-env/dockerd.log).
#   - test image siteflow-test/busybox:1 (docker import of a busybox-static rootfs, LABEL
#     siteflow.test.image=1).
#   - a registry (`docker-registry serve`) on 127.0.0.1:5000, or the first free port from 5001 if 5000
#     is taken by something else, storage in .test-env/registry/, holding
#     127.0.0.1:PORT/siteflow-test/busybox:1.
#   - OpenSSH server, Caddy and Chromium are only installed: tests start their own sshd/caddy on free
#     loopback ports (see test/env/harness.ts).
#
# Environment:
#   DOCKER_HOST                    use this engine if it answers (unix:// or tcp:// on loopback only)
#   SITEFLOW_TEST_ENV_DIR          state dir (default: <repo>/.test-env)
#   SITEFLOW_TEST_REGISTRY_PORT    preferred registry port (default 5000)
#   SITEFLOW_TEST_LEASE_PID        (set by global-setup) the lease of the caller, ignored by --stop
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SCRIPT_DIR/../.." && pwd)"
STATE_DIR="${SITEFLOW_TEST_ENV_DIR:-$REPO_DIR/.test-env}"
STATE_FILE="$STATE_DIR/state.json"
PID_DIR="$STATE_DIR/pids"
LEASE_DIR="$STATE_DIR/leases"
IMAGE="siteflow-test/busybox:1"
IMAGE_REPO="siteflow-test/busybox"
IMAGE_TAG="1"
DEFAULT_SOCK="/var/run/docker.sock"
PREFERRED_REGISTRY_PORT="${SITEFLOW_TEST_REGISTRY_PORT:-5000}"

MODE="ensure"
QUIET=0
FORCE=0
for arg in "$@"; do
  case "$arg" in
    --stop) MODE="stop" ;;
    --status) MODE="status" ;;
    --quiet | -q) QUIET=1 ;;
    --force) FORCE=1 ;;
    --help | -h)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "setup.sh: unknown argument: $arg (see --help)" >&2
      exit 2
      ;;
  esac
done

START_TS=$(date +%s.%N)
log() { if [ "$QUIET" = 0 ]; then echo "[test-env] $*" >&2; fi; }
die() {
  echo "[test-env] ERROR: $*" >&2
  exit 1
}

mkdir -p "$STATE_DIR" "$PID_DIR" "$LEASE_DIR"
# One setup at a time per state dir (parallel vitest runs share it).
exec 9>"$STATE_DIR/setup.lock"
if ! flock -w 900 9; then die "timed out waiting for $STATE_DIR/setup.lock"; fi

# ---------------------------------------------------------------- helpers

# pid_alive PID EXPECTED_EXE_BASENAME: the process lives and runs that program (guards pid reuse).
pid_alive() {
  local pid="$1" want="$2" exe
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  exe=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | awk '{print $1}')
  [ "$(basename "${exe:-x}")" = "$want" ]
}

# started_pid NAME EXE: the pid setup recorded for NAME if that process still lives, else empty.
started_pid() {
  local f="$PID_DIR/$1.pid" pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f" 2>/dev/null || true)
  if pid_alive "$pid" "$2"; then echo "$pid"; else rm -f "$f"; fi
}

docker_answers() { # HOST
  timeout 15 docker -H "$1" info --format '{{.ServerVersion}}' >/dev/null 2>&1
}

port_listening() { # PORT
  [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
}

registry_answers() { # ADDR
  curl -fsS -m 5 -o /dev/null "http://$1/v2/" 2>/dev/null
}

wait_for() { # SECONDS DESCRIPTION CMD...
  local secs="$1" what="$2"
  shift 2
  local end=$((SECONDS + secs))
  while ! "$@"; do
    if [ "$SECONDS" -ge "$end" ]; then return 1; fi
    sleep 0.2
  done
  log "$what is up"
}

stop_pid() { # NAME EXE
  local pid
  pid=$(started_pid "$1" "$2")
  if [ -z "$pid" ]; then
    log "$1: not started by setup (or already stopped)"
    return 0
  fi
  log "stopping $1 (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 150); do
    [ -d "/proc/$pid" ] || break
    sleep 0.2
  done
  if [ -d "/proc/$pid" ]; then
    log "$1 did not stop in 30s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_DIR/$1.pid"
}

live_leases() { # other live vitest runs using this env
  local f pid
  for f in "$LEASE_DIR"/*; do
    [ -e "$f" ] || continue
    pid=$(basename "$f")
    if [ "$pid" = "${SITEFLOW_TEST_LEASE_PID:-}" ]; then continue; fi
    if [ -d "/proc/$pid" ]; then echo "$pid"; else rm -f "$f"; fi
  done
}

json_str() { # value -> JSON string or null
  if [ -z "${1:-}" ]; then
    printf 'null'
  else
    printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
  fi
}

json_num() { if [ -z "${1:-}" ]; then printf 'null'; else printf '%s' "$1"; fi; }

# ---------------------------------------------------------------- --stop / --status

if [ "$MODE" = "stop" ]; then
  others=$(live_leases)
  if [ -n "$others" ] && [ "$FORCE" = 0 ]; then
    echo "[test-env] not stopping: live test runs hold leases (pids: $(echo "$others" | tr '\n' ' '))." >&2
    echo "[test-env] use --stop --force to stop anyway." >&2
    exit 3
  fi
  stop_pid registry docker-registry
  stop_pid dockerd dockerd
  if [ -f "$STATE_FILE" ]; then
    # Keep facts but mark nothing as started/running.
    sed -i -e 's/"running": true/"running": false/' "$STATE_FILE"
  fi
  log "stopped what setup started"
  exit 0
fi

if [ "$MODE" = "status" ]; then
  [ -f "$STATE_FILE" ] && cat "$STATE_FILE" || echo "no state file at $STATE_FILE"
  dh=$(sed -n 's/.*"dockerHost": "\([^"]*\)".*/\1/p' "$STATE_FILE" 2>/dev/null | head -1)
  reg=$(sed -n 's/.*"registry": "\([^"]*\)".*/\1/p' "$STATE_FILE" 2>/dev/null | head -1)
  if [ -n "$dh" ] && docker_answers "$dh"; then echo "engine: answers ($dh)"; else echo "engine: DOWN"; fi
  if [ -n "$reg" ] && registry_answers "$reg"; then echo "registry: answers ($reg)"; else echo "registry: DOWN"; fi
  echo "started by setup: dockerd=$(started_pid dockerd dockerd) registry=$(started_pid registry docker-registry)"
  exit 0
fi

# ---------------------------------------------------------------- ensure: packages

# Which Docker engine answers already? (decides whether dockerd must be installed)
DOCKER_HOST_USED=""
if [ -n "${DOCKER_HOST:-}" ]; then
  case "$DOCKER_HOST" in
    unix://*) ;;
    tcp://127.* | tcp://localhost:* | tcp://\[::1\]:*) ;;
    *) die "DOCKER_HOST=$DOCKER_HOST is not a unix socket or a loopback tcp address; refusing to use it" ;;
  esac
fi

need_pkgs=()
add_pkg() { case " ${need_pkgs[*]:-} " in *" $1 "*) ;; *) need_pkgs+=("$1") ;; esac; }
have() { command -v "$1" >/dev/null 2>&1; }
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

have curl || add_pkg curl
have docker || add_pkg docker.io
engine_up=0
if have docker; then
  if [ -n "${DOCKER_HOST:-}" ] && docker_answers "$DOCKER_HOST"; then
    engine_up=1
  elif [ -S "$DEFAULT_SOCK" ] && docker_answers "unix://$DEFAULT_SOCK"; then engine_up=1; fi
fi
if [ "$engine_up" = 0 ] && ! have dockerd; then add_pkg docker.io; fi
have docker-compose || add_pkg docker-compose
pkg_installed busybox-static || add_pkg busybox-static
have docker-registry || add_pkg docker-registry
have caddy || add_pkg caddy
[ -x /usr/sbin/sshd ] || add_pkg openssh-server
have ssh-keygen || add_pkg openssh-client
have chromium || add_pkg chromium
[ -x /usr/sbin/debootstrap ] || add_pkg debootstrap
have ss || add_pkg iproute2
pkg_installed python3-aiosmtpd || add_pkg python3-aiosmtpd

if [ "${#need_pkgs[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    die "missing packages (${need_pkgs[*]}) and not root: install them with apt-get first"
  fi
  log "installing: ${need_pkgs[*]}"
  # Keep package scripts from starting daemons globally (ssh, docker): tests start their own.
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  set +e
  DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >"$STATE_DIR/apt.log" 2>&1 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" \
      </dev/null >>"$STATE_DIR/apt.log" 2>&1
  rc=$?
  set -e
  if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  if [ "$rc" != 0 ]; then
    tail -n 30 "$STATE_DIR/apt.log" >&2
    die "apt-get install failed (log: $STATE_DIR/apt.log)"
  fi
fi

# ---------------------------------------------------------------- ensure: Docker engine

if [ -n "${DOCKER_HOST:-}" ] && docker_answers "$DOCKER_HOST"; then
  DOCKER_HOST_USED="$DOCKER_HOST"
  log "using DOCKER_HOST=$DOCKER_HOST"
elif [ -S "$DEFAULT_SOCK" ] && docker_answers "unix://$DEFAULT_SOCK"; then
  DOCKER_HOST_USED="unix://$DEFAULT_SOCK"
else
  [ -n "${DOCKER_HOST:-}" ] && log "DOCKER_HOST=$DOCKER_HOST does not answer; using $DEFAULT_SOCK"
  DOCKER_HOST_USED="unix://$DEFAULT_SOCK"
  # A dockerd that someone else is starting right now: give it a moment instead of racing it.
  other_pid=$(cat /var/run/docker.pid 2>/dev/null || true)
  if pid_alive "$other_pid" dockerd; then
    log "dockerd (pid $other_pid) is running but not answering yet; waiting"
    wait_for 60 "engine" docker_answers "$DOCKER_HOST_USED" ||
      die "dockerd pid $other_pid (not started by setup) does not answer on $DEFAULT_SOCK"
  else
    [ "$(id -u)" = 0 ] || die "no Docker engine answers and not root: cannot start dockerd"
    log "starting dockerd (log: $STATE_DIR/dockerd.log)"
    # fd 9 (the setup lock) must not leak into the daemon, or the lock would stay held.
    # Many small networks: the test files bring up dozens of compose projects (each with its own
    # network) side by side, more than Docker's ~30 default pools hold.
    (cd / && exec setsid dockerd --host "unix://$DEFAULT_SOCK" --default-address-pool base=10.213.0.0/16,size=24 \
      </dev/null >>"$STATE_DIR/dockerd.log" 2>&1 9>&-) &
    echo $! >"$PID_DIR/dockerd.pid"
    if ! wait_for 90 "engine" docker_answers "$DOCKER_HOST_USED"; then
      tail -n 20 "$STATE_DIR/dockerd.log" >&2
      die "dockerd did not answer within 90s"
    fi
    if ! pid_alive "$(cat "$PID_DIR/dockerd.pid")" dockerd; then cp /var/run/docker.pid "$PID_DIR/dockerd.pid"; fi
  fi
fi
export DOCKER_HOST="$DOCKER_HOST_USED"
SOCKET_PATH=""
case "$DOCKER_HOST_USED" in unix://*) SOCKET_PATH="${DOCKER_HOST_USED#unix://}" ;; esac

# ---------------------------------------------------------------- ensure: test image

image_label() { docker image inspect "$1" --format '{{index .Config.Labels "siteflow.test.image"}}' 2>/dev/null || true; }

if [ "$(image_label "$IMAGE")" != "1" ]; then
  log "building $IMAGE from busybox-static"
  BUSYBOX=/bin/busybox
  [ -x "$BUSYBOX" ] || BUSYBOX=/usr/bin/busybox
  rootfs=$(mktemp -d "$STATE_DIR/rootfs.XXXXXX")
  mkdir -p "$rootfs"/{bin,etc,tmp,root,proc,sys,dev,var/www,home}
  chmod 1777 "$rootfs/tmp"
  cp "$BUSYBOX" "$rootfs/bin/busybox"
  for applet in $("$BUSYBOX" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  echo 'siteflow test image' >"$rootfs/var/www/index.html"
  tar -C "$rootfs" -c . | docker import \
    --change 'LABEL siteflow.test.image=1' \
    --change 'ENV PATH=/bin' \
    --change 'CMD ["sh"]' \
    --message 'siteflow test image (busybox-static)' \
    - "$IMAGE" >/dev/null
  rm -rf "$rootfs"
fi

# ---------------------------------------------------------------- ensure: registry

REGISTRY=""
reg_pid=$(started_pid registry docker-registry)
if [ -n "$reg_pid" ] && [ -f "$STATE_DIR/registry.addr" ] && registry_answers "$(cat "$STATE_DIR/registry.addr")"; then
  REGISTRY=$(cat "$STATE_DIR/registry.addr")
else
  if [ -n "$reg_pid" ]; then stop_pid registry docker-registry; fi
  port=""
  for p in "$PREFERRED_REGISTRY_PORT" $(seq 5001 5099); do
    if ! port_listening "$p"; then
      port="$p"
      break
    fi
  done
  [ -n "$port" ] || die "no free port for the registry in 5000-5099"
  [ "$port" = "$PREFERRED_REGISTRY_PORT" ] || log "port $PREFERRED_REGISTRY_PORT is taken; registry uses $port"
  REGISTRY="127.0.0.1:$port"
  mkdir -p "$STATE_DIR/registry"
  cat >"$STATE_DIR/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $STATE_DIR/registry
  delete:
    enabled: true
http:
  addr: $REGISTRY
EOF
  log "starting docker-registry on $REGISTRY (log: $STATE_DIR/registry.log)"
  (cd / && exec setsid docker-registry serve "$STATE_DIR/registry.yml" </dev/null >>"$STATE_DIR/registry.log" 2>&1 9>&-) &
  echo $! >"$PID_DIR/registry.pid"
  echo "$REGISTRY" >"$STATE_DIR/registry.addr"
  if ! wait_for 30 "registry" registry_answers "$REGISTRY"; then
    tail -n 20 "$STATE_DIR/registry.log" >&2
    die "registry did not answer on $REGISTRY within 30s"
  fi
fi

REGISTRY_IMAGE="$REGISTRY/$IMAGE"
remote_digest=$(curl -fsSI -m 10 \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  "http://$REGISTRY/v2/$IMAGE_REPO/manifests/$IMAGE_TAG" 2>/dev/null |
  tr -d '\r' | awk 'tolower($1)=="docker-content-digest:" {print $2}' || true)
local_id=$(docker image inspect "$IMAGE" --format '{{.Id}}')
tagged_id=$(docker image inspect "$REGISTRY_IMAGE" --format '{{.Id}}' 2>/dev/null || true)
repo_digests=$(docker image inspect "$IMAGE" --format '{{join .RepoDigests " "}}' 2>/dev/null || true)
if [ -z "$remote_digest" ] || [ "$tagged_id" != "$local_id" ] ||
  [[ " $repo_digests " != *" $REGISTRY/$IMAGE_REPO@$remote_digest "* ]]; then
  log "pushing $REGISTRY_IMAGE"
  docker tag "$IMAGE" "$REGISTRY_IMAGE"
  docker push "$REGISTRY_IMAGE" >"$STATE_DIR/push.log" 2>&1 || {
    cat "$STATE_DIR/push.log" >&2
    die "docker push $REGISTRY_IMAGE failed"
  }
fi

# ---------------------------------------------------------------- state file

DOCKERD_PID=$(started_pid dockerd dockerd)
REGISTRY_PID=$(started_pid registry docker-registry)
tool() { command -v "$1" 2>/dev/null || true; }
tmp_state=$(mktemp "$STATE_DIR/state.json.XXXXXX")
cat >"$tmp_state" <<EOF
{
  "version": 1,
  "updatedAt": $(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)"),
  "stateDir": $(json_str "$STATE_DIR"),
  "dockerHost": $(json_str "$DOCKER_HOST_USED"),
  "dockerSocketPath": $(json_str "$SOCKET_PATH"),
  "registry": $(json_str "$REGISTRY"),
  "registryUrl": $(json_str "http://$REGISTRY"),
  "images": {
    "busybox": $(json_str "$IMAGE"),
    "registryBusybox": $(json_str "$REGISTRY_IMAGE")
  },
  "tools": {
    "docker": $(json_str "$(tool docker)"),
    "dockerCompose": $(json_str "$(tool docker-compose)"),
    "caddy": $(json_str "$(tool caddy)"),
    "sshd": $(json_str "/usr/sbin/sshd"),
    "sshKeygen": $(json_str "$(tool ssh-keygen)"),
    "chromium": $(json_str "$(tool chromium)")
  },
  "started": {
    "dockerd": { "pid": $(json_num "$DOCKERD_PID"), "log": $(json_str "$STATE_DIR/dockerd.log"), "running": $([ -n "$DOCKERD_PID" ] && echo true || echo false) },
    "registry": { "pid": $(json_num "$REGISTRY_PID"), "log": $(json_str "$STATE_DIR/registry.log"), "running": $([ -n "$REGISTRY_PID" ] && echo true || echo false) }
  }
}
EOF
mv -f "$tmp_state" "$STATE_FILE"

elapsed=$(awk -v s="$START_TS" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
echo "[test-env] ready in ${elapsed}s: engine=$DOCKER_HOST_USED registry=$REGISTRY image=$IMAGE state=$STATE_FILE" >&2
