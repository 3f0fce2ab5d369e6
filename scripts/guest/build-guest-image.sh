#!/usr/bin/env bash
# Builds the kaas test node image: the Debian cloud kernel plus a busybox-static initramfs whose
# init mounts a NoCloud seed (label "cidata"), brings the first NIC up with DHCP, mounts an
# optional bundle volume (label "kaas-bundle"), sends the node's status file to the host over the
# virtio-serial port org.kaas.status.0, serves /var/www on port 8099 and runs the seed's user-data
# script. See docs/real-vms.md.
#
#   scripts/guest/build-guest-image.sh [--force] [OUTDIR]     (default OUTDIR: guest-image/)
#
# Outputs in OUTDIR: vmlinuz, initramfs.img, manifest.json. Nothing is rebuilt when the
# outputs are newer than every input (this script, scripts/guest/rootfs/**, kernel, busybox,
# etcd). Environment:
#   KAAS_GUEST_ETCD=auto|1|0   put Debian's etcd + etcdctl (and the glibc they need) into the
#                              image: auto (default) = only when they add less than 40 MB to the
#                              initramfs file (uncompressed if that fits, else gzip)
#   KAAS_GUEST_KERNEL=VERSION  kernel version (default: newest /boot/vmlinuz-*-cloud-amd64)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
FORCE=0
if [ "${1:-}" = --force ] || [ "${1:-}" = -f ]; then FORCE=1; shift; fi
OUT=${1:-$ROOT/guest-image}
ETCD=${KAAS_GUEST_ETCD:-auto}
ETCD_LIMIT=$((40 * 1024 * 1024))
START=$(date +%s.%N)

log() { echo "[guest-image] $*" >&2; }

need_pkgs() {
  local missing=() p q
  # one dpkg-query for all of them (what "dpkg -s" reports, in one call)
  q=$(dpkg-query -W -f '${Package} ${db:Status-Status}\n' "$@" 2>/dev/null || true)
  for p in "$@"; do grep -qx "$p installed" <<<"$q" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
}

pkgs=(busybox-static linux-image-cloud-amd64 kmod e2fsprogs)
[ "$ETCD" = 0 ] || pkgs+=(etcd-server etcd-client)
need_pkgs "${pkgs[@]}"

KV=${KAAS_GUEST_KERNEL:-$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sed 's|^/boot/vmlinuz-||' | sort -V | tail -1)}
[ -n "$KV" ] && [ -f "/boot/vmlinuz-$KV" ] || { log "no /boot/vmlinuz-*-cloud-amd64 found"; exit 1; }
[ -d "/lib/modules/$KV" ] || { log "no /lib/modules/$KV"; exit 1; }
BUSYBOX=/bin/busybox
ETCD_BINS=()
if [ "$ETCD" != 0 ]; then
  for b in etcd etcdctl; do
    p=$(command -v $b || true)
    [ -n "$p" ] && ETCD_BINS+=("$p")
  done
fi

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
exec 9>"$OUT/.lock"
flock 9

# ---- up to date? ------------------------------------------------------------------------------
if [ $FORCE = 0 ] && [ -f "$OUT/manifest.json" ] && [ -f "$OUT/vmlinuz" ] && [ -f "$OUT/initramfs.img" ] &&
  grep -q "\"kernelVersion\": \"$KV\"" "$OUT/manifest.json" &&
  grep -q "\"etcdSetting\": \"$ETCD\"" "$OUT/manifest.json"; then
  newer=$(find "$0" "$HERE/rootfs" "/boot/vmlinuz-$KV" "$BUSYBOX" /sbin/mke2fs "${ETCD_BINS[@]}" \
    -newer "$OUT/manifest.json" -print -quit 2>/dev/null)
  if [ -z "$newer" ] && [ ! "$OUT/vmlinuz" -nt "$OUT/manifest.json" ] &&
    [ ! "$OUT/initramfs.img" -nt "$OUT/manifest.json" ]; then
    log "up to date: $OUT (kernel $KV)"
    exit 0
  fi
fi

log "building in $OUT (kernel $KV)"
B=$(mktemp -d "$OUT/.build.XXXXXX")
trap 'rm -rf "$B"' EXIT
R=$B/root
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,etc,tmp,run,root,mnt,data,opt/bundle,var/lib,var/log,var/tmp,var/www}
mkdir -p "$R/lib/modules/kaas" "$R/lib/x86_64-linux-gnu" "$R/lib64" "$R/run/seed"
ln -s ../run "$R/var/run"
ln -s /run/kaas/stages "$R/var/www/kaas-stages"   # "<uptime> <stage>" lines, for boot timings
chmod 1777 "$R/tmp" "$R/var/tmp"
chmod 700 "$R/root"

