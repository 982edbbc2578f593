#!/bin/bash
# The checkpointed training example. If a rank dies, ionet-run restarts the job in place (up to
# --max-restarts times) from the newest verified checkpoint in ckpt-<job id>/. If a host is lost
# and the allocation has no other host to take its place, the job ends NODE_FAIL, is requeued
# (same id) on hosts that are up, and resumes from that checkpoint.
# Run: ionet-batch jobscripts/examples/train.sh
#IONET --job-name=train
#IONET --ntasks=4
#IONET --time=00:30:00
#IONET --output=%x-%j.out
#IONET --requeue
#IONET --max-restarts=2
EXAMPLES=${IONET_EXAMPLES:-$(dirname "$(command -v ionet-run)")/../examples}
# One checkpoint directory per job, kept across requeues (same job id).
export IONET_CHECKPOINT_DIR=${IONET_CHECKPOINT_DIR:-$SLURM_SUBMIT_DIR/ckpt-$SLURM_JOB_ID}
echo "run $SLURM_RESTART_COUNT of job $SLURM_JOB_ID on $SLURM_JOB_NODELIST"
ionet-run "$EXAMPLES/train" 300 20
