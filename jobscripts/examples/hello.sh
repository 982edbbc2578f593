#!/bin/bash
# MPI hello on 4 ranks of the job's allocation. Run: ionet-batch jobscripts/examples/hello.sh
#SBATCH --job-name=hello
#SBATCH --ntasks=4
#SBATCH --time=00:05:00
#SBATCH --output=%x-%j.out
# The examples are built beside the commands (build/bin -> build/examples).
EXAMPLES=${IONET_EXAMPLES:-$(dirname "$(command -v ionet-run)")/../examples}
echo "job $SLURM_JOB_ID: $SLURM_NTASKS tasks on $SLURM_JOB_NODELIST"
srun "$EXAMPLES/hello" | sort
