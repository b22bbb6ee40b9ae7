"""Merging a thread's context into a message's frame: what was typed always wins.

The thread fills only slots the message left empty, and only slots that make sense for the new
intent: a product question takes the thread's product and plan, a recap or a draft its account,
person and meeting, a call search its account only when the message follows up the last search.
A draft never takes product facts from the thread unless it points back at them ("send Tyler that
pricing"): a draft to a contact may only use facts of that contact's own account and meetings.

Which intent a message has in its thread is decided here too: a short follow-up ("and enterprise?")
continues the previous turn's intent; a message that is not a follow-up is read on its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from control_plane.frame import Frame, SlotSource
from control_plane.intents import Decision, Intent
from control_plane.meeting_questions import ABOUT_THEIR_PLANS, ADDS_A_TOPIC, asks_what_happened
from control_plane.names import NameIndex

# The frame slots each intent's handler reads, as the handlers declare them: the thread fills only those,
# and only an intent that reads some can be continued by a follow-up.
IntentSlots = Mapping[Intent, tuple[str, ...]]
# Without declarations (a control plane built on its own): every intent but these can use every slot.
_CONTEXT_FREE = frozenset({Intent.HELP, Intent.SMALLTALK, Intent.UNKNOWN})
# A message that leans on the previous turn: it opens like a continuation or points back at it.
_FOLLOW_UP = re.compile(
    r"^\W*\+|^\W*(?:and|also|plus|add|with|w/|throw in|what about|how about|same for|same with|ok(?:ay)?,? (?:and|what about|how about)|then|"
    r"(?:ok(?:ay)?,? |and )?now (?:do|for|try)|do the same (?:for|with)|same thing (?:for|with)|repeat (?:that |it )?for|"
    r"so|but|vs\.?|versus|compared to|or|what if)\b|\b(?:instead|then|too|as well|either|more|extra)\W*$|"
    r"\b(?:it|its|it's|they|them|their|those|these|that|this one|that one|the same|one|each|both|either|there)\b"
)
_FOLLOW_UP_MAX_WORDS = 10
_OUT_OF_SCOPE_CONFIDENCE = 0.85  # an out-of-scope pattern this sure ("what's the weather") is never a follow-up
# A pattern at least this sure of the message's own intent keeps it, follow-up or not.
_OWN_INTENT_CONFIDENCE = 0.85
_SURE_SEARCH = 0.9  # a call search this sure ("find calls about pricing") stays a search after a recap
# "that pricing", "those prices", "the quote above": a draft that asks for the thread's product facts.
_BACK_REFERENCE = re.compile(
    r"\b(?:that|those|these|this|the same|the above|above)\s+(?:pricing|prices?|quote|numbers|figures|plan|tier|"
    r"costs?|info(?:rmation)?|details|comparison)\b|\b(?:pricing|prices?|quote|numbers|comparison)\s+(?:above|from (?:above|before))\b"
    r"|\b(?:about|on|with|re|regarding|covering) (?:it|that|this|them|those)\b"
)
# A question about what happened: after a recap, about that meeting.
_ABOUT_THE_PAST = re.compile(r"^(?:and |so |ok |okay )?(?:what|who|how much|how many|when|why|which)(?:'s)? (?:\w+ )?(?:was|were|did|had)\b")
# What a catalog question asks after a recap: what they would need, what it costs, which plan has it.
_ASKS_THE_CATALOG = re.compile(
    r"\b(?:would|upgrade|downgrade|cost|costs|price|pricing|plan|tier|include|includes|support|supports|per seat|seats)\b"
)
# A question about the customer the thread is about: "whats their budget", "who's their champion".
_THEIR_FACTS = re.compile(r"^(?:(?:and|so|ok|okay|btw|also|wait|remind me|quick q|quick question),? ){0,2}(?:what(?:'s| is| was| were| are)?|who(?:'s| is| was)?|how (?:much|many|big)"
                          r"(?: is| was| are| were)?) (?:their|his|her)\b")
# "what plans are they looking at", "which plan is she leaning towards": their evaluation, as the calls tell it
_THEIR_EVALUATION = re.compile(r"\b(?:what|which) (?:plans?|tiers?|options?|products?) (?:are|is|were|was) (?:they|he|she) "
                               r"(?:looking at|considering|evaluating|on|interested in|leaning)\b")
# "how big is the renewal cap", "what currency is the quote in", "did we charge a setup fee", "whens it going to
# their board": the account's deal, in words no catalog answers
_THEIR_DEAL = re.compile(
    r"\b(?:the|that|this|their) (?:quote|deal|contract|renewal(?: cap)?|proposal|order form|cap|ramp|pilot|rollout|go-?live|"
    r"terms|redlines?)\b"
    # "when does migration happen", "who on our side is doing the migration plan", "what was closewise at"
    r"|\bwhen (?:does|do|will|is|are|did) (?:the |their |our )?[\w-]+(?: [\w-]+)? (?:happen|happening|start|starting|kick ?off|"
    r"begin|land|close|wrap up|finish)\b"
    r"|\bwho (?:on|from) (?:our|their) (?:side|end)\b|\bwho(?:'s| is) (?:doing|handling|running|owning|leading|driving)\b"
    r"|\bwho owns (?:the|their|that) (?!account\b)[\w-]+"
    r"|^(?:(?:and|so|ok),? )?what (?:was|were) [\w-]+ (?:at|charging|quoting|offering|asking)\b"
    r"|\b(?:the|a|any|which|what|who was the|their) competitors?\b"
    r"|\bwe (?:offer(?:ed)?|quot(?:e|ed)|charg(?:e|ed)|promis(?:e|ed)|g[ia]ve|agreed|counter(?:ed)?|propos(?:e|ed)|waived?)\b"
    r"|\bthey (?:got|get|want|wanted|asked|sign|signed|need|needed|pay|paid|use|using|chose|picked|bought|ended up)\b"
    # "when do they go live", "are they launching monday": their rollout's dates
    r"|\b(?:they|they're|theyre) (?:(?:are |were )?(?:go|going|went|gone) live|(?:are |were )?(?:launch|launching|launched|start|starting|"
    r"started|kick(?:ing)? off|roll(?:ing)? out|live|renew|renewing))\b"
    # "what closewise quoted them", "what we promised her": said to the account's people
    r"|\b(?:quoted|offered|charged|gave|promised|told|sold|pitched|sent) (?:them|him|her)\b"
    # "was onboarding included for them", "or are they paying for it": what their deal gives them
    r"|\b(?:included|thrown in|free|waived|comped|discounted) (?:for|to) (?:them|him|her)\b|\b(?:are|were) they paying\b"
    # "are they live yet", "is acme signed": where the account's deal stands
    r"|\b(?:are|is) (?:they|he|she) (?:live|signed|closed|done|ready|onboarded|rolled out|in production|up and running|on a trial|"
    r"trialing|still)\b|\b(?:have|has) (?:they|he|she) (?:gone live|signed|closed|launched|started|rolled out|paid)\b"
    r"|\bthrown in\b|\btheir (?:board|cfo|ceo|legal|side|end|budget|team|reps|deadline|timeline|currency)\b"
    r"|\bwho (?:there|over there|on their (?:side|end))\b"
    r"|\bwhat(?:'s| does| do| did| is)? (?:he|she|they) (?:need|needs|have|has|got|owe|owes) to\b"
    # "who was supposed to spot check after the resync", "whos chasing the rest", "who's fixing it"
    r"|\bwho(?:'s| is| was| were)? (?:supposed to|meant to|going to|gonna|fixing|chasing|handling|doing|sending|building|"
    r"setting up|owning|running|taking|on the hook)\b"
)
_EDIT_SCAN = 200
# Catalog words of another product that move a follow-up to it ("whats an sms credit pack cost"); two are not enough:
# "and billed annually?" after a Sentinel quote names Orbit's annual-billing FAQ, yet asks about Sentinel
_MOVED_BY_VOTES = 3
# "send it to her boss instead", "whos his manager", "cc their boss": the contact above the thread's
_THEIR_BOSS = re.compile(r"\b(?:her|his|their) (?:boss|manager|supervisor|superior|higher[ -]?up|exec(?:utive)?|vp)\b")
# "send it to henrik instead", "address it to her boss", "actually make it to omar": the same draft, to someone else
_READDRESSED = re.compile(r"\b(?:send|address|make|write|redo|switch|change|redirect) (?:it|this|that|the (?:draft|email|note))"
                          r"(?: over)? to\b|\bto [\w' -]{2,40} instead\b|\binstead of [a-z]+\b")


def readdresses_the_draft(lowered: str) -> bool:
    """Whether a message after a draft asks for the same draft to someone else ("send it to henrik instead")."""
    return bool(_READDRESSED.search(lowered[:_EDIT_SCAN]))
# "his email?", "whats her title", "their phone number": a detail of the contact the thread is about
_CONTACT_DETAIL = re.compile(r"^\W*(?:(?:and|ok|okay|so|also|oh|k|btw)\W+){0,2}(?:what(?:'s| is|s)? |got |do (?:we|you) have )?"
                             r"(?:his|her|their) (?:e-?mail(?: address)?|address|phone(?: number)?|number|title|role|job title|"
                             r"position|contact(?: info| details)?)\W*$")
# "already on orbit", "existing orbit customers", "a bundle w orbit": the product named is what they have, not the subject
_CUSTOMERS_OF_ANOTHER = re.compile(r"\balready (?:on|use|using|have|has|run|running|bought|a customer of|customers? of)\b|"
                                   r"\b(?:already|existing|current) (?:an? )?[\w-]+ (?:customers?|users?|clients?)\b|"
                                   r"\bexisting [\w-]+ (?:customers?|users?|clients?)\b|\bbundle[sd]?\b|\bbought together\b|"
                                   r"\bbuy (?:them )?both\b")
_ASKS_BACK = re.compile(r"^\W*(?:(?:oh|ok|okay|and|also|btw|wait|so|hmm)\W+){0,3}(?:who|what|when|where|which|why|how|did|does|do|is|are|was|"
                        r"were|has|have)\b")
# "add team and growth pricing for 20 seats", "mention guided onboarding is included", "drop the last line", "sign it
# from maya": an edit of the draft just given, whatever catalog words it holds
_EDITS_THE_DRAFT = re.compile(
    r"^\W*(?:(?:ok|okay|k|and|also|now|great|nice|cool|perfect|thanks|thx|pls|please|can you|could you|then)\W+){0,3}"
    r"(?:add|mention|include|put in|throw in|slip in|say|note that|tell (?:them|him|her)|let (?:them|him|her) know|"
    r"remind (?:them|him|her)|drop|remove|take out|cut|swap|change|use|sign (?:it )?(?:off )?(?:as|from)|cc|address it to|"
    r"make (?:it|the subject)|lead with|open with|end with|close with)\b"
)
_ASKS_WHO = re.compile(r"^\W*(?:(?:oh|ok|okay|and|also|btw|wait|so)\W+){0,3}(?:who(?:'s| is| was| are)|whos)\b")
_ABOUT_IT = re.compile(r"\b(?:about|on|re|regarding|for) (?:it|that|this|them)\b")
_ABOUT_THEM = re.compile(r"\b(?:they|their|them|he|she|his|her|we|us)\b")
# "same for 40", "what about 60?", "and for 100": a seat count with no seat word, after a quote for seats.
_BARE_QUANTITY = re.compile(
    r"^\W*(?:(?:ok(?:ay)?|k|kk|cool|fine|right|so|and|what about|how about|same|the same|same thing|same again)\W+)*"
    r"(?:for|with|at)?\W*(\d{1,3}(?:,\d{3})?|\d{1,6})(?!\s?(?:%|percent|pct)|\.\d)(?: (?:instead|then|of them|please))?"
    r"(?:\W+(?:a |per |/)?(?:year|yearly|annual|annually|month|monthly|mo))?\W*$"  # "ok 25 then yearly"
)
# "what if they drop to 35", "bump it to 50", "and 250 at list for a yr": the thread's seats, changed to that many
_SEATS_TO = re.compile(r"\b(?:drop(?:s|ped)?|go(?:es)?|went|come|comes|bump(?:ed)?|cut|change|move|scale|grow|shrink|increase|"
                       r"decrease|reduce|up|down|only)(?: (?:it|that|them|seats|down|up|back|the seats))? to (\d{1,3}(?:,\d{3})?|\d{1,6})\b"
                       r"(?!\s?(?:%|percent|pct|k\b|\.\d))"
                       r"|^\W*(?:and|what about|how about|ok|so)?\W*(\d{1,3}(?:,\d{3})?|\d{1,6}) (?=(?:at list|at list price|on \w+|"
                       r"for a (?:yr|year|month)|per (?:yr|year|month)|a (?:yr|year|month)|annual\w*|monthly)\b)")
# "customer already uses orbit", "if they also buy orbit": the product they have besides, not the one asked about
_ALREADY_ON = re.compile(r"\b(?:already|also|too)\s+(?:use|uses|using|on|buy|buys|buying|bought|have|has|run|runs|running|"
                         r"a customer of|customers of)\b|\b(?:existing|current) \w+ customers?\b|\b\w+ customers? too\b")
# "whats included that pro doesnt have", "what does it add over growth": the thread's plan set against the one named
_SET_AGAINST_IT = re.compile(r"\b(?:that|which) [\w-]+ (?:doesn'?t|does not|don'?t|do not|lacks?|can'?t)\b|\b(?:over|beyond|on top of|"
                             r"compared to|vs\.?|versus|than) [\w-]+\W*$|\bnot (?:in|on) [\w-]+\W*$")
# "pricing for 60 on each", "40 of each, annual": the seats of each plan just compared
_EACH_QUANTITY = re.compile(r"(?<![\w$.,])(\d{1,3}(?:,\d{3})?|\d{1,6}) (?:(?:on|of|for|per|seats? (?:on|of|for|per)) )?"
                            r"(?:each|both|either)\b")
# "and with 10 more seats?", "w/ 2 more", "add 5", "2 fewer": seats added to (or taken off) the thread's
# (not "add 6 sms credit packs", "2 extra api packs": packs of an add-on, not seats)
_NOT_SEATS = r"(?!\s?(?:%|percent|off|discount)|(?: [\w-]+){0,3} (?:packs?|credits?|add-?ons?|blocks?|bundles?|tb|gb|hours?)\b)"
_SEAT_CHANGE = re.compile(r"\b(\d{1,5}) (?:more|extra|additional|fewer|less)\b(?! (?:than|%|percent|off|discount))" + _NOT_SEATS
                          + r"|\b(?:add|adding|plus|another|minus|drop|dropping|remove|removing|lose|cut) (\d{1,5})\b" + _NOT_SEATS)
# "if they pay annually instead, what would that come to": a longer message still about the seats quoted
_LEANS_BACK = re.compile(r"\binstead\b|\b(?:that|it|this)(?: would)? (?:come|comes|work|works|add|adds) (?:out |up )?to\b"
                         r"|\b(?:does|would|will) (?:that|it|this) add\b"
                         r"|\d\s?(?:%|percent)?\s?(?:off|discount)\b|\bafter (?:the|their|that) \d{1,2}\s?(?:%|percent)")
# "10 growth seats for them", "w that?", "with their discount": the customer (and discount) an FAQ just answered about
_POINTS_AT_THAT_CUSTOMER = re.compile(r"\b(?:for|to) (?:them|that one|those guys|that customer|that prospect|the nonprofit|"
                                      r"the startup)\b|\b(?:w|w/|with) (?:that|it|the discount|their discount|that discount)\b")
# ("now with 10% off", "and after the 12%": the quote just given, discounted)
# Words that carry no subject of their own: a message of names and these ("and enterprise?", "for acme
# last week", "growth annually for 15") leans on the previous turn; two other words make a new question.
_LEANING_WORDS = frozenset(
    """a an the and or but so ok okay then also too what whats what's how hows how's about is are does do did
    on in for of with w at to from by vs versus than same again instead pls please thx thanks
    it its that this those these them they one ones each both either which
    price prices pricing cost costs much per seat seats user users month monthly year yearly annual annually
    plan plans tier tiers calls call meetings meeting last this next week month quarter today yesterday""".split()
)
_NEW_SUBJECT_WORDS = 2
_BARE_QUESTION_WORDS = 4
_BARE_TOPIC_WORDS = 3
_CORRECTION = re.compile(r"^\W*(?:(?:no|nah|nope|sorry|sry|oops|wait|ugh|my bad|err)\b[,!.:; -]*)+(?:i )?(?:meant |mean )?"
                         r"|^\W*(?:i )?meant\b\W*")
_CORRECTION_MAX_WORDS = 4  # "no i meant the beacon one" corrects; a longer message asks something of its own
# Words that say nothing of a subject: a message of only these after an answer is a reaction, not a question.
_FILLER = frozenset("""hmm hmmm huh lol lmao wow cool nice sure yes yeah yep yup nope okay really why what how when
    who where which right great thanks thx the and for you got gotcha ugh meh oops sorry wait what's how's""".split())
_SURE_CATALOG = 0.9  # a catalog question this sure ("does pro include sso") is never about the meeting
_WORD = re.compile(r"[a-z0-9']+")
_HOW_MANY = re.compile(r"^(?:(?:and|so|ok|okay|also|btw)\W+)*how (?:many|much)\b")
_DEAL_ASK = re.compile(r"\b(?:what|which) (?:plan|tier)\b|\b(?:numbers|terms|final|deal|discount)\b")
_DEAL_WORDS = frozenset("""many much final renewal renewed numbers number terms term deal discount discounts total contract
    length signed sign agreed agree get got pick picked choose chose go went land landed end ended up their they
    quote quoted proposal proposed order offer offered
    seat seats users licenses looking considering planning thinking evaluating expecting""".split())
# A question about something's content ("how long is the ramp", "who owns it"): after a search, the call found says.
_ASKS_CONTENT = re.compile(r"^(?:(?:and|so|ok|okay|also)\W+)?(?:how (?:long|much|many|big|often)|what(?:'s| is| was| were| are)?"
                           r"|who(?:'s| is| was)?|when|why|which|where"
                           # "hows the ramp work", "how does the ramp work", "how did that go"
                           r"|how(?:'s| is| does| do| did| will| would)\b[^.?!\n]{0,40}\b(?:work|works|go|went|happen|look))\b")
_PICKS_FROM_RESULTS = re.compile(r"^(?:(?:and|so|ok|okay)\W+)?(?:(?:which|what|any) (?:ones?|of (?:them|those|these|the calls))\b"
                                 r"(?! (?:said|says|mentioned|talked|discussed))"
                                 # "which were with sofia", "any with umbrella?", "just the ones from acme"
                                 r"|(?:which|what) (?:were|was|are|is) (?:with|from|for)\b|(?:any|only|just)(?: the ones| of them)? "
                                 r"(?:with|from)\b)")
_REFINES_SEARCH = re.compile(r"\b(?:ones?|calls?|meetings?|demos?|conversations?|recordings?|transcripts?|results?|matches)\b"
                             r"|\bhow many (?:is|are|was|were) (?:that|there|those|they)\b|\bhow many (?:of )?(?:them|those)\b|\bin total\b")
_PRICES_THE_DEAL = re.compile(r"\b(?:cost|costs|price|priced|pricing|come to|comes to|total|at list|list price|per seat|"
                              r"per year|per month|a year|a month|annually|monthly)\b")
# "how much is that per year", after what an account agreed: that deal's plan and seats
_POINTS_BACK = re.compile(r"\b(?:that|it|this|those|them|the deal|their deal|(?:their|the) (?:discount|disc|contract|terms))\b")
# "whole 2 yr term?", "over the 3 yrs", "3 year total": the thread's yearly figure over that many years
OVER_YEARS = re.compile(r"\b(?:whole|full|entire|over|across|all|for)\s+(?:the\s+)?(?:(?:whole|full|entire)\s+)?(?:(\d)|(two|three|four|five))[\s-]?(?:yr|year)s?\b"
                        r"|\b(\d)[\s-]?(?:yr|year) (?:term|contract|deal|total)\b")
_PER_UNIT = re.compile(r"\b(?:per|a|each|every) (?:seat|user|license|licence|month|year|head)\b")
_WHAT_IF = re.compile(r"\b(?:would|could|if|upgrade|downgrade|need|needs|cheapest|max|maximum|limit|allowed)\b")
_SHORT_COUNT_WORDS = 10
_COMPARE = re.compile(r"\b(?:compare|comparison|compared|difference|differences|differ|versus|vs)\b"
                      # "what does it add over pro", "what do they get beyond growth"
                      r"|\b(?:add|adds|get|gets|give|gives|offer|offers|have|has)\b[^.?!\n]{0,20}\b(?:over|beyond|on top of)\b")
_WHICH_PLAN = re.compile(r"\b(?:which|what|all|every|each|any) (?:of the )?(?:plans?|tiers?|editions?)\b|\bcompare\b")


# The pattern id of a product question read from the plan or product a message names, no pattern placing it.
NAMES_A_PLAN = "names-a-plan"
# The pattern id of a product question read from a catalog word alone ("storage?", "what if they cancel").
CATALOG_TERM = "catalog-term"
_HOW_MANY_THINGS = "how-many-things"  # "how many records got hit": a count, of the catalog or of the thread's meeting
# The aspect of a turn that listed an account's people ("who do we know at kestrel").
PEOPLE_ASPECT = "people"
# The aspect of a turn that said who someone is ("who is sofia romano").
PERSON_ASPECT = "person"
# The aspect of a turn that named an account's owner ("who owns the kestrel account"); `owner_aspect` adds their name
OWNER_ASPECT = "owner"
_OWNER_PREFIX = OWNER_ASPECT + ":"
# The aspect of a turn that listed someone's action items: this prefix, then their name.
TASKS_ASPECT = "tasks:"
# The aspect of a turn that said who one of our own people is: this prefix, then their name.
COLLEAGUE_ASPECT = "colleague:"
# The aspect of a draft signed by one of our own people ("sign it from rachel"): this prefix, then their name.
SENDER_ASPECT = "sender:"
# "n procurement", "and legal?" after an account's contacts: the people in that role there
_ANOTHER_ROLE = re.compile(r"^\W*(?:(?:and|n|also|what about|how about|same for)\W+)?(?:the |their |for )?(?:security|infosec|it|finance|"
                           r"procurement|purchasing|legal|tech\w*|privacy|compliance|ops|operations|sales|exec\w*|billing|cfo|ciso|"
                           r"cto|ceo|cio|dpo)(?: (?:side|team|person|people|contact|guy|lead))?\W*$")
_ASKS_STATUS = re.compile(r"\b(?:live yet|live now|gone live|signed yet|closed yet|where (?:are|is|r) (?:they|we|things|it) at|"
                          r"where do (?:we|things) stand|latest (?:status|update)|any (?:update|news)|status)\b")
# "and whats the cheapest plan", "the top tier": the product's, whatever plans were just compared
_EXTREME_PLAN = re.compile(r"\b(?:cheapest|lowest|smallest|most expensive|highest|biggest|top|entry|entry-level|base) "
                           r"(?:plan|tier|edition|option|one)\b")
# "api limit diff between the two?", "on both", "each of them": the plans just compared
_THE_PLANS_COMPARED = re.compile(r"\b(?:the two|both|each of them|either of them|between them|those two|these two)\b")
# "whats the deal worth per yr", "per yr after disc", "what does that come to at the agreed terms": the deal, priced
_DEAL_VALUE = re.compile(r"\b(?:worth|come to|comes to|work out to|works out to|after (?:the )?disc\w*|at the agreed|"
                         r"(?:per|a|each) (?:yr|year)|annual (?:value|total|cost)|total (?:per|a) (?:yr|year)|"
                         # "whats the yearly number", "the monthly figure", "what does that cost them"
                         r"(?:yearly|annual|monthly|total) (?:number|figure|amount|bill|spend|price)|"
                         r"what (?:does|would|will) (?:that|it|the deal) cost|"
                         # "whats their effective per seat w the 10%", "net price per seat"
                         r"effective|net (?:price|per seat|cost)|per (?:seat|user) (?:after|with|w)\b)\b")
_POINTS_AT_SOMEONE = re.compile(r"\b(?:he|him|his|she|her|hers)\b")
# "which meetings was he on", "what calls has she been on": a contact's meetings
_THEIR_MEETINGS = re.compile(r"\b(?:which|what|any|list|all)\b[^.?!\n]{0,20}\b(?:meetings?|calls?|mtgs?)\b"
                             r"|^\W*(?:(?:and|so|ok)\W+)?(?:his|her|their) (?:meetings?|calls?|mtgs?)\W*$")
# "which accounts is he on", "what does she cover", "whats his book": one of our people's accounts
_THEIR_BOOK = re.compile(r"\b(?:accounts?|accts?|book|territory|portfolio|cover|covers|own|owns|manage|manages)\b")
# "vandelays deal worth per yr", "hooli contract per yr?", "umbrella deal, annual total?": their deal, priced
_DEAL_NOUN = r"\b(?:deal|contract|renewal|order|agreement|terms)\b"
_VALUE_OF = (r"(?:" + _DEAL_VALUE.pattern + r"|\b(?:annual|yearly) (?:total|value|cost|price)|\bacv\b|"
             r"\b(?:total|value|cost) (?:per|a) (?:yr|year|month|mo)\b|"
             # "acme contract per seat per month?", "tidewater renewal numbers?"
             r"\bper (?:seat|user)\b|\b(?:numbers|figures|the math|value)\b)")
_THEIR_DEAL_PRICED = re.compile(_DEAL_NOUN + r"[^.?!\n]{0,40}" + _VALUE_OF + "|" + _VALUE_OF + r"[^.?!\n]{0,30}" + _DEAL_NOUN
                                # "what per seat price did they end up at", "what price did hooli land on"
                                + r"|\b(?:price|per seat|per user|pricing|rate)\b[^.?!\n]{0,40}\b(?:end(?:ed)? up (?:at|with|on|paying)|"
                                r"land(?:ed)? (?:at|on)|settle(?:d)? (?:at|on)|agree(?:d)? (?:to|on)|sign(?:ed)? (?:at|for))\b")


# "draft a note to mike w the pricing", "email omar the order form w the numbers": a draft that quotes their deal
_DRAFT_QUOTES = re.compile(r"\b(?:pric\w*|numbers|quote|costs?|figures|what (?:it|they(?:'ll| will)?) (?:costs?|pay))\b")


def draft_quotes_their_deal(lowered: str) -> bool:
    """Whether a draft request asks for prices without naming a plan: their deal's, when the meetings record one."""
    return bool(_DRAFT_QUOTES.search(lowered[:300]))


