#!/usr/bin/env bash
# Builds everything a real-Xen run needs into build/realxen/ (override with REALXEN_BUILD), from Debian
# packages that are downloaded and unpacked (apt-get download + dpkg -x), never installed on this host:
#   xen            the hypervisor (multiboot ELF that QEMU's -kernel loads)
#   vmlinux        Debian's kernel, uncompressed (dom0 and guests; the bzImage costs seconds per boot under TCG)
#   dom0.cpio.gz   stage-1 initramfs: busybox, the kernel modules, /init that mounts rootfs.img and switches to it
#   rootfs.img     ext4: busybox, the Xen 4.17 toolstack, OpenJDK 17 (headless), lspci, the libraries they link,
#                  the guest kernel and guest initramfs under /guest
#   guest.cpio.gz  a guest's initramfs: busybox and an /init that prints a heartbeat line every second
# Each artifact carries a .key file: the hash of the package versions and of this script; it is rebuilt only when
# that changes. The xenhost jar is not baked in: run.sh puts the current one into the 9p share of each run.
# Needs: apt-get (Debian's registry), dpkg-deb, cpio, kmod (depmod/modprobe), xz-utils, e2fsprogs, file, gzip.
set -euo pipefail
export LC_ALL=C   # byte-wise grep for the XZ magic in the bzImage
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${REALXEN_BUILD:-$here/../build/realxen}
mkdir -p "$out/debs"
out=$(cd "$out" && pwd)
say() { echo "realxen-build: $*" >&2; }
t0=$(date +%s)

# 1. Package set and versions. The kernel is the one linux-image-amd64 currently depends on.
kver_pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
if [ -z "$kver_pkg" ]; then
  apt-get update -qq
  kver_pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
