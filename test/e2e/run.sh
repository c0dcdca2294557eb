#!/bin/bash
# make e2e: installs the freshly built trl .deb in a booted Debian trixie box
# (systemd-nspawn, a real systemd as PID 1, the distribution's own nodejs) and
# checks the service end to end: the seven points of issue 3, plus unit
# verification, the exposure score and idle exit; then the per-user instance
# (a user with lingering, her own socket, commands as her, stop/crash/sweep,
# another user refused, doctor --user).
# Prints PASS:/FAIL: per check, INFO: for figures, and ends with the line
# "N passed, N failed". Exits 0 only when nothing failed.
# Usage: test/e2e/run.sh [DEB_DIR]   (default build/deb; `make e2e` builds it)
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
deb_dir=$(realpath "${1:-$repo/build/deb}")
deb=$(ls "$deb_dir"/trl_*.deb 2>/dev/null | head -n1)
[ -n "$deb" ] || { echo "e2e: no trl_*.deb in $deb_dir: run make deb" >&2; exit 2; }
boxdir=$repo/scripts/box

passed=0
failed=0
now_ms() { echo $(($(date +%s%N) / 1000000)); }
t_all=$(now_ms)
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
info() { echo "INFO: $*"; }
# expect NAME WANT GOT
expect() { if [ "$3" = "$2" ]; then pass "$1"; else fail "$1 (want '$2', got '$3')"; fi; }
# check NAME CMD...: passes when CMD succeeds; shows its output when not.
check() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then pass "$name"; else fail "$name"; [ -z "$out" ] || sed 's/^/      /' <<<"$out"; fi
}
# until_ok SECONDS CMD...: retries CMD every 0.1 s until it succeeds or time runs out.
until_ok() {
  local end=$(($(now_ms) + $1 * 1000))
  shift
  until "$@" >/dev/null 2>&1; do [ "$(now_ms)" -lt "$end" ] || return 1; sleep 0.1; done
}

box() { "$boxdir/run.sh" "$@"; }
as_trl() { box runuser -u trl -- "$@"; }
prop() { box systemctl show -P "$2" "$1"; } # prop UNIT PROPERTY
# The checks start and stop the service far more often than real use; each
# block starts with a fresh start-rate counter (StartLimitBurst).
fresh_limits() { box systemctl reset-failed trl.service trl.socket 2>/dev/null; }
PING='{"id":"p","method":"system.ping","params":{}}'
probe() { as_trl node /mnt/e2e/probe.cjs /run/trl/trl.sock "$@"; }
# ping_ok NAME: a ping as trl is answered with ok:true (the raw answer is shown when not).
ping_ok() {
  local out
  out=$(probe "$PING" 2>&1)
  if [ "$(jget 'r.reply && r.reply.ok' <<<"$out")" = true ]; then pass "$1"; else fail "$1"; sed 's/^/      /' <<<"$out"; fi
}
# jget EXPR: evaluates EXPR on the JSON object `r` read from stdin (host node).
jget() { node -e "const r=JSON.parse(require('fs').readFileSync(0,'utf8')); const v=($1); process.stdout.write(v===undefined||v===null?'':String(v))" 2>/dev/null; }
trl_pids() { box pgrep -u trl "$@" | tr '\n' ' ' | sed 's/ $//'; }
# A command whose shell leaves a setsid grandchild (a new session, out of the
# command's process group) and then waits: `sleep N` (grandchild), `sleep N+1`.
start_command() {
  box sh -c "runuser -u trl -- trl exec --timeout 0 -- 'setsid sleep $1 & sleep $(($1 + 1))' >/dev/null 2>&1 &"
  until_ok 10 box pgrep -u trl -f "^sleep $1\$" && until_ok 10 box pgrep -u trl -f "^sleep $(($1 + 1))\$"
}
gone() { ! box pgrep -u trl -f "^sleep ($1|$(($1 + 1)))\$" >/dev/null; }

# --- the box -----------------------------------------------------------------
t=$(now_ms)
"$boxdir/build.sh" || { echo "FAIL: box root could not be built"; echo "0 passed, 1 failed"; exit 1; }
info "box root: $(tail -n1 /var/tmp/trl-box/*-root/.trl-box-complete 2>/dev/null) (check: $(($(now_ms) - t)) ms)"
"$boxdir/down.sh" >/dev/null 2>&1
t=$(now_ms)
BOX_BIND="$deb_dir:/mnt/deb $repo/test/e2e:/mnt/e2e" "$boxdir/up.sh" >/dev/null || { echo "FAIL: box did not boot"; echo "0 passed, 1 failed"; exit 1; }
trap '"$boxdir/down.sh" >/dev/null 2>&1' EXIT
info "box booted in $(($(now_ms) - t)) ms ($(box systemctl --version | head -n1), node $(box node --version))"

