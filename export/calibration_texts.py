"""Calibration texts for int8 weight quantization (GPTQ). Kept apart from parity_texts on purpose:
the gate must measure the quantized model on texts it was not tuned on."""
from __future__ import annotations

CALIBRATION_TEXTS = [
    "The printing press, developed in Europe in the fifteenth century, made books cheaper and spread literacy across the continent.",
    "Glaciers carve U-shaped valleys as they slowly move downhill, grinding rock with the debris frozen into their base.",
    "A healthy breakfast might include oats, yoghurt, fresh fruit and a handful of nuts.",
    "The stock market fell sharply on Monday after the central bank unexpectedly raised interest rates.",
    "To reset your password, open the settings page, choose security, and follow the link sent to your email address.",
    "Penguins live almost exclusively in the Southern Hemisphere, and only a few species breed on the Antarctic continent.",
    "The violin has four strings tuned in perfect fifths and is played with a bow strung with horsehair.",
    "Our team shipped the new search feature last week; latency dropped by a third and click-through rose.",
    "In baseball, a pitcher tries to throw the ball past the batter, who attempts to hit it into fair territory.",
    "Thunder is the sound produced by the rapid expansion of air heated by a lightning strike.",
    "The recipe calls for two cups of flour, one teaspoon of baking soda, a pinch of salt and three ripe bananas.",
    "Solar panels convert sunlight directly into electricity through the photovoltaic effect in semiconductor cells.",
    "The museum's new exhibition traces the history of ceramics from ancient China to modern studio pottery.",
    "Regular exercise lowers blood pressure, improves sleep and reduces the risk of type 2 diabetes.",
    "Git records the history of a project as a chain of commits, each pointing to its parent.",
    "The Nile flows northward through eleven countries before emptying into the Mediterranean Sea.",
    "Customers can return unused items within thirty days for a full refund, provided they keep the receipt.",
    "Owls hunt at night using exceptional hearing; some species can locate prey by sound alone.",
    "The committee will meet on Thursday at 10:00 to review the budget proposal for next year.",
    "Earthquakes occur when stress built up along a fault is suddenly released as seismic waves.",
    "Where can I find a cheap flight from Lisbon to Prague in March?",
    "what are the side effects of ibuprofen",
    "best hiking trails near Lake Tahoe for beginners",
    "how many moons does Jupiter have",
    "python read csv file skip header",
    "why do cats purr when they are happy",
    "symptoms of dehydration in older adults",
    "Renaissance painters such as Leonardo and Raphael studied anatomy and perspective to make their figures lifelike. "
    "Their workshops trained apprentices who ground pigments, prepared panels and eventually painted parts of large commissions. "
    "Patrons, often wealthy merchant families or the Church, set the subject and sometimes even the colours to be used, "
    "and contracts specified how much costly ultramarine blue could appear in the final work.",
    "Modern databases keep data safe through write-ahead logging: every change is first appended to a log on disk, "
    "so that after a crash the system can replay or undo incomplete transactions. Indexes such as B-trees let queries "
    "find rows without scanning whole tables, while the query planner estimates the cost of each possible strategy "
    "and picks the cheapest one according to its statistics about the data.",
    "Coral reefs are built by colonies of tiny animals that secrete calcium carbonate skeletons. They shelter about a "
    "quarter of all marine species despite covering a tiny fraction of the ocean floor. Rising sea temperatures cause "
    "corals to expel the algae living in their tissues, a process known as bleaching, which can kill a reef if it lasts "
    "too long. Pollution and overfishing add further pressure on these fragile ecosystems.",
]