# busybox and its applet links (at their usual paths: /bin/sh, /sbin/init, /usr/bin/env, ...)
cp "$BUSYBOX" "$R/bin/busybox"
for a in $("$BUSYBOX" --list-full); do
  [ "$a" = bin/busybox ] && continue
  [ -e "$R/$a" ] || [ -L "$R/$a" ] || ln -s /bin/busybox "$R/$a"
done
ln -s /bin/busybox "$R/init"   # busybox runs as init(8) when called "init"

# glibc loader + libc: Debian's Go binaries (etcd, etcdctl) and similar need only these
for f in /lib/x86_64-linux-gnu/libc.so.6 /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2; do
  cp -L "$f" "$R$f"
done
ln -s /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$R/lib64/ld-linux-x86-64.so.2"

# e2fsprogs' mke2fs as mkfs.ext4 (journalled ext4 for a blank data disk; busybox only makes ext2)
add_bin() { # SRC DST: a dynamically linked binary plus the libraries ldd lists for it
  local lib
  cp -L "$1" "$R$2"
  for lib in $(ldd "$1" 2>/dev/null | grep -o '/[^ ]*\.so[^ ]*'); do
    [ -e "$R$lib" ] || { mkdir -p "$R$(dirname "$lib")"; cp -L "$lib" "$R$lib"; }
  done
}
add_bin /sbin/mke2fs /sbin/mkfs.ext4
[ -f /etc/mke2fs.conf ] && cp /etc/mke2fs.conf "$R/etc/mke2fs.conf"

# static files: init table, boot scripts, udhcpc script, acpid handlers
cp -a "$HERE/rootfs/." "$R/"
chmod 755 "$R"/etc/kaas/rc.* "$R/etc/kaas/udhcpc.script" "$R/etc/kaas/status-channel" "$R/etc/acpi/PWRF/00000080"
cat >"$R/etc/passwd" <<'E'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
E
cat >"$R/etc/group" <<'E'
root:x:0:
tty:x:5:
nogroup:x:65534:
E
printf 'hosts: files dns\n' >"$R/etc/nsswitch.conf"
printf '127.0.0.1\tlocalhost\n' >"$R/etc/hosts"
: >"$R/etc/resolv.conf"
echo kaas-node >"$R/etc/hostname"
printf 'KAAS_GUEST_KERNEL=%s\nKAAS_GUEST_BUILT=%s\n' "$KV" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$R/etc/kaas/image.env"
if [ "$(id -u)" = 0 ]; then mknod -m 600 "$R/dev/console" c 5 1; mknod -m 666 "$R/dev/null" c 1 3; fi

# kernel modules: each wanted module with its dependencies, in load order, as
# "<module> <name>=<file> ..." lines of /etc/kaas/modules
MODS="virtio_pci virtio_net virtio_blk virtio_console virtio_rng virtio_scsi sr_mod sd_mod ata_piix
      isofs vfat nls_cp437 nls_ascii button evdev"
