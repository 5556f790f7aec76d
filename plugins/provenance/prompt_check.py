"""The prompt check: editable word lists per category, matched on normalised text.

Lists ship in resources/safety/<category>.txt; a file of the same name in <home>/safety/
replaces the shipped one (and a new name there adds a category). The syntax is described
at the top of resources/safety/sexual.txt. Matching sees through case, accents, look-alike
letters, zero-width characters, punctuation and spacing tricks (p.o.r.n, p o r n), leetspeak
(p0rn, $ex) and repeated letters (pooorn), while whole-word matching keeps innocent words
that contain a listed one (Scunthorpe, Sussex, cocktail, assassin) clean.

The user's folder is outside input: only regular files of at most MAX_LIST_BYTES are read
(a folder, a pipe or a device named x.txt is passed over with a log line, and the shipped
list of that name stays in force), undecodable bytes read as U+FFFD.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import shutil
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from engine.home import RESOURCES, atelier_home
from engine.untrusted import (
    UntrustedInputError,
    clean_text,
    display_path,
    read_file_bytes,
    regular_file_size,
)

log = logging.getLogger(__name__)
SHIPPED = RESOURCES / "safety"
MAX_LIST_BYTES = 256 * 1024  # the shipped lists are 2 KB at most; this is 25,000 lines
MAX_LIST_ENTRIES = 1_000  # entries of <home>/safety/ looked at
_LEET = str.maketrans("013457892@$!|+€", "oieastbgzaslite")
_LEET_L = str.maketrans("1", "l")
# Cyrillic and Greek letters that look like Latin ones (a common way round word lists)
_CONFUSABLES = str.maketrans("аеорсхуіјѕԁһкмтвнɡαοερτυνικμχ", "aeopcxyijsdhkmtbhgaoeptuvikmx")
_SEPARATORS = re.compile(r"[\W_]+")
_SPACED_RUN = re.compile(r"(?<!\w)(?:\w ){2,}\w(?!\w)")  # three or more single characters


@dataclass(frozen=True)
class Term:
    """One listed word or phrase: as whole words, and bare (for words spelled out)."""

    bounded: re.Pattern[str]
    bare: re.Pattern[str]


@dataclass(frozen=True)
class Entry:
    """A list line: every part must match; a part matches when any of its terms does."""

    text: str
    parts: tuple[tuple[Term, ...], ...]


@dataclass(frozen=True)
class Category:
    """One list: its id (file name), title, entries and allowed phrases."""

    id: str
    title: str
    entries: tuple[Entry, ...]
    allowed: tuple[re.Pattern[str], ...]
    source: str  # "shipped" or the path of the user's copy


@dataclass(frozen=True)
class PromptMatch:
    """A prompt matched a list: which category, and the entry it matched."""

    category: str
    title: str
    entry: str


def normalise(text: str) -> str:
    """Lower case, no accents or look-alikes, words separated by single spaces."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if unicodedata.category(c) not in ("Mn", "Cf"))
    return text.casefold().translate(_CONFUSABLES)


def _words(text: str) -> str:
    return " ".join(_SEPARATORS.sub(" ", text).split())


def variants(text: str) -> list[str]:
    """The forms of a prompt that lists are matched against: plain and leetspeak-decoded."""
    text = normalise(text)
    forms = [_words(text)]
    for extra in (None, _LEET_L):
        tokens = []
        for token in text.split():
            if any(c.isalpha() for c in token):
                token = token.translate(extra) if extra else token
                token = token.translate(_LEET)
            tokens.append(token)
        forms.append(_words(" ".join(tokens)))
    return list(dict.fromkeys(forms))


def spaced_runs(form: str) -> list[str]:
    """Words spelled out letter by letter ("p o r n"), joined ("porn")."""
    return [run.replace(" ", "") for run in _SPACED_RUN.findall(form)]


def make_term(term: str) -> Term:
    """A term as regexes: repeated letters allowed, phrase words with optional spaces,
    a trailing "*" for longer words, an optional plural."""
    prefix = term.endswith("*")
    words = _words(normalise(term.rstrip("*"))).split()
    parts = []
    for word in words:
        pieces = []
        for match in re.finditer(r"(.)\1*", word):
            char, count = match.group(1), len(match.group(0))
            if char.isalpha():
                pieces.append(re.escape(char) + ("+" if count == 1 else f"{{{count},}}"))
            else:
                pieces.append(re.escape(match.group(0)))
        parts.append("".join(pieces))
    body = " ?".join(parts)
    tail = r"\w*" if prefix else r"(?:e?s)?"
    return Term(re.compile(rf"(?<!\w){body}{tail}(?!\w)"), re.compile(body.replace(" ?", "")))


