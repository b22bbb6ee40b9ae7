"""Answers to what was said, offered or agreed in an account's meetings ("what payment terms did we agree
to", "how many dupes came out of the csv import", "what did alan say about breach notification"): the
passages of the account's recent meetings (transcript turns, summaries, decisions, action items) that
share the most of the question's words, quoted with who said them, in which meeting and when.

Deterministic and bounded: at most `MAX_MEETINGS` meetings of one account and `MAX_SEGMENTS` transcript
turns are read, whatever the size of the knowledge base.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from handlers.text_match import terms
from knowledge.meetings import KIND_WORDS, MeetingDetail, MeetingRef

MAX_MEETINGS = 12
MAX_SEGMENTS = 2_000
MAX_ANSWERS = 3
MAX_QUESTION_CHARS = 300
_CLOSE_ENOUGH = 0.6  # a further passage is quoted when it scores at least this share of the best one

# Words of the question that ask, rather than say what about: recap and question words, and what
# reps say around a question ("again", "before i ping him").
_ASKING = terms(
    """recap summarize summarise summary sum tldr brief debrief notes minutes takeaways highlights key points
    call calls meeting meetings session sync latest last recent previous yesterday today week again what who
    when how happened happen discuss discussed talk talked go went did were was the a an please thanks
    email draft follow anything everything know before ping should remember remind right ok okay
    so and then lol btw fyi actually ever over there back while ago thought think wasnt wasn't isn't
    details detail info rundown overview cover covered covering monday tuesday wednesday thursday friday saturday
    sunday morning afternoon now same repeat try exactly exact precisely specifically pull bring open grab fetch
    show up quick quickly"""
)
# Verbs of a question about what happened: they say little about which passage answers it.
_WEAK = terms("say said ask asked agree agreed offer offered give gave get got end land landed send sent "
              "raise raised mention mentioned promise promised want wanted need needs needed come came far set up us we "
              "they them")
# Rep shorthand and phrasing, folded to the words meetings use for the same thing.
_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\bopps?\b|\bopportunit(?:y|ies)\b", " opportunity "),
        (r"\b\d+(?:\.\d+)?\s?%\s?off\b", r" \g<0> discount "),
        (r"\bfar apart\b|\bthe gap\b", " gap versus "),
        (r"\bstack(?:ed|s)? up\b|\bcompare[sd]?\b|\bvs\b", " versus "),
        (r"\bgo(?:ing|es)?[\s-]+live\b|\bwent[\s-]+live\b", " golive "),
        (r"\broll(?:ing|s|ed)?[\s-]?outs?\b", " rollout "),
        (r"\bin writing\b|\bwritten\b", " writing "),
        (r"\bblockers?\b|\bblocking\b", " blocker "),
        # "whats on tylers plate", "what does leo owe them": someone's action items
        (r"\bon (?:[\w']+|his|her|their|our|my) plate\b|\bon the hook\b|\bto-?dos?\b|\bowes?\b|\bwaiting on\b"
         r"|\bsupposed to (?:do|send|deliver)\b|\b(?:has|have|got) to (?:do|send|deliver)\b|\btasks?\b",
         r" actionitem \g<0> "),
        # "what did initech sign up for": the plan and seats agreed, as the notes write them down
        (r"\bsign(?:ed|ing)? up for\b|\b(?:end(?:ed|s)? up )?(?:bought|buy(?:ing)?|purchas\w*|went with|go(?:ing)? with)\b"
         r"|\bend(?:ed|s)? up with\b", " seats agreed "),
        # pushback on price is said as a budget, a discount asked or "too expensive"
        (r"\b(?:objections?|push ?backs?|concerns?|complain\w*|pushed back)\b(?: \w+){0,3} (?:on|about|re|over|around|with) "
         r"(?:the |our )?(?:price|prices|pricing|cost|costs|the number|the quote)\b",
         " budget discount expensive pricing competitor cheaper "),
        # "what did we counter w", "how did daniel counter": what our side offered back
        (r"\bcounter(?:ed|ing|s)?(?:[- ]?offer(?:ed|s)?)?\b|\bcame back with\b|\bpropose[ds]? instead\b",
         " offer offered proposed "),
        # what reps call objections, meetings write down as concerns, push-back, pressure or a competitor's approach
        (r"\bobjections?\b|\bobject(?:ed|ing)\b|\bpush(?:ed|ing)? ?backs?\b|\bpush(?:ed|ing)? back\b",
         " objection concern pushed pressure approached worried issue discount "),
        # what is still to do, for whom: the open action items
        (r"\bstill open\b|\b(?:open|outstanding|pending|remaining) (?:items?|tasks?|asks?|points?|questions?)\b|\boutstanding\b|"
         r"\bleft to do\b|\bwhat(?:'s| is) (?:still )?open\b|\bnext steps\b", " actionitem "),
        # a customer at risk of leaving talks of competitors, budget pressure and cutting cost
        (r"\bat risk\b|\bchurn risk\b|\bflight risk\b|\b(?:thinking (?:about|of) )?leaving\b|\bcompetitors?\b|\bcompetition\b",
         " competitor pressure cutting cost offer "),
        # "what was she pushing for", "holding out for": what they asked for, as a call says it ("we'd like 18% off")
        (r"\b(?:push|hold|hop|angl|look)(?:ing|ed|s)? (?:out )?for\b", " like asked "),
        # "what did omar get on price", "where did they land on pricing": the discount agreed
        (r"\b(?:on|re|about|for) (?:the )?(?:price|pricing)\b", " \\g<0> discount "),
        # "acme deal size", "whats the contract worth": the plan, seats and terms agreed
        (r"\bdeal size\b|\bsize of the deal\b|\b(?:deal|contract) (?:value|worth)\b|\bhow big (?:is|was) the (?:deal|contract)\b"
         r"|\b(?:deal|contract) (?:is|was) worth\b|\bacv\b|\barr\b", " seats agreed discount "),
        (r"\bhow (?:many|much)\b", " howmany "),
        (r"\b(?:mov|br(?:ing|ought)|carr(?:y|ied)|port)\w* (?:\w+ )?over\b|\bmigrat\w*|\bmigration\b", " migrate "),
    )
)
# "which plan did they go for": "plan" is no content word to the catalog matcher, but a plan chosen on a call is
# written down with its seats ("Growth for 35 seats"), so the question looks for that.
_PLAN_CHOICE = re.compile(r"\b(?:which|what) (?:plan|tier|edition|package|licen[cs]e)s?\b", re.IGNORECASE)
_NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
    "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "fifteen": "15", "twenty": "20", "fifty": "50",
}
_NUMBER_WORD = re.compile(r"\b(?:" + "|".join(_NUMBER_WORDS) + r")\b")
_HOW_MUCH = re.compile(r"\b(?:how (?:many|much|far|long|big|large|high|steep)|what(?:'s|s| is| was| were)? (?:the |their |our )?"
                       r"(?:cap|discount|price|rate|limit|number|percent\w*|terms?|count|amount|total|increase|uplift)|"
                       r"budget|exact(?:ly)?|counter(?:ed|s)?(?:[- ]?offer\w*)?|came back with)\b")  # (a counter is a figure)
_DIGIT = re.compile(r"\d")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")
_SHARED_SENTENCE = 20  # a sentence this long shown already makes a passage holding it a repeat
_FOLLOWING_TURNS = 2  # the turns after a line that may say the figure it leads to
_SHORT_NOTE = 80  # a note this short is quoted with the one after it ("He asked for 25%." and the reply)


@dataclass(frozen=True)
class Passage:
    meeting: MeetingRef
    speaker: str  # who said it; "" for the meeting's notes
    text: str
    source: str  # "said", "summary", "decision" or "action item"
    after: tuple[str, ...] = ()  # the call's next turns ("Speaker: words"), for a figure said in reply a line later


def _words(text: str) -> frozenset[str]:
    text = _NUMBER_WORD.sub(lambda m: _NUMBER_WORDS[m.group(0)], text.lower())
    for pattern, replacement in _PHRASES:
        text = pattern.sub(replacement, text)
    return terms(text)


def _near(typed: str, word: str) -> bool:
    """Whether a question's word means a passage's word: the same, one a form of the other ("agree",
    "agreed"; "price", "pricing"), or one typo away ("notificaton", "contarct")."""
    if typed == word:
        return True
    if typed.isdigit() or word.isdigit():
        return False
    shorter = min(len(typed), len(word))
    if len(typed) >= 4 and word.startswith(typed) and len(word) - len(typed) <= 5:
        return True  # "sign", "signature"; "renew", "renewal"
    if shorter >= 4 and abs(len(typed) - len(word)) <= 3:
        common = 0
        while common < shorter and typed[common] == word[common]:
            common += 1
        if common >= max(4, shorter - 2):
            return True
    return shorter >= 5 and abs(len(typed) - len(word)) <= 1 and _one_edit(typed, word)


def _one_edit(a: str, b: str) -> bool:
    """One insertion, deletion, substitution or swap of neighbours turns `a` into `b`."""
    if len(a) > len(b):
        a, b = b, a
    start = 0
    while start < len(a) and a[start] == b[start]:
        start += 1
    if len(a) == len(b):
        return a[start + 1 :] == b[start + 1 :] or (
            start + 1 < len(a) and a[start] == b[start + 1] and a[start + 1] == b[start] and a[start + 2 :] == b[start + 2 :]
        )
    return a[start:] == b[start + 1 :]


def passages_of(meetings: Sequence[tuple[MeetingDetail, Sequence[tuple[str, str]]]]) -> list[Passage]:
    """Every passage of the meetings: notes first, then the transcript; a question asked on the call is
    quoted with the answer that followed it."""
    found: list[Passage] = []
    for detail, transcript in meetings:
        meeting = detail.meeting
        sentences = [sentence for sentence in _SENTENCE.split(detail.summary) if sentence]
        for index, sentence in enumerate(sentences):
            if len(sentence) < _SHORT_NOTE and index + 1 < len(sentences):
                sentence = f"{sentence} {sentences[index + 1]}"
            found.append(Passage(meeting, "", sentence, "summary"))
        found += [Passage(meeting, "", decision, "decision") for decision in detail.decisions]
        found += [Passage(meeting, "", item, "action item") for item in detail.action_items]
        for index, (speaker, said) in enumerate(transcript):
            text, next_index = said, index + 1
            if said.rstrip().endswith("?") and index + 1 < len(transcript):
                answer_speaker, answer = transcript[index + 1]
                text, next_index = f"{said} — {answer_speaker}: {answer}", index + 2
            after = tuple(f"{who}: {words}" for who, words in transcript[next_index:next_index + _FOLLOWING_TURNS])
            found.append(Passage(meeting, speaker, text, "said", after))
    return found


@dataclass(frozen=True)
class Question:
    words: frozenset[str]  # content words, each weighed by how rare it is among the passages
    people: frozenset[str]  # lower-case names of participants the question names
    meeting_words: frozenset[str]  # words naming a meeting by its title or kind
    wants_number: bool
    wants_outcome: bool = False  # "what did frank decide", "where did it land": what was settled


# A question about what was settled: decisions and the notes answer it before anyone's words.
_OUTCOME = re.compile(r"\b(?:decid(?:e|es|ed|ing)|decisions?|agree(?:s|d|ing)?|land(?:s|ed|ing)?|end(?:s|ed)? up|go(?:ne)? with|"
                      r"went with|sign(?:s|ed|ing)?|chose|choos(?:e|es|ing)|pick(?:s|ed|ing)?|final|outcome|"
                      r"settl(?:e|es|ed|ing)|clos(?:e|es|ed|ing)|result|accept(?:s|ed|ing)?|g[eo]t|gave|give|given|won|"
                      r"mix|terms)\b")


# "when are they going to sign": when something will happen, not what was settled
_ASKS_WHEN = re.compile(r"^\W*(?:(?:and|so|ok|okay)\W+)?(?:when|whens|what date|how soon|by when)\b")


def read_question(question: str, names: Iterable[str], meetings: Sequence[MeetingRef]) -> Question:
    """What the question asks about, without the asking, the account's names and the people it names."""
    question = _PLAN_CHOICE.sub(r" \g<0> seats ", question[:MAX_QUESTION_CHARS])
    words = _words(question) - _ASKING
    named = frozenset().union(*(terms(name) for name in names if name))
    people: set[str] = set()
    for meeting in meetings:
        for participant in meeting.participants:
            parts = terms(participant)
            if parts & words:
                people.add(participant.lower())
                named |= parts
    title_words = frozenset().union(*(_title_terms(m) for m in meetings)) if meetings else frozenset()
    content = words - named
    # Words naming a meeting ("the negotiation call", "the fix") favour it, and weigh less as content.
    meeting_words = frozenset(w for w in content if any(_near(w, t) for t in title_words))
    lowered = question.lower()
    return Question(frozenset(content), frozenset(people), meeting_words, bool(_HOW_MUCH.search(lowered)),
                    bool(_OUTCOME.search(lowered)) and not _ASKS_WHEN.search(lowered))


