"""The real-names splits screened alone and in a crowded registry (N synthetic names from
``stylegate bench names`` registered beside the real artists): does a larger registry add
false positives, or take hits away?  ``python bench/realnames_crowded.py 20000``"""
import sys

from stylegate.bench import realnames as rn
from stylegate.bench.names import synthetic_names
from stylegate.bench.redteam import build_matcher, lexical_tallies

n = int(sys.argv[1])
extra = synthetic_names(n, seed=1)
print(extra[:8])
for split in ("dev2", "fresh3", "fresh4"):
    arts = rn.split_artists(split)
    for label, ex in (("alone", ()), (f"+{n}", extra)):
        m, names = build_matcher(arts, ex)
        t = lexical_tallies(rn.load_prompts(None, split), m, names)
        fp = sum(x.detected for k, x in t.items() if k.startswith("benign"))
        ben = sum(x.total for k, x in t.items() if k.startswith("benign"))
        att = sum(x.detected for k, x in t.items() if not k.startswith("benign"))
        tot = sum(x.total for k, x in t.items() if not k.startswith("benign"))
        extra_hits = sum(x.extra for x in t.values())
        print(split, label, f"attacks {att}/{tot} fp {fp}/{ben} extra {extra_hits}")