def prices_their_deal(lowered: str) -> bool:
    """Whether a question about an account's deal asks what it comes to ("whats vandelays deal worth per yr")."""
    return bool(_THEIR_DEAL_PRICED.search(lowered[:300]))


def about_people(aspect: str | None) -> bool:
    """Whether a turn's aspect is about people (who someone is, their tasks, an account's contacts or owner): a deal
    its answer also states does not replace it."""
    return bool(aspect) and (aspect in (PEOPLE_ASPECT, PERSON_ASPECT) or names_an_owner(aspect)
                             or aspect.startswith((TASKS_ASPECT, COLLEAGUE_ASPECT)))


def owner_aspect(owner: str) -> str:
    """The aspect a turn naming an account's owner leaves: "and his accounts?" then asks about that owner."""
    return _OWNER_PREFIX + owner if owner else OWNER_ASPECT


def names_an_owner(aspect: str | None) -> bool:
    """Whether a turn's aspect is an account's owner (`owner_aspect`)."""
    return bool(aspect) and (aspect == OWNER_ASPECT or aspect.startswith(_OWNER_PREFIX))


def colleague_aspect(colleague: str) -> str:
    """The aspect a turn saying who `colleague` is leaves in the thread."""
    return COLLEAGUE_ASPECT + colleague


