#!/bin/bash
# A dependency chain: prepare, then train only if prepare succeeded (afterok), then report
# whatever happened (afterany). This script submits the three; run it directly:
#   jobscripts/examples/chain.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prepare=$(ionet-batch --parsable --job-name=prepare --output=chain-%x-%j.out <<'EOF2'
#!/bin/bash
echo "preparing data on $SLURM_JOB_NODELIST"
EOF2
)
train=$(ionet-batch --parsable --dependency=afterok:$prepare --output=chain-%x-%j.out \
        "$here/hello.sh")
report=$(ionet-batch --parsable --dependency=afterany:$train --job-name=report \
         --output=chain-%x-%j.out <<'EOF2'
#!/bin/bash
echo "report: the chain ended"
EOF2
)
echo "submitted prepare=$prepare train=$train report=$report"
ionet-queue
