"""Our PII recognizers, declared as data in the Presidio style.

Each class is a ``PatternRecognizer`` with ``PATTERNS`` (name, regex, score)
and ``CONTEXT`` words (a context word among the 5 words before a match raises
its score by 0.35, to at least 0.4). They fill the gaps of Presidio's defaults
with the small spaCy model: street addresses (no default recognizer at all),
person names after titles, labels and cues ("my name is", "directed by"),
place names (US states, countries, "City, ST", places after "based in" /
"flew to"), international phone layouts, US driver licences next to their
label.

The regexes are generic and use public knowledge only (USPS street suffixes,
common European street words, US military mail codes, US state and ISO 3166
country names); no value from any
evaluation data set is listed here.

Unlike Presidio's defaults, these run case-SENSITIVE (``re.MULTILINE`` only):
capitalisation is most of what tells "24 Clarke Avenue" from "24 hours a day".
Case-insensitive parts are marked with scoped ``(?i:...)`` groups.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import phonenumbers
import regex as re
from phonenumbers.phonenumbermatcher import PhoneNumberMatch
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from daemon.scan import foreign

FLAGS = re.MULTILINE

# ----------------------------------------------------------------------------- building blocks

_CAP = r"\p{Lu}[\p{L}\p{M}'’\-]*\.?"                       # a capitalised word
_PARTICLE = r"(?:de|del|della|delle|dei|der|des|du|da|do|dos|das|di|la|le|les|van|von|" \
            r"den|het|ten|ter|z|y|e|el|al|of|the|and|am|an|im|zum|zur|sur|sous|en)"
_NUM = r"\d{1,6}[A-Za-z]?(?:[-/]\d{1,5}[A-Za-z]?)?"          # house / building number
_SP = r"[ \t]+"
# USPS Publication 28 street suffixes (common ones, full and abbreviated) + a few UK/intl.
_SUFFIX = (
    r"(?i:street|st|avenue|ave|av|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|place|pl|"
    r"square|sq|terrace|ter|way|parkway|pkwy|highway|hwy|circle|cir|crescent|cres|close|"
    r"route|rte|trail|trl|point|pt|plaza|plz|row|walk|hill|heights|hts|park|gardens|gdns|"
    r"grove|mews|path|pike|alley|aly|loop|ridge|rdg|view|crossing|xing|junction|jct|landing|"
    r"manor|meadows?|mills?|orchard|pass|prairie|springs?|station|summit|valley|village|vista|"
    r"green|gate|quay|wharf|esplanade|embankment|causeway|expressway|expy|freeway|fwy|"
    r"turnpike|tpke|union|club|estates?|fields?|forest|harbou?r|island|lakes?|oval|port|"
    r"ranch|shores?|track|bypass|spur|str|strasse|straße|utca|út|ut|broadway|circus|parade|"
    r"tér|körút|köz|sor|tee|náměstí|třída|aleja|rúa|kaari|polku|"
    # more USPS Publication 28 suffixes
    r"bend|mountains?|mtn|crossroads?|ports|points|range|rng|plateau|plt|flats?|brooks?|"
    r"burgs?|canyon|cape|centers?|cliffs?|common|corners?|coves?|creek|crest|dale|divide|"
    r"extension|falls|ferry|fords?|forks?|fort|glens?|greens|groves|harbors|havens?|hills|"
    r"hollow|inlet|isle|keys?|knolls?|locks?|lodge|mall|mission|motorway|neck|overpass|"
    r"pines|plains?|radial|rapids?|river|roads|shoals?|skyway|squares|stream|streets|"
    r"throughway|trace|tunnel|underpass|unions|valleys|viaduct|views|villages|ville|wells?|"
    r"ring|ways)"
)
# Street words that lead the name (French, Italian, Spanish, Portuguese, ...).
_PREFIX = (
    r"(?i:rue|rua|via|viale|vicolo|calle|carrer|avenida|avda|avenue|av\.|piazza|piazzale|"
    r"largo|corso|strada|ulica|ul\.|plac|praça|praca|travessa|estrada|boulevard|bd|chemin|"
    r"allée|allee|place|quai|route|impasse|camino|paseo|plaza|ronda|rambla|viela|alameda|"
    r"cuesta|cañada|travesía|travesia|glorieta|callejón|callejon|pasaje|avinguda|"
    r"odos|leoforos|λεωφόρος|οδός)"
)
# Street words glued to the end of the name (German, Nordic, Dutch, Finnish, ...).
_GLUED = (
    r"(?:strasse|straße|str\.|gasse|weg|allee|platz|damm|ufer|steig|markt|gatan|gata|"
    r"vägen|väg|vej|vejen|gade|stræde|veien|vegen|vei|veg|vegur|laan|straat|plein|kade|"
    r"dreef|singel|dijk|gracht|tie|katu|kuja|polku|utca|ulica|cesta|ulice|baan|hof|steeg|"
    r"pad|ring)"
)
_SECONDARY = (r"(?i:apt|apartment|suite|ste|unit|room|rm|floor|fl|bldg|building|box|"
              r"p\.?\s?o\.?\s?box|dept|flat)\.?[ \t]*#?[ \t]*\d{1,5}[A-Za-z]?\b")
_MILITARY = (r"(?i:(?:psc|cmr|unit)[ \t]+\d{3,5},?[ \t]+box[ \t]+\d{3,5}|us\p{L}{0,3}[ \t]+\p{L}+)"
             r"\s*\n?[ \t]*(?i:apo|fpo|dpo)[ \t]+(?i:aa|ae|ap)[ \t]+\d{5}\b")
# One further line/segment of an address block: a unit, "City", "City, ST 12345",
# "Country 12345", ", CO", a bare postal code. Joined by a comma or ONE newline
# (with optional quoting/bullet characters at the start of the line).
_LINE_LEAD = (r"(?:[ \t]*,[ \t]*|[ \t]*,?[ \t]*\n(?:[ \t]*\n)?[ \t>?*•\-]*,?[ \t]*|"
              + _SP + r")")
_PLACE = (rf"\p{{Lu}}[\p{{L}}\p{{M}}'’\-]*\.?(?:[ \t]+(?:{_CAP}|{_PARTICLE}|\(\p{{L}}+\)))"
          r"{0,3}(?:[ \t]+\d{4,6}(?:-\d{4})?)?(?![ \t]*:)")
_TAIL_PART = (rf"(?:{_LINE_LEAD}(?:{_SECONDARY}|\p{{Lu}}{{2}}[ \t]+\d{{5}}(?:-\d{{4}})?|"
              rf"\d{{5}}(?:-\d{{4}})?\b|{_PLACE}))")
_TAIL_COMMA = rf"(?:[ \t]*,[ \t]*(?:{_SECONDARY}|{_PLACE}|\p{{Lu}}{{2}}[ \t]+\d{{5}}))"
_NAME_RUN = rf"(?:(?:{_CAP}|{_PARTICLE}){_SP}){{0,4}}"

_STREET_SUFFIXED = (rf"\b{_NUM}(?:{_SP}{_NUM})?{_SP}{_NAME_RUN}{_CAP}{_SP}{_SUFFIX}\b\.?"
                    rf"(?:{_SP}{_NUM}\b\.?)?")
_PO_BOX = rf"\b(?:{_NUM}{_SP})?(?i:p\.?[ \t]?o\.?[ \t]?box){_SP}\d{{1,6}}\b"
_STREET_PREFIXED = (rf"\b(?:{_NUM}{_SP})?{_PREFIX}{_SP}{_NAME_RUN}{_CAP},?{_SP}{_NUM}\b")
# "26 rue des Lilas", "141, rue Aubry": the number before the street word, none after.
_STREET_NUMBER_FIRST = rf"\b{_NUM},?{_SP}(?:{_NUM}{_SP})?{_PREFIX}{_SP}{_NAME_RUN}{_CAP}"
# "Gutknechtring 8", "Christof-Kruschwitz-Weg 25": the street word glued, or hyphenated on.
_STREET_GLUED = (rf"\b(?:{_NUM}{_SP})?(?:{_CAP}{_SP}){{0,3}}\p{{Lu}}[\p{{L}}\p{{M}}\-]{{2,}}"
                 rf"(?i:{_GLUED})\.?{_SP}{_NUM}\b")
_STREET_NUMBERED = rf"\b\d{{2,6}}{_SP}(?:{_CAP}{_SP}){{1,3}}{_NUM}\b"


def _with_tail(street: str, parts: int = 5) -> str:
    """A street line followed by up to ``parts`` unit/city/region/country segments."""
    return rf"{street}(?:{_TAIL_PART}){{0,{parts}}}"


class StreetAddressRecognizer(PatternRecognizer):
    """Street addresses, US and international, as one span over the whole block
    (street line, unit, city, region, postal code, country).

    Scores: a street with a known suffix, leading or glued street word, or a
    US military address is strong (0.5-0.85); "number + words + number" is
    weak (0.3) and needs a context word; a lone "Apt./Suite 12" likewise.
    """

    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("military (PSC/Unit/USS + APO/FPO/DPO)", _MILITARY, 0.85),
        Pattern("street with suffix + block", _with_tail(_STREET_SUFFIXED), 0.6),
        Pattern("street word first + block", _with_tail(_STREET_PREFIXED), 0.55),
        Pattern("number, street word + block", _with_tail(_STREET_NUMBER_FIRST), 0.5),
        Pattern("glued street word + block", _with_tail(_STREET_GLUED), 0.55),
        Pattern("PO box + block", _with_tail(_PO_BOX), 0.5),
        Pattern("number words number + block",
                rf"{_STREET_NUMBERED}(?:{_TAIL_PART}){{1,5}}", 0.5),
        Pattern("number words number", _STREET_NUMBERED + _TAIL_COMMA + "{0,3}", 0.3),
        Pattern("words number after a preposition",
                rf"(?<=\b(?:on|at|in|is|to)[ \t]+)(?:{_CAP}{_SP}){{1,3}}\d{{1,5}}\b"
                + _TAIL_COMMA + "{0,3}", 0.1),
        Pattern("city, ST zip", rf"\b{_CAP}(?:[ \t]+{_CAP}){{0,2}},[ \t]*\p{{Lu}}{{2}}[ \t]+"
                r"\d{5}(?:-\d{4})?\b", 0.5),
        Pattern("unit", r"\b(?i:apt|apartment|suite|ste)\.?[ \t]*#?[ \t]*\d{1,5}[A-Za-z]?\b"
                + _TAIL_COMMA + "{0,3}", 0.35),
    ]
    CONTEXT: ClassVar[list[str]] = [
        "address", "street", "live", "lives", "living", "located", "location", "ship",
        "shipping", "deliver", "delivery", "mail", "mailing", "residence", "resides",
        "moved", "office", "offices", "meet", "corner", "drops", "station", "apartment",
        "suite", "billing", "postal", "home",
    ]

    def __init__(self) -> None:
        super().__init__(supported_entity="ADDRESS", name="StreetAddressRecognizer",
                         patterns=self.PATTERNS, context=self.CONTEXT,
                         supported_language="en", global_regex_flags=FLAGS)


# ----------------------------------------------------------------------------- persons

_TITLE = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Madam|Mme|Mlle|Herr|Frau|Sr|Sra|Rev|Fr)"
_NAME = r"\p{Lu}[\p{Ll}\p{M}'’]+(?:-\p{Lu}[\p{Ll}\p{M}'’]+)?"
_INITIAL = r"\p{Lu}\."
_FULL_NAME = rf"{_NAME}(?:[ \t]+(?:{_INITIAL}|{_NAME}|{_PARTICLE})){{0,2}}[ \t]+{_NAME}"


class TitledPersonRecognizer(PatternRecognizer):
    """Person names introduced by a title ("Dr. Jane Roe", "Mrs Smith") or a
    field label ("Name: Jane Roe", "Dear Jane,", "Sincerely,\\nJane Roe")."""

    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("title + name", rf"(?<=\b{_TITLE}\.?[ \t]+)(?:{_FULL_NAME}|{_NAME})\b", 0.6),
        Pattern("lower-case title + name",
                rf"(?<=\b(?:mr|mrs|ms|dr)\.[ \t]+)(?:{_FULL_NAME}|{_NAME})\b", 0.5),
        Pattern("own name",
                rf"(?<=\b(?i:my name is|my name's|call me|(?:first|last|given|family|sur)"
                rf"[ \t]?name(?:[ \t]+is|[ \t]*[:?]))[ \t]+)(?:{_FULL_NAME}|{_NAME})\b", 0.5),
        Pattern("credited name",
                rf"(?<=\b(?i:directed|written|produced|composed|performed|authored|narrated|"
                rf"illustrated|painted)[ \t]+(?i:by):?[ \t]+|\b(?i:starring|featuring):?[ \t]+)"
                rf"(?:{_FULL_NAME}|{_NAME})\b", 0.4),
        Pattern("labelled name",
                rf"(?<=\b(?i:name|full name|customer|patient|contact|employee|applicant|"
                rf"signed|from|to|attn|attention|cc|author|owner|holder|recipient|sender)"
                rf"[ \t]*:[ \t]*){_FULL_NAME}\b", 0.5),
        Pattern("introduced name",
                rf"(?<=\b(?i:my name is|name is|named|called|calls me|i'm|i am|this is|"
                rf"signed by|under|assistant to|contact|ask for|add|follow up with|"
                rf"(?:spoke|speak|talked|talk|met|meeting|call|chat) (?:with|to)|shouted at|"
                rf"escalated to|assigned to|forwarded by|on behalf of|colleague|"
                rf"(?:payment|message|e-?mail|call|note) from|receipt to|reply to|"
                rf"my (?:kid|son|daughter|wife|husband|partner|mother|father|friend|manager))"
                rf"[ \t]+){_FULL_NAME}\b", 0.45),
        Pattern("introduced first name",
                rf"(?<=\b(?i:my name is|call me|my (?:kid|son|daughter|wife|husband|partner)|"
                rf"colleague|follow up with|escalated to|shouted at|said to)[ \t]+){_NAME}\b"
                rf"(?![ \t]+\p{{Lu}})", 0.4),
        Pattern("greeting", rf"(?<=\b(?:Dear|Hi|Hello|Hey)[ \t]+){_FULL_NAME}\b", 0.45),
        Pattern("sign-off", rf"(?<=\b(?i:regards|sincerely|thanks|thank you|cheers|best),?"
                rf"[ \t]*\n[ \t]*){_FULL_NAME}\b", 0.5),
        Pattern("name above an address block",
                rf"(?m:^)[ \t>?*•]*{_FULL_NAME}[ \t]*(?=\n(?:[^\n]{{0,60}}\n){{0,2}}[ \t>?*•]*"
                rf"\d{{1,6}}[A-Za-z]?[ \t,]+\p{{Lu}})", 0.45),
        Pattern("name as the subject of a personal verb",
                rf"(?:(?m:^)|(?<=[.!?:][ \t]{{1,3}}))[ \t>]*{_FULL_NAME}(?=[ \t]+(?:lives|lived|"
                rf"works|worked|was born|moved|spent|said|says|asked|shouted|joined|wrote|"
                rf"called|emailed|is from|comes from|will be))", 0.45),
        Pattern("sign-off first name",
                rf"(?<=\b(?i:regards|sincerely|thanks|thank you|cheers|best),[ \t]*\n[ \t]*)"
                rf"{_NAME}[ \t]*$", 0.45),
    ]
    CONTEXT: ClassVar[list[str]] = ["name", "mr", "mrs", "ms", "dr", "dear", "sincerely"]

    def __init__(self) -> None:
        super().__init__(supported_entity="PERSON", name="TitledPersonRecognizer",
                         patterns=self.PATTERNS, context=self.CONTEXT,
                         supported_language="en", global_regex_flags=FLAGS)


# ----------------------------------------------------------------------------- places

US_STATES: tuple[str, ...] = (
    "Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut",
    "Delaware", "Florida", "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa",
    "Kansas", "Kentucky", "Louisiana", "Maine", "Maryland", "Massachusetts", "Michigan",
    "Minnesota", "Mississippi", "Missouri", "Montana", "Nebraska", "Nevada", "New Hampshire",
    "New Jersey", "New Mexico", "New York", "North Carolina", "North Dakota", "Ohio",
    "Oklahoma", "Oregon", "Pennsylvania", "Rhode Island", "South Carolina", "South Dakota",
    "Tennessee", "Texas", "Utah", "Vermont", "Virginia", "Washington", "West Virginia",
    "Wisconsin", "Wyoming", "District of Columbia",
)
US_STATE_CODES: tuple[str, ...] = (
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ",
    "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT",
    "VA", "WA", "WV", "WI", "WY", "DC", "PR",
)
# ISO 3166-1 English short names as people write them, plus common short forms.
# Left out on purpose: names that are mostly given names or common words in
# running text ("Chad", "Jordan", "Turkey", "Guinea" alone, "Georgia" is kept
# as a US state).
COUNTRIES: tuple[str, ...] = (
    "Afghanistan", "Albania", "Algeria", "Andorra", "Angola", "Antigua and Barbuda",
    "Argentina", "Armenia", "Australia", "Austria", "Azerbaijan", "Bahamas", "Bahrain",
    "Bangladesh", "Barbados", "Belarus", "Belgium", "Belize", "Benin", "Bhutan", "Bolivia",
    "Bosnia and Herzegovina", "Botswana", "Brazil", "Brunei", "Bulgaria", "Burkina Faso",
    "Burundi", "Cabo Verde", "Cape Verde", "Cambodia", "Cameroon", "Canada",
    "Central African Republic", "Chile", "China", "Colombia", "Comoros", "Congo",
    "Costa Rica", "Côte d'Ivoire", "Ivory Coast", "Croatia", "Cuba", "Cyprus", "Czechia",
    "Czech Republic", "Denmark", "Djibouti", "Dominica", "Dominican Republic", "Ecuador",
    "Egypt", "El Salvador", "Equatorial Guinea", "Eritrea", "Estonia", "Eswatini",
    "Ethiopia", "Fiji", "Finland", "France", "Gabon", "Gambia", "Germany", "Ghana",
    "Greece", "Greenland", "Grenada", "Guatemala", "Guinea-Bissau", "Guyana", "Haiti",
    "Honduras", "Hong Kong", "Hungary", "Iceland", "India", "Indonesia", "Iran", "Iraq",
    "Ireland", "Israel", "Italy", "Jamaica", "Japan", "Kazakhstan", "Kenya", "Kiribati",
    "Kosovo", "Kuwait", "Kyrgyzstan", "Laos", "Latvia", "Lebanon", "Lesotho", "Liberia",
    "Libya", "Liechtenstein", "Lithuania", "Luxembourg", "Macao", "Macau", "Madagascar",
    "Malawi", "Malaysia", "Maldives", "Mali", "Malta", "Marshall Islands", "Mauritania",
    "Mauritius", "Mexico", "Micronesia", "Moldova", "Monaco", "Mongolia", "Montenegro",
    "Morocco", "Mozambique", "Myanmar", "Namibia", "Nauru", "Nepal", "Netherlands",
    "New Zealand", "Nicaragua", "Niger", "Nigeria", "North Korea", "North Macedonia",
    "Norway", "Oman", "Pakistan", "Palau", "Palestine", "Panama", "Papua New Guinea",
    "Paraguay", "Peru", "Philippines", "Poland", "Portugal", "Puerto Rico", "Qatar",
    "Romania", "Russia", "Russian Federation", "Rwanda", "Saint Kitts and Nevis",
    "Saint Lucia", "Saint Vincent and the Grenadines", "Samoa", "San Marino",
    "Sao Tome and Principe", "São Tomé and Príncipe", "Saudi Arabia", "Senegal", "Serbia",
    "Seychelles", "Sierra Leone", "Singapore", "Slovakia", "Slovenia", "Solomon Islands",
    "Somalia", "South Africa", "South Korea", "South Sudan", "Spain", "Sri Lanka", "Sudan",
    "Suriname", "Sweden", "Switzerland", "Syria", "Taiwan", "Tajikistan", "Tanzania",
    "Thailand", "Timor-Leste", "East Timor", "Togo", "Tonga", "Trinidad and Tobago",
    "Tunisia", "Türkiye", "Turkmenistan", "Tuvalu", "Uganda", "Ukraine",
    "United Arab Emirates", "UAE", "United Kingdom", "UK", "Great Britain", "England",
    "Scotland", "Wales", "Northern Ireland", "United States", "United States of America",
    "USA", "U.S.A.", "Uruguay", "Uzbekistan", "Vanuatu", "Vatican City", "Venezuela",
    "Vietnam", "Viet Nam", "Yemen", "Zambia", "Zimbabwe", "Faroe Islands", "Gibraltar",
    "Isle of Man", "Jersey", "Guernsey", "Aruba", "Bermuda", "Cayman Islands",
)


def _names_alternation(names: tuple[str, ...]) -> str:
    """One regex matching any of ``names`` as written or in upper case (address
    blocks write "FRANCE"); spaces match any run of blanks.

    Built as a trie ("Ni(?:ger(?:ia)?|caragua)") rather than a flat list of
    alternatives: the regex engine then rejects a position after one character
    instead of trying ~500 branches (measured ~5x faster on logs and prose).
    Optional tails are greedy, so the longest name wins."""
    trie: dict[str, dict[str, Any]] = {}
    for name in names:
        for form in (name, name.upper()):
            node = trie
            for ch in form:
                node = node.setdefault(ch, {})
            node[""] = {}
    return "(?:" + _trie_regex(trie) + ")"


def _trie_regex(node: dict[str, Any]) -> str:
    keys = sorted(k for k in node if k)
    if not keys:
        return ""
    parts = [(r"[ \t]+" if k == " " else re.escape(k)) + _trie_regex(node[k]) for k in keys]
    body = parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"
    return f"(?:{body})?" if "" in node else body


_PLACE_NAMES = _names_alternation(US_STATES + COUNTRIES)
_STATE_CODES = "(?:" + "|".join(US_STATE_CODES) + ")"
# A place word: capitalised ("Espoo") or all capitals ("ESPOO", "ΛΕΥΚΩΣΙΑ").
_PLACE_WORD = r"\p{Lu}(?:[\p{Ll}\p{M}'’\-]+|[\p{Lu}\p{M}'’\-]+)\.?"
_PLACE_RUN = (rf"{_PLACE_WORD}(?:[ \t]+(?:{_PLACE_WORD}|{_PARTICLE}|nad|upon|on|sur|am|"
              rf"\(\p{{Lu}}\p{{L}}+\)))" r"{0,3}")
# Phrases after which a capitalised run names a place ("based in", "flew to").
_PLACE_CUE = (r"(?i:based|located|headquartered|situated|grew[ \t]+up|born|raised|"
              r"lives?|living|lived|resides?|residing|stationed|"
              r"i'm|i[ \t]+am|we're|we[ \t]+are|currently)[ \t]+in"
              r"|(?i:originally|hails?|moved(?:[ \t]+here)?|relocated|emigrated|comes?)"
              r"[ \t]+from"
              r"|(?i:flew|flying|fly|returned|returning|travell?ed|travell?ing|"
              r"relocated|relocating|drove|trip|journey|emigrated)[ \t]+to"
              r"|(?i:city|town|village|capital)[ \t]+of"
              r"|(?i:where)[ \t]*:")


class PlaceRecognizer(PatternRecognizer):
    """Place names from public knowledge and from the way places are written.

    * the 50 US states and DC, and country names (ISO 3166 English short names
      and their common short forms), as written or in capitals;
    * "City, ST" / "City, ST 12345" with a US state code, "City, Country";
    * a capitalised (or all-capitals) run after a place phrase ("based in",
      "originally from", "flew to", "Where:").

    Why: the small spaCy model misses many place names, foreign ones and
    capitals especially. Scores (0.4-0.6) pass the threshold but stay below
    spaCy's 0.85, so where both find a span the NER one is kept."""

    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("city, state code", rf"\b{_CAP}(?:[ \t]+{_CAP}){{0,2}},[ \t]*{_STATE_CODES}\b"
                r"(?:[ \t]+\d{5}(?:-\d{4})?\b)?(?![\w'’]|\.\w)", 0.55),
        Pattern("city, country or state",
                rf"\b{_PLACE_RUN},[ \t]*{_PLACE_NAMES}(?![\w'’\-])", 0.55),
        Pattern("country or state", rf"(?<![\w'’\-]){_PLACE_NAMES}(?![\w'’\-])", 0.5),
        Pattern("after a place phrase", rf"(?<=\b(?:{_PLACE_CUE})[ \t]+){_PLACE_RUN}"
                r"(?![\w'’\-])", 0.45),
    ]
    CONTEXT: ClassVar[list[str]] = ["city", "country", "state", "town", "located", "from",
                                    "live", "lives", "born"]

    def __init__(self) -> None:
        super().__init__(supported_entity="LOCATION", name="PlaceRecognizer",
                         patterns=self.PATTERNS, context=self.CONTEXT,
                         supported_language="en", global_regex_flags=FLAGS)


