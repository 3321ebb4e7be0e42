"""Alert rules (issue 15 item 7): the Prometheus rules and Cloud Monitoring policies in
deploy/monitoring/ parse, name only metrics /metrics really exports, and agree with each
other; each deliberately broken copy fails."""

import json
import shutil
from pathlib import Path

import promql_parser
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from deploy.tools import alerts
from integrations.tasks import outbox_sweep_task
from tests.factories import UserFactory

FOLDER = alerts.FOLDER
RULES = FOLDER / "prometheus-rules.yml"


def rule_expressions() -> list[str]:
    doc = yaml.safe_load(RULES.read_text())
    return [r["expr"] for g in doc["groups"] for r in g["rules"]]


def test_the_committed_rules_and_policies_pass():
    assert alerts.check() == []


def test_the_first_plans_alerts_are_all_there():
    rules, _ = alerts.prometheus_rules(RULES)
    policies = sorted(p.name for p in (FOLDER / "cloud-monitoring").glob("*.json"))

    assert {
        "NexusHighErrorRate",
        "NexusSlowResponses",
        "NexusOutboxStuck",
        "NexusDown",
    } <= set(rules)
    assert "> 0.05" in rules["NexusHighErrorRate"]["expr"]
    assert "> 2" in rules["NexusSlowResponses"]["expr"]
    assert "> 15 * 60" in rules["NexusOutboxStuck"]["expr"]
    assert policies == [
        "audit-write-failures-policy.json",
        "availability-policy.json",
        "error-rate-policy.json",
        "latency-p95-policy.json",
        "outbox-age-policy.json",
        "uptime-check.json",
    ]


@pytest.mark.django_db
def test_every_metric_the_rules_name_is_in_a_real_scrape(client, settings):
    # given a deployment that has served pages, run a task and been signed in to
    settings.NEXUS_METRICS_TOKEN = "scrape-secret"
    client.force_login(UserFactory(role="reception"))
    client.get("/")
    client.get("/book/")
    outbox_sweep_task.delay()

    # when Prometheus scrapes /metrics
    body = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").content.decode()
    scraped = {
        sample.name: set(sample.labels)
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }

    # then every series a rule selects is there, with the labels the rule matches on
    selected: list[tuple[str, set[str]]] = []

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            selected.append((node.name, {m.name for m in node.matchers.matchers}))

    for expr in rule_expressions():
        promql_parser.walk(promql_parser.parse(expr), visit)
    for name, labels in selected:
        if name == "up":  # Prometheus's own, one per scrape target
            continue
        assert name in scraped, f"a rule selects {name}, which /metrics does not export"
        assert labels - alerts.TARGET_LABELS <= scraped[name] | {"le"}, name


def broken_rules(tmp_path: Path, change) -> list[str]:
    folder = tmp_path / "monitoring"
    shutil.copytree(FOLDER, folder)
    doc = yaml.safe_load(RULES.read_text())
    change(doc["groups"][0]["rules"])
    (folder / "prometheus-rules.yml").write_text(yaml.safe_dump(doc))
    return alerts.check(folder)


def by_name(rules: list[dict], name: str) -> dict:
    return next(r for r in rules if r["alert"] == name)


def test_a_metric_that_does_not_exist_fails(tmp_path):
    def rename(rules):
        rule = by_name(rules, "NexusHighErrorRate")
        rule["expr"] = rule["expr"].replace("nexus_http_responses_total", "http_requests_total")

    errors = broken_rules(tmp_path, rename)

    assert any("/metrics exports no metric 'http_requests_total'" in e for e in errors)


def test_a_label_the_metric_does_not_have_fails(tmp_path):
    def code(rules):
        rule = by_name(rules, "NexusHighErrorRate")
        rule["expr"] = rule["expr"].replace('status=~"5.."', 'code=~"5.."')

    errors = broken_rules(tmp_path, code)

    assert any("nexus_http_responses_total has no label 'code'" in e for e in errors)


def test_promql_that_does_not_parse_fails(tmp_path):
    def unbalanced(rules):
        by_name(rules, "NexusOutboxStuck")["expr"] = "max(nexus_outbox_oldest_age_seconds > 900"

    errors = broken_rules(tmp_path, unbalanced)

    assert any("NexusOutboxStuck: PromQL does not parse" in e for e in errors)


def test_a_duration_prometheus_would_refuse_fails(tmp_path):
    def words(rules):
        by_name(rules, "NexusSlowResponses")["for"] = "ten minutes"

    errors = broken_rules(tmp_path, words)

    assert any("'ten minutes' is not a Prometheus duration" in e for e in errors)


def test_a_rule_without_a_severity_fails(tmp_path):
    def unlabelled(rules):
        del by_name(rules, "NexusDown")["labels"]

    errors = broken_rules(tmp_path, unlabelled)

    assert any("NexusDown: labels.severity" in e for e in errors)


def test_a_cloud_policy_that_drifts_from_its_rule_fails(tmp_path):
    def looser(rules):
        rule = by_name(rules, "NexusOutboxStuck")
        rule["expr"] = rule["expr"].replace("15 * 60", "30 * 60")

    errors = broken_rules(tmp_path, looser)

    assert any("outbox-age-policy.json: NexusOutboxStuck: the query differs" in e for e in errors)


def broken_policy(tmp_path: Path, name: str, change) -> list[str]:
    folder = tmp_path / "monitoring"
    shutil.copytree(FOLDER, folder)
    path = folder / "cloud-monitoring" / name
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    return alerts.check(folder)


def test_a_misspelt_policy_field_fails(tmp_path):
    def typo(doc):
        condition = doc["conditions"][0]
        condition["conditionPrometheusQuery"] = condition.pop("conditionPrometheusQueryLanguage")

    errors = broken_policy(tmp_path, "error-rate-policy.json", typo)

    assert any("conditionPrometheusQuery" in e and "not allowed" in e for e in errors)


def test_an_uptime_check_with_a_wrong_enum_fails(tmp_path):
    def region(doc):
        doc["selectedRegions"] = ["AUSTRALIA"]

    errors = broken_policy(tmp_path, "uptime-check.json", region)

    assert any("uptime-check.json: selectedRegions/0" in e for e in errors)


def test_a_policy_without_a_notification_channel_fails(tmp_path):
    def silent(doc):
        doc["notificationChannels"] = []

    errors = broken_policy(tmp_path, "latency-p95-policy.json", silent)

    assert any("an alert nobody is told about" in e for e in errors)
