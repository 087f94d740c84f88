"""Customer words → the words help articles use: a small, generic synonym table per language.

Customers describe problems in their own words ("my money back", "wipe", "the light"); articles use the
product's ("refund", "delete", "LED"). Each group below is a set of words that are interchangeable in a
support question, for any kind of product. Site-specific vocabulary belongs in the articles' `keywords`
front matter (indexed and weighted high), not here.

The table is resolved against the corpus when the index is built (`synonym_map`): every typed form of a
member (with common inflections), folded, maps to the index terms of the other members that occur in the
corpus. The browser gets that map in the lexicon, so it needs no stemmer either.
"""

from __future__ import annotations

from collections.abc import Callable

from .schema import fold

GROUPS: dict[str, tuple[tuple[str, ...], ...]] = {
    "en": (
        ("delete", "remove", "erase", "wipe", "clear", "uninstall"),
        ("refund", "reimburse", "reimbursement", "repay"),
        ("return", "exchange"),
        ("buy", "bought", "purchase", "order"),
        ("pay", "payment", "checkout", "charge"),
        ("invoice", "receipt", "bill"),
        ("cancel", "unsubscribe", "terminate"),
        ("login", "log-in", "signin", "sign-in", "logon"),
        ("signup", "sign-up", "register", "registration", "enroll"),
        ("password", "passcode", "passphrase"),
        ("email", "e-mail", "mail", "inbox"),
        ("phone", "mobile", "smartphone", "cellphone"),
        ("computer", "pc", "laptop", "desktop"),
        ("broken", "faulty", "defective", "damaged"),
        ("error", "problem", "issue", "fault", "failure"),
        ("freeze", "frozen", "hang", "hangs", "stuck", "unresponsive", "crash", "crashes"),
        ("slow", "lag", "laggy", "sluggish"),
        ("light", "led", "lamp", "indicator"),
        ("power", "pwr"),
        ("test", "exam", "quiz", "assessment"),
        ("fail", "failed", "unsuccessful"),
        ("teacher", "educator", "instructor"),
        ("student", "pupil", "learner"),
        ("child", "children", "kid", "kids", "minor", "son", "daughter"),
        ("price", "cost", "fee", "pricing"),
        ("ship", "shipping", "delivery", "deliver", "dispatch", "postage"),
        ("package", "parcel", "shipment"),
        ("hot", "heat", "temperature", "overheat", "overheating", "warm"),
        ("color", "colour", "colored", "coloured"),
        ("letters", "characters", "symbols"),
        ("web", "online", "browser", "cloud"),
        ("settings", "preferences", "options", "configuration"),
        ("download", "export"),
        ("install", "setup", "set-up"),
        ("update", "upgrade"),
        ("connect", "pair", "link"),
        ("wifi", "wi-fi", "wireless"),
        ("internet", "network", "connection"),
        ("fix", "repair", "troubleshoot", "solve"),
        ("help", "support", "assistance"),
        ("change", "modify", "edit", "switch"),
        ("find", "locate"),
        ("picture", "image", "photo", "screenshot"),
        ("subscription", "plan", "membership"),
        ("discount", "coupon", "voucher", "promo"),
        ("missing", "lost"),
        ("detect", "detected", "recognize", "recognise", "recognized", "recognised", "showing", "shows"),
        ("expire", "expired", "expiry", "expiration"),
        ("renew", "extend", "renewal"),
        ("username", "nickname", "handle"),
        ("kick", "remove", "ban"),
        ("weird", "strange", "unexpected", "odd"),
        ("start", "launch", "open", "boot"),
        ("retry", "retake", "reattempt", "resit"),
        ("recover", "recovery", "regain"),
        ("restart", "reboot"),
        ("tutorial", "guide", "instructions", "manual", "documentation"),
        ("cable", "cord"),
        ("arrive", "arrived", "receive", "received"),
        ("appear", "appears", "visible"),
        # words of shops, accounts and devices that customers and articles name differently
        ("store", "shop", "webshop", "eshop", "marketplace"),
        ("money", "payment", "funds", "cash"),
        ("money", "currency"),
        ("country", "region", "location", "territory"),
        ("method", "option"),
        ("tax", "vat", "duty", "duties", "customs"),
        ("company", "business", "organization", "organisation"),
        ("school", "university", "college", "classroom", "institution"),
        ("create", "make"),
        ("different", "another", "alternative"),
        ("view", "see", "review"),
        ("software", "app", "application"),
        ("information", "info", "details"),
        ("original", "default", "factory"),
        ("restore", "reset", "revert"),
        ("version", "release"),
        ("language", "translation", "locale"),
        ("blink", "blinking", "flashing", "flicker", "flickering"),
        ("contact", "reach"),
        ("warranty", "guarantee"),
        ("replace", "replacement", "swap"),
        ("notification", "alert", "notify"),
        ("late", "delayed", "delay"),
        ("screen", "display"),
        ("fast", "quick", "speed", "faster"),
        ("wrong", "incorrect", "mistake"),
        ("website", "site", "portal"),
        ("user", "member"),
    ),
    "fr": (
        ("supprimer", "effacer", "enlever", "retirer"),
        ("rembourser", "remboursement"),
        ("commande", "achat", "commander", "acheter"),
        ("facture", "reçu"),
        ("livraison", "expédition", "envoi"),
        ("colis", "paquet"),
        ("mot de passe", "motdepasse"),
        ("ordinateur", "pc", "portable"),
        ("téléphone", "mobile", "portable"),
        ("erreur", "problème", "panne"),
        ("annuler", "résilier"),
    ),
    "de": (
        ("löschen", "entfernen"),
        ("rückerstattung", "erstattung", "geld zurück"),
        ("bestellung", "kauf", "bestellen", "kaufen"),
        ("rechnung", "quittung", "beleg"),
        ("lieferung", "versand", "zustellung"),
        ("paket", "sendung"),
        ("fehler", "problem", "störung"),
        ("kündigen", "stornieren", "abbrechen"),
    ),
    "es": (
        ("borrar", "eliminar", "quitar"),
        ("reembolso", "devolución"),
        ("pedido", "compra", "comprar"),
        ("factura", "recibo"),
        ("envío", "entrega"),
        ("paquete", "bulto"),
        ("error", "problema", "fallo"),
        ("cancelar", "anular"),
    ),
    "it": (
        ("eliminare", "cancellare", "rimuovere"),
        ("rimborso", "rimborsare", "restituzione"),
        ("ordine", "acquisto", "ordinare", "acquistare"),
        ("fattura", "ricevuta", "scontrino"),
        ("spedizione", "consegna", "invio"),
        ("pacco", "collo", "spedizione"),
        ("errore", "problema", "guasto"),
        ("annullare", "disdire"),
    ),
    "nl": (
        ("verwijderen", "wissen"),
        ("terugbetaling", "restitutie", "geld terug"),
        ("bestelling", "aankoop", "bestellen", "kopen"),
        ("factuur", "bon", "kassabon"),
        ("levering", "verzending", "bezorging"),
        ("pakket", "zending"),
        ("fout", "probleem", "storing"),
        ("annuleren", "opzeggen"),
    ),
    "pt": (
        ("apagar", "eliminar", "remover"),
        ("reembolso", "devolução", "estorno"),
        ("pedido", "encomenda", "compra", "comprar"),
        ("fatura", "recibo"),
        ("entrega", "envio"),
        ("pacote", "encomenda"),
        ("erro", "problema", "falha"),
        ("cancelar", "anular"),
    ),
    "sv": (
        ("radera", "ta bort", "tabort"),
        ("återbetalning", "pengarna tillbaka"),
        ("beställning", "köp", "beställa", "köpa"),
        ("faktura", "kvitto"),
        ("leverans", "frakt"),
        ("paket", "försändelse"),
        ("fel", "problem"),
        ("avbryta", "avbeställa", "säga upp"),
    ),
    "pl": (
        ("usunąć", "skasować"),
        ("zwrot", "refundacja"),
        ("zamówienie", "zakup", "zamówić", "kupić"),
        ("faktura", "paragon", "rachunek"),
        ("dostawa", "wysyłka"),
        ("paczka", "przesyłka"),
        ("błąd", "problem", "usterka"),
        ("anulować", "zrezygnować"),
    ),
}


