// SPDX-License-Identifier: MIT

/** 9p mount tags; the host side (qemu.ts) and the guest's init must agree. */
export const rootTag = 'vfiots_root';
export const runTag = 'vfiots_run';
/** Where the run share appears inside the chroot; results and the entry live there. */
export const guestRunDir = '/tmp/vfio-ts';

/** Console markers the host watches for: boot reached user space, devices bound, the entry finished. */
export const markers = {
  ready: 'VFIO-TS-READY',
  exit: 'VFIO-TS-EXIT',
  fail: 'VFIO-TS-INIT-FAILED',
} as const;

/**
 * The initramfs's /init (busybox sh). It loads the modules listed in /modules.order (dependencies first, resolved on
 * the host), mounts the guest's root (host `/` on x86_64, the prepared ppc64el root on ppc64le) read-only and the
 * run directory writable over 9p, binds the devices named in the run's params.sh to vfio-pci, records what the
 * guest looks like, chroots into the root to run the entry through run.sh, and powers off. Any failure powers off
 * too (after saying why on the console), so a broken guest never waits for the host's timeout.
 */
export function initScript(): string {
  return `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /newroot /run-share
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
say() { echo "vfio-ts-init: $*"; }
fail() { say "$*"; echo "${markers.fail}: $*"; echo "$*" > /run-share/init-error 2>/dev/null; sync; poweroff -f; sleep 60; }

for m in $(cat /modules.order); do
  insmod /lib/modules/$m.ko || say "insmod $m failed"
done

# cache=loose on the run share too: the ppc64le 6.12 guest read a 1 MB bundle with parts duplicated through an
# uncached 9p mount (x86_64 6.1 did not); writes then reach the host on fsync or umount.
mount -t 9p -o trans=virtio,version=9p2000.L,cache=loose,msize=262144 ${runTag} /run-share || fail "cannot mount the run share (9p tag ${runTag})"
mount -t 9p -o trans=virtio,version=9p2000.L,cache=loose,msize=262144,ro ${rootTag} /newroot || fail "cannot mount the root share (9p tag ${rootTag})"
[ -f /run-share/params.sh ] || fail "the run share has no params.sh"
. /run-share/params.sh

info=/run-share/guest-info.txt
: > $info
for dev in /sys/bus/pci/devices/*; do
  bdf=\${dev##*/}
  id="$(cat $dev/vendor | sed s/^0x//):$(cat $dev/device | sed s/^0x//)"
  for want in $VFIO_TS_BIND; do
    [ "$id" = "$want" ] || continue
    if [ -e $dev/driver ]; then echo $bdf > $dev/driver/unbind; fi
    echo vfio-pci > $dev/driver_override
    echo $bdf > /sys/bus/pci/drivers_probe
    group=$(basename "$(readlink $dev/iommu_group)" 2>/dev/null)
    driver=$(basename "$(readlink $dev/driver)" 2>/dev/null)
    # The VFIO device cdev: /sys/bus/pci/devices/$bdf/vfio-dev/vfioN names /dev/vfio/devices/vfioN. The sysfs entry
    # is there on every kernel since 6.1, the node only with CONFIG_VFIO_DEVICE_CDEV (6.6+): "-" without the node.
    cdev=$(ls $dev/vfio-dev 2>/dev/null | head -n 1)
    if [ -z "$cdev" ] || [ ! -c "/dev/vfio/devices/$cdev" ]; then cdev=; fi
    if [ "$driver" = vfio-pci ]; then
      echo "device=$bdf $id $group \${cdev:--}" >> $info
    else
      echo "unbound=$bdf $id" >> $info
      say "could not bind $bdf ($id) to vfio-pci (iommu group '$group'); see dmesg above"
    fi
  done
done
# Limit tests drop root (CAP_IPC_LOCK hides RLIMIT_MEMLOCK) and need the nodes opened by an unprivileged user.
# Character devices only: /dev/vfio/devices is a directory on 6.6+ kernels.
if [ -n "\${VFIO_TS_DEV_VFIO_MODE:-}" ]; then
  for node in /dev/vfio/* /dev/vfio/devices/* /dev/iommu; do
    if [ -c "$node" ]; then chmod "$VFIO_TS_DEV_VFIO_MODE" "$node"; fi
  done
fi
echo "kernel=$(uname -r)" >> $info
echo "machine=$(uname -m)" >> $info
echo "version=$(cat /proc/version)" >> $info
echo "cmdline=$(cat /proc/cmdline)" >> $info
echo "iommu_class=$(ls /sys/class/iommu 2>/dev/null | tr '\\n' ' ')" >> $info
echo "iommu_groups=$(ls /sys/kernel/iommu_groups 2>/dev/null | wc -l)" >> $info
echo "modules=$(cut -d' ' -f1 /proc/modules | tr '\\n' ' ')" >> $info
echo "dev_vfio=$(ls /dev/vfio 2>/dev/null | tr '\\n' ' ')" >> $info
echo "dev_vfio_devices=$(ls /dev/vfio/devices 2>/dev/null | tr '\\n' ' ')" >> $info
echo "dev_iommu=$(if [ -c /dev/iommu ]; then echo yes; else echo no; fi)" >> $info
echo "${markers.ready}"

# The tmpfs on /tmp would hide host directories under /tmp that the run needs (a checkout in /tmp, its node_modules):
# bind them aside first and put them back on top of the tmpfs.
if [ -n "\${VFIO_TS_KEEP:-}" ]; then
  mkdir -p /keep && mount -o bind "/newroot$VFIO_TS_KEEP" /keep || fail "cannot keep $VFIO_TS_KEEP"
fi
mount -t tmpfs -o size=256m tmpfs /newroot/tmp || fail "cannot mount a tmpfs on the root's /tmp"
if [ -n "\${VFIO_TS_KEEP:-}" ]; then
  mkdir -p "/newroot$VFIO_TS_KEEP" && mount -o bind /keep "/newroot$VFIO_TS_KEEP" || fail "cannot restore $VFIO_TS_KEEP"
fi
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
mkdir -p /newroot${guestRunDir}
mount -o bind /run-share /newroot${guestRunDir} || fail "cannot bind the run share into the root"
chroot /newroot /bin/sh ${guestRunDir}/run.sh
code=$?
echo $code > /run-share/exit-code
echo "${markers.exit} $code"
umount /newroot${guestRunDir}
umount /run-share
sync
poweroff -f
sleep 60
`;
}

/** POSIX-shell single quoting. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
