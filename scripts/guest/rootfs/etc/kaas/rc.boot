#!/bin/sh
# kaas test node: boot sequence (busybox init "sysinit" entry).
# Stages on the serial console: init, seed-mounted, [bundle-mounted], [data-mounted], network-up; rc.userdata
# follows with user-data-start, user-data-done rc=N, ready. Few forks on purpose: every process
# start is slow under software emulation.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
. /etc/kaas/lib.sh
mkdir -p $KAAS_RUN /var/www
stage init
cmdline_has kaas_debug && set -x

mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
ip link set lo up
trace mounted

# ---- kernel modules ---------------------------------------------------------------------------
# /etc/kaas/modules (generated at build time): "<module> <name>=<file> ...", dependencies first.
modload() {
  local line e n
  while read -r line; do
    case $line in "$1 "*) break ;; esac
    line=
  done </etc/kaas/modules
  [ -n "$line" ] || { log "no module $1 in the image"; return 1; }
  for e in ${line#* }; do
    n=${e%%=*}
    [ -e /sys/module/$n/initstate ] && continue
    trace "insmod $n"
    insmod "${e#*=}" 2>/dev/null || [ -e /sys/module/$n/initstate ] || log "insmod ${e#*=} failed"
  done
}

# Virtio transport, then a driver for each virtio device present
# (virtio device ids: 1 net, 2 blk, 3 console, 4 rng, 8 scsi).
modload virtio_pci
trace virtio_pci-loaded
ids=" "
for f in /sys/bus/virtio/devices/*/device; do [ -r "$f" ] && read -r id <"$f" && ids="$ids$id "; done
case $ids in *" 0x0001 "*) modload virtio_net ;; esac
case $ids in *" 0x0002 "*) modload virtio_blk ;; esac
case $ids in *" 0x0003 "*) modload virtio_console ;; esac
case $ids in *" 0x0004 "*) modload virtio_rng ;; esac
case $ids in *" 0x0008 "*) modload virtio_scsi; modload sr_mod; modload sd_mod ;; esac

# ---- status to the host over virtio-serial (/etc/kaas/status-channel), from now on ----------------
case $ids in *" 0x0003 "*) /etc/kaas/status-channel </dev/null >/dev/null 2>&1 & ;; esac
trace status-channel-started

# ---- network: DHCP on the first NIC, in the background while the seed is mounted ---------------
nic=
i=0
case $ids in *" 0x0001 "*) ;; *) i=50 ;; esac   # no virtio NIC: no wait
while [ $i -lt 50 ]; do
  for n in /sys/class/net/*; do
    n=${n##*/}
    [ "$n" = lo ] || [ ! -e /sys/class/net/$n ] || { nic=$n; break; }
  done
  [ -n "$nic" ] && break
  i=$((i + 1)); sleep 0.1
done
if [ -n "$nic" ]; then
  echo "$nic" >$KAAS_RUN/nic
  ip link set "$nic" up
  # foreground mode, backgrounded here: it keeps renewing the lease; the script writes $KAAS_RUN/ip
  udhcpc -f -i "$nic" -t 30 -T 1 -A 3 -s /etc/kaas/udhcpc.script -p $KAAS_RUN/udhcpc.pid \
    >$KAAS_RUN/udhcpc.log 2>&1 </dev/null &
fi
trace udhcpc-started

