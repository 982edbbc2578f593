#!/bin/bash
# PyTorch DDP (Gloo) on 2 ranks: ionet-run sets torchrun's variables in every rank.
# Run: ionet-batch jobscripts/examples/ddp.sh
#SBATCH --job-name=ddp
#SBATCH --ntasks=2
#SBATCH --time=00:15:00
#SBATCH --output=%x-%j.out
EXAMPLES=${IONET_EXAMPLES:-$(dirname "$(command -v ionet-run)")/../examples}
ionet-run /usr/bin/python3 "$EXAMPLES/ddp_train.py"
