"""Word lists for matching, grouped by role, plus inflection and typo variants.

The lists are data written for this project from general knowledge of abusive language,
broadened by category (groups, dehumanising comparisons, derogatory predicates, emotions,
exclusion, violence) rather than from any dataset's sentences; they were checked against the
*dev* half of HateCheck (see bench/safety_hatecheck.py) and the project's own probe sets.
Entries are lemmas; `forms()` adds plural, past, -ing and comparative forms, and
`typo_variants()` adds one-letter deletions and adjacent swaps for obfuscation.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ABLE_HEADS",
    "ABUSE_NOUN",
    "COLOUR_ADJ",
    "COUNTER_MARKER",
    "DEHUM",
    "DEMONYM",
    "DEROG_ADJ",
    "DEROG_VERB",
    "EMOTE_NOUN",
    "EMOTE_OBJ",
    "EMOTE_SUBJ",
    "EXCLUDE_VERB",
    "GROUP_ADJ",
    "GROUP_NOUN",
    "GROUP_PHRASES",
    "HOMONYM_CONTEXT",
    "MINOR",
    "NEGATOR",
    "PEOPLE_HEADS",
    "POSITIVE",
    "PROFANITY_MILD",
    "PROFANITY_STRONG",
    "REPORT_VERB",
    "SEXUAL_AMBIG",
    "SEXUAL_EXPLICIT",
    "SLUR_GENDERED",
    "SLUR_MILD",
    "SLUR_STRONG",
    "THREAT_IRREGULAR",
    "THREAT_VERB",
    "VICTIM_VERB",
    "forms",
    "typo_variants",
]


def _w(text: str) -> frozenset[str]:
    return frozenset(text.split())


# --- identity groups (protected characteristics) -------------------------------------
# Nouns that name a group or a member of one: gender, sexual orientation, gender identity,
# religion, ethnicity/nationality/migration, disability.
GROUP_NOUN = _w(
    "woman women female females girl girls ladies lady wives housewives men lesbian lesbians "
    "gay gays homosexual homosexuals bisexual bisexuals pansexual pansexuals asexual asexuals "
    "transgender transgenders transsexual transsexuals transwoman transwomen transman transmen "
    "nonbinary lgbt lgbtq lgbtqia lgbtq+ "
    "muslim muslims moslem moslems jew jews jewish christian christians catholic catholics "
    "hindu hindus sikh sikhs buddhist buddhists mormon mormons atheist atheists islam judaism "
    "immigrant immigrants migrant migrants refugee refugees asylum foreigner foreigners aliens "
    "blacks whites negro negroes african africans asian asians arab arabs hispanic hispanics "
    "latino latinos latina latinas latinx mexican mexicans chinese indians pakistani pakistanis "
    "bangladeshi bangladeshis somali somalis somalians nigerian nigerians syrian syrians "
    "afghan afghans iraqi iraqis iranian iranians turk turks kurd kurds palestinian palestinians "
    "romanian romanians albanian albanians polish poles filipino filipinos vietnamese koreans "
    "japanese gypsy gypsies roma romani travellers aboriginal aboriginals aborigines natives "
    "disabled handicapped autistic autistics amputee amputees paraplegic paraplegics "
    "quadriplegic quadriplegics dwarfs midgets "
    "mosque mosques synagogue synagogues gurdwara gurdwaras"  # places of worship stand for their people
)
# Nationalities, ethnicities, religious sub-groups, castes, age and body-size groups: more
# signal for `hate.group_positions`, which also finds groups it has never heard of from
# how they are named ("<anything> people", "people from <anywhere>", "the <adjective>").
DEMONYM = _w(
    "afghan afghans albanian albanians algerian algerians american americans angolan angolans argentinian "
    "argentinians armenian armenians australian australians austrian austrians azerbaijani azerbaijanis "
    "bangladeshi bangladeshis belarusian belarusians belgian belgians bolivian bolivians bosnian bosnians "
    "brazilian brazilians british brits bulgarian bulgarians burmese cambodian cambodians cameroonian "
    "cameroonians canadian canadians chilean chileans colombian colombians congolese croatian croatians croat "
    "croats cuban cubans czech czechs danes dominican dominicans dutch ecuadorian ecuadorians egyptian "
    "egyptians eritrean eritreans estonian estonians ethiopian ethiopians finns french georgian georgians german "
    "germans ghanaian ghanaians greek greeks guatemalan guatemalans haitian haitians honduran hondurans hungarian "
    "hungarians icelanders indonesian indonesians irish israeli israelis italian italians jamaican jamaicans "
    "jordanian jordanians kazakh kazakhs kenyan kenyans korean kosovar kosovars kurdish lebanese libyan libyans "
    "lithuanian lithuanians malaysian malaysians moldovan moldovans mongolian mongolians moroccan moroccans nepali "
    "nepalis nepalese norwegian norwegians persian persians peruvian peruvians portuguese russian russians rwandan "
    "rwandans salvadoran salvadorans saudi saudis scottish scots serbian serbians serb serbs slovak slovaks "
    "spaniards sudanese swedes swiss taiwanese tajik tajiks tamil tamils thai thais tibetan tibetans tunisian "
    "tunisians turkish ugandan ugandans ukrainian ukrainians uzbek uzbeks venezuelan venezuelans welsh yemeni "
    "yemenis zimbabwean zimbabweans uyghur uyghurs rohingya hmong maori inuit pashtun pashtuns punjabi punjabis "
    "bengali bengalis gujarati gujaratis slav slavs anglos caucasians berber berbers bedouin bedouins zulu zulus "
    "igbo yoruba hausa tutsi tutsis hutu hutus chechen chechens tatar tatars "
    "shia shias shiite shiites sunni sunnis ahmadi ahmadis sufi sufis alawite alawites druze yazidi yazidis copt "
    "copts evangelical evangelicals protestant protestants baptist baptists methodist methodists mennonite "
    "mennonites quaker quakers amish lutheran lutherans anglican anglicans pentecostal pentecostals jain jains "
    "bahai bahais zoroastrian zoroastrians rastafarian rastafarians pagan pagans wiccan wiccans "
    "dalit dalits untouchable untouchables brahmin brahmins adivasi adivasis shudra shudras burakumin "
    "boomers millennials zoomers elderly seniors pensioners oldies fatties fatsos obese homeless intersex "
    "genderqueer schizophrenics dyslexics epileptics"
)
GROUP_PHRASES = (
    "jehovah 's witnesses",
    "jehovah witnesses",
    "latter day saints",
    "people of color",
    "people of colour",
    "first nations",
    "asylum seekers",
    "wheelchair users",
    "gen z",
    "lower caste",
    "upper caste",
)
# nouns that make "<modifier> <noun>" a group of people ("fat people", "bi folks", "old men")
PEOPLE_HEADS = _w("people persons folks folk individuals men women guys kids children families ppl peeps")
# adjectives that name a group only before a head noun ("black people", "trans lives")
GROUP_ADJ = _w(
    "black white trans queer disabled deaf blind native indigenous brown jewish asian "
    "african muslim islamic immigrant migrant refugee gay lesbian bisexual homosexual "
    "transgender nonbinary female foreign arab mexican chinese indian pakistani hispanic "
    "latino christian catholic hindu sikh buddhist autistic handicapped wheelchair "
    "mentally intellectually physically learning"
)
# group adjectives that are also colours: they name a group only before a head noun or
# an insult that is not itself followed by a noun ("black people", "white trash", but not
# "black garbage bags")
COLOUR_ADJ = _w("black white brown yellow red")
ABLE_HEADS = _w(
    "people person persons peoples folk folks men women man woman guy guys kid kids lives life "
    "community communities individuals population populations ones citizens boys girls "
    "neighbours neighbors kind culture families family immigrants migrants workers students "
    "parents children child babies baby couple couples americans brits types type race races lot crowd "
    "ppl peeps users disabled ill"
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
    "fag": _w("smoke smoked smoking cigarette cigarettes packet pack lit light puff uk ash bum roll rollie spare"),
    "faggot": _w("ate eat eating cooked cook dinner meatball meatballs gravy delicious fried pan"),
    "bitch": _w("dog dogs puppy puppies vet bark barking litter breed kennel show whelp"),
    "hoe": _w("garden tool tools weeds weed shed soil rake dig field"),
    "dyke": _w("flood flooding water built council sea river dutch embankment dam"),
    "queer": _w("feeling felt slightly rather notion strange odd somewhat"),
    "homo": _w("sapiens erectus neanderthalensis habilis genus species hominid human humans evolution"),
    "poof": _w("gone vanished disappeared magic just like and"),
    "cripple": _w("economy debt network system sanctions bug outage costs business industry country"),
}

# --- derogation --------------------------------------------------------------------
# dehumanising comparisons: vermin and pests, animals, disease, dirt and waste, monsters
DEHUM = _w(
    "scum scumbag scumbags vermin garbage trash rubbish filth dirt muck slime sludge "
    "sewage excrement waste scourge filthbag cesspool "
    "rat rats rodent rodents cockroach cockroaches roach roaches parasite parasites pest pests "
    "leech leeches flea fleas lice louse mite mites maggot maggots insect insects "
    "worm worms termite termites locust locusts slug slugs snake snakes vulture "
    "vultures hyena hyenas swarm swarms horde hordes infestation "
    "plague plagues cancer cancers tumour tumours tumor tumors virus viruses disease diseases "
    "germ germs bacteria infection infections contagion pestilence pox blight leprosy "
    "animal animals beast beasts brute brutes ape apes monkey monkeys gorilla gorillas "
    "baboon baboons chimp chimps chimpanzees primate primates pig pigs swine "
    "cattle livestock dogs mutt mutts mongrel mongrels donkey donkeys "
    "savage savages barbarian barbarians subhuman subhumans untermensch creature creatures "
    "abomination abominations degenerate degenerates deviant deviants monster monsters "
    "demon demons devil devils freak freaks mutant mutants "
    "breeder breeders invaders invader objects orc orcs"
)
# derogatory predicates: intellect, morality, cleanliness, worth, sanity, competence
DEROG_ADJ = _w(
    "stupid dumb idiotic ignorant moronic brainless mindless clueless dim dimwitted simple "
    "retarded unintelligent uneducated illiterate thick dense slow "
    "vile filthy disgusting revolting repulsive repugnant gross nasty foul rotten sickening "
    "dirty unclean unwashed smelly stinky stinking ugly hideous grotesque "
    "evil wicked immoral depraved sinful corrupt perverse perverted twisted sick diseased "
    "violent cruel vicious brutal bloodthirsty murderous aggressive savage barbaric "
    "primitive backward backwards uncivilised uncivilized uncultured inbred "
    "lazy idle shiftless useless worthless hopeless pathetic pitiful miserable wretched "
    "inferior lesser defective subhuman incompetent incapable inept unfit "
    "untrustworthy dishonest deceitful sneaky shifty sly devious manipulative treacherous "
    "greedy parasitic thieving criminal dangerous "
    "crazy insane deranged unhinged delusional psychotic demented hysterical irrational "
    "weak feeble spineless cowardly despicable contemptible loathsome abhorrent detestable "
    "odious obnoxious insufferable unbearable intolerable annoying irritating arrogant "
    "entitled ungrateful shitty crappy horrible awful terrible abnormal unnatural freakish "
    "unwanted undesirable unwelcome overemotional brainwashed soulless"
)
# verbs that derogate their subject ("immigrants steal", "they breed like rats")
DEROG_VERB = _w(
    "stink smell breed infest invade ruin destroy pollute contaminate infect steal scrounge leech mooch molest cheat "
    "stank stunk stole stolen bred"
)
ABUSE_NOUN = _w(
    "idiot idiots moron morons imbecile imbeciles fool fools criminal criminals thug thugs "
    "terrorist terrorists rapist rapists paedophile paedophiles pedophile pedophiles thief "
    "thieves liar liars freak freaks loser losers disgrace burden burdens threat threats "
    "menace menaces prick pricks dickhead dickheads dumbass dumbasses motherfucker "
    "motherfuckers asshole assholes arsehole arseholes bastard bastards twat twats wanker "
    "wankers shithead shitheads jackass worst dregs cretin cretins halfwit halfwits "
    "dimwit dimwits simpleton simpletons dunce dunces lunatic lunatics psycho psychos "
    "maniac maniacs nutjob nutjobs nutcase nutcases weirdo weirdos pervert perverts "
    "predator predators groomer groomers molester molesters paedo paedos pedo pedos "
    "murderer murderers killer killers crook crooks scrounger scroungers freeloader "
    "freeloaders sponger spongers lowlife lowlifes failure failures embarrassment "
    "embarrassments joke jokes drain liability liabilities nuisance danger dangers enemy "
    "enemies extremist extremists fanatic fanatics zealot zealots cheat cheats fraud frauds "
    "leeches lowlives heretic heretics scammer scammers slob slobs"
)
EMOTE_OBJ = _w("hate despise detest loathe abhor resent dislike abominate pissed")  # the target is the object
EMOTE_SUBJ = _w(
    "disgust sicken repulse revolt infuriate enrage nauseate appal appall furious livid annoy irritate"
)  # the target is the subject ("X disgust me") or follows "by"/"with" ("disgusted by X")
EMOTE_NOUN = _w(
    "hatred disdain contempt disgust loathing revulsion scorn rage repugnance antipathy animosity abhorrence odium"
)
THREAT_VERB = _w(
    "kill murder shoot hang lynch stab burn drown gas exterminate eradicate eliminate "
    "slaughter execute butcher massacre behead decapitate torture hurt harm beat punch bomb "
    "nuke rape strangle choke slit annihilate purge cleanse sterilise sterilize castrate "
    "poison starve die suffer snap genocide mutilate whip bash attack maim cull euthanise "
    "euthanize neuter crush smash slap batter assault injure wound hunt bury rot "
    "perish gun abort"
)
# exclusion: removing a group from a place or from public life
EXCLUDE_VERB = _w(
    "ban bar deport expel exclude remove evict segregate imprison jail lock intern isolate "
    "banish exile quarantine sterilise sterilize"
)
# passive verbs that make a group the victim ("Muslims were attacked"): evidence next to
# them describes what was done to the group, not what the speaker thinks of it
VICTIM_VERB = _w(
    "attacked assaulted killed murdered harassed abused bullied insulted mistreated treated "
    "persecuted targeted discriminated threatened hurt beaten shot stabbed slaughtered "
    "oppressed excluded marginalised marginalized dehumanised dehumanized vilified "
    "demonised demonized called labelled labeled described portrayed stereotyped mocked"
)
# positive words: negated and aimed at a group they are hateful ("X do not matter")
POSITIVE = _w(
    "intelligent smart clever bright capable competent worth worthy valuable matter important "
    "equal human humans respect trust compassion sympathy welcome belong live exist protect "
    "protecting safe deserve rights place space room decent good useful productive honest "
    "trustworthy civilised civilized normal natural legitimate patience tolerance dignity"
)

# --- framing -----------------------------------------------------------------------
NEGATOR = _w("not never no nobody none neither nor")
REPORT_VERB = _w(
    "say says said saying call calls called calling tell telling told write writes writing "
    "wrote post posting tweet tweeting claim claims claiming threaten threatens threatening "
    "statement statements believe think thinking shout shouting suggest suggesting imply "
    "implying insist insisting argue arguing pretend pretending assume assuming hear hearing "
    "heard compare compares comparing compared lie lies myth myths idea notion stereotype "
    "stereotypes trope tropes rumour rumours rumor rumors assumption"
)
COUNTER_MARKER = _w(
    "bigot bigots bigoted bigotry racist racism sexist sexism homophobic homophobia "
    "homophobes transphobic transphobia islamophobic islamophobia ableist ableism xenophobic "
    "misogynist misogynistic misogyny hateful hurtful harmful offensive unacceptable wrong "
    "misguided shameful banned ban jail prison arrested reported report condemn dehumanising "
    "dehumanizing slur slurs horrible deeply disrespectful awful appalling bigoted prejudice "
    "prejudiced discrimination discriminatory hate-speech myth myths stereotype stereotypes "
    "lie lies nonsense ignorant cruel disgraceful outrageous inexcusable vile"
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
    "porn porno pornography blowjob blowjobs handjob handjobs cumming cumshot orgasm "
    "orgasms masturbate masturbating masturbation dildo dildos clit clitoris horny "
    "nudes boner cunnilingus fellatio gangbang hentai milf threesome creampie "
    "rimjob deepthroat bukkake tits titties boobs jizz sext sexting"
)
SEXUAL_AMBIG = _w(
    "sex sexy naked nude dick dicks cock cocks pussy balls ass penis vagina breasts nipples suck strip stripping moan "
    "cum anal erection squirt jerk jerking"  # "cum laude", "anal retentive", "what a jerk"
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


def typo_variants(words: Iterable[str], min_len: int = 4, substitute: bool = False) -> dict[str, str]:
    """One deleted letter or two swapped neighbours (or, with `substitute`, one letter
    replaced by another) → the intended word. Where two words give the same variant, the
    first in `words` wins: pass a sorted sequence for a result independent of hash seeds."""
    out: dict[str, str] = {}
    for w in words:
        if len(w) < min_len or not w.isalpha():
            continue
        for i in range(len(w)):
            if substitute:
                for c in "abcdefghijklmnopqrstuvwxyz":
                    out.setdefault(w[:i] + c + w[i + 1 :], w)
                continue
            out.setdefault(w[:i] + w[i + 1 :], w)
            if i + 1 < len(w) and w[i] != w[i + 1]:
                out.setdefault(w[:i] + w[i + 1] + w[i] + w[i + 2 :], w)
    for w in words:
        out.pop(w, None)
    return out