def _title_terms(meeting: MeetingRef) -> frozenset[str]:
    return terms(f"{meeting.title} {meeting.kind.replace('-', ' ')} {KIND_WORDS.get(meeting.kind, '')}")


def has_content(question: Question, beyond: MeetingRef | None = None) -> bool:
    """Whether the question names something to look for, beyond asking what was said or agreed (and beyond
    the words naming the meeting `beyond`); "what did sofia ask us to send" looks for what Sofia said."""
    left = question.words - _WEAK if not question.people or beyond is not None else question.words
    if beyond is not None:
        title = _title_terms(beyond)
        left = frozenset(w for w in left if not any(_near(w, t) for t in title))
    return bool(left)


_ACTION_ITEM = "actionitem"
_ASKING_WORDS = frozenset({"howmany", _ACTION_ITEM})  # what the phrases make of asking words, not a subject


def best_passages(question: Question, passages: Sequence[Passage], *, preferred: frozenset[int] = frozenset(),
                  now: datetime | None = None) -> list[Passage]:
    """Up to `MAX_ANSWERS` passages answering the question, best first; none when nothing matches a
    content word. `preferred`: meetings the message or the thread is about."""
    if not question.words or not passages:
        return []
    passage_words = [_words(p.text) for p in passages]
    vocabulary = frozenset().union(*passage_words)
    # Which question words each passage word stands for, worked out once per distinct word.
    meaning = {word: frozenset(q for q in question.words if _near(q, word)) for word in vocabulary}
    matched = [frozenset().union(*(meaning[w] for w in words)) if words else frozenset() for words in passage_words]
    if question.wants_outcome:  # a decision answers "what did they decide" in other words ("chose Team")
        outcome = frozenset(q for q in question.words if _OUTCOME.fullmatch(q))
        matched = [hits | outcome if passage.source == "decision" else hits for hits, passage in zip(matched, passages)]
    if _ACTION_ITEM in question.words:  # an action item answers "whats on tylers plate" in its own words
        matched = [hits | {_ACTION_ITEM} if passage.source == "action item" else hits
                   for hits, passage in zip(matched, passages)]
    total = len(passages)
    frequency = {q: sum(1 for m in matched if q in m) for q in question.words}
    weight = {q: math.log(1 + total / (1 + frequency[q])) * (0.3 if q in _WEAK else 0.5 if q in question.meeting_words else 1.0)
              for q in question.words}
    top_weight = max(weight.values())
    title_hits = {
        meeting.id: sum(1 for w in question.meeting_words if any(_near(w, t) for t in _title_terms(meeting)))
        for meeting in {p.meeting.id: p.meeting for p in passages}.values()
    }
    scored: list[tuple[float, int]] = []
    for index, passage in enumerate(passages):
        hits = matched[index]
        by_person = passage.speaker.lower() in question.people
        named = by_person or any(person.split()[0] in passage.text.lower() for person in question.people)
        if not hits - _WEAK and not (hits and named) and not by_person:
            continue
        score = sum(weight[q] for q in hits)
        if by_person and not question.wants_outcome and _ACTION_ITEM not in question.words:
            # "what did ken ask about": Ken's words count as the best word (not for what is on his plate)
            score += top_weight
        if (question.wants_number or question.wants_outcome) and _DIGIT.search(passage.text):
            score *= 1.3  # (what was agreed is mostly figures: seats, a discount, a term)
        if named:
            score *= 1.4
        elif question.people and not question.people & {p.lower() for p in passage.meeting.participants}:
            score *= 0.7  # ("did she sign off": a passage naming her, before a meeting she was not in)
            if _ACTION_ITEM in question.words and any(passage.text.lower().startswith(person.split()[0] + " ")
                                                      for person in question.people):
                score *= 1.3  # "Tyler to send the list" is on Tyler's plate; "Sam to send Tyler..." is Sam's
        if passage.meeting.id in preferred:
            score *= 1.5
        score *= 1 + 0.5 * min(title_hits.get(passage.meeting.id, 0), 2)
        if " — " in passage.text and (hits - _WEAK - _ASKING_WORDS) & _words(passage.text.split(" — ", 1)[0]):
            score *= 1.25  # asked on the call in the question's own words ("What cap?"), and answered there
        if passage.source != "said":
            score *= 1.1  # the notes say what was settled, the transcript how it was said
            if question.wants_outcome and passage.source in ("decision", "summary"):
                score *= 1.5
        scored.append((score, index))
    if not scored:
        return []
    # Best first; between equals, the most recent meeting ("what did we last agree").
    scored.sort(key=lambda pair: (-pair[0], -passages[pair[1]].meeting.started_at.timestamp(), pair[1]))
    best = scored[0][0]
    chosen: list[Passage] = []
    seen: set[str] = set()
    for score, index in scored:
        if score < best * _CLOSE_ENOUGH or len(chosen) >= MAX_ANSWERS:
            break
        passage = passages[index]
        key = passage.text.lower()
        sentences = [sentence.lower() for sentence in _SENTENCE.split(passage.text) if len(sentence) > _SHARED_SENTENCE]
        if key in seen or any(key in shown or any(sentence in shown for sentence in sentences) for shown in seen):
            continue  # the same words again, or a sentence of a passage already shown (notes quoted two ways)
        seen.add(key)
        if question.wants_number and passage.source == "said" and not _DIGIT.search(passage.text):
            # "wht cap did maya offer": "... a cap on the price increase" — "What cap?" — "No more than 5%": the figure
            # said a turn or two later
            figure = next((index for index, line in enumerate(passage.after) if _DIGIT.search(line)), None)
            if figure is not None:
                passage = replace(passage, text=" — ".join((passage.text, *passage.after[:figure + 1])))
        elif (question.wants_number and passage.source == "said" and len(passage.after) > 1
              and passage.after[0].rstrip().endswith("?") and question.words & _words(passage.after[0])):
            passage = replace(passage, text=" — ".join((passage.text, *passage.after[:2])))  # "... a cap" — "What cap?" — "5%"
        chosen.append(passage)
    return chosen


