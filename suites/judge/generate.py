"""Write the judge suite's data: questions, three systems' answers, and people's grades.

The 40 questions and their reference answers are general-knowledge facts written for evalkit.
The systems are simulated with a seeded generator, so the files are reproducible
(``python suites/judge/generate.py``):

- ``careful``: a short sentence holding the right answer for 36 questions, a wrong one for 4;
- ``sloppy``: right for about half, often padded with hedges and filler, one empty answer and
  one failed call (its ``error`` field; a failed call is counted, never judged);
- ``baseline``: the reference answer alone, the opponent of the pairwise task.

``people.jsonl`` holds 80 answers (both systems' answer to each question) with a person's
correctness grade (``human``, 1-5). The person grades by meaning, not by word overlap, and is
not always consistent (a seeded slip of one point on some rows), so the rule judge agrees with
them well but not perfectly, as a real judge would.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

#: (question, reference answer, a wrong answer).
FACTS = [
    ("What is the capital of France?", "Paris", "Lyon"),
    ("How many legs does a spider have?", "eight", "six"),
    ("Which planet is known as the red planet?", "Mars", "Jupiter"),
    ("What gas do plants absorb from the air?", "carbon dioxide", "oxygen"),
    ("Who wrote Romeo and Juliet?", "William Shakespeare", "Charles Dickens"),
    ("What is the largest ocean on Earth?", "the Pacific Ocean", "the Atlantic Ocean"),
    ("How many days are in a leap year?", "366", "365"),
    ("What is the chemical symbol for gold?", "Au", "Ag"),
    ("Which metal is liquid at room temperature?", "mercury", "lead"),
    ("What is the boiling point of water at sea level in Celsius?", "100 degrees", "90 degrees"),
    ("What is the capital of Japan?", "Tokyo", "Kyoto"),
    ("How many continents are there?", "seven", "five"),
    ("Which organ pumps blood through the body?", "the heart", "the liver"),
    ("What is the longest river in South America?", "the Amazon", "the Orinoco"),
    ("Who painted the Mona Lisa?", "Leonardo da Vinci", "Michelangelo"),
    ("What is the square root of 81?", "9", "8"),
    ("Which language has the most native speakers?", "Mandarin Chinese", "English"),
    ("What is the hardest natural material?", "diamond", "granite"),
    ("How many sides does a hexagon have?", "six", "eight"),
    ("What is the capital of Canada?", "Ottawa", "Toronto"),
    ("Which animal is the largest mammal?", "the blue whale", "the elephant"),
    ("What is the freezing point of water in Fahrenheit?", "32 degrees", "0 degrees"),
    ("Who developed the theory of relativity?", "Albert Einstein", "Isaac Newton"),
    ("What is the smallest prime number?", "2", "1"),
    ("Which country gifted the Statue of Liberty to the United States?", "France", "England"),
    ("What is the main language of Brazil?", "Portuguese", "Spanish"),
    ("How many minutes are in an hour?", "60", "100"),
    ("What is the capital of Australia?", "Canberra", "Sydney"),
    ("Which element has the atomic number 1?", "hydrogen", "helium"),
    ("What is the tallest mountain on Earth?", "Mount Everest", "K2"),
    ("In which year did the Second World War end?", "1945", "1939"),
    ("What is the currency of Japan?", "the yen", "the won"),
    ("Which bird is the symbol of peace?", "the dove", "the eagle"),
    ("How many strings does a standard violin have?", "four", "six"),
    ("What is the capital of Italy?", "Rome", "Milan"),
    ("Which planet is closest to the Sun?", "Mercury", "Venus"),
    ("What do bees make?", "honey", "wax paper"),
    ("What is the largest desert in Africa?", "the Sahara", "the Kalahari"),
    ("How many players are on a football team on the field?", "eleven", "nine"),
    ("What is the primary ingredient of guacamole?", "avocado", "tomato"),
]

HEDGES = ("I think", "Maybe", "Probably", "If I remember correctly,", "Not sure, but")
FILLER = (
    "which is a question many people ask",
    "as far as I know from what I have read over the years",
    "although sources sometimes differ on details like this",
    "and that is the usual answer you will find",
)


def _sloppy(rng: random.Random, answer: str) -> tuple[str, bool]:
    """A hedged answer, padded with 0-2 filler clauses; and whether it was padded."""
    filler = rng.sample(FILLER, rng.randint(0, 2))
    return ", ".join([f"{rng.choice(HEDGES)} it is {answer}", *filler]) + ".", bool(filler)


def _human(rng: random.Random, right: bool, hedged: bool, padded: bool) -> int:
    """A person's correctness grade: by meaning, with a seeded slip of one point."""
    grade = (4 if hedged else 5) if right else 1
    if right and padded:
        grade -= 1
    if rng.random() < 0.2:
        grade += rng.choice((-1, 1))
    return max(1, min(5, grade))


def main() -> None:
    rng = random.Random(2026)
    questions, careful, sloppy, baseline, people = [], [], [], [], []
    wrong_careful = set(rng.sample(range(len(FACTS)), 4))
    for i, (question, ref, wrong) in enumerate(FACTS):
        qid = f"q{i + 1:02d}"
        questions.append({"id": qid, "question": question, "answer": ref})
        baseline.append({"id": qid, "prediction": ref})
        ok = i not in wrong_careful
        c_text = f"The answer is {ref if ok else wrong}."
        careful.append({"id": qid, "prediction": c_text})
        people.append(
            {"id": f"careful-{qid}", "question": question, "answer": ref,
             "prediction": c_text, "human": _human(rng, ok, False, False)}
        )  # fmt: skip
        s_row: dict[str, Any] = {"id": qid}
        if i == 17:
            s_row.update(prediction="", error="HTTP 503: upstream unavailable")
        elif i == 29:
            s_row.update(prediction="")
        else:
            right = rng.random() < 0.55
            s_row["prediction"], padded = _sloppy(rng, ref if right else wrong)
            people.append(
                {"id": f"sloppy-{qid}", "question": question, "answer": ref,
                 "prediction": s_row["prediction"], "human": _human(rng, right, True, padded)}
            )  # fmt: skip
        sloppy.append(s_row)
    for name, rows in (
        ("questions", questions),
        ("careful", careful),
        ("sloppy", sloppy),
        ("baseline", baseline),
        ("people", people),
    ):
        with (HERE / f"{name}.jsonl").open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
