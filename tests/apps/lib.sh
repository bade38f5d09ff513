# Shared by the CLI test scripts (sourced, after `flexnas` is set): a temporary working
# directory removed on exit, pass/fail counters, and the two checks every script uses.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect_out "expected last line" cmd...
expect_out() {
  local want=$1; shift
  local got
  got=$("$@" 2>"$work/err" | tail -n 1)
  [[ "$got" == "$want" ]] && ok || bad "$* -> '$got', expected '$want' ($(head -c 300 "$work/err"))"
}

# expect_input_error "text the message must contain" cmd...: exit 2, one line on stderr.
expect_input_error() {
  local want=$1; shift
  "$@" >/dev/null 2>"$work/err"
  local rc=$? lines
  lines=$(wc -l <"$work/err")
  if [[ $rc -ne 2 ]]; then bad "$* exited $rc, expected 2: $(cat "$work/err")"; return; fi
  if [[ $lines -ne 1 ]]; then bad "$* printed $lines lines on stderr, expected 1: $(cat "$work/err")"; return; fi
  if ! grep -qF -- "$want" "$work/err"; then bad "$*: message lacks '$want': $(cat "$work/err")"; return; fi
  ok
}