def sender_aspect(sender: str) -> str:
    """The aspect a draft signed by `sender` leaves, so that its revisions stay signed by them."""
    return SENDER_ASPECT + sender


def tasks_aspect(person: str) -> str:
    """The aspect a turn listing `person`'s action items leaves in the thread."""
    return TASKS_ASPECT + person


def _continuable(intent: Intent, slots_for: IntentSlots | None) -> bool:
    return intent not in _CONTEXT_FREE if slots_for is None else bool(slots_for.get(intent))


def _usable(intent: Intent, slots_for: IntentSlots | None) -> tuple[str, ...] | None:
    """The slots the intent can use (the rest are not looked at, typed or not); None: all of them."""
    return None if slots_for is None else slots_for.get(intent) or None


@dataclass(frozen=True)
class ThreadContext:
    """What the thread was about before this message (see `knowledge.thread_memory`)."""

    last_intent: str | None = None
    product: str | None = None  # the product's slug or name
    plan: str | None = None
    account: str | None = None
    person: str | None = None
    meeting_id: int | None = None
    aspect: str | None = None
    quantity: int | None = None
    plans: tuple[str, ...] = ()  # the plans a comparison was about
    plan_seats: tuple[int, ...] = ()  # the seats of each of `plans`, for a deal mixing plans
    term: str | None = None  # the period the thread's last figure was for ("year", "month")
    topic: str | None = None  # what the thread's last call search looked for
    discount: float | None = None  # the percentage off the thread's quotes (typed before, or the deal's)

