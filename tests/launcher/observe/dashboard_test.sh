#!/usr/bin/env bash
# The Grafana dashboard (docs/grafana/ionet-pool.json): valid JSON, every query valid PromQL
# (promtool checks them as recording rules), and every ionet_ metric it queries documented in
# docs/observability.md. Fails naming the query or metric.
set -euo pipefail
root=${1:?usage: dashboard_test.sh SOURCE_DIR}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$root" "$work/rules.yml" "$work/metrics" <<'PY'
import json, re, sys
root, rules, metrics = sys.argv[1:]
d = json.load(open(root + "/docs/grafana/ionet-pool.json"))
exprs = [t["expr"] for p in d["panels"] for t in p["targets"]]
with open(rules, "w") as f:
    f.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, e in enumerate(exprs):
        f.write("      - record: dashboard:query%d\n        expr: %s\n" % (i, json.dumps(e)))
names = sorted({re.sub(r"_(bucket|sum|count)$", "", m) for e in exprs for m in re.findall(r"\bionet_[a-z_]+", e)})
open(metrics, "w").write("\n".join(names) + "\n")
PY
promtool check rules "$work/rules.yml" > "$work/out" 2>&1 || { cat "$work/out"; exit 1; }
status=0
while read -r m; do
  grep -q "\`$m\`" "$root/docs/observability.md" || { echo "dashboard: $m is not in docs/observability.md"; status=1; }
done < "$work/metrics"
[ $status -eq 0 ] && echo "dashboard: ok ($(wc -l < "$work/metrics") metrics)"
exit $status
