# Box checks for the daemon's own hardening: the env file only systemd reads,
# no core dumps, no inspector on SIGUSR1, what a command can read of trld.
# Sourced by test/e2e/run.sh after its helpers (box, as_trl, check, expect,
# info, prop, probe, ping_ok, fresh_limits, until_ok) are defined; call
# trust_checks once the package is installed and the socket is up.

# The main pid of trl.service, starting it with a ping if needed.
trust_main_pid() {
  probe "$PING" >/dev/null 2>&1
  prop trl.service MainPID
}

trust_checks() {
  fresh_limits
  # A fresh trld with the installed unit's settings only: one started under an
  # earlier drop-in (idle exit) would end by itself in the middle of the checks.
  box systemctl stop trl.service
  local pid out marker=trust-e2e-$$-secret
  # The env file: root's, 0600, read by systemd (EnvironmentFile=), not by trl.
  expect "trust: /etc/trl/trl.env is root:root 0600" "root:root 600" "$(box stat -c '%U:%G %a' /etc/trl/trl.env)"
  check "trust: the unit reads it with EnvironmentFile=" sh -c "'$boxdir/run.sh' systemctl show -P EnvironmentFiles trl.service | grep -q '^/etc/trl/trl.env'"
  if as_trl cat /etc/trl/trl.env >/dev/null 2>&1; then fail "trust: the trl user cannot open the env file"; else pass "trust: the trl user cannot open the env file"; fi

  # No core dumps: the unit's LimitCORE=0 reaches the running daemon.
  expect "trust: LimitCORE=0 in the unit" 0 "$(prop trl.service LimitCORE)"
  pid=$(trust_main_pid)
  expect "trust: the running trld has core size 0" 0 "$(box awk '/^Max core file size/ {print $5}' /proc/$pid/limits)"

  # SIGUSR1 from the daemon's own user: no inspector (9229 = 0x240D), still serving.
  as_trl kill -USR1 "$pid"
  sleep 1
  if box grep -qi ':240D 00000000:0000 0A' /proc/net/tcp; then fail "trust: SIGUSR1 opens no inspector on 9229"; else pass "trust: SIGUSR1 opens no inspector on 9229"; fi
  expect "trust: the same trld still runs after SIGUSR1" "$pid" "$(prop trl.service MainPID)"
  ping_ok "trust: trld answers after SIGUSR1"

  # A secret in the env file: what a command (same uid) can still read of trld.
  box sh -c "printf 'TRUST_E2E_SECRET=$marker\n' >>/etc/trl/trl.env && systemctl restart trl.service"
  pid=$(trust_main_pid)
  # A process of the trl user reads what a command could: commands run as trl.
  out=$(as_trl sh -c "grep -c TRUST_E2E_SECRET /proc/$pid/environ 2>/dev/null || true")
  info "trust: trld's /proc/<pid>/environ holds the env file's secret for a process of trld's user: ${out:-refused} (refused or 0 once trld is not dumpable)"
  out=$(as_trl sh -c "head -c1 /proc/$pid/mem >/dev/null 2>&1 && echo opened || echo refused")
  info "trust: /proc/<trld>/mem for a process of trld's user: $out"
  out=$(as_trl sh -c "ls /proc/$pid/fd >/dev/null 2>&1 && echo listable || echo refused")
  info "trust: /proc/<trld>/fd for a process of trld's user: $out"
  box sed -i "/^TRUST_E2E_SECRET=/d" /etc/trl/trl.env
  box systemctl restart trl.service
}
