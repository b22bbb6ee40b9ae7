"""draft_email: a follow-up draft (subject and body) for the rep to copy. pitcrew never sends email."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from control_plane.thread import SENDER_ASPECT, sender_aspect
from handlers import llm_text, prompts
from handlers.context import HandlerContext, HandlerResult
from handlers.declaration import HelpExample, handles
from handlers.formatting import bold, clean, italic, render_markdown
from knowledge.meetings import MeetingDetail, account_contacts, get_meeting
from knowledge.reader import ProductView, read_product
from handlers.quotes import money, negotiated_discount
from knowledge.snapshot_prompt import format_price
from knowledge.snapshot_schema import PlanEntry
from knowledge.thread_memory import TurnContext

NOT_SENT = "pitcrew never sends email: copy it into your mail client"
MAX_TOPIC_SCAN = 500  # what a draft is about is said in the request's opening

_EMAIL = re.compile(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$")
# A cue, then the rest of the message's last line (see `_topic_phrase`).
_TOPIC = re.compile(
    r"\b(?:about|regarding|re:|concerning|on the subject of|with|covering|(?:a )?(?:summary|recap) of)\s+(.+)$",
    re.IGNORECASE,
)
_LONGEST_TOPIC_CUE = len("on the subject of")
_VAGUE_TOPIC = re.compile(r"^(it|that|this|them|those|these|the call|our call|the meeting|our meeting)$", re.I)
_KIND_NOUNS = {
    "demo": "the demo",
    "discovery": "our discovery call",
    "qbr": "our quarterly business review",
    "kickoff": "the kickoff",
    "check-in": "our check-in",
    "onboarding": "our onboarding session",
    "security-review": "the security review",
    "renewal": "our renewal conversation",
    "negotiation": "our conversation",
    "training": "the training session",
}
_THANKS = re.compile(r"\bthank", re.IGNORECASE)
_PRICING = re.compile(r"\b(pric\w*|quote|proposal|cost|discount|plan|seats?)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Recipient:
    name: str  # as it goes in "To:"
    greeting: str  # "Tyler", "Globex team", "there"
    email: str = ""
    account: str | None = None


@dataclass(frozen=True)
class DraftFacts:
    """Everything a draft may say: who it is for, the meeting, the products and plans, the topic."""

    request: str  # the rep's message
    recipient: Recipient
    meeting: MeetingDetail | None
    view: ProductView | None
    plans: list[PlanEntry]
    topic: str | None
    seats: int | None = None  # "add team and growth pricing for 20 seats": the prices quoted for that many
    seats_of: dict[str, int] = field(default_factory=dict)  # a deal mixing plans: each plan's seats, by name
    off: float | None = None  # a deal's discount, taken off those prices
    short: bool = False  # "make it shorter": the opening, what was asked to be said, next steps
    mention: str | None = None  # "and mention the 15% discount": a line saying it
    sender: str | None = None  # "sign it from rachel": one of our people, who signs it


@handles(
    "draft_email",
    slots=("account", "person", "colleague", "meeting_id", "product", "plans", "plan_seats", "quantity", "discount", "topic",
           "time_range", "meeting_kind", "aspect"),
    uses_llm=True,
    examples=(HelpExample("Email drafts", "draft a follow-up email to {person}", "a draft for you to copy; I never send email"),),
)
async def handle(ctx: HandlerContext) -> HandlerResult:
    recipient = _recipient(ctx)
    # The meeting meant, else the most recent one that fits: a draft is better grounded in something.
    meant = ctx.resolution.meeting or (ctx.resolution.candidates[0] if ctx.resolution.candidates else None)
    meeting = get_meeting(ctx.db, meant.id) if meant else None
    view, plans = _products(ctx)
    off = negotiated_discount(ctx.words) or ctx.frame.discount
    draft = DraftFacts(ctx.text, recipient, meeting, view, plans, _topic(ctx), seats=ctx.frame.quantity if plans else None,
                       seats_of=dict(zip(ctx.frame.plans, ctx.frame.plan_seats, strict=True))
                       if len(ctx.frame.plan_seats) == len(ctx.frame.plans) else {},
                       off=off if plans else None, short=bool(_SHORTER.search(ctx.words[:500])), mention=_mention(ctx.words),
                       sender=_sender(ctx))
    context = TurnContext(
        account=recipient.account,
        person=ctx.resolution.contact.name if ctx.resolution.contact else ctx.frame.person,
        meeting_id=meeting.meeting.id if meeting else None,
        product=view.slug if view else None,
        plan=plans[0]["name"] if plans else None,
        plans=tuple(p["name"] for p in plans) if len(plans) > 1 else (),
        plan_seats=tuple(draft.seats_of[p["name"]] for p in plans) if len(plans) > 1 and all(
            p["name"] in draft.seats_of for p in plans) else (),  # (a mix's seats, for its revisions)
        quantity=ctx.frame.quantity,
        discount=draft.off,
        topic=draft.topic,  # (a revision, "make it shorter", keeps what the draft is about)
        aspect=sender_aspect(draft.sender) if draft.sender else None,
    )
    # (exactly: a draft about nothing in particular leaves no topic of an earlier question for its revisions)
    facts = {"context": context, "snapshot_path": view.path if view else None, "exact": frozenset({"topic"})}
    header = _header(ctx, recipient, meeting)

    written = await llm_text.write(
        ctx,
        system=prompts.DRAFT_EMAIL,
        user=_llm_facts(draft),
        kind="draft",
        cache_key=None,  # asking again for a draft should be able to give a different one
        lead=render_markdown(header) + "\n\n",
    )
    if written is not None:
        result = HandlerResult.from_markdown(written.text, llm_used=True, streamed=written.streamed, **facts)
        top = HandlerResult.from_marked(header)
        result.text = f"{top.text}\n\n{result.text}"
        result.plain = f"{top.plain}\n\n{result.plain}"
        return result
    subject, body = template_draft(draft)
    return HandlerResult.from_marked(f"{header}\n\n{bold('Subject:')} {clean(subject)}\n\n{clean(body)}", **facts)


def _recipient(ctx: HandlerContext) -> Recipient:
    contact = ctx.resolution.contact
    if contact is not None:
        return Recipient(
            name=f"{contact.name} <{contact.email}>" if contact.email else contact.name,
            greeting=contact.name.split()[0],
            email=contact.email,
            account=contact.account,
        )
    person = clean(ctx.frame.person or "").strip()
    account = ctx.resolution.account
    if person and _EMAIL.match(person):
        local = re.split(r"[._+-]", person.split("@")[0])[0]
        return Recipient(name=person, greeting=local.capitalize() or "there", email=person, account=account)
    if person:
        return Recipient(name=person, greeting=person.split()[0].capitalize(), account=account)
    if account:
        return Recipient(name=f"the {account} team", greeting=f"{account} team", account=account)
    return Recipient(name="(add the recipient)", greeting="there")


def _products(ctx: HandlerContext) -> tuple[ProductView | None, list[PlanEntry]]:
    """The product and plans the draft may quote: those the message names, or points back at ("that pricing")."""
    frame = ctx.frame
    key = frame.product or (frame.plans[0] if frame.plans else None)
    plan_names = list(frame.plans)
    if key is None:
        return None, []
    view = read_product(ctx.db, key)
    if view is None:
        return None, []
    wanted = {name.lower() for name in plan_names}
    return view, [p for p in view.payload["plans"] if p["name"].lower() in wanted]


# "sign it from rachel", "from maya", "signed by sam chen", "on behalf of daniel": who the draft is from
_SIGNED_BY = re.compile(r"\b(?:sign(?:ed|ing)?(?: it| this| the (?:email|draft|note|mail))?(?: off)?(?: (?:from|as|by|with))?|from|"
                        r"on behalf of|coming from|sen[dt](?:ing)? (?:it |this )?as)\s+(?P<first>[a-z][\w'-]*)", re.IGNORECASE)


def _sender(ctx: HandlerContext) -> str | None:
    """One of our people the rep asks the draft be signed by, or the one the draft being revised was signed by."""
    colleague = ctx.frame.colleague
    if colleague and ctx.frame.typed("colleague"):
        first = colleague.split()[0].lower()
        if any(match.group("first").lower() == first for match in _SIGNED_BY.finditer(ctx.words[:MAX_TOPIC_SCAN])):
            return colleague
    aspect = ctx.frame.aspect or ""
    return aspect.removeprefix(SENDER_ASPECT) if aspect.startswith(SENDER_ASPECT) else None


def _topic(ctx: HandlerContext) -> str | None:
    """What the email is about, as the rep wrote it ("the pricing proposal"), else as the classifier read it."""
    phrase = _topic_phrase(clean(ctx.words[:MAX_TOPIC_SCAN]))
    topic = phrase if phrase is not None else ctx.frame.topic
    if topic and _VAGUE_TOPIC.match(topic.strip()):
        return None
    return topic.strip() if topic else None


def _topic_phrase(text: str) -> str | None:
    """What `\\b(?:cue)\\s+(.+?)[.?!]*$` captures, in one pass over the text.

    That regex read to the end of the line from every cue, and from every place in a run of `.?!`
    to its end: quadratic. Its phrase lies on the last line (`.` stops at a newline), so only cues
    on it or just before it can start one; the phrase is the rest of that line less its closing
    `.?!`, at least one character.
    """
    end = len(text) - 1 if text.endswith("\n") else len(text)
    line_start = text.rfind("\n", 0, end) + 1
    start = line_start  # a cue before the last line is followed by nothing but spaces up to it
    while start > 0 and text[start - 1].isspace():
        start -= 1
    match = _TOPIC.search(text, max(0, start - _LONGEST_TOPIC_CUE))
    if match is None:
        return None
    phrase = match.group(1)
    return phrase.rstrip(".?!") or phrase[:1]


def _header(ctx: HandlerContext, recipient: Recipient, meeting: MeetingDetail | None) -> str:
    lines = [f"{bold('Draft email')} to {clean(recipient.name)} ({italic(NOT_SENT)})"]
    if meeting is not None:
        m = meeting.meeting
        lines.append(f"Based on: {clean(m.account)}, {clean(m.title)} ({m.started_at:%a} {m.started_at.day} {m.started_at:%b})")
    namesakes = ctx.resolution.namesakes
    if namesakes:
        lines.append("Also named like this: " + ", ".join(f"{clean(c.name)} ({clean(c.account)})" for c in namesakes))
    if recipient.account and not recipient.email and ctx.resolution.account is not None:
        contacts = account_contacts(ctx.db, ctx.resolution.account)
        if contacts:
            lines.append("Contacts on file: " + ", ".join(f"{clean(c.name)} <{clean(c.email)}>" for c in contacts))
    return "\n".join(lines)


def _was_there(recipient: Recipient, participants: tuple[str, ...] | list[str]) -> bool:
    """Whether the recipient was on the meeting (a team, or a name we cannot place, is taken to have been)."""
    if recipient.email == "" and recipient.account and recipient.name.startswith("the "):
        return True
    first = recipient.greeting.lower()
    return not participants or any(name.lower().split()[:1] == [first] for name in participants)


def _price_line(view: ProductView, plan: PlanEntry, seats: int | None = None, off: float | None = None) -> str:
    price, currency = plan["price_cents"], plan["currency"]
    if price is None:
        return f"{view.name} {plan['name']} is priced to your needs; I'll send a tailored quote."
    text = f"{view.name} {plan['name']} is {format_price(price, currency, plan['billing_period'], plan['per_seat'])}"
    discount = plan["annual_discount_pct"] or 0
    if discount:
        text += f" ({discount}% less when billed annually)"
    if seats and plan["per_seat"] and price and plan["billing_period"] == "month":
        text += f": for {seats} seats, {money(price * seats, currency)} a month"
        yearly = price * seats * 12 * (100 - discount) / 100
        if discount:
            text += f", or {money(yearly, currency)} a year billed annually"
        if off:
            text += f"; with your {off:g}% discount, {money(yearly * (100 - off) / 100, currency)} a year"
    return text + "."


def template_draft(draft: DraftFacts) -> tuple[str, str]:
    """Subject and body filled from the facts, for when no LLM writes the draft."""
    meeting, view, plans, topic = draft.meeting, draft.view, draft.plans, draft.topic
    m = meeting.meeting if meeting else None
    when = f"{m.started_at:%A} ({m.started_at:%b} {m.started_at.day})" if m else ""
    thanks = bool(_THANKS.search(draft.request))
    if topic:
        subject = f"{topic[0].upper()}{topic[1:]}: follow-up"
    elif m is not None:
        noun, day = _KIND_NOUNS.get(m.kind, "our call"), f"{m.started_at:%b} {m.started_at.day}"
        subject = f"Thank you for {noun} on {day}" if thanks else f"Following up on {noun} of {day}"
    elif view is not None:
        subject = f"{view.name}" + (f" {plans[0]['name']}" if plans else "") + ": follow-up"
    else:
        subject = "Following up"

    paragraphs = [f"Hi {draft.recipient.greeting},"]
    if m is not None:
        noun = _KIND_NOUNS.get(m.kind, "our call")
        if _was_there(draft.recipient, m.participants):
            opening = f"Thank you for your time on {when} for {noun}"
            opening += "; it was great to talk with you." if thanks else "."
            if topic:
                opening += f" I wanted to follow up on {topic}."
        else:  # ("a note to luis re the okta app" he was given on a call he was not on)
            opening = f"I wanted to follow up on {topic}, from {noun} on {when}." if topic else \
                f"I wanted to follow up on {noun} on {when}."
        paragraphs.append(opening)
        if draft.short:
            pass  # "make it shorter": no recap, no list of what was agreed
        elif meeting and meeting.summary:
            paragraphs.append("A quick recap: " + meeting.summary.strip())
        if meeting and meeting.decisions:  # (a short draft keeps the first: what was agreed is what it confirms)
            agreed = meeting.decisions[:_SHORT_ITEMS] if draft.short else meeting.decisions
            paragraphs.append("What we agreed:\n" + "\n".join(f"- {d}" for d in agreed))
        if meeting and meeting.action_items:
            items = meeting.action_items[:_SHORT_ITEMS] if draft.short else meeting.action_items
            paragraphs.append("Next steps:\n" + "\n".join(f"- {a}" for a in items))
    else:
        paragraphs.append(f"I wanted to follow up on {topic}." if topic else "I wanted to follow up on our conversation.")
    if view is not None and (plans or (topic and _PRICING.search(topic))):
        shown = plans or view.payload["plans"][:3]
        paragraphs.append("For reference:\n" + "\n".join(f"- {_price_line(view, plan, draft.seats_of.get(plan['name'], draft.seats), draft.off)}" for plan in shown))
    if draft.mention:
        paragraphs.insert(2 if len(paragraphs) > 1 else 1, f"I also wanted to mention {draft.mention}.")
    paragraphs.append("Please let me know if you have any questions, or if I missed anything.")
    paragraphs.append("Best regards,\n" + (draft.sender or "[Your name]"))
    return subject, "\n\n".join(paragraphs)


# "make it shorter", "shorten it", "tighten it up": the short version of the draft
_SHORTER = re.compile(r"\b(?:shorter|shorten|briefer|more concise|tighten|trim(?: it| this)? down|keep it short|too long)\b",
                      re.IGNORECASE)
# "n mention the 15% discount locked for 2 yrs", "add that the price is locked": something the draft must say
_MENTION = re.compile(r"\b(?:mention(?:ing)?|add(?:ing)? that|include|saying|say(?: that)?|tell (?:him|her|them)(?: that| about)?|"
                      r"let (?:him|her|them) know(?: that)?|"
                      r"(?:add|include|put in|throw in|slip in) (?:a|one more|another|an extra) (?:line|sentence|note|bit|paragraph|"
                      r"para|ps) (?:about|on|re|saying|that|mentioning|with))\s+"
                      r"([^.?!\n]{3,160})", re.IGNORECASE)
_SHORT_ITEMS = 2


def _mention(words: str) -> str | None:
    """What the rep asked the draft to mention, as typed ("the 15% discount locked for 2 years")."""
    found = _MENTION.search(words[:500])
    if found is None:
        return None
    phrase = clean(found.group(1)).strip(" ,;:")
    return phrase or None


def _llm_facts(draft: DraftFacts) -> str:
    """The facts of the draft as the LLM's user message (data, never instructions)."""
    recipient, meeting, view, topic = draft.recipient, draft.meeting, draft.view, draft.topic
    lines = [f"Request from the rep: {clean(draft.request)}"]
    lines.append(
        f"Recipient: {recipient.name}"
        + (f", at {recipient.account}" if recipient.account else "")
        + f" (greet as: {recipient.greeting})"
    )
    if topic:
        lines.append(f"Topic: {clean(topic)}")
    if draft.mention:
        lines.append(f"Must mention: {clean(draft.mention)}")
    if draft.short:
        lines.append("Length: short (a few sentences)")
    if draft.sender:
        lines.append(f"Sign as: {draft.sender}")
    if meeting is not None:
        m = meeting.meeting
        lines.append(f"Meeting: {m.title} ({m.kind}) with {m.account} on {m.started_at:%A %Y-%m-%d}")
        lines.append("Participants: " + ", ".join(m.participants))
        if meeting.summary:
            lines.append(f"Summary: {meeting.summary}")
        lines.extend(f"Decision: {d}" for d in meeting.decisions)
        lines.extend(f"Action item: {a}" for a in meeting.action_items)
    if view is not None:
        shown = draft.plans or view.payload["plans"]
        lines.extend(f"Price: {_price_line(view, plan, draft.seats_of.get(plan['name'], draft.seats), draft.off)}" for plan in shown)
    return "\n".join(lines)
