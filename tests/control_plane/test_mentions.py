"""Catalog names found by lookup and masked for the `{product}`/`{plan}` patterns: the same results as
an alternation of every name, at any catalog size."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from control_plane import ControlPlane, ControlPlaneConfig, load_patterns
from control_plane.classifier import PatternClassifier, _alternations
from control_plane.evaluation import read_labelled
from control_plane.mentions import MARKS, PLACEHOLDER_PATTERNS, MentionIndex
from control_plane.normalize import normalize
from knowledge.vocabulary import KnownProduct, Vocabulary
from tests.support.control_plane import NOW, reference_candidates
from tests.support.paths import LABELLED, shared_golden

# Multi-word names, names inside names, and a name that is both a product and a plan.
CATALOG = {
    "product": ["Orbit", "Orbit Analytics", "Beacon", "Relay", "orbit-analytics"],
    "plan": ["Pro", "Team", "Enterprise", "Enterprise Plus", "Relay"],
}


def spans(index: MentionIndex, text: str, kind: str) -> list[str]:
    found = index.find(text)
    return [text[start:end] for start, end in found.spans(kind)] if found else []


@pytest.mark.parametrize(
    ("text", "products", "plans"),
    [
        ("does orbit analytics support sso", ["orbit analytics"], []),  # the longest name wins
        ("orbit analytic pricing", ["orbit"], []),
        ("enterprise plush vs pro", [], ["enterprise", "pro"]),  # a name ends at a word end
        ("orbital pricing", [], []),
        ("orbit's pricing, beacon-pro", ["orbit", "beacon"], ["pro"]),
        ("enterprise plus vs enterprise", [], ["enterprise plus", "enterprise"]),
        ("relay on the relay plan", ["relay", "relay"], ["relay", "relay"]),  # both kinds
        ("pricing of nothing we sell", [], []),
    ],
)
def test_mentions_are_whole_words_longest_first(text: str, products: list[str], plans: list[str]) -> None:
    index = MentionIndex(CATALOG)
    assert spans(index, text, "product") == products
    assert spans(index, text, "plan") == plans


def test_masking_keeps_lengths_and_marks_only_the_names() -> None:
    found = MentionIndex(CATALOG).find("is relay on the relay plan or pro?")
    assert found is not None
    product_view, plan_view, both_view = found.view(1), found.view(2), found.view(3)
    assert product_view is not None and plan_view is not None and both_view is not None
    assert len(product_view) == len(plan_view) == len(both_view) == len("is relay on the relay plan or pro?")
    assert product_view.replace("\ufb00", "x") == "is xxxxx on the xxxxx plan or pro?"
    assert plan_view.replace("\ufb01", "x") == "is xxxxx on the xxxxx plan or xxx?"
    assert both_view.count("\ufb02") == 10 and both_view.count("\ufb01") == 3  # relay is both, pro a plan
    assert MentionIndex(CATALOG).find("nothing named here") is None


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(sorted(MARKS) + ["a", " ", "&", "#", "ﬃ", "\u00df"]), max_size=30))
def test_normalized_text_never_holds_a_mark(text: str) -> None:
    # So a placeholder, which matches marks only, can never match something a user typed.
    normalized = normalize(text)
    assert not MARKS & set(normalized.lowered) and not MARKS & set(normalized.clean)


def test_a_placeholder_matches_marks_only() -> None:
    import re

    product = re.compile(PLACEHOLDER_PATTERNS["product"])
    assert product.fullmatch("\ufb00\ufb00") and product.fullmatch("\ufb02")
    assert not product.search("\ufb01") and not product.search("orbit")


# The alternation of every name is the reference: masked matching must give the same candidates.
WORDS = ["orbit", "analytics", "orbit analytics", "orbital", "beacon", "relay", "pro", "team", "enterprise",
         "plus", "enterprise plus", "plan", "tier", "vs", "versus", "compare", "to", "and", "the", "difference",
         "between", "does", "support", "sso", "pricing", "price", "of", "is", "how", "much", "'s", "calls", "hi",
         "include", "features", "for", "?", ",", "x"]
_MASKED = PatternClassifier(load_patterns(), CATALOG)
_ALTERNATIONS = _alternations(CATALOG)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=12), st.sampled_from([" ", " ", "-", "'"]))
def test_masked_names_match_what_the_alternation_of_names_matches(words: list[str], glue: str) -> None:
    text = normalize(glue.join(words)).lowered
    assert _MASKED.candidates(text) == reference_candidates(load_patterns(), _ALTERNATIONS, text)


# A large catalog: the demo's names plus thousands more. Some open with the demo's own words
# ("orbit ...", "pro ..."), so lookups must pick the right name among many; the other catalog's names
# all open with different words, more than the literal prefilter takes, so its rules run unfiltered.
def large_vocabulary(demo: Vocabulary, products: int, shared_first_words: bool) -> Vocabulary:
    firsts = [p.name.split()[0] for p in demo.products] + [plan.split()[0] for plan in demo.plans]
    extra = []
    for number in range(products):
        first = firsts[number % len(firsts)] if shared_first_words else f"zq{number}x"
        extra.append(KnownProduct(name=f"{first.title()} Nexus {number}", slug=f"{first.lower()}-nexus-{number}"))
    plans = dict(demo.plans)
    for number in range(products // 10):
        plans[f"{firsts[number % len(firsts)]} Max {number}" if shared_first_words else f"Qv{number} Max"] = ("x",)
    return Vocabulary(
        accounts=demo.accounts, contacts=demo.contacts, products=demo.products + tuple(extra),
        plans=MappingProxyType(plans), account_slugs=demo.account_slugs, meeting_kinds=demo.meeting_kinds,
        catalog_phrases=demo.catalog_phrases, limit_names=demo.limit_names,
    )


PRODUCT_MESSAGES = [
    "does {product} support SSO?", "{product}'s pricing", "what's the pricing of {product}", "{product} vs {other}",
    "compare {product} with {other}", "tell me about {product}", "{product} please", "is {product} SOC 2 compliant",
    "{plan} vs {plan2}", "difference between {plan} and {plan2}", "how much is {plan}",
    "does the {plan} include audit logs?", "features of {plan}", "{plan} plan vs the {plan2} tier",
    "find calls where Acme asked about {product} {plan}", "draft an email to Tyler about {product}",
    "is SSO on {plan}?", "12 users on {plan}", "can you compare {plan} for me", "whats {plan} per seat",
    "9 reps, can they just do {plan}?", "can {product} do sales tax", "quote {plan} for the team",
    "whats {plan} for 30 users annually",
]


def product_messages(demo: Vocabulary) -> list[str]:
    products = [p.name for p in demo.products] + [p.slug.replace("-", " ") for p in demo.products]
    plans = list(demo.plans)
    texts = []
    for number, template in enumerate(PRODUCT_MESSAGES * 4):
        texts.append(template.format(
            product=products[number % len(products)], other=products[(number * 5 + 1) % len(products)],
            plan=plans[number % len(plans)], plan2=plans[(number * 7 + 3) % len(plans)],
        ))
    labelled = [m.text for m in read_labelled(LABELLED)]
    golden = shared_golden()
    return texts + labelled + ([m.text for m in read_labelled(golden)] if golden else [])


@pytest.mark.parametrize("shared_first_words", [True, False])
def test_a_large_catalog_classifies_as_the_small_one_with_the_same_names(
    demo_vocabulary: Vocabulary, shared_first_words: bool
) -> None:
    small = ControlPlane(ControlPlaneConfig(), demo_vocabulary, None)
    large = ControlPlane(ControlPlaneConfig(), large_vocabulary(demo_vocabulary, 5000, shared_first_words), None)
    texts = product_messages(demo_vocabulary)
    used = set()
    for text in texts:
        expected = small.classify(text, NOW)
        assert large.classify(text, NOW) == expected, text
        used |= {candidate.pattern for candidate in expected.candidates}
    # The messages exercise every placeholder pattern (an id gets "-<negative>" appended when one applies).
    placeholder_ids = {p.id for group in load_patterns().intents for p in group.patterns if p.placeholders}
    assert len(placeholder_ids) >= 9
    assert {i for i in placeholder_ids if any(u == i or u.startswith(i + "-") for u in used)} == placeholder_ids