# ----------------------------------------------------------------------------- US driver licence


class UsDriverLicenseContextRecognizer(PatternRecognizer):
    """US driver licence numbers right after their label. Presidio's own
    recognizer scores most state formats too low to pass without context in
    the 5 preceding words; a label directly in front is strong evidence."""

    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("labelled licence number",
                r"(?<=\b(?i:driver'?s?|driving)[ \t]+(?i:licen[cs]e|lic\.?|permit)"
                r"(?:[ \t]+(?i:number|no\.?|num|#))?[ \t]*(?::|is|#)?[ \t]*)"
                r"(?=[A-Z0-9*\-]*\d)[A-Z0-9][A-Z0-9\-]{4,16}[A-Z0-9]\b", 0.7),
    ]
    CONTEXT: ClassVar[list[str]] = ["driver", "license", "licence", "permit", "dl"]

    def __init__(self) -> None:
        super().__init__(supported_entity="US_DRIVER_LICENSE",
                         name="UsDriverLicenseContextRecognizer", patterns=self.PATTERNS,
                         context=self.CONTEXT, supported_language="en",
                         global_regex_flags=FLAGS)


# ----------------------------------------------------------------------------- phones

_PHONE = (r"(?<![\w+.\-/])(?:\+\d{1,3}[ .\-]?(?:\(0\)[ ]?)?|00\d{1,3}[ .\-]?)?"
          r"(?:\(\d{1,5}\)[ .\-]?)?\d{2,5}(?:[ .\-]\d{2,5}){0,4}"
          r"(?:[ ]?(?:x|ext\.?[ ]?)\d{1,5})?(?![\w\-]|[.,]\d)")
