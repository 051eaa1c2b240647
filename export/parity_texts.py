"""The texts the parity gate encodes: real English queries and documents, plus the edge cases.

Kept as data: the gate's metrics are only as good as these texts are varied.
"""
from __future__ import annotations

QUERIES = [
    "how do vaccines train the immune system",
    "what causes the northern lights",
    "best way to store fresh basil",
    "when did the Berlin Wall fall",
    "how does a heat pump work in winter",
    "symptoms of iron deficiency",
    "why is the sky blue",
    "how to reduce latency of a neural network on a phone",
    "what is the capital of Australia",
    "how do bees communicate the location of flowers",
    "difference between a virus and a bacterium",
    "who wrote the novel Frankenstein",
    "how does compound interest grow savings",
    "what is late interaction retrieval",
]

EDGE_QUERIES = ["", "🙂🚀 東京は日本の首都です。", "?!...;:", "WHAT IS THE SPEED OF LIGHT?"]

DOCUMENTS = [
    "Vaccines expose the immune system to a harmless piece or weakened form of a pathogen, so that it builds antibodies and memory cells without the person falling ill.",
    "After vaccination, memory B cells and T cells persist for years and respond quickly when the real pathogen appears.",
    "Auroras occur when charged particles from the solar wind are guided by Earth's magnetic field into the upper atmosphere, where they excite oxygen and nitrogen atoms.",
    "The green colour of most auroras comes from oxygen atoms emitting light about one hundred kilometres above the ground.",
    "Basil keeps best at room temperature with its stems in a glass of water, loosely covered with a plastic bag; the fridge blackens its leaves.",
    "To store herbs such as parsley and coriander, wrap them in a damp paper towel and keep them in the vegetable drawer.",
    "The Berlin Wall fell on the night of 9 November 1989, when East German authorities opened the border crossings and crowds streamed through.",
    "Germany was formally reunified on 3 October 1990, less than a year after the opening of the Berlin Wall.",
    "A heat pump moves heat rather than generating it: in winter it extracts warmth from the outdoor air or ground and releases it indoors using a refrigerant cycle.",
    "Air-source heat pumps lose efficiency as outdoor temperatures drop, but modern units still deliver two to three units of heat per unit of electricity near freezing.",
    "Iron deficiency often causes fatigue, pale skin, shortness of breath, cold hands and brittle nails, because the blood carries less oxygen.",
    "Good dietary sources of iron include lentils, spinach, red meat and fortified cereals; vitamin C improves absorption.",
    "The sky looks blue because air molecules scatter short blue wavelengths of sunlight much more strongly than red ones, an effect called Rayleigh scattering.",
    "Sunsets appear red and orange because sunlight travels through more atmosphere, which scatters away most of the blue light.",
    "Quantizing a model to eight-bit integers shrinks its weights four times and often speeds up inference on mobile processors.",
    "On phones, keeping sequence lengths short and using the vendor's neural accelerator are the most effective ways to cut inference latency.",
    "Canberra is the capital city of Australia; it was purpose-built as a compromise between Sydney and Melbourne.",
    "Sydney is the largest city in Australia and is known for its harbour, opera house and beaches.",
    "Honey bees perform a waggle dance whose angle and duration tell other foragers the direction and distance of a food source.",
    "Bumblebees leave scent marks on flowers they have already visited, helping others avoid empty blossoms.",
    "Bacteria are single-celled living organisms that can reproduce on their own, while viruses need to infect a host cell to replicate.",
    "Antibiotics kill bacteria or stop their growth but have no effect on viruses such as influenza or the common cold.",
    "Mary Shelley wrote Frankenstein; or, The Modern Prometheus, first published anonymously in London in 1818.",
    "Bram Stoker's Dracula, published in 1897, helped define the modern vampire story.",
    "Compound interest adds each period's interest to the principal, so later interest is earned on a growing balance and savings grow exponentially.",
    "Simple interest is paid only on the original principal, which makes it grow linearly over time.",
    "Late interaction models such as ColBERT encode queries and documents into one vector per token and score them with MaxSim, summing each query token's best match.",
    "Dense retrieval compresses a whole passage into a single vector, which is fast to search but can lose fine-grained term matches.",
    "The speed of light in a vacuum is exactly 299,792,458 metres per second, a value fixed by the definition of the metre.",
    "Mount Everest, at 8,849 metres, is the highest mountain above sea level, on the border between Nepal and China.",
    "The Pacific Ocean is the largest and deepest of Earth's oceans, covering about a third of the planet's surface.",
    "Photosynthesis converts carbon dioxide and water into glucose and oxygen using the energy of sunlight captured by chlorophyll.",
    "The Great Wall of China was built over many centuries, with most of the surviving masonry dating from the Ming dynasty.",
    "Coffee beans are the roasted seeds of the Coffea plant; arabica and robusta are the two species grown most widely.",
    "A black hole is a region of spacetime where gravity is so strong that nothing, not even light, can escape once past the event horizon.",
    "The human heart has four chambers: two atria that receive blood and two ventricles that pump it out to the lungs and body.",
    "Python is a high-level programming language known for readable syntax and a large standard library.",
    "The French Revolution began in 1789 and led to the end of absolute monarchy in France.",
    "Tides are caused mainly by the gravitational pull of the Moon, with a smaller contribution from the Sun.",
    "Sourdough bread rises thanks to a culture of wild yeast and lactic acid bacteria, which also gives it a tangy flavour.",
    "Marathon runners typically train for months, gradually increasing their weekly mileage and long runs.",
    "Electric cars use lithium-ion batteries, which store energy chemically and release it to drive an electric motor.",
    "The Amazon rainforest produces a large share of the world's oxygen and hosts an enormous variety of species.",
    "Chess is a two-player strategy game played on an eight by eight board; checkmate ends the game.",
    "Volcanoes form where molten rock, called magma, rises through cracks in the Earth's crust and erupts at the surface.",
    "Shakespeare wrote about thirty-seven plays, including Hamlet, Macbeth and Romeo and Juliet.",
    "Rain forms when water vapour condenses on tiny particles in clouds and the droplets grow heavy enough to fall.",
    "A transformer neural network uses self-attention to weigh every token against every other token in a sequence.",
    "Sliding-window attention limits each token to a local neighbourhood, which keeps the cost linear in sequence length.",
    "Olive oil is pressed from olives and is a central ingredient of Mediterranean cooking.",
    "The Moon has no atmosphere to speak of, so its sky is black even during the day.",
    "Antarctica is the coldest, driest and windiest continent, and it holds most of the world's fresh water as ice.",
    "Recycling aluminium saves about ninety-five percent of the energy needed to make new metal from ore.",
    "Jazz originated in the African-American communities of New Orleans in the late nineteenth and early twentieth centuries.",
    "The mitochondria are the organelles that produce most of a cell's chemical energy in the form of ATP.",
]

