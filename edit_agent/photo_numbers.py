"""Numbers said in words in a photo instruction, written as digits: "twenty percent", "ninety degrees".

Only a number that a unit follows is rewritten (percent, degrees, pixels, times), so "the one on the left"
and "two shapes" stay as they are. The words are read by ``text2num``:

>>> numbers_as_digits("make it twenty percent brighter and rotate it one hundred and eighty degrees")
'make it 20 percent brighter and rotate it 180 degrees'
>>> numbers_as_digits("crop a hundred pixels from the left, then make it one and a half times bigger")
'crop 100 pixels from the left, then make it 1.5 times bigger'
>>> numbers_as_digits("the one on the left")
'the one on the left'
"""

from __future__ import annotations

import re
import unicodedata

from text_to_num import text2num

_DIGITS = "zero one two three four five six seven eight nine".split()
_NUMBER_WORD = (r"(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
                r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
                r"hundred|thousand)")
_UNIT = r"(?:%|percent\b|degrees?\b|°|px\b|pixels?\b|times\b|x\b)"
_SPOKEN_NUMBER = re.compile(
    rf"\b(?:(?P<a>a)\s+)?(?P<whole>{_NUMBER_WORD}(?:(?:\s+and\s+|[\s-]+){_NUMBER_WORD})*)"
    rf"(?:\s+point(?P<decimals>(?:\s+(?:{'|'.join(_DIGITS)}))+))?"
    rf"(?P<half>\s+and\s+a\s+half)?(?=\s*{_UNIT})",
    re.IGNORECASE,
)


_GROUPED_NUMBER = re.compile(r"(?<![\d,.])\d{1,3}(?:,\d{3})+(?![\d,])"
                             r"(?=\s*(?:%|(?:px|pixels|percent|x|by|wide|tall|high)\b))")
"""A number written with thousands separators before its unit, "1,000 px" or "12,500%" ("800,600" alone may be two
numbers)."""


_VULGAR_FRACTION = re.compile(r"(?:(?P<whole>\d+)\s*)?(?P<fraction>[\u00bc-\u00be\u2150-\u215e])(?P<unit>\s*" + _UNIT + r")?",
                              re.IGNORECASE)
_FRACTION_WORDS = {"½": "half", "¼": "quarter"}
"""Fraction signs said in words where no number is around them ("a ½ turn"); any other is a number ("¾": 0.75)."""


def numbers_as_digits(text: str) -> str:
    """``text`` with each number said in words before a unit written in digits, and without thousands separators
    ("1,000 px": a comma there splits no clause), and a fraction sign as a number ("1½ times": 1.5) or in words
    ("a ½ turn": half); other words unchanged."""
    text = _VULGAR_FRACTION.sub(_fraction_read, text)
    return _GROUPED_NUMBER.sub(lambda number: number.group(0).replace(",", ""), _SPOKEN_NUMBER.sub(_as_digits, text))


def _fraction_read(match: re.Match[str]) -> str:
    """A fraction sign, which no word pattern reads (it was dropped: "brighten by ½%" brightened by 20%): a number
    with a whole part or a unit, else in words where it has them, else a number, for the reader to refuse."""
    fraction = unicodedata.numeric(match.group("fraction"))
    unit = match.group("unit") or ""
    if match.group("whole") or unit or match.group("fraction") not in _FRACTION_WORDS:
        number = int(match.group("whole") or 0) + fraction
        return f"{round(number, 3):g}{unit}"
    return _FRACTION_WORDS[match.group("fraction")]


def _as_digits(match: re.Match[str]) -> str:
    whole = match.group("whole").lower()
    if match.group("a") and whole.startswith(("hundred", "thousand")):
        whole = f"one {whole}"  # "a hundred pixels"
    elif match.group("a"):
        return match.group(0)  # "a ten percent ...": not a way people say a number; left as typed
    try:
        number = str(text2num(re.sub(r"-", " ", whole), "en"))
    except ValueError:
        return match.group(0)  # not one number ("one two percent"): left for the reader to refuse
    if match.group("decimals"):
        number += "." + "".join(str(_DIGITS.index(word.lower())) for word in match.group("decimals").split())
    elif match.group("half"):
        number += ".5"
    return number