def intent_in_thread(decision: Decision, thread: ThreadContext,
                     slots_for: IntentSlots | None = None) -> tuple[Intent, bool]:
    """(the intent the message has in its thread, whether it follows up the previous turn)."""
    last = _intent(thread.last_intent)
    if last is None:
        return decision.intent, False
    text = decision.normalized_text
    short = len(text.split()) <= _FOLLOW_UP_MAX_WORDS
    marked = short and bool(_FOLLOW_UP.search(text))
    weak = decision.llm_validation != "skipped" and decision.confidence < _OWN_INTENT_CONFIDENCE
    if thread.person and _CONTACT_DETAIL.search(text) and _continuable(Intent.MEETING_SUMMARY, slots_for) \
            and not decision.entities.person:
        return Intent.MEETING_SUMMARY, True  # "his email?", "whats her title" about the thread's contact
    if _asks_the_contacts_meetings(text, thread) and _continuable(Intent.MEETING_SUMMARY, slots_for) \
            and not decision.entities.account:
        return Intent.MEETING_SUMMARY, True  # "which meetings was he on" after who Henrik is: his meetings
    if (thread.aspect or "").startswith(COLLEAGUE_ASPECT) and _continuable(Intent.MEETING_SUMMARY, slots_for) \
            and _POINTS_AT_SOMEONE.search(text) and _THEIR_BOOK.search(text) and not decision.entities.account:
        return Intent.MEETING_SUMMARY, True  # "which accounts is he on" after who Leo is: Leo's accounts
    if corrects(decision) and _continuable(last, slots_for):
        return last, True  # "no i meant beacon", "sorry sentinel": the last question again, of what is named now
    if (last is Intent.MEETING_SUMMARY and thread.plan and thread.quantity and _continuable(Intent.PRODUCT_QUESTION, slots_for)
            and decision.intent in (Intent.PRODUCT_QUESTION, Intent.UNKNOWN, Intent.MEETING_SUMMARY) and not decision.entities.plans
            and _DEAL_VALUE.search(text)):
        return Intent.PRODUCT_QUESTION, True  # "whats the deal worth per yr at the agreed terms": the deal's plan and seats, priced
    if thread.account and _continuable(Intent.MEETING_SUMMARY, slots_for) and _asks_about_the_account(decision, weak):
        # "whats their budget again", "did we promise no setup fee" in a thread about an account, even after a
        # product turn: what its meetings say, not the catalog
        return Intent.MEETING_SUMMARY, True
    if last is Intent.CALL_SEARCH and _PICKS_FROM_RESULTS.search(text) and decision.intent is not Intent.DRAFT_EMAIL:
        return last, True  # "which ones were with acme" after a search narrows it
    if last is Intent.CALL_SEARCH and thread.meeting_id is not None and _asks_what_the_call_said(decision, slots_for):
        return Intent.MEETING_SUMMARY, True  # "how long is the ramp" after finding the call about it: that call says
    if last is Intent.DRAFT_EMAIL and decision.intent in (last, Intent.UNKNOWN) and (_THEIR_BOSS.search(text)
                                                                   or readdresses_the_draft(text)):
        return last, True  # "send it to henrik instead", "cc her boss": the same draft, to someone else
    if last is Intent.DRAFT_EMAIL and decision.intent is last and not decision.entities.person \
            and not decision.entities.account:
        return last, True  # "shorter pls", "draft it again but friendlier": the same draft, to the same person
    if decision.intent is last:
        if marked:
            return decision.intent, True
        # "and enterprise?" follows up; "does orbit replace vanta", naming only a product too, is a question of its
        # own; "which plan?", "how much", naming nothing, follow up
        subject = _subject_words(decision)
        # (a message only its plan names made a product question, "oops i meant growth, not team", leans like an unplaced one)
        only_names = bool(decision.candidates) and decision.candidates[0].pattern == NAMES_A_PLAN
        leans_back = bool(_LEANS_BACK.search(text)) and _only_slots_for(decision, last, slots_for)
        return decision.intent, (short and _only_slots_for(decision, last, slots_for)
                                 and (subject < _NEW_SUBJECT_WORDS or only_names)) or leans_back \
            or (len(text.split()) <= _BARE_QUESTION_WORDS and subject == 0)
    if not _continuable(last, slots_for) or decision.intent in (Intent.HELP, Intent.SMALLTALK):
        return decision.intent, False
    if decision.intent is Intent.UNKNOWN and decision.confidence >= _OUT_OF_SCOPE_CONFIDENCE:
        return decision.intent, False  # clearly out of scope ("what's the weather")
    # Only a message with little evidence of an intent of its own (`weak`) continues the thread's: "recap the
    # latest one" after a search is a recap, "and what about pricing?" after a search is another search.
    if last is Intent.MEETING_SUMMARY and _counts_what_was_agreed(decision):
        return last, True  # "how many seats" after what Globex agreed: their seats, not each plan's limit
    if (last is Intent.MEETING_SUMMARY and thread.plan and thread.quantity and _continuable(Intent.PRODUCT_QUESTION, slots_for)
            and decision.intent in (Intent.PRODUCT_QUESTION, Intent.UNKNOWN) and not decision.entities.plans
            and not asks_what_happened(text) and _subject_words(decision) < _NEW_SUBJECT_WORDS
            and (_LEANS_BACK.search(text) or _PRICES_THE_DEAL.search(text))):
        return Intent.PRODUCT_QUESTION, True  # "what does that come to a year" after "Orbit Team, 12 seats": its price
    if (last in (Intent.PRODUCT_QUESTION, Intent.MEETING_SUMMARY) and thread.plan and thread.quantity and short
            and decision.intent in (Intent.PRODUCT_QUESTION, Intent.UNKNOWN) and OVER_YEARS.search(text)
            and _continuable(Intent.PRODUCT_QUESTION, slots_for)):
        return Intent.PRODUCT_QUESTION, True  # "whole 2 yr term?" after a quote: that quote over the term
    if (last is Intent.MEETING_SUMMARY and thread.aspect == "quote" and thread.plan and short
            and decision.intent in (Intent.PRODUCT_QUESTION, Intent.UNKNOWN) and not decision.entities.product
            and (decision.entities.term or decision.entities.quantity or _BARE_QUANTITY.search(text))):
        return Intent.PRODUCT_QUESTION, True  # "and monthly?", "and for 260?" after their deal was priced
    if last is Intent.MEETING_SUMMARY and _asks_after_the_meeting(decision):
        return last, True  # "payment terms?", "when's go-live" after what an account agreed: theirs
    if last is Intent.MEETING_SUMMARY and decision.intent is Intent.PRODUCT_QUESTION and _ASKS_THE_CATALOG.search(text) \
            and not asks_what_happened(text):
        return decision.intent, False  # "what would they need to upgrade to for it" after a recap: a catalog question
    if last is Intent.DRAFT_EMAIL and decision.intent is not Intent.DRAFT_EMAIL and _EDITS_THE_DRAFT.search(text[:_EDIT_SCAN]):
        return last, True  # "add team and growth pricing for 20 seats" after a draft: the draft, with that added
    names_the_catalog = decision.intent is Intent.PRODUCT_QUESTION and bool(decision.entities.plans or decision.entities.product)
    if last is Intent.DRAFT_EMAIL and names_the_catalog:
        return decision.intent, False  # "also whats the uptime sla on enterprise" after a draft: a catalog question
    if last is Intent.DRAFT_EMAIL and decision.intent is Intent.MEETING_SUMMARY and _ASKS_WHO.search(text):
        return decision.intent, False  # "oh also who's josh again" after a draft: who Josh is, not a draft to him
    if last is Intent.DRAFT_EMAIL and decision.intent is not Intent.DRAFT_EMAIL and _ASKS_BACK.search(text):
        # "who else is on their side", "what did the managers want out of it" after a draft: a question, not a redraft
        if decision.intent is Intent.UNKNOWN and thread.account and _continuable(Intent.MEETING_SUMMARY, slots_for):
            return Intent.MEETING_SUMMARY, True
        return decision.intent, False
    if last is Intent.PRODUCT_QUESTION and decision.intent is Intent.MEETING_SUMMARY and (
            decision.entities.person or decision.entities.colleague or decision.entities.account):
        # "and what does lena owe us", "hooli got more than that didnt they" after a price: about them, not the catalog
        return decision.intent, False
    if (marked and weak) or (decision.intent is Intent.UNKNOWN and short and _only_slots_for(decision, last, slots_for)):
        return last, True
    if last is Intent.PRODUCT_QUESTION and decision.intent is Intent.UNKNOWN and _LEANS_BACK.search(text):
        return last, True  # "and if they went annual instead, what does that come to" after a quote
    if last is Intent.PRODUCT_QUESTION and _bare_topic(decision):
        return last, True  # "in transit?", "byok?", "what syncs" after a catalog answer: more of the same product
    if last is Intent.MEETING_SUMMARY and weak and _ABOUT_THE_PAST.search(text):
        return last, True  # "what was the competitor price" after a recap asks about that meeting
    if last is Intent.MEETING_SUMMARY and _asks_about_the_meeting(decision):
        return last, True  # "what payment terms did we agree to", "and term + discount?" after a recap
    return decision.intent, False


