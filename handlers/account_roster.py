"""Who a rep should talk to at an account: its contacts with their titles, those whose role fits the topic first."""

from __future__ import annotations

import re

from control_plane.thread import PEOPLE_ASPECT, names_an_owner, owner_aspect
from handlers.context import HandlerContext, HandlerResult
from handlers.formatting import bold, clean
from knowledge.meetings import account_owner, account_roster
from knowledge.thread_memory import TurnContext
from knowledge.vocabulary import KnownContact

# "who owns the kestrel account", "who's the ae on acme": our account executive
# ("who owns the analytics rollout", "who owns the project on hooli's side": a task's owner, not the account's)
_OWNER_WORDS = (r"who (?:owns|covers|manages|runs|has)\b(?! (?:the )?(?:contract|budget|decision|security|it(?!\W*$)|legal|procurement))"
                r"(?! (?:the |their |that |this )?(?:[\w-]+ )?(?:rollout|project|migration|setup|pilot|implementation|onboarding|"
                r"integration|import|training|dashboard|program|workstream)s?\b)|"
                r"who(?:'s| is) (?:the |our )?(?:ae|account (?:exec(?:utive)?|owner|manager|lead)|rep|owner)\b|"
                r"(?:account )?owner (?:of|for|on)\b|"
                # "is kestrel one of rachels?", "is that account daniel's": whose account it is
                r"\b(?:is|are) [\w&' -]{1,40} one of (?:\w+'?s|his|hers|theirs|mine|ours)\b|\bowned by\b")
ASKS_OWNER = re.compile(_OWNER_WORDS)
# "who owns the rollout on their side", "who's running the pilot": a task someone owns, not the account
# "who owns the analytics rollout at globex": a named piece of work, whoever's account it is
ASKS_WHO_OWNS_NAMED_WORK = re.compile(
    r"\bwho(?:'s| is)? (?:owns|owning|runs|running|leads|leading|handles|handling|drives|driving|manages|managing) "
    r"(?:the |their |our |that |this )?(?:[\w-]+ )?(?:rollout|project|migration|setup|pilot|implementation|onboarding|integration|"
    r"import|training|dashboard|program|workstream)s?\b")
ASKS_WHO_OWNS_A_TASK = re.compile(
    r"\bwho(?:'s| is)? (?:owns|owning|covers|manages|managing|runs|running|leads|leading|handles|handling|driving|drives) "
    r"(?>(?:the |their |our |that |this )?)(?!account\b|acct\b|relationship\b|deal\b|logo\b|it\b|them\b|that\b|this\b|"
    r"contract\b|budget\b|decision\b|security\b|legal\b|procurement\b)[a-z][\w-]+")
_ROLE_WORDS = (r"^\W*(?:(?:and|so|ok|okay|k|hey|also|wait|then|btw|oh|right|cool|thanks)\W+){0,3}who(?:'s| is| are|s)? (?:the |their |our |they(?:'re| are) )?"
               r"(?:main |key |head |lead |primary |best |right )?(?:doing |handling |running |leading |in charge of )?"
               r"(?:it|security|infosec|finance|financial|procurement|legal|ops|operations|revops|technical|tech|admin|sso|"
               r"data|privacy|compliance|enablement|sales|cfo|ceo|cto|cio|ciso|coo|cro|dpo|vp \w+|head of \w+|director of \w+|"
               r"buyer|economic buyer|champion|budget|signer|decision[ -]maker|exec(?:utive)?(?: sponsor)?|sponsor)\b")
