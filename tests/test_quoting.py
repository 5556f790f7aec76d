"""Names and prompts quoted in messages: kept whole up to the limit, else cut with an
ellipsis so the quoted text is exactly the limit long."""

from app.model.quoting import quoted, shortened


def test_short_text_is_kept_and_long_text_is_cut_to_the_limit():
    assert shortened("a red circle") == "a red circle"
    assert shortened("x" * 60) == "x" * 60
    assert shortened("x" * 61) == "x" * 59 + "\N{HORIZONTAL ELLIPSIS}"
    assert len(shortened("word " * 40, 79)) == 79


def test_quoted_text_is_in_curly_quotes():
    assert (
        quoted("Layer 1") == "\N{LEFT DOUBLE QUOTATION MARK}Layer 1\N{RIGHT DOUBLE QUOTATION MARK}"
    )
    assert quoted("y" * 100, 10)[1:-1] == "y" * 9 + "\N{HORIZONTAL ELLIPSIS}"