def _asks_the_contacts_meetings(text: str, thread: ThreadContext) -> bool:
    """"which meetings was he on" after who a contact is: that contact's meetings."""
    return (thread.aspect == PERSON_ASPECT and bool(thread.person) and bool(_POINTS_AT_SOMEONE.search(text))
            and bool(_THEIR_MEETINGS.search(text)))


def _asks_about_the_account(decision: Decision, weak: bool) -> bool:
    """A question about the customer, not the catalog: "their"/"his"/"her" facts, or (with little evidence of
    another intent) what they or we said, asked or promised."""
    if decision.intent not in (Intent.PRODUCT_QUESTION, Intent.UNKNOWN) and not _unsure_search(decision):
        return False
    if decision.entities.product or decision.entities.plans:
        return False
    text = decision.normalized_text
    return bool(_THEIR_FACTS.search(text)) or bool(ABOUT_THEIR_PLANS.search(text)) or bool(_THEIR_EVALUATION.search(text)) \
        or (weak and asks_what_happened(text) and bool(_ABOUT_THEM.search(text))) \
        or (decision.confidence < _SURE_CATALOG and bool(_THEIR_DEAL.search(text)))


def _unsure_search(decision: Decision) -> bool:
    """A call search the patterns are not sure of ("what did they say about pricing" may ask a meeting)."""
    return decision.intent is Intent.CALL_SEARCH and decision.confidence < _SURE_SEARCH


