#!/bin/bash -e
# pi-gen runs this on the build host, in this folder, with ROOTFS_DIR set and on_chroot defined.
# files/ is filled by image-build/pi/build.sh: files/image-build (the shared parts and this
# board's overlay, one copy of image-build/) and files/wheels (the appliance's wheel).
stage_tmp="${ROOTFS_DIR}/tmp/alpr-install"
rm -rf "${stage_tmp}"
install -d "${stage_tmp}"
cp -a files/image-build files/wheels "${stage_tmp}/"

on_chroot << 'CHROOT'
set -e
cd /tmp/alpr-install
wheel=$(ls wheels/alpr_appliance-*.whl)
image-build/shared/install-venv.sh --system-site-packages --extra pi "${wheel}"
image-build/shared/install-rootfs.sh --board pi --root / --credentials encrypted
# The swap file service is masked by install-rootfs.sh; removing the package also drops /var/swap.
apt-get purge -y dphys-swapfile || true
rm -f /var/swap
CHROOT

rm -rf "${stage_tmp}"
