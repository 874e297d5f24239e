#!/bin/bash
# Stand-in for the tart/vetu command line (tests only). It hands its arguments to the test's fake over
# loopback TCP and prints what the fake answers: stdout and stderr lines, then the exit code. A call
# lasts as long as the fake's answer, so `run` blocks until its VM stops; killing this process ends
# the call, and the fake stops the VM, as killing `tart run` does. The test writes its port below.
exec 3<>/dev/tcp/127.0.0.1/@PORT@ || exit 70
{
  printf '%d\n' "$#"
  for argument in "$@"; do printf '%s\0' "$argument"; done
} >&3
while IFS= read -r line <&3; do
  case "$line" in
    "1 "*) printf '%s\n' "${line#1 }" ;;
    "2 "*) printf '%s\n' "${line#2 }" >&2 ;;
    "x "*) exit "${line#x }" ;;
  esac
done
echo "the fake behind this stand-in hung up" >&2
exit 71
