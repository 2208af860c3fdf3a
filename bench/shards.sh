#!/bin/sh
# shards.sh measures the registry rows' two ratios the way their margins
# need: this machine's speed drifts by more than them within minutes, so
# one cold process (filling a cache) and 4 shards plus their assembly are
# run in ABBA order (cold, sharded, sharded, cold), and each round's ratio
# is of the means of its pairs. It prints, per round, the CPU seconds
# (user+sys) of each run, (4 shards + assembly) / cold, and the assembly's
# share of the cold scan.
#
# Run `make bench` once first (it builds bin/strata and the registry);
# then: sh bench/shards.sh [ROUNDS, default 3].
set -eu
cd "$(dirname "$0")/.."
DIR=${BENCH_DIR:-.cache/bench}
REG=$DIR/registry
KEY=$DIR/reg.key
S=bin/strata
[ -x "$S" ] && [ -d "$REG" ] && [ -s "$KEY" ] || { echo "shards.sh: run make bench first (bin/strata, $REG, $KEY)"; exit 2; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

cpu() { /usr/bin/time -f "%U %S" -o "$TMP/time" "$@" >/dev/null && awk '{ print $1 + $2 }' "$TMP/time"; }
cold() { rm -rf "$TMP/cold"; cpu $S scan -q --cache "$TMP/cold" --cache-key "$KEY" "$REG"; }
# sharded prints the 4 shards' CPU summed, then the assembly's.
sharded() {
	rm -rf "$TMP/shared"
	s=0
	for i in 0 1 2 3; do
		s=$(echo "$s $(cpu $S scan -q --shard $i/4 --cache "$TMP/shared" --cache-key "$KEY" "$REG")" | awk '{ print $1 + $2 }')
	done
	echo "$s $(cpu $S scan -q --cache "$TMP/shared" --cache-key "$KEY" "$REG")"
}

for round in $(seq "${1:-3}"); do
	c1=$(cold)
	sa1=$(sharded)
	sa2=$(sharded)
	c2=$(cold)
	echo "$c1 $sa1 $sa2 $c2" | awk '{
		c = ($1 + $6) / 2; s = ($2 + $4) / 2; a = ($3 + $5) / 2
		printf "cold %.2f %.2f s  shards %.2f %.2f s  assembly %.2f %.2f s  (shards+assembly)/cold %.3f  assembly/cold %.1f%%\n",
			$1, $6, $2, $4, $3, $5, (s + a) / c, 100 * a / c }'
done