# --- install -----------------------------------------------------------------
t=$(now_ms)
check "the .deb installs with apt, its dependencies met by Debian's own packages" \
  box env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "/mnt/deb/$(basename "$deb")"
info "install took $(($(now_ms) - t)) ms"
units=(/usr/lib/systemd/system/trl.socket /usr/lib/systemd/system/trl.service)
verify=$(box systemd-analyze verify --man=no "${units[@]}" 2>&1)
expect "systemd-analyze verify: clean, nothing on stderr" "" "$verify"
exposure=$(box systemd-analyze security --offline=true --no-pager trl.service 2>/dev/null | sed -n 's/.*Overall exposure level for trl.service: //p')
info "systemd-analyze security --offline=true trl.service: exposure $exposure"
check "exposure score at most 2.0 (got ${exposure:-none})" awk -v e="${exposure%% *}" 'BEGIN { exit !(e != "" && e <= 2.0) }'

# --- 1. user, socket, service before the first connection ---------------------
expect "1. system user trl exists (home /var/lib/trl, no login shell)" "/var/lib/trl:/usr/sbin/nologin" \
  "$(box getent passwd trl | cut -d: -f6-)"
expect "1. trl.socket is enabled" enabled "$(box systemctl is-enabled trl.socket)"
expect "1. trl.socket is listening" listening "$(prop trl.socket SubState)"
expect "1. the socket is srw------- trl trl" "srw------- trl trl /run/trl/trl.sock" "$(box stat -c '%A %U %G %n' /run/trl/trl.sock)"
expect "1. trl.service is inactive before the first connection" inactive "$(prop trl.service ActiveState)"

# --- 2. the first connection starts the daemon --------------------------------
first=$(probe "$PING")
expect "2. a client running as trl gets an answer to system.ping" true "$(jget 'r.reply && r.reply.ok' <<<"$first")"
cold=$(jget r.ms <<<"$first")
expect "2. trl.service is active after it" active "$(prop trl.service ActiveState)"
main=$(prop trl.service MainPID)
expect "2. its MainPID runs as trl" trl "$(box ps -o user= -p "$main" | tr -d ' ')"
status=$(prop trl.service StatusText)
check "2. StatusText is set, so READY=1 arrived: '$status'" test -n "$status"
expect "2. NotifyAccess is main" main "$(prop trl.service NotifyAccess)"
samples=("$cold")
for _ in 1 2 3 4; do
  box systemctl stop trl.service 2>/dev/null
  samples+=("$(probe "$PING" | jget r.ms)")
done
sorted=$(printf '%s\n' "${samples[@]}" | sort -n | tr '\n' ' ')
info "cold start in the box, connect to first answer (ms, 5 runs, sorted): $sorted"

# --- 2b. the V8 code cache the postinst made -------------------------------------
ready_line() { box journalctl -u trl.service -o cat --no-pager | grep '"trld ready"' | tail -n1; }
expect "2b. postinst made the code cache /var/cache/trl/trld.cache, root:root 0644" "root:root 644" "$(box stat -c '%U:%G %a' /var/cache/trl/trld.cache)"
expect "2b. the activated trld used it" used "$(jget r.code_cache <<<"$(ready_line)")"
expect "2b. and one of trl's (the CLI's), root:root 0644" "root:root 644" "$(box stat -c '%U:%G %a' /var/cache/trl/trl.cache)"
# The same starts without it (a drop-in empties TRL_CODE_CACHE_DIR), alternated, for the figure.
nocache=/run/systemd/system/trl.service.d/50-e2e-nocache.conf
with=(); without=()
for _ in 1 2 3 4; do
  for mode in with without; do
    fresh_limits
    if [ "$mode" = without ]; then box sh -c "mkdir -p ${nocache%/*} && printf '[Service]\nEnvironment=TRL_CODE_CACHE_DIR=\n' >$nocache && systemctl daemon-reload"; fi
    box systemctl stop trl.service 2>/dev/null
    ms=$(probe "$PING" | jget r.ms)
    if [ "$mode" = with ]; then with+=("$ms"); else without+=("$ms"); box sh -c "rm -f $nocache && systemctl daemon-reload"; fi
  done
