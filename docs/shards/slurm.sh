#!/bin/sh
# strata scan of a registry mirror's storage in shards, as a Slurm job
# array: 8 shards, then the assembling scan once they all succeeded.
#   sbatch docs/shards/slurm.sh /srv/registry /shared/strata-cache /shared/strata.key
# strata reads SLURM_ARRAY_TASK_ID (less SLURM_ARRAY_TASK_MIN) for
# "index/8"; keep --array's size and N equal.
#SBATCH --job-name=strata-shard
#SBATCH --array=0-7
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
set -eu
registry=$1 cache=$2 key=$3
strata scan -q --shard index/8 --cache "$cache" --cache-key "$key" "$registry"
# The last task to finish submits the assembly (afterok: only if every
# shard succeeded).
if [ "${SLURM_ARRAY_TASK_ID}" = "${SLURM_ARRAY_TASK_MIN}" ]; then
	sbatch --dependency=afterok:"${SLURM_ARRAY_JOB_ID}" --job-name=strata-assemble --wrap \
		"strata scan -q --cache '$cache' --cache-key '$key' --format jsonl -o '$cache/report.jsonl' '$registry'; [ \$? -le 1 ]"
fi
