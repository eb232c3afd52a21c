#!/bin/bash
# install-rootfs.sh --board pi|jetson [--root DIR] [--credentials encrypted|plain] [--allow-missing]
#
# Puts the appliance's system parts onto a root filesystem: the shared files (systemd units,
# sysusers, tmpfiles, journald/coredump/watchdog drop-ins, sysctl, firewall, chrony, sshd),
# then the board's overlay (image-build/BOARD/rootfs), creates the alpr user and its folders,
# enables the services and masks swap and the services an appliance does not need.
# Both recipes call this one script: the Pi image inside pi-gen's chroot, the Jetson script on
# the device. It only writes under DIR (default /) and starts nothing, so it is safe to run on
# a mounted image; a running system picks the changes up at the next boot.
#
# Files under etc/alpr/ and etc/chrony/sources.d/ are the site's once installed: an existing
# one is kept, so re-running (an update) never overwrites the agency's settings.
# --credentials plain: for systemd < 250 (no systemd-creds): the store key is a plain 0600 file
#   handed to the services with LoadCredential= (see README "Store key").
# --allow-missing: continue when nftables or chrony is not installed in DIR (CI checks of an
#   empty root); an image must never be built with it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
image_build=$(dirname "$here")

die() { echo "install-rootfs: $*" >&2; exit 2; }

root=/
board=
credentials=encrypted
allow_missing=0
while [ $# -gt 0 ]; do
	case "$1" in
		--root) root=${2:?--root needs a folder}; shift 2 ;;
		--board) board=${2:?--board needs pi or jetson}; shift 2 ;;
		--credentials) credentials=${2:?--credentials needs encrypted or plain}; shift 2 ;;
		--allow-missing) allow_missing=1; shift ;;
		-h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}"; exit 0 ;;
		*) die "unknown argument '$1' (allowed: --board pi|jetson, --root DIR, --credentials encrypted|plain, --allow-missing)" ;;
	esac
done
case "$board" in
	pi|jetson) ;;
	*) die "--board must be pi or jetson; got '${board}'" ;;
esac
case "$credentials" in
	encrypted|plain) ;;
	*) die "--credentials must be encrypted or plain; got '${credentials}'" ;;
esac
[ -d "$root" ] || die "--root $root is not a folder"
root=$(cd "$root" && pwd)

# Site-owned paths (relative to the root): installed when absent, never replaced.
is_site_file() {
	case "$1" in
		etc/alpr/*|etc/chrony/sources.d/*) return 0 ;;
		*) return 1 ;;
	esac
}

# Copy every file of the tree $1 to the same path under the root, keeping the executable bit.
# (A pipe, not <(...): a chroot without /proc has no /dev/fd.)
copy_tree() {
	local src=$1
	find "$src" -type f -print0 | sort -z | while IFS= read -r -d '' f; do
		local rel=${f#"$src"/} mode=0644
		local dest="$root/$rel"
		if is_site_file "$rel" && [ -e "$dest" ]; then
			echo "kept the site's /$rel"
			continue
		fi
		[ -x "$f" ] && mode=0755
		install -D -m "$mode" "$f" "$dest"
	done
}

copy_tree "$here/rootfs"
copy_tree "$image_build/$board/rootfs"
if [ "$credentials" = plain ]; then
	for u in alpr-run alpr-serve; do
		install -D -m 0644 "$here/optional/store-key-plain.conf" "$root/usr/lib/systemd/system/$u.service.d/40-store-key-plain.conf"
	done
fi
install -D -m 0644 "$image_build/README.md" "$root/usr/share/doc/alpr-appliance/image-build.md"
# The firewall's site settings may name the admin networks: readable by root only.
chmod 0600 "$root/etc/alpr/firewall-site.nft"

# The alpr user and groups, then /var/lib/alpr (0700) and /etc/alpr/credentials (0700 root).
systemd-sysusers --root="$root" alpr.conf
systemd-tmpfiles --create --root="$root" alpr.conf

have_unit() {
	local u=$1 d
	for d in etc/systemd/system usr/lib/systemd/system lib/systemd/system; do
		[ -e "$root/$d/$u" ] && return 0
	done
	return 1
}

need_unit() {
	if have_unit "$1"; then
		return 0
	fi
	if [ "$allow_missing" = 1 ]; then
		echo "install-rootfs: warning: $1 is not installed in $root (package $2); not enabled" >&2
		return 1
	fi
	die "$1 is not installed in $root: install the $2 package first (the image needs it)"
}

sctl() { systemctl --root="$root" --quiet "$@"; }

sctl enable alpr-store-key.service alpr-run.service alpr-serve.service alpr-cert-renew.timer tmp.mount
if need_unit nftables.service nftables; then
	sctl enable nftables.service
fi
if need_unit chrony.service chrony; then
	sctl enable chrony.service
	# chrony replaces it; two clients would fight over the clock.
	sctl mask systemd-timesyncd.service
fi

# Swap off (POLICY DS-4): no swap unit can start, and the boards' swap services are masked.
# Services an appliance does not need (POLICY DS-6, AC-9): masked where present.
for u in swap.target dphys-swapfile.service nvzramconfig.service \
	avahi-daemon.service avahi-daemon.socket bluetooth.service hciuart.service \
	ModemManager.service triggerhappy.service triggerhappy.socket cups.service cups.socket \
	systemd-coredump.socket; do
	if [ "$u" = swap.target ] || have_unit "$u"; then
		sctl mask "$u"
	fi
done

echo "install-rootfs: board $board, credentials $credentials: installed into $root (takes effect at the next boot)"
