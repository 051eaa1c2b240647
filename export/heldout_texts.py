"""Texts the parity gate never sees: `verify --full --held-out` measures a bundle on them, to show that what
the gate passed holds on other texts. Kept apart from parity_texts and calibration_texts on purpose (the
fallback tunes on the gate's texts, GPTQ on the calibration ones), with the same spread of kinds: short and
long queries, documents of every length, other languages and scripts, code, numbers and the text edges.
"""
from __future__ import annotations

QUERIES = [
    "how do glaciers shape valleys",
    "symptoms of dehydration in children",
    "what is the tallest building in the world",
    "how does a refrigerator keep food cold",
    "who painted the Mona Lisa",
    "why do cats purr",
    "how to speed up a slow laptop",
    "what is the boiling point of water at high altitude",
    "difference between weather and climate",
    "how are rainbows formed",
    "violin",
    "GDP",
    "quantum entanglement explained simply",
    "cheap flights lisbon october",
    "I want to start running in the mornings before work but my knees hurt after a few kilometres; what "
    "shoes, distances and stretches would a physiotherapist recommend for a beginner in their forties",
    "git rebase vs merge",
    "for i in range(10): print(i)",
    "pourquoi les feuilles changent de couleur en automne",
    "was ist die Hauptstadt von Kanada",
    "¿cuántos huesos tiene el cuerpo humano?",
    "大阪で有名な食べ物は何ですか",
    "长城有多长",
    "почему небо голубое",
    "πώς λειτουργεί ένας ανεμόμυλος",
    "wat is de beste tijd om tulpen te planten",
    "refridgerator temprature setting",
    "HOW TALL IS MOUNT KILIMANJARO",
    "🌈 why",
    "",
    "   ",
    "?",
    "e\u0301clair recipe",
]

DOCUMENTS = [
    "Glaciers erode the valleys they flow through, plucking rock from the bed and grinding it into fine flour.",
    "Children who are dehydrated may have a dry mouth, few wet nappies, sunken eyes and unusual sleepiness.",
    "The Burj Khalifa in Dubai, completed in 2010, rises 828 metres and has been the tallest building since.",
    "A refrigerator pumps a refrigerant through coils: it evaporates inside, absorbing heat, and condenses outside.",
    "Leonardo da Vinci painted the Mona Lisa in the early sixteenth century; it hangs in the Louvre in Paris.",
    "Cats purr by rapidly twitching the muscles of the larynx, both when content and sometimes when hurt.",
    "Closing programs that start with the computer and freeing disk space often make an old laptop feel faster.",
    "At high altitude the air pressure is lower, so water boils below one hundred degrees Celsius.",
    "Weather is the state of the atmosphere on a given day; climate is its average over decades.",
    "A rainbow appears when sunlight is refracted, reflected and dispersed inside raindrops.",
    "The violin is the smallest and highest-pitched member of the string family.",
    "Gross domestic product measures the market value of all final goods and services produced in a year.",
    "Entangled particles share one quantum state, so measuring one tells you about the other instantly.",
    "Budget airlines fly from London to Lisbon for under fifty euros in October if you book early.",
    "Beginners should increase their weekly running distance by no more than ten percent and rest between runs.",
    "git rebase rewrites your commits on top of another branch, while git merge records a merge commit.",
    "for i in range(10):\n    print(i)  # prints 0 to 9\n",
    "Les feuilles changent de couleur en automne quand la chlorophylle se dégrade et révèle d'autres pigments.",
    "Ottawa ist die Hauptstadt von Kanada und liegt in der Provinz Ontario.",
    "El cuerpo humano adulto tiene 206 huesos, aunque un recién nacido tiene alrededor de 300.",
    "大阪はたこ焼きやお好み焼きなどの粉もの料理で有名です。",
    "长城全长约两万一千公里，横跨中国北方多个省份。",
    "Небо кажется голубым из-за рассеяния солнечного света молекулами воздуха.",
    "Ένας ανεμόμυλος μετατρέπει την κινητική ενέργεια του ανέμου σε μηχανική ενέργεια.",
    "Tulpenbollen plant je het best in de herfst, voordat de grond bevriest.",
    "Set your fridge between three and five degrees Celsius and your freezer at minus eighteen.",
    "Mount Kilimanjaro in Tanzania is 5,895 metres tall, the highest mountain in Africa.",
    "Version 2.4.1 (2024-03-18): fixed a crash on start-up; memory use down 12%; 3 new languages.",
    "| planet | moons |\n|---|---|\n| Mars | 2 |\n| Jupiter | 95 |\n| Saturn | 146 |",
    "An éclair is an oblong choux pastry filled with cream and topped with chocolate icing.",
    "🌈🌧️☀️",
    "",
    "\t\n",
    "OK.",
    "caf\u00e9 vs cafe\u0301 vs CAFÉ",
    "\u200b\u200b\u200bhidden zero-width spaces\u200b",
]

TOPICS = [
    "The Amazon river carries more water than any other river, discharging about a fifth of all the fresh water "
    "that flows into the oceans. Its basin spans nine countries and holds the largest rainforest on Earth. "
    "During the wet season the river can swell to forty kilometres wide, flooding vast areas of forest.",
    "Early computers filled whole rooms and used vacuum tubes that failed often. The transistor, invented in "
    "1947, replaced them and made machines smaller, cheaper and far more reliable. Integrated circuits later put "
    "thousands and then billions of transistors on a single chip.",
    "Bread baking starts with mixing flour, water, salt and yeast into a dough. Kneading develops gluten, which "
    "traps the gas the yeast produces. After proofing, the loaf is baked until its crust browns and the inside "
    "reaches about ninety-five degrees.",
    "The Roman Empire at its height stretched from Britain to Mesopotamia. Roads, aqueducts and a common law held "
    "it together, and Latin spread across the west. The western half fell in 476, while the eastern half "
    "lasted nearly a thousand years more.",
]


def documents() -> list[str]:
    """Short and medium documents, then ones past 128 tokens and past every document_length."""
    return DOCUMENTS + TOPICS + [" ".join(TOPICS), " ".join(TOPICS * 4), " ".join(DOCUMENTS * 3)]


def queries() -> list[str]:
    return list(QUERIES)