_PHONE_INTL = (r"(?<![\w+.\-/])(?:\+|00)\d[\d .\-()]{5,22}\d"
               r"(?:[ ]?(?:x|ext\.?[ ]?)\d{1,5})?(?![\w\-]|[.,]\d)")
_PHONE_LABEL_AFTER = r"(?=[ \t]*[\-(]?[ \t]*(?i:office|fax|mobile|cell|home|work|tel|phone)\b)"
_DATE_LIKE = re.compile(r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})\b")
_SSN_LIKE = re.compile(r"^\d{3}-\d{2}-\d{4}$")
_IP_LIKE = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


class InternationalPhoneRecognizer(PatternRecognizer):
    """Phone numbers in national and international layouts that
    ``phonenumbers``' default regions miss ("0494 92 82 32", "+41 (0)71 526 99 04",
    "9469 9966"). Any group-of-digits run of 7-15 digits qualifies, but only a
    leading ``+``/``00``, a label right after it ("... office", "... fax") or a
    context word before it makes it a finding; dates, SSNs and IPs are refused."""

    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("international prefix", _PHONE_INTL, 0.5),
        Pattern("digits + label after", _PHONE + _PHONE_LABEL_AFTER, 0.5),
        Pattern("digit groups", _PHONE, 0.15),
    ]
    CONTEXT: ClassVar[list[str]] = [
        "phone", "telephone", "tel", "mobile", "cell", "call", "fax", "desk", "office",
        "number", "contact", "reach", "text", "sms", "whatsapp", "answering", "dial",
        "messages",
    ]

    def __init__(self) -> None:
        super().__init__(supported_entity="PHONE_NUMBER", name="InternationalPhoneRecognizer",
                         patterns=self.PATTERNS, context=self.CONTEXT,
                         supported_language="en", global_regex_flags=FLAGS)

    def invalidate_result(self, pattern_text: str) -> bool:
        core = pattern_text.split("x")[0].split("ext")[0]
        digits = sum(c.isdigit() for c in core)
        if not 7 <= digits <= 15:
            return True
        if " " not in core and "-" not in core and "." not in core and digits > 11 \
                and not core.startswith(("+", "00")):
            return True  # one long run: an account/card number, not a phone
        return bool(_DATE_LIKE.match(core) or _SSN_LIKE.match(core) or _IP_LIKE.match(core))


