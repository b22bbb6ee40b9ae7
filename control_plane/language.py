"""Is a message written in English? pitcrew answers in English only, and says so.

A short chat message gives a statistical detector little to go on ("pro plan precio?"), so this
counts function words that are distinctive of each language and rarely typed in English. A message
is another language only when it has at least two of them and more than it has English ones.
"""

from __future__ import annotations

import re

ENGLISH = "en"

_FUNCTION_WORDS = {
    "es": "el los las del que qué cuánto cuanto cuánta cuesta cuestan cuál cuáles está están son para por con una "
          "unos pero cómo dónde precio precios puedo puede hola gracias necesito quiero tiene tienen hay sobre "
          "llamada reunión correo cliente planes también muy esta este ese esa lo puedes dame resumen última último "
          "mes año usuario usuarios descuento anual mensual",
    "fr": "le les des du quel quelle quels combien coûte coûtent est-ce sont pour avec une mais comment où prix "
          "bonjour merci je vous nous peux pouvez appel réunion client forfait aussi très cette ce est résumé dernier "
          "dernière donne donner moi par mois an utilisateur utilisateurs licence",
    "de": "der die das den dem des und oder ist sind wie was wieviel kostet kosten für mit ein eine ich wir "
          "bitte danke hallo gibt preis anruf kunde auch sehr diese dieser haben kannst könntest du mir uns vom zum zur "
          "letzten letzte letzter geben gib zusammenfassung besprechung wann welche welcher nicht noch schon "
          "im monat nutzer benutzer jahr monatlich jährlich viel wieviele lizenz lizenzen angebot",
    "pt": "os do da quanto custa são para com um uma mas como onde preço olá obrigado obrigada você vocês qual quais é "
          "não sim ao aos pelo pela preços plano planos "
          "ligação reunião também muito esse essa isso",
    "it": "il lo gli della dello che quanto costa sono per con una ma come dove prezzo ciao grazie chiamata "
          "riunione anche molto questo questa",
}
_ENGLISH_WORDS = frozenset(
    "the a an is are was were do does did what which who how much many for with and or of to in on at it this "
    "that can could would should will my our your we you i me us have has get any about from plan price cost "
    "call calls meeting email draft please thanks"
    # English words that are also another language's function words ("per user", "come on", "die"): never
    # evidence of that language
    " per come die dove con son sale con pronto no".split()
)
_WORDS = {language: frozenset(words.split()) - _ENGLISH_WORDS for language, words in _FUNCTION_WORDS.items()}
_TOKEN = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)?")
_INVERTED = re.compile("[¿¡]")
NAMES = {"es": "Spanish", "fr": "French", "de": "German", "pt": "Portuguese", "it": "Italian"}


def detect_language(lowered: str) -> str:
    """"en", or the code of the language `lowered` (normalized, lower case) is clearly written in."""
    tokens = _TOKEN.findall(lowered[:500])
    if not tokens:
        return ENGLISH
    english = sum(token in _ENGLISH_WORDS for token in tokens)
    best, best_count = ENGLISH, 0
    for language, words in _WORDS.items():
        count = sum(token in words for token in tokens)
        if count > best_count:
            best, best_count = language, count
    if _INVERTED.search(lowered[:500]):
        best_count += 1
    if best_count >= 2 and best_count > english:
        return best
    return ENGLISH