def _asks_what_the_call_said(decision: Decision, slots_for: IntentSlots | None) -> bool:
    """After a search: a question about something's content, not another search ("which ones were with acme")."""
    entities = decision.entities
    if not (decision.intent is Intent.UNKNOWN or _unsure_search(decision)):
        return False
    if not _continuable(Intent.MEETING_SUMMARY, slots_for):
        return False
    if entities.account or entities.person or entities.time_range or entities.meeting_kind:
        return False
    text = decision.normalized_text
    return bool(_ASKS_CONTENT.search(text)) and not _REFINES_SEARCH.search(text)


def _asks_after_the_meeting(decision: Decision) -> bool:
    """A bare topic ("payment terms?") or a question naming nothing ("when's go-live") that the patterns
    cannot place, after a meeting turn."""
    entities = decision.entities
    if entities.product or entities.plans or entities.account or entities.person or entities.quantity:
        return False
    text = decision.normalized_text
    words = len(_WORD.findall(text))
    if decision.intent is Intent.UNKNOWN and decision.confidence < _OUT_OF_SCOPE_CONFIDENCE:
        return words <= _BARE_QUESTION_WORDS or (words <= _FOLLOW_UP_MAX_WORDS and bool(_ASKS_CONTENT.search(text)))
    weak_catalog = decision.intent is Intent.PRODUCT_QUESTION and decision.llm_validation != "skipped" \
        and decision.confidence < _SURE_CATALOG
    if not weak_catalog or _WHAT_IF.search(text):
        return False
    if words <= _BARE_TOPIC_WORDS:
        return True
    # "and the rotterdam seats", "how many records got hit": only a catalog word made it a product question
    if not decision.candidates or decision.candidates[0].pattern not in (CATALOG_TERM, _HOW_MANY_THINGS):
        return False
    subject = [word for word in _WORD.findall(text) if word not in _LEANING_WORDS]  # ("and the" lean on the thread)
    return len(subject) <= _BARE_TOPIC_WORDS or (
        words <= _FOLLOW_UP_MAX_WORDS and bool(_ASKS_CONTENT.search(text)) and not _ASKS_THE_CATALOG.search(text))


def corrects(decision: Decision) -> bool:
    """"no i meant beacon", "sorry sentinel", "i meant tidewater": a name put in place of the last question's."""
    entities = decision.entities
    if not (entities.product or entities.plans or entities.account or entities.person or entities.colleague
            or entities.meeting_kind):
        return False
    found = _CORRECTION.match(decision.normalized_text)
    return found is not None and len(_WORD.findall(decision.normalized_text[found.end():])) <= _CORRECTION_MAX_WORDS


def _bare_topic(decision: Decision) -> bool:
    """A message of a few words no pattern places, with a word of substance ("in transit?", "pentest frequency?"),
    not a filler ("hmm", "ok cool")."""
    if decision.intent is not Intent.UNKNOWN or decision.confidence >= _OUT_OF_SCOPE_CONFIDENCE:
        return False
    words = _WORD.findall(decision.normalized_text)
    return 0 < len(words) <= _BARE_TOPIC_WORDS and any(len(word) >= 3 and word not in _FILLER for word in words)


def _counts_what_was_agreed(decision: Decision) -> bool:
    """A short "how many"/"how much" naming nothing of the catalog and asking no what-if, after a meeting turn."""
    entities = decision.entities
    if decision.intent is not Intent.PRODUCT_QUESTION or entities.product or entities.plans or entities.quantity:
        return False
    text = decision.normalized_text
    words = _WORD.findall(text)
    if len(words) > _SHORT_COUNT_WORDS or _WHAT_IF.search(text) or _PER_UNIT.search(text):
        return False  # ("how much is that per seat" asks a price, not what they agreed)
    # "how many seats", "what plan + how many seats", "final renewal numbers?": only words about their deal
    return (bool(_HOW_MANY.search(text)) or bool(_DEAL_ASK.search(text))) and all(
        word in _DEAL_WORDS or word in _LEANING_WORDS for word in words)


def _asks_about_the_meeting(decision: Decision) -> bool:
    """After a recap: a question about what was said or agreed, about the account's own plans, or one that
    only adds a topic, read by the patterns as a catalog or out-of-scope question."""
    if decision.intent not in (Intent.PRODUCT_QUESTION, Intent.UNKNOWN) and not _unsure_search(decision):
        return False
    text = decision.normalized_text
    if asks_what_happened(text) or ABOUT_THEIR_PLANS.search(text):
        return True
    entities = decision.entities
    return bool(ADDS_A_TOPIC.search(text)) and not entities.product and not entities.plans and len(text.split()) <= _FOLLOW_UP_MAX_WORDS


def merge_thread(decision: Decision, thread: ThreadContext, names: NameIndex | None = None, *,
                 intent: Intent, follow_up: bool, slots_for: IntentSlots | None = None) -> Frame:
    """The frame for a message in its thread (`intent_in_thread` gives its intent): typed slots, then
    what the thread may fill in."""
    entities = decision.entities
    typed: dict[str, Any] = {
        "product": entities.product, "plans": entities.plans, "account": entities.account,
        "person": entities.person, "meeting_kind": entities.meeting_kind, "topic": entities.topic,
        "time_range": entities.time_range, "quantity": entities.quantity, "term": entities.term,
        "colleague": entities.colleague, "industry": entities.industry,
    }
    if names is not None and not typed["person"] and thread.person and _THEIR_BOSS.search(decision.normalized_text[:300]):
        boss = names.senior_to(thread.person)  # "send it to her boss instead", "who's his manager"
        if boss is not None:
            typed["person"], typed["account"] = boss.name, typed["account"] or boss.account
    if (intent is Intent.PRODUCT_QUESTION and typed["product"] and thread.product and names is not None
            and not _same_product(typed["product"], thread.product, names) and not typed["plans"]
            and _ALREADY_ON.search(decision.normalized_text[:300])):
        typed["product"] = None  # "customer already uses orbit, any discount?" in a Beacon thread: still about Beacon
    if names is not None and typed["person"]:
        contacts = names.contacts_named(typed["person"])
        if len(contacts) == 1:  # "sarah" is Sarah Kim, of Umbrella Health
            typed["person"] = contacts[0].name
            typed["account"] = typed["account"] or contacts[0].account
        elif typed["account"] is None:
            typed["account"] = names.account_named(typed["person"])
    if (intent is Intent.PRODUCT_QUESTION and len(typed["plans"]) == 1 and thread.plan and thread.plan not in typed["plans"]
            and not typed["product"] and _SET_AGAINST_IT.search(decision.normalized_text[:300])
            and (names is None or _product_has_plans(names, thread.product or "", (thread.plan, *typed["plans"])))):
        typed["plans"] = (thread.plan, *typed["plans"])  # "whats included that pro doesnt have" after Enterprise: the two set against
    if intent is Intent.PRODUCT_QUESTION and typed["quantity"] is None and follow_up and (thread.quantity or thread.plan):
        bare = (_BARE_QUANTITY.search(decision.normalized_text) or _EACH_QUANTITY.search(decision.normalized_text[:300])
                or _SEATS_TO.search(decision.normalized_text[:300]))
        if bare:  # "same for 40" after a quote for 25 seats: 40 seats; "ok 25 then yearly" after a plan's minimum
            typed["quantity"] = int(next(group for group in bare.groups() if group).replace(",", ""))
    if intent is Intent.PRODUCT_QUESTION and follow_up and thread.quantity:
        change = _SEAT_CHANGE.search(decision.normalized_text[:500])
        if change:  # "and with 10 more seats?", "2 fewer": the thread's seats, changed by that many
            count = int(next(group for group in change.groups() if group))
            fewer = bool(re.search(r"fewer|less|minus|drop|remove|lose|cut", change.group(0)))
            total = thread.quantity - count if fewer else thread.quantity + count
            if 0 < total <= 1_000_000:
                typed["quantity"] = total
    slots: dict[str, Any] = {name: value for name, value in typed.items() if value not in (None, ())}
    sources: dict[str, SlotSource] = dict.fromkeys(slots, "typed")
    for name, value in _inherited(intent, follow_up, decision, typed, thread, names).items():
        if name not in slots and value not in (None, ()):
            slots[name], sources[name] = value, "thread"
    if intent is Intent.PRODUCT_QUESTION and names is not None and not typed["product"] and not typed["plans"]:
        votes = names.offering_votes(decision.normalized_text)
        offering = names.offering_product(votes)
        current = names.canonical(slots["product"], "product") or slots["product"] if slots.get("product") else None
        # (a message pointing back at what was discussed, "whats that per year billed annually", leans on it more: a
        # third word of another product's is needed to move it)
        points_back = bool(_POINTS_BACK.search(decision.normalized_text[:300]))
        weak = (follow_up or points_back) and current is not None and votes.get(offering or "", 0) < _MOVED_BY_VOTES
        if offering is not None and (current is None or not votes.get(current)) and not weak:
            # (a follow-up leaning on the thread's product keeps it unless two catalog words name another one)
            # "whats an sms credit pack cost": the product selling SMS credits, not the thread's
            slots["product"], sources["product"] = offering, "catalog"
            slots.pop("plans", None), sources.pop("plans", None), slots.pop("aspect", None), sources.pop("aspect", None)
    if (intent is Intent.PRODUCT_QUESTION and names is not None and thread.product and not typed["product"]
            and typed["plans"] and all(p.casefold() == "free" for p in typed["plans"])
            and not _product_has_plans(names, thread.product, typed["plans"])):
        # "is there a free tier" in a thread about a product without a plan called Free asks about its own free plan
        slots["product"], sources["product"] = thread.product, "thread"
        slots.pop("plans", None), sources.pop("plans", None)
    if (intent is Intent.PRODUCT_QUESTION and thread.product and typed["product"] and not typed["plans"]
            and not _same_product(typed["product"], thread.product, names) and _CUSTOMERS_OF_ANOTHER.search(decision.normalized_text[:300])):
        # "any discount if theyre already on orbit" in a thread about Beacon: Beacon, for Orbit's customers
        slots["product"], sources["product"] = thread.product, "thread"
        slots.pop("plans", None), sources.pop("plans", None)
    if intent is Intent.PRODUCT_QUESTION and _compares_with_thread_plan(slots, sources, thread, follow_up, decision):
        # "compare it with Enterprise", or "and Growth?" after a comparison: the plan discussed is the other side
        slots["plans"], sources["plans"] = (thread.plan, *slots["plans"]), "typed+thread"
    usable = _usable(intent, slots_for)
    if usable is not None:  # slots the intent cannot use would only confuse its handler
        slots = {name: value for name, value in slots.items() if name in usable}
        sources = {name: source for name, source in sources.items() if name in slots}
    return Frame(intent=intent, sources=sources, follow_up=follow_up, readings=decision.readings,
                 language=decision.language, **slots)


