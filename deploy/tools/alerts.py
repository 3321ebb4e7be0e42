"""Alert rules (deploy/monitoring/) checked offline.

promtool is not available here, so:
- the Prometheus rules file has the rules-file shape (groups, alert, expr, for, labels,
  annotations; nothing else), durations Prometheus accepts, and a severity on every rule;
- every PromQL expression (Prometheus and Cloud Monitoring) is parsed by promql-parser, a
  port of Prometheus's own parser, and every metric and label matcher it names must be one
  /metrics exports (nexus.metrics.exported_series), or `up` for the scrape itself;
- Cloud Monitoring alert policies and the uptime check validate against the Monitoring API
  v3 discovery document shipped in google-api-python-client (every object closed), and a
  policy's PromQL condition must be the Prometheus rule it names (`alertRule`), with the same
  `for`, so the two never drift apart.
"""

import json
from pathlib import Path
from typing import Any

import jsonschema
import promql_parser
import yaml

from deploy.tools.manifests import discovery_schema, render
from nexus.metrics import exported_series

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "deploy" / "monitoring"
# Made by Prometheus for each scrape target, not by /metrics.
SCRAPE_SERIES = {"up": ("job", "instance")}
# Labels Prometheus or Managed Service for Prometheus attach to every scraped series.
TARGET_LABELS = {"job", "instance", "project_id", "location", "cluster", "namespace"}
RULE_KEYS = {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
SEVERITIES = {"page", "ticket"}


def expression_errors(where: str, expr: str) -> list[str]:
    """Parse errors, and metric or label names /metrics does not export."""
    try:
        tree = promql_parser.parse(expr)
    except ValueError as error:
        return [f"{where}: PromQL does not parse: {error}"]
    known = exported_series() | SCRAPE_SERIES
    errors: list[str] = []

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            name = node.name
            if not name:
                errors.append(f"{where}: select a metric by name, not by labels only")
            elif name not in known:
                errors.append(f"{where}: /metrics exports no metric {name!r}")
            else:
                for matcher in node.matchers.matchers:
                    if matcher.name not in {*known[name], *TARGET_LABELS}:
                        errors.append(
                            f"{where}: {name} has no label {matcher.name!r} "
                            f"(it has {', '.join(known[name]) or 'none'})"
                        )
        return True

    promql_parser.walk(tree, visit)
    return errors


def _duration_errors(where: str, value: Any) -> list[str]:
    try:
        promql_parser.parse_duration(str(value))
    except ValueError:
        return [f"{where}: {value!r} is not a Prometheus duration (5m, 30s, 1h)"]
    return []


def prometheus_rules(path: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The rules by alert name, and what is wrong with the file."""
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        return {}, [f"{path.name}: not YAML: {error}"]
    if not isinstance(doc, dict) or set(doc) != {"groups"} or not isinstance(doc["groups"], list):
        return {}, [f"{path.name}: a rules file is one mapping with a `groups` list"]
    rules: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    for group in doc["groups"]:
        if not isinstance(group, dict) or not group.get("name") or "rules" not in group:
            errors.append(f"{path.name}: every group needs a name and rules")
            continue
        unknown = set(group) - {"name", "rules", "interval"}
        errors += [f"{path.name}: group key {k!r} unknown" for k in sorted(unknown)]
        for rule in group["rules"]:
            name = rule.get("alert") if isinstance(rule, dict) else None
            where = f"{path.name}: {name or 'a rule'}"
            if not name or "expr" not in rule:
                errors.append(f"{where}: every rule here is an alert with `alert` and `expr`")
                continue
            if name in rules:
                errors.append(f"{where}: alert defined twice")
            rules[name] = rule
            errors += [f"{where}: unknown key {k!r}" for k in set(rule) - RULE_KEYS]
            if "for" in rule:
                errors += _duration_errors(f"{where} for", rule["for"])
            if rule.get("labels", {}).get("severity") not in SEVERITIES:
                errors.append(f"{where}: labels.severity must be one of {sorted(SEVERITIES)}")
            if not rule.get("annotations", {}).get("summary"):
                errors.append(f"{where}: annotations.summary says what is wrong")
            errors += expression_errors(where, str(rule["expr"]))
    return rules, errors


def _seconds(duration: str) -> float:
    return float(duration.removesuffix("s"))


def cloud_monitoring(path: Path, rules: dict[str, dict[str, Any]]) -> list[str]:
    text, errors = render(path.read_text())
    errors = [f"{path.name}: {e}" for e in errors]
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as error:
        return [*errors, f"{path.name}: not JSON: {error}"]
    root = "UptimeCheckConfig" if path.stem.startswith("uptime") else "AlertPolicy"
    validator = jsonschema.Draft202012Validator(discovery_schema("monitoring.v3", root))
    for problem in validator.iter_errors(doc):
        where = "/".join(str(p) for p in problem.absolute_path) or "(top)"
        errors.append(f"{path.name}: {where}: {problem.message}")
    if root == "UptimeCheckConfig" or errors:
        return errors
    if not doc.get("notificationChannels"):
        errors.append(f"{path.name}: an alert nobody is told about is no alert")
    for condition in doc.get("conditions", []):
        promql = condition.get("conditionPrometheusQueryLanguage")
        if promql is None:
            continue
        where = f"{path.name}: {promql.get('alertRule', 'a PromQL condition')}"
        errors += expression_errors(where, promql.get("query", ""))
        rule = rules.get(promql.get("alertRule", ""))
        if rule is None:
            errors.append(f"{where}: alertRule names no rule in prometheus-rules.yml")
            continue
        if str(promql_parser.parse(promql.get("query", "0"))) != str(
            promql_parser.parse(str(rule["expr"]))
        ):
            errors.append(f"{where}: the query differs from the Prometheus rule's expr")
        wanted = (
            promql_parser.parse_duration(str(rule["for"])).total_seconds() if "for" in rule else 0
        )
        if _seconds(promql.get("duration", "0s")) != wanted:
            errors.append(f"{where}: duration differs from the Prometheus rule's `for`")
    return errors


def check(folder: Path = FOLDER) -> list[str]:
    rules, errors = prometheus_rules(folder / "prometheus-rules.yml")
    for path in sorted((folder / "cloud-monitoring").glob("*.json")):
        try:
            errors += cloud_monitoring(path, rules)
        except ValueError as error:  # a query promql-parser refuses
            errors.append(f"{path.name}: {error}")
    return errors