done
info "cold start in the box with the code cache / without (ms, 4 alternated runs each, sorted): $(printf '%s\n' "${with[@]}" | sort -n | tr '\n' ' ')/ $(printf '%s\n' "${without[@]}" | sort -n | tr '\n' ' ')"
# The CLI's start, `trl ping` to a running trld, with its cache and without (alternated), beside bare node.
fresh_limits
probe "$PING" >/dev/null
cli=$(box bash -c 'for _ in 1 2 3 4 5 6; do for m in with without node; do s=$(date +%s%N); case $m in with) runuser -u trl -- trl ping ;; without) runuser -u trl -- env TRL_CODE_CACHE_DIR= trl ping ;; node) runuser -u trl -- node -e 0 ;; esac >/dev/null; echo "$m $(( ($(date +%s%N) - s) / 100000 ))"; done; done')
median_of() { grep "^$1 " <<<"$cli" | awk '{ print $2 / 10 }' | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
info "trl ping in the box, median of 6 alternated (ms, runuser included): with its code cache $(median_of with), without $(median_of without), bare node -e 0 $(median_of node)"
# A cache trl could have written is code trl could run inside the next trld: refused.
fresh_limits
box chown trl /var/cache/trl/trld.cache
box systemctl stop trl.service 2>/dev/null
ping_ok "2b. with a code cache owned by trl, trld starts without it and answers"
expect "2b. its ready line says refused" refused "$(jget r.code_cache <<<"$(ready_line)")"
check "2b. the warning names the file and its owner" sh -c "'$boxdir/run.sh' journalctl -u trl.service -o cat --no-pager | grep 'V8 code cache not used' | tail -n1 | grep -q 'trld.cache is owned by uid'"
check "2b. trl doctor fails its code cache line, naming the file and the fix" sh -c "'$boxdir/run.sh' trl doctor | grep -A1 '^FAIL  start-up code caches' | grep -q 'dpkg-reconfigure trl'"
box chown root /var/cache/trl/trld.cache
# Node upgraded: the package's trigger on /usr/bin/node makes a new cache.
box rm -f /var/cache/trl/trld.cache /var/cache/trl/trl.cache
box sh -c 'dpkg-trigger --no-await /usr/bin/node && dpkg --triggers-only --pending' >/dev/null 2>&1
expect "2b. the trigger on /usr/bin/node (a nodejs upgrade) makes both caches again" "root:root 644 root:root 644" "$(box stat -c '%U:%G %a' /var/cache/trl/trld.cache /var/cache/trl/trl.cache 2>&1 | tr '\n' ' ' | sed 's/ $//')"
fresh_limits
box systemctl stop trl.service 2>/dev/null
ping_ok "2b. trld answers with the new cache"
expect "2b. and used it" used "$(jget r.code_cache <<<"$(ready_line)")"

# --- 3. exec.run as trl; others are refused -----------------------------------
fresh_limits
expect "3. exec.run works and the command runs as trl" trl "$(as_trl trl exec -- id -un 2>&1)"
expect "3. the package's daemon starts commands with the native process layer (system.stats spawner)" native \
  "$(probe '{"id":"s","method":"system.stats","params":{}}' | jget 'r.reply && r.reply.data && r.reply.data.spawner')"
# A terminal under the hardened unit (PrivateDevices: /dev/ptmx and /dev/pts must still be there), driven from a real one.
tty_out=$(as_trl script -qec 'trl exec -t -- sh -c "tty; stty size"' /dev/null 2>&1 | tr -d '\r')
if grep -q '^/dev/pts/[0-9]' <<<"$tty_out" && grep -q '^[0-9]* [0-9]*$' <<<"$tty_out"; then pass "3. trl exec -t under the system unit: the command's terminal is a /dev/pts/N with a size"
else fail "3. trl exec -t under the system unit: the command's terminal is a /dev/pts/N with a size"; sed 's/^/      /' <<<"$tty_out"; fi
nobody=$(box setpriv --reuid=nobody --regid=nogroup --clear-groups node /mnt/e2e/probe.cjs /run/trl/trl.sock "$PING")
expect "3. a client running as nobody is refused by the socket's permissions" EACCES "$(jget r.error <<<"$nobody")"

# --- 4. stop while a command with a setsid grandchild runs --------------------
fresh_limits
if start_command 1001; then
  t=$(now_ms)
  check "4. systemctl stop trl.service completes" box timeout 60 systemctl stop trl.service
  info "stop took $(($(now_ms) - t)) ms"
  expect "4. trl.service is inactive" inactive "$(prop trl.service ActiveState)"
  check "4. nothing started by trl survives (command and setsid grandchild)" gone 1001
  until_ok 5 test -z "$(trl_pids)"
  expect "4. no process of user trl is left" "" "$(trl_pids)"
  expect "4. the socket survives the stop (RuntimeDirectoryPreserve)" "srw------- trl trl /run/trl/trl.sock" "$(box stat -c '%A %U %G %n' /run/trl/trl.sock)"
  ping_ok "4. the next connection starts the daemon again"
  check "4. with a new MainPID" test "$(prop trl.service MainPID)" != "$main"
else
  fail "4. the command with a setsid grandchild did not start"
fi

# --- 5. crash while a command with a setsid grandchild runs -------------------
fresh_limits
main=$(prop trl.service MainPID)
restarts=$(prop trl.service NRestarts)
if start_command 1003; then
  box systemctl kill --kill-whom=main -s KILL trl.service
  check "5. systemd restarts the crashed daemon (Restart=on-failure)" \
    until_ok 15 sh -c "[ \"\$('$boxdir/run.sh' systemctl show -P NRestarts trl.service)\" -gt $restarts ] && [ \"\$('$boxdir/run.sh' systemctl show -P ActiveState trl.service)\" = active ]"
  check "5. nothing started before the crash survives" gone 1003
  ping_ok "5. the restarted daemon answers"
else
  fail "5. the command with a setsid grandchild did not start"
fi

# 5b. The orphan ledger on its own: with KillMode=process systemd leaves the
# crashed daemon's commands alone, and with Delegate=no there are no session
# cgroups to clean up, so only the ledger sweep at the next start can end them.
fresh_limits
box sh -c 'mkdir -p /run/systemd/system/trl.service.d && printf "[Service]\nKillMode=process\nDelegate=no\n" >/run/systemd/system/trl.service.d/50-e2e-killmode.conf && systemctl daemon-reload && systemctl restart trl.service'
restarts=$(prop trl.service NRestarts)
box sh -c "runuser -u trl -- trl exec --timeout 0 -- 'sleep 1005' >/dev/null 2>&1 &"
if until_ok 10 box pgrep -u trl -f '^sleep 1005$'; then
  box systemctl kill --kill-whom=main -s KILL trl.service
  until_ok 15 sh -c "[ \"\$('$boxdir/run.sh' systemctl show -P NRestarts trl.service)\" -gt $restarts ] && [ \"\$('$boxdir/run.sh' systemctl show -P ActiveState trl.service)\" = active ]"
  check "5b. with KillMode=process and Delegate=no, the restarted daemon's orphan sweep ends the command" until_ok 5 eval '! box pgrep -u trl -f "^sleep 1005\$"'
  sweep=$(box journalctl -u trl.service -o cat --no-pager | grep 'orphan sweep' | tail -n1)
  # Killed within the ledger's write delay, the group is not recorded yet and
  # the sweep finds the command by its session's marker instead (a stray).
  check "5b. the sweep logged the command (its group killed, or found by its session)" \
    test "$(jget 'r.killed + r.strays' <<<"$sweep")" -ge 1
  info "sweep: $sweep"
else
  fail "5b. the command did not start"
fi
box sh -c 'rm -f /run/systemd/system/trl.service.d/50-e2e-killmode.conf && systemctl daemon-reload'

# --- 6. watchdog ----------------------------------------------------------------
fresh_limits
box sh -c 'mkdir -p /run/systemd/system/trl.service.d && printf "[Service]\nWatchdogSec=2s\n" >/run/systemd/system/trl.service.d/50-e2e-watchdog.conf && systemctl daemon-reload && systemctl restart trl.service'
main=$(prop trl.service MainPID)
restarts=$(prop trl.service NRestarts)
ping1=$(prop trl.service WatchdogTimestampMonotonic)
sleep 7
expect "6. with WatchdogSec=2s the daemon stays up across 3 intervals (same MainPID, no restart)" "$main active $restarts" \
  "$(prop trl.service MainPID) $(prop trl.service ActiveState) $(prop trl.service NRestarts)"
check "6. WATCHDOG=1 keeps arriving" test "$(prop trl.service WatchdogTimestampMonotonic)" != "$ping1"
if [ "${main:-0}" -gt 1 ]; then
  box kill -STOP "$main"
  check "6. a wedged daemon (SIGSTOP) is restarted by the watchdog" \
    until_ok 10 sh -c "[ \"\$('$boxdir/run.sh' systemctl show -P NRestarts trl.service)\" -gt $restarts ]"
else
  fail "6. a wedged daemon (SIGSTOP) is restarted by the watchdog: no MainPID to stop"
fi
box sh -c 'rm -f /run/systemd/system/trl.service.d/50-e2e-watchdog.conf && systemctl daemon-reload'

# --- idle exit (TRL_IDLE_EXIT_S) -----------------------------------------------
fresh_limits
box sh -c 'mkdir -p /run/systemd/system/trl.service.d && printf "[Service]\nEnvironment=TRL_IDLE_EXIT_S=1\n" >/run/systemd/system/trl.service.d/50-e2e-idle.conf && systemctl daemon-reload && systemctl restart trl.service'
probe "$PING" >/dev/null
check "idle exit: with TRL_IDLE_EXIT_S=1 and no sessions the daemon exits by itself" \
  until_ok 10 sh -c "[ \"\$('$boxdir/run.sh' systemctl show -P ActiveState trl.service)\" = inactive ]"
expect "idle exit: cleanly (Result=success)" success "$(prop trl.service Result)"
ping_ok "idle exit: the next connection starts it again"
box sh -c 'rm -f /run/systemd/system/trl.service.d/50-e2e-idle.conf && systemctl daemon-reload'

# --- trl doctor (issue 6): the seed's deployment checklist on the installed package ---
has_line() { grep -qE "$1" <<<"$2"; }
fresh_limits
probe "$PING" >/dev/null
out=$(box trl doctor 2>&1); rc=$?
if [ "$rc" = 0 ]; then pass "doctor: the installed package passes every check"; else fail "doctor: the installed package passes every check (exit $rc)"; sed 's/^/      /' <<<"$out"; fi
check "doctor: --json answers with a JSON document" sh -c "'$boxdir/run.sh' trl doctor --json | node -e 'JSON.parse(require(\"fs\").readFileSync(0, \"utf8\"))'"
# A deliberately broken install: a world-readable env file, then HTTP without a token.
box chmod 0644 /etc/trl/trl.env
out=$(box trl doctor 2>&1); rc=$?
expect "doctor: a world-readable env file makes it fail" 1 "$rc"
check "doctor: the failing line names the env file check" has_line '^FAIL .*env file' "$out"
box chmod 0600 /etc/trl/trl.env
box sh -c 'mkdir -p /run/systemd/system/trl.service.d && printf "[Service]\nEnvironment=TRL_HTTP_LISTEN=127.0.0.1:8787\n" >/run/systemd/system/trl.service.d/50-e2e-http.conf && systemctl daemon-reload'
out=$(box trl doctor 2>&1); rc=$?
expect "doctor: HTTP enabled without TRL_AUTH_TOKEN makes it fail" 1 "$rc"
check "doctor: the failing line names TRL_AUTH_TOKEN" has_line '^FAIL .*TRL_AUTH_TOKEN' "$out"
box sh -c 'rm -f /run/systemd/system/trl.service.d/50-e2e-http.conf && systemctl daemon-reload'
out=$(box trl doctor 2>&1); rc=$?
expect "doctor: passes again once repaired" 0 "$rc"

# --- the daemon's own hardening: env file only systemd reads, no core, no inspector ---
# shellcheck source=test/e2e/trust-checks.sh
. "$repo/test/e2e/trust-checks.sh"
trust_checks

# --- the user instance: a workstation user's own trld (issue 12) -------------------
# alice has lingering enabled, so her user manager runs without a login; she
# enables the packaged user socket herself. bob is a second user on the host.
box useradd -m -s /bin/bash alice
box useradd -m -s /bin/bash bob
box loginctl enable-linger alice
auid=$(box id -u alice)
xrd=/run/user/$auid
usock=$xrd/trl/trl.sock
as_alice() { box runuser -u alice -- env XDG_RUNTIME_DIR="$xrd" HOME=/home/alice PATH=/usr/bin:/bin LANG=C.UTF-8 "$@"; }
uctl() { as_alice systemctl --user "$@"; }
uprop() { uctl show -P "$2" "$1"; } # uprop UNIT PROPERTY
ufresh() { uctl reset-failed trl.service trl.socket 2>/dev/null; }
# A drop-in for alice's trl.service ("" removes it), then daemon-reload.
udropin() {
  if [ -n "$1" ]; then
    as_alice sh -c "mkdir -p ~/.config/systemd/user/trl.service.d && printf '$1' >~/.config/systemd/user/trl.service.d/50-e2e.conf"
  else
    as_alice rm -f /home/alice/.config/systemd/user/trl.service.d/50-e2e.conf
  fi
  uctl daemon-reload
}
# alice's processes other than her user manager (systemd, (sd-pam)).
# has_all TEXT STRING...: TEXT contains every STRING (the text is shown when not).
has_all() { local text=$1 p; shift; for p in "$@"; do grep -qF -- "$p" <<<"$text" || { echo "missing '$p' in: $text"; return 1; }; done; }
alice_left() { box ps -u alice -o pid=,args= | grep -vE '(^| )(/usr/lib/systemd/systemd --user|\(sd-pam\))' | sed 's/^ *//' | tr '\n' ';' | sed 's/;$//'; }
ualive() { box pgrep -u alice -f "^sleep ($1|$(($1 + 1)))\$" >/dev/null; }
# As start_command above, for alice: a command leaving a setsid grandchild.
start_user_command() {
  box sh -c "runuser -u alice -- env XDG_RUNTIME_DIR=$xrd HOME=/home/alice PATH=/usr/bin:/bin trl exec --timeout 0 -- 'setsid sleep $1 & sleep $(($1 + 1))' >/dev/null 2>&1 &"
  until_ok 10 box pgrep -u alice -f "^sleep $1\$" && until_ok 10 box pgrep -u alice -f "^sleep $(($1 + 1))\$"
}
urestarted() { # urestarted NRESTARTS_BEFORE: waits until the service restarted and is active
  until_ok 15 sh -c "[ \"\$('$boxdir/run.sh' runuser -u alice -- env XDG_RUNTIME_DIR=$xrd systemctl --user show -P NRestarts trl.service)\" -gt $1 ] && [ \"\$('$boxdir/run.sh' runuser -u alice -- env XDG_RUNTIME_DIR=$xrd systemctl --user show -P ActiveState trl.service)\" = active ]"
}

check "user: lingering (loginctl enable-linger) starts alice's user manager" until_ok 20 box systemctl is-active "user@$auid.service"
expect "user: the package enables the user socket for nobody" disabled "$(uctl is-enabled trl.socket 2>&1)"
check "user: systemctl --user enable --now trl.socket" uctl enable --now trl.socket
expect "user: the socket is \$XDG_RUNTIME_DIR/trl/trl.sock, srw------- alice alice" "srw------- alice alice $usock" "$(box stat -c '%A %U %G %n' "$usock")"
expect "user: in a drwx------ alice directory" "drwx------ alice" "$(box stat -c '%A %U' "$xrd/trl")"
expect "user: trl.service is inactive before the first connection" inactive "$(uprop trl.service ActiveState)"
uverify=$(as_alice systemd-analyze --user verify --man=no /usr/lib/systemd/user/trl.socket /usr/lib/systemd/user/trl.service 2>&1)
expect "user: systemd-analyze --user verify: clean" "" "$uverify"
uexposure=$(as_alice systemd-analyze --user security --no-pager trl.service 2>/dev/null | sed -n 's/.*Overall exposure level for trl.service: //p')
info "systemd-analyze --user security trl.service: exposure $uexposure"

t=$(now_ms)
expect "user: trl exec -- id -un prints alice (the CLI finds \$XDG_RUNTIME_DIR/trl/trl.sock before /run/trl/trl.sock)" alice "$(as_alice trl exec -- id -un 2>&1)"
info "user: first trl exec (socket activation included) took $(($(now_ms) - t)) ms"
umain=$(uprop trl.service MainPID)
expect "user: trld runs as alice" alice "$(box ps -o user= -p "$umain" | tr -d ' ')"
expect "user: its commands start with the native process layer (trl stats: spawner)" native "$(as_alice trl stats 2>&1 | jget r.spawner)"
ustatus=$(uprop trl.service StatusText)
check "user: StatusText is set, so READY=1 arrived: '$ustatus'" test -n "$ustatus"
expect "user: its ledger is \$XDG_RUNTIME_DIR/trl/orphans.json, -rw------- alice" "-rw------- alice" "$(box stat -c '%A %U' "$xrd/trl/orphans.json" 2>&1)"
as_alice trl exec --cwd /home/alice -- 'echo written by trl >notes.txt' >/dev/null 2>&1
expect "user: a command writes into alice's home (her file, her content)" "alice:written by trl" "$(box sh -c 'stat -c %U /home/alice/notes.txt && cat /home/alice/notes.txt' 2>&1 | tr '\n' ':' | sed 's/:$//')"
expect "user: \$HOME and the working directory are hers" "/home/alice /home/alice" "$(as_alice trl exec --cwd /home/alice -- 'echo $HOME $(pwd)' 2>&1)"

# Another user cannot reach alice's instance: neither her directory nor her socket is open to them.
bob=$(box runuser -u bob -- node /mnt/e2e/probe.cjs "$usock" "$PING")
expect "user: bob connecting to alice's socket is refused" EACCES "$(jget r.error <<<"$bob")"
bobcli=$(box runuser -u bob -- env TRL_SOCKET_PATH="$usock" trl exec -- id -un 2>&1)
check "user: bob's trl with TRL_SOCKET_PATH=alice's socket fails with EACCES, naming the path" has_all "$bobcli" "$usock (TRL_SOCKET_PATH): EACCES"
nobody=$(box runuser -u bob -- trl ping 2>&1)
check "user: without a socket of its own, the error names every path tried and the command that starts one" \
  has_all "$nobody" 'XDG_RUNTIME_DIR is not set' '/run/trl/trl.sock (the system instance): EACCES' 'systemctl --user enable --now trl.socket'
info "user: bob's error: $(tr '\n' '|' <<<"$nobody")"

# The env file: ~/.config/trl/trl.env, 0600 enforced; absent was fine above.
as_alice sh -c 'mkdir -p ~/.config/trl && umask 077 && printf "TRL_DEFAULT_TIMEOUT_S=2\nE2E_FROM_ENV_FILE=yes\n" >~/.config/trl/trl.env'
ufresh
uctl restart trl.service
expect "user: a variable of the env file reaches commands" yes "$(as_alice trl exec -- 'echo $E2E_FROM_ENV_FILE' 2>&1)"
as_alice trl exec -- sleep 30 >/dev/null 2>&1
expect "user: a setting of the env file applies (TRL_DEFAULT_TIMEOUT_S=2: sleep 30 times out, exit 124)" 124 "$?"
as_alice chmod 0644 /home/alice/.config/trl/trl.env
ufresh
check "user: with the env file readable by others trld refuses to start" sh -c "! '$boxdir/run.sh' runuser -u alice -- env XDG_RUNTIME_DIR=$xrd systemctl --user restart trl.service"
out=$(as_alice trl doctor --user 2>&1); rc=$?
expect "user: doctor --user fails then" 1 "$rc"
check "user: the failing line names the env file" has_line '^FAIL .*env file.*' "$out"
as_alice chmod 0600 /home/alice/.config/trl/trl.env
ufresh
uctl start trl.socket

out=$(as_alice trl doctor --user 2>&1); rc=$?
if [ "$rc" = 0 ]; then pass "user: trl doctor --user passes for alice"; else fail "user: trl doctor --user passes for alice (exit $rc)"; sed 's/^/      /' <<<"$out"; fi
info "doctor --user: $(grep -c '^PASS' <<<"$out") PASS, $(grep -c '^N/A' <<<"$out") N/A, $(grep -c '^FAIL' <<<"$out") FAIL"

# Stop during a command with a setsid grandchild: nothing of alice's is left but her manager.
ufresh
if start_user_command 1011; then
  check "user: systemctl --user stop trl.service completes" timeout 60 "$boxdir/run.sh" runuser -u alice -- env XDG_RUNTIME_DIR="$xrd" systemctl --user stop trl.service
  check "user: stop leaves neither the command nor its setsid grandchild" until_ok 5 eval '! ualive 1011'
  expect "user: stop leaves no process of alice's besides her user manager" "" "$(alice_left)"
  expect "user: the socket survives the stop" "srw------- alice alice $usock" "$(box stat -c '%A %U %G %n' "$usock")"
  expect "user: the next connection starts it again" alice "$(as_alice trl exec -- id -un 2>&1)"
else
  fail "user: the command with a setsid grandchild did not start"
fi

# Crash (SIGKILL of trld) during such a command: restarted, nothing left.
ufresh
restarts=$(uprop trl.service NRestarts)
if start_user_command 1013; then
  box kill -KILL "$(uprop trl.service MainPID)"
  check "user: systemd restarts the crashed trld" urestarted "$restarts"
  check "user: nothing started before the crash survives" until_ok 5 eval '! ualive 1013'
  expect "user: the restarted daemon answers" alice "$(as_alice trl exec -- id -un 2>&1)"
else
  fail "user: the command with a setsid grandchild did not start"
fi

# The start-up sweep alone: with KillMode=process systemd leaves a crashed
# trld's commands running; the next start must end them. In a user manager
# the service's cgroup belongs to the user whatever Delegate= says, so trld
# keeps its session cgroups and the sweep finds the command there (the
# ledger in $XDG_RUNTIME_DIR/trl is the fallback without cgroups).
ufresh
udropin '[Service]\nKillMode=process\n'
uctl restart trl.service
restarts=$(uprop trl.service NRestarts)
box sh -c "runuser -u alice -- env XDG_RUNTIME_DIR=$xrd HOME=/home/alice PATH=/usr/bin:/bin trl exec --timeout 0 -- 'sleep 1015' >/dev/null 2>&1 &"
if until_ok 10 box pgrep -u alice -f '^sleep 1015$'; then
  box kill -KILL "$(uprop trl.service MainPID)"
  urestarted "$restarts"
  check "user: with KillMode=process, the restarted trld's start-up sweep ends the crashed one's command" until_ok 5 eval '! box pgrep -u alice -f "^sleep 1015\$"'
  usweep=$(box journalctl _PID="$(uprop trl.service MainPID)" -o cat --no-pager | grep -E 'leftover session cgroup|orphan sweep')
  check "user: the sweep logged what it ended (a leftover session cgroup with processes, or a ledger group killed)" \
    grep -qE '"had_processes":true.*leftover session cgroup|"killed":[1-9]' <<<"$usweep"
  info "user sweep: $(tr '\n' ' ' <<<"$usweep")"
else
  fail "user: the command did not start"
fi
udropin ''

# Watchdog and idle exit, as for the system instance.
ufresh
udropin '[Service]\nWatchdogSec=2s\n'
uctl restart trl.service
umain=$(uprop trl.service MainPID)
restarts=$(uprop trl.service NRestarts)
uping=$(uprop trl.service WatchdogTimestampMonotonic)
sleep 5
expect "user: with WatchdogSec=2s trld stays up (same MainPID, no restart)" "$umain active $restarts" "$(uprop trl.service MainPID) $(uprop trl.service ActiveState) $(uprop trl.service NRestarts)"
check "user: WATCHDOG=1 keeps arriving" test "$(uprop trl.service WatchdogTimestampMonotonic)" != "$uping"
ufresh
udropin '[Service]\nEnvironment=TRL_IDLE_EXIT_S=1\n'
uctl restart trl.service
as_alice trl ping >/dev/null 2>&1
check "user: idle exit: with TRL_IDLE_EXIT_S=1 trld exits by itself" \
  until_ok 10 sh -c "[ \"\$('$boxdir/run.sh' runuser -u alice -- env XDG_RUNTIME_DIR=$xrd systemctl --user show -P ActiveState trl.service)\" = inactive ]"
expect "user: idle exit: cleanly (Result=success)" success "$(uprop trl.service Result)"
expect "user: idle exit: the next connection starts it again" alice "$(as_alice trl exec -- id -un 2>&1)"
udropin ''

check "user: systemctl --user disable --now trl.socket" uctl disable --now trl.socket
uctl stop trl.service
until_ok 5 test -z "$(alice_left)"
expect "user: disabled and stopped, no process of alice's is left" "" "$(alice_left)"

# --- 7. remove and purge ---------------------------------------------------------
fresh_limits
box sh -c "runuser -u trl -- trl exec --timeout 0 -- 'sleep 1007' >/dev/null 2>&1 &"
until_ok 10 box pgrep -u trl -f '^sleep 1007$'
check "7. apt-get remove succeeds" box env DEBIAN_FRONTEND=noninteractive apt-get remove -y trl
expect "7. remove stops the service and the socket" "inactive inactive" "$(prop trl.service ActiveState) $(prop trl.socket ActiveState)"
until_ok 5 test -z "$(trl_pids)"
expect "7. remove leaves no process of user trl" "" "$(trl_pids)"
check "7. apt-get purge succeeds" box env DEBIAN_FRONTEND=noninteractive apt-get purge -y trl
expect "7. purge removes the units' links" "" "$(box find /etc/systemd/system -name 'trl.*')"
expect "7. purge leaves no deb-systemd-helper state" "" "$(box find /var/lib/systemd/deb-systemd-helper-enabled -name '*trl*')"
expect "7. purge removes /etc/trl, /var/lib/trl, /run/trl and /var/cache/trl" "" "$(box sh -c 'ls -d /etc/trl /var/lib/trl /run/trl /var/cache/trl 2>/dev/null')"

if [ "$failed" -gt 0 ]; then
  mkdir -p "$repo/build/e2e"
  box journalctl -o short-monotonic --no-pager >"$repo/build/e2e/journal.txt" 2>&1
  echo "--- journal of trl.service (last 40 lines; the whole box journal: build/e2e/journal.txt) ---"
  box journalctl -u trl.service -o short-monotonic --no-pager | tail -n 40
fi
info "e2e took $(($(now_ms) - t_all)) ms"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
