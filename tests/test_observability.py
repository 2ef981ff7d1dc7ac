"""Seeing inside: health, readiness, Prometheus metrics, JSON logs with request ids, masking."""

import io
import json
import logging

from prometheus_client import REGISTRY

from bot.chat import reply_text
from bot.logs import bind_request_id, make_handler
from models.outbox import Outbound
from models.privacy import redact as mask_text

URGENT = "楼道里飞线充电，晚上冒火花了"


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_health_and_readiness_answer_when_all_is_up(app):
    client = app.test_client()
    assert client.get("/healthz").get_json() == {"ok": True}
    assert client.get("/readyz").get_json() == {"ok": True, "database": True, "redis": True}


def test_metrics_count_webhook_deliveries_retries_and_api_statuses(app, chat, demo):
    before = sample("sidan_webhook_requests_total", kind="text", outcome="ok")
    hits = sample("sidan_webhook_dedup_hits_total")
    answered = sample("sidan_webhook_seconds_count", kind="text", outcome="ok")
    resident = chat("demo_resident_1")
    body = resident.signer.text("帮助", msg_id=99100)
    resident.send(body)
    resident.send(body)  # WeChat's retry
    app.test_client().get("/api/v1/tickets/1")
    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert "# TYPE sidan_webhook_seconds histogram" in text
    assert "sidan_outbox_messages_total" in text and "sidan_sweep_seconds" in text
    assert sample("sidan_webhook_requests_total", kind="text", outcome="ok") == before + 1
    assert sample("sidan_webhook_seconds_count", kind="text", outcome="ok") == answered + 1
    assert sample("sidan_webhook_dedup_hits_total") == hits + 1
    assert sample("sidan_http_responses_total", area="api", status="401") >= 1


def test_the_request_id_travels_from_the_webhook_to_the_outbox_rows(live_server, chat, demo):
    resident = chat("demo_resident_1")
    resident.http.headers["X-Request-Id"] = "rid-from-nginx-0001"
    response = resident.post(resident.signer.text(URGENT))
    assert response.headers["X-Request-Id"] == "rid-from-nginx-0001"
    assert "回复 1 立即上报" in reply_text(response.text)  # sparks now: the danger question
    response = resident.post(resident.signer.text("1"))  # files it urgent, alerts go out
    rows = list(Outbound.select())
    assert rows and {row.request_id for row in rows} == {"rid-from-nginx-0001"}


def test_log_lines_are_json_with_the_request_id_and_no_phone_numbers():
    stream = io.StringIO()
    logger = logging.getLogger("sidan.test.logs")
    logger.addHandler(make_handler("json", stream))
    logger.propagate = False
    with bind_request_id("rid-42-abcdefgh"):
        logger.warning("resident %s called from %s", "13812345678", "0571-88886666")
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["request_id"] == "rid-42-abcdefgh"
    assert line["level"] == "WARNING" and line["logger"] == "sidan.test.logs"
    assert "13812345678" not in line["message"] and "138****5678" in line["message"]
    assert "88886666" not in line["message"]


def test_masking_hides_phones_and_id_numbers_but_not_ticket_numbers():
    assert mask_text("电话13912345678") == "电话139****5678"
    assert mask_text("身份证330102199001011234") == "身份证330****1234"
    assert mask_text("工单 #1024 已派单") == "工单 #1024 已派单"


def test_metrics_time_the_classifier_once_per_classified_message(app, chat, demo):
    classified = sample("sidan_classifier_seconds_count")
    took = sample("sidan_classifier_seconds_sum")
    resident = chat("demo_resident_1")
    assert "我的工单" in resident.say("帮助")  # a command: nothing to classify
    assert sample("sidan_classifier_seconds_count") == classified
    resident.say("小区门口的路灯坏了好几天了")
    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert "# TYPE sidan_classifier_seconds histogram" in text
    assert sample("sidan_classifier_seconds_count") == classified + 1
    assert sample("sidan_classifier_seconds_sum") > took