def _inherited(intent: Intent, follow_up: bool, decision: Decision, typed: dict[str, Any], thread: ThreadContext,
               names: NameIndex | None) -> dict[str, Any]:
    """The slots the thread fills for this intent (before the typed ones take precedence)."""
    text = decision.normalized_text
    if intent is Intent.PRODUCT_QUESTION:
        return _product_context(follow_up, text, typed, thread, names)
    named_meeting = any(typed[name] for name in ("account", "person", "meeting_kind", "time_range"))
    if intent is Intent.MEETING_SUMMARY:
        if thread.person and not typed["person"] and (_CONTACT_DETAIL.search(text) or _asks_the_contacts_meetings(text, thread)):
            # "his email?" after a draft to Luis, "her title" after Priya's meeting: who they are
            return {"account": thread.account, "person": thread.person, "aspect": PERSON_ASPECT}
        if follow_up and thread.topic and thread.last_intent == Intent.MEETING_SUMMARY.value and (
                corrects(decision) or (typed["account"] and not typed["person"] and _subject_words(decision) == 0)):
            # ("globex?", "and hooli" after how many seats Acme is buying: the same question of them)
            return {"topic": thread.topic, "aspect": thread.aspect}  # "no i meant tidewater": the same question of them
        if typed["account"] and follow_up and (thread.aspect == PEOPLE_ASPECT or names_an_owner(thread.aspect)) \
                and not typed["person"]:
            return {"aspect": thread.aspect}  # "and at umbrella?" after who to talk to at (or who owns) Globex
        if thread.aspect == PEOPLE_ASPECT and not typed["person"] and _ANOTHER_ROLE.search(text):
            return {"account": typed["account"] or thread.account, "aspect": PEOPLE_ASPECT}  # "n procurement" after their security contact
        aspect = thread.aspect or ""
        pointing = bool(_POINTS_AT_SOMEONE.search(text))
        if aspect.startswith(_OWNER_PREFIX) and pointing and not typed["person"] and not typed["colleague"] \
                and names is not None and names.canonical(aspect.removeprefix(_OWNER_PREFIX), "colleague"):
            # "and his accounts?", "whats on his plate" after who owns Hooli: the owner's, not Hooli's
            return {"colleague": aspect.removeprefix(_OWNER_PREFIX), "aspect": colleague_aspect(aspect.removeprefix(_OWNER_PREFIX))}
        about = next((aspect.removeprefix(prefix) for prefix in (TASKS_ASPECT, COLLEAGUE_ASPECT) if aspect.startswith(prefix)), "")
        colleague = about if about and names is not None and names.canonical(about, "colleague") else ""
        if colleague and not typed["person"] and not typed["colleague"] and (
                (typed["account"] and (follow_up or pointing))
                or (not typed["account"] and pointing and not thread.person and aspect.startswith(COLLEAGUE_ASPECT))):
            # ("did she sign off" in a thread about Priya points at Priya, not at whose tasks were listed)
            # "and for kestrel?", "anything open at tidewater for him" after what Sam owes: Sam's, at that account;
            # "what accounts does she own" after who Maya is: Maya's
            # (after who they are, no account: "whats on her plate" after Maya's accounts is all of hers)
            return {"colleague": colleague, "aspect": thread.aspect,
                    "account": None if aspect.startswith(COLLEAGUE_ASPECT) and not typed["account"] else thread.account}
        if (typed["colleague"] or typed["person"]) and about and (follow_up or pointing) \
                and (typed["colleague"] or not decision.entities.account or pointing):  # (not the contact's own account)
            return {"aspect": thread.aspect}  # "n leo" after whats on tylers plate: what Leo owes
        if (typed["person"] or (typed["colleague"] and not typed["account"])) and follow_up \
                and thread.aspect == PERSON_ASPECT and _subject_words(decision) == 0:
            # "and ken ito?", "and leo?" after "who is dana whitfield": who they are (not "what discount did omar get")
            return {"aspect": PERSON_ASPECT}
        if typed["colleague"] and not typed["account"] and not typed["person"]:
            # "how did daniel counter" in a thread about Tidewater: Daniel on the Tidewater calls; "what did sam say"
            # after a search found the call: on that call
            found_call = thread.last_intent == Intent.CALL_SEARCH.value
            return {"account": thread.account, "meeting_id": thread.meeting_id if found_call else None,
                    "topic": thread.topic if found_call and _ABOUT_IT.search(text) else None}
        if typed["account"] or typed["person"] or typed["colleague"]:
            return {}
        if named_meeting:  # "recap the qbr" in a thread about Globex: Globex's QBR
            return {"account": thread.account}
        # ("are they live yet", "where are they at" ask where things stand now: the latest meeting, not the thread's)
        status = bool(_ASKS_STATUS.search(text))
        inherited = {"account": thread.account, "person": None if status else thread.person,
                     "meeting_id": None if status else thread.meeting_id}
        if thread.last_intent == Intent.CALL_SEARCH.value and thread.topic and _ABOUT_IT.search(text):
            inherited["topic"] = thread.topic  # "what did they say about it" after a search: about what was searched
        return inherited
    if intent is Intent.CALL_SEARCH:
        if not follow_up:
            return {}
        # "and with globex?", "which ones were with acme" after "calls about pricing": the same topic, narrowed
        inherited = {"topic": thread.topic} if thread.last_intent == Intent.CALL_SEARCH.value else {}
        if not typed["account"] and not typed["person"]:
            inherited["account"] = thread.account
        return inherited
    if intent is Intent.DRAFT_EMAIL:
        inherited: dict[str, Any] = {}
        same_account = typed["account"] is None or (thread.account or "").casefold() == typed["account"].casefold()
        if not typed["person"] and not typed["account"]:
            inherited |= {"account": thread.account, "person": thread.person}
        # A draft to someone named right after a search is about their account's latest meeting, not the
        # call the search found, unless it points back at it ("send mike a note about that call").
        after_search = thread.last_intent == Intent.CALL_SEARCH.value and typed["person"] and not _BACK_REFERENCE.search(text)
        # (a topic typed, "a note about the baa", finds the meeting about it rather than the thread's)
        if (same_account and thread.meeting_id is not None and not typed["time_range"] and not typed["meeting_kind"]
                and not after_search and not typed["topic"]):
            inherited["meeting_id"] = thread.meeting_id
        revising = follow_up and thread.last_intent == Intent.DRAFT_EMAIL.value and (
            not typed["person"] or readdresses_the_draft(text))
        if revising and not typed["topic"]:
            inherited["topic"] = thread.topic  # "make it shorter" after a draft about the okta app: still about it
        if revising and (thread.aspect or "").startswith(SENDER_ASPECT):
            inherited["aspect"] = thread.aspect  # "shorter pls" after "sign it from rachel": still Rachel's
        # ("draft the pricing email to carla" right after her quote: the prices just worked out)
        quoted_just_now = thread.last_intent == Intent.PRODUCT_QUESTION.value and draft_quotes_their_deal(text)
        if (_BACK_REFERENCE.search(text) or revising or quoted_just_now) and not typed["product"] and not typed["plans"]:
            # ("that pricing"; or a revision of a draft that quoted prices: it still does)
            inherited |= {"product": thread.product, "plans": thread.plans or ((thread.plan,) if thread.plan else ())}
            if revising or quoted_just_now:
                inherited["quantity"] = thread.quantity  # (the seats its prices were for, each plan's in a mix)
                if len(thread.plan_seats) == len(thread.plans):
                    inherited["plan_seats"] = thread.plan_seats
        return inherited
    return {}