: >"$R/etc/kaas/modules"
for m in $MODS; do
  files=""
  while read -r kind path _; do
    [ "$kind" = insmod ] || continue
    base=$(basename "$path"); base=${base%.xz}; base=${base%.zst}; base=${base%.gz}
    dst=$R/lib/modules/kaas/$base
    if [ ! -f "$dst" ]; then
      case $path in
        *.ko.xz) xz -dc "$path" >"$dst" ;;
        *.ko.zst) zstd -qdc "$path" >"$dst" ;;
        *.ko.gz) gzip -dc "$path" >"$dst" ;;
        *) cp "$path" "$dst" ;;
      esac
    fi
    name=${base%.ko}; name=${name//-/_}
    files="$files $name=/lib/modules/kaas/$base"
  done < <(modprobe -S "$KV" --show-depends "$m")
  [ -n "$files" ] && echo "$m$files" >>"$R/etc/kaas/modules"
done

cpio_gz() { # DIR LEVEL -> gzip'd newc archive on stdout (owner root)
  (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | "$BUSYBOX" cpio -o -H newc 2>/dev/null | gzip -n "-$2")
}
cpio_gz "$R" 9 >"$B/base.cpio.gz"
BASE_SIZE=$(stat -c %s "$B/base.cpio.gz")
BASE_UNPACKED=$(du -sb "$R" | cut -f1)

# etcd + etcdctl as a second archive appended to the first (the kernel unpacks both). Stored
# uncompressed when that fits the limit: decompressing ~40 MB under software emulation costs
# about 0.7 s per boot (gzip), copying it costs next to nothing.
ETCD_INCLUDED=false ETCD_ADDED=0 ETCD_UNPACKED=0 ETCD_VERSION="" ETCD_FORMAT=""
pad4() { local s; s=$(stat -c %s "$1"); truncate -s $(((s + 3) / 4 * 4)) "$1"; }   # newc wants 4-byte alignment
if [ "$ETCD" != 0 ] && [ ${#ETCD_BINS[@]} -eq 2 ]; then
  E=$B/etcd
  mkdir -p "$E/usr/bin"
  for b in "${ETCD_BINS[@]}"; do
    cp "$b" "$E/usr/bin/"
    # any shared library the binaries need beyond what the base image has
    for lib in $(ldd "$b" 2>/dev/null | grep -o '/[^ ]*\.so[^ ]*'); do
      [ -e "$R$lib" ] || [ -e "$E$lib" ] || { mkdir -p "$E$(dirname "$lib")"; cp -L "$lib" "$E$lib"; }
    done
  done
  (cd "$E" && find . -mindepth 1 | LC_ALL=C sort | "$BUSYBOX" cpio -o -H newc 2>/dev/null) >"$B/etcd.cpio"
  ETCD_UNPACKED=$(du -sb "$E" | cut -f1)
  ETCD_VERSION=$(dpkg-query -W -f '${Version}' etcd-server 2>/dev/null || true)
  ETCD_ADDED=$(stat -c %s "$B/etcd.cpio")
  ETCD_FORMAT=raw
  if [ "$ETCD_ADDED" -ge $ETCD_LIMIT ]; then
    gzip -n -6 "$B/etcd.cpio"
    ETCD_ADDED=$(stat -c %s "$B/etcd.cpio.gz")
    mv "$B/etcd.cpio.gz" "$B/etcd.cpio"
    ETCD_FORMAT=gzip
  fi
  if [ "$ETCD" = 1 ] || [ "$ETCD_ADDED" -lt $ETCD_LIMIT ]; then
    ETCD_INCLUDED=true
    pad4 "$B/base.cpio.gz"
    cat "$B/etcd.cpio" >>"$B/base.cpio.gz"
  else
    log "etcd left out: it would add $ETCD_ADDED bytes (limit $ETCD_LIMIT)"
    ETCD_FORMAT=""
  fi
fi

cp "/boot/vmlinuz-$KV" "$B/vmlinuz"
chmod 644 "$B/vmlinuz" "$B/base.cpio.gz"
INITRD_SIZE=$(stat -c %s "$B/base.cpio.gz")
KERNEL_SIZE=$(stat -c %s "$B/vmlinuz")
cat >"$B/manifest.json" <<E
{
  "kernel": "vmlinuz",
  "initrd": "initramfs.img",
  "kernelVersion": "$KV",
  "kernelBytes": $KERNEL_SIZE,
  "initrdBytes": $INITRD_SIZE,
  "initrdBaseBytes": $BASE_SIZE,
  "initrdBaseUnpackedBytes": $BASE_UNPACKED,
  "etcdSetting": "$ETCD",
  "etcdIncluded": $ETCD_INCLUDED,
  "etcdVersion": "$ETCD_VERSION",
  "etcdAddedBytes": $ETCD_ADDED,
  "etcdUnpackedBytes": $ETCD_UNPACKED,
  "etcdArchiveFormat": "$ETCD_FORMAT",
  "cmdline": "console=ttyS0 quiet panic=-1",
  "seedLabel": "cidata",
  "bundleLabel": "kaas-bundle",
  "statusPort": 8099,
  "statusChannel": "org.kaas.status.0",
  "kernelSha256": "$(sha256sum "$B/vmlinuz" | cut -d' ' -f1)",
  "initrdSha256": "$(sha256sum "$B/base.cpio.gz" | cut -d' ' -f1)"
}
E
# replace the outputs atomically (running guests keep the files they opened)
mv -f "$B/vmlinuz" "$OUT/vmlinuz"
mv -f "$B/base.cpio.gz" "$OUT/initramfs.img"
mv -f "$B/manifest.json" "$OUT/manifest.json"
rm -rf "$B"
END=$(date +%s.%N)
log "done in $(awk "BEGIN{printf \"%.2f\", $END - $START}") s: kernel $KERNEL_SIZE B, initramfs $INITRD_SIZE B" \
  "(base $BASE_SIZE B, etcd ${ETCD_INCLUDED} +$ETCD_ADDED B), dir $(du -sh "$OUT" | cut -f1)"
