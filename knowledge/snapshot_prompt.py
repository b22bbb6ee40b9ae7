"""The compact, deterministic LLM prompt text precomputed for every product snapshot."""

from __future__ import annotations

from knowledge.snapshot_schema import AddOnEntry, PlanEntry, ProductPayload

_CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def format_price(
    price_cents: int | None, currency: str = "USD", billing_period: str = "month", per_seat: bool = False
) -> str:
    """A price as a person writes it: "$49/seat/month", "€1,200/year", "contact sales"."""
    if price_cents is None:
        return "contact sales"
    if price_cents == 0:
        return "free"
    units, cents = divmod(price_cents, 100)
    amount = f"{units:,}" if cents == 0 else f"{units:,}.{cents:02d}"
    symbol = _CURRENCY_SYMBOLS.get(currency.upper())
    text = f"{symbol}{amount}" if symbol else f"{amount} {currency.upper()}"
    suffix = "/seat" if per_seat else ""
    if billing_period and billing_period != "custom":
        suffix += f"/{billing_period}"
    return text + suffix


def render_prompt(payload: ProductPayload) -> str:
    """Every fact of `payload` as dense plain text, one item per line; same payload, same text."""
    product = payload["product"]
    plan_names = {plan["slug"]: plan["name"] for plan in payload["plans"]}
    primary = " [primary product]" if product["is_primary"] else ""
    lines = [f"Product: {product['name']} (slug {product['slug']}){primary}"]
    if product["tagline"]:
        lines.append(f"Tagline: {product['tagline']}")
    if product["category"]:
        lines.append(f"Category: {product['category']}")
    if product["description"]:
        lines.append(f"About: {product['description']}")
    if payload["plans"]:
        lines.append("Plans (cheapest first):")
        lines.extend(_plan_line(plan) for plan in payload["plans"])
    if payload["features"]:
        lines.append("Features (plans that include them):")
        for feature in payload["features"]:
            if len(feature["plans"]) == len(plan_names) and not feature["details"]:
                plans = "all plans"
            else:
                plans = ", ".join(
                    plan_names.get(slug, slug) + (f" ({feature['details'][slug]})" if slug in feature["details"] else "")
                    for slug in feature["plans"]
                )
            line = f"- {feature['name']}"
            if feature["category"]:
                line += f" [{feature['category']}]"
            line += f": {plans or 'no plan'}"
            if feature["description"]:
                line = _then(line, feature["description"])
            lines.append(line)
    if payload["integrations"]:
        lines.append("Integrations:")
        for integration in payload["integrations"]:
            line = f"- {integration['name']}"
            if integration["category"]:
                line += f" [{integration['category']}]"
            minimum = integration["min_plan"]
            line += f": {'from ' + plan_names.get(minimum, minimum) if minimum else 'all plans'}"
            if integration["description"]:
                line = _then(line, integration["description"])
            lines.append(line)
    if payload["compliance"]:
        lines.append("Compliance and security:")
        for item in payload["compliance"]:
            line = f"- {item['name']}: {item['status']}"
            if item["details"]:
                line = _then(line, item["details"])
            lines.append(line)
    if payload["addons"]:
        lines.append("Add-ons:")
        lines.extend(_addon_line(addon, plan_names) for addon in payload["addons"])
    if payload["faqs"]:
        lines.append("FAQ:")
        for faq in payload["faqs"]:
            lines.append(f"Q: {faq['question']} A: {faq['answer']}")
    return "\n".join(lines)


def _then(line: str, sentence: str) -> str:
    """`line` followed by another sentence, with exactly one full stop between them."""
    line, sentence = line.rstrip(), sentence.strip()
    return f"{line} {sentence}" if line.endswith((".", "!", "?")) else f"{line}. {sentence}"


def _plan_line(plan: PlanEntry) -> str:
    price = format_price(plan["price_cents"], plan["currency"], plan["billing_period"], plan["per_seat"])
    line = f"- {plan['name']}: {price}"
    if plan["annual_discount_pct"]:
        line += f", {plan['annual_discount_pct']}% off billed annually"
    if plan["description"]:
        line = _then(line, plan["description"])
    if plan["limits"]:
        line = _then(line, "Limits: " + "; ".join(f"{name}: {value}" for name, value in plan["limits"].items()))
    return line


def _addon_line(addon: AddOnEntry, plan_names: dict[str, str]) -> str:
    price = format_price(addon["price_cents"], addon["currency"], addon["billing_period"], addon["per_seat"])
    line = f"- {addon['name']}: {price}"
    if addon["available_on"] and len(addon["available_on"]) < len(plan_names):
        line += " on " + ", ".join(plan_names.get(slug, slug) for slug in addon["available_on"])
    elif addon["available_on"]:
        line += " on all plans"
    if addon["description"]:
        line = _then(line, addon["description"])
    return line
