"""Default deployment names in the web dashboard's style: ``adjective_adjective_noun``."""

from __future__ import annotations

import random

__all__ = ["random_deployment_name"]

_ADJECTIVES = (
    "agile", "amber", "bold", "brave", "bright", "calm", "clever", "cosmic", "crisp", "daring",
    "eager", "electric", "fast", "fierce", "gentle", "golden", "happy", "humble", "keen", "lively",
    "lucky", "mellow", "mighty", "nimble", "noble", "polar", "proud", "quick", "quiet", "rapid",
    "robust", "sharp", "shiny", "silent", "smooth", "snappy", "solid", "steady", "sunny", "swift",
    "tidy", "vivid", "warm", "wise", "witty", "zesty",
)  # fmt: skip
_NOUNS = (
    "badger", "bison", "cloud", "comet", "condor", "coral", "falcon", "fern", "fox", "galaxy",
    "glacier", "harbor", "heron", "koala", "lynx", "maple", "meadow", "meteor", "nebula", "otter",
    "owl", "panda", "pixel", "quasar", "raven", "reef", "river", "rocket", "sparrow", "spruce",
    "summit", "tiger", "tulip", "walrus", "whale", "willow", "wolf", "yak",
)  # fmt: skip


def random_deployment_name(rng: random.Random | None = None) -> str:
    """e.g. ``robust_cloud_panda``: two different adjectives and a noun."""
    chooser = rng or random.SystemRandom()
    first, second = chooser.sample(_ADJECTIVES, 2)
    return f"{first}_{second}_{chooser.choice(_NOUNS)}"
