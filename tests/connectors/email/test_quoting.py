"""The new part of a reply, separated from quoted history and signatures (real mails)."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.email.quoting import new_text

CORPUS = Path(__file__).parent / "corpus" / "quoting"


def read(name: str) -> str:
    return (CORPUS / f"{name}.txt").read_text(encoding="utf-8", errors="replace")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("email_1_3", "Oh thanks.\n\nHaving the function would be great.\n\n-Abhishek Kona"),
        ("email_1_4", "Awesome! I haven't had another problem with it."),
        ("email_1_6", "I get proper rendering as well."),
        ("email_1_7", ":+1:"),
        ("email_2_1", "Outlook with a reply"),
        ("email_2_2", "Outlook with a reply directly above line"),
        ("email_BlackBerry", "Here is another email"),
        ("email_iPhone", "Here is another email"),
        ("email_multi_word_sent_from_my_mobile_device", "Here is another email"),
        ("correct_sig", "this is an email with a correct -- signature."),
        (
            "email_one_is_not_on",
            "Thank, this is really helpful.\n\nOne outstanding question I had:\n\n"
            "Locally (on development), when I run...",
        ),
        (
            "pathological",
            "I think you're onto something. I will try to fix the problem as soon as I\n"
            "get back to a computer.",
        ),
    ],
)
def test_new_text_is_what_the_customer_just_wrote(name: str, expected: str) -> None:
    assert new_text(read(name)) == expected


def test_a_sentence_starting_like_a_mobile_footer_is_kept() -> None:
    assert new_text(read("email_sent_from_my_not_signature")).endswith(
        "Sent from my desk, is much easier then my mobile phone."
    )


def test_double_dash_inside_a_line_is_not_a_signature() -> None:
    assert "And here is a fix -- this is not a signature.\n\nkthxbai" in new_text(
        read("email_sig_delimiter_in_middle_of_line")
    )


def test_on_wrote_inside_the_new_text_is_not_cut() -> None:
    text = new_text(read("greedy_on"))
    assert text.startswith("On your remote host you can run:")
    assert text.endswith("fails, the tunnel is not working.")


def test_interleaved_answers_below_quotes_stay_visible() -> None:
    text = new_text(read("email_1_8"))
    assert "I will reply under this one" in text and "and under this." in text
    assert "Hey there, this is my signature" not in text


def test_bottom_posted_answer_is_kept_and_the_list_footer_dropped() -> None:
    text = new_text(read("email_1_2"))
    assert "You can list the keys for the bucket" in text
    assert "riak-users mailing list" not in text


def test_nothing_but_quotes_gives_back_the_whole_text() -> None:
    assert new_text("> only\n> quoted") == "> only\n> quoted"
