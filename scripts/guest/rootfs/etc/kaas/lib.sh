# Shared helpers of the kaas test node image (sourced by the rc.* scripts; busybox ash).
# Builtins only where possible: every process start is slow under software emulation.
export PATH=/opt/bundle/bin:/opt/bundle/sbin:/usr/sbin:/usr/bin:/sbin:/bin
KAAS_RUN=/run/kaas
read -r KAAS_CMDLINE </proc/cmdline
# console lines end in "\n" only (no "\r\n" from the tty layer): the serial log is parsed
stty -onlcr </dev/console 2>/dev/null

# now: sets UP (seconds, "12.34") and MS (milliseconds) from /proc/uptime without a fork
now() {
  local r f
  read -r UP r </proc/uptime
  f=${UP#*.}; f=${f#0}
  MS=$((${UP%.*} * 1000 + f * 10))
}

# One machine-parsable line per stage on the serial console: "KAAS_STAGE <name> [key=value ...]".
# The last stage is also served as /var/www/kaas-stage, all of them (with uptime) as kaas-stages.
stage() {
  echo "KAAS_STAGE $*" >/dev/console
  echo "$*" >/var/www/kaas-stage 2>/dev/null
  now
  echo "$UP $*" >>$KAAS_RUN/stages 2>/dev/null
  return 0
}

log() { echo "kaas-init: $*" >/dev/console; }

cmdline_has() { case " $KAAS_CMDLINE " in *" $1 "*) return 0 ;; esac; return 1; }

# value of a "key=value" kernel parameter, or $2 when absent
cmdline_val() {
  local w v=
  for w in $KAAS_CMDLINE; do case $w in "$1="*) v=${w#*=} ;; esac; done
  echo "${v:-$2}"
}

# "kaas_trace" on the kernel command line: timestamped checkpoints on the console
KAAS_TRACE=
cmdline_has kaas_trace && KAAS_TRACE=1
trace() { [ -z "$KAAS_TRACE" ] || { now; echo "KAAS_TRACE $UP $*" >/dev/console; }; }