# Two-word expressions → the word articles use (the typed words are searched as well).
PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "send back": "return",
        "sent back": "return",
        "money back": "refund",
        "kick out": "remove",
        "log in": "login",
        "sign in": "login",
        "logged in": "login",
        "sign up": "register",
        "set up": "setup",
        "log out": "logout",
        "sign out": "logout",
        "turn on": "enable",
        "switch on": "enable",
        "turn off": "disable",
        "switch off": "disable",
        "didnt pass": "fail",
        "not pass": "fail",
        "dont work": "broken",
        "not working": "broken",
        "stopped working": "broken",
        "wont start": "start",
        "pay later": "instalments",
        "too hot": "temperature",
        "too slow": "slow",
        "mixed up": "wrong",
        "get into": "access",
        "try again": "retry",
        "hooked up": "connect",
        "plug in": "connect",
        "plugged in": "connect",
        "show up": "appear",
        "shows up": "appear",
        "showing up": "appear",
        "showed up": "appear",
        "get back": "recover",
        "get rid": "remove",
        "put back": "restore",
        "back up": "backup",
        "hook up": "connect",
        "mix up": "wrong",
        "speed up": "faster",
        "locked out": "access",
        "lock out": "access",
    },
}


# Phrasal verbs that take their object in the middle ("kick someone out", "turn it off"), and the objects.
SEPARABLE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en": (
        ("send back", "kick out", "log in", "log out", "sign in", "sign out", "sign up", "set up", "turn on",
         "turn off", "switch on", "switch off", "hook up", "plug in", "mix up", "get back", "put back",
         "back up", "speed up", "lock out", "locked out"),
        ("it", "them", "me", "him", "her", "us", "you", "someone", "somebody", "everyone", "everything",
         "this", "that"),
    ),
}  # fmt: skip