# "who should i talk to at globex about security", "who do we know at kestrel", "contacts at acme",
# "who handles procurement at umbrella": the account's people, not its meetings.
ASKS_FOR_PEOPLE = re.compile(
    # (at the start, or of a clause after a first one: "what about umbrella health, who owns that", "np. who owns meridian")
    r"(?:^|(?<=[.,;:!?] ))\W*(?:(?:and|so|ok|okay|k|hey|also|then|btw|oh|right|cool|thanks|np|nvm|wait|hmm)\W+){0,3}"
    r"(?:who(?:m)?(?:'s| is| are)? (?:should|do|can|could|would) (?:i|we) "
    r"(?:talk|speak|reach out|go|email|ping|contact|loop in|call)\b|who(?: else)? (?:do|did) we (?:know|deal with|work with)\b|"
    r"who(?:'s| is| are) (?:our |the |his |her |their |my )?(?:main |key |best |right )?(?:contacts?|people|persons?|stakeholders|champions?|"
    r"decision[ -]makers?|buyers?|point of contact|poc)\b|who (?:handles|owns|runs|leads|manages|is in charge of|deals with|"
    r"signs off on|approves)\b|(?:list |any |all |our |the )?(?:contacts?|stakeholders|people) (?:at|for|from|on)\b|"
    # "who at initech does IT", "who over at hooli handles security"
    r"who (?:over )?(?:at|from|on) [\w&'-]{2,30}(?: [\w&'-]{2,30})? (?:does|do|handles?|runs?|owns?|covers?|looks after|deals with)\b|"
    r"who(?: else)?(?:'s| is| are) (?:on|at|from) (?:the )?[\w&' -]{2,40}(?: account| side| team)?(?:,? [a-z]+)?[ ?!.]*$|" + _OWNER_WORDS + "|"
    + _ROLE_WORDS + ")"
    # "globex security contact", "their procurement person", "finance poc at acme"
    r"|\b(?:security|infosec|it|finance|financial|procurement|purchasing|legal|technical|tech|admin|privacy|compliance|"
    r"ops|operations|billing|exec(?:utive)?)\s+(?:contacts?|person|people|guy|gal|lead|poc|point of contact|sponsor)\b"
)
# "whos the security guy there", "who's their cfo", "who's doing security on their side": a role at the account
ASKS_ROLE = re.compile(_ROLE_WORDS)
# What a topic asks of a contact's role, as words of job titles.
_ROLES: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = tuple(
    (re.compile(topic), re.compile(title, re.IGNORECASE))
    for topic, title in (
        (r"\b(?:secur\w*|ciso|infosec|soc ?2|pen ?test\w*|vendor risk)\b",
         r"\bsecurity\b|\bciso\b|\binformation security\b|\bit (?:director|manager|administrator|admin|lead)\b"),
        (r"\b(?:sso|okta|saml|scim|it|technical|integrations?|api|setup|admin\w*)\b", r"\bit\b|\btechnology\b|\badmin\w*\b|\bsecurity\b"),
        (r"\b(?:financ\w*|budget|money|pricing|price|cfo|invoice\w*|payment|discount)\b", r"\bfinanc\w*\b|\bcfo\b|\bprocurement\b"),
        (r"\b(?:procure\w*|purchas\w*|contract|legal|paperwork|order form|dpa|redlines?)\b", r"\bprocurement\b|\blegal\b|\bcounsel\b"),
        (r"\b(?:privacy|gdpr|data protection|residency|dpo)\b", r"\bdata protection\b|\bprivacy\b|\bsecurity\b"),
        (r"\b(?:sales|reps?|quota|pipeline|forecast\w*)\b", r"\bsales\b|\brevenue\b"),
        (r"\b(?:ceo|chief executive)\b", r"\bceo\b|\bchief executive\b"),
        (r"\b(?:ops|operations|revops|enablement|training|rollout|onboarding)\b", r"\boperations\b|\benablement\b|\bops\b"),
    )
)
_ROSTER_SIZE = 12


def roster_reply(ctx: HandlerContext, account: str) -> HandlerResult | None:
    """The account's contacts, the ones whose title fits what the message is about first; None when it has none."""
    roster = account_roster(ctx.db, account, limit=_ROSTER_SIZE)
    asked = ctx.words.lower()[:500]
    lines: list[str] = []
    owner = account_owner(ctx.db, account) if ASKS_OWNER.search(asked) or names_an_owner(ctx.frame.aspect) else ""
    if owner:  # "who owns the kestrel account": ours, then theirs
        guessed = ctx.frame.colleague if ctx.frame.typed("colleague") else None
        verdict = "" if guessed is None else "Yes: " if guessed.casefold() == owner.casefold() else "No: "
        lines.append(f"{verdict}{bold(owner)} owns the {bold(account)} account on our side"
                     + (f", not {bold(guessed)}." if verdict == "No: " else "."))  # ("is kestrel one of rachels?")
        if roster:
            lines.append("Their contacts: " + "; ".join(_line(contact, title) for contact, title in roster) + ".")
        return HandlerResult.from_marked("\n".join(lines), context=TurnContext(account=account, aspect=owner_aspect(owner)))
    if not roster:
        return None
    titles = [title for topic, title in _ROLES if topic.search(asked)]
    fitting = [(contact, title) for contact, title in roster if any(pattern.search(title) for pattern in titles)]
    if fitting:
        lines.append(f"At {bold(account)}, for that: " + "; ".join(_line(contact, title) for contact, title in fitting) + ".")
        rest = [(contact, title) for contact, title in roster if (contact, title) not in fitting]
        if rest:
            lines.append("Also at " + clean(account) + ": " + "; ".join(_line(contact, title) for contact, title in rest) + ".")
    else:
        lines.append(f"Our contacts at {bold(account)}:")
        lines += [f"• {_line(contact, title)}" for contact, title in roster]
    first = (fitting or roster)[0][0]
    context = TurnContext(account=account, person=first.name if fitting and len(fitting) == 1 else None, aspect=PEOPLE_ASPECT)
    return HandlerResult.from_marked("\n".join(lines), context=context)


def _line(contact: KnownContact, title: str) -> str:
    return bold(contact.name) + (f", {clean(title)}" if title else "") + (f" ({clean(contact.email)})" if contact.email else "")