# ---- volumes by label ---------------------------------------------------------------------------
ide_tried=
load_ide() { # IDE/ATAPI (machine "pc": PIIX controller, PCI class 0x0101), only when needed
  [ -z "$ide_tried" ] || return 1
  ide_tried=1
  grep -q '^0x0101' /sys/bus/pci/devices/*/class 2>/dev/null || return 1
  modload ata_piix; modload sr_mod; modload sd_mod
  return 0
}

# find_label TIMEOUT_S LABEL...: device holding a filesystem with one of the labels, waiting up
# to TIMEOUT_S seconds (IDE is probed once nothing is found on the devices already present)
find_label() {
  local timeout=$1 d t0 l
  shift
  now; t0=$MS
  while :; do
    for l in "$@"; do d=$(findfs "LABEL=$l" 2>/dev/null) && { echo "$d"; return 0; }; done
    [ "$timeout" -gt 0 ] || return 1
    load_ide && continue
    now; [ $((MS - t0)) -ge $((timeout * 1000)) ] && return 1
    sleep 0.1
  done
}

# mount_ro DEV DIR: iso9660 (isofs), ext2/3/4 (built in) or vfat, read-only
mount_ro() {
  if [ "$(dd if="$1" bs=1 skip=32769 count=5 2>/dev/null)" = CD001 ]; then
    modload isofs
    mount -t iso9660 -o ro "$1" "$2"
  else
    mount -o ro "$1" "$2" 2>/dev/null ||
      { modload vfat; modload nls_cp437; modload nls_ascii; mount -t vfat -o ro "$1" "$2"; }
  fi
}

# ---- NoCloud seed (label "cidata") --------------------------------------------------------------
trace seed-search
seed=$(find_label "$(cmdline_val kaas_seed_timeout 15)" cidata CIDATA)
trace seed-found
if [ -z "$seed" ]; then
  stage seed-missing
elif mount_ro "$seed" /run/seed; then
  echo "$seed" >$KAAS_RUN/seed-dev
  stage seed-mounted
else
  stage seed-missing reason=mount-failed dev=$seed
fi

# hostname and instance-id from meta-data (YAML "key: value" or JSON "key": "value")
hn=
if [ -f /run/seed/meta-data ]; then
  # values are restricted to [A-Za-z0-9._-], so eval is safe
  eval "$(sed -n -E \
    -e 's/^[[:space:]{,]*"?local-hostname"?[[:space:]]*:[[:space:]]*["'\'']?([A-Za-z0-9._-]*).*/hn=\1/p' \
    -e 's/^[[:space:]{,]*"?instance-id"?[[:space:]]*:[[:space:]]*["'\'']?([A-Za-z0-9._-]*).*/iid=\1/p' \
    /run/seed/meta-data)"
  echo "${iid:-}" >$KAAS_RUN/instance-id
fi
[ -n "$hn" ] || hn=kaas-node
hostname "$hn"
echo "$hn" >/etc/hostname
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t%s\n' "$hn" >/etc/hosts
trace hostname-done

# ---- bundle volume (label "kaas-bundle"), optional; "kaas_bundle" on the cmdline waits for it ---
bwait=0
cmdline_has kaas_bundle && bwait=$(cmdline_val kaas_seed_timeout 15)
bundle=$(find_label "$bwait" kaas-bundle KAAS-BUNDLE)
if [ -n "$bundle" ]; then
  if mount_ro "$bundle" /opt/bundle; then
    echo "$bundle" >$KAAS_RUN/bundle-dev
    stage bundle-mounted
  else
    stage bundle-missing reason=mount-failed dev=$bundle
  fi
elif [ "$bwait" != 0 ]; then
  stage bundle-missing
fi
trace bundle-done

# ---- data disk, read-write at /data (optional) ----------------------------------------------------
# A filesystem labelled "kaas-data" (ext2/3/4), or a virtio disk with <serial>kaas-data</serial>
# whose first MiB is all zeros (a new blank volume): that one is formatted (ext4 with a journal,
# label kaas-data), so it survives a hard power-off ("virsh destroy").
data=$(find_label 0 kaas-data KAAS-DATA)
fmt=0
if [ -z "$data" ]; then
  for f in /sys/block/*/serial; do
    v=
    read -r v <"$f" 2>/dev/null   # no trailing newline: read "fails" but sets v
    [ "$v" = kaas-data ] || continue
    f=${f%/serial}; d=/dev/${f##*/}
    if [ "$(dd if=$d bs=65536 count=16 2>/dev/null | tr -d '\000' | wc -c)" -eq 0 ]; then
      stage data-format dev=$d
      mkfs.ext4 -q -F -L kaas-data -E lazy_itable_init=1,lazy_journal_init=1 $d >$KAAS_RUN/mkfs.log 2>&1 &&
        fmt=1 && data=$d
    else
      stage data-missing reason=not-blank-and-no-label dev=$d
    fi
    break
  done
fi
if [ -n "$data" ]; then
  mkdir -p /data
  if mount -t ext4 -o rw,noatime "$data" /data; then
    echo "$data" >$KAAS_RUN/data-dev
    stage data-mounted dev=$data formatted=$fmt
  else
    stage data-missing reason=mount-failed dev=$data
  fi
fi
trace data-done

# ---- httpd (port 8099, serves /var/www) ------------------------------------------------------------
# The platform reads status over the virtio-serial channel; this serves the same files to people
# and tests inside the guest's network (boot timings in /kaas-stages, a bundle's hook output).
httpd -p 8099 -h /var/www
trace httpd-started

# ---- wait for the DHCP lease --------------------------------------------------------------------
if [ -n "$nic" ]; then
  now; t0=$MS
  tmax=$(($(cmdline_val kaas_net_timeout 60) * 1000))
  while [ ! -s $KAAS_RUN/ip ]; do
    now; [ $((MS - t0)) -lt $tmax ] || break
    sleep 0.05
  done
fi
if [ -s $KAAS_RUN/ip ]; then
  read -r ip <$KAAS_RUN/ip
  printf '%s\t%s\n' "$ip" "$hn" >>/etc/hosts
  stage network-up ip=$ip
else
  stage network-failed nic=${nic:-none}
fi

# ---- ACPI power button ("virsh shutdown") -> orderly poweroff through busybox init --------------
modload button && modload evdev && acpid -c /etc/acpi -l /var/log/acpid.log
exit 0
