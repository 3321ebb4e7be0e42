from hypothesis import given
from hypothesis import strategies as st

from patients.validators import medicare_number_is_valid

WEIGHTS = (1, 3, 7, 9, 1, 3, 7, 9)


def with_check_digit(first: int, rest: str, irn: int) -> str:
    head = f"{first}{rest}"
    return f"{head}{sum(int(d) * w for d, w in zip(head, WEIGHTS, strict=True)) % 10}{irn}"


def test_a_real_format_medicare_number_passes():
    assert medicare_number_is_valid("2123456701")


@given(
    first=st.integers(2, 6),
    rest=st.text("0123456789", min_size=7, max_size=7),
    irn=st.integers(1, 9),
)
def test_numbers_with_the_right_check_digit_pass(first, rest, irn):
    assert medicare_number_is_valid(with_check_digit(first, rest, irn))


@given(
    first=st.integers(2, 6),
    rest=st.text("0123456789", min_size=7, max_size=7),
    wrong=st.integers(1, 9),
)
def test_any_other_check_digit_fails(first, rest, wrong):
    number = with_check_digit(first, rest, 1)
    bad = number[:8] + str((int(number[8]) + wrong) % 10) + number[9]

    assert not medicare_number_is_valid(bad)


@given(st.text(max_size=12))
def test_arbitrary_text_never_crashes_the_check(text):
    assert medicare_number_is_valid(text) in (True, False)


def test_first_digit_must_be_two_to_six():
    assert not medicare_number_is_valid(with_check_digit(7, "1234567", 1))
