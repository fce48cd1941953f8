"""Word lists for matching, grouped by role, plus inflection and typo variants.

The lists are data written for this project from general knowledge of abusive language;
they were checked against the *dev* half of HateCheck only (see bench/safety_hatecheck.py).
Entries are lemmas; `forms()` adds plural, past, -ing and comparative forms, and
`typo_variants()` adds one-letter deletions and adjacent swaps for obfuscation.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ABLE_HEADS", "ABUSE_NOUN", "COUNTER_MARKER", "DEHUM", "DEROG_ADJ", "EMOTE_NOUN", "EMOTE_OBJ",
    "EMOTE_SUBJ", "GROUP_ADJ", "GROUP_NOUN", "HOMONYM_CONTEXT", "MINOR", "NEGATOR", "POSITIVE",
    "PROFANITY_MILD", "PROFANITY_STRONG", "REPORT_VERB", "SEXUAL_AMBIG", "SEXUAL_EXPLICIT",
    "SLUR_GENDERED", "SLUR_MILD", "SLUR_STRONG", "THREAT_IRREGULAR", "THREAT_VERB", "forms", "typo_variants",
]  # fmt: skip


def _w(text: str) -> frozenset[str]:
    return frozenset(text.split())


# --- identity groups (protected characteristics) -------------------------------------
GROUP_NOUN = _w(
    "woman women female females girl girls men lesbian lesbians gay gays homosexual homosexuals "
    "bisexual bisexuals transgender transgenders transsexual transsexuals nonbinary lgbt lgbtq "
    "lgbtqia muslim muslims jew jews jewish christian christians hindu hindus sikh sikhs islam "
    "immigrant immigrants migrant migrants refugee refugees foreigner foreigners blacks "
    "african africans asian asians arab arabs hispanic hispanics latino latinos latina latinas "
    "mexican mexicans chinese indians pakistani pakistanis gypsy gypsies roma romani "
    "aboriginal aboriginals disabled handicapped autistic"
)
# adjectives that name a group only before a head noun ("black people", "trans lives")
GROUP_ADJ = _w(
    "black white trans queer disabled deaf blind native indigenous brown jewish asian "
    "african muslim immigrant gay female"
)
ABLE_HEADS = _w(
    "people person persons folk folks men women man woman guy guys kid kids lives life "
    "community communities individuals population ones citizens boys girls neighbours "
    "neighbors kind culture"
)

# --- slurs -------------------------------------------------------------------------
SLUR_STRONG = _w(
    "nigger niggers nigguh coon coons jigaboo darkie darkies sambo wog wogs chink chinks gook "
    "gooks spic spics spick wetback wetbacks beaner beaners kike kikes raghead ragheads "
    "towelhead towelheads muzzie muzzies paki pakis gyppo gypo pikey tranny trannies trannys "
    "shemale shemales faggot faggots fag fags faggy dyke dykes lesbo lesbos poofter poof "
    "retard retards spaz spastic spastics mong mongs mongoloid mongoloids cripple cripples "
    "rapefugee rapefugees jihadi jihadis camelfucker camelfuckers cameljockey"
)
SLUR_MILD = _w("nigga niggas niggaz homo homos queers")  # often reclaimed in-group
SLUR_GENDERED = _w("bitch bitches slut sluts whore whores skank skanks hoe hoes cunt cunts")
SLUR_PHRASES = ("camel fucker", "camel jockey", "sand nigger", "porch monkey", "slant eye")
# contexts in which a slur-shaped word has its ordinary meaning
HOMONYM_CONTEXT: dict[str, frozenset[str]] = {
    "fag": _w("smoke smoked smoking cigarette cigarettes packet pack lit light puff uk ash"),
    "faggot": _w("ate eat eating cooked cook dinner meatball meatballs gravy delicious fried pan"),
    "bitch": _w("dog dogs puppy puppies vet bark barking litter breed kennel show whelp"),
    "hoe": _w("garden tool tools weeds weed shed soil rake dig field"),
    "dyke": _w("flood flooding water built council sea river dutch embankment dam"),
    "queer": _w("feeling felt slightly rather notion strange odd somewhat"),
}

# --- derogation --------------------------------------------------------------------
DEHUM = _w(
    "scum vermin garbage trash filth dirt rat rats cockroach cockroaches roach roaches "
    "parasite parasites pest pests plague cancer virus disease tumour tumor animal animals "
    "ape apes monkey monkeys pig pigs swine beast beasts savage savages subhuman subhumans "
    "leech leeches maggot maggots insect insects lice louse worm worms creature creatures "
    "abomination abominations degenerate degenerates sewage cattle mongrel mongrels "
    "infestation germs bacteria waste scourge filthbag dogs"
)
DEROG_ADJ = _w(
    "stupid dumb idiotic ignorant moronic brainless retarded vile filthy disgusting revolting "
    "repulsive gross nasty evil wicked violent cruel barbaric primitive backward backwards "
    "lazy dirty smelly stinking ugly pathetic useless worthless inferior incompetent "
    "untrustworthy dishonest deceitful sneaky greedy dangerous twisted perverted deranged "
    "despicable contemptible loathsome abhorrent detestable shitty crappy annoying "
    "hysterical weak feeble parasitic pitiful thick dense uncivilised uncivilized"
)
ABUSE_NOUN = _w(
    "idiot idiots moron morons imbecile imbeciles fool fools criminal criminals thug thugs "
    "terrorist terrorists rapist rapists paedophile paedophiles pedophile pedophiles thief "
    "thieves liar liars freak freaks loser losers disgrace burden burdens threat threats "
    "menace menaces prick pricks dickhead dickheads dumbass dumbasses motherfucker "
    "motherfuckers asshole assholes arsehole arseholes bastard bastards twat twats wanker "
    "wankers shithead shitheads jackass scumbag scumbags worst dregs"
)
EMOTE_OBJ = _w("hate despise detest loathe abhor resent pissed")  # the target is the object
EMOTE_SUBJ = _w("disgust sicken repulse revolt infuriate enrage nauseate furious livid")  # target is subject
EMOTE_NOUN = _w("hatred disdain contempt disgust loathing revulsion scorn rage")
THREAT_VERB = _w(
    "kill murder shoot hang lynch stab burn drown gas exterminate eradicate eliminate "
    "slaughter execute butcher massacre behead decapitate torture hurt harm beat punch bomb "
    "nuke rape strangle choke slit annihilate purge cleanse sterilise sterilize castrate "
    "poison starve die suffer snap genocide mutilate whip bash attack"
)
POSITIVE = _w(
    "intelligent smart clever bright capable competent worth worthy valuable matter important "
    "equal human humans respect trust compassion sympathy welcome belong live exist protect "
    "protecting safe deserve rights place space room decent good"
)

# --- framing -----------------------------------------------------------------------
NEGATOR = _w("not never no nobody none neither nor")
REPORT_VERB = _w(
    "say says said saying call calls called calling tell telling told write writes writing "
    "wrote post posting tweet tweeting claim claims claiming threaten threatens threatening "
    "statement statements believe think thinking shout shouting"
)
COUNTER_MARKER = _w(
    "bigot bigots bigoted bigotry racist racism sexist sexism homophobic homophobia "
    "homophobes transphobic transphobia islamophobic islamophobia ableist ableism xenophobic "
    "misogynist misogynistic misogyny hateful hurtful harmful offensive unacceptable wrong "
    "misguided shameful banned ban jail prison arrested reported report condemn dehumanising "
    "dehumanizing slur slurs horrible deeply disrespectful awful appalling"
)

# --- swearing, sex, minors -----------------------------------------------------------
PROFANITY_STRONG = _w(
    "fuck fucks fucked fucking fucker fuckers fuckin fuk fck fk motherfucker motherfuckers "
    "motherfucking shit shits shitty shitting bullshit shithead shitheads cunt cunts bastard "
    "bastards asshole assholes arsehole arseholes dickhead dickheads prick pricks twat twats "
    "wanker wankers bitch bitches bitching dumbass jackass bollocks wtf stfu gtfo"
)
PROFANITY_MILD = _w("damn dammit goddamn crap crappy piss pissed bloody bugger sod arse ass")
SEXUAL_EXPLICIT = _w(
    "porn porno pornography blowjob blowjobs handjob handjobs cum cumming cumshot orgasm "
    "orgasms masturbate masturbating masturbation dildo dildos anal clit clitoris horny "
    "nudes boner erection cunnilingus fellatio gangbang hentai milf threesome creampie "
    "rimjob deepthroat bukkake squirt tits titties boobs jerking jerk jizz"
)
SEXUAL_AMBIG = _w(
    "sex sexy naked nude dick dicks cock cocks pussy balls ass penis vagina breasts nipples suck strip stripping moan"
)
THREAT_IRREGULAR = _w("shot hung beaten burnt slain struck")
MINOR = _w(
    "child children kid kids minor minors underage preteen preteens toddler toddlers "
    "schoolgirl schoolgirls schoolboy schoolboys loli lolis shota infant infants baby babies "
    "juvenile prepubescent pubescent"
)


def forms(lemmas: Iterable[str]) -> frozenset[str]:
    """Inflected forms of each lemma: -s/-es, -ed/-d, -ing, -er/-est (with e-drop, doubling)."""
    out: set[str] = set()
    for w in lemmas:
        out.add(w)
        stem = w[:-1] if w.endswith("e") else w
        double = w + w[-1] if len(w) <= 4 and w[-1] in "bdgklmnprt" and w[-2] in "aeiou" else w
        out.update({w + "s", w + "es", stem + "ed", stem + "ing", stem + "er", stem + "est"})
        out.update({double + "ed", double + "ing"})
        if w.endswith("y"):
            out.update({w[:-1] + "ies", w[:-1] + "ied", w[:-1] + "iest"})
    return frozenset(out)


def typo_variants(words: Iterable[str], min_len: int = 4) -> dict[str, str]:
    """One deleted letter or two swapped neighbours → the intended word."""
    out: dict[str, str] = {}
    for w in words:
        if len(w) < min_len:
            continue
        for i in range(len(w)):
            out.setdefault(w[:i] + w[i + 1 :], w)
            if i + 1 < len(w) and w[i] != w[i + 1]:
                out.setdefault(w[:i] + w[i + 1] + w[i] + w[i + 2 :], w)
    for w in words:
        out.pop(w, None)
    return out
