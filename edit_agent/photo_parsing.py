"""Plain-English photo instructions read into exact operations (:mod:`edit_agent.photo_ops`).

The reader is strict: every clause must map completely to operations, otherwise it raises
:class:`UnsupportedInstructionError` (the instruction needs a generative editor). Clauses are
split on ``,``, ``;``, ``.``, ``and``, ``but`` and ``then`` and applied in the order written, but for one said to
come first ("crop it, but first rotate it").

>>> from edit_agent.photo_ops import describe_operations
>>> ops = parse_operations("Rotate it 90 degrees and make it black and white")
>>> [op.kind for op in ops]
['rotate', 'grayscale']
>>> describe_operations(ops)
'Rotate the image 90 degrees clockwise, then convert the image to grayscale.'
>>> parse_operations(describe_operations(ops)) == ops
True
>>> parse_operations(describe_operations([]))
[]
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import itertools
import re
from collections.abc import Iterator

from edit_agent.errors import (
    EditAgentError,
    InvalidInstructionError,
    NeedsGenerativeEditorError,
    UnsupportedInstructionError,
    quoted,
)
from edit_agent.history_words import EARLIER_IMAGE_HINT
from edit_agent.photo_numbers import numbers_as_digits
from edit_agent.photo_ops import (
    DEFAULT_BLUR_RADIUS,
    DEFAULT_PERCENT,
    GENTLE_SHARPEN,
    MAX_OPERATIONS,
    MAX_OUTPUT_SIDE,
    OPERATION_KINDS,
    PERCENT_KINDS,
    STRONG_SHARPEN,
    Operation,
    OperationKind,
    check_output_pixels,
    describe_operations,
    plain_number,
)
from edit_agent.photo_reasons import (
    GivenReason,
    first_reason,
    says_a_way,
    says_more_than_a_state,
    says_what_to_do,
    ways_on,
)
from edit_agent.world.language import is_no_change_request, is_undo_request

_PERCENT = r"(\d+(?:\.\d+)?)\s*(?:%|per\s?cent\b)"
# A full stop ends a clause, except between two digits: "brighter by 12.5%" is one clause.
_CLAUSE_SPLIT = re.compile(r"\s*((?:[,;!?]|\.(?!\d)|(?<!\d)\.)+|\band\b|\bthen\b|\bbut\b|\bplus\b)\s*", re.IGNORECASE)
_NEGATIVE_PERCENT = re.compile(r"[-\u2212]\s*" + _PERCENT, re.IGNORECASE)
_PERCENT_RANGE = re.compile(r"(?<![\dx×])\d{1,3}(?:\.\d+)?[-\u2013]" + _PERCENT, re.IGNORECASE)
"""'20-30%': a range (a dash set off by spaces, '800x600 – 20% brighter', separates)."""
# Words that carry no meaning of their own in a photo instruction; anything else left over
# after the operations are found means the clause asks for more than exact operations can do.
# ("less" and "too" are not among them: "less warm" and "too warm" ask for the opposite of "warm".)
FILLER_WORDS = set(
    """a an the it its this that image photo picture pic whole entire make made please can could
    you u would like i want to by of be do give me so just also now slightly somewhat little bit lot
    much very more way further even really all overall again some little tone tones look
    version colors colours color colour into in up down with set apply effect filter add degrees
    degree percent should get turn convert tad touch significantly great deal lots far let us first finally next
    lastly afterwards prefer"""
    .split()
)
COURTESY_WORDS = set("pls plz thanks thank thx ty hey hi hello ok okay if possible".split())
"""Words of a polite clause ("thanks!", "if you can"): they ask for nothing. ("it's", "looks" and "is" are not
among them: "it's blurry" and "is it warmer?" say how the image is, which is no instruction.)"""
ACKNOWLEDGEMENT_WORDS = COURTESY_WORDS | set("""
    cool nice great perfect good awesome lovely excellent brilliant fantastic amazing wow super right alright
    yes yeah yep sure fine actually so well now very looks""".split())
"""What a person says of the last result before the next instruction ("Cool, now rotate it left", "ok cool,
crop to a square"): a clause of these words alone at the start asks for nothing. "cool" is then no cooling, as it
is in "cool it down" or "brighten and cool"."""

_SIDE = r"(\d+)\s*(?:px|pixels)?\s+(wide|tall|high)\b"
"""A side of a size: "800px wide", "600 pixels tall"."""
_DIRECTION = (r"clockwise|counter[\s-]?clockwise|anti[\s-]?clockwise|ccw|cw|to\s+the\s+left|to\s+the\s+right|left|"
              r"right")
_ROTATION_TAIL = (
    r"(?:\s+(?:it|the\s+image|the\s+photo|the\s+picture|by|it\s+by))*"
    # a direction said before the angle: "rotate it right 90 degrees", "rotate left by 90"
    rf"(?:\s+(?P<lead>{_DIRECTION})(?=(?:\s+by)?\s+-?\d)(?:\s+by)?)?"
    # The unit's spaces belong to the unit: "90 counterclockwise" must leave its space to the direction.
    r"(?:\s+(?P<angle>-?\d+)(?!\d|\s*times\b)(?:\s*(?:°|º|degrees?|deg))?)?"  # "rotate it 3 times" repeats a rotation
    rf"(?:\s+(?P<direction>{_DIRECTION}))?"
)

GRAYSCALE_WORDS = (r"\b(?:grayscale|greyscale|gr[ae]y\s*scale|black[\s-]*(?:and|&)[\s-]*white|b\s*[&/]\s*w|"
                   r"monochrome)\b")
"""How an instruction says grayscale (a photo rule names it the same way)."""

# A setting named as a noun, with the operations that raise and lower it: "increase the contrast",
# "brightness +20%", "turn the warmth down", "set the saturation to 120%".
_SETTINGS: dict[str, tuple[str, str, str]] = {
    "brightness": (r"brightness|exposure", "brighter", "darker"),
    "contrast": (r"contrast", "more_contrast", "less_contrast"),
    "saturation": (r"saturation|vibrance", "more_saturated", "less_saturated"),
    "warmth": (r"warmth|colou?r\s+temperature|temperature", "warmer", "cooler"),
    "sharpness": (r"sharpness|sharpening", "sharpen", "blur"),
    "blur": (r"blur|blurriness", "blur", "sharpen"),
}
_LEVELS = PERCENT_KINDS
"""The settings a percentage of the current level ("to 80%") applies to."""
_UP = (r"increase|raise|boost|more|higher|add|enhance|heighten|bump\s+up|crank\s+up|pump\s+up|turn\s+up|"
       r"push\s+up")
_DOWN = (r"decrease|reduce|lower|less|lessen|cut|drop|too\s+much|tone\s+down|turn\s+down|dial\s+down|"
         r"dial\s+back")
_SETTING_OBJECT = r"(?:\s+(?:the|some|its|a\s+bit\s+of|a\s+little|a\s+lot\s+of|a\s+touch\s+of|image['’]?s|photo['’]?s))*"
_SIGN = r"([+\-\u2212])"

# What is wrong with the image, fixed by the opposite operation: "too warm", "less blurry", "not so dark".
_PROBLEMS: list[tuple[str, str]] = [
    (r"warm|warmer|yellow|yellowish|orange", "cooler"),
    (r"cool|cooler|cold|colder|blue|bluish", "warmer"),
    (r"dark|darker|dim|dimmer|underexposed|gloomy", "brighter"),
    (r"bright|brighter|light|lighter|overexposed", "darker"),
    (r"blurry|blurred|blurrier|fuzzy|soft|out\s+of\s+focus", "sharpen"),
    (r"sharp|sharper|crisp", "blur"),
    (r"saturated|vivid|vibrant|colou?rful|intense|garish", "less_saturated"),
    (r"dull|muted|washed\s+out|desaturated|drab", "more_saturated"),
    (r"contrasty|high\s+contrast", "less_contrast"),
    (r"flat|low\s+contrast", "more_contrast"),
]
_HEDGE_PREFIX = r"(?:(?:way|far|much|a\s+(?:bit|little|tad|touch)|slightly|somewhat|just|little)\s+)?"


def _setting_rules() -> list[tuple[str, str, bool]]:
    rules = []
    for setting, (noun, _, _) in _SETTINGS.items():
        nouns = f"(?:{noun})"
        if setting in _LEVELS:
            rules += [
                (rf"\b{nouns}\s*:?\s*(?:by\s+)?{_SIGN}\s*{_PERCENT}|{_SIGN}\s*{_PERCENT}\s+(?:more\s+)?{nouns}\b",
                 f"{setting}:signed"),
                (rf"\b(?:(?P<verb>set|{_UP}|{_DOWN})\s+)?(?:the\s+)?{nouns}\s+(?:to|at)\s+{_PERCENT}",
                 f"{setting}:level"),
            ]
        rules += [
            (rf"\b({_UP}|{_DOWN}){_SETTING_OBJECT}\s+{nouns}\b", f"{setting}:verb"),
            (rf"\b(?:(?:turn|bump|crank|dial|tone|pump|push)\s+(?:the\s+)?)?{nouns}\s+(up|down|higher|lower)\b",
             f"{setting}:verb"),
        ]
    return [(pattern, name, False) for pattern, name in rules]


_STATED_BY = (r"(?:(?:(?:it|this|that|the\s+(?:image|photo|picture|pic))\s*(?:'s|’s|\s+is|\s+looks|\s+seems|\s+feels)"
              r"|its)"
              r"(?:\s+(?:now|still|just|kind\s+of|kinda))?\s+)?")
"""Who states a problem ("it's too dark", "its too dark"): only before "too", never alone ("it's dark" is no
instruction)."""


def _problem_rules() -> list[tuple[str, str, bool]]:
    return [(rf"\b{_STATED_BY}{_HEDGE_PREFIX}(?P<how>too|overly|less|not\s+so|not\s+as|not\s+that)\s+(?:{adjectives})\b",
             f"problem:{fix}", True) for adjectives, fix in _PROBLEMS]


_MARGIN = r"(\d+(?:\.\d+)?)\s*(px\b|pixels?\b|%|percent\b)"
"""A crop margin: "100 px", "10%"."""
_RATIO_SIDES = r"(\d{1,3}(?:\.\d+)?)\s*:\s*(\d{1,3}(?:\.\d+)?)(?!\s*[\d.:])"
_RATIO_WORDS = r"\s+(?:aspect(?:\s+ratio)?|ratio|format)\b"
_RATIO = f"{_RATIO_SIDES}(?:{_RATIO_WORDS})?"
"""An aspect ratio, "16:9" (sides up to 999), with the words that may follow it."""

_AT_THE_END = r"\b(?=(?:\s+(?:please|pls|plz|now|again|back))*\W*$)"
"""Where a phrase ends its clause, but for courtesy: "add color" is the whole request, "add color to the sky" is not."""

_RULES: list[tuple[str, str, bool]] = [
    # (regex, handler name, everyday); the first regex that matches a span claims it. An everyday phrasing
    # ("make it square", "too blue") is not read on a MICE-World canvas, where "it" is one of its shapes.
    # colour asked for ("make it colour again"): no operation makes it, and the refusal says what does
    (r"\b(?:make\s+(?:it|the\s+image|the\s+photo)\s+(?:in\s+)?colou?r(?:ed)?(?:\s+again)?|(?:bring|put|add)\s+(?:the\s+)?"
     r"colou?rs?\s+back|restore\s+(?:the\s+)?colou?rs?|back\s+(?:in)?to\s+colou?r)\b"
     r"|\b(?:(?:add|put)\s+(?:some\s+|the\s+)?colou?rs?(?:\s+(?:to|in|into)\s+(?:it|the\s+image|the\s+photo))?"
     rf"|colou?r\s+it){_AT_THE_END}",
     "colour_back", True),
    # first: "invert that", "reverse the flip" ask to take an edit back, not for a negative or another flip
    (r"\b(?:invert|reverse)\s+(?:that|this(?!\s+(?:image|photo|picture|pic)\b)"
     r"|the\s+(?:last|previous|change|edit|flip|rotation|crop|order))\b",
     "reverse_said", False),
    # the same pixels as a half turn after a mirror, said as the one operation it is; "flip it up and down" too
    (r"\b(?:flip|mirror)\b(?:\s+(?:it|the\s+image|the\s+photo|the\s+picture))?\s+"
     r"(?:upside[\s-]+down|up(?:\s+and\s+|[\s-]+)down|up|down)\b", "flip_vertical", False),
    # not "the upside down photo": that describes the photo, and what to do about it is not said
    (r"\b(?:rotate|spin|turn)\b[^,;]*?\bupside[\s-]+down\b|(?<!the )\bupside[\s-]+down\b", "upside_down", False),
    # "rotate it a quarter turn (to the left)", "give it a half turn"
    (r"\b(?:rotate|turn|spin|give)\b(?:\s+(?:it|the\s+image|the\s+photo|the\s+picture))?(?:\s+by)?\s+"
     r"(?:(?:a|one)\s+|(?=(?:quarter|half)[\s-]+turn\b))"  # "a half", or "half turn" ("turn it half the size" is no turn)
     rf"(?P<part>quarter|half)(?:[\s-]+turn)?(?:\s+(?P<direction>{_DIRECTION}))?\b", "part_turn", True),
    # ... or with "turn" said and no verb: "a quarter turn to the left", "do a half turn"
    (rf"\b(?:(?:do|make)\s+)?(?:(?:a|one)\s+)?(?P<part>quarter|half)[\s-]+turn\b(?:\s+(?P<direction>{_DIRECTION}))?\b",
     "part_turn", True),
    (r"\b(?:rotate|spin)\b" + _ROTATION_TAIL, "rotate", False),
    # "turn" also means "become" ("turn it grey"): it is a rotation only with an angle or a direction
    (r"\bturn\b(?=(?:\s+(?:it|the\s+image|the\s+photo|the\s+picture|by|it\s+by))*\s+(?:-?\d+\s*(?:°|deg)|"
     r"clockwise|counter[\s-]?clockwise|anti[\s-]?clockwise))" + _ROTATION_TAIL, "rotate", False),
    # ... or with a quarter turn's multiple alone: "turn it 180" (not "turn it 20%", "turn it 2 times")
    (r"\bturn\b(?=(?:\s+(?:it|the\s+image|the\s+photo|the\s+picture|by|it\s+by))*\s+(?:90|180|270)\b"
     r"(?!\s*(?:%|percent|px|pixels|times|x\b)))" + _ROTATION_TAIL, "rotate", True),
    (r"\bturn\b(?=(?:\s+(?:it|the\s+image|the\s+photo|the\s+picture))*\s+(?:to\s+the\s+)?(?:left|right)\b)"
     + _ROTATION_TAIL, "rotate", True),
    (r"\b(?:flip|mirror)\b(?:\s+(?:it|the\s+image|the\s+photo|the\s+picture))?"
     r"(?:\s+(horizontally|vertically|horizontal|vertical|left\s+to\s+right|top\s+to\s+bottom|sideways))?",
     "flip", False),
    (r"\bcrop\b(?:\s+(?:it|the\s+image|the\s+photo))?(?:\s+(?:to|into))?(?:\s+(?:the|a))?"
     r"(?:\s+(left|right|top|bottom)\s+half|\s+(?:(?:centred|centered|center|centre)\s+)?(square)"
     r"(?:\s+(?:aspect(?:\s+ratio)?|ratio|format|shape))?)", "crop", False),
    # the largest size of the same shape within a box: "resize to fit within 800x600" (and "... 800x600 keeping the
    # aspect ratio", rewritten so by split_clauses)
    (r"\b(?:(?:resize|scale|make)\b(?:\s+(?:it|the\s+image|the\s+photo|the\s+picture))?(?:\s+to)?\s+)?fit\b"
     r"(?:\s+(?:it|the\s+image|the\s+photo|the\s+picture))?\s+(?:with)?in(?:side|to)?\s+(?:a\s+)?(\d+)\s*[x×]\s*(\d+)"
     r"(?:\s*(?:px|pixels))?(?:\s+box)?", "resize_fit", False),
    (r"\b(?:resize|scale)\b(?:\s+(?:it|the\s+image|the\s+photo))?(?:\s+(?:to|by))?\s+"
     r"(?:(\d+)\s*[x×]\s*(\d+)(?:\s*(?:px|pixels))?|" + _PERCENT + ")",
     "resize", False),
    # both sides, each named: "make it 800px wide and 600px tall", "resize to 600 pixels high by 800 wide"
    (r"\b(?:resize|scale|make)\b(?:\s+(?:it|the\s+image|the\s+photo|the\s+picture))?(?:\s+to)?\s+" + _SIDE
     + r"(?:\s*,\s*|\s+)(?:and\s+|by\s+)?" + _SIDE, "resize_sides", False),
    (r"\b(?:resize|scale|make)\b(?:\s+(?:it|the\s+image|the\s+photo))?(?:\s+to)?\s+(\d+)\s*(?:px|pixels)\s+"
     r"(wide|tall|high)\b", "resize_side", False),
    (r"\b(?:resize|scale)\b(?:\s+(?:it|the\s+image|the\s+photo))?(?:\s+(up|down))?"
     r"(?:\s+by(?:\s+a\s+factor\s+of)?\s+(\d+(?:\.\d+)?)\s*(?:x|×|times)?|(?:\s+to)?\s+(\d+(?:\.\d+)?)\s*(?:x|×|times))"
     r"(?![\d.]|\s*(?:%|percent|px|pixels))", "resize_factor", False),
    # "crop 10% from each side", "cut off 20px from the bottom", "trim 10px off the edges"
    (r"\b(?:crop|trim|cut)\b(?:\s+(?:it|the\s+image|the\s+photo))?(?:\s+off)?\s+" + _MARGIN + r"\s+(?:off|from)?\s*"
     r"(?:the\s+)?(each|every|all|left|right|top|bottom|edges)(?:\s+(?:sides?|edges?))?\b", "crop_margin", False),
    # "cut off the top 100px"
    (r"\b(?:cut|trim|crop)\s+off\s+(?:the\s+)?(left|right|top|bottom)\s+" + _MARGIN, "crop_margin_after", True),
    # "trim the bottom 20px" cuts it off; "crop the top 100px" may keep it (as "crop the top half" does): asked
    (r"\b(?:cut|trim)\s+(?:the\s+)?(left|right|top|bottom)\s+" + _MARGIN, "crop_margin_after", True),
    (r"\bcrop\s+(?:the\s+)?(left|right|top|bottom)\s+" + _MARGIN, "crop_side_unsaid", True),
    # an aspect ratio: "crop to 16:9", "make it 4:3", "give it a 3:2 aspect ratio"
    (r"\b(?:crop|trim|cut|reframe)\b(?:\s+(?:it|the\s+image|the\s+photo|the\s+picture))?(?:\s+(?:to|into|as))?"
     r"(?:\s+(?:a|an))?(?:\s+(?:centred|centered|center|centre))?\s+" + _RATIO, "crop_aspect", False),
    (r"\b(?:make|change|set)\b(?:\s+(?:it|the\s+image|the\s+photo|the\s+picture|the\s+(?:aspect\s+)?ratio))?"
     r"(?:\s+(?:to|into))?(?:\s+(?:a|an))?\s+" + _RATIO + r"|\b" + _RATIO_SIDES + _RATIO_WORDS,
     "crop_aspect", True),
    (r"\bsepia\b(?:[\s-]+(?:toned?|filter|effect|look))?", "sepia", False),
    # "invert black and white" swaps them: one negative
    (r"\binvert(?:ed)?\b(?:\s+(?:the\s+)?black[\s-]*(?:and|&)[\s-]*white)?|\b(?:photo(?:graphic)?\s+)?negative\b",
     "invert", False),
    (r"\bkeep\s+only\s+(?:the\s+)?(left|right|top|bottom)\s+half\b", "crop", True),
    (r"\b(?:cut|trim|crop)\s+off\s+(?:the\s+)?(left|right|top|bottom)\s+half\b", "crop_off_half", True),
    (r"\bmake\s+(?:it|the\s+image|the\s+photo|the\s+picture)\s+(square)\b", "crop_square", True),
    # sizes said as a change: "scale it down by 25%", "make it 50% smaller", "enlarge to 200%", "upscale 2x"
    (r"\b(?:scale|resize|shrink|reduce|downscale|downsize|make)\b(?:\s+(?:it|the\s+image|the\s+photo|the\s+size))?"
     r"(?:\s+(?:down|smaller))?\s+by\s+" + _PERCENT, "shrink_by", True),
    # ... and with no "by" where the verb says which way: "scale it down 50%", "shrink it 25%"
    (r"\b(?:(?:shrink|downscale|downsize)(?:\s+(?:it|the\s+image|the\s+photo))?|scale(?:\s+(?:it|the\s+image|the\s+photo))?"
     r"\s+down)\s+" + _PERCENT, "shrink_by", True),
    (r"\bscale(?:\s+(?:it|the\s+image|the\s+photo))?\s+up\s+" + _PERCENT, "enlarge_by", True),
    (r"\b(?:(?:enlarge|upscale|grow)(?:\s+(?:it|the\s+image|the\s+photo))?"
     r"|scale(?:\s+(?:it|the\s+image|the\s+photo))?\s+up|increase\s+the\s+size(?:\s+of\s+(?:it|the\s+image|the\s+photo))?)"
     r"\s+by\s+" + _PERCENT, "enlarge_by", True),
    # ... and "50% smaller" said alone, its verb the clause before's: "make it greyscale and 50% smaller"
    (r"(?:\bmake\b(?:\s+(?:it|the\s+image|the\s+photo))?\s+|^\s*)" + _PERCENT + r"\s+(smaller|bigger|larger)\b",
     "resize_change", True),
    (r"\b(?:make\s+(?:it|the\s+image|the\s+photo)\s+)?(smaller|bigger|larger)\s+by\s+" + _PERCENT, "resize_change_after", True),
    (r"\b(?:shrink|enlarge|upscale|downscale)\b(?:\s+(?:it|the\s+image|the\s+photo))?\s+to\s+" + _PERCENT,
     "resize_to", True),
    (r"\b(?:upscale|enlarge)\b(?:\s+(?:it|the\s+image|the\s+photo))?(?:\s+by)?\s+(\d+(?:\.\d+)?)\s*(?:x|×|times)"
     r"|\bmake\b(?:\s+(?:it|the\s+image|the\s+photo))?\s+(\d+(?:\.\d+)?)\s*(?:x|×|times)\s+(?:bigger|larger)\b",
     "enlarge_factor", True),
    (r"\bresize\b(?:\s+(?:it|the\s+image|the\s+photo))?\s+to\s+(\d+)\s+by\s+(\d+)\b", "resize", True),
    (r"\b(?:resize|scale|make)\b(?:\s+(?:it|the\s+image|the\s+photo))?(?:\s+to)?\s+(\d+)\s+(wide|tall|high)\b",
     "resize_side", True),
    # the side named first: "resize to a width of 300", "scale it to height 600 px"
    (r"\b(?:resize|scale|make)\b(?:\s+(?:it|the\s+image|the\s+photo))?(?:\s+to)?\s+(?:a\s+)?(width|height)"
     r"(?:\s+of)?\s+(\d+)(?!\s*(?:%|percent|per\s?cent))(?:\s*(?:px|pixels))?\b", "resize_side_named", True),
    # "make it 2x smaller", "3 times smaller": a division
    (r"\bmake\b(?:\s+(?:it|the\s+image|the\s+photo))?\s+(\d+(?:\.\d+)?)\s*(?:x|×|times)\s+smaller\b", "times_smaller",
     True),
    # a side said alone, its verb shared with the clause before it: "make it black and white and 800 px wide"
    (r"^\s*(\d+)\s*(?:px|pixels)?\s+(wide|tall|high)\s*$", "resize_side", True),
    (r"\bmake\b(?:\s+(?:it|the\s+image|the\s+photo|the\s+picture))?\s+(\d+)\s*[x×]\s*(\d+)(?P<unit>\s*(?:px|pixels))?\b",
     "make_size", True),
    # "set the width to 320 px"
    (r"\b(?:set|change)\b\s+(?:the\s+)?(?:image['’]?s\s+)?(width|height)\s+(?:to\s+)?(\d+)(?!\s*(?:%|percent|per\s?cent))(?:\s*(?:px|pixels))?\b",
     "resize_side_named", True),
    (r"\bhalf\s+(?:the\s+)?size\b", "halve", True),
    (r"\b(?:a\s+)?quarter\s+(?:of\s+)?(?:the\s+)?(?:its\s+)?size\b|\bquarter[\s-]+size\b", "quarter", True),
    # grey, said other ways than the rule's words
    (r"\b(?:turn|make|convert)\b(?:\s+(?:it|the\s+image|the\s+photo))?(?:\s+to)?\s+gr[ae]y(?:\s*scale(?=\s*(?:$|[,.;!?]|(?:and|then|but|please)\b)))?\b"
     r"|\bremove\s+(?:the\s+|all\s+(?:the\s+)?)?colou?rs?\b|\bdesaturate\b(?:\s+it)?\s+(?:completely|fully|entirely)\b",
     "grayscale", True),
    (r"\b(?:twice\s+(?:as\s+(?:big|large)|the\s+size)|double\s+(?:the\s+)?size|double\s+it)\b", "double", False),
    (r"\b(?:half\s+(?:as\s+(?:big|large)|the\s+size)|halve\s+(?:the\s+)?size|halve\s+it"
     r"|(?:resize|scale|shrink)(?:\s+(?:it|the\s+image|the\s+photo))?(?:\s+down)?(?:\s+(?:by|to))?\s+(?:a\s+)?half"
     # not "reduce it by half", which may be the setting just changed
     r"|reduce\s+(?:the\s+size(?:\s+of\s+(?:it|the\s+image|the\s+photo))?|the\s+image|the\s+photo)"
     r"(?:\s+(?:by|to))?\s+(?:a\s+)?half)\b",
     "halve", False),
    (GRAYSCALE_WORDS, "grayscale", False),
    *_problem_rules(),
    *_setting_rules(),
    (r"\b(?:brighten|brighter|lighten|lighter|more\s+bright)\b", "brighter", False),
    (r"\b(?:darken|darker|dim|dimmer|more\s+dark)\b", "darker", False),
    (r"\bcontrastier\b", "more_contrast", False),
    (r"\b(?:more\s+)?(?:contrasty|punchier|punchy)\b", "more_contrast", True),
    (r"\b(?:more\s+saturated|saturate|more\s+vivid|more\s+vibrant|more\s+colou?rful)\b", "more_saturated", False),
    (r"\boversaturate\b", "more_saturated", True),
    # "more color", "give it more colour": of the colours there are ("add color" after black and white is above)
    (r"\bmore\s+colou?rs?\b(?!\s+back)", "more_saturated", True),
    (r"\bless\s+colou?rs?\b", "less_saturated", True),
    (r"\btone\s+down\s+(?:the\s+)?colou?rs?\b|\bmute\s+(?:the\s+)?colou?rs?\b", "less_saturated", True),
    (r"\b(?:less\s+saturated|desaturate|less\s+vivid|less\s+vibrant|less\s+colou?rful|muted)\b", "less_saturated", False),
    (r"\b(?:warmer|warm\s+up|warm)\b", "warmer", False),
    (r"\b(?:cooler|colder|cool\s+down|cool)\b", "cooler", False),
    (r"\b(?:gaussian\s+)?(?:blur|blurry|blurrier|soften)\b(?:[^,;]*?\bradius\s+(\d+(?:\.\d+)?))?", "blur", False),
    (r"\b(?:sharpen|sharper|crisper|more\s+sharp|more\s+crisp)\b", "sharpen", False),
    # last: a size change with no size said, which only the words above could have given one
    (r"\b(?:make\s+(?:it|the\s+image|the\s+photo|the\s+picture)\s+)?(?:smaller|bigger|larger)\b"
     r"|\b(?:shrink|enlarge|downscale|resize|rescale|scale(?:\s+(?:up|down))?)\b"  # not "upscale it": super-resolution
     r"(?:\s+(?:it|the\s+image|the\s+photo|the\s+picture))?", "size_unsaid", True),
]
_COMPILED = [(re.compile(pattern, re.IGNORECASE), name) for pattern, name, _ in _RULES]
_COMPILED_PLAIN = [(re.compile(pattern, re.IGNORECASE), name) for pattern, name, everyday in _RULES if not everyday]
"""The rules a MICE-World canvas reads photo operations with (see ``parse_operations(everyday=False)``)."""


def parse_operations(instruction: str, *, limit: int = MAX_OPERATIONS, everyday: bool = True) -> list[Operation]:
    """Map an instruction to exact operations in the order to apply them (:func:`split_clauses`), or raise.

    Raises :class:`UnsupportedInstructionError` when any part of the instruction is not an exact
    operation (e.g. "make the car red"), and :class:`InvalidInstructionError` for a value that
    cannot be applied (e.g. "rotate 45 degrees", "resize to 0x10"). ``everyday=False`` leaves out the
    phrasings that on a MICE-World canvas would name a shape ("make it square", "too blue").
    """
    if is_no_change(instruction):
        return []
    clauses = split_clauses(instruction)
    read = [parse_clause_read(clause, instruction, everyday=everyday) for clause in clauses]
    check_no_flip_undoes_another(clauses, [operations for operations, _ in read])
    operations = without_restated_problems(read, instruction)
    if not operations:
        raise _unsupported(instruction)
    check_operation_count(len(operations), limit)
    return operations


_ADVICE_ASKED = re.compile(
    r"^\W*(?:(?:hmm+|so|ok|okay|well)\W+)*(?:should|shall)\s+(?:i|we|it|this|that|the\s+(?:image|photo|picture))\b"
    r"|^\W*(?:do|would)\s+you\s+(?:think|recommend|suggest)\b(?!\s+(?:that\s+)?(?:you|we)\s+(?:could|can|might)\b)",
    re.IGNORECASE)
"""Advice asked for: "should I make it warmer?", "do you think it needs more contrast?" (not "do you think you
could add some contrast?", a request)."""


_AXIS_SAID = re.compile(r"\b(?:horizontal(?:ly)?|vertical(?:ly)?|left\s+to\s+right|top\s+to\s+bottom|sideways"
                        r"|upside[\s-]+down|up(?:\s+and\s+|[\s-]+)down)\b", re.IGNORECASE)


def check_no_flip_undoes_another(clauses: list[str], operations: list[list[Operation]]) -> None:
    """Refuse a flip said right after another the same way when one of them did not say which way: "mirror and
    flip it" flips left to right twice (each verb's default), which changes nothing, and cannot be what was meant.
    With an operation between them ("mirror it, rotate it, then flip it") the second undoes nothing."""
    in_order = [(index, op) for index, ops in enumerate(operations) for op in ops]
    for (one, before), (other, after) in itertools.pairwise(in_order):
        first, second = clauses[one], clauses[other]  # one clause's repeat ("flip it twice") was said as meant
        if (one != other and before.kind == after.kind == "flip" and before.target == after.target
                and not (_AXIS_SAID.search(first) and _AXIS_SAID.search(second))):
            raise InvalidInstructionError(
                f"'{first}' and '{second}' would both flip it left to right (the way a flip goes unless it is "
                "said), and the second would undo the first: say which way each goes, e.g. 'mirror it and "
                "flip it vertically'.")


def check_operation_count(count: int, limit: int = MAX_OPERATIONS) -> None:
    """Refuse an instruction that asks for more operations than one turn may do."""
    if count > limit:
        raise InvalidInstructionError(f"The instruction asks for {count} operations; one turn may do at most {limit}.")


def is_no_change(instruction: str) -> bool:
    """Whether the instruction asks for no change at all ("make no change", "do nothing")."""
    return is_no_change_request(instruction)  # the world language's phrasing, so both read it alike


def split_clauses(instruction: str) -> list[str]:
    """The instruction's clauses in the order to apply them (as written, but for one said to come "first"; see the
    module docstring), each carrying the amount
    said for it: "slightly brighter and warmer" gives "slightly brighter" and "slightly warmer", "brighter
    and warmer by 10%" gives both 10%, and "warmer, just a little" one clause. Courtesy alone ("thanks!")
    is no clause."""
    if _ADVICE_ASKED.match(instruction):  # "should I make it warmer?": the person is deciding, not asking for it
        raise UnsupportedInstructionError(f"{quoted(instruction)} asks for advice, which this editor cannot give; say "
                                          "what to change (e.g. 'make it warmer'); nothing was edited.")
    # NUL is the placeholder of _protect_and, so a NUL the user typed must not survive to it.
    text = _arrows_as_words(re.sub(r"[\s\0]+", " ", instruction.strip()), instruction)
    text = reasons_left_out(text, instruction)
    text = numbers_as_digits(plain_request(_CONTRACTIONS.sub(_uncontracted, text)))
    text = _SETTING_BY_HALF.sub(r"\g<setting> by 50%", text)
    text = _ONE_UNIT.sub(r"1 \g<unit>", text)  # "by a percent": 1%, not the default the dropped words left
    # decimals as people type them: "12,5%" (a decimal comma, not two clauses), ".5%" (no full stop)
    text = re.sub(r"(?<=\d),(?=\d{1,2}\s*(?:%|per\s?cent\b))", ".", text, flags=re.IGNORECASE)
    text = re.sub(r"(?<![\w.])\.(?=\d)", "0.", text)
    text = _SIZE_KEEPING_SHAPE.sub(r"fit within \g<width>x\g<height>", text)
    text = _SIDES_KEEPING_SHAPE.sub(_fit_within_sides, text)
    pieces = _CLAUSE_SPLIT.split(_protect_and(text))
    clauses, joiners = pieces[0::2], [""] + [joiner.strip().lower() for joiner in pieces[1::2]]
    parts = [(clause.replace("\0", "and").strip(), joiner) for clause, joiner in zip(clauses, joiners, strict=True)]
    if _THEN_FIRST.search(text):
        raise InvalidInstructionError(f"{quoted(instruction)} says 'then' and 'first' of one change, which name both "
                                      "orders; say the changes in the order to make them ('rotate it left, then crop "
                                      "to the left half').")
    parts = _first_said_alone_joined([(clause, joiner) for clause, joiner in parts if clause])
    return _said_first_first(_share_amounts(_without_acknowledgements(parts)))


MAX_REASONS = 8
"""Most reasons one instruction may give: each is placed and checked by reading the request around it."""


def reasons_left_out(text: str, instruction: str, operations: list[Operation] | None = None, *,
                     checked: bool = True) -> str:
    """``text`` without the reasons given for its edits ("make it brighter because it's too dark", "because it's
    dark, brighten it"), where the request may go on after one ("... because it's dark, and crop it"). Each is
    checked first (``checked``) against what it is given for (``operations``, for a follow-up; else what the request
    around it reads as): one that could say what to do, how much or how often ("because it's dark, by 10%"), which
    way a turn goes ("rotate it because it's upside down"), or that reads as another change ("brighter because it's
    too bright") is asked, never dropped."""
    if _READING_A_REASON.get():  # what is read to place or check a reason is read as said: no reason in it
        return text                # is looked for again, so the work stays linear in the reasons given
    position, count, tilted = 0, 0, False
    while (given := first_reason(text, position)) is not None:
        count += 1
        if count > MAX_REASONS:
            raise InvalidInstructionError(f"{quoted(instruction)[:200]} gives more than {MAX_REASONS} reasons; say the "
                                          "changes to make, with a reason or two at most.")
        reason_end, request_from = _reason_extent(text, given)
        reason = text[given.reason_start:reason_end].strip(" ,:")
        request = _request_of(text, given, request_from)
        if given.leading and not re.search(r"\w", request):  # a sentence of its own after the request ("Brighten
            request = text[:given.sentence_start]              # it. Because it's dark."), or alone: as said
            if not re.search(r"\w", request):
                position = given.end
                continue
        if checked:
            with _reading_a_reason():
                _check_reason(reason, request, operations, instruction, said_first=given.leading)
        tilted = tilted or bool(_TILTED_IMAGE.search(reason))
        rest = text[request_from:].lstrip()
        text = text[:given.start] + (" " if given.start and rest[:1] not in tuple(",;:.!?") else "") + rest
        position = given.start
    if checked and tilted and operations is None:
        _check_no_quarter_turn_for_a_tilt(text.strip(), instruction)
    return text.strip()


def _check_no_quarter_turn_for_a_tilt(request: str, instruction: str) -> None:
    """A quarter turn asked anywhere in an instruction whose reason says the image is tilted: "brighten it because
    it's dark and tilted, rotate it left" turned it 90 degrees (the tilt was the brightening's reason)."""
    try:
        with _reading_a_reason():
            operations = parse_operations(request)
    except EditAgentError:
        return  # refused as it is read next, with its own reason
    if any(_quarter_turn(op) for op in operations):
        raise _tilt_refused(instruction)


def _quarter_turn(operation: Operation) -> bool:
    return operation.kind == "rotate" and operation.value in (90.0, 270.0)


def _tilt_refused(instruction: str) -> UnsupportedInstructionError:
    return UnsupportedInstructionError(f"{quoted(instruction)}: a rotation here is a quarter turn; straightening a "
                                       "tilt by a few degrees needs a generative editor. Nothing was edited.")


def _request_of(text: str, given: GivenReason, request_from: int) -> str:
    """What ``given`` is said for: its sentence before it, or after it for a reason said first (the rest of its
    sentence, or the sentence after it)."""
    if not given.leading:
        return text[given.sentence_start:given.start]
    if request_from < given.end:
        return text[request_from:given.end]
    ends = [end for end in (text.find(mark, request_from) for mark in ".!?;") if end >= 0]
    return text[request_from:min(ends, default=len(text))]


@functools.cache
def _request_starts() -> re.Pattern[str]:
    """What the request says when it goes on after a reason: a verb ("..., and crop it", "... so brighten it"). A
    comparative or an adjective there ("and a little blurry", "and darker now") may still be how the image is, and
    "warm" or "cool" alone too ("because it's dark and warm"): as verbs they take an object ("and warm it up")."""
    verbs = "|".join(sorted(_EDIT_VERB_WORDS - {"warm", "cool"} | {"crop", "rotate", "flip", "mirror", "undo"}))
    return re.compile(rf"^(?:(?:please|pls|also|then|now|just|and|can\s+you|could\s+you|would\s+you)\s+)*"
                      rf"(?:(?:{verbs})\b|(?:warm|cool)\s+(?:it|up|down|the|this|that|everything)\b)", re.IGNORECASE)


_PLACES_LOOKED_AT, _CLAUSE_LOOKED_AT = 40, 160
"""Places in one reason looked at as where the request may go on, and how much of what follows each: a reason of
hundreds of commas ("bc,bc,bc,...") must not make the reading grow with the square of its length."""
_WAYS_ON_TRIED = 12
"""Places in one reason read as where the request may go on (each reads a clause): past them the rest is the
reason's, and asked if it says what to do."""


def _reason_extent(text: str, given: GivenReason) -> tuple[int, int]:
    """Where ``given``'s reason ends, and where the request goes on after it: at the first joining word after which
    the request is said again, with its verb ("because it's dark, and crop it"; after a comma, for a reason said
    first: "because it's dark, a bit brighter"), else at its sentence's end (past it, for a reason said first in a
    sentence of its own: "Because it's dark. Brighten it.")."""
    reason = text[given.reason_start:given.end]
    places = ways_on(reason)
    if given.leading:  # "since it's too dark brighten it": where a verb starts, with no word between
        places += [(match.start(), match.start()) for match in re.finditer(r"(?:^|(?<=\s))\w", reason)]
        places.sort()
    tried = 0
    for start, end in places[:_PLACES_LOOKED_AT]:
        after = reason[end:]
        said_again = _request_starts().match(after) or (given.leading and re.fullmatch(r"\s*(?:,|(?<!\d):(?!\d))\s*", reason[start:end]))
        if not said_again or not says_what_to_do(after[:_CLAUSE_LOOKED_AT]):
            continue
        tried += 1
        if tried > _WAYS_ON_TRIED:
            break
        if _first_clause_reads(after):
            return given.reason_start + start, given.reason_start + (end if given.leading else start)
    if given.leading:
        after = re.match(r"[.!?;]*\s*", text[given.end:])
        return given.end, given.end + after.end()
    return given.end, given.end


def _first_clause_reads(text: str) -> bool:
    """Whether the first clause of ``text`` reads as an edit: read alone, so that placing a reason before a long
    request reads a clause, not the whole of it, at each place tried."""
    clauses = ways_on(text)
    first = text[:clauses[0][0]] if clauses and clauses[0][0] > 0 else text
    next_reason = first_reason(first)  # "crop to a square because it's for instagram": up to the reason
    try:
        with _reading_a_reason():
            parse_operations(first[:next_reason.start] if next_reason else first)
    except EditAgentError:
        return False
    return True


_PART_NAMED = re.compile(r"\b(?:background|foreground|faces?|plates?|licen[cs]e|number|names?|address|text|logo|people"
                         r"|person|kids?|child(?:ren)?|eyes|skin|sky|house|cars?|signs?|screen|corner|edges?|side)\b",
                         re.IGNORECASE)
"""A part of the picture named in a reason for a blur ("because of the license plate"): a blur here is of all of it."""


def _check_reason(reason: str, request: str, operations: list[Operation] | None, instruction: str, *,
                  said_first: bool = False) -> None:
    """Refuse ``reason`` where leaving it out could do other than what was meant (see :func:`reasons_left_out`)."""
    follow_up = operations is not None  # its way and amount are the earlier edit's, said then
    reason = _COURTESY_AT_THE_END.sub("", reason)
    say_it = "say every change and its amount before the reason, and the reason on its own at the end"
    if says_what_to_do(reason, request) or says_more_than_a_state(reason):
        raise InvalidInstructionError(f"{quoted(instruction)}: the reason ('{reason}') has words that could say what "
                                      f"to do, how much or how often; {say_it} (or leave it out).")
    if said_first and _SAYS_NOT_TO.search(reason):  # "it's fine so don't flip it": "don't" was read as the reason's
        raise InvalidInstructionError(f"{quoted(instruction)}: the reason ('{reason}') says not to do something; say "
                                      "only the changes to make (what is not said is not done).")
    try:
        read_as: list[Operation] | None = parse_operations(reason)
    except EditAgentError:
        read_as = None
    if operations is None:
        try:
            operations = parse_operations(request)
        except EditAgentError:  # a rule ("keep it square"), or refused as said: a reason that reads as a change is
            operations = []     # none of it
    if read_as is not None and not all(any(_agrees(op, done) for done in operations) for op in read_as):
        raise InvalidInstructionError(f"{quoted(instruction)}: the reason ('{reason}') reads as another change than "
                                      f"'{request.strip(' ,.')}'; say each change to make, without the reason.")
    named, changed = _settings_named(reason), _settings_changed(operations)
    plainly = _states_in(_WANTED_OR_DENIED.sub(" ", _HEDGES.sub(" ", reason)), every_word=False)
    if plainly and operations and (not set(plainly) & changed or (follow_up and set(plainly) != changed)):
        # "crop it because it's dark"; "more because it's still cold" after a brightening, or after "brighter and
        # warmer" (of the warmth only)
        raise InvalidInstructionError(f"{quoted(instruction)}: the reason ('{reason}') is about other settings than "
                                      f"the change ({describe_operations(operations)[:-1].lower()}); say the change "
                                      "to make for it.")
    if any(op.kind in named and (named[op.kind] is None or direction_of(op) * (named[op.kind] or 0) < 0)
           for op in operations):
        raise InvalidInstructionError(f"{quoted(instruction)}: the reason ('{reason}') asks for the change the other "
                                      "way; say the change to make, without the reason.")  # "since it's cold, cooler"
    if _TILT.search(reason) and any(_quarter_turn(op) for op in operations):
        raise _tilt_refused(instruction)
    if not follow_up and says_a_way(reason) and any(_way_unsaid(op, request) for op in operations):
        raise InvalidInstructionError(
            f"{quoted(instruction)}: say which way to turn or flip it ('rotate it left', 'rotate it 180 degrees', "
            "'flip it vertically'); the reason is not read for that.")
    if read_as is None and _PART_NAMED.search(reason) and any(op.kind == "blur" for op in operations):
        raise UnsupportedInstructionError(
            f"{quoted(instruction)}: a blur here is of the whole image; blurring a part of it (a face, a plate, the "
            "background) needs a generative editor. Nothing was edited.")


def _agrees(fix: Operation, done: Operation) -> bool:
    """Whether a change a reason reads as (``fix``) is what ``done`` does: the same way, or colour taken away."""
    if fix.kind == "saturation" and (fix.value or 0) < 0 and done.kind == "grayscale":
        return True  # "black and white because it's too colourful"
    return fix.kind == done.kind and direction_of(fix) * direction_of(done) >= 0


_SETTING_WORDS = {
    "brightness": r"dark|darker|dim|dimmer|underexposed|gloomy|bright|brighter|overexposed",
    "warmth": r"warm|warmer|yellow|yellowish|orange|cold|colder|cool|cooler|blue|bluish",
    "sharpen": r"blurry|blurred|blurrier|fuzzy|out\s+of\s+focus",
    "blur": r"sharp|sharper|crisp",
    "saturation": r"saturated|oversaturated|garish|colou?rful|vivid",
    "contrast": r"contrasty|(?:high|low)\s+contrast",
}
"""Words of how the image is that name one setting each ("dull", "washed out", "soft" could be of several)."""


_SAYS_NOT_TO = re.compile(r"\b(?:(?:don'?t|dont|do\s+not|no)(?:\s+(?:want|need)(?:\s+to)?)?|never|no\s+need\s+to|needn'?t"
                          r"|shouldn'?t|should\s+not|mustn'?t|must\s+not|won'?t|will\s+not|wouldn'?t|would\s+not|not)\W*$",
                          re.IGNORECASE)
"""How a reason said first ends where it says not to do what follows ("it's fine so don't", "... so no need to"):
that is the change not to make. Inside a reason these words explain ("because I don't want colour")."""
_WANTED_OR_DENIED = re.compile(r"\b(?:(?:want|like|need|prefer)s?\s+it\s+|not\s+(?:\w+\s+)?)\w+(?:\s+enough)?|\w+\s+enough\b",
                               re.IGNORECASE)
"""Words of a state that is wanted or missing ("I want it blurry", "not sharp enough"), not how the image is."""


def _settings_named(reason: str) -> dict[str, int | None]:
    """The settings a reason's words of how the image is are about, each with the way that state is fixed: "still
    cold" the warmth (up), "dark" the brightness (up); not a noun's ("because the light was cold": the warmth only).
    A state denied or wanted is fixed the other way ("not bright enough", "I want it blurry"); one said to be enough
    ("bright enough") by no change of it (``None``)."""
    reason = _HEDGES.sub(" ", reason)  # "kind of dark" is dark, not the "of" of a noun's
    named: dict[str, int | None] = {}
    for said in _WANTED_OR_DENIED.finditer(reason):
        wanted = re.match(r"(?:want|like|need|prefer)", said.group(0), re.IGNORECASE) is not None
        denied = re.match(r"not\b", said.group(0), re.IGNORECASE) is not None
        negated = _NEGATED_BEFORE.search(reason[:said.start()]) is not None  # "I don't like it dark": it is dark
        for setting, way in _states_in(said.group(0)).items():
            if wanted and negated:
                named[setting] = way
            elif (wanted or denied or negated):  # "I want it blurry", "not bright enough", "don't think it's ... enough"
                named.update([_the_other_way(setting, way)])
            else:  # "bright enough"
                named[setting] = None
    named.update(_states_in(_WANTED_OR_DENIED.sub(" ", reason)))
    return named


_NEGATED_BEFORE = re.compile(r"\b(?:(?:do|does|did|is|was|are|were|would|will|could)n['’]?t|ain['’]?t|do\s+not|does\s+not"
                             r"|did\s+not|is\s+not|was\s+not|won['’]?t|will\s+not|would\s+not|never|nobody|no\s+one|none"
                             r"|nothing|neither|hardly|barely|scarcely|seldom|rarely|nowhere\s+near)\s+(?:\S+\s+){0,3}$",
                             re.IGNORECASE)
"""A negation just before a state wanted or said enough: "I didn't like it dark", "it isn't bright enough"."""
_HEDGES = re.compile(r"\b(?:kind|sort)\s+of\b|\b(?:kinda|sorta)\b", re.IGNORECASE)


def _states_in(text: str, *, every_word: bool = True) -> dict[str, int]:
    """The settings ``text``'s words of how the image is name, and the way each is fixed. Without ``every_word``,
    the words that name one setting plainly only: what a reason about other settings than the change is told by
    ("boost the saturation because the colours aren't bright enough", "lower the contrast because the highlights are
    blown out" are remedies, not other settings)."""
    named = {}
    for setting, words in _SETTING_WORDS.items():
        if found := _state_said(words, text):
            named[setting] = direction_of(parse_operations(f"too {found.group(0)}")[0])
    for setting, way, words in _STATES_NO_PROBLEM_NAMES if every_word else ():
        if _state_said(words, text):
            named[setting] = way
    return named


def _state_said(words: str, text: str) -> re.Match[str] | None:
    return re.search(rf"(?<!\bthe\s)(?<!\bof\s)(?<!\bin\s)(?<!\ba\s)\b(?:{words})\b", text, re.IGNORECASE)


_STATES_NO_PROBLEM_NAMES = [
    ("brightness", -1, r"blown[\s-]+out|bleached|overlit"),
    ("brightness", 1, r"pitch[\s-]+black|underlit|darkish"),
    ("contrast", 1, r"flat"),
    ("saturation", 1, r"muted|drab|desaturated"),
    ("saturation", -1, r"vibrant|oversaturated"),
]
"""Words of how the image is that say one setting and the way it is fixed, where "too ..." names no problem the
parser reads ("blown out": the brightness, down): given for the change the other way, they were not checked."""


def _the_other_way(setting: str, way: int) -> tuple[str, int]:
    """The fix of the opposite state: a blur for sharpness wanted, else the same setting the other way."""
    return {"blur": ("sharpen", way), "sharpen": ("blur", way)}.get(setting, (setting, -way))


def _settings_changed(operations: list[Operation]) -> set[str]:
    """The settings ``operations`` change: an effect that takes the colour away changes the saturation too."""
    kinds = {op.kind for op in operations}
    return kinds | ({"saturation"} if kinds & {"grayscale", "sepia"} else set())


_TILTED_WORDS = (r"(?<!\bthe\s)(?<!\ba\s)\b(?:tilt(?:ed|ing)?|crooked|skew(?:ed)?|askew|wonky|lopsided|off[\s-]+kilter"
                 r"|off[\s-]+level|not\s+(?:level|straight))\b")
"""Words of a tilt of the image itself. Not a thing in it ("the crooked tree")."""
_TILTED_IMAGE = re.compile(_TILTED_WORDS, re.IGNORECASE)
"""A tilt of the image itself, in a reason for another change: a quarter turn said elsewhere in the message is taken
for its fix. Not the words of things in it ("the horizon is dark", "the light is slanting")."""
_TILT = re.compile(rf"{_TILTED_WORDS}|(?<!\bthe\s)(?<!\ba\s)\b(?:tilts|horizon)\b"
                   r"|\b(?:it|image|photo|picture|pic)(?:['’]?s|\s+is|\s+was)?\s+(?:(?:a\s+)?(?:bit|little|slightly|kind\s+of)\s+)?"
                   r"(?:lean(?:s|ing)?|slop(?:es|ing)|slant(?:s|ed|ing)?)\b", re.IGNORECASE)
"""A reason about a tilt, given for a quarter turn: straightening it is a turn of a few degrees, not the quarter turn
asked. Leaning, sloping and slanting only of the image ("the slanted roof", "the light is slanting" are things in it)."""
_COURTESY_AT_THE_END = re.compile(r"(?:\s*,?\s*\b(?:thanks|thank\s+you|thx|ty|please|pls|plz|lol|haha|cheers|if\s+possible"
                                  r"|much\s+appreciated|appreciate\s+it)(?:\s+(?:so|very)\s+much|\s+a\s+lot)?\b[!.]*)+\s*$",
                                  re.IGNORECASE)


def _way_unsaid(operation: Operation, request: str) -> bool:
    """Whether a quarter turn or a flip was said without its way in words ("rotate it 90 degrees" says none)."""
    if operation.kind == "rotate":  # "rotate it 270 degrees" and "by -90" say the way in their numbers
        return (operation.value in (90.0, 270.0) and not re.search(_DIRECTION, request, re.IGNORECASE)
                and not re.search(r"270|[-\u2212]\s*90", request))
    return operation.kind == "flip" and not _AXIS_SAID.search(request)


_READING_A_REASON: contextvars.ContextVar[bool] = contextvars.ContextVar("reading_a_reason", default=False)


@contextlib.contextmanager
def _reading_a_reason() -> Iterator[None]:
    token = _READING_A_REASON.set(True)
    try:
        yield
    finally:
        _READING_A_REASON.reset(token)


_SYMBOLS = re.compile("[\u2190-\u21ff\u2300-\u23ff\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff]\ufe0f?")
"""Arrows and emoji, which decorate a move ("undo ↩", "undo 🙏") without saying more."""


def asks_to_undo(text: str) -> bool:
    """Whether ``text`` asks to go back one turn, with or without a reason or a symbol ("undo that because I hate
    it", "undo ↩")."""
    plain = _SYMBOLS.sub(" ", text)
    return is_undo_request(plain) or is_undo_request(reasons_left_out(plain, plain, checked=False))


_THEN_ARROW = re.compile(r"(?<=\S)\s*[→⇒⟶➡➔⟹]\ufe0f?\s*(?=\S)")
"""An arrow between two edits: "then" ("brighten → crop to a square")."""
_TURN_ARROWS = {"↺": "counterclockwise", "⟲": "counterclockwise", "↶": "counterclockwise", "←": "left", "⬅": "left",
                "↻": "clockwise", "⟳": "clockwise", "↷": "clockwise", "🔃": "clockwise", "→": "right", "➡": "right",
                "↕": "vertically", "⇕": "vertically", "⇅": "vertically", "⇵": "vertically", "⬍": "vertically",
                "↔": "horizontally", "⬌": "horizontally", "⇔": "horizontally", "⇆": "horizontally",
                "⇄": "horizontally"}
"""Arrows that say which way to rotate or flip."""
_UP_ARROWS, _DOWN_ARROWS = "↑⬆⤴⇧", "↓⬇⤵⇩"
_ARROW = re.compile("[\u2190-\u21ff\u27f0-\u27ff\u2900-\u297f\u2b00-\u2bff\U0001f500-\U0001f503]\ufe0f?")
_WAY_SAID = re.compile(rf"\b(?:{_DIRECTION}|horizontal(?:ly)?|vertical(?:ly)?|upside[\s-]+down|sideways)\b", re.IGNORECASE)
_TURN_SAID = re.compile(r"\b(?:rotate|turn|spin|flip|mirror)\b", re.IGNORECASE)


def _arrows_as_words(text: str, instruction: str) -> str:
    """``text`` with its arrows read: one between two edits is "then"; one that says which way to rotate or flip is
    that way in words, unless words say it already ("rotate it left ↺"); an arrow up or down against the words
    ("increase the brightness ↓") is asked. Any other arrow only decorates, as an emoji does."""
    text = _THEN_ARROW.sub(" then ", text)
    arrows = [match.group(0)[0] for match in _ARROW.finditer(text)]
    if not arrows:
        return text
    words = _ARROW.sub(" ", text)
    ways = [_TURN_ARROWS[arrow] for arrow in arrows if arrow in _TURN_ARROWS]
    up = re.search(rf"\b(?:{_UP}|brighter|brighten|lighter|lighten|warmer|sharper)\b", words, re.IGNORECASE)
    down = re.search(rf"\b(?:{_DOWN}|darker|darken|dimmer|cooler|duller)\b", words, re.IGNORECASE)
    against = (any(arrow in _DOWN_ARROWS for arrow in arrows) and up) or (any(arrow in _UP_ARROWS for arrow in arrows)
                                                                          and down)
    if against:
        raise UnsupportedInstructionError(f"{quoted(instruction)}: the arrow and the words say opposite ways; say it in "
                                          "words ('make it brighter', 'make it darker').")
    if not ways:
        return re.sub(r" {2,}", " ", words).strip()
    # each clause on its own: "rotate it ↺, then crop to the left half" rotates left
    pieces = re.split(r"(\s*(?:[,;.!?]|\band\b|\bthen\b)\s*)", text)
    return re.sub(r" {2,}", " ", "".join(_arrow_as_way(piece) for piece in pieces)).strip()


def _arrow_as_way(clause: str) -> str:
    """``clause`` with its first rotation or flip arrow as the way it says, where the clause rotates or flips and
    says no way in words ("rotate ↺"); every other arrow only decorates, and goes."""
    words = _ARROW.sub(" ", clause)
    first = next((match for match in _ARROW.finditer(clause) if match.group(0)[0] in _TURN_ARROWS), None)
    if first is None or not _TURN_SAID.search(words) or _WAY_SAID.search(words):
        return words
    said = f" {_TURN_ARROWS[first.group(0)[0]]} "  # where the arrow stood: "rotate ↻ twice"
    return _ARROW.sub(" ", clause[:first.start()]) + said + _ARROW.sub(" ", clause[first.end():])


_THEN_FIRST = re.compile(r"\bthen\s*,?\s*first\b", re.IGNORECASE)
""""brighter, then first rotate it": after it, or before it?"""

_RULE_SAID = re.compile(
    r"\b(?:from\s+now\s+on|from\s+here\s+on|going\s+forward|for\s+the\s+rest|always)\b"
    rf"|\b(?:keep(?:s|ing)?|stays?|remains?)\b.*(?:\bsquare\b|{GRAYSCALE_WORDS})", re.IGNORECASE)
"""A clause that says a rule for the rest of a session (photo_rules reads it): never moved, nor given a 'first'."""


def _first_said_alone_joined(parts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """"crop it, but first, rotate it", "crop it. Before that, rotate it": the 'first' set off by a comma is the next
    clause's."""
    joined: list[tuple[str, str]] = []
    for clause, joiner in parts:
        # not onto a rule ("..., but first, from now on, keep it b&w"): its "from now on" must stay its own
        if joined and _FIRST_ALONE.fullmatch(joined[-1][0]) and not _RULE_SAID.search(clause):
            clause, joiner = f"{joined[-1][0]} {clause}", joined.pop()[1]
        joined.append((clause, joiner))
    return joined


_FIRST_ALONE = re.compile(r"(?:first(?:\s+of\s+all)?|before\s+that|beforehand)", re.IGNORECASE)


_SAID_FIRST = re.compile(
    r"^(?:first(?:\s+of\s+all)?|before\s+that|beforehand)\b"
    r"|\b(?:first(?:\s+of\s+all)?|beforehand|before\s+that)(?:\s+(?:please|pls|plz|thanks|thank\s+you))*\W*$",
    re.IGNORECASE)
"""A change said to come first, wherever it is said: "crop it, but first rotate it", "crop it and rotate it first"."""


def _said_first_first(clauses: list[str]) -> list[str]:
    """``clauses`` in the order to apply them: one said to come first ("..., but first rotate it left") before those
    said ahead of it. 'first' said of the first clause only is the order written anyway."""
    later_firsts = [clause for clause in clauses[1:] if _SAID_FIRST.search(clause)]
    if not later_firsts or any(_RULE_SAID.search(clause) for clause in later_firsts):  # "..., and keep it square
        return clauses                                                                  # first": a rule, not an order
    in_order = "say the changes in the order to make them ('rotate it left, then crop to the left half')"
    if _SAID_FIRST.search(clauses[0]) or len(later_firsts) > 1:
        said = "', '".join(clause for clause in clauses if _SAID_FIRST.search(clause))
        raise InvalidInstructionError(f"'{said}': each is said to come first; {in_order}.")
    if len(clauses) > 2:  # "crop it, but first rotate it and flip it": is the flip first too? Nothing is guessed.
        raise InvalidInstructionError(f"'{later_firsts[0]}' is said to come first among {len(clauses)} changes, and "
                                      f"which of the others go with it is not said; {in_order}.")
    # "first" is filler to the reader; "before that" is not, and is said now by the order
    moved = [re.sub(r"\b(?:before\s+that|beforehand)\b", " ", clause, flags=re.IGNORECASE).strip() for clause in later_firsts]
    return moved + [clause for clause in clauses if clause not in later_firsts]


_SETTING_BY_HALF = re.compile(
    r"\b(?P<setting>" + "|".join(pattern for pattern, _, _ in _SETTINGS.values()) + r")\s+by\s+(?:a\s+|one\s+)?half\b",
    re.IGNORECASE)
""""lower the contrast by half": by 50% ("reduce the size by half" is read by the resize rules)."""

_ONE_UNIT = re.compile(r"\b(?:a|one)\s+(?P<unit>percent|per\s?cent|pixel)\b", re.IGNORECASE)
"""Not "a degree": "a degree warmer" is an idiom, and a rotation by one is refused as small anyway."""

_SIZE_KEEPING_SHAPE = re.compile(
    r"\b(?:to\s+)?(?P<width>\d+)\s*(?:[x×]|by)\s*(?P<height>\d+)(?:\s*(?:px|pixels))?\s*,?\s+(?:while\s+|and\s+|but\s+)?"
    r"(?:keep(?:ing)?|preserv(?:e|ing)|maintain(?:ing)?)\s+(?:the\s+|its\s+)?(?:aspect\s+ratio|proportions|shape)\b",
    re.IGNORECASE)
""""resize to 800x600 keeping the aspect ratio": both sides can hold only where the shapes agree; what is meant is the
largest size of the image's shape within 800x600."""

_KEEPING_SHAPE = (r"\s*,?\s+(?:while\s+|and\s+|but\s+)?(?:keep(?:ing)?|preserv(?:e|ing)|maintain(?:ing)?)\s+"
                  r"(?:the\s+|its\s+)?(?:aspect\s+ratio|proportions|shape)\b")
_SIDES_KEEPING_SHAPE = re.compile(
    rf"\b(?P<first>\d+)\s*(?:px|pixels)?\s+(?P<first_side>wide|tall|high)\s*,?\s+(?:and\s+|by\s+)?"
    rf"(?P<second>\d+)\s*(?:px|pixels)?\s+(?P<second_side>wide|tall|high)\b{_KEEPING_SHAPE}", re.IGNORECASE)
"""The same said side by side: "resize to 300 px wide and 200 px tall keeping the aspect ratio"."""


def _fit_within_sides(match: re.Match[str]) -> str:
    sides = {_SIDE_OF[match.group(f"{which}_side").lower()]: match.group(which) for which in ("first", "second")}
    if len(sides) != 2:  # "300 wide and 200 wide": left for the parser to refuse as said
        return match.group(0)
    return f"fit within {sides['width']}x{sides['height']}"


_CONTRACTIONS = re.compile(r"\b(?:(?P<i>i)['’]d|(?P<let>let)['’]s)\b", re.IGNORECASE)
""""I'd like it brighter", "let's make it warmer": said out, their words are filler."""


def _uncontracted(match: re.Match[str]) -> str:
    return f"{match.group('i')} would" if match.group("i") else f"{match.group('let')} us"


_POLITE_REQUEST = re.compile(
    r"\b(?:(?:is|would)\s+it\s+(?:be\s+)?possible\s+(?:for\s+you\s+)?to|do\s+you\s+think\s+(?:you|we)\s+(?:could|can)"
    r"|i\s+(?:was|am)\s+wondering\s+if\s+you\s+(?:could|can)|(?:is\s+there\s+)?any\s+chance\s+you\s+(?:could|can)"
    r"|(?:would|do)\s+you\s+mind\s+(?P<gerund>[a-z]+ing)\b)", re.IGNORECASE)
"""A request asked as a question ("is it possible to crop it?", "would you mind flipping it?"): what it asks is
the instruction that follows, as in "can you crop it?"."""
_VERBS_SAID_POLITELY = frozenset("""
    make turn rotate flip mirror crop cut trim resize scale shrink enlarge upscale downscale brighten darken lighten
    warm cool blur sharpen soften increase decrease reduce raise lower boost add remove convert change give apply
    adjust saturate desaturate invert set bump crank dial tone halve double straighten do repeat""".split())


_COURTESY_AMPLIFIED = re.compile(
    r"\b(?P<thanks>thanks|thank\s+you|thx|ty)\s+(?:(?:so|very)\s+much|a\s+(?:lot|bunch|ton|million)|loads|heaps|lots)\b"
    r"|\b(?P<wish>would|do|should)\s+(?:really\s+)?(?:very\s+)?much\s+(?P<verb>like|love|prefer|appreciate)\b"
    r"|\b(?P<liked>like|love)\s+(?P<it>it|this|that)\s+(?:very\s+)?much\b(?=\s*(?:[^\w\s]|$)|\s+(?:so|now|and|but|then|please)\b)"
    r"|\bby\s+the\s+way\b|\bbtw\b", re.IGNORECASE)
"""Courtesy whose words also say an amount ("thanks so much", "I'd very much like", "by the way"): the amount is the
courtesy's, not the edit's."""


def plain_request(text: str) -> str:
    """``text`` with a request asked as a question said plainly: "would you mind flipping it?" is "flip it?", and
    courtesy without the words that would read as an amount: "brighter, thanks so much" is "brighter, thanks"."""
    return _POLITE_REQUEST.sub(_as_asked, _COURTESY_AMPLIFIED.sub(_courtesy_alone, text))


def _courtesy_alone(match: re.Match[str]) -> str:
    if match.group("thanks"):
        return match.group("thanks")
    if match.group("wish"):
        return f"{match.group('wish')} {match.group('verb')}"
    if match.group("liked"):
        return f"{match.group('liked')} {match.group('it')}"
    return " "


def _as_asked(match: re.Match[str]) -> str:
    gerund = match.group("gerund")
    if gerund is None:
        return ""
    # a verb no photo operation is said with is left as said, to be refused
    return _verb_of(gerund, _VERBS_SAID_POLITELY) or match.group(0)


def _verb_of(gerund: str, verbs: frozenset[str]) -> str | None:
    """The verb of ``verbs`` that ``gerund`` is said with, if any."""
    stem = gerund[:-3].lower()  # "making" -> "mak": the verb is "make"; "flipping" -> "flipp": it is "flip"
    return next((verb for verb in (stem, stem + "e", stem[:-1]) if verb in verbs), None)


_JOINING_WORDS = frozenset({"and", "then", "but", "plus"})


_EDIT_VERB_WORDS = frozenset("""
    make turn change add remove erase delete replace put paint color colour recolor recolour rotate flip mirror crop
    cut trim resize scale shrink enlarge brighten darken lighten blur sharpen soften fix enhance convert give apply
    adjust move place insert draw swap clean restore retouch warm cool increase decrease reduce raise lower boost
    straighten edit transform set fill extend blend spin invert saturate desaturate""".split())
"""Verbs an edit is asked with, exact or not."""
_ACKNOWLEDGED_BEFORE_A_REQUEST = re.compile(
    rf"^(?:(?:{'|'.join(sorted(ACKNOWLEDGEMENT_WORDS))})\b\s*)+(?:[-\u2013\u2014]\s*)?"
    rf"(?=now\s+\w|(?:can|could|would|will)\s+you\b|please\s+\w|(?:{'|'.join(sorted(_EDIT_VERB_WORDS - {'cool'}))})\b)",
    re.IGNORECASE)
"""Words about the last result run into the request with no comma: "ok cool now flip it", "cool can you make it
brighter?", "cool - now crop it", "cool flip it". What follows them ("now", "can you", "please", a verb of its
own) is no cooling's: a cooling has no verb after it ("cool it down")."""


def _without_acknowledgements(parts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``parts`` without the clauses that only acknowledge the last result: leading ones ("Cool,", "ok great!",
    "cool and now ..."), each set off by punctuation from what follows, not joined to it by a word ("cool and
    brighten" cools), and a last one set off by punctuation ("flip it. cool")."""
    start = 0
    while start < len(parts):
        words = _words(parts[start][0])
        following = parts[start + 1] if start + 1 < len(parts) else None
        # "cool and brighten": an edit; "cool and now flip it", "cool now and brighten it": words about the result
        joined_on = (following is not None and following[1] in _JOINING_WORDS and not _starts_with_now(following[0])
                     and "now" not in words)
        if not words or not set(words) <= ACKNOWLEDGEMENT_WORDS or joined_on:
            break
        start += 1
    if start == len(parts):  # "cool!", "perfect, thanks": nothing asked
        return []
    first = _ACKNOWLEDGED_BEFORE_A_REQUEST.sub("", parts[start][0])
    return _without_a_last_acknowledgement([(first, "")] + parts[start + 1:])


def _starts_with_now(clause: str) -> bool:
    return re.match(r"now\b", clause, re.IGNORECASE) is not None


def _without_a_last_acknowledgement(parts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``parts`` without a last clause of words about the result after punctuation: "flip it. cool", "flip it,
    cool thanks". A lone "cool" after a comma ("flip it, cool") may be a thank-you or a cooling, so it is asked."""
    thanked = False  # "make it brighter, cool, thanks": a thank-you after it makes the "cool" one too
    while len(parts) >= 2:  # each from the end
        last, joiner = parts[-1]
        words = _words(last)
        # "crop 10% from the left, right": a side, which the crop before it shares
        if joiner in _JOINING_WORDS or not words or not set(words) <= ACKNOWLEDGEMENT_WORDS or words == ["right"]:
            return parts
        thanked = thanked or bool(set(words) & COURTESY_WORDS)
        if "cool" in words and not re.search(r"[.!?]", joiner) and not thanked:
            before = ", ".join(clause for clause, _ in parts[:-1])
            raise InvalidInstructionError(
                f"{quoted(before + ', ' + last)}: is the last 'cool' said of the result, or a cooling? To cool it too, "
                f"say '{before}, and make it cooler'; otherwise leave 'cool' out.")
        parts = parts[:-1]
    return parts


_FACTOR = r"(?P<factor>twice|double|thrice|triple|halve|half|(?P<times>\d+(?:\.\d+)?)\s*(?:x|times))"
_MULTIPLE_OF_A_SETTING = re.compile(
    rf"\b{_FACTOR}\s+(?:(?:as\s+)?(?P<adjective>bright(?:er)?|saturated|colou?rful|vivid|warm(?:er)?)\b"
    r"|(?:as\s+much\s+)?(?:the\s+)?(?P<noun>brightness|contrast|saturation|warmth)\b)", re.IGNORECASE)
_SETTING_OF = {"bright": "brightness", "saturated": "saturation", "colorful": "saturation", "colourful": "saturation",
               "vivid": "saturation", "warm": "warmth"}
_FACTORS = {"twice": 2.0, "double": 2.0, "thrice": 3.0, "triple": 3.0, "halve": 0.5, "half": 0.5}


def multiples_as_levels(text: str) -> str:
    """An amount said as a multiple, as the level it is: "twice as bright", "2x brighter" and "double the
    brightness" are the brightness at 200% of what it is ("the brightness to 200%"), "half as saturated" 50%.

    >>> multiples_as_levels("make it twice as bright and halve the saturation")
    'make it the brightness to 200% and the saturation to 50%'
    """
    def as_level(match: re.Match[str]) -> str:
        factor = match.group("factor").lower()
        said = (match.group("adjective") or "").lower()
        times = float(match.group("times")) if match.group("times") else _FACTORS[factor]
        if said.endswith("er") and times <= 1:
            return match.group(0)  # "0.5x brighter", "half brighter": no level says that, and darker is not meant
        setting = _SETTING_OF.get(said.removesuffix("er")) or (match.group("noun") or "").lower()
        return f"the {setting} to {100 * times:g}%"

    return _MULTIPLE_OF_A_SETTING.sub(as_level, text)


def _share_amounts(parts: list[tuple[str, str]]) -> list[str]:
    clauses: list[str] = []
    joined: list[bool] = []  # whether each clause was joined to the one before by "and" or a comma
    made_gentle: list[int] = []
    for clause, joiner in parts:
        if clauses and joiner == "but" and _NOT_SO.match(clause) and _amount_free(clauses[-1]):
            if clause.lower().split()[-1] == "much":  # "brighter and warmer but not too much": both gentle
                _say_amount_for_the_last(clauses, joined, "a bit")
            else:  # "brighter and warmer but not so warm": a gentle warming, of the change it names (said once
                # the amounts are shared: "a bit" said of the first is not the second's too)
                made_gentle.append(_clause_named(clauses, joined, clause.split()[-1]))
            continue
        if _THANKS_AGAIN.match(clause):  # "crop it to a square, thanks again": courtesy, no repeat
            continue
        if (not _matches(clause)[0] and not _meaningful_words(clause) and not _REFERS_BACK.search(clause)
                and not _ASKS_UNREAD.search(clause)):
            if _FEELING_SAID.search(clause):  # "make it warmer, I like it a lot": of the person, not the change
                continue
            if clauses and _has_amount(clause) and _degree_free(clauses[-1]):  # "make it warmer, just a little"
                _say_amount_for_the_last(clauses, joined, clause)
            elif clauses and _has_amount(clause) and _all_or_nothing(clauses[-1]):  # "sepia, just a little"
                raise InvalidInstructionError(f"'{clauses[-1]}, {clause}': this operation is all or nothing, so it has "
                                              "no amount; say it without one (for a little less colour: 'less saturated').")
            continue  # courtesy ("thanks!"), or an amount with nothing to apply to: nothing to do
        if clauses and _AXIS_ALONE.match(clause) and _FLIP_SAID.search(clauses[-1]) and not _AXIS_SAID.search(clauses[-1]):
            clauses[-1] = f"{clauses[-1]} {clause}"  # "flip it, vertically": which way that flip goes, not a second one
            continue
        if clauses and joiner in ("and", ","):
            said_alone = re.sub(r"^also\s+", "", clause, flags=re.IGNORECASE)  # "... and also the contrast"
            shared = _with_verb_of(clauses[-1], said_alone)
            if shared != said_alone:
                clause = shared
                if _ANY_SETTING.match(said_alone):  # "by 10% and the contrast": 10% too
                    clause = _with_amount_of(clauses[-1], clause)
        restated = _restated(clauses[-1], clause) if clauses and joiner not in _JOINING_WORDS else None
        if restated == "later":  # "make it brighter, much brighter": one change, as said the second time
            clauses.pop()
            joiner = "," if joined.pop() else joiner
        elif restated == "earlier":  # "brighter by 30%, brighter!": as said with its amount
            continue
        clauses.append(clause)
        joined.append(joiner in ("and", ","))
    for i in range(1, len(clauses)):  # "blur and sharpen it twice": both twice, or the sharpen only?
        if joined[i] and _TRAILING_REPEAT.search(clauses[i]) and not (
                _OBJECT.search(clauses[i - 1]) and _OBJECT.search(clauses[i])):  # each said whole: "... and rotate it twice"
            raise InvalidInstructionError(f"'{clauses[i - 1]} and {clauses[i]}': say the count with each change it "
                                          "is for ('blur it twice and sharpen it twice').")
    for i in range(1, len(clauses)):  # "slightly brighter and warmer", "10% brighter and warmer": the amount goes on
        said = clauses[i - 1]
        hedge = _LEADING_PERCENT.search(said) if re.search(_PERCENT, said) else _HEDGE.search(said)
        if (joined[i] and hedge and _takes_amounts(clauses[i - 1])
                and _amount_free(clauses[i]) and not _states_problems(clauses[i - 1]) and not _states_problems(clauses[i])):
            clauses[i] = f"{hedge.group(0)} {clauses[i]}"
    for i in range(len(clauses) - 1, 0, -1):  # "brighter and warmer by 10%": the amount goes back
        trailing = re.search(r"\bby\s+" + _PERCENT + r"\s*$", clauses[i], re.IGNORECASE)
        if not (trailing and _takes_amounts(clauses[i])):  # "brighter and resize by 50%": the 50% is the resize's
            continue
        j = i
        while j > 0 and joined[j] and _amount_free(clauses[j - 1]):
            clauses[j - 1] = f"{clauses[j - 1]} {trailing.group(0)}"
            j -= 1
    for index in made_gentle:
        clauses[index] = f"{clauses[index]} a bit"
    return clauses


_SAID_AS_ANOTHER = re.compile(r"\b(?:again|another|once\s+more|further|also|as\s+well|even|still|yet|now|next"
                              r"|then|twice|times)\b|\b(?:too|more)\W*$", re.IGNORECASE)
"""What makes a change said twice two changes: "brighter, then brighter again", "blur it, blur it more" (not "more
contrast, more contrast", where "more" says the change)."""
_RESTATABLE = frozenset({*PERCENT_KINDS, "blur", "sharpen", "rotate"})


def _restated(before: str, clause: str) -> str | None:
    """Whether ``clause``, set off by punctuation from ``before``, says its one change again: then which of the two
    says it as meant, "earlier" or "later" (the one that says how much, or the direction of a rotation): "make it
    brighter, much brighter", "it's too dark, way too dark", "rotate it, rotate it left". ``None`` for two changes.
    Said with an amount each time ("brighter by 10%. brighter by 20%"), it is refused: one change, or two?"""
    if _SAID_AS_ANOTHER.search(clause):
        return None
    try:
        (first, first_stated), (second, second_stated) = parse_clause_read(before, before), parse_clause_read(clause, clause)
    except EditAgentError:
        return None
    if first_stated != second_stated:  # "it's a bit too dark, brighten it": the fix says how (see without_restated_problems)
        return None
    if len(first) != 1 or len(second) != 1 or first[0].kind != second[0].kind or first[0].kind not in _RESTATABLE:
        return None
    if first[0].kind == "rotate":  # said first with no way to go, the second says it; else each is a quarter turn
        return "later" if not _way_of_turn_said(before) and _way_of_turn_said(clause) else None
    if first[0] == second[0]:  # "a bit brighter, a bit brighter": said again
        return "later"
    if direction_of(first[0]) != direction_of(second[0]):
        return None
    if _degree_free(before):
        return "later"
    if _degree_free(clause):
        return "earlier"
    raise InvalidInstructionError(f"'{before}' and '{clause}' say the same change twice, each with its amount: say "
                                  "it once with the amount you want, or add 'again' for a second one.")


def _way_of_turn_said(clause: str) -> bool:
    return bool(re.search(_DIRECTION, clause, re.IGNORECASE) or re.search(r"\d", clause))


def _with_amount_of(previous: str, clause: str) -> str:
    """A setting said alone after a change said with its amount, sharing its verb, shares that amount as well:
    "increase the brightness by 10% and the contrast" increases both by 10%."""
    amount = re.search(r"\bby\s+" + _PERCENT + r"\s*$", previous, re.IGNORECASE)
    if amount is None or not _takes_amounts(previous) or not _amount_free(clause):
        return clause
    also = re.search(r"\s+(?:too|as\s+well|also)\s*$", clause, re.IGNORECASE)  # "... and the contrast too"
    at = also.start() if also else len(clause)
    return f"{clause[:at]} {amount.group(0)}{clause[at:]}"


def _clause_named(clauses: list[str], joined: list[bool], adjective: str) -> int:
    """Which of the last clauses joined together "not so <adjective>" is about: "brighter and warmer but not too
    bright" is about the first. The last one where none names it."""
    stem = adjective.lower()[:4]  # "bright" in "brighter", "blurry" in "blur it", "warm" in "warm it up"
    index = len(clauses) - 1
    while True:
        if re.search(rf"\b{re.escape(stem)}", clauses[index], re.IGNORECASE):
            return index
        if index == 0 or not joined[index]:
            return len(clauses) - 1
        index -= 1


def _say_amount_for_the_last(clauses: list[str], joined: list[bool], amount: str) -> None:
    """An amount said after the changes it is for ("brighter and warmer, but not too much"): it goes to the last
    clause and to each one joined before it that names no amount either."""
    first = len(clauses) - 1
    while first > 0 and joined[first] and _degree_free(clauses[first - 1]):
        first -= 1
    clauses[first:] = [f"{said} {amount}" for said in clauses[first:]]


_LEADING_PERCENT = re.compile(_PERCENT + r"(?=\s+(?:more\s+|less\s+)?[a-z]+er\b)", re.IGNORECASE)
"""An amount said before a comparative, as a hedge is ("make it 10% brighter"), not after the change ("brighter by
10%", whose amount goes back to the changes before it instead)."""
_TRAILING_REPEAT = re.compile(r"\b(?:twice|\d+\s+times)\W*$", re.IGNORECASE)
_OBJECT = re.compile(r"\b(?:it|the\s+(?:image|photo|picture|pic))\b", re.IGNORECASE)
_NOT_SO = re.compile(r"^not\s+(?:so|too|that|as)\s+(?:much\s+)?[a-z]+$", re.IGNORECASE)
_FEELING_SAID = re.compile(r"\b(?:i|we)\s+(?:really\s+)?(?:do\s+)?(?:like|love|adore)\s+(?:it|this|that|the)\b",
                           re.IGNORECASE)
"""A clause of filler that says the person likes the result ("I like it a lot"): its degree is the liking's, not an
amount for the change before it (as "make it warmer, like a lot" and "..., I want just a little" are)."""
_THANKS_AGAIN = re.compile(r"^(?:thanks|thank\s+you|thx)\s+again\W*$", re.IGNORECASE)
_ASKS_UNREAD = re.compile(r"\b(?<!in\s)(?:turn|filter|effect|tone|tones)\b", re.IGNORECASE)
"""Filler words that still ask for something ("and turn it", "and apply a filter", "and tone it down"): a clause of
them is refused as not read, never dropped as courtesy ("in turn" asks nothing)."""
_REFERS_BACK = re.compile(r"\b(?:again|once\s+more|more)\b", re.IGNORECASE)
"""A clause with no operation that refers back ("again but warmer") is refused, never dropped as filler."""


def _takes_amounts(clause: str) -> bool:
    """Whether ``clause`` is made of changes that take an amount only (brighter, more contrast...)."""
    names = [name for _, _, name, _ in _matches(clause)[0]]
    return bool(names) and all(_takes_amount(name) for name in names)


def _states_problems(clause: str) -> bool:
    return any(name.startswith("problem:") for _, _, name, _ in _matches(clause)[0])


_ANY_SETTING = re.compile(r"(?:the\s+)?(?:" + "|".join(noun for noun, _, _ in _SETTINGS.values()) + r")\b", re.I)
_LAST_VERB = re.compile(rf"\b({_UP}|{_DOWN})\b(?!.*\b(?:{_UP}|{_DOWN})\b)", re.IGNORECASE)


_FLIP_SAID = re.compile(r"\b(?:flip|mirror)\b", re.IGNORECASE)
_AXIS_ALONE = re.compile(r"^(?:horizontally|vertically|horizontal|vertical)$", re.IGNORECASE)
_CROP_MARGIN_SAID = re.compile(r"\b(crop|trim|cut)\b.*?" + _MARGIN, re.IGNORECASE)
_SIDE_ALONE = re.compile(r"^(?:(?:from|off)\s+)?(?:the\s+)?(?:left|right|top|bottom)(?:\s+(?:sides?|edges?))?$", re.I)
_SIDE_WITH_MARGIN = re.compile(r"^" + _MARGIN + r"\s+(?:from|off)\s+(?:the\s+)?(?:left|right|top|bottom)\b", re.I)


def _with_verb_of(previous: str, clause: str) -> str:
    """A clause that names only what changes takes the verb of the one before: "increase the brightness and
    the contrast", "crop 100px from the left and right", "trim 20px off the top and 10px off the bottom"."""
    verb = _LAST_VERB.search(previous)
    if verb and _ANY_SETTING.match(clause) and not _matches(clause)[0]:
        return f"{verb.group(1)} {clause}"
    if _FLIP_SAID.search(previous) and _AXIS_ALONE.match(clause):
        return f"flip {clause}"
    crop = _CROP_MARGIN_SAID.search(previous)
    if crop and _SIDE_ALONE.match(clause):
        side = re.sub(r"^(?:from|off)\s+", "", clause, flags=re.IGNORECASE)
        return f"{crop.group(1)} {crop.group(2)} {crop.group(3)} from {side}"
    if crop and _SIDE_WITH_MARGIN.match(clause):
        return f"{crop.group(1)} {clause}"
    return clause


def _meaningful_words(text: str) -> list[str]:
    """The words of ``text`` that say something: not filler, courtesy or a degree ("not too much")."""
    text = re.sub(r"\b(?:as\s+well|too)\b(?=(?:\s+(?:please|pls|plz|thanks|thank\s+you|thx))*\s*$)", " ",
                  _HEDGE.sub(" ", text), flags=re.IGNORECASE)  # "... too (please)": also
    return [word for word in _words(text) if word not in FILLER_WORDS | COURTESY_WORDS]


_ORDINAL_SIGNS = str.maketrans("ºª", "  ")
"""Typed for a degree sign ("rotate 90º") on Spanish and Portuguese keyboards: no word."""


def _words(text: str) -> list[str]:
    # Letters of every script: a word in Cyrillic or Chinese ("но не слишком", "不要") is a part of the instruction
    # this parser did not read, to refuse, not to drop. Emoji, punctuation and signs such as "½" or "²" are no words.
    tokens = re.findall(r"[^\W_]+", text.lower().translate(_ORDINAL_SIGNS))
    return [token for token in tokens if token.isascii() or any(char.isalpha() for char in token)]


def _has_amount(clause: str) -> bool:
    return bool(re.search(_PERCENT, clause, re.IGNORECASE) or _HEDGE.search(clause))


def _amount_free(clause: str) -> bool:
    """Whether ``clause`` is made of changes that take an amount (brighter, more contrast...) and names none."""
    return _takes_amounts(clause) and not _has_amount(clause)


def _all_or_nothing(clause: str) -> bool:
    names = [name for _, _, name, _ in _matches(clause)[0]]
    return bool(names) and all(name in _ALL_OR_NOTHING for name in names)


def _degree_free(clause: str) -> bool:
    """Whether ``clause`` is made of changes that a hedge says how much of (brighter, blur, sharpen...) and says none:
    "sharpen it, a lot" sharpens strongly."""
    names = [name for _, _, name, _ in _matches(clause)[0]]
    return (bool(names) and not _has_amount(clause)
            and all(_takes_amount(name) or name in ("blur", "sharpen") for name in names))


_ALL_OR_NOTHING = frozenset({"sepia", "invert", "grayscale"})


def _takes_amount(name: str) -> bool:
    handler_name = name.split(":", 1)[1] if name.startswith("problem:") else name
    if ":" in handler_name:  # a setting: blur and sharpness take none
        return handler_name.split(":")[0] in _LEVELS
    return handler_name in _SIGNED


def parse_clause(clause: str, instruction: str) -> list[Operation]:
    """The operations of one clause of ``instruction``, or raise as :func:`parse_operations` does."""
    operations, _ = parse_clause_read(clause, instruction)
    return operations


def parse_clause_read(clause: str, instruction: str, *, everyday: bool = True) -> tuple[list[Operation], bool]:
    """:func:`parse_clause`, and whether the clause only states a problem ("it's too warm"), which an
    operation elsewhere in the instruction may already fix ("too warm, cool it down a bit"). A clause read as
    typed is read so; one that is not, with its multiples said as levels ("twice as bright"), where it then reads.
    A refusal is the typed clause's, in its own words."""
    try:
        return _parse_clause_read(clause, instruction, everyday=everyday)
    except EditAgentError as as_typed:
        as_levels = multiples_as_levels(clause)
        if as_levels == clause:
            raise
        try:
            return _parse_clause_read(as_levels, instruction, everyday=everyday)
        except EditAgentError:
            raise as_typed from None


_EXPONENT = re.compile(r"\d(?:\.\d+)?e[-+]?\d+\b", re.IGNORECASE)


def _parse_clause_read(clause: str, instruction: str, *, everyday: bool) -> tuple[list[Operation], bool]:
    if (exponent := _EXPONENT.search(clause)) is not None:  # its "-3" read as a minus sign ("1e-3%")
        raise InvalidInstructionError(f"{quoted(clause)} writes a number with an exponent ({exponent.group(0)}); write "
                                      "it as a plain number (e.g. 'brighter by 0.5%').")
    found, remaining = _matches(clause, _COMPILED if everyday else _COMPILED_PLAIN)
    if _PERCENT_RANGE.search(clause):  # "20-30% brighter": not a minus sign, and not one amount
        raise InvalidInstructionError(f"{quoted(clause)} gives a range; say one amount (e.g. 'brighter by 25%').")
    if _NEGATIVE_PERCENT.search(remaining) or _direction_and_minus_sign(clause, remaining):
        # The words give the direction; a minus sign on top of them is a contradiction, never a choice.
        raise InvalidInstructionError(
            f"Give the amount without a minus sign and say the direction in words, e.g. 'darker by 20%' ({quoted(clause)})."
        )
    percent = re.search(_PERCENT, remaining, re.IGNORECASE)
    if percent and found and not any(_takes_amount(name) for _, _, name, _ in found):
        # "sepia 50%", "blur 30%": no partial version of these exists; doing it whole is not what was asked
        raise InvalidInstructionError(f"{quoted(clause)}: this operation has no {percent.group(0)} of it; say it without "
                                      "the amount.")
    gentle = _GENTLE.search(remaining)
    if gentle and found and all(name in _ALL_OR_NOTHING for _, _, name, _ in found):
        # "a slight sepia tone", "invert it slightly": done whole, it would be more than was asked
        raise InvalidInstructionError(f"{quoted(clause)}: this operation is all or nothing, so it has no "
                                      f"'{gentle.group(0)}' of it; say it without that (for a little less colour: 'less saturated').")
    if percent:  # blanked, not cut: positions in ``remaining`` stay those of ``clause``
        remaining = _blanked(remaining, percent)
    repeat = _repeat_in(clause, remaining, found)
    if repeat:
        remaining = _blanked(remaining, repeat)
    if not found or _meaningful_words(remaining):
        raise _unsupported(instruction, clause)
    for start, _, name, match in found:
        too = name.startswith("problem:") and match.group("how").lower() in ("too", "overly")
        if too and _ASKS_FOR_THE_PROBLEM.search(clause[:start]):
            raise _unsupported(instruction, clause)  # "make it too warm": more, or less? Never guessed.
        if name.startswith("problem:") and _STATED_NOT_SO.match(match.group(0)) and _STATED_FIRST.fullmatch(clause[:start]):
            said = re.split(r"\s+", match.group(0))[-1].lower()  # "it's not so bright": too dark, or less wanted?
            raise InvalidInstructionError(f"{quoted(clause)}: is it not {said} enough, or should it be less {said}? Say "
                                          f"the change to make ('make it more {said}' or 'make it less {said}').")
    operations = [_operation(clause, found, i) for i in range(len(found))]
    if len(fixed_as_said := _without_problems_fixed_as_said(found, operations, clause)) < len(found):
        # read again without the problem's words: its amounts ("a bit too dark so brighten it a lot", "too dark so
        # 10% brighter") are not the change's
        clause = functools.reduce(_blanked, [entry[3] for entry in found if entry not in fixed_as_said], clause)
        found = fixed_as_said
        operations = [_operation(clause, found, i) for i in range(len(found))]
    if COLOUR_SAID.search(clause) and all(operation.kind in _NOT_OF_COLOURS for operation in operations):
        # "soften the colours", "flip the colours": not a blur or a flip ("crop it with warmer colours" says one)
        raise _unsupported(instruction, clause)
    # "black and white (grayscale)": one conversion named twice, not two
    operations = [operation for i, operation in enumerate(operations)
                  if not (i and operation.kind == "grayscale" and operations[i - 1] == operation)]
    if repeat:
        operations = _repeated(operations, repeat, clause)
    stated = all(name.startswith("problem:") and match.group("how").lower() in ("too", "overly")
                 for _, _, name, match in found)
    return operations, stated


def _without_problems_fixed_as_said(found: list[tuple[int, int, str, re.Match[str]]], operations: list[Operation],
                                    clause: str) -> list[tuple[int, int, str, re.Match[str]]]:
    """A clause's matches, less a stated problem that a change said in the same clause fixes the same way: "it's too
    dark so brighten it" and "brighten it so it's less dark" brighten once, as said. A problem said with a change
    that does not fix it ("it's too dark so increase the contrast", "too dark so darken it") is asked."""
    said = [(op.kind, direction_of(op)) for (_, _, name, _), op in zip(found, operations, strict=True)
            if not name.startswith("problem:")]
    if not said:
        return found
    unfixed = [match.group(0) for (_, _, name, match), op in zip(found, operations, strict=True)
               if name.startswith("problem:") and (op.kind, direction_of(op)) not in said]
    if unfixed:
        raise InvalidInstructionError(f"{quoted(clause)} says what is wrong ('{unfixed[0]}') and a change that does "
                                      "not fix it: say each change to make ('make it brighter and increase the "
                                      "contrast').")
    return [entry for entry in found if not entry[2].startswith("problem:")]


COLOUR_SAID = re.compile(r"\b(?:colou?rs?|tones?|hues?|tints?)\b", re.IGNORECASE)
_NOT_OF_COLOURS = frozenset({"rotate", "flip", "crop", "resize", "blur", "sharpen"})
"""Operations on the image's geometry or detail: said of its colours ("flip the colours", "soften the tones"),
they mean something else (a hue shift, an inversion, less saturation), which is never guessed."""


_DIRECTION_WORDS = frozenset({"increase", "decrease", "raise", "lower", "reduce", "boost", "more", "less"})


def _direction_and_minus_sign(clause: str, remaining: str) -> bool:
    """"increase brightness by -20%": the signed setting ("brightness -20%") took the amount, and only the word
    that contradicts its sign is left over."""
    left = _meaningful_words(remaining)
    return bool(left) and set(left) <= _DIRECTION_WORDS and _NEGATIVE_PERCENT.search(clause) is not None


_REPEAT = re.compile(r"\b(?:twice|(\d+)\s+times)\b(?!\s+(?:as|the)\b)", re.IGNORECASE)
"""Said after the operations to do more than once ("rotate it twice", "blur it 3 times"), not a size ("twice as
big", "2 times the size")."""


def _blanked(text: str, match: re.Match[str]) -> str:
    return text[: match.start()] + " " * (match.end() - match.start()) + text[match.end():]


def _repeat_in(clause: str, remaining: str, found: list[tuple[int, int, str, re.Match[str]]]) -> re.Match[str] | None:
    """A count that no rule took ("rotate it twice", not "upscale 2 times"), said after what it repeats: "make it
    2 times brighter" is an amount, not two edits, and so may be a count of a named setting ("increase the
    contrast 3 times"): neither is read as a repeat."""
    repeat = _REPEAT.search(remaining)
    if (repeat and found and found[0][0] < repeat.start() and not _meaningful_words(remaining[repeat.end():])
            and not _multiplies(clause, repeat, found)):
        return repeat
    return None


def _multiplies(clause: str, repeat: re.Match[str], found: list[tuple[int, int, str, re.Match[str]]]) -> bool:
    """Whether a count may be a factor of an amount: "by 2 times", or a count of a setting named."""
    amount = any(_takes_amount(name) for _, _, name, _ in found)
    return amount and bool(re.search(r"\bby\s*$", clause[: repeat.start()]) or _ANY_SETTING.search(clause))


def _repeated(operations: list[Operation], repeat: re.Match[str], clause: str) -> list[Operation]:
    times = int(repeat.group(1)) if repeat.group(1) else 2
    if times == 0:
        raise InvalidInstructionError(f"Doing it 0 times changes nothing ({quoted(clause)}).")
    check_operation_count(len(operations) * times)  # before the list is made: "rotate it 10000000000 times"
    return operations * times


_STATED_FIRST = re.compile(r"\W*(?:(?:now|but|and|hmm+|well|ok|okay|still|yeah|oh|ugh|though|so)\W+)*", re.IGNORECASE)
"""What may come before a "not so" said of how the image is ("now it's not that bright"), unlike "make it so"."""
_STATED_NOT_SO = re.compile(rf"{_STATED_BY.removesuffix('?')}.*\bnot\s+(?:so|as|that)\b", re.IGNORECASE)
"""A problem said with "not so" of the image ("it's not so bright"): said of how it is, that is too dark; said as an
answer ("not so bright") it asks for less."""
_ASKS_FOR_THE_PROBLEM = re.compile(r"\bmake\s+(?:it|the\s+(?:image|photo|picture))\s*$", re.IGNORECASE)


def without_restated_problems(read: list[tuple[list[Operation], bool]], instruction: str) -> list[Operation]:
    """The operations of an instruction's clauses, less a stated problem that another clause already fixes
    the same way: "too warm, cool it down a bit" cools once, a bit. A problem that a change said in another clause
    makes worse ("Make it darker. It's too dark.") is asked: done as read, the two cancelled out."""
    said = [op for operations, stated in read if not stated for op in operations]
    fixes = {(op.kind, direction_of(op)) for op in said}
    problems = [op for operations, stated in read if stated for op in operations]
    for fix in problems:
        if (worse := next((op for op in said if _opposite(op, fix)), None)) is not None:
            raise InvalidInstructionError(
                f"{quoted(instruction)} asks to {_change_named(worse)}, but the problem it states asks to "
                f"{_change_named(fix)}: say the one change to make.")
        if any(_opposite(other, fix) for other in problems):  # "it's too dark. it's too bright."
            raise InvalidInstructionError(f"{quoted(instruction)} states problems that ask for opposite changes: say the "
                                          "one change to make.")
    return [op for operations, stated in read for op in operations
            if not (stated and (op.kind, direction_of(op)) in fixes)]


_OPPOSITE_KINDS = frozenset({frozenset({"blur", "sharpen"})})


def _opposite(change: Operation, fix: Operation) -> bool:
    """Whether ``change`` undoes ``fix``: the same setting the other way ("darker", for "too dark"), or a blur for a
    sharpening."""
    if change.kind == fix.kind:
        return direction_of(fix) != 0 and direction_of(change) == -direction_of(fix)
    return frozenset({change.kind, fix.kind}) in _OPPOSITE_KINDS


def _change_named(operation: Operation) -> str:
    """"decrease the brightness", "make the image warmer": an operation without its amount."""
    return re.sub(r"\s+(?:by\s+\S+%|with\s+radius\s+\S+)$", "", describe_operations([operation]).rstrip(".")).lower()


def direction_of(operation: Operation) -> int:
    """Which way an operation goes: up or down for a signed amount, clockwise or not for a quarter turn; 0 for any
    other (a blur's radius or a sharpen's strength says how much, not which way)."""
    if operation.kind == "rotate" and operation.value in (90.0, 270.0):
        return 1 if operation.value == 90.0 else -1
    if operation.value is None or operation.kind not in PERCENT_KINDS:
        return 0
    return 1 if operation.value > 0 else -1


_SAID_ANYWAY = re.compile(r"\b(?:while\s+|and\s+)?keep(?:ing)?\s+(?:the\s+)?(?:aspect\s+ratio|proportions)\b", re.I)
"""What every resize here does anyway: nothing more to do."""


def _matches(
    clause: str, rules: list[tuple[re.Pattern[str], str]] | None = None
) -> tuple[list[tuple[int, int, str, re.Match[str]]], str]:
    """The rules' matches in ``clause`` in the order written, and the clause with their spans blanked."""
    found: list[tuple[int, int, str, re.Match[str]]] = []
    remaining = _SAID_ANYWAY.sub(lambda match: " " * len(match.group(0)), clause)
    for pattern, name in _COMPILED if rules is None else rules:
        for match in pattern.finditer(remaining):
            found.append((match.start(), match.end(), name, match))
            # Blank the span so later rules cannot claim it and the leftover check ignores it.
            remaining = remaining[: match.start()] + " " * (match.end() - match.start()) + remaining[match.end():]
    return sorted(found, key=lambda item: item[0]), remaining


def _operation(clause: str, found: list[tuple[int, int, str, re.Match[str]]], index: int) -> Operation:
    _, _, name, match = found[index]
    fixing = name.startswith("problem:")
    name = name.removeprefix("problem:")
    if ":" in name:
        return _setting_operation(name, match, clause, _amount_text(clause, found, index))
    if name in _SIGNED:
        return _SIGNED[name](clause, _amount_text(clause, found, index))
    if fixing:  # "too soft": a sharpen with nothing more said
        return _DEFAULT_OPERATIONS[name]
    return _HANDLERS[name](match, clause)


def _amount_text(clause: str, found: list[tuple[int, int, str, re.Match[str]]], index: int) -> str:
    """What says the amount of the change at ``found[index]``: a percentage after it (before it, for the
    first: "20% brighter"), the words of degree before it (after it, for the last: "brighter, just a bit")."""
    previous_end = found[index - 1][1] if index else 0
    next_start = found[index + 1][0] if index + 1 < len(found) else len(clause)
    before, after = clause[previous_end:found[index][0]], clause[found[index][1]:next_start]
    percent_from = f"{after} {before if index == 0 else ''}"
    # The match's own words count too ("add a little contrast", "way too warm"), but "too much" is no degree.
    own = re.sub(r"\btoo\s+much\b", " ", found[index][3].group(0), flags=re.IGNORECASE)
    degree_from = f"{before} {own} " + (after if index == len(found) - 1 else "")
    percent = re.search(r"(\bup\s+)?(\bto\s+)?" + _PERCENT, percent_from, re.IGNORECASE)
    said = ""
    if percent:
        up = percent.group(1) or re.search(r"\bup\s*$", own, re.IGNORECASE)
        # "to N%" is a level, but "up to 20%" was always a change ("turn the brightness up to 150%": the level)
        level = bool(percent.group(2)) and not (up and float(percent.group(3)) <= 100)
        said = f"{'to ' if level else ''}{percent.group(3)}%"
    degree = " ".join(match.group(0) for match in _HEDGE.finditer(degree_from))  # "very slightly": all of them
    return f"{said} {degree}".strip()


def _protect_and(text: str) -> str:
    # "black and white" is one operation, not two clauses, as is "800px wide and 600px tall" (or "800 wide, 600
    # tall"): keep their "and" or comma out of the splitter.
    text = re.sub(r"(black[\s-]*)and([\s-]*white)", "\\1\0\\2", text, flags=re.IGNORECASE)
    text = re.sub(r"(\b(?:flip|mirror)\b(?:\s+(?:it|the\s+image|the\s+photo|the\s+picture))?\s+up\s+)and(\s+down\b)",
                  "\\1\0\\2", text, flags=re.IGNORECASE)
    return re.sub(r"(\b(?:wide|tall|high))(?:\s*,\s*(?:and\s+)?|\s+and\s+)(\d+\s*(?:px|pixels)?\s+(?:wide|tall|high)\b)",
                  "\\1 \0 \\2", text, flags=re.IGNORECASE)


def refusal_of(instruction: str, clause: str | None = None) -> UnsupportedInstructionError:
    """Why ``instruction`` (or its part ``clause``) is no exact photo edit: it asks for nothing, or an editor that
    is not exact is needed for it."""
    return _unsupported(instruction, clause)


def _unsupported(instruction: str, clause: str | None = None) -> UnsupportedInstructionError:
    no_request = asks_for_nothing(instruction)
    if no_request is not None:  # "thanks!", "is it too dark?": no editor, generative or not, has work here
        return UnsupportedInstructionError(f"{quoted(instruction)} {no_request}; nothing was edited.")
    part = f" (the part {quoted(clause)})" if clause and clause.strip() != instruction.strip() else ""
    if _reads_with_a_percent_sign(clause or instruction):  # "brighter by 10": 10 of what?
        return UnsupportedInstructionError(f"{quoted(instruction)}{part} gives an amount without its unit; say it as a "
                                           "percentage, e.g. 'brighter by 10%'. Nothing was edited.")
    unread = _exact_operation_unread(clause or instruction)
    if unread is not None:  # a generative editor would not do it better, and sending the user to one misleads
        kind, examples = unread
        return UnsupportedInstructionError(f"{quoted(instruction)}{part} asks for {kind} in words this editor does not "
                                           f"read; say e.g. {examples}. Nothing was edited.")
    return NeedsGenerativeEditorError(f"{quoted(instruction)}{part} is not an exact photo operation ({OPERATION_KINDS})")


_SETTING_BY_A_BARE_NUMBER = re.compile(
    r"\b(?:bright|dark|dim|light|contrast|saturat|vivid|colou?rful|warm|cool)\w*\b.*?\bby\s+\d+(?:\.\d+)?(?![\d.])"
    r"(?!\s*(?:%|percent|per\s?cent|px|pixels?|degrees?|°|times|x\b))", re.IGNORECASE)


def _reads_with_a_percent_sign(text: str) -> bool:
    """Whether ``text`` reads once its setting's bare amount is a percentage ("brighter by 10"; not "make the car
    brighter by 10", which a generative editor is still needed for)."""
    bare = _SETTING_BY_A_BARE_NUMBER.search(text)
    if bare is None:
        return False
    try:
        parse_operations(text[:bare.end()] + "%" + text[bare.end():])
    except EditAgentError:
        return False
    return True


_EXACT_FAMILIES: tuple[tuple[frozenset[str], str, str], ...] = (
    # first: "cut the brightness" is no crop, whatever its verb
    (frozenset("brightness contrast saturation warmth exposure".split()), "an adjustment",
     "'decrease the contrast by 50%' or 'make it a bit brighter'"),
    # not "quarter": "a quarter turn" says "turn", and "crop a quarter off each side" is no rotation
    (frozenset("rotate rotation turn clockwise counterclockwise anticlockwise".split()), "a rotation",
     "'rotate it 90 degrees', 'rotate it 180 degrees' or 'turn it to the left'"),
    (frozenset("crop trim cut".split()), "a crop",
     "'crop to a square', 'crop to 16:9', 'crop to the left half', 'crop 10% from the left and right' or 'cut off the "
     "bottom 100 pixels'"),
    # not "upscale": without a factor ("upscale it") it asks for detail, which is a generative editor's work
    (frozenset("resize scale shrink enlarge downscale reduce smaller bigger larger size".split()), "a resize",
     "'resize to 800 px wide', 'resize to 800x600', 'resize to 50%' or 'half the size'"),
)
_MEASURE_WORDS = frozenset("""
    pixels pixel px width height wide tall high long longer longest short shorter shortest half times twice aspect
    ratio format degrees lower raise increase decrease boost from off both each every side sides edge edges quarter
    """.split())
"""Words that say how much of an exact operation, or which way, and name no part of the picture ("the left half",
"the border": "rotate the left half" is no rotation of the image). A crop's margin is said from its sides or edges,
which are the image's own."""


def _exact_operation_unread(clause: str) -> tuple[str, str] | None:
    """What exact operation ``clause`` asks for in words the rules did not read ("resize to 1024 pixels", "turn it
    180"), with phrasings that are read; None where it names anything else ("rotate the car", "crop out the man")."""
    if COLOUR_SAID.search(clause):  # "rotate the colours": colour words are filler, but this is no rotation
        return None
    said = set(_words(clause))
    for family, kind, examples in _EXACT_FAMILIES:
        if not said & family:
            continue
        known = family.union(*(words for words, _, _ in _EXACT_FAMILIES), _MEASURE_WORDS, FILLER_WORDS, COURTESY_WORDS)
        unknown = [word for word in said if word not in known and not re.fullmatch(r"\d+(?:x\d*|px)?|\d*x\d+", word)]
        if not unknown and said - FILLER_WORDS - COURTESY_WORDS:
            return kind, examples
    return None


_QUESTION = re.compile(r"^\W*(?:is|are|was|were|does|do|did|has|have|will|would|should|could|can)\b.*\?\W*$", re.I)
_EDIT_VERBS = "|".join(sorted(_EDIT_VERB_WORDS - {"give"})) + r"|give(?!\s+me\b)|get\s+rid|take\s+out"
_REQUEST_ASKED = re.compile(
    r"^\W*(?:(?:hey|hi|ok|okay|so|please)\W+)*(?:(?:can|could|would|will)\s+you|(?:is|would)\s+it\s+(?:be\s+)?possible"
    r"(?:\s+for\s+you)?\s+to|do\s+you\s+think\s+(?:you|we)\s+(?:could|can)|(?:is\s+there\s+)?any\s+chance\s+you\s+(?:could|can)"
    rf")\s+(?:please\s+|kindly\s+|possibly\s+|just\s+)*(?:{_EDIT_VERBS})\b"
    r"|^\W*(?:would|do)\s+you\s+mind\s+(?P<gerund>[a-z]+ing)\b", re.I)


def _asks_for_an_edit(question: str) -> bool:
    """A question that asks for an edit ("can you make the car red?", "would you mind removing the person?"): it
    says what to change, and an editor that is not exact may do it. Not one that asks to be told something ("can
    you count the people?", "is it possible?")."""
    asked = _REQUEST_ASKED.match(question)
    if asked is None or asked.group("gerund") is None:
        return asked is not None
    return _verb_of(asked.group("gerund"), _EDIT_VERB_WORDS | {"get", "take"}) is not None


_HOW_IT_IS = re.compile(
    r"^\W*(?:it|this|that|the\s+(?:image|photo|picture|pic))\s*(?:'s|’s|\s+is|\s+looks|\s+seems|\s+feels)"
    r"(?:\s+(?:a\s+bit|a\s+little|kind\s+of|kinda|very|so|really|quite|rather|now|still))*\s+(?P<how>[a-z ]+?)\W*$", re.I)


_LEAVE_IT = re.compile(r"^\W*(?:(?:ok|okay|cool|great|perfect|nice|good|fine|just|please)\W+)*leave\s+it"
                       r"(?:\s+(?:like\s+that|that\s+way|as\s+it\s+is(?:\s+now)?|there|be))?(?:\W+(?:please|thanks|thank\s+you))*\W*$",
                       re.IGNORECASE)


def asks_for_nothing(instruction: str) -> str | None:
    """Why an instruction asks for no edit at all (courtesy, a question, how the image is), or None."""
    if not _meaningful_words(instruction) and _words(instruction):
        return "asks for no change (say what to change, e.g. 'make it brighter')"
    if _words(instruction) and not split_clauses(instruction):  # "cool!", "perfect, thanks"
        cooling = " (to cool the image, say 'make it cooler')" if "cool" in _words(instruction) else ""
        return f"acknowledges the last result and asks for no change{cooling}"
    if _QUESTION.match(instruction) and not _asks_for_an_edit(instruction):
        return "is a question (say what to change, e.g. 'make it brighter')"
    if _LEAVE_IT.match(instruction):
        return ("asks for no change: the image stays as it is (to keep an edit for the rest of the session, say "
                "'keep it black and white' or 'keep it square')")
    how = _HOW_IT_IS.match(instruction)
    if how is None:
        return None
    fix = next((fix for adjectives, fix in _PROBLEMS if re.fullmatch(adjectives, how.group("how"), re.I)), None)
    if fix is None:
        return "says how the image is, not what to change"
    said = describe_operations([_default_fix(fix)])[:-1]
    return f"says how the image is, not what to change: to change it, say so ('{said[:1].lower() + said[1:]}', or 'it's too {how.group('how')}')"


def _default_fix(name: str) -> Operation:
    return _SIGNED[name]("", "") if name in _SIGNED else _DEFAULT_OPERATIONS[name]


_GENTLE = re.compile(r"\b(?:slightly|slight|subtle|somewhat|(?:a\s+)?little(?:\s+bit)?|a\s+(?:(?:tiny|wee)\s+)?(?:bit|touch|tad)"
                     r"|not\s+(?:too|so)\s+much)\b",
                     re.IGNORECASE)
_STRONG = re.compile(r"\b(?:much|a lot|lots|way|far|very|really(?!\s+(?:do\s+)?(?:want|need|like|love|wish|hope|mean)\b)"
                     r"|significantly|strongly|a great deal)\b", re.IGNORECASE)
"""Words that ask for a strong change; not "really" said of wanting it ("I really want it brighter")."""
_HEDGE = re.compile(f"{_GENTLE.pattern}|{_STRONG.pattern}", re.IGNORECASE)
GENTLE_PERCENT, STRONG_PERCENT = 10.0, 40.0
"""Strength when the amount is said in words: "a bit brighter" is half the default, "much brighter" twice."""


def _percent_in(amount_text: str) -> tuple[float, bool]:
    """The amount said, and whether it is a level ("to 80%": 80% of the current one) rather than a change."""
    match = re.search(r"(\bto\s+)?" + _PERCENT, amount_text, re.IGNORECASE)
    if match:
        return float(match.group(2)), bool(match.group(1))
    if _GENTLE.search(amount_text):
        return GENTLE_PERCENT, False
    return (STRONG_PERCENT if _STRONG.search(amount_text) else DEFAULT_PERCENT), False


def _signed(kind: OperationKind, sign: int):
    def handler(clause: str, amount_text: str) -> Operation:
        amount, is_level = _percent_in(amount_text)
        if is_level:
            return _level(kind, amount, clause, sign)
        if amount == 0:
            raise InvalidInstructionError(f"A change of 0% changes nothing ({quoted(clause)}).")
        if sign < 0 and amount > 100:
            raise InvalidInstructionError(f"Cannot reduce {kind} by more than 100% ({quoted(clause)}): 100% takes all of "
                                          "it away; say a share up to that (e.g. 50%).")
        return Operation(kind=kind, value=sign * amount)

    return handler


def _level(kind: OperationKind, level: float, clause: str, sign: int | None = None) -> Operation:
    """"increase the brightness to 120%": the change that leaves ``level`` percent of the current one."""
    change = level - 100
    if change == 0:
        raise InvalidInstructionError(f"{kind.capitalize()} at 100% of what it is changes nothing ({quoted(clause)}).")
    if sign is not None and (change > 0) != (sign > 0):
        raise InvalidInstructionError(
            f"{level:g}% of the current {kind} is {'more' if change > 0 else 'less'}, not "
            f"{'more' if sign > 0 else 'less'} ({quoted(clause)}); say 'by N%' for a change, 'to N%' for the level.")
    return Operation(kind=kind, value=change)


def _setting_operation(name: str, match: re.Match[str], clause: str, amount_text: str) -> Operation:
    setting, form = name.split(":")
    _, raise_it, lower_it = _SETTINGS[setting]
    if form == "signed":
        sign, percent = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
        return _SIGNED[raise_it if sign == "+" else lower_it](clause, f"{percent}%")
    if form == "level":  # "set the brightness to 80%"; "increase the brightness to 80%" is a contradiction
        verb = re.sub(r"\s+", " ", (match.group("verb") or "set").lower())
        sign = None if verb == "set" else (-1 if re.fullmatch(_DOWN, verb) else +1)
        return _level(_SIGNED_KINDS[raise_it], float(match.group(match.lastindex)), clause, sign)
    down = re.fullmatch(_DOWN + r"|down|lower", re.sub(r"\s+", " ", match.group(1).lower()))
    chosen = lower_it if down else raise_it
    if chosen in _SIGNED:
        return _SIGNED[chosen](clause, amount_text)
    return _DEFAULT_OPERATIONS[chosen]


def _crop_side_unsaid(match: re.Match[str], clause: str) -> Operation:
    side, margin = match.group(1).lower(), match.string[match.start(2):match.end(3)]  # as typed: "200 pixels"
    raise InvalidInstructionError(f"{quoted(clause)} may keep the {side} {margin} or cut it off: say 'cut off the {side} "
                                  f"{margin}', or 'crop to the {side} half' to keep a half.")


LIKELY_RATIO_SIDE = 32
"""'make it 16x9' with no unit, both sides up to this: the shape of a picture, more likely than its size in pixels."""


def _made_size(match: re.Match[str], clause: str) -> Operation:
    width, height = int(match.group(1)), int(match.group(2))
    if match.group("unit") is None and max(width, height) <= LIKELY_RATIO_SIDE:
        raise InvalidInstructionError(
            f"{quoted(clause)} reads as {width}x{height} pixels: for that shape say 'crop to {width}:{height}', for "
            f"that size 'resize to {width}x{height} px'.")
    return _resize(match, clause)


def _enlarged_by(factor: float, clause: str) -> Operation:
    """"upscale 2x", "make it 3 times bigger": a factor over 1, or the words contradict it."""
    if factor <= 1:
        raise InvalidInstructionError(f"{quoted(clause)} makes it no bigger; say a factor over 1 ('make it 2x bigger') "
                                      "or a percentage ('resize to 50%').")
    return _resize_percent(100 * factor, clause)


def _times_smaller(match: re.Match[str], clause: str) -> Operation:
    """"make it 2x smaller": the size divided by 2."""
    factor = float(match.group(1))
    if factor <= 1:
        raise InvalidInstructionError(f"{quoted(clause)} makes it no smaller; say a factor over 1 or a percentage "
                                      "(e.g. 'make it 2x smaller', 'make it 50% smaller').")
    return _resize_percent(round(100 / factor, 4), clause)


def _counterclockwise(direction: str | None) -> bool:
    """Whether a rotation's direction, as said (None: not said, so clockwise), turns it counterclockwise."""
    return re.sub(r"\s+", "", (direction or "").lower()) in {"counterclockwise", "counter-clockwise", "anticlockwise",
                                                            "anti-clockwise", "ccw", "left", "totheleft"}


def _part_turn(match: re.Match[str], clause: str) -> Operation:
    """"a quarter turn" is 90 degrees (clockwise unless a direction is said), "a half turn" 180."""
    if match.group("part").lower() == "half":
        return Operation(kind="rotate", value=180.0)
    return Operation(kind="rotate", value=270.0 if _counterclockwise(match.group("direction")) else 90.0)


_SMALL_TURN = re.compile(r"\b(?:slightly|slight|a\s+(?:bit|little|tad|touch)|a\s+few\s+degrees|some\s+degrees|a\s+degree)\b",
                         re.IGNORECASE)
"""A rotation said to be small ("rotate it slightly", "spin it a bit"): no quarter turn, which is all there is here."""


def _rotate(match: re.Match[str], clause: str) -> Operation:
    degrees = int(match.group("angle")) if match.group("angle") else 90
    if match.group("angle") is None and _SMALL_TURN.search(clause):
        raise InvalidInstructionError(f"{quoted(clause)} asks for a small rotation; rotations here are quarter turns "
                                      "('rotate it 90 degrees', 'rotate it left').")
    if match.group("lead") and match.group("direction"):
        raise InvalidInstructionError(f"{quoted(clause)} says two directions; say one, e.g. 'rotate it 90 degrees left'.")
    if degrees < 0 and (match.group("direction") or match.group("lead")):  # which way would "-90 left" go?
        raise InvalidInstructionError(f"{quoted(clause)} gives the angle a minus sign and a direction; give the angle "
                                      "without the sign and say the direction in words ('rotate it 90 degrees left').")
    counter = _counterclockwise(match.group("direction") or match.group("lead"))
    if degrees % 90:
        raise NeedsGenerativeEditorError(f"Exact rotation supports multiples of 90 degrees, not {degrees} ({quoted(clause)})")
    clockwise = (-degrees if counter else degrees) % 360
    if clockwise == 0:
        raise InvalidInstructionError(f"A rotation by {degrees} degrees changes nothing ({quoted(clause)}).")
    return Operation(kind="rotate", value=float(clockwise))


def _flip(match: re.Match[str], clause: str) -> Operation:
    axis = (match.group(1) or "horizontally").lower()
    vertical = axis.startswith(("vertical", "top"))
    return Operation(kind="flip", target="vertical" if vertical else "horizontal")


def _crop(match: re.Match[str], clause: str) -> Operation:
    return Operation(kind="crop", target=(match.group(1) or match.group(2)).lower())


def _resize_fit(match: re.Match[str], clause: str) -> Operation:
    width, height = int(match.group(1)), int(match.group(2))
    if not (1 <= width <= MAX_OUTPUT_SIDE and 1 <= height <= MAX_OUTPUT_SIDE):
        raise InvalidInstructionError(
            f"Fitting within {width}x{height} is out of range: each side must be 1 to {MAX_OUTPUT_SIDE} px.")
    return Operation(kind="resize", size=(width, height), target="fit")


def _resize(match: re.Match[str], clause: str) -> Operation:
    if match.group(1):
        width, height = int(match.group(1)), int(match.group(2))
        if not (1 <= width <= MAX_OUTPUT_SIDE and 1 <= height <= MAX_OUTPUT_SIDE):
            raise InvalidInstructionError(
                f"Resize to {width}x{height} is out of range: each side must be 1 to {MAX_OUTPUT_SIDE} px."
            )
        check_output_pixels(width, height)
        return Operation(kind="resize", size=(width, height))
    percent = float(match.group(3))
    if percent <= 0:
        raise InvalidInstructionError(f"Resizing to {percent:g}% leaves no image ({quoted(clause)}); say a size above 0% "
                                      "(e.g. 'resize to 50%').")
    return Operation(kind="resize", value=percent)


def _resize_side(match: re.Match[str], clause: str) -> Operation:
    """"resize to 600 px wide": one side given, the other kept in proportion."""
    return _side_resized(int(match.group(1)), _SIDE_OF[match.group(2).lower()])


def _side_resized(pixels: int, side: str) -> Operation:
    """A resize of ``side`` ("width" or "height") to ``pixels``, the other side kept in proportion."""
    if not 1 <= pixels <= MAX_OUTPUT_SIDE:
        raise InvalidInstructionError(f"A side of {pixels} px is out of range: it must be 1 to {MAX_OUTPUT_SIDE} px.")
    return Operation(kind="resize", target=side, value=pixels)


def _resize_sides(match: re.Match[str], clause: str) -> Operation:
    """"make it 800px wide and 600px tall": both sides, in either order; one side said twice is refused."""
    said = {_SIDE_OF[match.group(2).lower()]: match.group(1), _SIDE_OF[match.group(4).lower()]: match.group(3)}
    if len(said) == 1:
        raise InvalidInstructionError(f"{quoted(clause)} gives the {next(iter(said))} twice; say one width and one "
                                      "height ('800 px wide and 600 px tall').")
    return _resize(re.match(r"(\d+)x(\d+)", f"{said['width']}x{said['height']}"), clause)


_SIDE_OF = {"wide": "width", "tall": "height", "high": "height"}


LIKELY_PIXELS_FACTOR = 32
"""A scale factor this large meant pixels: 32 times takes a 512 px side to the largest output side, 16384 px."""


def _resize_factor(match: re.Match[str], clause: str) -> Operation:
    """"scale it up by 2", "scale down by 4", "scale by 1.5x", "scale down by 0.5": a factor, as a percentage.
    "down by 4" divides by 4, and "down by 0.5" multiplies by 0.5: either way the image gets smaller."""
    factor = float(match.group(2) or match.group(3))
    direction = (match.group(1) or "").lower()
    if factor <= 0:
        raise InvalidInstructionError(f"Scaling by {factor:g} is not possible ({quoted(clause)}).")
    if factor == 1:
        raise InvalidInstructionError(f"Scaling by 1 changes nothing ({quoted(clause)}).")
    if direction == "up" and factor < 1:
        raise InvalidInstructionError(f"Scaling up by {factor:g} would make the image smaller ({quoted(clause)}); "
                                      "say 'scale down' or give a factor over 1.")
    if factor >= LIKELY_PIXELS_FACTOR and re.search(r"\bto\s+\d+x(?!\S)", clause, re.IGNORECASE):
        # "resize to 640x": a width, in an image tool's notation ("scale up by 40" enlarges an icon, as asked)
        raise InvalidInstructionError(f"{quoted(clause)} reads as {factor:g} times the size; for a size in pixels, say "
                                      f"e.g. 'resize to {factor:g} px wide' or 'resize to {factor:g}x480'.")
    percent = round(100 / factor if direction == "down" and factor > 1 else 100 * factor, 4)
    if percent <= 0:
        raise InvalidInstructionError(f"Scaling by {factor:g} leaves no image ({quoted(clause)}).")
    return Operation(kind="resize", value=percent)


def _crop_margin(match: re.Match[str], clause: str) -> Operation:
    """"crop 100 px from each side", "trim 10% off the top": a margin taken off the edges."""
    side = match.group(3).lower()
    return _crop_margin_of("edges" if side in ("each", "every", "all", "edges") else side, match.group(1), match.group(2),
                           clause)


def _resize_percent(percent: float, clause: str) -> Operation:
    if percent <= 0:
        raise InvalidInstructionError(f"That leaves no image ({quoted(clause)}).")
    if percent == 100:
        raise InvalidInstructionError(f"Resizing to 100% changes nothing ({quoted(clause)}).")
    return Operation(kind="resize", value=percent)


def _resize_to(match: re.Match[str], clause: str) -> Operation:
    """"shrink to 50%", "enlarge to 200%": the size it leaves; a verb that says the other way is refused."""
    percent = float(match.group(1))
    enlarging = re.match(r"(?:enlarge|upscale)", match.group(0), re.IGNORECASE) is not None
    if (percent < 100) == enlarging and percent != 100:
        raise InvalidInstructionError(f"{percent:g}% is {'smaller' if enlarging else 'larger'}, not "
                                      f"{'larger' if enlarging else 'smaller'} ({quoted(clause)}).")
    return _resize_percent(percent, clause)


def _resize_change(percent: float, direction: str, clause: str) -> Operation:
    """"50% smaller", "bigger by 20%": a change of size, as the percentage of the size it leaves."""
    return _resize_percent(100 - percent if direction.lower() == "smaller" else 100 + percent, clause)


def _crop_margin_of(side: str, amount: str, unit: str, clause: str) -> Operation:
    percent = unit.lower() in ("%", "percent")
    if not percent and "." in amount:
        raise InvalidInstructionError(f"A margin in pixels is a whole number ({quoted(clause)}).")
    if float(amount) == 0:
        raise InvalidInstructionError(f"Cropping {amount}{'%' if percent else ' px'} changes nothing ({quoted(clause)}).")
    side = side.lower()
    return Operation(kind="crop", target="edges" if side == "edges" else f"{side} edge", value=float(amount),
                     unit="%" if percent else "px")


_OTHER_SIDE = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}


def _colour_back(clause: str) -> Operation:
    # Colourizing is a generative editor's work (the hybrid editor routes it there); after black and white in
    # this session, going back is what gives the colour back exactly.
    raise NeedsGenerativeEditorError(f"{quoted(clause)} asks for colour, which no exact operation makes (if an edit here "
                                     "took it away, undo back to the turn before it, or continue from that turn's image: "
                                     f"{EARLIER_IMAGE_HINT})")


def _reverse_said(clause: str) -> Operation:
    raise InvalidInstructionError(f"{quoted(clause)} asks to take an earlier edit back: undo it, or say 'the opposite'.")


def _size_unsaid(clause: str) -> Operation:
    raise InvalidInstructionError(
        f"{quoted(clause)} needs a size: say e.g. 'make it 50% smaller', 'half the size', 'twice as big' or 'resize to "
        "800 px wide'.")


def _crop_aspect(match: re.Match[str], clause: str) -> Operation:
    """"crop to 16:9": the largest centred box of that shape (1:1 is the square crop)."""
    width, height = (float(side) for side in match.groups() if side is not None)
    if not width or not height:
        raise InvalidInstructionError(f"An aspect ratio needs two sides above 0 ({quoted(clause)}).")
    if not 1 / 100 <= width / height <= 100:
        raise InvalidInstructionError(f"An aspect ratio goes from 1:100 to 100:1 ({quoted(clause)}).")
    if width == height:
        return Operation(kind="crop", target="square")
    return Operation(kind="crop", target=f"{plain_number(width)}:{plain_number(height)}")


GENTLE_BLUR_RADIUS, STRONG_BLUR_RADIUS = 1.0, 5.0
"""The radius of "blur it slightly" and of "blur it a lot" (2 when no degree is said)."""


def _blur(match: re.Match[str], clause: str) -> Operation:
    if match.group(1) is None:
        said = GENTLE_BLUR_RADIUS if _GENTLE.search(clause) else STRONG_BLUR_RADIUS if _STRONG.search(clause) else None
        return Operation(kind="blur", value=said or DEFAULT_BLUR_RADIUS)
    radius = float(match.group(1))
    if radius == 0:
        raise InvalidInstructionError(f"A blur of radius 0 changes nothing ({quoted(clause)}).")
    return Operation(kind="blur", value=radius)


def _sharpen(clause: str) -> Operation:
    strength = GENTLE_SHARPEN if _GENTLE.search(clause) else STRONG_SHARPEN if _STRONG.search(clause) else None
    return Operation(kind="sharpen", value=strength)


_HANDLERS = {
    "upside_down": lambda match, clause: Operation(kind="rotate", value=180.0),
    "rotate": _rotate,
    "flip": _flip,
    "crop": _crop,
    "resize": _resize,
    "resize_fit": _resize_fit,
    "resize_side": _resize_side,
    "resize_sides": _resize_sides,
    "resize_factor": _resize_factor,
    "crop_margin": _crop_margin,
    "crop_aspect": _crop_aspect,
    # "cut off the bottom half" keeps the top one
    "crop_off_half": lambda match, clause: Operation(kind="crop", target=_OTHER_SIDE[match.group(1).lower()]),
    "flip_vertical": lambda match, clause: Operation(kind="flip", target="vertical"),
    "reverse_said": lambda match, clause: _reverse_said(clause),
    "colour_back": lambda match, clause: _colour_back(clause),
    "size_unsaid": lambda match, clause: _size_unsaid(clause),
    "sepia": lambda match, clause: Operation(kind="sepia"),
    "invert": lambda match, clause: Operation(kind="invert"),
    "double": lambda match, clause: Operation(kind="resize", value=200.0),
    "halve": lambda match, clause: Operation(kind="resize", value=50.0),
    "quarter": lambda match, clause: Operation(kind="resize", value=25.0),
    "grayscale": lambda match, clause: Operation(kind="grayscale"),
    "blur": _blur,
    "sharpen": lambda match, clause: _sharpen(clause),
    "crop_margin_after": lambda match, clause: _crop_margin_of(match.group(1), match.group(2), match.group(3), clause),
    "crop_square": lambda match, clause: Operation(kind="crop", target="square"),
    "shrink_by": lambda match, clause: _resize_percent(100 - float(match.group(1)), clause),
    "enlarge_by": lambda match, clause: _resize_percent(100 + float(match.group(1)), clause),
    "resize_change": lambda match, clause: _resize_change(float(match.group(1)), match.group(2), clause),
    "resize_change_after": lambda match, clause: _resize_change(float(match.group(2)), match.group(1), clause),
    "resize_to": lambda match, clause: _resize_to(match, clause),
    "enlarge_factor": lambda match, clause: _enlarged_by(float(match.group(1) or match.group(2)), clause),
    "times_smaller": _times_smaller,
    "make_size": lambda match, clause: _made_size(match, clause),
    "crop_side_unsaid": lambda match, clause: _crop_side_unsaid(match, clause),
    "resize_side_named": lambda match, clause: _side_resized(int(match.group(2)), match.group(1).lower()),
    "part_turn": _part_turn,
}
_DEFAULT_OPERATIONS = {"blur": Operation(kind="blur", value=DEFAULT_BLUR_RADIUS), "sharpen": Operation(kind="sharpen")}
"""blur and sharpen as a fix or a setting names them ("too soft", "less blur"): no radius said."""
_SIGNED_KINDS: dict[str, OperationKind] = {
    "brighter": "brightness", "darker": "brightness", "more_contrast": "contrast", "less_contrast": "contrast",
    "more_saturated": "saturation", "less_saturated": "saturation", "warmer": "warmth", "cooler": "warmth",
}
_SIGNED = {name: _signed(kind, -1 if name in ("darker", "less_contrast", "less_saturated", "cooler") else +1)
           for name, kind in _SIGNED_KINDS.items()}
"""The changes that take an amount: handler(clause, the text that says the amount)."""