# ----------------------------------------------------------------------------- payment cards


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum every payment card number carries."""
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


class CardNumberContextRecognizer(PatternRecognizer):
    """Card numbers of 12-19 digits (Maestro, 2-series Mastercard, 19-digit
    Visa) that Presidio's prefix table misses. Weak alone (a Luhn-valid 12-19
    digit number is 1 in 10): only a context word ("card", "cc", ...) before it
    makes it a finding, except a 2-series Mastercard number (a narrow
    prefix range, 16 digits); a failed Luhn check discards any."""

    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("12-19 digits", r"(?<![\w\-.])\d{12,19}(?![\w\-]|[.,]\d)", 0.1),
        Pattern("grouped 4-4-4-x", r"(?<![\w\-.])\d{4}(?:([ \-])\d{4}){2}\1\d{1,7}"
                r"(?![\w\-]|[.,]\d)", 0.1),
        # Mastercard's 2-series (BINs 2221-2720, issued since 2017), which
        # Presidio's prefix table predates: as strong as its other cards'
        # shapes before context, and still Luhn-checked.
        Pattern("2-series mastercard", r"(?<![\w\-.])2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d"
                r"|720)(?:[ \-]?\d{4}){3}(?![\w\-]|[.,]\d)", 0.5),
    ]
    CONTEXT: ClassVar[list[str]] = ["card", "cc", "visa", "mastercard", "maestro", "amex",
                                    "credit", "debit", "discover", "jcb"]

    def __init__(self) -> None:
        super().__init__(supported_entity="CREDIT_CARD", name="CardNumberContextRecognizer",
                         patterns=self.PATTERNS, context=self.CONTEXT,
                         supported_language="en", global_regex_flags=FLAGS)

    def invalidate_result(self, pattern_text: str) -> bool:
        digits = "".join(c for c in pattern_text if c.isdigit())
        return not (12 <= len(digits) <= 19 and luhn_ok(digits))


def pii_recognizers() -> list[PatternRecognizer]:
    """Fresh instances of every recognizer in this module."""
    return [StreetAddressRecognizer(), TitledPersonRecognizer(), PlaceRecognizer(),
            UsDriverLicenseContextRecognizer(), InternationalPhoneRecognizer(),
            CardNumberContextRecognizer()]


# ----------------------------------------------------------------------------- phones, fast path

# A run of digits joined by the separators phonenumbers accepts inside a number
# (its _VALID_PUNCTUATION plus spaces, at most 4 in a row, as its own matcher).
_PHONE_SEPARATORS = "\\-x\u2010-\u2015\u2212\u30fc\uff0d-\uff0f \u00a0\u00ad\u200b\u2060\u3000" \
                    "()\uff08\uff09\uff3b\uff3d.\\[\\]/~\u2053\u223c\uff5e\t+\uff0b"
_PHONE_CLUSTER = re.compile(rf"\d(?:[{_PHONE_SEPARATORS}]{{0,4}}\d)*")
PHONE_MIN_DIGITS = 7
"""Fewest digits a phone number is reported with: no digit run shorter than
this anchors a candidate window, and no candidate inside a window with fewer
digits is parsed. Valid numbers of the default regions have 7+ digits but for
some German, Israeli and Brazilian short numbers (4-6 digits); in agent
scratch data what parses as one is an id, a size or a status code next to a
longer number (measured: every 4-6 digit phone finding on the benchmark
corpus was such a false positive; docs/adr/0003-scan-performance.md)."""
PHONE_WINDOW_MARGIN = 32
"""Chars kept on each side of a digit run: room for a leading ``+``/``(`` and
a trailing extension ("x 123", "ext. 45") that phonenumbers attaches."""


_ISO_DATE = re.compile(r"(?:19|20)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?!\d)")
"""An ISO 8601 date opening a digit run (``2026-11-21``, ``2026-11-21 10``):
every log line starts with one, and no region's numbers are written year-month-
day. Its digits do not count toward a phone candidate."""


def _phone_digits(run: str) -> int:
    date = _ISO_DATE.match(run)
    if date is not None:
        run = run[date.end():]
    return sum(c.isdigit() for c in run)


def phone_candidate_windows(text: str, min_digits: int = PHONE_MIN_DIGITS,
                            margin: int = PHONE_WINDOW_MARGIN) -> list[tuple[int, int]]:
    """Merged ``(start, end)`` windows around every digit run of ``min_digits``+
    digits (an opening ISO date not counted): the only places a phone number
    can be."""
    windows: list[tuple[int, int]] = []
    for m in _PHONE_CLUSTER.finditer(text):
        if _phone_digits(m.group()) < min_digits:
            continue
        start, end = max(0, m.start() - margin), min(len(text), m.end() + margin)
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(end, windows[-1][1]))
        else:
            windows.append((start, end))
    return windows


class _MinDigitsMatcher(foreign.VerifyingMatcher):
    """phonenumbers' matcher that never parses a candidate with fewer than
    ``PHONE_MIN_DIGITS`` digits (ids, sizes and status codes in the margins of
    a window were ~80% of all parses on logs), and that asks ``memo`` before
    parsing one. Everything else, including the try budget, is the library's:
    a skipped or remembered candidate counts as a tried one, as it would have.
    Should a phonenumbers release rename this hook, nothing is skipped and
    results only grow (tests/scan/test_fast_paths.py notices)."""

    def __init__(self, text: str, region: str, leniency: int,
                 memo: PhoneMemo | None = None) -> None:
        super().__init__(text, region, leniency=leniency)
        self._memo = memo

    def verify(self, candidate: str, offset: int) -> Any:
        if sum(map(str.isdigit, candidate)) < PHONE_MIN_DIGITS:
            return None
        if self._memo is None:
            return self.library_verify(candidate, offset)
        key = self._memo.key(self.text, candidate, offset, self.preferred_region,
                             int(self.leniency))
        known = self._memo.get(key)
        if known is None:
            match = self.library_verify(candidate, offset)
            self._memo.put(key, match)
            return match
        number = known[0]
        return None if number is None else PhoneNumberMatch(offset, candidate, number)


class PhoneMemo:
    """What ``_parse_and_verify`` answered for a candidate, so the same question
    is not parsed again: for another region when the answer cannot depend on
    the region, and for the same candidate in another window or file.

    The answer is a function of the key (phonenumbers 8.13-9.x,
    ``PhoneNumberMatcher._parse_and_verify``): the candidate string; the
    characters just before and after it (the VALID-leniency check of
    surrounding letters and punctuation reads only those two); the leniency;
    and the region, which ``parse`` uses only for a number written without a
    leading plus sign. A candidate whose possible number (phonenumbers' own
    ``_extract_possible_number``) starts with ``+`` is parsed from its
    country calling code, and its verification then needs no region either
    (``country_code_source`` is "with plus sign"), so its key has none.
    tests/scan/test_fast_paths.py compares results with and without the memo
    against Presidio's on every region. Bounded: cleared when it reaches
    ``max_entries`` (the numbers stay in this process, as the text does)."""

    def __init__(self, max_entries: int = 16384) -> None:
        self.max_entries = max_entries
        self._answers: dict[tuple[str, str, str, str | None, int],
                            tuple[phonenumbers.PhoneNumber | None]] = {}

    @staticmethod
    def key(text: str, candidate: str, offset: int, region: str | None, leniency: int
            ) -> tuple[str, str, str, str | None, int]:
        end = offset + len(candidate)
        before = text[offset - 1] if offset > 0 else ""
        after = text[end] if end < len(text) else ""
        return candidate, before, after, None if _international(candidate) else region, leniency

    def get(self, key: tuple[str, str, str, str | None, int]
            ) -> tuple[phonenumbers.PhoneNumber | None] | None:
        return self._answers.get(key)

    def put(self, key: tuple[str, str, str, str | None, int], match: Any) -> None:
        if len(self._answers) >= self.max_entries:
            self._answers.clear()
        self._answers[key] = (None if match is None else match.number,)


def _international(candidate: str) -> bool:
    """True when phonenumbers parses ``candidate`` from its own ``+`` country
    code, whatever the default region (no RFC 3966 ``phone-context``)."""
    return ";" not in candidate and foreign.written_with_plus(candidate) is True


_PN: Any = foreign.PHONE_MATCHER
_SHARED_MATCHING = _PN is not None
_MAX_TRIES = 65535
"""phonenumbers' default ``max_tries`` of a ``PhoneNumberMatcher``."""


def _trim(pattern: Any, candidate: str) -> str:
    """``PhoneNumberMatcher._trim_after_first_match``."""
    m = pattern.search(candidate)
    return candidate[:m.start()] if m else candidate


_Try = tuple[str, int]
"""A sub-candidate to parse and its offset in the text."""
_Plan = tuple[_Try, tuple[tuple[_Try, ...], ...]]
"""The whole-candidate try, then the inner loop's rounds of one or two tries."""


class _Candidates:
    """What phonenumbers' matcher computes for a text before it parses anything,
    computed once and shared by every region: where ``_PATTERN`` finds the next
    candidate from a given index, and which sub-candidates ``_extract_match``
    tries for a candidate (the whole candidate, then the groups of its inner
    patterns), in the library's order. Neither depends on the region; only
    the parse of each try does (``PhoneMemo``)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._next: dict[int, tuple[int, int] | None] = {}
        self._tries: dict[int, _Plan | None] = {}

    def search(self, index: int) -> tuple[int, int] | None:
        if index not in self._next:
            m = _PN._PATTERN.search(self.text, index)
            self._next[index] = None if m is None else m.span()
        return self._next[index]

    def settled(self, offset: int, candidate: str) -> bool:
        """True when matching ``candidate`` resumes the search at its end
        whatever each parse answers: every try that could parse (enough
        digits) ends where the candidate ends, and a failed candidate resumes
        there too."""
        plan = self.tries(offset, candidate)
        if plan is None:
            return True
        end = offset + len(candidate)
        return all(at + len(group) == end for round_ in plan[1] for group, at in round_
                   if sum(map(str.isdigit, group)) >= PHONE_MIN_DIGITS)

    def tries(self, offset: int, candidate: str) -> _Plan | None:
        """``None`` when ``_extract_match`` gives up before parsing (a date, a
        time stamp), else the whole-candidate try and the inner loop's rounds:
        each round is checked against the try budget once, then runs its one
        or two tries."""
        if offset in self._tries:
            return self._tries[offset]
        found: _Plan | None = None
        text = self.text
        if not _PN._SLASH_SEPARATED_DATES.search(candidate) and not (
                _PN._TIME_STAMPS.search(candidate)
                and _PN._TIME_STAMPS_SUFFIX.match(text, offset + len(candidate))):
            rounds: list[tuple[_Try, ...]] = []
            for inner in _PN._INNER_MATCHES:
                group_match = inner.search(candidate)
                first = True
                while group_match:
                    this: list[_Try] = []
                    if first:
                        this.append((_trim(_PN._UNWANTED_END_CHAR_PATTERN,
                                           candidate[:group_match.start()]), offset))
                        first = False
                    this.append((_trim(_PN._UNWANTED_END_CHAR_PATTERN, group_match.group(1)),
                                 offset + group_match.start(1)))
                    rounds.append(tuple(this))
                    group_match = inner.search(candidate, group_match.start() + 1)
            found = ((candidate, offset), tuple(rounds))
        self._tries[offset] = found
        return found


def _shared_matches(candidates: _Candidates, region: str, leniency: int, memo: PhoneMemo,
                    reported: Sequence[tuple[int, int]] = ()) -> list[PhoneNumberMatch]:
    """``list(PhoneNumberMatcher(text, region, leniency))`` with the min-digits
    rule and the memo: the library's own loop (``has_next`` / ``_find`` /
    ``_extract_match`` / ``_extract_inner_match`` of phonenumbers 8.13-9.x),
    try budget included, over the shared candidates. The parse itself is the
    library's ``_parse_and_verify``.

    Less what cannot change the recognizer's results: ``reported`` are spans
    other regions already matched in this text. Every match a candidate can
    give lies inside the candidate, and the recognizer keeps no phone result
    contained in another (``remove_duplicates``; all have the same score). So
    a candidate inside a reported span is not parsed at all when how it ends
    cannot matter either: the search resumes at the candidate's end whatever
    it gives (no try that could parse ends before it, ``_Candidates.settled``),
    and the try budget is charged the most the candidate could have used. If
    that budget ever runs out, the text is matched again without skipping."""
    text = candidates.text
    verifier = _MinDigitsMatcher(text, region, leniency, memo)
    budget = _MAX_TRIES
    skipped = False
    out: list[PhoneNumberMatch] = []
    index = 0
    while True:
        found: Any = None
        span = candidates.search(index)
        while budget > 0 and span is not None:
            start = span[0]
            candidate = _trim(_PN._SECOND_NUMBER_START_PATTERN, text[start:span[1]])
            if candidate:
                plan = candidates.tries(start, candidate)
                end = start + len(candidate)
                if (reported and any(a <= start and end <= b for a, b in reported)
                        and candidates.settled(start, candidate)):
                    budget -= 1 + (sum(map(len, plan[1])) if plan is not None else 0)
                    skipped = True
                elif plan is not None:
                    whole, rounds = plan
                    found = verifier.verify(*whole)
                    if found is None:
                        for this in rounds:
                            if budget <= 0:
                                break
                            for group, offset in this:
                                found = verifier.verify(group, offset)
                                if found is not None:
                                    break
                                budget -= 1
                            if found is not None:
                                break
                if found is not None:
                    break
                budget -= 1
            index = start + len(candidate)
            span = candidates.search(index)
        if skipped and budget <= 0:
            return _shared_matches(candidates, region, leniency, memo)
        if found is None:
            return out
        out.append(found)
        index = found.end


NAME = "PhoneRecognizer"
"""The candidate-window recognizer keeps Presidio's name: it stands in for it."""


