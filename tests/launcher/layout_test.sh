#!/usr/bin/env bash
# The launcher's layout rule, checked on every include: run/ (ionet-run) and agent/ + poold/
# (ionet-agent) never include each other's headers; common/ and hosts/ include neither side;
# hosts/ does not include common/; observe/ (metrics, HTTP) includes neither side; jobscripts/
# includes only hosts/ and observe/ of the launcher; and each
# side's unit tests include only what their library may. Fails naming every offending line.
set -euo pipefail
root=${1:?usage: layout_test.sh SOURCE_DIR}
status=0

# forbid DIR PATTERN WHY: no file under DIR includes a header matching PATTERN.
forbid() {
  local dir=$1 pattern=$2 why=$3 hits
  [ -d "$root/$dir" ] || { echo "layout: $dir is missing"; status=1; return; }
  hits=$(grep -rnE "^[[:space:]]*#[[:space:]]*include[[:space:]]+\"($pattern)/" "$root/$dir" \
           --include='*.cc' --include='*.h' || true)
  if [ -n "$hits" ]; then
    echo "layout: $why:"
    echo "${hits//$root\//}"
    status=1
  fi
}

forbid launcher/run 'agent|poold' "run/ (ionet-run) includes the agent's headers"
forbid launcher/agent 'run' "agent/ includes ionet-run's headers"
forbid launcher/poold 'run|agent' "poold/ includes another side's headers"
forbid launcher/common 'run|agent|poold' "common/ includes a side's headers"
forbid launcher/hosts 'run|agent|poold|common' "hosts/ includes more than the inventory"
forbid launcher/observe 'run|agent|poold' "observe/ includes a side's headers"
forbid jobscripts 'run|agent|poold|common' "jobscripts/ includes more of the launcher than hosts/ and observe/"
forbid tests/launcher/run 'agent|poold' "run/'s tests include the agent's headers"
forbid tests/launcher/agent 'run' "agent/'s tests include ionet-run's headers"
forbid tests/launcher/hosts 'run|agent|poold|common' "hosts/'s tests include more than hosts/"

# The mains stay thin.
for main in launcher/ionet-run.cc launcher/ionet-agent.cc; do
  lines=$(wc -l < "$root/$main")
  if [ "$lines" -ge 80 ]; then echo "layout: $main has $lines lines (80 at most)"; status=1; fi
done
# No source file of the launcher over 600 lines.
while read -r lines file; do
  [ "$file" = total ] && continue
  if [ "$lines" -gt 600 ]; then echo "layout: ${file#$root/} has $lines lines (600 at most)"; status=1; fi
done < <(find "$root/launcher" -name '*.cc' -o -name '*.h' | xargs wc -l)
# jobscripts links the inventory, not the launcher's sides.
if grep -nE 'ionet_(run|job_agent|poold|launcher_common|launcher)\b' "$root/jobscripts/CMakeLists.txt"; then
  echo "layout: jobscripts/CMakeLists.txt links more of the launcher than ionet_hosts and ionet_observe"
  status=1
fi
[ $status -eq 0 ] && echo "layout: ok"
exit $status
