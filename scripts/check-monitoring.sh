#!/usr/bin/env bash
# Checks docs/monitoring/: the alerting rules (promtool check rules, and their unit tests in
# alerts.test.yml), the Grafana dashboard (valid JSON, every query valid PromQL, and every metric it
# or the rules name is one the platform defines), and, given the URLs of running processes, what
# they serve (promtool check metrics must print nothing).
#
#   scripts/check-monitoring.sh                        # the files only
#   KAAS_ADMIN_TOKEN=... scripts/check-monitoring.sh http://127.0.0.1:8080/metrics http://127.0.0.1:9464/metrics
#
# promtool comes with Debian's prometheus package (scripts/deps.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f scripts/node-env.sh ] && . scripts/node-env.sh

dir=docs/monitoring
command -v promtool >/dev/null || {
  echo "check-monitoring: promtool not found: install Debian's prometheus package (scripts/deps.sh does)" >&2
  exit 1
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== promtool check rules $dir/alerts.yml"
promtool check rules "$dir/alerts.yml"
echo "== promtool test rules $dir/alerts.test.yml"
(cd "$dir" && promtool test rules alerts.test.yml)

# The dashboard's queries as recording rules, so that promtool parses them; and the metric names
# the dashboard and the rules use, against those the code defines (src/**: `name: 'kaas_...'`) and
# prom-client's default metrics (prefixed kaas_, less the gauges named _total, which are not served).
echo "== $dir/grafana-dashboard.json: JSON, PromQL, metric names"
grep -rhoE "name: '(kaas_[a-z0-9_]+)'" src --include='*.ts' --exclude='*.spec.ts' |
  sed -E "s/name: '(.*)'/\1/" >"$work/defined"
DIR=$dir WORK=$work node --input-type=module -e '
import { readFileSync, writeFileSync } from "node:fs";
import { collectDefaultMetrics, Registry } from "prom-client";

const { DIR, WORK } = process.env;
const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: "kaas_" });
const known = new Set(readFileSync(`${WORK}/defined`, "utf8").split("\n").filter(Boolean));
for (const m of await registry.getMetricsAsJSON())
  if (!(m.type === "gauge" && m.name.endsWith("_total"))) known.add(m.name);
// Scrape targets have `up`, whatever they serve.
known.add("up");

const dashboard = JSON.parse(readFileSync(`${DIR}/grafana-dashboard.json`, "utf8"));
const exprs = [];
const walk = (node) => {
  if (Array.isArray(node)) node.forEach(walk);
  else if (node && typeof node === "object") {
    if (typeof node.expr === "string") exprs.push(node.expr);
    Object.values(node).forEach(walk);
  }
};
walk(dashboard);
if (exprs.length === 0) throw new Error("the dashboard has no queries");
// Grafana fills these in before Prometheus sees the query.
const asPromql = (e) => e.replace(/\$__(rate_interval|interval|range)/g, "5m");
const rules = exprs.map((e, i) => `      - record: dashboard_query_${i + 1}\n        expr: ${JSON.stringify(asPromql(e))}`);
writeFileSync(`${WORK}/dashboard-rules.yml`, `groups:\n  - name: dashboard\n    rules:\n${rules.join("\n")}\n`);

const alerts = readFileSync(`${DIR}/alerts.yml`, "utf8")
  .split("\n")
  .filter((l) => !l.trim().startsWith("#"))
  .join("\n");
const unknown = new Set();
const check = (where, text) => {
  // Metric names: kaas_ names, and bare identifiers before a selector or a range.
  const names = new Set([
    ...(text.match(/\bkaas_[a-z0-9_]+/g) ?? []),
    ...[...text.matchAll(/\b([a-z_][a-z0-9_]*)\s*\{/g)].map((m) => m[1]).filter((n) => !["by", "without", "on", "ignoring", "group_left", "group_right"].includes(n)),
  ]);
  for (const name of names) {
    const base = name.replace(/_(bucket|sum|count)$/, "");
    if (!known.has(name) && !known.has(base)) unknown.add(`${where}: ${name}`);
  }
};
exprs.forEach((e) => check("grafana-dashboard.json", e));
for (const m of alerts.matchAll(/expr:\s*(>-\n(?:\s{10,}.*\n)+|.*)/g)) check("alerts.yml", m[1]);
if (unknown.size) {
  console.error(`metrics that nothing defines:\n  ${[...unknown].join("\n  ")}`);
  process.exit(1);
}
console.log(`${exprs.length} dashboard queries; every metric named is defined (${known.size} known)`);
'
promtool check rules "$work/dashboard-rules.yml" >/dev/null || {
  echo "check-monitoring: a dashboard query is not valid PromQL:" >&2
  promtool check rules "$work/dashboard-rules.yml" >&2 || true
  exit 1
}

# What running processes serve: any line from promtool is a problem.
for url in "$@"; do
  echo "== promtool check metrics $url"
  URL=$url node --input-type=module -e '
    const res = await fetch(process.env.URL, {
      headers: process.env.KAAS_ADMIN_TOKEN ? { authorization: `Bearer ${process.env.KAAS_ADMIN_TOKEN}` } : {},
    });
    if (res.status !== 200) {
      console.error(`${process.env.URL}: HTTP ${res.status} (is KAAS_ADMIN_TOKEN set?)`);
      process.exit(1);
    }
    process.stdout.write(await res.text());
  ' >"$work/scrape.txt"
  problems=$(promtool check metrics <"$work/scrape.txt" 2>&1) || true
  if [ -n "$problems" ]; then
    echo "$problems" >&2
    exit 1
  fi
done
echo "monitoring checks passed"