EDGE_DOCUMENTS = ["", "🙂🚀 東京は日本の首都です。富士山は日本で一番高い山です。", "!!! ... ??? --- (((;)))", "Hello, world! (Punctuation: kept? dropped.)"]


# What happens to a text before the tokenizer (sentence-transformers strips it with str.strip(), then
# lowercases it with str.lower()) and the tokenizers' own edges. Each is a query and a document too.
TEXT_EDGES = [
    "   leading and trailing spaces   ",
    " \t\n\r\u3000 ",  # whitespace only
    "\u00a0no-break space before, em space after\u2003",
    "\n\ndef encode(text):\n    return text.strip()\n",  # a code snippet that starts with a newline
    "\u2002\u2009\u202f\u205f\u1680thin and narrow spaces\u2028\u2029\u0085",
    "\x1c\x1d\x1e\x1finformation separators, whitespace to str.strip\x1f",
    "tabs\tand\r\nCRLF\x0bline\x0cbreaks inside",
    "zero\u200bwidth\u200cjoiners\u200d and a BOM\ufeff",  # not whitespace to str.strip
    "\ufeff\u200bzero-width characters first",
    "control \x00\x07\x1b[31m characters\x7f",
    "cafe\u0301 na\u0308ive e\u0301le\u0300ve",  # NFD-decomposed accents
    "\u0130STANBUL \u039f\u0394\u03a5\u03a3\u03a3\u0395\u03a5\u03a3 STRASSE \u1e9e KELVIN \u212a OHM \u2126 \u01c5",  # lowercase changes length or form
    "pneumonoultramicroscopicsilicovolcanoconiosis" * 5 + "!",  # one word of 226 characters
    "[CLS] [SEP] [MASK] [PAD] [UNK] [Q] [D] [unused0] <s> </s> literal special tokens",
    "family \U0001f469\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 flag \U0001f3f3\ufe0f\u200d\U0001f308 wave \U0001f44b\U0001f3fd",
]


def long_documents() -> list[str]:
    """Documents past the 128-token local window, and one past any document_length up to 2048."""
    medium = " ".join(DOCUMENTS[0:6])  # ~170 words: past 128 tokens
    long = " ".join(DOCUMENTS * 3)  # ~5000 words: past document_length, so it is truncated
    return [medium, " ".join(DOCUMENTS[20:30]), long]


