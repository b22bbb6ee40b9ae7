"""Questions about what was said, offered or agreed with someone: "did maya agree to the 25%?", "what api
rate limit did we give hooli in the contract", "which plan did olivia land on". Asked about an account
or a contact (named, or the thread's), they are answered from that account's meetings, whatever product
words they hold ("sso", "discount", "plan"), not from the catalog.

Bounded gaps only: the cost is linear in the message's length.
"""

from __future__ import annotations

import re

# Past tense about people, or the words of a negotiation's outcome.
ABOUT_WHAT_HAPPENED = re.compile(
    r"\b(?:what|which|how|when|who|why)\b[^.?!\n]{0,60}\b(?:did|didn't|was|were|wasn't|weren't|had)\b"
    r"|^(?:(?:and|so|ok|okay|but),? )?(?:did|didn't|has|have|had|were|was)\b[^.?!\n]{0,60}\b(?:agree|agreed|say|said|"
    r"ask|asked|offer|offered|raise|raised|mention|mentioned|promise|promised|give|gave|get|got|set up|sign|signed|"
    r"accept|accepted|push|pushed|want|wanted|need|needed|send|sent|land|landed|end up|ended up|decide|decided)\b"
    r"|\b(?:ended up|end up|landed on|land on|settled on|agreed|came out of|what happened|how far apart|"
    r"stack(?:ed)? up|wasn't it|was it|were we)\b"
    r"|\b(?:latest|last|most recent|previous)\b (?:[\w&'-]+ ){0,3}(?:call|meeting|check-?in|sync|demo|qbr|kick-?off|"
    r"review|negotiation|session)\b"
    # a deal under way: "how many seats is globex renewing", "what plan are they moving to"
    r"|\b(?:is|are) (?:\w+ )?(?:renewing|signing|buying|upgrading|downgrading|moving|switching|expanding|adding|getting|taking)\b"
    # what they objected to: "any pushback from henrik on price", "acme's concerns about sso"
    r"|\b(?:push ?back|pushed back|pushing back|objections?|objected|concerns?|concerned|complain(?:ed|ts?)?|hesitations?|"
    r"hesitant|red flags?|blockers?|pain points?|worried|worries)\b"
)
# A follow-up about the account's own plans ("when are they going live", "are they rolling out sso first").
ABOUT_THEIR_PLANS = re.compile(
    r"^(?:(?:and|so|ok|okay|but),? ){0,2}(?:when|what|how|where|who|why)(?:'s)? (?:are|is|were|was|will) (?:they|he|she|we)\b"
    r"(?! (?:need|want|have|pay|get|able)\b)"
)
# A follow-up that only adds what to look for ("and term + discount?", "and the payment terms?").
ADDS_A_TOPIC = re.compile(r"^(?:and|also|what about|how about|plus)\b(?![^.?!\n]{0,60}\b(?:would|could|should|if|cost|price)\b)")


# Where things stand now ("current state of the deal", "get up to speed", "whats new w globex"), as a regex fragment for
# the patterns that read it: a recap (handlers.meeting_summary) of the latest meeting (bot.pipeline.resolution)
WHERE_THINGS_STAND = (r"current state|state of (?:the |that |their )?(?:deal|account|play|things|renewal|contract)|up to speed|"
                      r"deal look(?:s|ing)? like|what(?:'s| is|s) new")
# Any question ("who's the champion at acme", "kestrel - what are their hard requirements", "did frank go w us
# or closewise?"): about a named account or contact and read as nothing else, it is about their meetings.
ASKS_A_QUESTION = re.compile(
    r"^(?:[\w&' -]{1,40} ?[-:—–,] )?(?:(?:and|so|ok|okay|but|also),? )?"
    r"(?:who|what|whats|what's|when|where|why|how|how'd|which|whose|did|didn't|do|does|doesn't|are|aren't|were|any|anything|"
    r"has|have|had|(?:is|isn't|was|wasn't)(?! (?:it|there)\b)|tell me (?:more )?about|fill me in on|catch me up on|brief me on|"
    r"(?:any )?(?:background|info|intel|context) on|give me (?:the )?(?:rundown|lowdown|background) on)\b"
    # "hooli got more than that didnt they", "they signed already right": a statement asked as a question
    # "kestrel wanted their quote in what currency", "they went with which plan": the question word mid-sentence
    r"|\b(?:in|at|for|on|with|by|from|to|went with|chose|picked) (?:what|which|whose|how much|how many)\b"
    r"|\b(?:didn't|did|don't|do|doesn't|does|isn't|is|aren't|are|wasn't|was|weren't|were|haven't|hasn't)\s+"
    r"(?:they|we|he|she|it|you)\s*\??\s*$|[,\s](?:right|correct|yeah|no)\s*\?+\s*$|^(?!(?:[\w&' -]{1,40} ?[-:—–,] )?(?:can|could|will|would|pls|please)\b)[^\n]{0,500}\?\s*$"
)


_SENTENCE_END = re.compile(r"[.!?;]+\s+")
_MAX_SENTENCES = 3


def asks_a_question(lowered: str) -> bool:
    """Whether the (normalized, lower-case) message is a question, by an opening word or its question mark; any of
    its first sentences counts ("picking up tidewater from daniel. whats the status")."""
    return any(ASKS_A_QUESTION.search(sentence) for sentence in _SENTENCE_END.split(lowered[:500], _MAX_SENTENCES)[:_MAX_SENTENCES])


def asks_what_happened(lowered: str) -> bool:
    """Whether the (normalized, lower-case) message asks what was said, offered or agreed."""
    return bool(ABOUT_WHAT_HAPPENED.search(lowered[:500]))