def phrases(lang: str) -> dict[str, str]:
    """Typed expressions (two words, or three for a separable verb with its object) → the word articles use."""
    table = dict(PHRASES.get(lang, {}))
    verbs, objects = SEPARABLE.get(lang, ((), ()))
    for key in verbs:
        if key in table:
            a, b = key.split(" ")
            for o in objects:
                table[f"{a} {o} {b}"] = table[key]
    return table


def _forms(word: str, lang: str) -> set[str]:
    """The word and, in English, its common inflections (what a customer may type)."""
    forms = {word}
    if lang == "en" and word.isalpha():
        forms |= {word + "s", word + "es", word + "ed", word + "ing", word + "er"}
        if word.endswith("e"):
            forms |= {word + "d", word[:-1] + "ing"}
        if word.endswith("y"):
            forms |= {word[:-1] + "ies", word[:-1] + "ied"}
    return forms


def synonym_map(
    lang: str, term_of: Callable[[str], str | None], known_terms: set[str]
) -> dict[str, list[str]]:
    """Folded typed form → sorted index terms of its synonyms that exist in the corpus (never its own)."""
    out: dict[str, set[str]] = {}
    for group in GROUPS.get(lang, ()):
        members = [(w, term_of(w.replace("-", "").replace(" ", ""))) for w in group if " " not in w]
        for word, own in members:
            others = {t for w, t in members if t and t != own and t in known_terms}
            if not others:
                continue
            for form in _forms(word.replace("-", ""), lang):
                key = fold(form, lang)
                if term_of(key) != own and form != word.replace("-", ""):
                    continue  # an inflection that analyses to another term is not this word
                out.setdefault(key, set()).update(others)
    return {k: sorted(v) for k, v in sorted(out.items())}