class CandidatePhoneRecognizer(PhoneRecognizer):
    """Presidio's PhoneRecognizer (same regions, leniency, score, context) run
    only on windows around digit runs long enough to be a phone number, and
    reporting only numbers of ``PHONE_MIN_DIGITS``+ digits.

    Why: the original runs ``PhoneNumberMatcher`` over the whole text once per
    region (8 passes), parsing every digit run (timestamps, ids, sizes); on logs
    that was most of the scan time. Windows are cut wide enough that the
    matcher sees the same characters around each number, so the results are
    Presidio's less its 4-6 digit numbers (tests/scan/test_fast_paths.py
    compares them on realistic texts)."""

    def __init__(self) -> None:
        super().__init__(name=NAME)
        self.memo = PhoneMemo()

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        results: list[RecognizerResult] = []
        for start, end in phone_candidate_windows(text):
            results += self._analyze_window(text[start:end], start, nlp_artifacts)
        found: list[RecognizerResult] = EntityRecognizer.remove_duplicates(results)
        return found

    def _analyze_window(self, text: str, base: int, nlp_artifacts: NlpArtifacts | None
                        ) -> list[RecognizerResult]:
        """Presidio's ``PhoneRecognizer.analyze`` loop (2.2.x) on one window,
        with the min-digits matcher; offsets moved by ``base``."""
        results: list[RecognizerResult] = []
        leniency = 1 if self.leniency is None else self.leniency   # Presidio's default
        candidates = _Candidates(text) if _SHARED_MATCHING else None
        reported: list[tuple[int, int]] = []
        for region in self.supported_regions:
            matches: Iterable[PhoneNumberMatch] = (
                public_matches(text, region, leniency) if candidates is None
                else _shared_matches(candidates, region, leniency, self.memo, reported))
            for match in matches:
                reported.append((match.start, match.end))
                results.append(RecognizerResult(
                    entity_type=self.supported_entities[0], start=base + match.start,
                    end=base + match.end, score=self.SCORE, analysis_explanation=None,  # type: ignore[arg-type]
                    recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: NAME,
                                          RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id}))
        return results


def public_matches(text: str, region: str, leniency: int) -> list[PhoneNumberMatch]:
    """The public path: phonenumbers' matcher as published, numbers under
    ``PHONE_MIN_DIGITS`` digits dropped after matching (the fast path never
    parses them). tests/scan/test_foreign.py compares the two."""
    return [m for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=leniency)
            if sum(c.isdigit() for c in m.raw_string) >= PHONE_MIN_DIGITS]