def _product_context(follow_up: bool, text: str, typed: dict[str, Any], thread: ThreadContext,
                     names: NameIndex | None) -> dict[str, Any]:
    if thread.product is None:
        return {}
    if typed["product"] is not None and not _same_product(typed["product"], thread.product, names):
        # Another product: none of the previous one's plans carry over, but "and beacon?" after a free-trial
        # question asks the same of Beacon (its handler finds Beacon's item like it, if any).
        return {"aspect": thread.aspect} if follow_up and not typed["plans"] else {}
    plans: tuple[str, ...] = typed["plans"]
    if plans and names is not None and not _product_has_plans(names, thread.product, plans):
        return {}  # the plans named belong to another product
    inherited: dict[str, Any] = {"product": thread.product}
    if not plans and len(thread.plans) > 1 and not _EXTREME_PLAN.search(text) and (
            follow_up or text.startswith(("which", "what about", "do they", "does either")) or _THE_PLANS_COMPARED.search(text)):
        inherited["plans"] = thread.plans  # "uptime sla on each?", "which has call recording" after a comparison
        if len(thread.plan_seats) == len(thread.plans):
            inherited["plan_seats"] = thread.plan_seats  # "price that out" after "55 Growth seats and 10 Pro seats"
    elif not plans and thread.plan and not _WHICH_PLAN.search(text) and not _EXTREME_PLAN.search(text):
        inherited["plans"] = (thread.plan,)
    prices_the_deal = thread.last_intent == Intent.MEETING_SUMMARY.value and bool(_DEAL_VALUE.search(text))
    if (follow_up or (typed["product"] is None and not plans)) and not prices_the_deal:
        # A message naming nothing of the catalog ("how often does the sync run") may ask about the thing discussed
        # (not "whats the deal worth per yr" after a meeting answer that talked of an add-on: the deal, priced alone)
        inherited["aspect"] = thread.aspect
    # Seats and a period carry over from a price; "and for startups?" after the nonprofit-discount FAQ asks the FAQ
    # (an add-on priced on a plan's seats keeps them: "and annually?" asks the same bundle billed annually)
    about_an_item = (thread.aspect or "").startswith("item:") and not (thread.aspect or "").startswith(("item:limit:", "item:addon:"))
    after_a_deal = thread.last_intent == Intent.MEETING_SUMMARY.value and bool(_POINTS_BACK.search(text))
    if not about_an_item and (follow_up or (not plans and typed["product"] is None and (_LEANS_BACK.search(text) or after_a_deal))):
        inherited["quantity"] = thread.quantity  # "and yearly?" after "what do 10 pro seats cost"
        inherited["discount"] = thread.discount  # "price that out" after a deal at 10% off: with its 10%
        if thread.term in ("month", "year"):
            inherited["term"] = thread.term  # "and on pro" after "growth for 25 seats, per year"
    elif about_an_item and thread.discount and (follow_up or _LEANS_BACK.search(text) or _POINTS_AT_THAT_CUSTOMER.search(text)):
        inherited["discount"] = thread.discount  # "so 15 growth seats w that?" after the nonprofit FAQ: its 30% off
    return inherited


def _compares_with_thread_plan(slots: dict[str, Any], sources: dict[str, SlotSource], thread: ThreadContext,
                               follow_up: bool, decision: Decision) -> bool:
    plans = slots.get("plans", ())
    if sources.get("quantity") == "typed":
        return False  # "price for 40 employees on advanced" after a comparison: that plan's quote
    return (
        thread.plan is not None and sources.get("plans") == "typed" and len(plans) == 1
        and plans[0].casefold() != thread.plan.casefold() and sources.get("product") == "thread"
        and (bool(_COMPARE.search(decision.normalized_text)) or (follow_up and thread.aspect == "compare"))
    )


def _same_product(name: str, slug_or_name: str, names: NameIndex | None) -> bool:
    if name.casefold() == slug_or_name.casefold():
        return True
    return names is not None and names.canonical(slug_or_name, "product") == name


def _product_has_plans(names: NameIndex, product: str, plans: tuple[str, ...]) -> bool:
    slug = names.product_slug(product) or product
    return all(slug in names.vocabulary.plans.get(plan, ()) for plan in plans)


def _only_slots_for(decision: Decision, intent: Intent, slots_for: IntentSlots | None) -> bool:
    """Whether the message names something, and only things the intent uses (a plan after a product
    question, an account or a time after a call search)."""
    entities = decision.entities
    named = {
        "product": entities.product, "plans": entities.plans, "account": entities.account,
        "person": entities.person, "time_range": entities.time_range, "quantity": entities.quantity,
        "meeting_kind": entities.meeting_kind, "term": entities.term,
    }
    present = {name for name, value in named.items() if value}
    usable = _usable(intent, slots_for)
    return bool(present) and (usable is None or present <= set(usable))


def _subject_words(decision: Decision) -> int:
    """How many words of the message are neither names it gives nor words that lean on the previous turn
    ("does orbit replace vanta" has two: a question of its own, not "and orbit?")."""
    entities = decision.entities
    named = " ".join(str(value) for value in (entities.product, entities.account, entities.person, entities.colleague,
                                              entities.meeting_kind, *entities.plans) if value).casefold()
    name_words = set(_WORD.findall(named))
    count = 0
    for word in _WORD.findall(decision.normalized_text):
        if word in _LEANING_WORDS or word.isdigit() or word in name_words or any(
                len(word) > 3 and name.startswith(word[:4]) for name in name_words):  # "startr" read as Starter
            continue
        count += 1
        if count >= _NEW_SUBJECT_WORDS:
            break
    return count


def _intent(value: str | None) -> Intent | None:
    try:
        return Intent(value) if value else None
    except ValueError:
        return None
