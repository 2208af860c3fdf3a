#!/bin/sh
# dockerstore.sh DIR ARCHIVE makes DIR/data, a Docker data root (overlay2)
# holding ARCHIVE as Debian's dockerd 20.10 loads it: a daemon of its own
# (data root, exec root and socket below DIR; no bridge, no iptables),
# `docker load`, then stopped. Nothing is done when DIR/loaded, written
# last, is newer than ARCHIVE (a run that failed half-way is redone). Exits 3 when dockerd cannot run here (not root, not installed).
set -eu
dir=$1 archive=$2
[ -f "$dir/loaded" ] && [ "$dir/loaded" -nt "$archive" ] && exit 0
command -v dockerd >/dev/null && command -v docker >/dev/null && [ "$(id -u)" = 0 ] || exit 3
rm -rf "$dir"
mkdir -p "$dir/data" "$dir/exec" "$dir/run"
# dockerd's containerd socket is below the exec root, which must be an
# absolute path: with a relative one (make bench's .cache/bench) the daemon
# never reaches its containerd.
dir=$(cd "$dir" && pwd)
sock="unix://$dir/run/docker.sock"
dockerd --data-root "$dir/data" --exec-root "$dir/exec" -H "$sock" --pidfile "$dir/run/docker.pid" \
	--bridge none --iptables=false --ip6tables=false --storage-driver overlay2 \
	--containerd-namespace strata-bench --containerd-plugins-namespace strata-bench-plugins >"$dir/dockerd.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
i=0
until docker -H "$sock" version >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -gt 300 ] && { echo "dockerstore: dockerd did not start (see $dir/dockerd.log)"; exit 1; }
	sleep 0.2
done
docker -H "$sock" load -q -i "$archive"
kill $pid
wait $pid 2>/dev/null || true
trap - EXIT
touch "$dir/loaded"