fi
kver=${kver_pkg#linux-image-}
xen_pkgs=(xen-hypervisor-4.17-amd64 xen-utils-4.17 xen-utils-common xenstore-utils libxenmisc4.17 libxencall1
  libxenevtchn1 libxenforeignmemory1 libxengnttab1 libxenstore4 libxentoollog1 libyajl2 libxendevicemodel1
  libxenhypfs1 libxentoolcore1)
user_pkgs=(busybox-static openjdk-17-jre-headless pciutils libpci3)
all_pkgs=("$kver_pkg" "${xen_pkgs[@]}" "${user_pkgs[@]}")
declare -A ver
while read -r p v; do ver[$p]=$v; done < <(apt-cache policy "${all_pkgs[@]}" | awk '/^[^ ]/{sub(":$","",$1); p=$1} /Candidate:/{print p, $2}')
for p in "${all_pkgs[@]}"; do
  [ -n "${ver[$p]:-}" ] && [ "${ver[$p]}" != "(none)" ] || { say "no candidate version of $p in the apt sources (apt-get update?)"; exit 1; }
done

# 2. Download what is not cached yet (file names carry the version, so a new version is a new file).
deb() { echo "$out/debs/${1}_$(echo "${ver[$1]}" | sed 's/:/%3a/')_$(dpkg --print-architecture).deb"; }
debfile() { local f; f=$(deb "$1"); [ -f "$f" ] || f=${f/_amd64.deb/_all.deb}; echo "$f"; }
need=()
for p in "${all_pkgs[@]}"; do [ -f "$(debfile "$p")" ] || need+=("$p=${ver[$p]}"); done
if [ ${#need[@]} -gt 0 ]; then
  say "downloading ${#need[@]} packages"
  (cd "$out/debs" && apt-get download "${need[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
  for p in "${all_pkgs[@]}"; do [ -f "$(debfile "$p")" ] || { say "download of $p=${ver[$p]} failed"; exit 1; }; done
fi

# Cache keys: package versions named by each artifact, plus this script and the guest's init.
self=$(sha256sum "$0" "$here/guest-init" "$here/dom0-stage1" | sha256sum | cut -c1-16)
key() { { echo "$self"; for p in "$@"; do echo "$p=${ver[$p]}"; done; } | sha256sum | cut -c1-16; }
fresh() { [ -f "$out/$1" ] && [ -f "$out/$1.key" ] && [ "$(cat "$out/$1.key")" = "$2" ]; }
done_() { echo "$2" > "$out/$1.key"; say "built $1 ($(du -h --apparent-size "$out/$1" | cut -f1))"; }
unpack() { local dir=$1; shift; for p in "$@"; do dpkg-deb -x "$(debfile "$p")" "$dir"; done; }
tmp=$(mktemp -d "$out/tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# 3. Hypervisor.
k=$(key xen-hypervisor-4.17-amd64)
if ! fresh xen "$k"; then
  unpack "$tmp/xen" xen-hypervisor-4.17-amd64
  gunzip -c "$tmp"/xen/boot/xen-4.17-amd64.gz > "$out/xen"
  done_ xen "$k"
fi

# 4. Kernel: the bzImage's payload is XZ; unpack it from its magic (as Linux's scripts/extract-vmlinux does).
kernel_tree="$tmp/kernel"
k=$(key "$kver_pkg")
if ! fresh vmlinux "$k"; then
  unpack "$kernel_tree" "$kver_pkg"
  bz="$kernel_tree/boot/vmlinuz-$kver"
  off=$(grep -obUaP -m1 '\xfd7zXZ\x00' "$bz" | head -1 | cut -d: -f1)
  tail -c +$((off + 1)) "$bz" | xz -dc > "$out/vmlinux" 2>/dev/null || true   # trailing data after the stream is expected
  file "$out/vmlinux" | grep -q 'ELF 64-bit' || { say "could not unpack an ELF vmlinux from $bz"; exit 1; }
  done_ vmlinux "$k"
fi

# 5. Stage-1 initramfs: busybox, the modules dom0 needs (with their dependencies), /init.
dom0_modules=(crc32c_generic virtio_pci virtio_blk ext4 9pnet_virtio 9p loop xen-evtchn xen-gntdev xen-gntalloc
  xen-privcmd xenfs xen-pciback xen-netback xen-blkback e1000 bridge)
k=$(key "$kver_pkg" busybox-static)
if ! fresh dom0.cpio.gz "$k"; then
  [ -d "$kernel_tree" ] || unpack "$kernel_tree" "$kver_pkg"
  r="$tmp/initramfs"; mkdir -p "$r"/{bin,sbin,proc,sys,dev,newroot,lib/modules}
  unpack "$tmp/bb" busybox-static
  cp "$tmp/bb/bin/busybox" "$r/bin/busybox"
  for a in $("$r/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"; done
  depmod -b "$kernel_tree" "$kver"
  for m in "${dom0_modules[@]}"; do
    modprobe -d "$kernel_tree" -S "$kver" --show-depends "$m" | awk '$1=="insmod"{print $2}'
  done | awk '!seen[$0]++' > "$tmp/modlist"
  mkdir -p "$r/lib/modules/load"
  n=0
  while read -r f; do   # numbered so /init loads them in dependency order without modprobe
    n=$((n + 1)); cp "$f" "$r/lib/modules/load/$(printf %03d "$n")-$(basename "$f")"
  done < "$tmp/modlist"
  cp "$here/dom0-stage1" "$r/init"; chmod +x "$r/init"
  (cd "$r" && find . | cpio -o -H newc --quiet | gzip -1) > "$out/dom0.cpio.gz"
  done_ dom0.cpio.gz "$k"
fi

# 6. Guest initramfs: busybox, the PCI frontend and the e1000 driver (so a guest given QEMU's e1000 shows it as a
#    PCI device and a network interface on its console), /init.
guest_modules=(xen-pcifront e1000)
k=$(key "$kver_pkg" busybox-static)
if ! fresh guest.cpio.gz "$k"; then
  g="$tmp/guest"; mkdir -p "$g"/{bin,proc,sys,dev,lib/modules/load}
  [ -d "$tmp/bb" ] || unpack "$tmp/bb" busybox-static
  cp "$tmp/bb/bin/busybox" "$g/bin/busybox"
  for a in sh echo sleep mount cat date ls insmod tr; do ln -s busybox "$g/bin/$a"; done
  [ -d "$kernel_tree" ] || unpack "$kernel_tree" "$kver_pkg"
  depmod -b "$kernel_tree" "$kver"
  n=0
  for m in "${guest_modules[@]}"; do
    modprobe -d "$kernel_tree" -S "$kver" --show-depends "$m" | awk '$1=="insmod"{print $2}'
  done | awk '!seen[$0]++' | while read -r f; do
    n=$((n + 1)); cp "$f" "$g/lib/modules/load/$(printf %03d "$n")-$(basename "$f")"
  done
  cp "$here/guest-init" "$g/init"; chmod +x "$g/init"
  (cd "$g" && find . | cpio -o -H newc --quiet | gzip -1) > "$out/guest.cpio.gz"
  done_ guest.cpio.gz "$k"
fi

# 7. dom0's root filesystem: the unpacked packages plus the host libraries their ELF files name (the host runs
#    the same Debian release), plus libgcc_s (dlopen'ed by glibc's pthread_cancel, which xl save/restore use).
k=$(key "$kver_pkg" "${xen_pkgs[@]}" "${user_pkgs[@]}")
if ! fresh rootfs.img "$k"; then
  r="$tmp/rootfs"; mkdir -p "$r"/{proc,sys,dev,tmp,run,share,guest,var/log/xen/console,var/run/xen,var/lib/xen,root}
  unpack "$r" "${xen_pkgs[@]}" "${user_pkgs[@]}"
  mkdir -p "$r/bin"
  for a in $("$r/bin/busybox" --list); do [ -e "$r/bin/$a" ] || [ -e "$r/usr/bin/$a" ] || [ -e "$r/sbin/$a" ] || [ -e "$r/usr/sbin/$a" ] || ln -s busybox "$r/bin/$a"; done
  libpath=$(find "$r" -name '*.so*' -type f -printf '%h\n' | sort -u | paste -sd:)
  find "$r" -type f \( -perm -u+x -o -name '*.so*' \) -exec sh -c 'head -c4 "$1" | grep -q ELF && echo "$1"' _ {} \; > "$tmp/elves"
  while read -r e; do LD_LIBRARY_PATH=$libpath ldd "$e" 2>/dev/null | sed "s|^|$e |" || true; done < "$tmp/elves" > "$tmp/ldd"
  awk '$3 == "=>" && $4 ~ /^\//{print $4} $2 ~ /^\/lib64/{print $2}' "$tmp/ldd" | sort -u > "$tmp/libs"
  # a library no package here and not the host provides: said, not dropped; fatal for what the scenarios run
  if grep -q 'not found' "$tmp/ldd"; then
    say "libraries not found (neither packaged nor on this host):"
    grep 'not found' "$tmp/ldd" | sed "s|^$r||" | sort -u | sed 's/^/  /'
    if grep 'not found' "$tmp/ldd" | grep -q -E "^$r/(usr/sbin/xl|usr/lib/xen-4.17/bin/xl|usr/lib/jvm/[^ ]*/bin/java|[^ ]*/libxenlight\.so[^ ]*) "; then
      say "xl, java or libxenlight cannot load; install the host package that provides the libraries above"; exit 1
    fi
  fi
  echo /lib/x86_64-linux-gnu/libgcc_s.so.1 >> "$tmp/libs"
  # glibc's compatibility names, which no packaged ELF here links but the native libraries netty unpacks from the
  # xenhost jar at run time do (epoll and BoringSSL need libdl.so.2; without them the daemon falls back to NIO and
  # the JDK's TLS, whose first handshake under TCG took 110 s)
  for l in libdl.so.2 libpthread.so.0 librt.so.1 libm.so.6; do echo "/lib/x86_64-linux-gnu/$l" >> "$tmp/libs"; done
  while read -r l; do
    case "$l" in "$r"/*) continue ;; esac
    [ -e "$r$l" ] || { mkdir -p "$r$(dirname "$l")"; cp -L "$l" "$r$l"; }
  done < "$tmp/libs"
  mkdir -p "$r/lib64" && cp -L /lib64/ld-linux-x86-64.so.2 "$r/lib64/"
  printf '/usr/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu\n' > "$r/etc/ld.so.conf"
  ldconfig -r "$r"
  echo "root:x:0:0:root:/root:/bin/sh" > "$r/etc/passwd"; echo "root:x:0:" > "$r/etc/group"
  echo dom0 > "$r/etc/hostname"; printf '127.0.0.1 localhost dom0\n' > "$r/etc/hosts"
  cp "$out/vmlinux" "$out/guest.cpio.gz" "$r/guest/"
  size=$(( $(du -sm "$r" | cut -f1) + 300 ))
  rm -f "$out/rootfs.img"
  mkfs.ext4 -q -F -L realxen -d "$r" "$out/rootfs.img" "${size}M"
  done_ rootfs.img "$k"
fi
# 8. dom0's JVM once more, unpacked here on the host: run.sh makes the class-data archive of xenhost's classes with
#    it, because an archive loads only into the JVM build that wrote it (the host runs the same Debian release).
k=$(key openjdk-17-jre-headless)
if ! { [ -x "$out/jre/usr/lib/jvm/java-17-openjdk-amd64/bin/java" ] && [ -f "$out/jre.key" ] && [ "$(cat "$out/jre.key")" = "$k" ]; }; then
  rm -rf "$out/jre"
  unpack "$out/jre" openjdk-17-jre-headless
  done_ jre "$k"
fi
say "ready in $out ($(( $(date +%s) - t0 )) s)"
