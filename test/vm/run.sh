#!/usr/bin/env bash
# npm run test:vm: the shipped systemd unit (Delegate=yes) and the built binary on a real cgroup v2
# host. A Debian 12 VM made with debootstrap boots real systemd under QEMU (TCG, no KVM needed) and
# runs test/vm/check.mjs against a misbehaving server: memory over its limit → the client gets the
# breach error; cpu.max throttles; pids.max holds; stopping the unit leaves no process.
# Needs root, debootstrap, qemu-system-x86 and e2fsprogs (apt-get install debootstrap qemu-system-x86).
# The root file system is cached in .cache/vm/root (about 600 MB); delete it to rebuild.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=test/vm
cache=.cache/vm
root=$cache/root
timeout_s=${VM_TIMEOUT_S:-900}

[ -x dist/mcpproxy ] || { echo "test:vm: dist/mcpproxy missing: npm run build" >&2; exit 1; }
for tool in debootstrap qemu-system-x86_64 mkfs.ext4; do
  command -v "$tool" >/dev/null || { echo "test:vm: $tool not found: apt-get install debootstrap qemu-system-x86 e2fsprogs" >&2; exit 1; }
done

# libatomic1: the Node runtime inside dist/mcpproxy links it, and minbase lacks it.
if [ ! -e "$root/usr/lib/x86_64-linux-gnu/libatomic.so.1" ] || [ ! -x "$root/usr/bin/node" ]; then
  rm -rf "$root"
  mkdir -p "$cache"
  echo "test:vm: debootstrap bookworm into $root (several minutes, once)"
  debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,udev,dbus,kmod,linux-image-amd64,initramfs-tools,bubblewrap,util-linux,procps,nodejs,libatomic1 \
    bookworm "$root" > "$cache/debootstrap.log" 2>&1 || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
fi

# What the test installs, as an operator would (deploy/mcpproxy.service, docs/DEPLOYMENT.md).
install -m 0755 dist/mcpproxy "$root/usr/local/bin/mcpproxy"
install -m 0644 deploy/mcpproxy.service "$root/etc/systemd/system/mcpproxy.service"
install -d -m 0700 "$root/etc/mcpproxy"
head -c 32 /dev/urandom | base64 > "$root/etc/mcpproxy/auth-key"
chmod 0600 "$root/etc/mcpproxy/auth-key"
printf 'MCP_CONFIG=/etc/mcpproxy-servers.json\nHOST=127.0.0.1\nPORT=8000\n' > "$root/etc/mcpproxy/mcpproxy.env"
install -d -m 0755 "$root/opt/mcp"
install -m 0644 "$here/hog-server.mjs" "$here/check.mjs" "$root/opt/mcp/"
cat > "$root/etc/mcpproxy-servers.json" <<'JSON'
{ "mcpServers": { "hog": { "command": "node", "args": ["/opt/mcp/hog-server.mjs"], "upstreamProtocol": "legacy",
  "sandbox": { "mode": "strict", "memory": "64MiB", "cpus": 0.5, "pids": 32 } } } }
JSON
chmod 0644 "$root/etc/mcpproxy-servers.json"
install -m 0644 "$here/vmtest.service" "$root/etc/systemd/system/vmtest.service"
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/mcpproxy.service "$root/etc/systemd/system/multi-user.target.wants/mcpproxy.service"
ln -sf /etc/systemd/system/vmtest.service "$root/etc/systemd/system/multi-user.target.wants/vmtest.service"
echo vmtest > "$root/etc/hostname"
# A persistent journal: after a failed run, the unit's log is read from the image below.
mkdir -p "$root/var/log/journal"

image=$cache/disk.img
rm -f "$image"
mkfs.ext4 -q -F -L root -d "$root" "$image" 3G
kernel=$(ls "$root"/boot/vmlinuz-* | tail -1)
initrd=$(ls "$root"/boot/initrd.img-* | tail -1)
log=$cache/console.log
echo "test:vm: booting (QEMU TCG; a few minutes); console in $log"
start=$(date +%s)
timeout "$timeout_s" qemu-system-x86_64 -m 2048 -smp 2 -nographic -no-reboot -nic none \
  -kernel "$kernel" -initrd "$initrd" -append "root=/dev/vda rw console=ttyS0 loglevel=3 systemd.show_status=0" \
  -drive "file=$image,format=raw,if=virtio" > "$log" 2>&1 || true
echo "test:vm: VM ran $(( $(date +%s) - start )) s"
grep -a 'VMTEST' "$log" | sed 's/^.*VMTEST/VMTEST/' || true
if ! grep -aq 'VMTEST DONE failures=0' "$log"; then
  rm -rf "$cache/journal"
  debugfs -R "rdump /var/log/journal $cache" "$image" >/dev/null 2>&1 || true
  journalctl --directory "$cache/journal" --no-pager -o short-monotonic -u mcpproxy -u vmtest 2>/dev/null | tail -60 || true
  echo "test:vm: FAILED (see $log)" >&2
  exit 1
fi
grep -aq 'VMTEST FAIL' "$log" && exit 1
echo "test:vm: passed"