# What someone asked of us, in the words the notes and transcripts use for it.
_ASKS_OF_US = re.compile(r"\b(?:needs?|needed|wants?|wanted|asks?|asked|requests?|requested|requires?|required|"
                         r"would like|'d like)\b")


def their_asks(person: str, passages: Sequence[Passage], *, earliest_first: bool = False,
               about: frozenset[str] = frozenset()) -> list[Passage]:
    """Up to `MAX_ANSWERS` passages where `person` (a participant's full name) asks something of us: their own
    words and the notes naming them, the most recent first (`earliest_first`: what they asked originally). `about`:
    words of what was asked ("discount"): passages saying one of them, when any does."""
    if about:
        on_topic = [p for p in passages if any(_near(word, seen) for seen in _words(p.text) for word in about)]
        found = their_asks(person, on_topic, earliest_first=earliest_first)
        if found:
            return found
    first = person.split()[0].lower()
    scored: list[tuple[int, float, int]] = []
    for index, passage in enumerate(passages):
        by_them = passage.speaker.lower() == person.lower()
        if not by_them and first not in passage.text.lower():
            continue
        # (their own questions on the call are asks too: "Sub-processors? — Sam Patel: There's a public list...")
        asks = bool(_ASKS_OF_US.search(passage.text.lower())) or (by_them and "?" in passage.text.split(" — ")[0])
        if not asks:
            continue
        when = passage.meeting.started_at.timestamp()
        scored.append((2 if by_them or passage.source != "said" else 1, -when if earliest_first else when, index))
    scored.sort(key=lambda item: (-item[0], -item[1], item[2]))
    chosen: list[Passage] = []
    for _, _, index in scored:
        if all(passages[index].text.lower() not in shown.text.lower() for shown in chosen):
            chosen.append(passages[index])
        if len(chosen) == MAX_ANSWERS:
            break
    return chosen