# Queries of every length and kind beyond the plain questions: keywords, one word, past query_length,
# numbers and code, other languages and scripts, typos and shouting.
MORE_QUERIES = [
    "basil",
    "aurora borealis colour",
    "iron rich foods vegetarian",
    "canberra",
    "ColBERT MaxSim",
    "1989",
    "how many metres per second is the speed of light in a vacuum exactly",
    "I am planning a trip to see the northern lights next winter and I would like to know which months and "
    "which countries give the best chance of a clear sky and strong solar activity, and what to pack",
    "what are the main differences between simple interest and compound interest over a thirty year mortgage "
    "with monthly payments and an interest rate that changes every five years",
    "def encode(text): return text.strip()",
    "SELECT * FROM documents WHERE score > 0.5",
    "python list comprehension vs map",
    "¿por qué el cielo es azul?",
    "wie funktioniert eine Wärmepumpe im Winter",
    "qui a écrit Frankenstein",
    "東京の人口は何人ですか",
    "北京是中国的首都吗",
    "как пчёлы находят цветы",
    "ما هي عاصمة أستراليا",
    "hwo do vacines wrok",
    "WHO WROTE DRACULA AND WHEN",
    "e = mc^2 meaning",
    "best 🍝 recipe",
    "tides moon gravity",
    "is it safe to store basil in the fridge?",
    "sliding window attention linear cost",
]

MORE_DOCUMENTS = [
    "Canberra.",
    "Basil: keep at room temperature.",
    "Error 404: page not found.",
    "The Moon causes most of the tides.",
    "def encode(text: str) -> list[int]:\n    ids = tokenizer(text)\n    return ids[:512]\n",
    "SELECT title, score FROM documents WHERE score > 0.5 ORDER BY score DESC LIMIT 10;",
    "| city | country | population |\n|---|---|---|\n| Canberra | Australia | 460,000 |\n| Sydney | Australia | 5,300,000 |",
    "Shopping list: 2 cups flour, 1 tsp baking soda, 3 ripe bananas, 100 g butter, a pinch of salt.",
    "El cielo es azul porque las moléculas del aire dispersan la luz azul del sol mucho más que la roja.",
    "Eine Wärmepumpe entzieht der Außenluft im Winter Wärme und gibt sie mit Hilfe eines Kältemittels im Haus ab.",
    "Mary Shelley a écrit Frankenstein, publié pour la première fois à Londres en 1818.",
    "東京は日本の首都であり、約千四百万人が暮らす世界有数の大都市です。",
    "北京是中华人民共和国的首都，也是全国的政治和文化中心。",
    "Пчёлы сообщают друг другу о найденных цветах с помощью виляющего танца.",
    "كانبرا هي عاصمة أستراليا، وقد بنيت خصيصا لتكون حلا وسطا بين سيدني وملبورن.",
    "E = mc² says that mass and energy are equivalent: a small mass corresponds to a huge amount of energy.",
    "In 2023 the average price rose 4.7% to $1,284.50 per unit, while volume fell from 12,400 to 11,950 units.",
    "Q: Can I freeze basil? A: Yes, blanch the leaves first or freeze them chopped in olive oil.",
    "WARNING: DO NOT OPEN THE CASE. NO USER-SERVICEABLE PARTS INSIDE. REFER SERVICING TO QUALIFIED PERSONNEL.",
    "Tip 🍝: salt the pasta water generously, and save a cup of it to loosen the sauce at the end.",
    "Frankenstein's creature is never named in the novel; he calls himself the Adam of his labours.",
    "Heat pumps, vaccines, auroras and bees have nothing in common except that this sentence mentions them all.",
]


def composed_documents() -> list[str]:
    """Documents of 60 to 400 words, each joining sentences of one topic pair: lengths between the short
    ones and the truncated one, where most real passages sit."""
    return [" ".join(DOCUMENTS[start:start + n]) for start, n in ((2, 3), (8, 4), (14, 6), (30, 8), (40, 12), (10, 16))]


def documents() -> list[str]:
    return DOCUMENTS + EDGE_DOCUMENTS + TEXT_EDGES + long_documents() + MORE_DOCUMENTS + composed_documents()


def queries() -> list[str]:
    return QUERIES + EDGE_QUERIES + TEXT_EDGES + MORE_QUERIES


def golden_queries() -> list[str]:
    """The gate's texts an app's self-test re-encodes: plain ones, emoji and CJK, and every text edge."""
    return [QUERIES[0], QUERIES[8], EDGE_QUERIES[1], *TEXT_EDGES]


def golden_documents() -> list[str]:
    """A plain document, punctuation only, one past the 128-token window, and every text edge."""
    return [DOCUMENTS[0], EDGE_DOCUMENTS[2], long_documents()[0], *TEXT_EDGES]
