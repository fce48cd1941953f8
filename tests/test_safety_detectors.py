"""Each detector layer on its own: targeted hate, harms, word rules."""

from __future__ import annotations

import pytest

from bot.safety.categories import Category
from bot.safety.harms import detect_harms
from bot.safety.hate import detect_hate
from bot.safety.normalise import normalise
from bot.safety.rules import WordLists, scan_words


def hate(text: str) -> float:
    return max((h.score for h in detect_hate(normalise(text))), default=0.0)


def harms(text: str) -> dict[Category, float]:
    out: dict[Category, float] = {}
    for h in detect_harms(normalise(text)):
        out[h.category] = max(out.get(h.category, 0.0), h.score)
    return out


@pytest.mark.parametrize(
    "text",
    [
        "Immigrants are vermin.",
        "I despise Arabs.",
        "Gay people are disgusting freaks.",
        "We should exterminate all refugees.",
        "Jews are parasites.",
        "You are nothing but a wetback.",
        "Immigrants think they are special. I hate them.",  # pronoun in the next sentence
        "Trans people are never going to be equal to us.",  # negated positive
        "1mm1gr4nts are v3rm1n",
        "I can't stand Muslims.",  # set phrase → hate
        "Refugees make my blood boil.",
        "Why are gay people so disgusting?",  # inverted question
        "Filthy immigrants everywhere.",  # attributive insult
        "Immigrants steal everything they touch.",  # derogatory verb with the group as subject
        "Women should stay in the kitchen where they belong.",  # implicit: place
        "Keep the immigrants out of our country.",  # implicit: exclusion
        "A dog is worth more than a Muslim.",  # implicit: comparison
        "I would never hire a woman.",  # implicit: distrust
        "Trans people are not real people.",
        "We need to deport all refugees.",  # exclusion with the group as object
        "Gaypeople are scum.",  # run together
        "IHateMuslims",
    ],
)
def test_targeted_hate_scores_high(text: str) -> None:
    assert hate(text) >= 0.5


@pytest.mark.parametrize(
    "text",
    [
        "I hate Mondays.",  # no group
        "You are scum.",  # a person, not a group: harassment's job
        "Bankers are scum.",  # not a protected group
        "Women are brilliant scientists.",
        "I don't hate immigrants at all.",  # negation
        "Muslims are not terrorists.",
        'People who say "Muslims are terrorists" are bigots.',  # counter-speech, quoted
        "Saying that gay people are freaks is homophobic.",  # counter-speech, reported
        "Three Muslims were killed in the attack.",  # a report, not a threat
        "We smoked a fag outside the pub.",  # homonym
        "I'm a fag and proud of it.",  # reclaimed
        "The queer film festival is this weekend.",
        "My sister is a woman who hates spiders.",
        "It's not true that immigrants are lazy.",  # negated complement
        "People who call Muslims terrorists need to educate themselves.",  # relative clause
        "Hating Muslims is bigotry, plain and simple.",  # condemned gerund
        "It's sad that some people still hate immigrants.",  # someone else's feeling
        "Immigrants were attacked in the city centre last night.",  # the group as victim
        "We need to remove the barriers disabled people face at work.",  # not the object
        "The women's rugby match was brutal but fair.",  # possessive
        "Black women with breast cancer deserve better screening.",
        "Referees are blind idiots.",  # not a group
        "I can't stand up for long after the surgery.",
        "We put the black garbage bags out on Tuesday.",
    ],
)
def test_hard_negatives_score_low(text: str) -> None:
    assert hate(text) < 0.5


@pytest.mark.parametrize(
    "text",
    [
        'People who say "Muslims are terrorists" are bigots.',
        "Saying that gay people are freaks is homophobic.",
        'I reported the comment that said "women are worthless".',
        "Claiming that immigrants are criminals is a lie.",
        "Calling disabled people useless is ableist.",
        "I'm a fag and proud of it.",  # reclaimed
    ],
)
def test_counter_speech_and_reclaimed_slurs_stay_under_the_strict_threshold(text: str) -> None:
    assert hate(text) < 0.2  # strict blocks slur_hate at 0.2


def test_weak_evidence_sits_between_the_strict_and_standard_thresholds() -> None:
    assert 0.2 <= hate("Why do we even let Muslims into this country?") < 0.5


def test_threats_need_intent_and_a_target() -> None:
    assert harms("I will kill you")[Category.THREAT] >= 0.8
    assert Category.THREAT not in harms("you killed it at the talk")
    assert Category.THREAT not in harms("I'll beat you at chess")
    assert Category.THREAT not in harms("I would never hurt you")


def test_harassment_self_harm_sexual_and_minors() -> None:
    assert harms("you are a worthless idiot")[Category.HARASSMENT] >= 0.5
    assert Category.HARASSMENT not in harms("you are not stupid")
    assert harms("kys")[Category.HARASSMENT] >= 0.9
    assert harms("I want to kill myself")[Category.SELF_HARM] >= 0.8
    assert Category.SELF_HARM not in harms("kill yourself")  # incitement is harassment, not the sender's self-harm
    assert harms("send nudes")[Category.SEXUAL] >= 0.8
    assert harms("that 12 year old is so sexy")[Category.SEXUAL_MINORS] == 1.0
    assert Category.SEXUAL_MINORS not in harms("the sex of the baby is a surprise")


def test_word_rules_censor_in_place_and_skip_scunthorpe() -> None:
    text = "what the f u c k, sh1t"
    hits = scan_words(text)
    assert [text[h.span[0] : h.span[1]] for h in hits if h.span] == ["f u c k", "sh1t"]
    assert all(h.category is Category.PROFANITY and h.score >= 0.8 for h in hits)
    assert scan_words("Scunthorpe assassin cocktail therapist grape") == []


def test_guild_word_lists_block_and_allow() -> None:
    lists = WordLists(blocked=frozenset({"blorp"}), allowed=frozenset({"damn"}))
    assert [h.rule for h in scan_words("blorp that", lists)] == ["words.custom"]
    assert scan_words("damn it", lists) == []
    assert scan_words("damn it")[0].score < 0.5  # mild bucket without the allowlist


@pytest.mark.parametrize(
    "text",
    [
        "I think immigrants are vermin",  # a first-person opinion does not soften it
        "no chinks allowed on my team",  # "my" elsewhere is no reclaiming
        "fat people are disgusting pigs",  # groups no lexicon lists, named by how they are built
        "people from india are filthy",
        "the amish are inbred freaks",
        "ginger people have no souls and are disgusting",
        "haitians are savages",
        "women are too emotional to lead",
    ],
)
def test_hate_from_how_it_is_built(text: str) -> None:
    assert hate(text) >= 0.5


@pytest.mark.parametrize(
    "text",
    [
        "godzilla endangers japanese cities",  # a group adjective before a thing
        "some people are idiots",  # chosen by behaviour, not identity
        "the government is corrupt",
        "As a dyke I love seeing lesbians on TV.",  # reclaimed: the speaker's own identity
        'I looked up the word "faggot" in the dictionary.',  # a mention
        "it's gross how some people talk about fat people like they're not human",  # counter-speech
    ],
)
def test_not_hate_although_shaped_like_it(text: str) -> None:
    assert hate(text) < 0.5
