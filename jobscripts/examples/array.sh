#!/bin/bash
# An array of 8 tasks, at most 2 at a time, one output file per task.
# Run: ionet-batch jobscripts/examples/array.sh
#SBATCH --job-name=sweep
#SBATCH --array=0-7%2
#SBATCH --ntasks=1
#SBATCH --output=sweep-%A_%a.out
rate=$(awk "BEGIN { print 0.001 * 2 ^ $SLURM_ARRAY_TASK_ID }")
echo "task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_TASK_COUNT (array $SLURM_ARRAY_JOB_ID): learning rate $rate"