def parse_list(text: str, category_id: str, source: str = "shipped") -> Category:
    """A category from the text of its list file."""
    title = category_id.replace("_", " ").capitalize()
    sets: dict[str, list[str]] = {}
    raw_entries: list[str] = []
    allowed = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("# title:"):
            title = line.removeprefix("# title:").strip() or title
        if not line or line.startswith("#"):
            continue
        if line.startswith("!"):
            allowed.append(make_term(line[1:].strip()).bounded)
        elif line.startswith("@") and "=" in line:
            name, _, terms = line.partition("=")
            sets[name.strip()] = [t.strip() for t in terms.split(",") if t.strip()]
        else:
            raw_entries.append(line)
    entries = []
    for line in raw_entries:
        parts = []
        for part in (p.strip() for p in line.split("&")):
            terms = sets.get(part, []) if part.startswith("@") else [part]
            parts.append(tuple(make_term(t) for t in terms if _words(normalise(t))))
        if parts and all(parts):
            entries.append(Entry(" & ".join(p.strip() for p in line.split("&")), tuple(parts)))
    return Category(category_id, title, tuple(entries), tuple(allowed), source)


def user_lists_dir(home: Path | None = None) -> Path:
    """Where the user's own copies of the lists go: <home>/safety/."""
    return (home or atelier_home()) / "safety"


def copy_lists_for_editing(home: Path | None = None) -> Path:
    """Copy the shipped lists into <home>/safety/ (keeping copies already there)."""
    folder = user_lists_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    for shipped in sorted(SHIPPED.glob("*.txt")):
        if not os.path.lexists(folder / shipped.name):  # never write through a link
            shutil.copyfile(shipped, folder / shipped.name)
    return folder


_cache: dict[tuple, list[Category]] = {}
_cache_lock = threading.Lock()


def load_categories(home: Path | None = None) -> list[Category]:
    """Every category: the shipped lists, each replaced by the user's copy when there is one
    that can be read. Re-read when a list file changes."""
    shipped = {p.stem: p for p in sorted(SHIPPED.glob("*.txt"))}
    files = {**shipped, **_user_lists(user_lists_dir(home))}
    key = tuple((name, str(p), _version(p)) for name, p in sorted(files.items()))
    with _cache_lock:
        if key not in _cache:
            _cache.clear()
            _cache[key] = [
                category
                for name, path in sorted(files.items())
                if (category := _load_category(name, path, shipped.get(name))) is not None
            ]
        return _cache[key]


def _user_lists(folder: Path) -> dict[str, Path]:
    """The user's lists: the regular `*.txt` files in `folder`, by category id."""
    try:
        with os.scandir(folder) as listing:
            items = list(itertools.islice(listing, MAX_LIST_ENTRIES))
    except OSError:  # no folder (the usual case), or not one
        return {}
    lists = {}
    for item in sorted(items, key=lambda i: i.name):
        path = Path(item.path)
        if item.name.startswith(".") or not item.name.endswith(".txt"):
            continue
        try:
            regular_file_size(path)
        except (OSError, UntrustedInputError) as exc:
            log.warning("safety list %s skipped: %s", display_path(path), clean_text(str(exc)))
            continue
        lists[path.stem] = path
    return lists


def _version(path: Path) -> tuple[int, int]:
    """When and how a list file last changed, to know when to read it again."""
    try:
        st = path.stat()
    except OSError:
        return (0, 0)
    return (st.st_mtime_ns, st.st_size)


def _load_category(name: str, path: Path, shipped: Path | None) -> Category | None:
    """The category in `path`; the shipped list of that name when the user's copy cannot
    be read (too large, gone, replaced by a pipe), else None."""
    for candidate in dict.fromkeys(p for p in (path, shipped) if p is not None):
        try:
            raw = read_file_bytes(candidate, "a safety word list", MAX_LIST_BYTES)
        except (OSError, UntrustedInputError) as exc:
            log.warning("safety list %s skipped: %s", display_path(candidate), clean_text(str(exc)))
            continue
        source = "shipped" if candidate.parent == SHIPPED else display_path(candidate)
        return parse_list(raw.decode("utf-8", errors="replace"), clean_text(name), source)
    return None


def _matches(part: tuple[Term, ...], forms: list[str], runs: list[str]) -> bool:
    return any(
        any(term.bounded.search(form) for form in forms)
        or any(term.bare.search(run) for run in runs)
        for term in part
    )


def check_category(category: Category, text: str) -> PromptMatch | None:
    """The first entry of `category` that `text` matches, or None."""
    forms = variants(text)
    for allowed in category.allowed:
        forms = [allowed.sub(" ", form) for form in forms]
    runs = [run for form in forms for run in spaced_runs(form)]
    for entry in category.entries:
        if all(_matches(part, forms, runs) for part in entry.parts):
            return PromptMatch(category.id, category.title, entry.text)
    return None


def check_prompt(text: str, home: Path | None = None) -> list[PromptMatch]:
    """Every category the text matches (at most one match each); empty when clean."""
    if not text or not text.strip():
        return []
    found = (check_category(category, text) for category in load_categories(home))
    return [match for match in found if match is not None]
