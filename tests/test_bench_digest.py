"""bench/digest.py on a tiny world: the whole run (build, send through a loopback SMTP server,
send again) passes its checks, and the checks catch what they are meant to catch."""

import json
from email.message import EmailMessage

import pytest

from bench import digest
from matcher import Role
from matcher.digest import Recipient, Subscription

pytestmark = pytest.mark.slow


def test_a_small_run_sends_each_digest_once_and_passes_its_checks(tmp_path, capsys):
    out = tmp_path / "digest.json"
    sizes = ["--recipients", "20", "--projects", "10", "--organisations", "30", "--calls", "15"]
    assert digest.main([*sizes, "--dir", str(tmp_path), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    sent = result["send"]["counts"]["sent"]
    assert sent == result["send"]["messages_received"] > 0
    assert sum(result["send"]["counts"].values()) == 20
    assert result["send"]["counts"]["unsubscribed"] == 1
    assert result["second_send"]["counts"] == {"done before": 20}
    assert all(ok is True for ok in result["checks"].values())
    assert "checks: all passed" in capsys.readouterr().out


def message(text: str, html: bool = True) -> EmailMessage:
    m = EmailMessage()
    m.set_content(text)
    if html:
        m.add_alternative("<p>x</p>", subtype="html")
    return m


def reader(name: str, subscribed: bool = True) -> Recipient:
    return Recipient(1, name, Role.RESEARCHER, None, name, f"{name}@example.org",
                     Subscription(subscribed=subscribed))  # fmt: skip


def test_the_checks_fail_on_a_duplicate_an_empty_message_and_mail_to_the_unsubscribed():
    readers = [reader("a"), reader("b"), reader("gone", subscribed=False)]
    states = {"a": "sent", "b": "sent", "gone": "unsubscribed"}
    good = [(("a@example.org",), message("* item\n")), (("b@example.org",), message("* item\n"))]
    assert all(v is True for v in digest.check_messages(good, readers, {"a", "b"}, states).values())

    twice = [*good, (("a@example.org",), message("* item\n"))]
    assert (
        digest.check_messages(twice, readers, {"a", "b"}, states)["exactly_one_message_each"]
        is False
    )
    bare = [good[0], (("b@example.org",), message("no items\n"))]
    assert (
        digest.check_messages(bare, readers, {"a", "b"}, states)[
            "no_message_empty_or_missing_a_part"
        ]
        is not True
    )
    text_only = [good[0], (("b@example.org",), message("* item\n", html=False))]
    assert (
        digest.check_messages(text_only, readers, {"a", "b"}, states)[
            "no_message_empty_or_missing_a_part"
        ]
        is not True
    )
    leaked = [*good, (("gone@example.org",), message("* item\n"))]
    assert (
        digest.check_messages(leaked, readers, {"a", "b"}, states)["unsubscribed_got_none"] is False
    )
